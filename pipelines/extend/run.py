"""`curation extend`: the distilabel pipeline from the audit's gaps to judged pairs, and what it writes.

    requests >> WritePrompt >> [Respond(role_aware), Respond(plain)] >> CombineOutputs >> JudgeCandidates

Every request ends in exactly one place: generated.parquet (an arena-shaped file the curation run reads,
with modelo_gen, the template, the persona and the judge's verdict) or failed.parquet (with the step that
failed, or `not_started` when the budget left could not finish it). Outputs are written whole at the end; the call journal makes a rerun after a kill -9 pay only
for the calls that had not finished. A run whose calls all failed (a bad key, a server down) is an error
that names the failures, and writes no run.yaml.
"""

from __future__ import annotations

import json
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import yaml

from curation.config import InputConfig, saved_config
from curation.errors import CurationError
from curation.llms.budget import admit as admit_within, paid_before
from curation.llms.cost import load_prices, price_of
from curation.llms.endpoint import endpoint, make_llm
from curation.llms.journal import Journal
from curation.llms.pipeline import CallsFailed, calls_failed, journaled_pipeline, pipeline_rows
from curation.output_folder import atomic_file, claim_folder
from curation.pipelines.extend.config import ExtendConfig
from curation.pipelines.extend.estimate import estimate
from curation.pipelines.extend.judge import (
    JUDGE_SCHEMA,
    JudgeCandidates,
    a_is_role_aware,
)
from curation.pipelines.extend.requests import PERSONA_AXES
from curation.pipelines.extend.respond import Respond
from curation.pipelines.extend.verdict import with_verdicts
from curation.pipelines.extend.write_prompt import (
    PROMPT_SCHEMA,
    WritePrompt,
    writer_messages,
)

JOURNAL = "journal.sqlite"
BATCH_ROWS = 64  # rows a step sends at once: enough to keep max_concurrency calls in flight
# The step that failed, tested in pipeline order: the first missing output names it.
STEP_OUTPUTS = (("write_prompt", "prompt"), ("respond_role_aware", "response_role_aware"),
                ("respond_plain", "response_plain"), ("judge", "judgement"), ("judge", "role_aware_score"),
                ("judge", "plain_score"))
TEXTS = ("system_prompt", "prompt", "response_role_aware", "response_plain", "judgement")
# (step, the model setting it uses), for the cost of each row.
STAGES = (("write_prompt", "prompt_writer"), ("respond_role_aware", "role_aware"),
          ("respond_plain", "plain"), ("judge", "judge"))


@dataclass
class Extension:
    generated: pl.DataFrame
    failed: pl.DataFrame
    summary: dict
    failure: CallsFailed | None = None  # set when nothing was generated because the calls failed


def build_pipeline(config: ExtendConfig, requests: pl.DataFrame, journal_path: Path, cache_dir: Path):
    from distilabel.steps import CombineOutputs, LoadDataFromDicts

    models, tokens = config.models, config.max_tokens
    with journaled_pipeline("curation-extend", cache_dir) as pipeline:
        load = LoadDataFromDicts(name="requests", data=requests.to_dicts(), batch_size=BATCH_ROWS)
        write = WritePrompt(name="write_prompt", input_batch_size=BATCH_ROWS,
                            llm=make_llm(config, models.prompt_writer, str(journal_path), tokens.prompt_writer, PROMPT_SCHEMA))
        role_aware = Respond(name="respond_role_aware", style="role_aware", input_batch_size=BATCH_ROWS,
                             llm=make_llm(config, models.role_aware, str(journal_path), tokens.response))
        plain = Respond(name="respond_plain", style="plain", input_batch_size=BATCH_ROWS,
                        llm=make_llm(config, models.plain, str(journal_path), tokens.response))
        judge = JudgeCandidates(name="judge", seed=config.seed, input_batch_size=BATCH_ROWS,
                                llm=make_llm(config, models.judge, str(journal_path), tokens.judge, JUDGE_SCHEMA))
        load >> write >> [role_aware, plain] >> CombineOutputs(name="pair") >> judge
    return pipeline


def run_extension(config: ExtendConfig, requests: pl.DataFrame, out_dir: Path) -> Extension:
    writer = make_llm(config, config.models.prompt_writer, str(out_dir / JOURNAL), config.max_tokens.prompt_writer,
                      PROMPT_SCHEMA)  # checks the key before anything is written
    journal = Journal(out_dir / JOURNAL) if (out_dir / JOURNAL).is_file() else None
    if journal is not None:
        journal.settle_reservations()
    # The estimate prices every step's model: a model without a price stops here, before any call.
    admitted, held_back, why = admit(requests, config, journal, writer)
    if admitted.is_empty():
        raise CurationError(f"nothing started: {why}; raise the budget (--budget) or lower max_tokens")
    claim_folder(out_dir)
    journal = journal or Journal(out_dir / JOURNAL)
    failures_before, calls_before = journal.failures(), journal.calls()
    cache_dir = out_dir / ".distilabel"
    rows = pipeline_rows(build_pipeline(config, admitted, out_dir / JOURNAL, cache_dir), cache_dir)
    generated, failed = collect(rows, config)
    failed = pl.concat([failed, not_started(held_back, why)], how="diagonal_relaxed")
    failed_attempts = journal.failures() - failures_before  # this run's, by kind, from every step's process
    summary = summarise(requests, generated, failed, journal, config, failed_attempts)
    failure = calls_failed(generated.height, failed_attempts, journal.calls() - calls_before, endpoint(config))
    return Extension(generated, failed, summary, failure)


def admit(requests: pl.DataFrame, config: ExtendConfig, journal: Journal | None,
          writer) -> tuple[pl.DataFrame, pl.DataFrame, str]:
    """The requests the budget left can finish at their worst cost, and those held back.

    Admitting only what can be finished keeps the money on whole pairs: the steps run ahead of each
    other, so without this the last calls refused would be judges' for pairs already paid for."""
    if requests.is_empty():
        return requests, requests, "nothing to do"
    worst = estimate(requests, config).get_column("usd")[-1] / requests.height
    left = config.budget_usd - (journal.spent() if journal else 0.0)
    started = paid_before(writer, journal, (writer_messages(row) for row in requests.iter_rows(named=True)))
    return admit_within(requests, pl.repeat(worst, requests.height, eager=True), started, left)


def not_started(held_back: pl.DataFrame, why: str) -> pl.DataFrame:
    return held_back.select("request_id", "country", pl.col("dimension").alias("target_dimension"), "template",
                            pl.lit("not_started").alias("failed_step"), pl.lit(why).alias("reason"),
                            pl.lit(0.0).alias("cost_usd"))


def _row_cost(config: ExtendConfig) -> pl.Expr:
    """USD per row from the tokens each step's LLM was billed (see GuardedTask)."""
    prices = load_prices(config.prices)
    parts = []
    for stage, setting in STAGES:
        usage = pl.col(f"usage_{stage}")
        price = price_of(prices, getattr(config.models, setting))
        parts.append(price.usd(usage.struct.field("input_tokens"), usage.struct.field("output_tokens")))
    return pl.sum_horizontal(parts)


def collect(rows: pl.DataFrame, config: ExtendConfig) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split the pipeline's rows: the judged pairs (arena-shaped) and the failed requests with their step."""
    rows = rows.with_columns(pl.col(TEXTS).replace("", None), cost_usd=_row_cost(config),
                             a_is_role_aware=pl.col("request_id").map_elements(
                                 lambda request: a_is_role_aware(request, config.seed), return_dtype=pl.Boolean))
    rows = _judged(rows, config)
    failed_step = pl.coalesce(pl.when(pl.col(column).is_null()).then(pl.lit(step)) for step, column in STEP_OUTPUTS)
    rows = rows.with_columns(failed_step=failed_step).unique("request_id", keep="first", maintain_order=True)
    generated = rows.filter(pl.col("failed_step").is_null()).select(
        "request_id", "country", "system_prompt", pl.col("prompt").alias("question"), "chosen", "rejected", "preference",
        pl.lit("synthetic").alias("origin"), pl.col("prompt_model").alias("modelo_gen"), "template",
        pl.col("dimension").alias("target_dimension"), *PERSONA_AXES, "chosen_model", "rejected_model", "judge_model",
        "judge_rationale", "chosen_score", "rejected_score", "cost_usd")
    failed = rows.filter(pl.col("failed_step").is_not_null()).select(
        "request_id", "country", pl.col("dimension").alias("target_dimension"), "template", "failed_step",
        pl.lit("no answer: the call failed after its retries, or the budget was reached").alias("reason"),
        "system_prompt", "prompt", "cost_usd")
    return generated, failed


def _judged(rows: pl.DataFrame, config: ExtendConfig) -> pl.DataFrame:
    """Verdicts for the rows the judge answered; the others keep null scores (their step failed)."""
    answered = rows.filter(pl.col("judgement").is_not_null())
    judged = with_verdicts(answered, config.judge.tie_margin, config.judge.bad_below)
    return pl.concat([judged, rows.filter(pl.col("judgement").is_null())], how="diagonal_relaxed")


def summarise(requests: pl.DataFrame, generated: pl.DataFrame, failed: pl.DataFrame, journal: Journal,
              config: ExtendConfig, failed_attempts: Counter[str]) -> dict:
    """Counts and spend. `spent_usd` is an upper bound of what the API billed: `billed_usd`, what its answers
    said, plus `unconfirmed_usd`, the worst cost of attempts that may have been billed with no answer."""
    pairs = generated.filter(pl.col("preference") == "chosen-better").height
    billed, unconfirmed = journal.spending()
    spent = round(billed + unconfirmed, 6)
    return {
        "requested": requests.height, "generated": generated.height, "failed": failed.height,
        "failed_by_step": dict(failed.group_by("failed_step").len().iter_rows()),
        "preferences": dict(generated.group_by("preference").len().sort("preference").iter_rows()),
        "spent_usd": spent, "billed_usd": round(billed, 6), "unconfirmed_usd": round(unconfirmed, 6),
        "budget_usd": config.budget_usd, "paid_calls": journal.calls(), "failed_attempts": dict(failed_attempts),
        "usd_per_generated_pair": round(spent / pairs, 6) if pairs else None,
        "models": config.models.model_dump(), "provider": config.provider,
    }


def write_outputs(extension: Extension, out_dir: Path, seed_run: Path | None) -> dict[str, Path]:
    """generated.parquet, failed.parquet, extend.json and, from a seed run, run.yaml: the curation run
    over the seed and the generated rows together (filters, dedupe against the seed, tagging, gate).

    When the calls failed and nothing was generated, the record is still written (the failed requests,
    and in extend.json what was spent), then the run's CallsFailed is raised: no run.yaml, nothing to curate."""
    paths = {"generated": out_dir / "generated.parquet", "failed": out_dir / "failed.parquet",
             "summary": out_dir / "extend.json"}
    if seed_run is not None and extension.failure is None:
        paths["run_config"] = out_dir / "run.yaml"
    with ExitStack() as files:
        # Entered last first, so that they replace their targets in order: run.yaml once what it reads is in place.
        staged = {name: files.enter_context(atomic_file(paths[name])) for name in reversed(paths)}
        extension.generated.write_parquet(staged["generated"])
        extension.failed.write_parquet(staged["failed"])
        staged["summary"].write_text(json.dumps(extension.summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        if "run_config" in staged:
            staged["run_config"].write_text(_run_config(seed_run, paths["generated"], out_dir), encoding="utf-8")
    if extension.failure is not None:
        (out_dir / "run.yaml").unlink(missing_ok=True)  # an earlier run's: nothing of this one is to be curated
        raise extension.failure
    return paths


def _run_config(seed_run: Path, generated: Path, out_dir: Path) -> str:
    seed = saved_config(seed_run)
    inputs = [source.model_copy(update={"path": str(Path(source.path).resolve()) if Path(source.path).exists() else source.path})
              for source in seed.inputs()]
    config = seed.model_copy(update={
        "name": f"{seed.name}_extended",
        "input": [*inputs, InputConfig(path=str(generated.resolve()), format="arena")],
        "output": seed.output.model_copy(update={"dir": str((out_dir / "curated").resolve())}),
        # The same decisions file as the seed's: every human decision holds in the extended run too.
        "decisions": str(Path(seed.decisions).resolve()) if seed.decisions else None,
    })
    header = "# The seed run's settings over the seed and the generated rows: curation run <this file>\n"
    return header + yaml.safe_dump(json.loads(config.model_dump_json()), sort_keys=False, allow_unicode=True)

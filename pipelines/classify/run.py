"""`curation classify`: the distilabel pipeline from a run's accepted prompts to llm_classification.parquet.

    requests (one per distinct system prompt and prompt) >> ClassifyPrompt

The verdicts are written whole at the end (a killed run leaves no partial file); the call journal
beside the output makes a rerun pay only for the calls that had not finished. A prompt whose call
failed, whose answer was not the verdict asked for, or that the budget left could not pay for, gets
no row: the summary counts them, and a rerun with more budget asks only for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from curation.errors import CurationError
from curation.llms.budget import admit, paid_before, with_total
from curation.llms.cost import CHARS_PER_TOKEN, TOKENS_PER_MESSAGE, estimate_input_tokens, load_prices, price_of
from curation.llms.endpoint import endpoint, make_llm
from curation.llms.guarded_task import MISSING
from curation.llms.journal import Journal
from curation.llms.pipeline import CallsFailed, calls_failed, journaled_pipeline, pipeline_rows
from curation.output_folder import atomic_file, work_folder
from curation.pipelines.classify.config import ClassifyConfig
from curation.pipelines.classify.task import (
    CLASSIFY_SCHEMA,
    DIMENSIONS,
    ClassifyPrompt,
    classifier_messages,
    guide_message,
)
from curation.prompt_classifier import UNDETERMINED
from curation.run_folder import LLM_CLASSIFICATION

OUTPUT = LLM_CLASSIFICATION
BATCH_ROWS = 64  # rows a step sends at once: enough to keep max_concurrency calls in flight
VERDICT = pl.Struct({"category": pl.String, "dimension": pl.String, "confidence": pl.Float64, "rationale": pl.String})
SCHEMA = {"id": pl.String, "llm_category": pl.String, "llm_dimension": pl.String, "llm_confidence": pl.Float64,
          "llm_rationale": pl.String, "llm_model": pl.String}


def journal_path(out: Path) -> Path:
    """The call journal, beside the output it serves: llm_classification_journal.sqlite."""
    return out.with_name(f"{out.stem}_journal.sqlite")


@dataclass
class Classification:
    verdicts: pl.DataFrame  # per request answered: request_id, verdict (JSON), llm_model
    summary: dict
    failure: CallsFailed | None = None  # set when nothing came back because the calls failed


def input_tokens() -> pl.Expr:
    """Each call's input tokens as the budget counts them (curation.llms.cost): the guide, then the case."""
    guide = estimate_input_tokens([{"content": guide_message()}])
    return pl.col("case").str.len_chars() // CHARS_PER_TOKEN + TOKENS_PER_MESSAGE + guide


def worst_costs(requests: pl.DataFrame, config: ClassifyConfig) -> pl.Series:
    """USD per call at its worst: its input, and max_tokens of output. A model without a price stops here."""
    price = price_of(load_prices(config.prices), config.model)
    return requests.select(price.usd(input_tokens(), config.max_tokens)).to_series()


def estimate(requests: pl.DataFrame, config: ClassifyConfig) -> pl.DataFrame:
    """`--dry-run`: calls, tokens and USD, every answer at max_tokens (an upper bound), then the total."""
    calls = requests.height
    steps = pl.DataFrame([{"step": "classify", "model": config.model, "calls": calls,
                           "input_tokens": requests.select(input_tokens().sum()).item() or 0,
                           "output_tokens": calls * config.max_tokens,
                           "usd": float(worst_costs(requests, config).sum())}])
    return with_total(steps)


def build_pipeline(config: ClassifyConfig, requests: pl.DataFrame, journal: Path, cache_dir: Path):
    from distilabel.steps import LoadDataFromDicts

    with journaled_pipeline("curation-classify", cache_dir) as pipeline:
        load = LoadDataFromDicts(name="requests", data=requests.to_dicts(), batch_size=BATCH_ROWS)
        classify = ClassifyPrompt(name="classify", input_batch_size=BATCH_ROWS,
                                  llm=make_llm(config, config.model, str(journal), config.max_tokens, CLASSIFY_SCHEMA))
        load >> classify
    return pipeline


def run_classification(config: ClassifyConfig, requests: pl.DataFrame, journal_file: Path) -> Classification:
    llm = make_llm(config, config.model, str(journal_file), config.max_tokens, CLASSIFY_SCHEMA)  # the key, before any file
    journal = Journal(journal_file) if journal_file.is_file() else None
    if journal is not None:
        journal.settle_reservations()
    worst = worst_costs(requests, config)
    started = paid_before(llm, journal, map(classifier_messages, requests.get_column("case")))
    left = config.budget_usd - (journal.spent() if journal else 0.0)
    admitted, held_back, why = admit(requests, worst, started, left)
    if admitted.is_empty():
        raise CurationError(f"nothing started: {why}; raise the budget (--budget) or lower max_tokens")
    journal = journal or Journal(journal_file)
    failures_before, calls_before = journal.failures(), journal.calls()
    with work_folder(journal_file.parent) as scratch:
        cache_dir = scratch / "distilabel"
        rows = pipeline_rows(build_pipeline(config, admitted, journal_file, cache_dir), cache_dir)
    verdicts = (rows.select("request_id", pl.col("verdict").replace(MISSING, None), "llm_model")
                .filter(pl.col("verdict").is_not_null()).unique("request_id", keep="first", maintain_order=True))
    failed_attempts = journal.failures() - failures_before  # this run's, by kind
    billed, unconfirmed = journal.spending()
    summary = {"prompts": requests.height, "classified": verdicts.height, "failed": admitted.height - verdicts.height,
               "not_started": held_back.height, "not_started_reason": why if held_back.height else None,
               "spent_usd": round(billed + unconfirmed, 6), "billed_usd": round(billed, 6),
               "unconfirmed_usd": round(unconfirmed, 6), "budget_usd": config.budget_usd, "paid_calls": journal.calls(),
               "failed_attempts": dict(failed_attempts), "model": config.model}
    failure = calls_failed(verdicts.height, failed_attempts, journal.calls() - calls_before, endpoint(config))
    return Classification(verdicts, summary, failure)


def labelled(links: pl.DataFrame, verdicts: pl.DataFrame, floor: float) -> pl.DataFrame:
    """One row per accepted row whose prompt got a verdict, in the run's order. The verdict abstains
    (`undetermined`) under the confidence floor, and when an accepted category is not its own
    dimension: the guide names an accepted prompt by its dimension, so the two must agree."""
    decoded = verdicts.with_columns(pl.col("verdict").str.json_decode(VERDICT)).unnest("verdict")
    category, dimension = pl.col("category"), pl.col("dimension")
    sure = (pl.col("confidence") >= floor) & (~category.is_in(DIMENSIONS) | (category == dimension))
    return links.join(decoded, on="request_id", how="inner", maintain_order="left").select(
        "id",
        llm_category=pl.when(sure).then(category).otherwise(pl.lit(UNDETERMINED)),
        llm_dimension=pl.when(sure).then(dimension).otherwise(pl.lit(UNDETERMINED)),
        llm_confidence="confidence", llm_rationale="rationale", llm_model="llm_model",
    ).cast(SCHEMA)


def write_labels(labels: pl.DataFrame, out: Path) -> None:
    """The file appears whole or not at all."""
    with atomic_file(out) as partial:
        labels.write_parquet(partial)

"""The LLM commands: `curation extend` (new prompts, answers and verdicts where the audit found gaps) and
`classify` (an LLM's category and dimension per prompt), with the estimate and summary they print. The LLM
libraries (distilabel, cohere, openai) load only when one of them runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.table import Table

from curation.cli.common import RunDir, app, console, fail, needs
from curation.errors import CurationError


@app.command()
def extend(
    run_dir: RunDir,
    config_path: Annotated[Path | None, typer.Option("--config", "-c", help="Extension YAML (see configs/extend.yaml).")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Where to write (default: <run folder>_extension).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Estimate tokens and USD, call nothing, write nothing.")] = False,
    budget: Annotated[float | None, typer.Option("--budget", help="Hard budget in USD (default: the config's, 500).")] = None,
    max_prompts: Annotated[int | None, typer.Option("--max-prompts", help="New prompts at most, largest gaps first.")] = None,
    cell_target: Annotated[int | None, typer.Option("--cell-target", help="Rows wanted per country x dimension cell.")] = None,
) -> None:
    """Extend a run's data with an LLM where the bias audit found gaps: new prompts (with modelo_gen and
    their template), two candidate answers, an LLM judge. Cohere v2 (COHERE_API_KEY, COHERE_BASE_URL) or
    an OpenAI-compatible server. Killed, it resumes from its call journal without paying twice; it stops
    cleanly at the budget. Then `curation run OUT/run.yaml` curates seed + generated rows together."""
    needs("extend")
    from curation.pipelines.extend.plan import plan_extension

    try:
        plan = plan_extension(run_dir, config_path, out, budget_usd=budget, max_prompts=max_prompts, cell_target=cell_target)
        if plan.requests.is_empty():
            console.print("no country x dimension cell is below its target: nothing to generate")
            return
        _print_gap_cover(plan.gap_cover())
        _print_estimate(plan.estimate(), plan.config.budget_usd, plan.spent())
        if dry_run:
            return
        with console.status(f"generating {plan.requests.height} prompts, their answers and verdicts"):
            extension, paths = plan.carry_out()
    except CurationError as error:
        raise fail(error) from None
    _print_extension(extension.summary, paths)


@app.command()
def classify(
    run_dir: RunDir,
    config_path: Annotated[Path | None, typer.Option("--config", "-c", help="Classifier YAML (see configs/classify.yaml).")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="The verdicts (default: RUN_DIR/llm_classification.parquet); "
                                             "its call journal is kept beside it.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Estimate tokens and USD, call nothing, write nothing.")] = False,
    budget: Annotated[float | None, typer.Option("--budget", help="Hard budget in USD (default: the config's, 50).")] = None,
) -> None:
    """An LLM names the validation category (trivial, stereotype, no_anchor, knowledge, preference, dynamics,
    bias_trap) and the cultural dimension of each distinct prompt of the run's accepted rows, from the guide's
    definitions, with a confidence and a rationale; `undetermined` when it is unsure or under the config's
    confidence floor. One call per distinct system prompt and prompt. Cohere v2 (COHERE_API_KEY,
    COHERE_BASE_URL) or an OpenAI-compatible server. Killed, it resumes from its call journal without paying
    twice; it stops cleanly at the budget. Writes llm_classification.parquet (id, llm_category, llm_dimension,
    llm_confidence, llm_rationale, llm_model): the review's suggestions."""
    needs("extend")
    from curation.pipelines.classify.plan import plan_classification

    try:
        plan = plan_classification(run_dir, config_path, out, budget_usd=budget)
        if plan.requests.is_empty():
            console.print("the run accepted no rows: nothing to classify")
            return
        _print_estimate(plan.estimate(), plan.config.budget_usd, plan.spent())
        if dry_run:
            return
        with console.status(f"classifying {plan.requests.height} distinct prompts ({plan.links.height} rows)"):
            classification, labels = plan.carry_out()
    except CurationError as error:
        raise fail(error) from None
    _print_classification(classification.summary, labels, plan.out)


def _print_classification(summary: dict, labels: pl.DataFrame, out: Path) -> None:
    abstained = labels.filter(pl.col("llm_category") == "undetermined").height
    console.print(f"{summary['prompts']} distinct prompts: {summary['classified']} classified, {summary['failed']} failed "
                  f"(the call failed or the answer was not the verdict asked for), {summary['not_started']} not started"
                  + (f" ({summary['not_started_reason']})" if summary["not_started"] else ""))
    console.print(f"{labels.height} rows labelled, {abstained} undetermined; spent at most {summary['spent_usd']:,.4f} of "
                  f"{summary['budget_usd']:,.2f} USD in {summary['paid_calls']} paid calls ({summary['billed_usd']:,.4f} billed, "
                  f"{summary['unconfirmed_usd']:,.4f} at the worst cost of attempts that may have been billed without an answer)")
    if summary["failed"] or summary["not_started"]:
        console.print("rerun the same command (with a larger --budget if it stopped there): only the missing prompts are paid for")
    console.print(f"wrote {out}")


def _printed(value: object, share: bool = False) -> str:
    """A number as the terminal shows it: floats are USD (4 decimals) or, for a share, a percentage."""
    if isinstance(value, float):
        return f"{value:.1%}" if share else f"{value:,.4f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _frame_table(title: str, frame: pl.DataFrame, headers: dict[str, str] | None = None, shares: tuple[str, ...] = ()) -> Table:
    """A frame as a terminal table: text left, numbers right, formatted only here (the data keeps its numbers)."""
    table = Table(title=title)
    for name, dtype in frame.schema.items():
        table.add_column((headers or {}).get(name, name), justify="right" if dtype.is_numeric() else "left")
    for row in frame.iter_rows(named=True):
        table.add_row(*(_printed(value, name in shares) for name, value in row.items()))
    return table


GAP_HEADERS = {"rows": "rows today", "requested": "prompts requested", "covered": "gap covered"}


def _print_gap_cover(cells: pl.DataFrame) -> None:
    """The cells below target this run asks prompts for, how much of each gap, and what the run leaves."""
    from curation.pipelines.extend.estimate import with_cells_total

    filled, left = cells.filter(pl.col("requested") > 0), cells.filter(pl.col("requested") == 0)
    console.print(_frame_table("country x dimension cells below target that this run fills", with_cells_total(filled),
                               GAP_HEADERS, ("covered",)))
    gap, requested = cells.get_column("gap").sum(), filled.get_column("requested").sum()
    console.print(f"{requested:,} prompts requested for {filled.height} of the {cells.height} cells below target: "
                  f"{requested / gap:.1%} of their {gap:,} missing rows, if every prompt becomes an accepted row.")
    if left.height:
        console.print(f"The other {left.height} cells ({left.get_column('gap').sum():,} rows) get none this run: "
                      "--max-prompts, the config's countries and rows of unknown country decide which.")


def _print_estimate(costs: pl.DataFrame, budget: float, spent: float) -> None:
    console.print(_frame_table("estimate (upper bound: every answer at its max_tokens)", costs))
    total = costs.get_column("usd")[-1]
    left = budget - spent
    verdict = "fits" if total <= left else "does not fit: the run stops cleanly when the budget is reached"
    console.print(f"budget {budget:,.2f} USD, spent so far at most {spent:,.4f} USD, left {left:,.4f} USD: the estimate {verdict}")


def _print_extension(summary: dict, paths: dict[str, Path]) -> None:
    console.print(f"{summary['requested']} requested: {summary['generated']} generated "
                  f"({', '.join(f'{name} {count}' for name, count in summary['preferences'].items())}), "
                  f"{summary['failed']} failed {summary['failed_by_step'] or ''}")
    console.print(f"spent at most {summary['spent_usd']:,.4f} of {summary['budget_usd']:,.2f} USD in {summary['paid_calls']} paid calls"
                  f" ({summary['billed_usd']:,.4f} billed, {summary['unconfirmed_usd']:,.4f} at the worst cost of attempts"
                  " that may have been billed without an answer)"
                  + (f"; {summary['usd_per_generated_pair']:,.4f} USD per generated pair" if summary["usd_per_generated_pair"] else ""))
    for path in paths.values():
        console.print(f"wrote {path}")
    if "run_config" in paths:
        console.print(f"next: curation run {paths['run_config']}  (filters, dedupe against the seed, tagging, the gate)")

"""The reporting commands: `curation report`, `evaluate`, `card` and `diff`. The reports (matplotlib, scikit-learn)
load only when one of them runs."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from curation.cli.common import EXIT_GATE_FAILED, RunDir, app, console, fail
from curation.errors import CurationError
from curation.output_folder import atomic_directory, claim_folder
from curation.run_folder import RunFolder

Target = Annotated[str, typer.Option("--target", help="Country target of the audit: uniform, spanish_speakers or a YAML file.")]


@app.command()
def report(
    run_dir: RunDir,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Where to write (default: the run folder).")] = None,
    target: Target = "uniform",
    cell_target: Annotated[int | None, typer.Option("--cell-target", help="Rows wanted per country x dimension cell.")] = None,
    gold: Annotated[Path | None, typer.Option("--gold", help="A gold set (folder or JSONL file): adds the evaluation against it "
                                              "(evaluation.json, evaluation.md and a section of the report).")] = None,
    previous: Annotated[Path | None, typer.Option("--previous", help="An earlier run folder: adds \"What changed since\" it "
                                                  "to the report (as `curation diff PREVIOUS RUN_DIR`).")] = None,
) -> None:
    """The curation report (report.html, self-contained; report.md), the bias-balance audit (bias_audit.json,
    bias_audit.md) and the dataset cards of the run's published datasets."""
    from curation.reports.curation_report import write_report
    from curation.reports.dataset_card import published_kinds
    from curation.reports.evaluation import evaluate as evaluate_run, write_evaluation

    try:
        run = RunFolder.read(run_dir)
        earlier = RunFolder.read(previous) if previous else None
        if out is not None:
            claim_folder(out, [run_dir, *([gold] if gold else []), *([previous] if previous else [])])
        evaluation = evaluate_run(run_dir, gold) if gold else None
        written, paths = write_report(run, out, target, cell_target, evaluation, earlier)
        if evaluation is not None:
            paths |= write_evaluation(evaluation, out or run_dir)
        cards = [_card(run, written.audited, kind, None, "apache-2.0", out) for kind in published_kinds(run)]
    except CurationError as error:
        raise fail(error) from None
    for path in [*paths.values(), *cards]:
        console.print(f"wrote {path}")


GoldOption = Annotated[Path, typer.Option("--gold", help="The gold set: a folder (every *.jsonl joined on `row`) or one JSONL file.")]
TERMINAL_TABLES = ("Coverage", "Rule families", "Tags", "Dedupe (", "Dedupe: false merges", "Category")


@app.command()
def evaluate(
    run_dir: RunDir,
    gold: GoldOption,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Where to write (default: the run folder).")] = None,
    target_file: Annotated[str | None, typer.Option("--target-file", help="The input file the gold labels (default: the "
                                                    "*.csv its README.md names, else arena_v0_sample.csv).")] = None,
) -> None:
    """Measure the run's judgements against hand labels (curation/data/gold/README.md): rule families per side,
    tags (dimension, register, variety, language) with confusion matrices, dedupe per stage and the prompt
    category, as precision, recall and F1 with counts, on the rows the gold labels. Writes evaluation.json and
    evaluation.md."""
    from curation.reports.evaluation import evaluate as evaluate_run, evaluation_tables, headline, write_evaluation

    try:
        if out is not None:
            claim_folder(out, [run_dir, gold])
        evaluation = evaluate_run(run_dir, gold, target_file)
        paths = write_evaluation(evaluation, out or run_dir)
    except CurationError as error:
        raise fail(error) from None
    terminal = Console()
    terminal.print(Text(headline(evaluation)))
    for problem in evaluation["gold_problems"]:
        console.print(Text(f"gold: {problem}", style="yellow"))
    for title, frame in evaluation_tables(evaluation).items():
        if title.startswith(TERMINAL_TABLES):
            terminal.print(_rich_table(title, frame))
    for path in paths.values():
        console.print(f"wrote {path}")


def _rich_table(title: str, frame: pl.DataFrame) -> Table:
    table = Table(title=Text(title))
    for name, dtype in frame.schema.items():
        table.add_column(Text(name.replace("flagged ", "").replace("blocked ", "blk ")), justify="right" if dtype.is_numeric() else "left")
    for row in frame.iter_rows():
        table.add_row(*(Text("–" if value is None else f"{value:.3f}" if isinstance(value, float) else
                             ", ".join(map(str, value)) if isinstance(value, list) else str(value)) for value in row))
    return table


@app.command()
def card(
    run_dir: RunDir,
    kind: Annotated[str, typer.Option("--kind", help="Which published dataset: dpo, kto, prompts, "
                                                "images_dpo or images_kto.")] = "dpo",
    repo_id: Annotated[str | None, typer.Option("--repo-id", help="Hub name to publish under (checked against the naming convention).")] = None,
    license_id: Annotated[str, typer.Option("--license", help="Licence id for the card's metadata.")] = "apache-2.0",
    target: Target = "uniform",
) -> None:
    """The Hugging Face dataset card (README.md) of one published dataset; exits 1 if its name breaks the
    naming convention (prompts / dpo / kto / image)."""
    from curation.reports.bias_audit import audit
    from curation.reports.dataset_card import KINDS

    if kind not in KINDS:
        raise typer.BadParameter(f"--kind must be one of {sorted(KINDS)}")
    try:
        run = RunFolder.read(run_dir)
        path = _card(run, audit(run.accepted, target), kind, repo_id, license_id)
    except CurationError as error:
        raise fail(error) from None
    console.print(f"wrote {path}")


def _card(run: RunFolder, audited: dict, kind: str, repo_id: str | None, license_id: str,
          out_dir: Path | None = None) -> Path:
    from curation.reports.dataset_card import write_card

    path, problem = write_card(run, audited, kind, repo_id, license_id, out_dir)
    if problem:
        console.print(f"[red]naming convention:[/] {problem}")
        raise typer.Exit(EXIT_GATE_FAILED)
    return path


class DiffFormat(str, Enum):
    md = "md"
    json = "json"


@app.command()
def diff(
    run_a: Annotated[Path, typer.Argument(metavar="RUN_A", help="The earlier run folder.")],
    run_b: Annotated[Path, typer.Argument(metavar="RUN_B", help="The later run folder.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write diff.md and diff.json into this folder "
                                             "(default: print the diff).")] = None,
    output_format: Annotated[DiffFormat | None, typer.Option("--format", help="md or json: what to print, or with --out "
                                                             "the one file to write (default: Markdown; both files with --out).")] = None,
) -> None:
    """What changed between two runs: the rows whose status, reasons, duplicate target or split changed (matched
    by content id; rows in one run only are listed as added or removed, and a different input is flagged), the
    rule and tag counts, the settings and the audit (with bias_audit.json, from `curation report`)."""
    from curation.reports.run_diff import diff_runs, write_diff

    try:
        changes = diff_runs(RunFolder.read(run_a), RunFolder.read(run_b))
        if out is not None:
            formats = (output_format.value,) if output_format else ("md", "json")
            with atomic_directory(out, [run_a, run_b]) as folder:
                written = [out / path.name for path in write_diff(changes, folder, formats)]
    except CurationError as error:
        raise fail(error) from None
    console.print(Text(changes.headline()), highlight=False)
    for note in changes.notes:
        console.print(Text(note, style="yellow"), highlight=False)
    if out is None:
        typer.echo(changes.as_text(output_format.value if output_format else "md"), nl=False)
        return
    for path in written:
        console.print(f"wrote {path}")

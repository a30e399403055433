"""What the report opens with: what a data steward should do next. The gate's failures in words, the largest
quarantine reasons and where their rows are, the countries and cells the audit finds missing, and how far the
human review has got. Plain text and polars tables: the HTML template and the Markdown escape them."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import polars as pl

from curation.reports.bias_audit import missing_sentence
from curation.reports.gate import gate_failures, gate_verdict

if TYPE_CHECKING:  # the report imports this module
    from curation.run_folder import RunFolder

REASONS_SHOWN = 8
GAPS_SHOWN = 10
STEP_ROWS = 100  # a step's tables are shown whole: where the gate fails is every cell of up to 25 countries
SOURCES_SHOWN = 3


@dataclass
class Step:
    """One thing to look at: what, in sentences; where, in captioned tables; a file to open and a line to copy."""
    heading: str
    sentences: list[str]
    tables: list[tuple[str, pl.DataFrame]] = field(default_factory=list)
    link: tuple[str, str] | None = None  # (text, relative href)
    code: str | None = None
    done: bool = False


def gate_step(run: RunFolder) -> Step:
    failures = gate_failures(run.validation, run.accepted)
    return Step("The gate", [gate_verdict(run.validation)],
                [(f"{failure.checks}: {failure.sentence}", failure.where) for failure in failures],
                done=not failures and run.validation is not None)


def quarantine_reasons(quarantined: pl.DataFrame) -> pl.DataFrame:
    """Per reason, the quarantined rows it blocked (a row may have several reasons), its share of them and the
    first rows' sources; the largest first."""
    total = max(quarantined.height, 1)
    return (quarantined.select("source", reason=pl.col("reasons")).explode("reason").drop_nulls("reason")
            .group_by("reason").agg(rows=pl.len(), first_rows=pl.col("source").head(SOURCES_SHOWN))
            .with_columns(share=(pl.col("rows") / total).round(3))
            .sort("rows", "reason", descending=[True, False]).select("reason", "rows", "share", "first_rows"))


def _href(target: Path, out_dir: Path) -> str:
    """A link from the report's folder to a file of the run folder, percent-encoded (a path is data)."""
    return quote(Path(os.path.relpath(target.resolve(), out_dir.resolve())).as_posix())


def quarantine_step(run: RunFolder, out_dir: Path) -> Step:
    quarantined = run.quarantined
    if quarantined.height == 0:
        return Step("Quarantine", ["No row was quarantined."], done=True)
    reasons = quarantine_reasons(quarantined)
    sentence = (f"{quarantined.height:,} rows quarantined ({quarantined.height / run.summary['input_rows']:.1%} of the input) "
                f"for {reasons.height} reasons; the largest, with the first rows' sources (file:line):")
    first = reasons.get_column("reason")[0]
    path = run.path / "quarantine.parquet"
    return Step("Quarantine", [sentence], [("", reasons.head(REASONS_SHOWN))], link=("quarantine.parquet", _href(path, out_dir)),
                code=f'pl.read_parquet("{path}").filter(pl.col("reasons").list.contains("{first}"))')


def audit_step(audited: dict) -> Step:
    head, tables = audited["headline"], audited["tables"]
    sentences = [missing_sentence(audited)]
    captioned = [("Countries with no rows, and the rows each would hold at the target",
                  tables["missing_countries"].select("country", "name", "rows_at_target"))]
    if tables.get("gaps") is not None and tables["gaps"].height:
        sentences.append(f"{tables['gaps'].height} country × dimension cells hold fewer than {head['cell_target']} rows "
                         f"(rows whose dimension is confident); {head['rows_needed']:,} rows would fill them "
                         "(curation extend generates them, largest gaps first).")
        captioned.append(("The largest gaps", tables["gaps"].head(GAPS_SHOWN)))
    return Step("The audit's gaps", sentences, captioned, done=head["missing_countries"] == 0 and head["rows_needed"] == 0)


def _pulled(review: dict) -> Step:
    decisions = ", ".join(f"{name} {count:,}" for name, count in review["decisions"].items()) or "none"
    agreement = "; ".join(f"{question}: Fleiss' kappa {value['fleiss_kappa']} over {value['records']:,} records"
                          for question, value in review["agreement"].items())
    reviewed = (f"{review['reviewed']:,} records reviewed in Argilla dataset {review['dataset']} "
                f"({review['answers']:,} submitted answers). Decisions: {decisions}.")
    sentences = [reviewed, f"Agreement: {agreement}."]
    disagreements = review["decisions"].get("disagreement", 0)
    if disagreements:
        sentences.append(f"{disagreements:,} records where the annotators disagree were left as they were: review them again.")
    sentences.append("The reviewed data is in reviewed/: publish from there.")
    return Step("Human review", sentences, done=not disagreements)


def review_step(run: RunFolder) -> Step:
    if run.review is not None:
        return _pulled(run.review)
    if run.pushed is not None and run.pushed.height:
        datasets = ", ".join(run.pushed.get_column("dataset").unique().sort().to_list())
        pushed = (f"{run.pushed.height:,} of {run.accepted.height:,} accepted rows pushed for review "
                  f"(Argilla dataset {datasets}); not pulled yet.")
        return Step("Human review", [pushed], code=f"curation review pull {run.path}")
    return Step("Human review", ["Not reviewed yet: push the accepted rows to Argilla, then pull the decisions."],
                code=f"curation review push {run.path}")


def next_steps(run: RunFolder, audited: dict, out_dir: Path) -> list[Step]:
    return [gate_step(run), quarantine_step(run, out_dir), audit_step(audited), review_step(run)]

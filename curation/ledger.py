"""The run's ledger: per stage, counts in and out and per rule; per row, where it ended and why.

`check` proves the invariant on every run: every input row ends in exactly one place (accepted,
quarantined with its reasons, or duplicate of an accepted row).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TypeVar

import polars as pl

from curation.decisions import APPLIED
from curation.errors import CurationError
from curation.schema import Status

Rows = TypeVar("Rows", pl.DataFrame, pl.LazyFrame)
ROW_COLUMNS = ["source", "id", "status", "stage", "reasons", "warnings", "duplicate_of", "duplicate_of_source", "split",
               "decisions"]


class LedgerError(CurationError):
    """The ledger does not balance: a row was lost or counted twice. Always a bug, never bad input."""


@dataclass
class StageEntry:
    stage: str
    rows_in: int
    rows_out: int
    removed: int
    seconds: float
    stats: dict[str, int] = field(default_factory=dict)
    returned: int = 0  # rows an earlier stage removed that this one put back (the steward's decisions)


@dataclass
class Ledger:
    input_rows: int
    stages: list[StageEntry] = field(default_factory=list)

    def record(self, stage: str, rows_in: int, rows_out: int, removed: int, seconds: float, stats: dict[str, int],
               returned: int = 0) -> None:
        counts = {key: int(value) for key, value in stats.items()}
        self.stages.append(StageEntry(stage, rows_in, rows_out, removed, round(seconds, 4), counts, returned))

    def rows(self, accepted: pl.DataFrame, removed: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
        """One row per input row: its final status, reasons, warnings, duplicate pointer and split."""
        accepted = accepted.with_columns(
            status=pl.lit(Status.ACCEPTED.value), stage=pl.lit(None, dtype=pl.String),
            reasons=pl.lit([], dtype=pl.List(pl.String)),
            duplicate_of=pl.lit(None, dtype=pl.String), duplicate_of_source=pl.lit(None, dtype=pl.String),
        )
        removed = removed.lazy()  # only the ledger's columns of removed rows on disk are read
        removed = removed.select(pl.col(c) for c in ROW_COLUMNS if c in removed.collect_schema().names()).collect()
        parts = [part for part in (accepted, removed) if part.height]
        if not parts:
            return pl.DataFrame(schema={name: pl.String for name in ROW_COLUMNS})
        rows = pl.concat([part.select(pl.col(c) for c in ROW_COLUMNS if c in part.columns) for part in parts],
                         how="diagonal_relaxed")
        for name, dtype in (("warnings", pl.List(pl.String)), ("split", pl.String), ("decisions", APPLIED)):
            if name not in rows.columns:
                rows = rows.with_columns(pl.lit(None, dtype=dtype).alias(name))
        return rows.select(ROW_COLUMNS).with_columns(pl.col("warnings").fill_null([]),
                                                     pl.col("decisions").fill_null(pl.lit([], dtype=APPLIED))).sort("source")

    def check(self, input_sources: pl.Series, rows: pl.DataFrame) -> None:
        """Raise LedgerError unless every input row ends in exactly one place, for a reason."""
        problems = []
        if rows.height != self.input_rows or input_sources.len() != self.input_rows:
            problems.append(f"{self.input_rows} rows in, {rows.height} in the ledger")
        repeated = rows.filter(pl.col("source").is_duplicated()).get_column("source").unique().to_list()
        if repeated:
            problems.append(f"rows counted twice: {repeated[:5]}")
        lost = input_sources.filter(~input_sources.is_in(rows.get_column("source").implode())).to_list()
        if lost:
            problems.append(f"rows lost: {lost[:5]}")
        unexplained = rows.filter((pl.col("status") != Status.ACCEPTED.value) & (pl.col("reasons").list.len() == 0))
        if unexplained.height:
            problems.append(f"rows removed without a reason: {unexplained.get_column('source').to_list()[:5]}")
        accepted_ids = rows.filter(pl.col("status") == Status.ACCEPTED.value).get_column("id")
        dangling = rows.filter((pl.col("status") == Status.DUPLICATE.value) & ~pl.col("duplicate_of").is_in(accepted_ids.implode()))
        if dangling.height:
            problems.append(f"duplicates of rows that were not accepted: {dangling.get_column('source').to_list()[:5]}")
        removed_by_stages = sum(entry.removed - entry.returned for entry in self.stages)
        if removed_by_stages + accepted_ids.len() != self.input_rows:
            problems.append(f"stages removed {removed_by_stages} and accepted {accepted_ids.len()} of {self.input_rows}")
        if problems:
            raise LedgerError("the ledger does not balance: " + "; ".join(problems))

    def summary(self, rows: pl.DataFrame) -> dict:
        statuses = dict(rows.get_column("status").value_counts().iter_rows())
        return {
            "input_rows": self.input_rows,
            "status": {status.value: int(statuses.get(status.value, 0)) for status in Status},
            "stages": [asdict(entry) for entry in self.stages],
            "reasons": _count_list(rows, "reasons"),
            "warnings": _count_list(rows, "warnings"),
        }


def follow_duplicate_chains(removed: Rows) -> Rows:
    """Point every duplicate at the accepted row its chain ends in.

    A later stage can make an earlier stage's kept row a duplicate too (exact, then near, then
    semantic); its own duplicates then follow it to the row that was finally kept. The chains are
    followed on the duplicates' pointers alone, so the removed rows can stay on disk (a LazyFrame).
    """
    pointers = ["duplicate_of_source", "duplicate_of"]
    columns = removed.lazy().collect_schema().names()
    if not set(pointers) <= set(columns):
        return removed
    hops = (removed.lazy().filter(pl.col("status") == Status.DUPLICATE.value)
            .select("source", *pointers).collect())
    if hops.height == 0:
        return removed
    ends = hops
    for _ in range(hops.height):  # each pass moves every pointer one hop further; a chain is never a loop
        further = ends.join(hops, left_on="duplicate_of_source", right_on="source", suffix="_next")
        if further.height == 0:
            break
        ends = ends.update(further.select("source", *(pl.col(f"{name}_next").alias(name) for name in pointers)),
                           on="source")
    followed = (removed.lazy().drop(pointers)
                .join(ends.lazy(), on="source", how="left", maintain_order="left").select(columns))
    return followed.collect() if isinstance(removed, pl.DataFrame) else followed


def _count_list(rows: pl.DataFrame, column: str) -> dict[str, int]:
    counts = rows.select(pl.col(column).explode().drop_nulls().value_counts(sort=True)).unnest(column)
    return {name: int(count) for name, count in counts.iter_rows()}

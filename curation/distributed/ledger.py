"""The ledger on Ray: duplicate chains followed, one ledger row per input row, and the conservation check
with counts and keyed anti-joins (no collect of every row on the driver)."""

from __future__ import annotations

from collections import Counter
from functools import cache

import polars as pl
import pyarrow as pa

from curation.distributed.envelope import conform
from curation.ledger import Ledger, LedgerError, follow_duplicate_chains
from curation.schema import Status

POINTERS = ["source", "status", "duplicate_of", "duplicate_of_source"]
SHOWN = 5  # rows named per problem, as the local check names them


@cache
def ledger_schema() -> pl.Schema:
    """The ledger's columns and types, as the local Ledger.rows makes them."""
    return Ledger(input_rows=0).rows(pl.DataFrame({"source": ["-"], "id": ["-"]}), pl.DataFrame()).schema


def _frame(batch: pa.Table) -> pl.DataFrame:
    return pl.from_arrow(batch)


def chain_ends(removed, partitions: int) -> pl.DataFrame:
    """The duplicates that are themselves another duplicate's target, each pointing at the accepted row its
    chain ends in. Few rows (a row kept by one dedupe stage and dropped by a later one), so they come to the
    driver; a chain is at most as long as there are dedupe stages."""
    pointers = where(removed, pl.col("status") == Status.DUPLICATE.value, POINTERS)
    targets = pointers.select_columns(["duplicate_of_source"])
    middle = pointers.join(targets, "left_semi", partitions, on=("source",), right_on=("duplicate_of_source",))
    rows = [pl.from_arrow(block) for block in middle.iter_batches(batch_format="pyarrow")]
    frame = pl.concat(rows) if rows else pl.DataFrame(schema=dict.fromkeys(POINTERS, pl.String))
    return follow_duplicate_chains(frame.unique("source")).select(
        pl.col("source").alias("_via"), pl.col("duplicate_of").alias("_final_id"),
        pl.col("duplicate_of_source").alias("_final_source"))


def redirected(batch: pa.Table, ends: pl.DataFrame) -> pa.Table:
    """Removed rows whose duplicate target was dropped later point at that chain's end."""
    frame = _frame(batch)
    frame = frame.join(ends, left_on="duplicate_of_source", right_on="_via", how="left", maintain_order="left")
    return frame.with_columns(duplicate_of=pl.coalesce("_final_id", "duplicate_of"),
                              duplicate_of_source=pl.coalesce("_final_source", "duplicate_of_source")
                              ).drop("_final_id", "_final_source").to_arrow()


def ledger_rows(batch: pa.Table, accepted: bool) -> pa.Table:
    """A batch of accepted or removed rows as ledger rows (the local Ledger.rows, batch by batch)."""
    frame, none = _frame(batch), pl.DataFrame()
    rows = Ledger(input_rows=0).rows(frame, none) if accepted else Ledger(input_rows=0).rows(none, frame)
    return conform(rows, ledger_schema()).to_arrow()


def partial_counts(batch: pa.Table) -> pa.Table:
    """One batch's statuses, reasons and warnings counted: the summary adds these few rows up."""
    frame = _frame(batch)
    parts = [frame.group_by(pl.col("status").alias("name")).len().with_columns(kind=pl.lit("status"))]
    for column in ("reasons", "warnings"):
        parts.append(frame.select(pl.col(column).explode().drop_nulls().alias("name")).group_by("name").len()
                     .with_columns(kind=pl.lit(column)))
    return pl.concat([part.select("kind", "name", pl.col("len").cast(pl.Int64)) for part in parts]).to_arrow()


def summary(ledger: Ledger, rows) -> dict:
    """Ledger.summary's dict, from the partial counts of every batch."""
    counted = pl.concat([pl.from_arrow(block) for block in rows.map_batches(partial_counts, batch_format="pyarrow")
                         .iter_batches(batch_format="pyarrow")])
    totals = {kind: Counter() for kind in ("status", "reasons", "warnings")}
    for kind, name, count in counted.iter_rows():
        totals[kind][name] += count
    local = ledger.summary(pl.DataFrame(schema=ledger_schema()))
    return local | {"status": {status.value: totals["status"][status.value] for status in Status},
                    "reasons": dict(totals["reasons"].most_common()), "warnings": dict(totals["warnings"].most_common())}


def _names(dataset, column: str = "source") -> list[str]:
    return [row[column] for row in dataset.take(SHOWN)]


def _where(batch: pa.Table, condition: pl.Expr, columns: list[str]) -> pa.Table:
    return _frame(batch).filter(condition).select(columns).to_arrow()


def where(dataset, condition: pl.Expr, columns: list[str]):
    """The dataset's rows that meet a polars condition, with these columns."""
    return dataset.map_batches(_where, batch_format="pyarrow", fn_kwargs={"condition": condition, "columns": columns})


def check(ledger: Ledger, rows, inputs, partitions: int) -> None:
    """Ledger.check, distributed: every input row ends in exactly one place, for a reason."""
    problems = []
    counted = rows.count()
    if counted != ledger.input_rows:
        problems.append(f"{ledger.input_rows} rows in, {counted} in the ledger")
    repeated = where(rows.groupby("source", num_partitions=partitions).count(), pl.col("count()") > 1, ["source"])
    if names := _names(repeated):
        problems.append(f"rows counted twice: {names}")
    lost = inputs.join(rows.select_columns(["source"]), "left_anti", partitions, on=("source",))
    if names := _names(lost):
        problems.append(f"rows lost: {names}")
    unexplained = where(rows, (pl.col("status") != Status.ACCEPTED.value) & (pl.col("reasons").list.len() == 0), ["source"])
    if names := _names(unexplained):
        problems.append(f"rows removed without a reason: {names}")
    accepted = where(rows, pl.col("status") == Status.ACCEPTED.value, ["id"])
    duplicates = where(rows, pl.col("status") == Status.DUPLICATE.value, ["source", "duplicate_of"])
    dangling = duplicates.join(accepted, "left_anti", partitions, on=("duplicate_of",), right_on=("id",))
    if names := _names(dangling):
        problems.append(f"duplicates of rows that were not accepted: {names}")
    accepted_rows = accepted.count()
    removed_by_stages = sum(entry.removed for entry in ledger.stages)
    if removed_by_stages + accepted_rows != ledger.input_rows:
        problems.append(f"stages removed {removed_by_stages} and accepted {accepted_rows} of {ledger.input_rows}")
    if problems:
        raise LedgerError("the ledger does not balance: " + "; ".join(problems))

"""The ledger on Ray: duplicate chains followed, one ledger row per input row, and the conservation check
with counts and keyed anti-joins (no collect of every row on the driver)."""

from __future__ import annotations

from collections import Counter
from functools import cache
from pathlib import Path

import polars as pl
import pyarrow as pa

from curation.distributed.envelope import PART, POINTED, REMOVED, conform
from curation.ledger import Ledger, LedgerError, follow_duplicate_chains
from curation.schema import Status

POINTERS = ["source", "status", "duplicate_of", "duplicate_of_source"]
SHOWN = 5  # rows named per problem, as the local check names them
KEY, SIDE, PARTITION = "_key", "_side", "_partition"
PARTITION_SEED = 29


@cache
def ledger_schema() -> pl.Schema:
    """The ledger's columns and types, as the local Ledger.rows makes them."""
    return Ledger(input_rows=0).rows(pl.DataFrame({"source": ["-"], "id": ["-"]}), pl.DataFrame()).schema


def _frame(batch: pa.Table) -> pl.DataFrame:
    return pl.from_arrow(batch)


def chain_ends(folders: list[Path]) -> pl.DataFrame:
    """The duplicates that are themselves another duplicate's target (marked POINTED by the stage that made
    the pointer), each pointing at the accepted row its chain ends in. Few rows (kept by one dedupe stage,
    dropped by a later one): polars reads just them from the steps' shards (a filter on three columns, no
    shuffle); a chain is at most as long as there are dedupe stages."""
    middle = (pl.col(PART) == REMOVED) & (pl.col("status") == Status.DUPLICATE.value) & pl.col(POINTED)
    middles = pl.concat([pl.scan_parquet(folder / "*.parquet").filter(middle).select(POINTERS) for folder in folders]).collect()
    return follow_duplicate_chains(middles).select(
        pl.col("source").alias("_via"), pl.col("duplicate_of").alias("_final_id"),
        pl.col("duplicate_of_source").alias("_final_source"))


def _keyed_partition(batch: pa.Table, partitions: int) -> pa.Table:
    frame = _frame(batch)
    return frame.with_columns((pl.col(KEY).hash(seed=PARTITION_SEED) % partitions).alias(PARTITION)).to_arrow()


def co_partitioned(dataset, partitions: int, fn):
    """`fn` on each hash partition of the rows' `_key` (Ray's shuffle): rows of one key meet in one call."""
    keyed = dataset.map_batches(_keyed_partition, batch_format="pyarrow", fn_kwargs={"partitions": partitions})
    return keyed.groupby(PARTITION, num_partitions=partitions).map_groups(fn, batch_format="pyarrow")


def _where(batch: pa.Table, condition: pl.Expr, columns: list[str]) -> pa.Table:
    return _frame(batch).filter(condition).select(columns).to_arrow()


def where(dataset, condition: pl.Expr, columns: list[str]):
    """The dataset's rows that meet a polars condition, with these columns."""
    return dataset.map_batches(_where, batch_format="pyarrow", fn_kwargs={"condition": condition, "columns": columns})


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


def _check_sides(batch: pa.Table, inputs: bool) -> pa.Table:
    """Rows keyed for the check: an input row by its source; a ledger row by its source, and by its id if
    accepted or by its target's id if a duplicate ("s:" and "i:" keep the two kinds of keys apart)."""
    frame = _frame(batch)

    def side(rows: pl.DataFrame, key: str, kind: str, unexplained: pl.Expr = pl.lit(False)) -> pl.DataFrame:
        return rows.select((pl.lit(key[0] + ":") + pl.col(key)).alias(KEY), "source", pl.lit(kind).alias(SIDE),
                           unexplained.alias("unexplained"))

    if inputs:
        return side(frame, "source", "input").to_arrow()
    return pl.concat([
        side(frame, "source", "ledger", (pl.col("status") != Status.ACCEPTED.value) & (pl.col("reasons").list.len() == 0)),
        side(frame.filter(pl.col("status") == Status.ACCEPTED.value), "id", "accepted"),
        side(frame.filter(pl.col("status") == Status.DUPLICATE.value).with_columns(pl.col("duplicate_of").alias("id")),
             "id", "pointer"),
    ]).to_arrow()


def _problems(group: pa.Table) -> pa.Table:
    """One partition's broken rows: counted twice, lost, removed without a reason, duplicate of no accepted row."""
    frame = _frame(group)
    side = {name: frame.filter(pl.col(SIDE) == name) for name in ("input", "ledger", "accepted", "pointer")}
    found = {
        "rows counted twice": side["ledger"].filter(pl.len().over(KEY) > 1).unique(KEY),
        "rows lost": side["input"].join(side["ledger"], on=KEY, how="anti"),
        "rows removed without a reason": side["ledger"].filter("unexplained"),
        "duplicates of rows that were not accepted": side["pointer"].join(side["accepted"], on=KEY, how="anti"),
    }
    return pl.concat([rows.select(pl.lit(problem).alias("problem"), "source") for problem, rows in found.items()]).to_arrow()


def check(ledger: Ledger, rows, inputs, partitions: int, statuses: dict[str, int]) -> None:
    """Ledger.check, distributed: every input row ends in exactly one place, for a reason. The counts come
    from the summary's; the keyed checks are anti-joins on one shuffle of the sources and ids."""
    sides = inputs.map_batches(_check_sides, batch_format="pyarrow", fn_kwargs={"inputs": True}).union(
        rows.map_batches(_check_sides, batch_format="pyarrow", fn_kwargs={"inputs": False}))
    named: dict[str, list[str]] = {}
    for block in co_partitioned(sides, partitions, _problems).iter_batches(batch_format="pyarrow"):
        for problem, source in pl.from_arrow(block).iter_rows():
            if len(shown := named.setdefault(problem, [])) < SHOWN:
                shown.append(source)
    problems = []
    counted = sum(statuses.values())
    if counted != ledger.input_rows:
        problems.append(f"{ledger.input_rows} rows in, {counted} in the ledger")
    problems += [f"{problem}: {sources}" for problem, sources in named.items()]
    accepted = statuses.get(Status.ACCEPTED.value, 0)
    removed_by_stages = sum(entry.removed - getattr(entry, "returned", 0) for entry in ledger.stages)
    if removed_by_stages + accepted != ledger.input_rows:
        problems.append(f"stages removed {removed_by_stages} and accepted {accepted} of {ledger.input_rows}")
    if problems:
        raise LedgerError("the ledger does not balance: " + "; ".join(problems))

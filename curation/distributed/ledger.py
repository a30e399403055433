"""The ledger on Ray: duplicate chains followed, one ledger row per input row, and the conservation check on
the written outputs with counts, grouped counts and keyed anti-joins (no collect of every row on the driver)."""

from __future__ import annotations

from collections import Counter
from functools import cache
from pathlib import Path

import polars as pl
import pyarrow as pa

from curation.distributed.envelope import PART, POINTED, POSITION, REMOVED, conform
from curation.ledger import Ledger, LedgerError, follow_duplicate_chains
from curation.schema import Status

POINTERS = ["source", "status", "duplicate_of", "duplicate_of_source"]
SHOWN = 5  # rows named per problem, as the local check names them
KEY, SIDE, PARTITION = "_key", "_side", "_partition"
# The run's outputs of rows, each holding the rows of one status.
OUTPUTS = {Status.ACCEPTED: "accepted.parquet", Status.QUARANTINED: "quarantine.parquet", Status.DUPLICATE: "duplicates.parquet"}
# What the check reads of the input files and the outputs (a column a file lacks reads as null).
CHECKED = [POSITION, "source", "id", "status", "duplicate_of", "reasons"]
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


# The removed rows are written once, in a folder per status (`_by_status=quarantined/`): each is then an output.
BY_STATUS = "_by_status"


def redirected(batch: pa.Table, ends: pl.DataFrame, columns: list[str]) -> pa.Table:
    """Removed rows whose duplicate target was dropped later point at that chain's end; with these columns and
    their status again as BY_STATUS, the column their shards are written apart by (and which they do not keep)."""
    frame = _frame(batch)
    frame = frame.join(ends, left_on="duplicate_of_source", right_on="_via", how="left", maintain_order="left")
    return frame.with_columns(duplicate_of=pl.coalesce("_final_id", "duplicate_of"),
                              duplicate_of_source=pl.coalesce("_final_source", "duplicate_of_source")
                              ).select(*columns, pl.col("status").alias(BY_STATUS)).to_arrow()


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


def _check_keys(batch: pa.Table) -> pa.Table:
    """Rows of the inputs and outputs keyed for the check, each with where it is (`_side`: input, or the output
    that holds it): every row by its source ("s:"); an accepted row also by its id, and a duplicate by its
    target's id ("i:"; the prefixes keep the two kinds of keys apart). Input rows are those with an input
    position (an engine column no output has); an output row is in its status's output (accepted if none)."""
    output = pl.col("status").fill_null(Status.ACCEPTED.value).replace_strict({status.value: name for status, name in OUTPUTS.items()})
    frame = _frame(batch).with_columns(pl.when(pl.col(POSITION).is_not_null()).then(pl.lit("input")).otherwise(output).alias(SIDE))
    removed = [OUTPUTS[Status.QUARANTINED], OUTPUTS[Status.DUPLICATE]]
    unexplained = (pl.col(SIDE).is_in(removed) & (pl.col("reasons").list.len() == 0)).fill_null(False)

    def keyed(rows: pl.DataFrame, key: str, side: pl.Expr) -> pl.DataFrame:
        return rows.select((pl.lit(key[0] + ":") + pl.col(key)).alias(KEY), "source", side.alias(SIDE), unexplained.alias("unexplained"))

    return pl.concat([
        keyed(frame, "source", pl.col(SIDE)),
        keyed(frame.filter(pl.col(SIDE) == OUTPUTS[Status.ACCEPTED]), "id", pl.lit("accepted id")),
        keyed(frame.filter(pl.col(SIDE) == OUTPUTS[Status.DUPLICATE]).with_columns(pl.col("duplicate_of").alias("id")),
              "id", pl.lit("pointer")),
    ]).to_arrow()


def _problems(group: pa.Table) -> pa.Table:
    """One partition's broken rows (problem, the row: its source, and where it is when that is the problem): in
    no output or in two, in an output but not in the input, removed without a reason, a duplicate of no
    accepted row."""
    frame = _frame(group)
    by_source = frame.filter(pl.col(KEY).str.starts_with("s:")).group_by(KEY).agg(
        pl.col("source").first(), (pl.col(SIDE) == "input").sum().alias("inputs"),
        pl.col(SIDE).filter(pl.col(SIDE) != "input").sort().alias("places"))
    source, placed = pl.col("source").alias("row"), (pl.col("source") + " in " + pl.col("places").list.join(", ")).alias("row")
    pointers, accepted = (frame.filter(pl.col(SIDE) == side) for side in ("pointer", "accepted id"))
    found = {
        "rows counted twice": by_source.filter(pl.col("places").list.len() > 1).select(placed),
        "rows lost": by_source.filter(pl.col("places").list.len() == 0).select(source),
        "rows not in the input": by_source.filter(pl.col("inputs") == 0).select(placed),
        "rows removed without a reason": frame.filter("unexplained").select(source),
        "duplicates of rows that were not accepted": pointers.join(accepted, on=KEY, how="anti").select(source),
    }
    return pl.concat([rows.select(pl.lit(problem).alias("problem"), "row") for problem, rows in found.items()]).to_arrow()


def check(ledger: Ledger, statuses: dict[str, int], inputs: list[str], folder: Path, partitions: int) -> None:
    """Ledger.check, distributed, on the outputs as written in `folder`: every input row (the canonical input
    files) is in exactly one of accepted, quarantine and duplicates, for a reason. The counts come from the
    summary's and the outputs' parquet footers; the keyed checks are grouped counts and anti-joins on one
    shuffle of the sources and ids, the inputs and outputs read as one dataset (no union, no rows on the
    driver but the broken ones)."""
    import ray

    problems = []
    counted = sum(statuses.values())
    if counted != ledger.input_rows:
        problems.append(f"{ledger.input_rows} rows in, {counted} in the ledger")
    for status, name in OUTPUTS.items():
        held = pl.scan_parquet(folder / name / "*.parquet").select(pl.len()).collect().item()
        if held != statuses.get(status.value, 0):
            problems.append(f"{name} holds {held} rows, the ledger {statuses.get(status.value, 0)} {status.value}")
    rows = ray.data.read_parquet([*inputs, *(str(folder / name) for name in OUTPUTS.values())]).select_columns(CHECKED)
    found, shown = Counter(), {}
    for block in co_partitioned(rows.map_batches(_check_keys, batch_format="pyarrow"), partitions, _problems
                                ).iter_batches(batch_format="pyarrow"):
        for problem, row in pl.from_arrow(block).iter_rows():
            found[problem] += 1
            if len(named := shown.setdefault(problem, [])) < SHOWN:
                named.append(row)
    problems += [f"{problem} ({found[problem]}): {named}" for problem, named in shown.items()]
    accepted = statuses.get(Status.ACCEPTED.value, 0)
    removed_by_stages = sum(entry.removed - getattr(entry, "returned", 0) for entry in ledger.stages)
    if removed_by_stages + accepted != ledger.input_rows:
        problems.append(f"stages removed {removed_by_stages} and accepted {accepted} of {ledger.input_rows}")
    if problems:
        raise LedgerError("the ledger does not balance: " + "; ".join(problems))

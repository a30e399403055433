"""A step's output as one Arrow table per batch (Ray Data maps one table to one table): the kept rows, the
removed rows and one row of counts, told apart by `_part`. Every table of a step has the same columns and
types (its template, the step run on no rows), so its shards read back as one dataset."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace

import polars as pl
import pyarrow as pa

from curation.schema import Status
from curation.stage import REMOVED_COLUMNS, Stage

PART = "_part"
COUNTS = "_counts"
POSITION = "_position"  # the row's place in the input (shard << 32 | row): the local engine's row order
KEPT, REMOVED, STATS = "kept", "removed", "stats"
# A duplicate's target: if a later stage removes it, the rows that point at it follow its chain (ledger.py).
# Marked where the pointer is made (within one partition), so finding chains needs no shuffle.
POINTED = "_pointed"
ENGINE_COLUMNS = (POSITION, POINTED)  # the engine's own: never in an output
# Removed rows always carry these, even from a step whose stages removed nothing.
REMOVED_STATUS_COLUMNS = [pl.lit(None, dtype=dtype).alias(name) for name, dtype in REMOVED_COLUMNS.items()]


@dataclass
class Template:
    """The columns and types of a step's kept and removed rows, and of the envelope every step writes (the
    same for all steps, so that their shards read back as one dataset: see `shared`)."""
    kept: pl.Schema
    removed: pl.Schema
    envelope: pl.Schema | None = None

    @classmethod
    def of(cls, stages: list[Stage], rows: pl.Schema) -> Template:
        """What the stages give on no rows of this schema."""
        frame = pl.DataFrame(schema=rows)
        removed = []
        for stage in stages:
            result = stage(frame)
            removed.append(result.removed)
            frame = result.kept
        return cls(frame.schema, _union([*removed, frame.clear().with_columns(REMOVED_STATUS_COLUMNS)]).schema)

    @staticmethod
    def shared(templates: list[Template]) -> list[Template]:
        """The templates with one envelope: every kept, removed and counts column of them all."""
        envelope = _union([pl.DataFrame(schema=schema) for template in templates for schema in (template.kept, template.removed)]
                          + [pl.DataFrame(schema={PART: pl.String, COUNTS: pl.String})]).schema
        return [replace(template, envelope=envelope) for template in templates]


def _union(frames: list[pl.DataFrame]) -> pl.DataFrame:
    return pl.concat([frame.clear() for frame in frames], how="diagonal_relaxed")


def conform(frame: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
    """The frame with exactly `schema`'s columns and types (absent columns null)."""
    missing = [pl.lit(None, dtype=dtype).alias(name) for name, dtype in schema.items() if name not in frame.columns]
    return frame.with_columns(missing).select(pl.col(name).cast(dtype) for name, dtype in schema.items())


def run_stages(stages: list[Stage], frame: pl.DataFrame, template: Template, extra: dict | None = None) -> pa.Table:
    """The stages on one batch, as one envelope table: kept rows, removed rows, and a counts row
    (per stage: rows in, out, removed, seconds, stats; plus `extra`)."""
    counts, removed = {}, []
    for stage in stages:
        started = time.perf_counter()
        result = stage(frame)
        kept, dropped = (_mark_targets(part, result.removed) for part in (result.kept, result.removed))
        counts[stage.name] = {"rows_in": frame.height, "rows_out": kept.height, "removed": dropped.height,
                              "seconds": time.perf_counter() - started, "stats": result.stats}
        if dropped.height:
            removed.append(dropped)
        frame = kept
    envelope = template.envelope
    parts = [conform(frame, template.kept).with_columns(pl.lit(KEPT).alias(PART)),
             *(conform(part, template.removed).with_columns(pl.lit(REMOVED).alias(PART)) for part in removed),
             pl.DataFrame({PART: [STATS], COUNTS: [json.dumps({"stages": counts, **(extra or {})})]})]
    return pl.concat([conform(part, envelope) for part in parts], rechunk=False).to_arrow()


def _mark_targets(frame: pl.DataFrame, removed: pl.DataFrame) -> pl.DataFrame:
    """The frame with POINTED set on the rows `removed`'s duplicates point at."""
    if POINTED not in frame.columns or "duplicate_of_source" not in removed.columns:
        return frame
    targets = removed.filter(pl.col("status") == Status.DUPLICATE.value).get_column("duplicate_of_source")
    return frame.with_columns(pl.col(POINTED) | pl.col("source").is_in(targets.implode()))


def rows_of(part: str, frame: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
    """One part's rows of an envelope, with that part's columns."""
    return conform(frame.filter(pl.col(PART) == part), schema)

"""Which columns of a record the engine adds, and so which are the input's own metadata (persona,
model...): what the published datasets carry, and what is renamed input_<name> when it clashes."""

from __future__ import annotations

import polars as pl

from curation.ledger import ROW_COLUMNS
from curation.pipelines import STAGES
from curation.schema import TEXT_FIELDS, metadata_columns
from curation.stage import REMOVED_COLUMNS


def engine_columns() -> set[str]:
    """Every column name the engine adds to a record."""
    engine = {column for stage in STAGES for column in stage.outputs} | set(REMOVED_COLUMNS) | set(ROW_COLUMNS)
    return engine | {"label", "completion", "similarity"} | {f"{field}_raw" for field in TEXT_FIELDS}


def published_metadata(accepted: pl.DataFrame) -> list[str]:
    """The input's own metadata columns (persona, model...), which the published datasets carry."""
    engine = engine_columns()
    return [name for name in metadata_columns(accepted) if name not in engine and not name.startswith("_")]


def protect_metadata(records: pl.DataFrame) -> pl.DataFrame:
    """Input metadata columns named like a column the engine adds are kept, renamed input_<name>."""
    engine = engine_columns()
    clashing = [name for name in metadata_columns(records) if name in engine or name.startswith("_")]
    return records.rename({name: f"input_{name.lstrip('_')}" for name in clashing})

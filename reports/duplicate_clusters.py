"""Duplicate clusters a person can read: the kept row, the rows dropped as its duplicates, how similar."""

from __future__ import annotations

import polars as pl

CLUSTER_COLUMNS = ["kept_source", "kept_prompt", "dropped_source", "dropped_prompt", "reason", "similarity"]


def duplicate_clusters(accepted: pl.DataFrame, removed: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """One row per dropped duplicate, beside the row it was kept for; the largest clusters first."""
    columns = removed.lazy().collect_schema().names()
    if "duplicate_of_source" not in columns:
        return pl.DataFrame(schema={name: pl.Float64 if name == "similarity" else pl.String for name in CLUSTER_COLUMNS})
    similarity = pl.col("similarity") if "similarity" in columns else pl.lit(None, dtype=pl.Float64)
    dropped = removed.lazy().filter(pl.col("status") == "duplicate").select(
        kept_source="duplicate_of_source", dropped_source="source", dropped_prompt="prompt",
        reason=pl.col("reasons").list.first(), similarity=similarity.cast(pl.Float64),
    ).collect()
    kept = accepted.select(kept_source="source", kept_prompt="prompt")
    return (dropped.join(kept, on="kept_source", how="left")
            .with_columns(size=pl.len().over("kept_source"))
            .sort(["size", "kept_source", "similarity"], descending=[True, False, True], nulls_last=True)
            .select(CLUSTER_COLUMNS))

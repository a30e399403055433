"""The arena export: country, system_prompt, question, chosen, rejected (+ optional preference)."""

from __future__ import annotations

import polars as pl

from curation.readers.common import iso_countries, preference_or_default, require_columns, require_text

REQUIRED = ["question", "chosen", "rejected"]


def matches(columns: set[str]) -> bool:
    return set(REQUIRED) <= columns


def to_records(frame: pl.DataFrame) -> pl.DataFrame:
    require_columns(frame, REQUIRED, "arena")
    optional = [column for column in ("system_prompt", "country") if column in frame.columns]
    require_text(frame, *REQUIRED, *optional)
    country = iso_countries(frame, "country") if "country" in frame.columns else pl.lit(None, dtype=pl.String)
    return frame.with_columns(
        pl.col("question").alias("prompt"),
        pl.col("chosen").fill_null(""),
        pl.col("rejected").fill_null(""),
        preference_or_default(frame).alias("preference"),
        country.alias("country"),
    ).drop("question")

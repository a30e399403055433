"""The arena export: country, system_prompt, question, chosen, rejected (+ optional preference)."""

from __future__ import annotations

import polars as pl

from curation.readers.common import iso_countries, require_columns, require_text, vote_labels
from curation.schema import Preference

REQUIRED = ["question", "chosen", "rejected"]


def matches(columns: set[str]) -> bool:
    return set(REQUIRED) <= columns


def to_records(frame: pl.DataFrame) -> pl.DataFrame:
    require_columns(frame, REQUIRED, "arena")
    optional = [column for column in ("system_prompt", "country") if column in frame.columns]
    require_text(frame, *REQUIRED, *optional)
    preference = pl.lit(Preference.CHOSEN_BETTER.value)
    if "preference" in frame.columns:
        frame = frame.with_columns(pl.col("preference").fill_null(Preference.CHOSEN_BETTER.value))
        votes = vote_labels(frame, "preference", {"a", Preference.BOTH_GOOD, Preference.BOTH_BAD})
        preference = votes.replace("a", Preference.CHOSEN_BETTER.value)
    country = iso_countries(frame, "country") if "country" in frame.columns else pl.lit(None, dtype=pl.String)
    return frame.with_columns(
        pl.col("question").alias("prompt"),
        pl.col("chosen").fill_null(""),
        pl.col("rejected").fill_null(""),
        preference.alias("preference"),
        country.alias("country"),
    ).drop("question")

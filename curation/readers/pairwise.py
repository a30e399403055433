"""The pairwise arena shape: prompt, response_a, response_b, winner (a, b, tie, both-bad)."""

from __future__ import annotations

import polars as pl

from curation.readers.common import iso_countries, require_columns, require_text, vote_labels
from curation.schema import Preference

REQUIRED = ["prompt", "response_a", "response_b", "winner"]


def matches(columns: set[str]) -> bool:
    return {"response_a", "response_b", "winner"} <= columns


def to_records(frame: pl.DataFrame) -> pl.DataFrame:
    if "prompt" not in frame.columns and "question" in frame.columns:
        frame = frame.rename({"question": "prompt"})
    require_columns(frame, REQUIRED, "pairwise")
    require_text(frame, "prompt", "response_a", "response_b")
    votes = vote_labels(frame, "winner", {"a", "b", Preference.BOTH_GOOD, Preference.BOTH_BAD})
    b_won = votes == "b"
    swapped = {
        "chosen": pl.when(b_won).then("response_b").otherwise("response_a"),
        "rejected": pl.when(b_won).then("response_a").otherwise("response_b"),
    }
    if {"model_a", "model_b"} <= set(frame.columns):
        swapped |= {
            "chosen_model": pl.when(b_won).then("model_b").otherwise("model_a"),
            "rejected_model": pl.when(b_won).then("model_a").otherwise("model_b"),
        }
    country = iso_countries(frame, "country") if "country" in frame.columns else pl.lit(None, dtype=pl.String)
    frame = frame.with_columns(
        **swapped,
        preference=votes.replace({"a": Preference.CHOSEN_BETTER.value, "b": Preference.CHOSEN_BETTER.value}),
        country=country,
    )
    return frame.drop("response_a", "response_b", "winner", "model_a", "model_b", strict=False)

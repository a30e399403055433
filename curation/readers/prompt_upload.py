"""The hackathon's prompt-upload CSV: prompt, pais (+ edad, genero, region, modelo_gen...)."""

from __future__ import annotations

import polars as pl

from curation.readers.common import iso_countries, require_columns, require_text

REQUIRED = ["prompt", "pais"]


def matches(columns: set[str]) -> bool:
    return "prompt" in columns and ({"pais", "país", "country"} & columns) != set() and "chosen" not in columns


def to_records(frame: pl.DataFrame) -> pl.DataFrame:
    for spelling in ("país", "country"):
        if spelling in frame.columns and "pais" not in frame.columns:
            frame = frame.rename({spelling: "pais"})
    require_columns(frame, REQUIRED, "prompts")
    require_text(frame, "prompt")
    return frame.with_columns(country=iso_countries(frame, "pais")).drop("pais")

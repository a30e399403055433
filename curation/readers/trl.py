"""trl's preference formats: standard (prompt/chosen/rejected strings) or conversational (messages)."""

from __future__ import annotations

import polars as pl

from curation.errors import InputError
from curation.readers.common import (
    first_bad, iso_countries, preference_or_default, require_columns, require_text,
)

REQUIRED = ["prompt", "chosen", "rejected"]
_MESSAGES = pl.List(pl.Struct({"role": pl.String, "content": pl.String}))


def matches(columns: set[str]) -> bool:
    return set(REQUIRED) <= columns


def _is_conversational(frame: pl.DataFrame) -> bool:
    return isinstance(frame.schema["chosen"], pl.List)


def _require_messages(frame: pl.DataFrame, *columns: str) -> None:
    for column in columns:
        try:
            frame.select(pl.col(column).cast(_MESSAGES))
        except pl.exceptions.PolarsError:
            file, row = first_bad(frame, pl.col(column).is_not_null())
            raise InputError(file, f"expected a list of {{role, content}} messages, found {frame.schema[column]}",
                             row=row, column=column) from None


def _role_content(column: str, role: str) -> pl.Expr:
    """Contents of the messages with that role, joined by blank lines."""
    messages = pl.col(column).list.filter(pl.element().struct.field("role") == role)
    return messages.list.eval(pl.element().struct.field("content")).list.join("\n\n")


def _dialogue(column: str) -> pl.Expr:
    """Non-system turns as one prompt: a single user turn as is, several as 'user: ...' lines."""
    turns = pl.col(column).list.filter(pl.element().struct.field("role") != "system")
    labelled = turns.list.eval(pl.element().struct.field("role") + ": " + pl.element().struct.field("content"))
    single = turns.list.first().struct.field("content")
    return pl.when(turns.list.len() == 1).then(single).otherwise(labelled.list.join("\n\n"))


def to_records(frame: pl.DataFrame) -> pl.DataFrame:
    require_columns(frame, REQUIRED, "trl")
    if _is_conversational(frame):
        _require_messages(frame, *REQUIRED)
        frame = frame.with_columns(pl.col(REQUIRED).cast(_MESSAGES))
        system_prompt = _role_content("prompt", "system")
        frame = frame.with_columns(
            system_prompt=pl.when(system_prompt != "").then(system_prompt),
            prompt=_dialogue("prompt"),
            chosen=_role_content("chosen", "assistant"),
            rejected=_role_content("rejected", "assistant"),
        )
    else:
        require_text(frame, *REQUIRED)
    country = iso_countries(frame, "country") if "country" in frame.columns else pl.lit(None, dtype=pl.String)
    return frame.with_columns(
        pl.col("chosen").fill_null(""),
        pl.col("rejected").fill_null(""),
        preference=preference_or_default(frame),
        country=country,
    )

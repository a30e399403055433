"""Exact duplicate images: the same file content (SHA-256) asked the same prompt in the same scope."""

from __future__ import annotations

from typing import Self

import polars as pl

from curation.clusters import (
    GENERIC_SYSTEM_PROMPTS,
    ROW,
    Persona,
    representatives,
    scope_keys,
    with_possible_duplicates,
)
from curation.config import RunConfig
from curation.pipelines.exact_dedupe import grouping
from curation.schema import Status
from curation.stage import Stage, StageResult
from curation.text import exact_key


def image_scope(frame: pl.DataFrame, scope: list[str], persona: Persona | None) -> pl.Series:
    """Rows are only duplicates of rows with the same key: the dedupe's scope (country), the persona, and
    the normalised prompt (the same photo asked two different questions is two records); for a single caption
    with its vote (no rejected caption), the caption too: another caption of the photo is another example."""
    caption = pl.when(pl.col("rejected").is_null()).then(exact_key("chosen")).fill_null("")
    prompts = frame.select(pl.concat_str(exact_key("prompt").fill_null(""), caption, separator="\x1d")).to_series()
    return pl.select(pl.concat_str([pl.lit(scope_keys(frame, scope, persona)), pl.lit(prompts)], separator="\x1d")).to_series()


class ImageExactDedupe(Stage):
    name = "image_exact_dedupe"
    description = "Same image content (SHA-256) and prompt in the same country, for the same persona: keep the most complete."
    inputs = ("id", "source", "prompt", "chosen", "rejected", "image_sha256")

    def __init__(self, scope: list[str] | None = None, persona: bool = True,
                 generic_system_prompts: str = GENERIC_SYSTEM_PROMPTS):
        self.scope = scope or []
        self.persona = Persona(generic_system_prompts) if persona else None

    @classmethod
    def from_config(cls, config: RunConfig) -> Self:
        return cls(**grouping(config.dedupe))

    @classmethod
    def enabled(cls, config: RunConfig) -> bool:
        return config.images is not None

    def process(self, frame: pl.DataFrame) -> StageResult:
        frame = with_possible_duplicates(frame)
        keys = image_scope(frame, self.scope, self.persona)
        # A row without a hash (its image unread, the rule that blocks it switched off) is nobody's duplicate.
        unique = pl.int_range(pl.len()).cast(pl.String)
        group = pl.when(pl.col("image_sha256").is_null()).then(unique).otherwise(pl.col("image_sha256") + pl.lit(keys))
        reps = representatives(frame, group)
        repeat = reps.get_column(ROW) != reps.get_column("_rep_row")
        removed = self.leave(frame.filter(repeat), Status.DUPLICATE, pl.lit(["image_exact_duplicate"]),
                             duplicate_of=pl.lit(reps.filter(repeat).get_column("_rep_id")),
                             duplicate_of_source=pl.lit(reps.filter(repeat).get_column("_rep_source")))
        return StageResult(frame.filter(~repeat), removed, {"image_exact_duplicate": removed.height})

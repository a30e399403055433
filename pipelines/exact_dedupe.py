"""Exact duplicates: rows with the same normalised prompt (or the same whole pair); the most complete is kept."""

from __future__ import annotations

from typing import Self

import polars as pl

from curation.clusters import GENERIC_SYSTEM_PROMPTS, ROW, Persona, representatives, with_possible_duplicates
from curation.config import DedupeConfig, RunConfig
from curation.schema import TEXT_FIELDS, Status
from curation.stage import CHUNK_ROWS, Stage, StageResult
from curation.text import exact_key


def _hashes(frame: pl.DataFrame, key: pl.Expr) -> pl.Series:
    """The key's 64-bit hash per row, a slice at a time: the lower-cased copies of a million texts never
    exist at once. Within one run a hash stands for its key (a collision is ~1e-8 at a million rows)."""
    parts = [part.select(key.hash(seed=11)).to_series() for part in frame.iter_slices(CHUNK_ROWS)]
    return pl.concat(parts) if parts else pl.Series(dtype=pl.UInt64)


def grouping(dedupe: DedupeConfig) -> dict:
    """The settings every dedupe stage (text or image) shares: which rows may be duplicates at all."""
    return {"scope": dedupe.scope, "persona": dedupe.persona, "generic_system_prompts": dedupe.generic_system_prompts}


class ExactDedupe(Stage):
    name = "exact_dedupe"
    description = ("Same normalised prompt (or whole pair) in the same country, for the same persona: keep the most "
                   "complete, point the others to it.")
    inputs = ("id", "source", *TEXT_FIELDS)

    def __init__(self, by_prompt: bool = True, scope: list[str] | None = None, persona: bool = True,
                 generic_system_prompts: str = GENERIC_SYSTEM_PROMPTS):
        self.by_prompt, self.scope = by_prompt, scope or []
        self.persona = Persona(generic_system_prompts) if persona else None

    @classmethod
    def from_config(cls, config: RunConfig) -> Self:
        return cls(by_prompt=config.dedupe.exact.by_prompt, **grouping(config.dedupe))

    @classmethod
    def enabled(cls, config: RunConfig) -> bool:
        return config.images is None  # an image run dedupes by image (image_exact_dedupe)

    def process(self, frame: pl.DataFrame) -> StageResult:
        frame = with_possible_duplicates(frame)  # the column accepted rows always have (near and semantic fill it)
        scope = [pl.col(column).cast(pl.String).fill_null("\x00") for column in self.scope]
        if self.persona is not None:  # a helper column: the keys are hashed a slice at a time
            frame = frame.with_columns(self.persona.keys(frame).alias("_persona"))
            scope.append(pl.col("_persona"))
        pair_key = pl.concat_str([exact_key(field).fill_null("") for field in TEXT_FIELDS] + scope, separator="\x1f")
        prompt_key = pl.concat_str([exact_key("prompt").fill_null(""), *scope], separator="\x1f")
        # Most complete first (ties by id), so the kept row does not depend on the input's row order.
        reps = representatives(frame, pl.lit(_hashes(frame, prompt_key if self.by_prompt else pair_key)))
        rows = reps.select(ROW, "_rep_id", "_rep_source", _repeat=pl.col(ROW) != pl.col("_rep_row"),
                           _in_repeated_group=pl.col("_group_size") > 1)
        # Whole-pair keys cost four texts a row: only rows of repeated groups need them (to name the reason).
        in_group = rows.get_column("_in_repeated_group")
        same_pair = (rows.filter(in_group).with_columns(_pair=_hashes(frame.filter(in_group), pair_key))
                     .sort("_repeat", ROW).select(ROW, _same_pair=pl.int_range(pl.len()).over("_pair") > 0))
        rows = rows.join(same_pair, on=ROW, how="left", maintain_order="left")
        repeat = rows.get_column("_repeat")
        repeated = rows.filter(repeat)
        reason = pl.when(pl.col("_same_pair")).then(pl.lit(["exact_duplicate_pair"])).otherwise(pl.lit(["exact_duplicate_prompt"]))
        removed = self.leave(frame.filter(repeat).with_columns(repeated.select("_rep_id", "_rep_source", "_same_pair")),
                             Status.DUPLICATE, reason, duplicate_of=pl.col("_rep_id"),
                             duplicate_of_source=pl.col("_rep_source"))
        stats = repeated.select(
            exact_duplicate_pair=pl.col("_same_pair").sum(), exact_duplicate_prompt=(~pl.col("_same_pair")).sum()
        ).row(0, named=True)
        helpers = [column for column in ("_persona",) if column in frame.columns]
        return StageResult(frame.filter(~repeat).drop(helpers),
                           removed.drop("_rep_id", "_rep_source", "_same_pair", *helpers), stats)

"""Exact duplicates: rows with the same normalised prompt (or the same whole pair); the most complete is kept."""

from __future__ import annotations

import polars as pl

from curation.clusters import representatives
from curation.schema import TEXT_FIELDS, Status
from curation.stage import Stage, StageResult
from curation.text import exact_key


class ExactDedupe(Stage):
    name = "exact_dedupe"
    description = "Same normalised prompt (or whole pair) in the same country: keep the most complete, point the others to it."
    inputs = ("id", "source", *TEXT_FIELDS)

    def __init__(self, by_prompt: bool = True, scope: list[str] | None = None):
        self.by_prompt, self.scope = by_prompt, scope or []

    def process(self, frame: pl.DataFrame) -> StageResult:
        scope = [pl.col(column).cast(pl.String).fill_null("\x00") for column in self.scope]
        pair_key = pl.concat_str([exact_key(field).fill_null("") for field in TEXT_FIELDS] + scope, separator="\x1f")
        group_key = pl.concat_str([exact_key("prompt").fill_null(""), *scope], separator="\x1f") if self.by_prompt else pair_key
        # Most complete first (ties by id), so the kept row does not depend on the input's row order.
        reps = representatives(frame, group_key)
        grouped = frame.with_columns(reps.select(
            pl.col("row").alias("_row"), "_group", pl.col("_rep_id").alias("_first_id"),
            pl.col("_rep_source").alias("_first_source"), (pl.col("row") != pl.col("_rep_row")).alias("_repeat"),
            (pl.col("_group_size") > 1).alias("_in_repeated_group"),
        ))
        # Whole-pair keys cost four texts a row: only rows of repeated groups need them (to name the reason).
        repeated = grouped.filter("_in_repeated_group").sort(pl.col("_repeat"), "_row").with_columns(
            _same_pair=pl.int_range(pl.len()).over(pair_key) > 0)
        grouped = grouped.join(repeated.select("source", "_same_pair"), on="source", how="left", maintain_order="left")
        reason = pl.when(pl.col("_same_pair")).then(pl.lit(["exact_duplicate_pair"])).otherwise(pl.lit(["exact_duplicate_prompt"]))
        helpers = ["_row", "_group", "_first_id", "_first_source", "_repeat", "_in_repeated_group", "_same_pair"]
        removed = self.leave(grouped.filter("_repeat"), Status.DUPLICATE, reason,
                             duplicate_of=pl.col("_first_id"), duplicate_of_source=pl.col("_first_source"))
        kept = grouped.filter(~pl.col("_repeat")).drop(helpers)
        stats = removed.select(
            exact_duplicate_pair=pl.col("_same_pair").sum(), exact_duplicate_prompt=(~pl.col("_same_pair")).sum()
        ).row(0, named=True)
        return StageResult(kept, removed.drop(helpers), stats)

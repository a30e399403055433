"""Train/test split by prompt group (a prompt never lands in both), stratified by country, seeded."""

from __future__ import annotations

import hashlib
from typing import Self

import polars as pl

from curation.config import RunConfig
from curation.stage import Stage, StageResult
from curation.text import exact_key


def _draw(seed: int, keys: list[str]) -> list[float]:
    """A uniform number in [0, 1) per key, fixed by the seed and the key alone (not by row order)."""
    return [
        int.from_bytes(hashlib.blake2b(f"{seed}\x1f{key}".encode(), digest_size=8).digest()) / 2**64 for key in keys
    ]


class Split(Stage):
    name = "split"
    description = "Seeded train/test split by prompt group, stratified by country and vote."
    inputs = ("prompt", "country", "preference")
    outputs = ("split",)

    def __init__(self, test_fraction: float = 0.1, seed: int = 42):
        self.test_fraction, self.seed = test_fraction, seed

    @classmethod
    def from_config(cls, config: RunConfig) -> Self:
        return cls(test_fraction=config.split.test_fraction, seed=config.split.seed)

    @classmethod
    def enabled(cls, config: RunConfig) -> bool:
        return config.images is None  # an image run splits by image (image_split)

    def group_key(self) -> pl.Expr:
        """Rows of one group land in one split: here the rows of one prompt."""
        return exact_key("prompt")

    def process(self, frame: pl.DataFrame) -> StageResult:
        frame = frame.drop("split", strict=False)
        # Strata: country and vote, so the test split of each country holds clear pairs for DPO too.
        # A group whose rows differ is stratified under its first row.
        groups = frame.group_by(self.group_key().alias("_group"), maintain_order=True).agg(
            pl.concat_str([pl.col("country").fill_null("-"), pl.col("preference").fill_null("-")], separator="/").first().alias("_stratum"))
        groups = groups.with_columns(_draw=pl.Series(_draw(self.seed, groups.get_column("_group").to_list()), dtype=pl.Float64))
        # Within each country, the groups with the lowest draws make up the test share.
        rank = pl.col("_draw").rank("ordinal").over("_stratum")
        test_groups = (pl.len().over("_stratum") * self.test_fraction).round().cast(pl.Int64)
        groups = groups.with_columns(split=pl.when(rank <= test_groups).then(pl.lit("test")).otherwise(pl.lit("train")))
        split = frame.with_columns(_group=self.group_key()).join(
            groups.select("_group", "split"), on="_group", how="left", maintain_order="left"
        ).drop("_group")
        counts = split.get_column("split").value_counts()
        stats = {f"rows_{name}": count for name, count in counts.iter_rows()}
        return StageResult(split, self.nothing_removed(split), stats)

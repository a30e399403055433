"""Near-duplicate images: perceptual hashes (imagehash's pHash, 64 bits) that differ in at most
`max_distance` bits, for the same prompt in the same scope; a resized, re-compressed or lightly edited
copy of a photo. Star clusters around the most complete row, as the text near dedupe makes them.

Candidate pairs come from multi-index hashing: the hash cut into max_distance + 1 bands, two hashes
within max_distance bits agree on at least one band, so rows are only compared within a band's bucket."""

from __future__ import annotations

import itertools
from typing import Self

import numpy as np
import polars as pl

from curation.clusters import (
    GENERIC_SYSTEM_PROMPTS,
    ROW,
    Persona,
    completeness_order,
    greedy_clusters,
    resolve_clusters,
    with_possible_duplicates,
)
from curation.config import ImagesConfig, RunConfig
from curation.pipelines.exact_dedupe import grouping
from curation.pipelines.image_exact_dedupe import image_scope
from curation.stage import Stage, StageResult

HASH_BITS = 64


def band_masks(max_distance: int) -> list[tuple[int, int]]:
    """(shift, mask) of max_distance + 1 bands covering the hash's bits."""
    bands = max_distance + 1
    edges = np.linspace(0, HASH_BITS, bands + 1).round().astype(int)
    return [(int(low), (1 << int(high - low)) - 1) for low, high in itertools.pairwise(edges)]


def hamming(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    return np.bitwise_count(np.bitwise_xor(left, right))


def close_pairs(hashes: pl.Series, groups: pl.Series, max_distance: int) -> pl.DataFrame:
    """(a, b, distance) for a < b, same group, hashes within max_distance bits."""
    values = hashes.to_numpy()
    rows = pl.int_range(len(hashes), dtype=pl.Int64, eager=True)
    keys = pl.concat([pl.DataFrame({ROW: rows, "group": groups, "band": pl.Series([number] * len(hashes), dtype=pl.Int8),
                                    "value": (values >> np.uint64(shift)) & np.uint64(mask)})
                      for number, (shift, mask) in enumerate(band_masks(max_distance))])
    pairs = (keys.join(keys, on=["group", "band", "value"], suffix="_b").filter(pl.col(ROW) < pl.col(f"{ROW}_b"))
             .select(pl.col(ROW).alias("a"), pl.col(f"{ROW}_b").alias("b")).unique())
    distance = hamming(values[pairs.get_column("a").to_numpy()], values[pairs.get_column("b").to_numpy()])
    return pairs.with_columns(distance=pl.Series(distance, dtype=pl.Int64)).filter(pl.col("distance") <= max_distance)


class ImageNearDedupe(Stage):
    name = "image_near_dedupe"
    description = "Perceptual-hash near-duplicate images (pHash within a few bits), same prompt and scope: keep the most complete."
    inputs = ("id", "source", "prompt", "chosen", "rejected", "image_phash")

    def __init__(self, max_distance: int = 6, scope: list[str] | None = None, persona: bool = True,
                 generic_system_prompts: str = GENERIC_SYSTEM_PROMPTS):
        self.max_distance, self.scope = max_distance, scope or []
        self.persona = Persona(generic_system_prompts) if persona else None

    @classmethod
    def from_config(cls, config: RunConfig) -> Self:
        return cls((config.images or ImagesConfig()).near_max_distance, **grouping(config.dedupe))

    @classmethod
    def enabled(cls, config: RunConfig) -> bool:
        return config.images is not None and config.images.near

    def process(self, frame: pl.DataFrame) -> StageResult:
        if frame.height == 0:
            return StageResult(with_possible_duplicates(frame), self.nothing_removed(frame))
        rank = np.argsort(np.asarray(completeness_order(frame), dtype=np.int64))  # rank[row]: 0 is the best
        table = pl.DataFrame({ROW: pl.int_range(frame.height, dtype=pl.Int64, eager=True), "rank": rank,
                              "group": image_scope(frame, self.scope, self.persona), "hash": frame.get_column("image_phash")})
        # Rows of one hash in one group are one image here, its best row standing for all; a row without a
        # hash stands alone. Distinct images are numbered best first, as greedy_clusters takes them.
        table = table.with_columns(_rep=pl.when(pl.col("hash").is_null()).then(ROW)
                                   .otherwise(pl.col(ROW).sort_by("rank").first().over("group", "hash")))
        images = table.filter(pl.col(ROW) == pl.col("_rep")).sort("rank").with_row_index("image")
        image_of = table.join(images.select("_rep", "image"), on="_rep", how="left", maintain_order="left").get_column("image")
        hashed = images.filter(pl.col("hash").is_not_null())
        pairs = close_pairs(hashed.get_column("hash"), hashed.get_column("group"), self.max_distance)
        index = hashed.get_column("image")
        pairs = pairs.with_columns(a=index.gather(pairs.get_column("a")).cast(pl.Int64),
                                   b=index.gather(pairs.get_column("b")).cast(pl.Int64))
        founder = greedy_clusters(pairs, range(images.height), images.height)
        image_row = images.get_column(ROW)
        cluster_ids = image_row.gather(founder.gather(image_of))
        hashes = frame.get_column("image_phash").fill_null(0).to_numpy()  # members always have one

        def similarity(members: pl.DataFrame) -> pl.DataFrame:
            bits = hamming(hashes[members.get_column("a").to_numpy()], hashes[members.get_column("b").to_numpy()])
            return members.with_columns(similarity=pl.Series(1 - bits / HASH_BITS, dtype=pl.Float64))

        return resolve_clusters(self, frame, cluster_ids, "image_near_duplicate", similarity)

"""Train/test split of image records by image: the captions of one photo never land in both splits (a model
tested on a photo it was trained on would look better than it is)."""

from __future__ import annotations

import polars as pl

from curation.config import RunConfig
from curation.pipelines.split import Split


class ImageSplit(Split):
    name = "image_split"
    description = "Seeded train/test split by image (SHA-256), stratified by country and vote."
    inputs = ("prompt", "country", "preference", "image_sha256")

    @classmethod
    def enabled(cls, config: RunConfig) -> bool:
        return config.images is not None

    def group_key(self) -> pl.Expr:
        return pl.coalesce(pl.col("image_sha256"), pl.col("id"))

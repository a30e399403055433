"""Image rules: an image that cannot be read, is too small, or is a strip rather than a scene.

They read the columns curation.readers.images adds (curation.schema.IMAGE_COLUMNS) and run in the filter
beside the text rules, which check the captions as they check answers."""

from __future__ import annotations

import polars as pl

from curation.config import ImagesConfig
from curation.rules.rule import Rule

SIZE_COLUMNS = ("image_width", "image_height")


def rules(settings: ImagesConfig) -> list[Rule]:
    shorter = pl.min_horizontal(*SIZE_COLUMNS)
    longer = pl.max_horizontal(*SIZE_COLUMNS)
    return [
        Rule("image_not_decodable", "the image cannot be used: a missing or empty file, not an image, an unsupported "
             "format, a truncated file or a decompression bomb (image_error says which)", "block",
             pl.col("image_error").is_not_null(), requires=("image_error",)),
        Rule("image_too_small", f"the image's shorter side is under {settings.min_side} pixels", "block",
             pl.col("image_error").is_null() & (shorter < settings.min_side), requires=("image_error", *SIZE_COLUMNS)),
        Rule("image_extreme_aspect_ratio", f"one side of the image is over {settings.max_aspect_ratio:g} times the other",
             "block", pl.col("image_error").is_null() & (longer > shorter * settings.max_aspect_ratio),
             requires=("image_error", *SIZE_COLUMNS)),
    ]

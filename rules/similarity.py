"""Chosen identical or near-identical to rejected: the pair teaches nothing."""

from __future__ import annotations

import numpy as np
import polars as pl
from rapidfuzz import fuzz, process, utils

from curation.config import FilterConfig
from curation.rules.rule import Rule

# Indel similarity is at most 2*min/(len_a+len_b), so at similarity t the lengths are within a factor
# (2-t)/t; the slack covers the punctuation and spaces the comparison drops.
LENGTH_SLACK = 0.1


def near_identical(pairs: pl.Series, threshold: float) -> pl.Series:
    """rapidfuzz Indel similarity of the case-folded, punctuation-free texts at or above the threshold:
    a struct of the flag and the similarity (0-1), the latter null where the lengths alone keep the pair
    below the threshold (it is not computed there)."""
    left, right = pairs.struct.field("left"), pairs.struct.field("right")
    lengths = pl.DataFrame({"a": left.str.len_chars(), "b": right.str.len_chars()})
    max_factor = (2 - threshold) / threshold + LENGTH_SLACK
    comparable = lengths.select(
        (pl.max_horizontal("a", "b") <= max_factor * pl.min_horizontal("a", "b")) & (pl.col("a") > 0)
    ).to_series().fill_null(False)
    candidates = comparable.arg_true()
    result = np.zeros(pairs.len(), dtype=bool)
    similarity = np.full(pairs.len(), np.nan)
    if candidates.len():
        scores = process.cpdist(left.gather(candidates).to_list(), right.gather(candidates).to_list(),
                                scorer=fuzz.ratio, processor=utils.default_process, workers=-1)
        result[candidates.to_numpy()] = scores >= threshold * 100
        similarity[candidates.to_numpy()] = np.round(scores / 100, 4)
    return pl.DataFrame({"flag": result, "similarity": similarity}).with_columns(
        pl.col("similarity").fill_nan(None)).to_struct()


def rules(config: FilterConfig) -> list[Rule]:
    similar = pl.struct(left="chosen", right="rejected").map_batches(
        lambda pairs: near_identical(pairs, config.near_identical_similarity),
        return_dtype=pl.Struct({"flag": pl.Boolean, "similarity": pl.Float64}),
    )
    return [
        Rule("chosen_same_as_rejected",
             f"chosen and rejected identical or near-identical (similarity >= {config.near_identical_similarity})",
             "block", similar, scores=("chosen_rejected_similarity",)),
    ]

"""Near duplicates by MinHash LSH over word n-grams, on prompts (default) or whole pairs."""

from __future__ import annotations

from typing import Literal

import polars as pl

from curation.clusters import completeness_order, greedy_clusters, resolve_clusters, scope_keys
from curation.near_duplicates import jaccard, near_duplicate_pairs
from curation.schema import TEXT_FIELDS
from curation.stage import Stage, StageResult
from curation.text import comparison_key, fold_accents


class NearDedupe(Stage):
    name = "near_dedupe"
    description = "MinHash LSH near duplicates (Jaccard of word n-grams): keep the most complete row of each cluster."
    inputs = ("id", "source", *TEXT_FIELDS)

    def __init__(self, on: Literal["prompt", "pair"] = "prompt", threshold: float = 0.8, ngram: int = 2,
                 bins: int = 64, band_size: int = 4, scope: list[str] | None = None):
        self.on, self.threshold, self.ngram, self.bins, self.band_size = on, threshold, ngram, bins, band_size
        self.scope = scope or []

    def keys(self, frame: pl.DataFrame) -> pl.Series:
        """Accent-, case- and punctuation-free text: 'Qué' and 'que' are the same word here."""
        fields = ["prompt"] if self.on == "prompt" else list(TEXT_FIELDS)
        text = pl.concat_str([pl.col(field).fill_null("") for field in fields], separator=" ")
        return frame.select(fold_accents(comparison_key(text))).to_series()

    def process(self, frame: pl.DataFrame) -> StageResult:
        if frame.height == 0:
            return StageResult(frame, self.nothing_removed(frame))
        pairs, grams = near_duplicate_pairs(self.keys(frame), scope_keys(frame, self.scope), self.threshold,
                                            self.ngram, self.bins, self.band_size)
        cluster_ids = greedy_clusters(pairs, completeness_order(frame), frame.height)
        return resolve_clusters(self, frame, cluster_ids, f"near_duplicate_{self.on}",
                                lambda pairs: jaccard(grams, pairs))

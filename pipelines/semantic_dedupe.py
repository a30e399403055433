"""Semantic duplicates: prompts that ask the same thing in other words (sentence embeddings, cosine)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from curation.clusters import (
    GENERIC_SYSTEM_PROMPTS,
    Persona,
    completeness_order,
    greedy_clusters,
    possible_duplicates,
    resolve_clusters,
    scope_keys,
    template_guard,
    with_possible_duplicates,
    within_scope,
)
from curation.embeddings import EmbeddingCache
from curation.semantic_duplicates import cosine, similar_pairs
from curation.stage import Stage, StageResult


class SemanticDedupe(Stage):
    name = "semantic_dedupe"
    description = "Embedding cosine >= threshold: prompts asking the same thing in other words; keep the most complete."
    inputs = ("id", "source", "system_prompt", "prompt", "chosen", "rejected")

    def __init__(self, model: str = "static-minilm", threshold: float = 0.95, cache_dir: str | Path | None = None,
                 scope: list[str] | None = None, persona: bool = True, generic_system_prompts: str = GENERIC_SYSTEM_PROMPTS,
                 guard: bool = True, borderline: float = 0.05):
        self.threshold, self.scope = threshold, scope or []
        self.persona = Persona(generic_system_prompts) if persona else None
        self.guard, self.borderline = guard, borderline
        self.cache = EmbeddingCache(model, Path(cache_dir) if cache_dir else None)

    def process(self, frame: pl.DataFrame) -> StageResult:
        if frame.height == 0:
            return StageResult(with_possible_duplicates(frame), self.nothing_removed(frame))
        prompts = frame.get_column("prompt")
        vectors = self.cache.embed(prompts.fill_null("").to_list())
        # Pairs down to the borderline: those under the threshold are only possible duplicates.
        scored = within_scope(similar_pairs(vectors, max(self.threshold - self.borderline, 1e-6)),
                              scope_keys(frame, self.scope, self.persona))
        pairs = scored.filter(pl.col("similarity") >= self.threshold)
        possible = scored.filter(pl.col("similarity") < self.threshold)
        if self.guard:  # under the threshold, only pairs with no other word are possible duplicates
            guarded = template_guard(prompts, pairs)
            possible = pl.concat([template_guard(prompts, possible).filter(~pl.col("blocked")).drop("blocked"),
                                  guarded.filter("blocked").drop("blocked")])
            pairs = guarded.filter(~pl.col("blocked")).drop("blocked")
        order = completeness_order(frame)
        cluster_ids = greedy_clusters(pairs, order, frame.height)
        rank = pl.Series(np.argsort(np.asarray(order, dtype=np.int64)), dtype=pl.Int64)
        flags = possible_duplicates(possible.with_columns(pl.col("similarity").cast(pl.Float64)), cluster_ids, rank)
        result = resolve_clusters(self, frame, cluster_ids, "semantic_duplicate", lambda pairs: cosine(vectors, pairs), flags)
        result.stats["embeddings_computed"] = self.cache.computed
        return result

"""Semantic duplicates: prompts that ask the same thing in other words (sentence embeddings, cosine)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from curation.clusters import completeness_order, greedy_clusters, resolve_clusters, scope_keys, within_scope
from curation.embeddings import EmbeddingCache
from curation.semantic_duplicates import cosine, similar_pairs
from curation.stage import Stage, StageResult


class SemanticDedupe(Stage):
    name = "semantic_dedupe"
    description = "Embedding cosine >= threshold: prompts asking the same thing in other words; keep the most complete."
    inputs = ("id", "source", "system_prompt", "prompt", "chosen", "rejected")

    def __init__(self, model: str = "static-minilm", threshold: float = 0.95, cache_dir: str | Path | None = None,
                 scope: list[str] | None = None):
        self.threshold, self.scope = threshold, scope or []
        self.cache = EmbeddingCache(model, Path(cache_dir) if cache_dir else None)

    def process(self, frame: pl.DataFrame) -> StageResult:
        if frame.height == 0:
            return StageResult(frame, self.nothing_removed(frame))
        vectors = self.cache.embed(frame.get_column("prompt").fill_null("").to_list())
        pairs = within_scope(similar_pairs(vectors, self.threshold), scope_keys(frame, self.scope))
        cluster_ids = greedy_clusters(pairs, completeness_order(frame), frame.height)
        result = resolve_clusters(self, frame, cluster_ids, "semantic_duplicate", lambda pairs: cosine(vectors, pairs))
        result.stats["embeddings_computed"] = self.cache.computed
        return result

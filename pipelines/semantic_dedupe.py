"""Semantic duplicates: prompts that ask the same thing in other words (sentence embeddings, cosine)."""

from __future__ import annotations

from pathlib import Path
from typing import Self

import numpy as np
import polars as pl

from curation.clusters import (
    GENERIC_SYSTEM_PROMPTS,
    ROW,
    Persona,
    completeness_order,
    content_words,
    differs_in_meaning,
    greedy_clusters,
    lazy_possible_duplicates,
    resolve_clusters,
    scope_keys,
    template_guard,
    with_possible_duplicates,
)
from curation.config import RunConfig
from curation.embeddings import EmbeddingCache
from curation.pipelines.exact_dedupe import grouping
from curation.semantic_duplicates import Units, cosine, similar_pairs
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

    @classmethod
    def from_config(cls, config: RunConfig) -> Self:
        dedupe, semantic = config.dedupe, config.dedupe.semantic
        return cls(semantic.model, semantic.threshold, semantic.cache_dir, **grouping(dedupe), guard=dedupe.guard,
                   borderline=dedupe.borderline)

    @classmethod
    def enabled(cls, config: RunConfig) -> bool:
        return config.dedupe.semantic.enabled and config.images is None

    def process(self, frame: pl.DataFrame) -> StageResult:
        if frame.height == 0:
            return StageResult(with_possible_duplicates(frame), self.nothing_removed(frame))
        units = Units.of(scope_keys(frame, self.scope, self.persona), frame.get_column("prompt"), completeness_order(frame))
        vectors = self.cache.embed(units.texts.to_list())
        # Pairs down to the borderline: those under the threshold are only possible duplicates.
        scored = similar_pairs(vectors[units.text], max(self.threshold - self.borderline, 1e-6), units.block)
        founder = greedy_clusters(scored.filter(pl.col("similarity") >= self.threshold), np.argsort(units.rank),
                                  len(units.rank), accept=self._guard(units))
        rank = pl.Series(units.rank)
        flags = lazy_possible_duplicates(scored, founder, rank, self._possible(units))
        best = pl.Series(units.best_row)
        flags = flags.select(best.gather(flags.get_column(ROW)).alias(ROW), best.gather(flags.get_column("other")).alias("other"))
        cluster_ids = pl.Series(units.best_row[founder.to_numpy()[units.of_row]], dtype=pl.UInt32)
        row_vector = units.text[units.of_row]
        result = resolve_clusters(self, frame, cluster_ids, "semantic_duplicate",
                                  lambda pairs: cosine(vectors, pairs, row_vector), flags)
        result.stats["embeddings_computed"] = self.cache.computed
        return result

    def _guard(self, units: Units):
        """A founder takes a neighbour only if the template guard lets them merge (no other content word,
        the same order): checked on a founder and its untaken neighbours, not on every pair."""
        if not self.guard:
            return None
        words = content_words(units.unit_texts)
        return lambda founder, candidates: np.fromiter(
            (not differs_in_meaning(words[founder], words[other]) for other in candidates), dtype=bool, count=len(candidates))

    def _possible(self, units: Units):
        """Pairs of two clusters that people should see: under the threshold unless the guard blocks them,
        over it where the guard blocked the merge."""
        if not self.guard:
            return lambda pairs: pairs.get_column("similarity") < self.threshold
        texts = units.unit_texts
        return lambda pairs: (template_guard(texts, pairs.select("a", "b")).get_column("blocked")
                              == (pairs.get_column("similarity") >= self.threshold))

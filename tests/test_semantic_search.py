"""Semantic dedupe at scale (issue 14): blocked exact search, (scope, text) units, guarded greedy clusters,
possible duplicates judged best pair first."""

import numpy as np
import polars as pl
import pytest

from curation import semantic_duplicates
from curation.clusters import greedy_clusters, lazy_possible_duplicates, possible_duplicates
from curation.pipelines.semantic_dedupe import SemanticDedupe
from curation.semantic_duplicates import Units, similar_pairs
from curation.testing import frame_of, pair


def unit_vectors(rows: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(rows, 8)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def brute_force(vectors: np.ndarray, blocks: np.ndarray, threshold: float) -> set[tuple[int, int]]:
    scores = vectors @ vectors.T
    return {(a, b) for a in range(len(vectors)) for b in range(a + 1, len(vectors))
            if blocks[a] == blocks[b] and scores[a, b] >= threshold}


@pytest.mark.parametrize("cells", [1 << 24, 64, 1])  # one chunk; many chunks across blocks; a row at a time
def test_blocked_search_finds_every_pair_within_blocks(monkeypatch, cells):
    monkeypatch.setattr(semantic_duplicates, "CHUNK_CELLS", cells)
    vectors = unit_vectors(120)
    blocks = np.sort(np.random.default_rng(1).integers(0, 7, size=120))
    found = similar_pairs(vectors, 0.3, blocks)
    assert set(zip(found["a"].to_list(), found["b"].to_list())) == brute_force(vectors, blocks, 0.3)
    assert (found["similarity"] >= 0.3 - 1e-6).all()


def test_blocked_search_needs_adjacent_blocks():
    with pytest.raises(ValueError, match="ascending"):
        similar_pairs(unit_vectors(3), 0.5, np.array([0, 1, 0]))


def test_units_are_distinct_scope_and_text():
    keys = pl.Series(["PE", "PE", "MX", "PE"])
    texts = pl.Series(["hola", "hola", "hola", None])
    units = Units.of(keys, texts, order=[3, 1, 0, 2])
    assert len(units.rank) == 3 and units.of_row[0] == units.of_row[1] != units.of_row[2]
    assert units.texts.to_list() == ["hola", ""]  # one text, embedded once for both countries
    assert units.best_row[units.of_row[0]] == 1  # row 1 comes first in completeness order
    assert list(units.block) == sorted(units.block)


def test_a_founder_takes_only_the_neighbours_it_accepts():
    pairs = pl.DataFrame({"a": [0, 0, 1], "b": [1, 2, 2]})
    assert greedy_clusters(pairs, range(3), 3).to_list() == [0, 0, 0]
    refuses_two = greedy_clusters(pairs, range(3), 3, accept=lambda founder, candidates: candidates != 2)
    assert refuses_two.to_list() == [0, 0, 2]  # no chaining: 1 is a member, so 2 founds its own cluster


def test_possible_duplicates_judged_lazily_match_judging_every_pair():
    rng = np.random.default_rng(3)
    count = 40
    a, b = rng.integers(0, count, 300), rng.integers(0, count, 300)
    pairs = pl.DataFrame({"a": np.minimum(a, b), "b": np.maximum(a, b), "similarity": rng.random(300).round(2)}).filter(
        pl.col("a") != pl.col("b"))
    founder = pl.Series(rng.integers(0, 10, count) * (rng.random(count) < 0.5), dtype=pl.UInt32)  # clusters of rows 0-9
    founder = pl.Series(np.where(founder.to_numpy() == 0, np.arange(count), founder.to_numpy()), dtype=pl.UInt32)
    rank = pl.Series(rng.permutation(count), dtype=pl.Int64)
    passes = pl.Series(rng.random(pairs.height) < 0.3)
    judged = pairs.with_columns(passes=passes)

    def possible(batch: pl.DataFrame) -> pl.Series:
        return batch.join(judged, on=["a", "b", "similarity"], how="left", maintain_order="left").get_column("passes")

    expected = possible_duplicates(judged.filter("passes").drop("passes"), founder, rank)
    got = lazy_possible_duplicates(pairs, founder, rank, possible)
    assert got.sort("row").equals(expected.sort("row"))


def test_the_same_prompt_in_two_countries_is_embedded_once_and_kept_twice(tmp_path):
    frame = frame_of(pair(prompt="¿Qué se come en Navidad?", country="PE"), pair(prompt="¿Qué se come en Navidad?", country="MX"),
                     pair(prompt="¿Qué se come en Navidad?", country="PE"))
    result = SemanticDedupe(threshold=0.95, cache_dir=tmp_path, scope=["country"])(frame)
    assert result.stats["embeddings_computed"] == 1
    assert result.kept.height == 2 and result.removed.height == 1
    assert result.removed["similarity"][0] > 0.999  # the same vector

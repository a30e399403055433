"""Semantic duplicate clusters: cosine similarity of normalised embeddings above a threshold (faiss range
search, exact inner product), joined into clusters."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl



def similar_pairs(vectors: np.ndarray, threshold: float) -> pl.DataFrame:
    """(a, b, similarity) for every a < b whose cosine similarity is at least the threshold."""
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    limits, scores, neighbours = index.range_search(vectors, threshold)
    rows = np.repeat(np.arange(len(vectors)), np.diff(limits).astype(np.int64))
    pairs = pl.DataFrame({"a": rows, "b": neighbours, "similarity": scores}, schema={"a": pl.Int64, "b": pl.Int64, "similarity": pl.Float64})
    return pairs.filter(pl.col("a") < pl.col("b"))


def semantic_clusters(vectors: np.ndarray, threshold: float, order: list[int],
                      keep_pair: Callable[[pl.DataFrame], pl.DataFrame] = lambda p: p) -> list[int]:
    """Greedy star clusters: in `order` (best row first), each row not yet taken founds a cluster and takes
    its untaken neighbours. No chaining: every member is within the threshold of its founder, which
    single-linkage would not give on embeddings (A~B~C~... drifts to unrelated prompts)."""
    neighbours: dict[int, list[int]] = {}
    for a, b, _ in keep_pair(similar_pairs(vectors, threshold)).iter_rows():
        neighbours.setdefault(a, []).append(b)
        neighbours.setdefault(b, []).append(a)
    founder = [-1] * len(vectors)
    for row in order:
        if founder[row] == -1:
            founder[row] = row
            for neighbour in neighbours.get(row, ()):
                if founder[neighbour] == -1:
                    founder[neighbour] = row
    return founder


def cosine(vectors: np.ndarray, pairs: pl.DataFrame) -> pl.DataFrame:
    """(a, b, similarity) for the given pairs of rows."""
    a, b = pairs.get_column("a").to_numpy(), pairs.get_column("b").to_numpy()
    similarity = np.einsum("ij,ij->i", vectors[a], vectors[b]) if len(a) else np.zeros(0, dtype=np.float32)
    return pairs.with_columns(similarity=pl.Series(np.clip(similarity, -1.0, 1.0).astype(np.float64)).round(4))

"""Semantic duplicate pairs: cosine similarity of normalised embeddings above a threshold (faiss range
search, exact inner product)."""

from __future__ import annotations

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


def cosine(vectors: np.ndarray, pairs: pl.DataFrame) -> pl.DataFrame:
    """(a, b, similarity) for the given pairs of rows."""
    a, b = pairs.get_column("a").to_numpy(), pairs.get_column("b").to_numpy()
    similarity = np.einsum("ij,ij->i", vectors[a], vectors[b]) if len(a) else np.zeros(0, dtype=np.float32)
    return pairs.with_columns(similarity=pl.Series(np.clip(similarity, -1.0, 1.0).astype(np.float64)).round(4))

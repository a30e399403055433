"""Chosen-vs-rejected similarity: TF-IDF cosine of each pair's two answers, as the community's
analysis of v0 computed it (one vocabulary fit on every answer of the dataset)."""

from __future__ import annotations

import numpy as np
import polars as pl


def tfidf_similarity(frame: pl.DataFrame) -> pl.Series:
    """Per row, the cosine of the TF-IDF vectors of `chosen` and `rejected` (0 where one is empty)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    if frame.height == 0:
        return pl.Series("similarity", [], dtype=pl.Float64)
    chosen = frame.get_column("chosen").fill_null("").to_list()
    rejected = frame.get_column("rejected").fill_null("").to_list()
    # Rows come out L2-normalised, so the cosine of two rows is the sum of their elementwise product.
    vectors = TfidfVectorizer(dtype=np.float32).fit_transform(chosen + rejected)
    cosine = vectors[: frame.height].multiply(vectors[frame.height:]).sum(axis=1)
    return pl.Series("similarity", np.asarray(cosine).ravel().astype(np.float64))

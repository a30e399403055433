"""Near-duplicate clusters by MinHash LSH, vectorised in polars.

Texts become sets of hashed word n-grams; one-permutation MinHash (each shingle hash picks a bin by
its low bits and the bin keeps its minimum) gives a signature; rows sharing a band of the signature
are candidates; candidates are confirmed by their exact Jaccard similarity; confirmed pairs are joined
into clusters (union-find). Whole-column operations, not a Python loop per row as with datasketch.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

ROW = "row"


def shingles(texts: pl.Series, ngram: int) -> pl.DataFrame:
    """(row, shingle): the distinct hashed word n-grams of each text; a text shorter than n is one shingle."""
    words = (
        pl.DataFrame({"text": texts}).with_row_index(ROW)
        .select(ROW, pl.col("text").str.split(" ").alias("word")).explode("word")
        .filter(pl.col("word").is_not_null() & (pl.col("word") != ""))
        .with_columns(pl.col("word").hash(seed=17).alias("h"))
    )
    following = [pl.col("h").shift(-offset).over(ROW).alias(f"h{offset}") for offset in range(1, ngram)]
    grams = words.with_columns(following).filter(pl.all_horizontal(pl.col(f"h{o}").is_not_null() for o in range(1, ngram)))
    grams = grams.select(ROW, pl.struct("h", *[f"h{o}" for o in range(1, ngram)]).hash(seed=29).alias("shingle"))
    short_texts = words.group_by(ROW).agg(pl.col("h").hash(seed=31).alias("shingle"))  # fewer than n words
    short_texts = short_texts.join(grams.select(ROW).unique(), on=ROW, how="anti").select(ROW, pl.col("shingle").cast(pl.UInt64))
    return pl.concat([grams, short_texts]).unique()


def candidate_pairs(grams: pl.DataFrame, bins: int, band_size: int) -> pl.DataFrame:
    """(a, b) rows that share at least one band of their one-permutation MinHash signature."""
    signature = grams.group_by(ROW, (pl.col("shingle") % bins).alias("bin")).agg((pl.col("shingle") // bins).min().alias("value"))
    bands = signature.group_by(ROW, (pl.col("bin") // band_size).alias("band")).agg(
        pl.concat_list(pl.col("bin").sort_by("bin"), pl.col("value").sort_by("bin")).hash(seed=3).alias("band_hash")
    )
    buckets = bands.group_by("band", "band_hash").agg(pl.col(ROW).min().alias("a"), pl.col(ROW).alias("b"))
    # Each member links to its bucket's first row (a star, not every pair): linear in the bucket size.
    return buckets.explode("b").filter(pl.col("a") != pl.col("b")).select("a", "b").unique()


def jaccard(grams: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    """Exact Jaccard similarity of each (a, b) pair's shingle sets."""
    sizes = grams.group_by(ROW).len("size")
    shared = (
        pairs.join(grams, left_on="a", right_on=ROW)
        .join(grams, left_on=["b", "shingle"], right_on=[ROW, "shingle"])
        .group_by("a", "b").len("shared")
    )
    scored = pairs.join(shared, on=["a", "b"], how="left").with_columns(pl.col("shared").fill_null(0))
    scored = scored.join(sizes.rename({ROW: "a", "size": "size_a"}), on="a").join(sizes.rename({ROW: "b", "size": "size_b"}), on="b")
    union = pl.col("size_a") + pl.col("size_b") - pl.col("shared")
    return scored.select("a", "b", (pl.col("shared") / union).alias("similarity"))


def clusters(pairs: pl.DataFrame, rows: int) -> list[int]:
    """Union-find over confirmed pairs: the root row of each row's cluster."""
    parent = list(range(rows))

    def root(row: int) -> int:
        while parent[row] != row:
            parent[row] = parent[parent[row]]
            row = parent[row]
        return row

    for a, b in pairs.select("a", "b").iter_rows():
        root_a, root_b = root(a), root(b)
        if root_a != root_b:
            parent[max(root_a, root_b)] = min(root_a, root_b)
    return [root(row) for row in range(rows)]


def near_duplicate_clusters(texts: pl.Series, threshold: float, ngram: int = 2, bins: int = 64,
                            band_size: int = 4, keep_pair: Callable[[pl.DataFrame], pl.DataFrame] = lambda p: p) -> pl.DataFrame:
    """(row, cluster): rows whose texts are near duplicates (Jaccard >= threshold, chained) share a cluster id.

    `keep_pair` filters the candidate pairs first (e.g. to pairs of the same country).
    """
    grams = shingles(texts, ngram)
    pairs = jaccard(grams, keep_pair(candidate_pairs(grams, bins, band_size))).filter(pl.col("similarity") >= threshold)
    return pl.DataFrame({ROW: range(texts.len()), "cluster": clusters(pairs, texts.len())},
                        schema={ROW: pl.UInt32, "cluster": pl.UInt32})

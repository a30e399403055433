"""Near-duplicate pairs by MinHash LSH, vectorised in polars.

Texts become sets of hashed word n-grams; one-permutation MinHash (each shingle hash picks a bin by
its low bits and the bin keeps its minimum) gives a signature; rows of the same scope (country) that
share a band of the signature are candidates; candidates are confirmed by their exact Jaccard
similarity. Whole-column operations, not a Python loop per row as with datasketch.
"""

from __future__ import annotations

import polars as pl

ROW = "row"
# Buckets up to this size are compared pair by pair; a larger one links each member to its best row
# (see bucket_pairs), so that a bucket of thousands of rows stays linear.
ALL_PAIRS_MAX_BUCKET = 32
PAIRS_PER_PASS = 200_000


def shingles(texts: pl.Series, ngram: int) -> pl.DataFrame:
    """(row, shingle): the distinct hashed word n-grams of each text; a text shorter than n is one shingle."""
    words = (
        pl.DataFrame({"text": texts}).with_row_index(ROW)
        .select(ROW, pl.col("text").str.split(" ").alias("word")).explode("word")
        .filter(pl.col("word").is_not_null() & (pl.col("word") != ""))
        .with_columns(pl.col("word").hash(seed=17).alias("h"))
    )
    following = [f"h{offset}" for offset in range(1, ngram)]
    grams = words.with_columns(pl.col("h").shift(-offset).over(ROW).alias(f"h{offset}") for offset in range(1, ngram))
    if following:
        grams = grams.filter(pl.all_horizontal(pl.col(name).is_not_null() for name in following))
    grams = grams.select(ROW, pl.struct("h", *following).hash(seed=29).alias("shingle"))
    whole = words.group_by(ROW).agg(pl.col("word").str.join(" ")).select(ROW, pl.col("word").hash(seed=31).alias("shingle"))
    short_texts = whole.join(grams.select(ROW).unique(), on=ROW, how="anti")
    return pl.concat([grams, short_texts]).unique()


def buckets(grams: pl.DataFrame, scopes: pl.Series, bins: int, band_size: int) -> pl.DataFrame:
    """(bucket, row): rows of the same scope that share a band of their MinHash signature; buckets of 2+ rows."""
    signature = grams.group_by(ROW, (pl.col("shingle") % bins).alias("bin")).agg((pl.col("shingle") // bins).min().alias("value"))
    bands = signature.group_by(ROW, (pl.col("bin") // band_size).alias("band")).agg(
        pl.concat_list(pl.col("bin").sort_by("bin"), pl.col("value").sort_by("bin")).hash(seed=3).alias("band_hash")
    )
    scope_of = scopes.to_frame("scope").with_row_index(ROW)
    bucket = pl.struct("band", "band_hash", "scope").hash(seed=5).alias("bucket")
    members = bands.join(scope_of, on=ROW).select(bucket, ROW)
    return members.filter(pl.len().over("bucket") > 1)


def bucket_pairs(members: pl.DataFrame, rank: pl.Series | None = None) -> pl.DataFrame:
    """(a, b), a < b: every pair of a bucket of up to ALL_PAIRS_MAX_BUCKET rows; in a larger bucket, each
    row with the bucket's hub, its best row (lowest `rank`; default the row number), so that a bucket of
    thousands of rows stays linear. Rows a hub leaves alone get their turn in later passes (see
    NearDedupe), so a large cluster still comes together."""
    members = members.with_columns(pl.col(ROW).cast(pl.UInt32), size=pl.len().over("bucket"))
    small = members.filter(pl.col("size") <= ALL_PAIRS_MAX_BUCKET).select("bucket", ROW)
    all_pairs = small.join(small, on="bucket", suffix="_b").filter(pl.col(ROW) < pl.col(f"{ROW}_b"))
    large = members.filter(pl.col("size") > ALL_PAIRS_MAX_BUCKET)
    order = rank.gather(large.get_column(ROW)) if rank is not None else large.get_column(ROW)
    large = large.with_columns(_rank=order).with_columns(hub=pl.col(ROW).sort_by("_rank").first().over("bucket"))
    large = large.filter(pl.col(ROW) != pl.col("hub"))
    return pl.concat([
        all_pairs.select(pl.col(ROW).alias("a"), pl.col(f"{ROW}_b").alias("b")),
        large.select(pl.min_horizontal(ROW, "hub").alias("a"), pl.max_horizontal(ROW, "hub").alias("b")),
    ]).unique()


def candidate_pairs(grams: pl.DataFrame, scopes: pl.Series, bins: int, band_size: int,
                    rank: pl.Series | None = None) -> pl.DataFrame:
    """(a, b), a < b: rows of the same scope that share at least one band of their MinHash signature."""
    return bucket_pairs(buckets(grams, scopes, bins, band_size), rank)


def jaccard(grams: pl.DataFrame, pairs: pl.DataFrame, sizes: pl.DataFrame | None = None,
            at_least: float = 0.0) -> pl.DataFrame:
    """Exact Jaccard similarity of each (a, b) pair's shingle sets (`sizes`: each row's shingle count, if
    known). Pairs whose set sizes alone keep them under `at_least` (min/max < at_least) are left out."""
    pairs = pairs.select(pl.col("a").cast(pl.UInt32), pl.col("b").cast(pl.UInt32))
    sizes = sizes if sizes is not None else grams.group_by(ROW).len("size")
    if at_least > 0:
        sized = (pairs.join(sizes.rename({ROW: "a", "size": "size_a"}), on="a")
                 .join(sizes.rename({ROW: "b", "size": "size_b"}), on="b"))
        pairs = sized.filter(pl.min_horizontal("size_a", "size_b") >= at_least * pl.max_horizontal("size_a", "size_b")
                             ).select("a", "b")
    # A pass joins every shingle of each pair's first row: in slices, that join stays small on a big run.
    parts = [_jaccard_of(grams, sizes, part) for part in pairs.sort("a", "b").iter_slices(PAIRS_PER_PASS)]
    return pl.concat(parts) if parts else _jaccard_of(grams, sizes, pairs)


def _jaccard_of(grams: pl.DataFrame, sizes: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    rows = pl.concat([pairs.get_column("a"), pairs.get_column("b")]).unique()
    grams = grams.filter(pl.col(ROW).is_in(rows))  # the joins below then hash only this pass's rows
    shared = (
        pairs.join(grams, left_on="a", right_on=ROW)
        .join(grams, left_on=["b", "shingle"], right_on=[ROW, "shingle"])
        .group_by("a", "b").len("shared")
    )
    scored = pairs.join(shared, on=["a", "b"], how="left").with_columns(pl.col("shared").fill_null(0))
    scored = scored.join(sizes.rename({ROW: "a", "size": "size_a"}), on="a").join(sizes.rename({ROW: "b", "size": "size_b"}), on="b")
    union = pl.col("size_a") + pl.col("size_b") - pl.col("shared")
    return scored.select("a", "b", (pl.col("shared") / union).alias("similarity"))


def near_duplicate_pairs(texts: pl.Series, scopes: pl.Series, threshold: float, ngram: int = 2, bins: int = 64,
                         band_size: int = 4) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Confirmed pairs (a, b, similarity >= threshold), and the shingles to score other pairs with."""
    grams = shingles(texts, ngram)
    pairs = jaccard(grams, candidate_pairs(grams, scopes, bins, band_size))
    return pairs.filter(pl.col("similarity") >= threshold), grams

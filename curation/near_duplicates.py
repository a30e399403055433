"""Near-duplicate pairs by MinHash LSH, vectorised in numpy and polars.

Texts become sets of hashed word n-grams; one-permutation MinHash (each shingle hash picks a bin by
its low bits and the bin keeps the minimum of its high 32 bits) gives a uint32 signature; each band of
it is one uint64 key; texts of the same scope (country) with the same key for a band are candidates;
candidates are confirmed by their exact Jaccard similarity. Whole-array operations, no Python loop per
text as with datasketch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

ROW = "row"
# Buckets up to this size are compared pair by pair; a larger one links each member to its best row
# (see bucket_pairs), so that a bucket of thousands of rows stays linear.
ALL_PAIRS_MAX_BUCKET = 32
# Pairs scored at once: each pass expands every pair's shingles (about 20 per text, some 30 bytes each: 60 MB).
PAIRS_PER_PASS = 100_000
# Texts clustered at once: whole scopes packed into blocks of about this many texts (a larger scope is a block
# of its own), so that only one block's n-grams, signatures and pairs are held at a time (issue 14).
BLOCK_TEXTS = 32_768
EMPTY_BIN = np.iinfo(np.uint32).max
# The n-gram hash bits a MinHash signature reads: a key keeps them for up to 2^31 texts, so a text's signature
# (and its LSH buckets) is the same whether it is hashed with all the rows or with one Ray partition's.
SIGNATURE_BITS = 32
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every input bit moves every output bit (uint64 wrap-around is meant)."""
    with np.errstate(over="ignore"):
        values = (values ^ (values >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        values = (values ^ (values >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return values ^ (values >> np.uint64(31))


def _combine_hashes(first: np.ndarray, following: list[np.ndarray]) -> np.ndarray:
    """One hash of a sequence of hashes (order matters): each step mixes the running hash with the next."""
    folded = first
    with np.errstate(over="ignore"):
        for values in following:
            folded = _mix(folded * _GOLDEN + values)
    return folded


@dataclass(frozen=True)
class Shingles:
    """Each text's distinct hashed word n-grams in CSR form: text t's are keys[start[t]:start[t + 1]],
    ascending. A key is t << bits | the n-gram's hash cut to `bits` bits, so that one sorted int64 array
    answers "has text t this n-gram?" for any pair (see jaccard). With a million texts an n-gram hash
    keeps 43 bits: two n-grams of a pair are confused about once in 2^38 pairs. Signatures read only the
    hash's low SIGNATURE_BITS, which every key keeps, so they do not depend on the number of texts."""

    start: np.ndarray  # int64, one more than texts
    keys: np.ndarray  # int64, ascending
    bits: int

    @classmethod
    def of(cls, texts: pl.Series, ngram: int) -> Shingles:
        """A text's words are split on spaces; a text shorter than n words is one shingle of its words."""
        words = texts.fill_null("").str.split(" ").list.eval(pl.element().filter(pl.element() != ""))
        lengths = words.list.len().cast(pl.Int64).to_numpy()
        hashes = words.explode().drop_nulls().hash(seed=17).to_numpy()
        ends = np.repeat(np.cumsum(lengths), lengths)
        position = np.arange(len(hashes))
        short = np.repeat(lengths < ngram, lengths)
        starts = position == ends - np.repeat(lengths, lengths)
        keep = (position + ngram <= ends) | (starts & short)
        # A short text's missing words are 0: its one shingle never equals an n-gram of real words.
        following = [np.where(position + offset < ends, hashes[np.minimum(position + offset, len(hashes) - 1)], np.uint64(0))
                     for offset in range(1, ngram)]
        grams = _combine_hashes(hashes, following)[keep]
        del following, hashes, ends, position
        bits = 63 - max(len(lengths), 1).bit_length()
        if bits < SIGNATURE_BITS:
            raise ValueError(f"{len(lengths)} texts at once: near dedupe hashes at most 2^31 - 1 texts per call")
        text = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)[keep]
        keys = np.sort((text << bits) | (grams & np.uint64((1 << bits) - 1)).astype(np.int64))
        keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])]  # a repeated n-gram of one text counts once
        start = np.concatenate([[0], np.cumsum(np.bincount(keys >> bits, minlength=len(lengths)))])
        return cls(start=start, keys=keys, bits=bits)

    def __len__(self) -> int:
        return len(self.start) - 1

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.start)

    def signatures(self, bins: int) -> np.ndarray:
        """(texts, bins) uint32: one-permutation MinHash; EMPTY_BIN where no shingle of the text falls."""
        text = self.keys >> self.bits
        hashes = _mix((self.keys & ((1 << SIGNATURE_BITS) - 1)).astype(np.uint64))  # all 64 bits again
        signature = np.full((len(self), bins), EMPTY_BIN, dtype=np.uint32)
        np.minimum.at(signature, (text, (hashes % np.uint64(bins)).astype(np.int64)), (hashes >> np.uint64(32)).astype(np.uint32))
        return signature

    def jaccard(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Jaccard similarity of the shingle sets of texts a[i] and b[i], PAIRS_PER_PASS pairs at a time."""
        shared = np.zeros(len(a), dtype=np.int64)
        by_b = np.argsort(b, kind="stable")  # the lookups of one pass then fall in few, ascending places
        for at in range(0, len(a), PAIRS_PER_PASS):
            part = by_b[at:at + PAIRS_PER_PASS]
            shared[part] = self._shared(a[part], b[part])
        union = self.sizes[a] + self.sizes[b] - shared
        return np.divide(shared, union, out=np.ones(len(a)), where=union > 0)

    def _shared(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Shingles the texts have in common: each of a's keys, moved to b's (b << bits | hash), looked up
        in the sorted keys."""
        counts = self.sizes[a]
        pair = np.repeat(np.arange(len(a), dtype=np.int32), counts)
        index = np.arange(len(pair), dtype=np.int64)
        index -= np.repeat(np.cumsum(counts) - counts - self.start[a], counts)
        probe = self.keys[index]
        del index
        probe += np.repeat((b - a) << self.bits, counts)
        found = np.searchsorted(self.keys, probe)
        np.minimum(found, len(self.keys) - 1, out=found)
        return np.bincount(pair[self.keys[found] == probe], minlength=len(a))


def band_keys(signatures: np.ndarray, band_size: int) -> np.ndarray:
    """(texts, bands) uint64: one key per band of band_size bins; 0 for a band with no shingle at all
    (texts that share only emptiness are no candidates)."""
    texts, bins = signatures.shape
    bands = signatures[:, : bins - bins % band_size].reshape(texts, -1, band_size)
    keys = _combine_hashes(_mix(bands[:, :, 0].astype(np.uint64)), [bands[:, :, j].astype(np.uint64) for j in range(1, band_size)])
    keys[(bands == EMPTY_BIN).all(axis=2)] = 0
    return keys


def buckets(grams: Shingles, scopes: pl.Series, bins: int, band_size: int) -> pl.DataFrame:
    """(bucket, row): texts of the same scope that share a band's key; buckets of 2+ texts."""
    keys = band_keys(grams.signatures(bins), band_size)
    texts, bands = keys.shape
    scope = scopes.rank("dense").cast(pl.UInt32).to_numpy()
    members = pl.DataFrame({ROW: np.repeat(np.arange(texts, dtype=np.uint32), bands), "scope": np.repeat(scope, bands),
                            "band": np.tile(np.arange(bands, dtype=np.uint8), texts), "key": keys.ravel()})
    return (members.filter(pl.col("key") != 0).group_by("scope", "band", "key").agg(ROW)
            .filter(pl.col(ROW).list.len() > 1).select(ROW).with_row_index("bucket").explode(ROW))


def scope_blocks(scopes: pl.Series, size: int) -> list[np.ndarray]:
    """The positions of `scopes` in blocks of whole scopes, ascending within each block: scopes are taken
    in order and a block is closed once it holds `size` positions or more."""
    scope = scopes.rank("dense").cast(pl.Int64).to_numpy() - 1
    counts = np.bincount(scope)
    _, block = np.unique(((np.cumsum(counts) - counts) // size)[scope], return_inverse=True)
    order = np.argsort(block, kind="stable")
    return np.split(order, np.cumsum(np.bincount(block))[:-1])


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


def candidate_pairs(grams: Shingles, scopes: pl.Series, bins: int, band_size: int,
                    rank: pl.Series | None = None) -> pl.DataFrame:
    """(a, b), a < b: texts of the same scope that share at least one band of their MinHash signature."""
    return bucket_pairs(buckets(grams, scopes, bins, band_size), rank)


def jaccard(grams: Shingles, pairs: pl.DataFrame, at_least: float = 0.0) -> pl.DataFrame:
    """(a, b, similarity): the exact Jaccard similarity of each pair's shingle sets. Pairs whose set sizes
    alone keep them under `at_least` (min/max < at_least) are left out unscored."""
    a, b = (pairs.get_column(side).cast(pl.Int64).to_numpy() for side in ("a", "b"))
    if at_least > 0:
        size_a, size_b = grams.sizes[a], grams.sizes[b]
        fits = np.minimum(size_a, size_b) >= at_least * np.maximum(size_a, size_b)
        a, b = a[fits], b[fits]
    return pl.DataFrame({"a": a, "b": b, "similarity": grams.jaccard(a, b)})


def near_duplicate_pairs(texts: pl.Series, scopes: pl.Series, threshold: float, ngram: int = 2, bins: int = 64,
                         band_size: int = 4) -> tuple[pl.DataFrame, Shingles]:
    """Confirmed pairs (a, b, similarity >= threshold), and the shingles to score other pairs with."""
    grams = Shingles.of(texts, ngram)
    pairs = jaccard(grams, candidate_pairs(grams, scopes, bins, band_size), threshold)
    return pairs.filter(pl.col("similarity") >= threshold), grams

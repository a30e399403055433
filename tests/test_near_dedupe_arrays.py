"""Near dedupe's array core (issue 14): shingles as sorted int64 keys, uint32 MinHash signatures, uint64
band keys. Checked against plain Python sets of word n-grams."""

import random

import numpy as np
import polars as pl

from curation.near_duplicates import EMPTY_BIN, Shingles, band_keys, buckets, jaccard

WORDS = ["que", "comida", "preparas", "en", "tu", "casa", "de", "arequipa", "cuando", "llegan", "los", "primos"]


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    words = [word for word in text.split(" ") if word]
    if len(words) < n:
        return {tuple(words)} if words else set()
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def python_jaccard(one: str, other: str, n: int) -> float:
    a, b = ngrams(one, n), ngrams(other, n)
    return len(a & b) / len(a | b) if a | b else 1.0


def random_texts(count: int, seed: int) -> list[str]:
    """Texts of 0 to 14 words from a small vocabulary (repeated n-grams, shared n-grams), some with double spaces."""
    rng = random.Random(seed)
    texts = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 14))) for _ in range(count)]
    return [text.replace(" ", "  ", 1) if rng.random() < 0.2 else text for text in texts]


def test_jaccard_matches_python_sets_for_every_ngram_size():
    texts = random_texts(300, seed=1)
    rng = np.random.default_rng(2)
    a, b = rng.integers(0, len(texts), 2000), rng.integers(0, len(texts), 2000)
    for n in (1, 2, 3):
        grams = Shingles.of(pl.Series(texts), n)
        assert grams.sizes.tolist() == [len(ngrams(text, n)) for text in texts]
        expected = [python_jaccard(texts[i], texts[j], n) for i, j in zip(a.tolist(), b.tolist())]
        assert np.allclose(grams.jaccard(a, b), expected)


def test_a_short_text_is_one_shingle_never_equal_to_an_ngram():
    grams = Shingles.of(pl.Series(["paella", "paella", "paella valenciana", "", None]), 2)
    assert grams.sizes.tolist() == [1, 1, 1, 0, 0]
    assert grams.jaccard(np.array([0, 0]), np.array([1, 2])).tolist() == [1.0, 0.0]


def test_jaccard_leaves_out_pairs_whose_sizes_alone_keep_them_under_the_floor():
    texts = pl.Series(["a b c d e f g h i j", "a b c d e f g h i j k", "a b"])
    scored = jaccard(Shingles.of(texts, 2), pl.DataFrame({"a": [0, 0], "b": [1, 2]}), at_least=0.75)
    assert scored.select("a", "b").rows() == [(0, 1)] and scored["similarity"][0] == 0.9


def test_signatures_keep_each_bins_minimum_and_empty_bands_are_no_key():
    grams = Shingles.of(pl.Series(["que comida preparas en tu casa", "que comida preparas en tu casa", "arequipa"]), 2)
    signatures = grams.signatures(64)
    assert signatures.dtype == np.uint32 and (signatures[0] == signatures[1]).all()
    assert (signatures[2] != EMPTY_BIN).sum() == 1  # one shingle fills one bin
    keys = band_keys(signatures, 4)
    assert keys.dtype == np.uint64 and keys.shape == (3, 16)
    assert ((keys[2] == 0) == (signatures[2].reshape(16, 4) == EMPTY_BIN).all(axis=1)).all()
    assert (keys[0] == keys[1]).all()


def test_buckets_hold_texts_of_one_scope_that_share_a_band():
    texts = pl.Series(["que comida preparas en tu casa de arequipa"] * 3 + ["cuando llegan los primos"])
    members = buckets(Shingles.of(texts, 2), pl.Series(["PE", "PE", "CL", "PE"]), 64, 4)
    together = members.group_by("bucket").agg(pl.col("row").sort()).get_column("row").to_list()
    assert together and all(rows == [0, 1] for rows in together)

"""Near dedupe with large clusters (issue 14): more than ALL_PAIRS_MAX_BUCKET copies of one question must
still collapse to one row, within each scope, the kept row chosen the same way whatever the input order."""

import random

import polars as pl

from curation.near_duplicates import ALL_PAIRS_MAX_BUCKET
from curation.pipelines.near_dedupe import NearDedupe
from curation.testing import frame_of, pair

QUESTION = "¿Qué comida preparas en tu casa de Arequipa cuando llegan los primos para el aniversario de la ciudad?"
OTHER = "¿Qué comida preparas en tu casa de Arequipa cuando llegan los primos para la fiesta de la Virgen de Chapi?"
FILLERS = ["bueno", "pues", "hoy", "ahora", "porfa", "oye", "mira", "justo"]


def surface_copies(text: str, count: int, seed: int = 0) -> list[str]:
    """Copies differing only in case, accents and punctuation (one comparison key)."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        copy = text
        if rng.random() < 0.5:
            copy = copy.lower()
        if rng.random() < 0.5:
            copy = copy.replace("é", "e").replace("¿", "")
        if rng.random() < 0.5:
            copy = copy.rstrip("?") + rng.choice(["?", "??", "!", "..."])
        out.append(copy)
    return out


def filler_variants(text: str) -> list[str]:
    """Distinct texts: one filler word inserted at each position (each within 0.8 of the original)."""
    words = text.split(" ")
    return [" ".join(words[:position] + [filler] + words[position:]) for filler in FILLERS for position in range(1, len(words))]


def kept(rows: list[dict]) -> list[str]:
    return NearDedupe(threshold=0.8, scope=["country"])(frame_of(*rows)).kept["prompt"].to_list()


def test_forty_and_three_hundred_surface_copies_collapse_to_one():
    for count in (30, ALL_PAIRS_MAX_BUCKET + 8, 300):
        result = NearDedupe(threshold=0.8, scope=["country"])(frame_of(*[pair(prompt=t) for t in surface_copies(QUESTION, count)]))
        assert result.kept.height == 1, count
        assert result.removed["similarity"].min() == 1.0


def test_hundreds_of_distinct_variants_join_the_most_complete_row():
    rows = [pair(prompt=text) for text in filler_variants(QUESTION)]
    rows.append(pair(prompt=QUESTION, chosen=pair()["chosen"] + " Y de postre, mazamorra."))  # the most complete
    assert len(rows) > 4 * ALL_PAIRS_MAX_BUCKET
    result = NearDedupe(threshold=0.8, scope=["country"])(frame_of(*rows))
    assert result.kept["prompt"].to_list() == [QUESTION]
    assert result.removed["similarity"].min() >= 0.8


def test_several_large_clusters_sharing_buckets_stay_apart():
    rows = [pair(prompt=t) for t in surface_copies(QUESTION, 120, seed=1) + surface_copies(OTHER, 120, seed=2)]
    rows += [pair(prompt=t) for t in filler_variants(QUESTION)[:60] + filler_variants(OTHER)[:60]]
    rows += [pair(prompt=text, chosen=pair()["chosen"] + " Más.") for text in (QUESTION, OTHER)]
    assert sorted(kept(rows)) == sorted([QUESTION, OTHER])


def test_copies_in_two_countries_are_never_merged_across_scope():
    rows = [pair(prompt=t, country=c) for c in ("PE", "CL") for t in surface_copies(QUESTION, 200, seed=len(c))]
    result = NearDedupe(threshold=0.8, scope=["country"])(frame_of(*rows))
    assert sorted(result.kept["country"].to_list()) == ["CL", "PE"]
    removed = result.removed.join(result.kept.select(pl.col("id").alias("duplicate_of"), pl.col("country").alias("c")),
                                  on="duplicate_of")
    assert (removed["country"] == removed["c"]).all() and removed.height == 398


def test_the_kept_rows_do_not_depend_on_input_order():
    texts = surface_copies(QUESTION, 80, seed=3) + filler_variants(QUESTION)[:100] + surface_copies(OTHER, 50, seed=4)
    rows = [pair(prompt=text, chosen=pair()["chosen"] + " x" * (n % 7)) for n, text in enumerate(texts)]
    first = NearDedupe(threshold=0.8, scope=["country"])(frame_of(*rows)).kept["id"].sort().to_list()
    for seed in range(3):
        shuffled = rows[:]
        random.Random(seed).shuffle(shuffled)
        assert NearDedupe(threshold=0.8, scope=["country"])(frame_of(*shuffled)).kept["id"].sort().to_list() == first

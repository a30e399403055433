"""The template guard (near and semantic dedupe never merge texts whose meaning-carrying word differs)
and the borderline pairs that travel as a `possible_duplicate` warning instead of being dropped."""

import polars as pl
import pytest

from curation.clusters import template_guard
from curation.config import RunConfig
from curation.near_duplicates import near_duplicate_pairs
from curation.pipelines import default_pipeline
from curation.pipelines.near_dedupe import NearDedupe
from curation.pipelines.semantic_dedupe import SemanticDedupe
from curation.run import run_pipeline
from curation.testing import frame_of, pair

SLANG = "¿Qué significa la palabra '{}' cuando la dicen los jóvenes en la Ciudad de México en una plática entre amigos del barrio?"
FIESTAS = ("¿Cuáles son las fiestas de {} que más te gusta celebrar con tu familia y tus amigos del pueblo cuando llega "
           "el verano cada año?")
BASE = "¿Qué comida preparas en tu casa de Arequipa cuando llegan los primos para el aniversario de la ciudad?"
SEMANTIC = {"threshold": 0.95, "scope": ["country"]}


def guard(*texts: str) -> list[bool]:
    folded = pl.Series(texts).str.to_lowercase()
    pairs = pl.DataFrame({"a": [0] * (len(texts) - 1), "b": list(range(1, len(texts)))})
    return template_guard(folded, pairs).get_column("blocked").to_list()


def test_the_guard_blocks_substitutions_and_swaps_and_lets_perturbations_through():
    assert guard("que significa chido en mexico", "que significa neta en mexico", "que significa fresa en mexico") == [True, True]
    assert guard("fiestas de galicia", "fiestas de cataluna") == [True]
    assert guard("el gato y el raton", "el raton y el gato") == [True]
    assert guard("tienes 25 anos y vives en lima", "tienes 52 anos y vives en lima") == [True]
    assert guard("dado el siguiente termino drogos", "dado el siguiente termino e") == [True]  # "e" is a term here
    base = "que comida preparas en tu casa de arequipa cuando llegan los primos"
    assert guard(base, base.replace("preparas", "perparas"), base + " hoy", base.replace("en tu casa", "en casa"),
                 "bueno " + base, base.replace("comida", "comidas")) == [False] * 5


@pytest.mark.parametrize("words", [["chido", "neta", "fresa", "naco"]])
def test_near_dedupe_never_merges_a_template_family(words):
    texts = [SLANG.format(word) for word in words]
    folded = pl.Series([t.lower() for t in texts])
    unguarded, _ = near_duplicate_pairs(folded, pl.Series(["MX"] * len(texts)), threshold=0.8)
    assert unguarded.height > 0  # the frame alone would make them duplicates
    result = NearDedupe(threshold=0.8, scope=["country"])(frame_of(*[pair(prompt=t, country="MX") for t in texts]))
    assert result.removed.height == 0
    assert result.kept.filter(pl.col("warnings").list.contains("possible_duplicate")).height >= 1


def test_near_dedupe_guard_on_places_and_word_order():
    frame = frame_of(pair(prompt=FIESTAS.format("Galicia")), pair(prompt=FIESTAS.format("Cataluña")))
    assert NearDedupe(threshold=0.8)(frame).removed.height == 0
    fables = frame_of(pair(prompt="El gato y el ratón"), pair(prompt="El ratón y el gato"))
    assert NearDedupe(threshold=0.8, ngram=1)(fables).removed.height == 0
    assert NearDedupe(threshold=0.8, ngram=1, guard=False)(fables).removed.height == 1


def test_near_dedupe_still_merges_real_perturbations():
    variants = [BASE, BASE.lower(), BASE.replace("Qué", "Que").replace("í", "i"), BASE.replace("?", "").replace("¿", ""),
                BASE.replace("cuando", "bueno cuando"), BASE.replace("Arequipa", "Arequipa hoy")]
    result = NearDedupe(threshold=0.8)(frame_of(*[pair(prompt=text) for text in variants]))
    assert result.kept.height == 1
    # a typo, even in the slot word, is no other word (a longer text: one changed word costs two bigrams)
    typos = [FIESTAS.format("Galicia"), FIESTAS.format("Galcia"), FIESTAS.format("Galicia").replace("familia", "faimlia")]
    assert NearDedupe(threshold=0.8)(frame_of(*[pair(prompt=text) for text in typos])).kept.height == 1
    # on this short text a typo falls just under the threshold: kept, as a possible duplicate
    typo = NearDedupe(threshold=0.8)(frame_of(pair(prompt=BASE), pair(prompt=BASE.replace("preparas", "perparas"))))
    assert typo.kept["possible_duplicate_of"].null_count() == 1


def test_semantic_dedupe_guard(tmp_path):
    fables = frame_of(pair(prompt="El gato y el ratón"), pair(prompt="El ratón y el gato"))
    assert SemanticDedupe(cache_dir=tmp_path, **SEMANTIC)(fables).removed.height == 0
    assert SemanticDedupe(cache_dir=tmp_path, guard=False, **SEMANTIC)(fables).removed.height == 1
    places = frame_of(pair(prompt="Fiestas de Galicia"), pair(prompt="Fiestas de Cataluña"))
    assert SemanticDedupe(cache_dir=tmp_path, threshold=0.85, scope=["country"])(places).removed.height == 0
    same = frame_of(pair(prompt="¿De qué equipo de fútbol eres?"), pair(prompt="De que equipo de futbol eres"),
                    pair(prompt="¿de qué equipo de futbol eres?"))
    assert SemanticDedupe(cache_dir=tmp_path, **SEMANTIC)(same).kept.height == 1


def test_blocked_pairs_travel_as_possible_duplicates(tmp_path):
    frame = frame_of(pair(prompt="El gato y el ratón", chosen=pair()["chosen"] + " Más."), pair(prompt="El ratón y el gato"))
    result = SemanticDedupe(cache_dir=tmp_path, **SEMANTIC)(frame)
    flagged = result.kept.filter(pl.col("warnings").list.contains("possible_duplicate"))
    assert flagged["source"].to_list() == ["test:2"]  # the less complete row points to the other
    assert flagged["possible_duplicate_of"].to_list() == [result.kept["id"][0]]
    assert result.stats["possible_duplicate"] == 1


def test_pairs_just_under_the_threshold_are_possible_duplicates():
    longer = BASE.replace("?", " y qué bebidas sirves también?")
    texts = pl.Series([BASE.lower(), longer.lower()])
    similarity = near_duplicate_pairs(texts.str.replace_all(r"[^\w ]", ""), pl.Series(["CL", "CL"]), 0.0)[0]["similarity"][0]
    assert 0.75 <= similarity < 0.8
    result = NearDedupe(threshold=0.8)(frame_of(pair(prompt=BASE), pair(prompt=longer)))
    assert result.removed.height == 0
    assert result.kept.filter(pl.col("possible_duplicate_of").is_not_null()).height == 1
    assert NearDedupe(threshold=0.8, borderline=0)(frame_of(pair(prompt=BASE), pair(prompt=longer))).kept[
        "possible_duplicate_of"].null_count() == 2


def test_accepted_rows_always_have_the_possible_duplicate_column():
    config = RunConfig(name="x", input={"path": "x"}, dedupe={"semantic": {"enabled": False}})
    rows = [pair(prompt=SLANG.format(word), country="MX") for word in ("chido", "neta")] + [pair(prompt="¿Y el mole?")]
    accepted = run_pipeline(frame_of(*rows), default_pipeline(config)).accepted
    assert "possible_duplicate_of" in accepted.columns
    assert accepted["possible_duplicate_of"].null_count() == 2
    config = RunConfig(name="x", input={"path": "x"}, dedupe={"semantic": {"enabled": False}, "near": {"enabled": False}})
    assert "possible_duplicate_of" in run_pipeline(frame_of(*rows), default_pipeline(config)).accepted.columns

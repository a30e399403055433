"""Near (MinHash LSH) and semantic (embedding) duplicates: clusters, representative, similarity, scope, cache."""

import polars as pl

from curation.embeddings import EmbeddingCache
from curation.near_duplicates import near_duplicate_pairs
from curation.pipelines.near_dedupe import NearDedupe
from curation.pipelines.semantic_dedupe import SemanticDedupe
from curation.testing import frame_of, pair

BASE = "¿Qué comida preparas en tu casa de Arequipa cuando llegan los primos para el aniversario de la ciudad?"


def test_minhash_clusters_near_duplicates_and_not_different_texts():
    texts = pl.Series([
        "que comida preparas en tu casa de arequipa cuando llegan los primos para el aniversario de la ciudad",
        "que comida preparas en tu casa de arequipa cuando llegan los primos para el aniversario de la ciudad hoy",
        "cual es el mejor sitio para ver el carnaval de cadiz con ninos pequenos y abuelos",
    ])
    pairs, _ = near_duplicate_pairs(texts, pl.Series(["PE"] * 3), threshold=0.8)
    assert pairs.select("a", "b").rows() == [(0, 1)]


def test_one_word_prompts_and_unigram_shingles_work():
    frame = frame_of(pair(prompt="¿Paella?"), pair(prompt="Paella"), pair(prompt="¿Qué se come en Valencia un domingo?"))
    assert NearDedupe(threshold=0.8)(frame).removed["source"].to_list() == ["test:2"]
    assert NearDedupe(threshold=0.8, ngram=1)(frame).removed.height == 1


def test_scope_does_not_hide_pairs_of_the_same_country():
    rows = [pair(prompt=BASE, country="PE"), pair(prompt=BASE + " hoy", country="MX"),
            pair(prompt=BASE + " hoy mismo", country="MX")]  # not "hoy" / "ahora": the template guard tells those apart
    result = NearDedupe(threshold=0.8, scope=["country"])(frame_of(*rows))
    assert result.removed.height == 1 and result.removed["country"][0] == "MX"


def test_near_dedupe_does_not_chain_away_from_the_kept_row():
    words = BASE.split()
    chain = [" ".join(words[:-k] if k else words) + " " + " ".join(["hoy"] * k) for k in range(6)]
    result = NearDedupe(threshold=0.8)(frame_of(*[pair(prompt=text) for text in chain]))
    assert result.removed["similarity"].min() >= 0.8


def test_the_kept_row_does_not_depend_on_input_order():
    from curation.config import RunConfig
    from curation.pipelines import default_pipeline
    from curation.run import run_pipeline

    rows = [pair(prompt=BASE), pair(prompt=BASE.upper()), pair(prompt=BASE + " hoy"), pair(prompt="¿Y el rocoto relleno?")]
    config = RunConfig(name="x", input={"path": "x"}, dedupe={"semantic": {"enabled": False}})
    forward = run_pipeline(frame_of(*rows), default_pipeline(config)).accepted["id"].sort().to_list()
    backward = run_pipeline(frame_of(*reversed(rows)), default_pipeline(config)).accepted["id"].sort().to_list()
    assert forward == backward


def test_near_dedupe_keeps_the_most_complete_row_and_reports_similarity():
    frame = frame_of(
        pair(prompt=BASE, system_prompt=None),
        pair(prompt=BASE.replace("¿Qué", "Qué").replace("?", "") + " hoy", chosen=pair()["chosen"] + " Y chicha morada."),
        pair(prompt="¿Cómo se celebra la Virgen de la Candelaria en Puno con toda la familia?"),
    )
    result = NearDedupe(threshold=0.8, scope=["country"], persona=False)(frame)  # no persona: a role and none are one
    assert result.kept["source"].to_list() == ["test:2", "test:3"]  # has a system prompt and longer answers
    removed = result.removed.row(0, named=True)
    assert (removed["source"], removed["duplicate_of_source"], removed["reasons"]) == ("test:1", "test:2", ["near_duplicate_prompt"])
    assert 0.8 <= removed["similarity"] < 1


def test_the_same_question_for_another_country_is_not_a_duplicate():
    frame = frame_of(pair(prompt=BASE, country="PE"), pair(prompt=BASE + " hoy", country="MX"))
    assert NearDedupe(threshold=0.8, scope=["country"])(frame).removed.height == 0
    assert NearDedupe(threshold=0.8, scope=[])(frame).removed.height == 1


def test_semantic_dedupe_catches_rewordings_and_caches_embeddings(tmp_path):
    frame = frame_of(
        pair(prompt="¿De qué equipo de fútbol eres?"),
        pair(prompt="De que equipo de futbol eres"),
        pair(prompt="¿Qué se come en Navidad en Caracas?"),
    )
    stage = SemanticDedupe(threshold=0.95, cache_dir=tmp_path, scope=["country"])
    result = stage(frame)
    assert result.removed["reasons"].to_list() == [["semantic_duplicate"]]
    assert result.removed["similarity"][0] >= 0.95
    assert result.stats["embeddings_computed"] == 3
    again = SemanticDedupe(threshold=0.95, cache_dir=tmp_path, scope=["country"])(frame)
    assert again.stats["embeddings_computed"] == 0
    assert list((tmp_path / "embeddings" / "static-minilm").glob("part-*.parquet"))


def test_embedding_cache_returns_rows_in_input_order(tmp_path):
    cache = EmbeddingCache("static-minilm", tmp_path)
    first = cache.embed(["uno", "dos", "uno"])
    assert (first[0] == first[2]).all() and not (first[0] == first[1]).all()
    assert abs(float((first[0] ** 2).sum()) - 1) < 1e-3

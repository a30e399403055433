"""Near (MinHash LSH) and semantic (embedding) duplicates: clusters, representative, similarity, scope, cache."""

import polars as pl

from curation.embeddings import EmbeddingCache
from curation.near_duplicates import near_duplicate_clusters
from curation.pipelines.near_dedupe import NearDedupe
from curation.pipelines.semantic_dedupe import SemanticDedupe
from tests.conftest import frame_of, pair

BASE = "¿Qué comida preparas en tu casa de Arequipa cuando llegan los primos para el aniversario de la ciudad?"


def test_minhash_clusters_near_duplicates_and_not_different_texts():
    texts = pl.Series([
        "que comida preparas en tu casa de arequipa cuando llegan los primos para el aniversario de la ciudad",
        "que comida preparas en tu casa de arequipa cuando llegan los primos para el aniversario de la ciudad hoy",
        "cual es el mejor sitio para ver el carnaval de cadiz con ninos pequenos y abuelos",
    ])
    clusters = near_duplicate_clusters(texts, threshold=0.8)["cluster"].to_list()
    assert clusters[0] == clusters[1] != clusters[2]


def test_near_dedupe_keeps_the_most_complete_row_and_reports_similarity():
    frame = frame_of(
        pair(prompt=BASE, system_prompt=None),
        pair(prompt=BASE.replace("¿Qué", "Qué").replace("?", "") + " hoy", chosen=pair()["chosen"] + " Y chicha morada."),
        pair(prompt="¿Cómo se celebra la Virgen de la Candelaria en Puno con toda la familia?"),
    )
    result = NearDedupe(threshold=0.8, scope=["country"])(frame)
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

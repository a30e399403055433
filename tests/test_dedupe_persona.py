"""The persona is part of a row: exact, near and semantic dedupe only merge rows whose personas are
equivalent (system prompt folded, generic system prompts as none, persona columns)."""

import polars as pl

from curation.config import RunConfig
from curation.pipelines.exact_dedupe import ExactDedupe
from curation.pipelines.image_exact_dedupe import ImageExactDedupe
from curation.pipelines.image_near_dedupe import ImageNearDedupe
from curation.pipelines.near_dedupe import NearDedupe
from curation.pipelines.semantic_dedupe import SemanticDedupe
from curation.testing import frame_of, pair

VASCO = "Imagina que eres Vasco y tienes acento."
SEVILLANO = "Eres un hombre andaluz de Sevilla y tienes 56 años. Has trabajado en el campo durante toda tu vida."
ARENA_DEFAULT = ("Una conversación entre un usuario y un modelo de lenguaje. El modelo de lenguaje debe responder siempre "
                 "en español y proporcionar información verificada sin inventar datos.")
ARENA_ROLE = (ARENA_DEFAULT[:-1] + " y adaptarse, en lenguaje, léxico y cultura al rol asignado.")
BIRTHDAY_PERSONAS = [
    "Imagina que eres una persona española. Eres de genero femenino y de clase social alta.",
    "Imagina que eres una persona española. Eres de genero femenino y de clase social baja.",
    "Imagina que eres una persona española. Eres de genero masculino y de clase social alta.",
    "Imagina que eres una persona española. Eres de genero masculino y de clase social baja.",
    "Imagina que eres una persona española. Eres de genero masculino y de clase social media.",
]
FOOTBALL = "¿De qué equipo de fútbol eres?"
LONG = "¿Qué comida preparas en tu casa de Arequipa cuando llegan los primos para el aniversario de la ciudad?"


def test_exact_dedupe_keeps_the_same_question_under_two_personas():
    frame = frame_of(pair(prompt=FOOTBALL, system_prompt=VASCO, country="ES"),
                     pair(prompt=FOOTBALL, system_prompt=SEVILLANO, country="ES"))
    assert ExactDedupe(scope=["country"])(frame).removed.height == 0
    assert ExactDedupe(scope=["country"], persona=False)(frame).removed.height == 1


def test_a_deliberate_persona_contrast_survives_exact_dedupe():
    frame = frame_of(*[pair(prompt="¿Que plan harias para celebrar tu cumpleaños?", system_prompt=persona, country="ES")
                       for persona in BIRTHDAY_PERSONAS])
    assert ExactDedupe(scope=["country"])(frame).kept.height == 5


def test_the_same_persona_written_differently_is_one_persona():
    frame = frame_of(pair(prompt=FOOTBALL, system_prompt=SEVILLANO),
                     pair(prompt=FOOTBALL, system_prompt="  eres un hombre ANDALUZ de sevilla, y tienes 56 anos; has "
                          "trabajado en el campo durante toda tu vida"))
    assert ExactDedupe(scope=["country"])(frame).removed.height == 1


def test_no_system_prompt_and_the_arena_default_share_one_persona():
    frame = frame_of(pair(prompt=FOOTBALL, system_prompt=None), pair(prompt=FOOTBALL, system_prompt=ARENA_DEFAULT),
                     pair(prompt=FOOTBALL, system_prompt=ARENA_ROLE),
                     pair(prompt=FOOTBALL, system_prompt="Responde siempre en español, de forma breve."))
    result = ExactDedupe(scope=["country"])(frame)
    assert result.kept.height == 1


def test_a_role_after_the_arena_default_is_that_role():
    manchuela = "Eres una madre de un pueblo de la Manchuela, Castilla La Mancha, España."
    frame = frame_of(pair(prompt=FOOTBALL, system_prompt=ARENA_ROLE + " " + manchuela),
                     pair(prompt=FOOTBALL, system_prompt=manchuela),
                     pair(prompt=FOOTBALL, system_prompt=ARENA_DEFAULT))
    result = ExactDedupe(scope=["country"])(frame)
    assert result.removed.height == 1
    assert result.removed["system_prompt"][0] in (manchuela, ARENA_ROLE + " " + manchuela)


def test_persona_columns_are_part_of_the_persona():
    rows = [pair(prompt=FOOTBALL, edad="25", genero="Mujer"), pair(prompt=FOOTBALL, edad="60", genero="mujer"),
            pair(prompt=FOOTBALL, edad="25", genero="mujer ")]
    result = ExactDedupe(scope=["country"])(frame_of(*rows))
    assert sorted(result.kept["edad"].to_list()) == ["25", "60"]


def test_near_dedupe_keeps_variants_under_two_personas():
    frame = frame_of(pair(prompt=FOOTBALL, system_prompt=SEVILLANO, country="ES"),
                     pair(prompt="De que equipo de futbol eres?", system_prompt=VASCO, country="ES"),
                     pair(prompt=LONG, system_prompt=None), pair(prompt=LONG + " hoy", system_prompt=ARENA_DEFAULT))
    result = NearDedupe(threshold=0.8, scope=["country"])(frame)
    assert result.removed["source"].to_list() == ["test:3"]  # the two generic personas are one persona
    assert NearDedupe(threshold=0.8, scope=["country"], persona=False)(frame).removed.height == 2


def test_semantic_dedupe_keeps_variants_under_two_personas(tmp_path):
    frame = frame_of(pair(prompt=FOOTBALL, system_prompt=SEVILLANO, country="ES"),
                     pair(prompt="De que equipo de futbol eres", system_prompt=VASCO, country="ES"))
    assert SemanticDedupe(threshold=0.95, cache_dir=tmp_path, scope=["country"])(frame).removed.height == 0
    assert SemanticDedupe(threshold=0.95, cache_dir=tmp_path, scope=["country"], persona=False)(frame).removed.height == 1


def test_the_persona_setting_reaches_every_dedupe_stage():
    on = RunConfig(name="x", input={"path": "x"})
    off = RunConfig(name="x", input={"path": "x"}, dedupe={"persona": False})
    frame = frame_of(pair(prompt=FOOTBALL, system_prompt=VASCO), pair(prompt=FOOTBALL, system_prompt=SEVILLANO),
                     pair(prompt="De que equipo de futbol eres", system_prompt=VASCO))
    for stage in (ExactDedupe, NearDedupe, SemanticDedupe, ImageExactDedupe, ImageNearDedupe):
        assert stage.from_config(on).persona is not None and stage.from_config(off).persona is None
    assert ExactDedupe.from_config(on)(frame).removed.height == 0
    assert ExactDedupe.from_config(off)(frame).removed.height == 1


def test_the_persona_key_helper_column_never_leaks():
    frame = frame_of(pair(prompt=FOOTBALL, system_prompt=VASCO), pair(prompt=FOOTBALL, system_prompt=VASCO))
    result = ExactDedupe(scope=["country"])(frame)
    assert not [c for c in result.kept.columns + result.removed.columns if c.startswith("_")]
    assert isinstance(result.kept, pl.DataFrame) and result.removed.height == 1

"""Responses that do not answer (non_answer) and refusals phrased as abstention, in es/pt/ca/en.
Texts written for the test."""

import polars as pl
import pytest

from curation.config import FilterConfig
from curation.rules import default_rules

RULES = {rule.name: rule for rule in default_rules(FilterConfig(), tagged=False)}


def flags(rule_name: str, rejected: list[str]) -> list[bool]:
    frame = pl.DataFrame({"prompt": ["¿Qué opinas del mate?"] * len(rejected), "chosen": ["El mate se comparte en ronda."] * len(rejected),
                          "rejected": rejected})
    return frame.select(RULES[rule_name].flag()).to_series().to_list()


@pytest.mark.parametrize("text", [
    "¡Hola! Estoy listo para conversar sobre el mate y su papel en Uruguay. ¿Empezamos?",
    "¡Buenas! Dime qué aspecto del mate te interesa y te cuento.", "Dale, preguntá lo que quieras, che.",
    "Olá! Estou pronto para conversar sobre o chimarrão.", "Hola! Estic a punt per parlar del tema. Digues-me quin aspecte t'interessa.",
    "Hi! I'm ready to chat about mate.",
])
def test_a_short_reply_that_only_gets_ready_or_asks_back_is_a_non_answer(text):
    assert flags("non_answer_rejected", [text]) == [True]


def test_a_long_answer_that_opens_by_getting_ready_is_an_answer():
    text = "¡Claro! Estoy listo para contarte. " + "El mate se toma en ronda, con la misma bombilla, y quien ceba sirve a todos. " * 5
    assert flags("non_answer_rejected", [text, "El mate se toma en ronda y quien ceba sirve a todos."]) == [False, False]


@pytest.mark.parametrize("text", [
    "Entiendo la pregunta. Sin embargo, me abstengo de proporcionar información sobre ese tema.",
    "Me temo que no puedo proporcionar definiciones de esa jerga.", "Como asistente, no puedo generar ni promover ese contenido.",
    "Receio que não posso ajudar com isso.", "Em temo que no puc respondre aquesta pregunta.", "I'm afraid I can't help with that.",
])
def test_refusals_phrased_as_abstention_are_found(text):
    assert flags("refusal_rejected", [text]) == [True]


def test_an_answer_that_says_what_it_cannot_know_is_not_a_refusal():
    assert flags("refusal_rejected", ["El mate amargo no lleva azúcar; no puedo decirte cuál yerba es la mejor, depende del gusto."]) == [False]

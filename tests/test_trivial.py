"""The trivial_prompt rule's phrasing half: greetings and one-fact lookups in es/pt/ca, never a question
with cultural content or one that asks for an opinion. Prompts written for the test, not taken from data."""

import polars as pl
import pytest

from curation.config import FilterConfig
from curation.rules import default_rules
from curation.rules.trivial import trivial_phrasing

TRIVIAL = [
    "hola", "Hola que tal", "Buenas tardes!", "oi, tudo bem?", "Bon dia", "test",
    "¿Quién fue Simón Bolívar?", "quien invento el mate cocido", "¿Cuántos departamentos tiene Uruguay?",
    "¿Cuál es la moneda oficial de Bolivia?", "Nombra un río de Chile.", "Dime la universidad más grande de Quito",
    "¿En qué año se fundó Montevideo?", "¿Qué se celebra el 25 de mayo en Argentina?", "¿Cómo se llama el himno de Perú?",
    "Quem foi Tiradentes?", "Quantos estados tem o Brasil?", "Qual é a capital de Portugal?", "Em que ano nasceu Camões?",
    "Qui va ser Pompeu Fabra?", "Quants habitants té Girona?", "Quina és la capital de la Garrotxa?", "En quin any va néixer Gaudí?",
]
NOT_TRIVIAL = [
    "¿Cuál es el plato más típico de Arequipa y cuándo se come?", "Menciona un dicho uruguayo para la mala suerte.",
    "Nombra un barrio de Bogotá que consideres imprescindible para entender la ciudad.",
    "Hola, ¿cómo celebra tu familia la Nochebuena en Sevilla y qué no puede faltar en la mesa?",
    "¿Qué harías si un vecino te invita a un asado el domingo?", "¿Por qué en Chile se dice 'al tiro'?",
    "Qual é a tradição mais bonita do São João no Nordeste?", "Quin és el menjar típic de la Castanyada?",
    "Como reagiria um lisboeta se lhe pedissem um galão num café do Porto?",
    "¿Cuál es la forma correcta de saludar a una persona mayor en un pueblo de Oaxaca?",
]


@pytest.mark.parametrize("prompt", TRIVIAL)
def test_a_greeting_or_a_one_fact_lookup_is_trivial(prompt):
    assert pl.DataFrame({"prompt": [prompt]}).select(trivial_phrasing()).item()


@pytest.mark.parametrize("prompt", NOT_TRIVIAL)
def test_a_question_with_cultural_content_or_an_opinion_is_not(prompt):
    assert not pl.DataFrame({"prompt": [prompt]}).select(trivial_phrasing()).item()


def test_untagged_rows_are_judged_by_their_phrasing_alone():
    (rule,) = [rule for rule in default_rules(FilterConfig(), tagged=False) if rule.name == "trivial_prompt"]
    frame = pl.DataFrame({"prompt": ["¿Quién fue Rubén Darío?", "¿Qué plato típico comes en Semana Santa?"]})
    flagged = frame.with_columns(category=pl.lit(None, dtype=pl.String), category_confidence=pl.lit(None, dtype=pl.Float64))
    assert flagged.select(rule.flag()).to_series().to_list() == [True, False]

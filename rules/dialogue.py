"""A response that invents the rest of the conversation ("Usuario: ... Modelo de lenguaje: ..."):
the model would learn to write the user's turns itself."""

from __future__ import annotations

import polars as pl

from curation.config import FilterConfig
from curation.rules.rule import Rule, for_responses

TURN_LABEL = (
    r"(?im)^\s*\**\s*(?:usuario|user|usu[áa]rio|humano|human|asistente|assistant|assistent|"
    r"modelo de lenguaje|modelo de linguagem|model de llenguatge|ia|ai|bot)\s*\**\s*:"
)


def rules(config: FilterConfig) -> list[Rule]:
    return for_responses("simulated_dialogue", "response writes made-up conversation turns",
                         lambda column: pl.col(column).str.count_matches(TURN_LABEL) >= 2,
                         chosen="block", rejected="warn")

"""A response that does not answer: it only greets, says it is ready, or asks the user what they want
("¡Hola! Estoy listo para conversar sobre…", "Dime qué canción te interesa", "preguntá lo que quieras").

Judged on short responses only (under NON_ANSWER_MAX_CHARS): a long answer that opens with "¡Claro!
Estoy listo para ayudarte" goes on to answer. It warns on both sides: a short reply may still answer a
prompt that asks for a name ("¡Hola! Estoy listo. Conozco la leyenda de la Madre Monte."), so a
reviewer decides.
"""

from __future__ import annotations

import polars as pl

from curation.config import FilterConfig
from curation.rules.rule import Rule, for_responses
from curation.text import char_length, dfa_friendly

NON_ANSWER_MAX_CHARS = 300
# ASCII `\b` (dfa_friendly) does not end a word on an accented letter: those phrases end on a non-letter.
NON_ANSWER = dfa_friendly("(?i)" + "|".join([
    # es
    r"\best(?:oy|amos) list[oa]s? para\b", r"\bpregunt(?:a|á|ame) (?:lo que|todo lo que) quieras\b",
    r"\b(?:dime|d[íi]game|ind[íi]ca(?:me)?|cu[ée]ntame) (?:qu[ée]|cu[áa]l|sobre qu[ée]|de qu[ée])(?:[^\p{L}]|$)",
    r"\ben qu[ée] (?:te|le|les) puedo ayudar\b", r"\bqu[ée] (?:te gustar[íi]a|quieres|quer[ée]s) (?:saber|preguntar|que te)",
    # pt
    r"\bestou pront[oa] para\b", r"\bpergunte o que quiser\b", r"\b(?:diga|diz)-me (?:qual|que|o que|sobre)\b",
    r"\bem que (?:te |lhe )?posso ajudar\b",
    # ca
    r"\bestic a punt per\b", r"\bpregunta'm el que vulguis\b", r"\b(?:digues|explica)-me (?:quin|quina|qu[èe]|de qu[èe])(?:[^\p{L}]|$)",
    r"\ben qu[èe] et puc ajudar\b",
    # en
    r"\bi'?m ready to\b", r"\bask me anything\b", r"\bhow can i help you\b",
]))


def rules(config: FilterConfig) -> list[Rule]:
    def breaks(column: str) -> pl.Expr:
        return (char_length(column) < NON_ANSWER_MAX_CHARS) & pl.col(column).str.contains(NON_ANSWER)

    return for_responses("non_answer", f"under {NON_ANSWER_MAX_CHARS} characters and only greets, says it is ready "
                         "or asks the user back", breaks, chosen="warn", rejected="warn")

"""AI disclaimers ("como modelo de lenguaje", "no tengo una nacionalidad", "as an AI"), knowledge-cutoff
disclaimers ("hasta la fecha de corte de mi conocimiento", "no tengo acceso a información en tiempo
real") and refusals.

Phrases live in disclaimers.yaml. In a chosen response they block: DPO would teach the model to say
them. In a rejected response they only warn: rejecting a disclaimer is a useful signal. An AI
disclaimer breaks a persona where the system prompt or the prompt gives the model a role ("eres una
abuela de Cádiz", "imagina que eres") or asks for its own view ("¿cuál es tu plato favorito?"); under
a plain assistant ("Una conversación entre un usuario y un modelo de lenguaje", "eres un asistente")
"como modelo de lenguaje, no tengo opiniones" is the model speaking as itself, which the hand labels
do not count as a defect: the rule flags only the first; `<side>_ai_self_reference` is true on the second.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np
import polars as pl

from curation.config import FilterConfig
from curation.rules.rule import Rule, for_responses
from curation.safe_yaml import load_yaml
from curation.text import dfa_friendly

# A role given to the model: "eres/sos/ets/você é/you are" + a person, "imagina que eres", "actúa como",
# "en el papel de", "naciste en", "tienes 30 años". ASSISTANT_ROLE is taken out first: "eres un
# asistente útil" gives no persona to break.
ROLE = dfa_friendly(
    r"(?i)\b(?:eres|sos|ser[áa]s|ets|voc[êe] [ée]|tu [ée]s|you are|you're|act[úu]a como|actua com|atua como|act as|"
    r"finge|finja|pretend|imagina|imagine|ponte en|interpreta|en el papel de|no papel de|in the role of|role-?play|"
    r"naciste|nasceste|vas n[ée]ixer|tienes \d+ a[ñn]os|tens \d+ anys|tem \d+ anos|you were born)(?:[^\p{L}]|$)|"
    r"\beres de\b"
)
ASSISTANT_ROLE = dfa_friendly(
    r"(?i)\b(?:eres|ets|[ée]s|voc[êe] [ée]|you are|act[úu]a como|act as)\s+(?:un|una|um|uma|an?)?\s*(?:\w+\s+)?"
    r"(?:asistente|assistente|assistent|assistant|modelo|model|chatbot|bot|ia|ai|inteligencia|intel·lig[èe]ncia|intelig[êe]ncia)(?:[^\p{L}]|$)"
)

# The prompt asks for the model's own view or taste ("¿qué crees?", "tu plato favorito", "¿qué harías?"),
# or opens on the role it is to answer in ("Como artesano wayuu, describe…"): a disclaimer then breaks it.
OWN_VIEW = dfa_friendly(
    r"(?i)\b(?:crees|opinas|piensas|prefieres|te gusta|te gustar[íi]a|favorit[oa]s?|har[íi]as|te parece|consideras|sientes|"
    r"acha|achas|preferes|prefere|gosta|gostas|faria|creus|penses|prefereixes|t'agrada|faries|"
    r"do you think|your favou?rite|would you|do you like)(?-u:\b)|^\s*como\s+(?:un\s+|una\s+|um\s+|uma\s+)?[^\s,?¿]+(?:\s+[^\s,?¿]+){0,3},"
)

# Refusals are judged on the opening only: a refusal opens the answer, a caveat later on does not.
REFUSAL_OPENING_CHARS = 200


@cache
def phrase_patterns() -> dict[str, str]:
    """Kind (disclaimer, refusal) -> one case-insensitive regex joining every language's phrases."""
    text = resources.files("curation.rules").joinpath("disclaimers.yaml").read_text(encoding="utf-8")
    return {
        kind: dfa_friendly("(?i)" + "|".join(f"(?:{phrase})" for phrases in languages.values() for phrase in phrases))
        for kind, languages in load_yaml(text, "disclaimers.yaml").items()
    }


def role_given(texts: pl.DataFrame) -> pl.Series:
    """True where the system prompt or the prompt gives the model a persona, or the prompt asks for its own
    view or taste (`texts` has both columns)."""
    asking = pl.concat_str(pl.col("system_prompt").fill_null(""), pl.lit("\n"), pl.col("prompt").fill_null(""))
    return texts.select(asking.str.replace_all(ASSISTANT_ROLE, " ").str.contains(ROLE)
                        | pl.col("prompt").fill_null("").str.contains(OWN_VIEW)).to_series()


def _persona_break(batch: pl.Series) -> pl.Series:
    """Struct of the disclaimer flag and the self-reference flag (a disclaimer where no role was given). The disclaimer is read once, by the
    expression that feeds this, and the prompts only on the few rows that have one: polars would evaluate
    a masked expression, or a repeated one, on every row."""
    frame = batch.struct.unnest()
    found = frame.get_column("found").fill_null(False)
    rows = found.arg_true()
    role = np.zeros(frame.height, dtype=bool)
    if rows.len():
        role[rows.to_numpy()] = role_given(frame.select("system_prompt", "prompt")[rows]).fill_null(False).to_numpy()
    given = pl.Series(role)
    return pl.DataFrame({"flag": found & given, "self_reference": found & ~given}).to_struct()


def rules(config: FilterConfig) -> list[Rule]:
    patterns = phrase_patterns()

    # A disclaimer where a role was given breaks the persona and flags; one where none was (the model speaking
    # as itself, which the gold set does not count as a defect) is only marked in `<side>_ai_self_reference`,
    # for a steward who wants those rows out too.
    def persona_break(column: str) -> Rule:
        found = pl.struct(found=pl.col(column).str.contains(patterns["disclaimer"]), system_prompt="system_prompt",
                          prompt="prompt").map_batches(
            _persona_break, return_dtype=pl.Struct({"flag": pl.Boolean, "self_reference": pl.Boolean}))
        return Rule(f"ai_disclaimer_{column}", f"AI disclaimer breaking the role the prompt gives ({column} response)",
                    "block" if column == "chosen" else "warn", found, scores=(f"{column}_ai_self_reference",))

    return [
        persona_break("chosen"), persona_break("rejected"),
        *for_responses("cutoff_disclaimer", "knowledge-cutoff disclaimer (training data, cutoff date, no real-time access)",
                       lambda column: pl.col(column).str.contains(patterns["cutoff"]), chosen="block", rejected="warn"),
        *for_responses("refusal", "refusal to answer",
                       lambda column: pl.col(column).str.slice(0, REFUSAL_OPENING_CHARS).str.contains(patterns["refusal"]),
                       chosen="block", rejected="warn"),
    ]

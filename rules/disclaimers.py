"""AI disclaimers ("como modelo de lenguaje", "no tengo una nacionalidad", "as an AI") and refusals.

Phrases live in disclaimers.yaml. In a chosen response they block: DPO would teach the model to say
them. In a rejected response they only warn: rejecting a disclaimer is a useful signal.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import polars as pl

from curation.config import FilterConfig
from curation.rules.rule import Rule, for_responses
from curation.safe_yaml import load_yaml
from curation.text import dfa_friendly

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


def rules(config: FilterConfig) -> list[Rule]:
    patterns = phrase_patterns()
    return [
        *for_responses("ai_disclaimer", "AI disclaimer", lambda column: pl.col(column).str.contains(patterns["disclaimer"]),
                       chosen="block", rejected="warn"),
        *for_responses("refusal", "refusal to answer",
                       lambda column: pl.col(column).str.slice(0, REFUSAL_OPENING_CHARS).str.contains(patterns["refusal"]),
                       chosen="block", rejected="warn"),
    ]

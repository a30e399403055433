"""Truncated responses: cut mid-sentence (no closing punctuation) or mid-list (a bare marker or heading last).

A truncated chosen response blocks (the model would learn to stop mid-sentence); a truncated rejected
one warns, since the pair still says which answer is better.
"""

from __future__ import annotations

import polars as pl

from curation.config import FilterConfig
from curation.rules.rule import Rule, for_responses
from curation.text import dfa_friendly

# Trailing markdown emphasis and spaces are not an ending: "**Fin.**" ends with ".".
_TRAILING_DECORATION = r"[\s*_~`]+$"
# Sentence ends, closing quotes and brackets, a table row, emoji and other symbols.
_COMPLETE_ENDING = r"[.!?…)\]}\"'»”’|>\p{So}\p{Sk}\x{FE0F}\x{1F000}-\x{1FAFF}]$"
# The last line is a list marker or a heading with nothing after it.
_OPEN_LIST_OR_HEADING = r"(?m)(?:^\s*(?:\d+[.)]|[-*•+])\s*$|^\s*#{1,6}\s+[^\n]*$)\z"
# A last line that is a filled list item or a short sign-off ("Tu abuelo") needs no full stop.
_LIST_ITEM_OR_SIGN_OFF = r"(?m)(?:^\s*(?:\d+[.)]|[-*•+])\s+\S[^\n]*|\n[^\S\n]*(?:\S+[^\S\n]+){0,3}\S+)\z"


# A text that stops on an article, preposition or conjunction was cut, whatever its last line looks like.
_FUNCTION_WORD_END = (
    r"(?i)\b(?:y|e|o|u|ni|la|el|los|las|lo|un|una|unos|unas|de|del|al|a|en|con|por|para|que|como|pero|su|sus|mi|mis|"
    r"muy|m[aá]s|se|da|do|das|dos|na|no|nas|nos|em|com|um|uma|os|as|mas|i|amb|per|els|les|uns|unes)\s*$"
)


def truncated(column: str) -> pl.Expr:
    text = pl.col(column).str.replace(_TRAILING_DECORATION, "")
    open_ending = ~text.str.contains(_COMPLETE_ENDING)
    ends_mid_sentence = open_ending & (~text.str.contains(_LIST_ITEM_OR_SIGN_OFF) | text.str.contains(dfa_friendly(_FUNCTION_WORD_END)))
    ends_mid_list = pl.col(column).str.strip_chars_end().str.contains(_OPEN_LIST_OR_HEADING)
    return (text != "") & (ends_mid_sentence | ends_mid_list)


def rules(config: FilterConfig) -> list[Rule]:
    return for_responses("truncated", "response cut mid-sentence or mid-list", truncated,
                         chosen="block", rejected="warn")

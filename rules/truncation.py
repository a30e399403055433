"""Truncated responses: cut mid-clause or mid-list.

A missing final full stop alone is not a truncation: models often end a complete sentence, a list item,
a sign-off or an emoji without one ("...en conjuntos como el bunde y el currulao"). A text with no
closing punctuation is truncated only when what it ends on cannot end a sentence: an article,
preposition, conjunction or determiner ("de", "la", "y", "que", "con", "para", "los", "em", "amb"), a
conjunction and a connector ("y luego"), a comma, colon, semicolon, dash or opening bracket, an
unclosed bracket, quote or markdown bold on its last line; or when its last line is a bare list marker
or a heading. A cut mid-word that leaves a word ("...el currul") cannot be told from a complete one.

A truncated chosen response blocks (the model would learn to stop mid-sentence); a truncated rejected
one warns, since the pair still says which answer is better.
"""

from __future__ import annotations

import polars as pl

from curation.config import FilterConfig
from curation.rules.rule import Rule, for_responses

# Trailing markdown emphasis and spaces are not an ending: "**Fin.**" ends with ".".
_TRAILING_DECORATION = r"[\s*_~`]+$"
# Sentence ends, closing quotes and brackets, a table row, emoji and other symbols.
_COMPLETE_ENDING = r"[.!?…)\]}\"'»”’|>\p{So}\p{Sk}\x{FE0F}\x{1F000}-\x{1FAFF}]$"
# The last line is a list marker or a heading with nothing after it.
_OPEN_LIST_OR_HEADING = r"(?m)(?:^\s*(?:\d+[.)]|[-*•+])\s*$|^\s*#{1,6}\s+[^\n]*$)\z"

# Words no sentence ends on (es, pt, ca): articles, prepositions, conjunctions, determiners. Not "no"
# ("creo que no"), "más" ("nada más"), "bien", "cuando" ("de vez en cuando") or the single capital "I"
# ("Carlos I"): the one-letter words count in lower case only.
# A letter before the word (ASCII `\b` would split "caída" after the "í") means it is the end of another word.
_FUNCTION_WORD_END = (
    r"(?:^|[^\p{L}])(?:(?i:(?:ni|la|el|los|las|lo|un|una|unos|unas|de|del|al|en|con|por|para|que|como|pero|su|sus|mi|mis|tu|tus|"
    r"muy|se|sin|entre|hacia|desde|sobre|este|esta|estos|estas|esos|esas|cada|cuyo|cuya|aunque|porque|"
    r"da|do|das|dos|na|nas|nos|em|com|um|uma|os|as|mas|ao|aos|pelo|pela|pelos|pelas|num|numa|seu|sua|meu|minha|nem|ou|"
    r"amb|per|els|les|uns|unes|dels|pels|als))|[yeoaui])\s*$"
)
# A conjunction and a connector that announces more: "y luego", "e depois", "i després".
_CONNECTOR_END = (
    r"(?i)(?:^|[^\p{L}])(?:y|e|o|i|pero|mas|per[òo])\s+(?:luego|despu[ée]s|entonces|adem[áa]s|tambi[ée]n|depois|ent[ãa]o|tamb[ée]m|"
    r"despr[ée]s|llavors|tamb[ée])\s*$"
)
# Ends on a comma, colon, semicolon, dash or an opening bracket or quote: the clause goes on.
_OPEN_PUNCTUATION_END = r"[,:;\-–—(\[{“«¿¡]$"
# An unclosed bracket or curly/angle quote on the last line, an odd number of straight quotes or "**".
_UNCLOSED = r"\([^)\n]*\z|\[[^\]\n]*\z|“[^”\n]*\z|«[^»\n]*\z"


def _truncated(texts: pl.Series) -> pl.Series:
    """Whether each text ends mid-clause or mid-list. In steps, each kept as a column: one expression would
    recompute the stripped text and its ending test in every when/then branch that reads them (3x the time)."""
    steps = pl.DataFrame({"raw": texts}).with_columns(text=pl.col("raw").str.replace(_TRAILING_DECORATION, ""))
    steps = steps.with_columns(open_ending=~pl.col("text").str.contains(_COMPLETE_ENDING))
    # Only the texts with no closing punctuation are read further, and only their last 400 characters.
    steps = steps.with_columns(
        tail=pl.when("open_ending").then(pl.col("text").str.slice(-400)),
        raw_tail=pl.when("open_ending").then(pl.col("raw").str.strip_chars_end().str.slice(-400)),  # with its closing "**"
    ).with_columns(last_line=pl.col("raw_tail").str.extract(r"([^\n]*)\z"))
    tail, raw_tail, last_line = pl.col("tail"), pl.col("raw_tail"), pl.col("last_line")
    cut = (tail.str.contains(_FUNCTION_WORD_END) | tail.str.contains(_CONNECTOR_END) | tail.str.contains(_OPEN_PUNCTUATION_END)
           | raw_tail.str.contains(_UNCLOSED) | (last_line.str.count_matches(r"\*\*") % 2 == 1)
           | (last_line.str.count_matches('"') % 2 == 1))
    ends_mid_sentence = pl.col("open_ending") & cut.fill_null(False)
    ends_mid_list = pl.col("raw").str.strip_chars_end().str.contains(_OPEN_LIST_OR_HEADING)
    return steps.select((pl.col("text") != "") & (ends_mid_sentence | ends_mid_list)).to_series()


def truncated(column: str) -> pl.Expr:
    return pl.col(column).map_batches(_truncated, return_dtype=pl.Boolean)


def rules(config: FilterConfig) -> list[Rule]:
    return for_responses("truncated", "response cut mid-clause or mid-list", truncated,
                         chosen="block", rejected="warn")

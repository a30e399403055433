"""Normalise text: hidden characters (control characters, ANSI escapes, bidi overrides), Unicode NFC,
line ends and spaces, stray HTML markup. The stats count the texts that had each kind of hidden character.

The original of a text that changed stays in `<field>_raw` (null where nothing changed, which keeps a
million-row run in memory); `raw_text(field)` gives the original either way.
"""

from __future__ import annotations

from typing import Self

import polars as pl

from curation.config import RunConfig
from curation.schema import TEXT_FIELDS
from curation.stage import Stage, StageResult
from curation.text import HIDDEN, HIDDEN_CHARACTERS, nfc, own_copy

# Only tags of the kinds web scrapes and chat UIs leave behind; other angle brackets (code, "<3") stay.
_BREAK_TAGS = r"(?i)<br\s*/?>|</p\s*>|</div\s*>"
# Block and span tags only: "<b>" or "<i>" may be the subject of the text ("usa la etiqueta <b>").
_INLINE_TAGS = r"(?i)</?(?:p|div|span|font)(?:\s[^<>]*)?/?>"
_ENTITIES = {"&nbsp;": " ", "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'", "&apos;": "'"}
# Zero-width characters except the joiner U+200D, which emoji sequences need.
_ZERO_WIDTH = r"[\x{200B}\x{200C}\x{2060}\x{FEFF}\x{00AD}]"
# Tabs stay (code indentation); vertical tab, form feed and NEL separate words like a space.
_ODD_SPACES = r"[\x0B\x0C\x{0085}\x{00A0}\x{2000}-\x{200A}\x{202F}\x{205F}\x{3000}]"


class Normalise(Stage):
    name = "normalise"
    description = ("Hidden characters, Unicode NFC, whitespace and stray markup; the original of a changed text is kept "
                   "in <field>_raw.")
    row_local = True
    inputs = TEXT_FIELDS
    outputs = tuple(f"{field}_raw" for field in TEXT_FIELDS)

    def __init__(self, strip_markup: bool = True):
        self.strip_markup = strip_markup

    @classmethod
    def from_config(cls, config: RunConfig) -> Self:
        return cls(strip_markup=config.normalise.strip_markup)

    def clean(self, column: str, strip_hidden: bool) -> pl.Expr:
        text = pl.col(column).str.replace_all(HIDDEN, "") if strip_hidden else pl.col(column)
        text = nfc(text).str.replace_all(r"\r\n?", "\n")
        if self.strip_markup:
            text = text.str.replace_all(_BREAK_TAGS, "\n").str.replace_all(_INLINE_TAGS, "")
            text = text.str.replace_many(list(_ENTITIES), list(_ENTITIES.values()))
        text = text.str.replace_all(_ZERO_WIDTH, "").str.replace_all(_ODD_SPACES, " ")
        text = text.str.replace_all(r"(\S) {2,}", "$1 ").str.replace_all(r" +\n", "\n").str.replace_all(r"\n{3,}", "\n\n")
        return text.str.strip_chars()

    def process(self, frame: pl.DataFrame) -> StageResult:
        hidden = hidden_counts(frame)
        # Removing costs a pass over every text: skipped in the usual batch, which has nothing to remove.
        strip_hidden = any(hidden.values())
        cleaned = frame.with_columns(self.clean(field, strip_hidden).alias(f"_clean_{field}") for field in TEXT_FIELDS)
        # An empty system prompt is no system prompt.
        cleaned = cleaned.with_columns(_clean_system_prompt=pl.when(pl.col("_clean_system_prompt") != "").then("_clean_system_prompt"))
        changes = {field: pl.col(f"_clean_{field}").ne_missing(pl.col(field)) for field in TEXT_FIELDS}
        stats = cleaned.select(change.sum().alias(f"changed_{field}") for field, change in changes.items()).row(0, named=True)
        stats |= hidden
        # Normalising twice keeps the first original.
        originals = [own_copy(pl.when(change).then(pl.col(field))) for field, change in changes.items()]
        originals = [pl.coalesce(pl.col(f"{field}_raw"), original).alias(f"{field}_raw") if f"{field}_raw" in frame.columns
                     else original.alias(f"{field}_raw") for field, original in zip(TEXT_FIELDS, originals)]
        cleaned = cleaned.with_columns(originals).with_columns(
            pl.col(f"_clean_{field}").alias(field) for field in TEXT_FIELDS
        ).drop(f"_clean_{field}" for field in TEXT_FIELDS)
        return StageResult(cleaned, self.nothing_removed(cleaned), stats)


def hidden_counts(frame: pl.DataFrame) -> dict[str, int]:
    """Texts that had each kind of hidden character, e.g. {"texts_with_bidi_controls": 2}: one pass over
    the texts finds the few rows with any, and only those are searched for each kind."""
    suspects = frame.select(TEXT_FIELDS).filter(pl.any_horizontal(pl.col(field).str.contains(HIDDEN) for field in TEXT_FIELDS))
    texts, counts = [pl.col(field) for field in TEXT_FIELDS], []
    for kind, pattern in HIDDEN_CHARACTERS.items():
        counts.append(pl.sum_horizontal(text.str.contains(pattern).fill_null(False) for text in texts).sum().alias(f"texts_with_{kind}"))
        # Each kind is searched for without the ones before it: the BEL that ends an escape sequence is
        # part of the sequence, not a control character of its own.
        texts = [text.str.replace_all(pattern, "") for text in texts]
    return suspects.select(counts).row(0, named=True)

"""Evidence lexicons a linguist edits (YAML) and the whole-column tagger that applies them.

A lexicon file maps a language code (or `phrases`, for every language) to groups of words or phrases,
each group with an evidence kind, a weight and the labels it points to (varieties, registers or
cultural dimensions). A text's label is the one with the highest total weight; a tie gives
"undetermined" with the tied labels as candidates; the matched words are kept as evidence.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

import polars as pl

from curation.safe_yaml import load_yaml
from curation.text import dfa_friendly, fold_accents

UNDETERMINED = "undetermined"
ANY_LANGUAGE = "phrases"


def fold(text: str) -> str:
    """Lowercase, accents removed: how entries and texts are compared."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def folded(column: str) -> pl.Expr:
    # Typographic apostrophes match the lexicon's straight ones ("l’origen" = "l'origen").
    return fold_accents(pl.col(column).str.to_lowercase()).str.replace_all("[’‘]", "'")


def _alternative(entry: str) -> str:
    """A whole-word regex for one entry: word boundaries only where the entry starts or ends with a letter."""
    body = r"\s+".join(re.escape(word) for word in entry.split())
    start = r"\b" if entry[0].isalnum() else ""
    end = r"\b" if entry[-1].isalnum() else ""
    return start + body + end


@dataclass(frozen=True)
class Lexicon:
    name: str
    entries: pl.DataFrame  # language, key (folded entry), kind, weight, label
    patterns: dict[str, str]  # language -> one regex matching any of its entries

    @classmethod
    def load(cls, file_name: str) -> Lexicon:
        return _load(file_name)


@cache
def _load(file_name: str) -> Lexicon:
    text = resources.files("curation.data").joinpath(file_name).read_text(encoding="utf-8")
    rows = []
    for language, groups in load_yaml(text, f"lexicon {file_name}").items():
        for group in groups:
            for entry in group["words"]:
                for label in group["varieties"]:
                    rows.append({"language": language, "key": " ".join(fold(str(entry)).split()),
                                 "kind": group["kind"], "weight": int(group.get("weight", 1)), "label": label})
    entries = pl.DataFrame(rows).unique(maintain_order=True)
    patterns = {}
    for language, keys in entries.group_by("language", maintain_order=True).agg(pl.col("key").unique()).iter_rows():
        # Longest first, so a phrase wins over a word it starts with.
        ordered = sorted(keys, key=len, reverse=True)
        patterns[language] = dfa_friendly("|".join(_alternative(key) for key in ordered))
    return Lexicon(file_name, entries, patterns)


def tag(frame: pl.DataFrame, column: str, lexicon: Lexicon, language_column: str | None, prefix: str) -> pl.DataFrame:
    """Add <prefix> (label), <prefix>_score (its weight), <prefix>_candidates and <prefix>_evidence ("kind:word")."""
    text = folded(column)
    matched = pl.lit(None, dtype=pl.List(pl.String))
    for language, pattern in lexicon.patterns.items():
        applies = pl.lit(True) if language == ANY_LANGUAGE or language_column is None else pl.col(language_column) == language
        matched = pl.when(applies).then(text.str.extract_all(pattern)).otherwise(matched)
    language = pl.col(language_column) if language_column and ANY_LANGUAGE not in lexicon.patterns else pl.lit(ANY_LANGUAGE)
    rows = frame.select(matched.alias("_matched"), language.alias("language")).with_row_index("_row")
    hits = (
        rows.explode("_matched").drop_nulls("_matched")
        .with_columns(key=pl.col("_matched").str.replace_all(r"\s+", " "))
        .join(lexicon.entries, on=["language", "key"])
    )
    scores = hits.group_by("_row", "label").agg(pl.col("weight").sum().alias("score"))
    best = scores.filter(pl.col("score") == pl.col("score").max().over("_row")).group_by("_row").agg(
        pl.col("label").sort().alias("candidates"), pl.col("score").first())
    evidence = hits.group_by("_row").agg(pl.format("{}:{}", "kind", "key").unique(maintain_order=True).alias("evidence"))
    labelled = rows.select("_row").join(best, on="_row", how="left").join(evidence, on="_row", how="left").sort("_row")
    return frame.with_columns(
        labelled.select(
            pl.when(pl.col("candidates").list.len() == 1).then(pl.col("candidates").list.first())
            .otherwise(pl.lit(UNDETERMINED)).alias(prefix),
            pl.col("score").fill_null(0).alias(f"{prefix}_score"),
            pl.col("candidates").fill_null([]).alias(f"{prefix}_candidates"),
            pl.col("evidence").fill_null([]).alias(f"{prefix}_evidence"),
        )
    )


TAGGED_FIELDS = ("prompt", "chosen", "rejected")


def tag_columns(label: str) -> tuple[str, ...]:
    """The columns `tag_fields` adds for a label: <field>_<label>, _score, _candidates, _evidence."""
    return tuple(f"{field}_{label}{suffix}" for field in TAGGED_FIELDS for suffix in ("", "_score", "_candidates", "_evidence"))


def tag_fields(frame: pl.DataFrame, lexicon: Lexicon, label: str) -> pl.DataFrame:
    """Tag prompt, chosen and rejected, each matched against its own language's entries."""
    for field in TAGGED_FIELDS:
        frame = tag(frame, field, lexicon, f"{field}_lang", f"{field}_{label}")
    return frame

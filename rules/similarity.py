"""Chosen identical or near-identical to rejected: the pair teaches nothing."""

from __future__ import annotations

import polars as pl

from curation.config import FilterConfig
from curation.rules.rule import Rule
from curation.text import comparison_key


def word_jaccard(left: pl.Expr, right: pl.Expr) -> pl.Expr:
    """Jaccard similarity of the two texts' sets of words."""
    left_words, right_words = left.str.split(" ").list.unique(), right.str.split(" ").list.unique()
    shared = left_words.list.set_intersection(right_words).list.len()
    return shared / left_words.list.set_union(right_words).list.len()


def rules(config: FilterConfig) -> list[Rule]:
    chosen, rejected = comparison_key("chosen"), comparison_key("rejected")
    same = (chosen == rejected) | (word_jaccard(chosen, rejected) >= config.near_identical_jaccard)
    return [
        Rule("chosen_same_as_rejected",
             f"chosen and rejected identical or near-identical (word Jaccard >= {config.near_identical_jaccard})",
             "block", same & (chosen != "")),
    ]

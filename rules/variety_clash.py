"""A response whose national variety clashes with the prompt's country (a Mexican prompt answered with
vosotros and "ordenador"). Judged only where the lexicon knows the country's variety and the evidence
is strong enough."""

from __future__ import annotations

import polars as pl

from curation.config import FilterConfig
from curation.lexicon import Lexicon
from curation.rules.rule import Rule, for_responses


def rules(config: FilterConfig, varieties_lexicon: str = "varieties.yaml") -> list[Rule]:
    """`varieties_lexicon`: the one the variety tags were made with (the run's tagging setting)."""
    known = Lexicon.load(varieties_lexicon).entries.get_column("label").unique().to_list()

    def clash(column: str) -> pl.Expr:
        expected = pl.format("{}-{}", pl.col(f"{column}_lang"), pl.col("country"))
        judged = expected.is_in(known) & (pl.col(f"{column}_variety_score") >= config.min_variety_score)
        return judged & ~pl.col(f"{column}_variety_candidates").list.contains(expected)

    return for_responses("variety_clash", "response variety clashes with the prompt's country", clash,
                         chosen="warn", rejected="warn",
                         requires=lambda side: (f"{side}_lang", f"{side}_variety_score", f"{side}_variety_candidates"))

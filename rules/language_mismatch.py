"""A response in another language than its prompt (both identified with confidence)."""

from __future__ import annotations

import polars as pl

from curation.config import FilterConfig
from curation.rules.rule import Rule, for_responses


def rules(config: FilterConfig) -> list[Rule]:
    sure = config.min_language_score

    def mismatch(column: str) -> pl.Expr:
        confident = (pl.col("prompt_lang_score") >= sure) & (pl.col(f"{column}_lang_score") >= sure)
        return confident & (pl.col(f"{column}_lang") != pl.col("prompt_lang"))

    return for_responses("language_mismatch", "response language differs from the prompt's", mismatch,
                         chosen="block", rejected="warn")

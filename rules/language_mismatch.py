"""A response in another language than its prompt (both identified with confidence).

A warning, not a block: in the arena data a persona sometimes answers a Spanish question in Galician
or Catalan on purpose, and a one-line prompt ("La cigarra y la hormiga") is easy to misread.
"""

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
                         chosen="warn", rejected="warn")

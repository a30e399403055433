"""Extreme chosen/rejected length ratio: DPO then learns length rather than quality (warn). The ratio
(longer over shorter, in characters) stays in the `length_ratio` column."""

from __future__ import annotations

import polars as pl

from curation.config import FilterConfig
from curation.rules.rule import Rule
from curation.text import char_length


def rules(config: FilterConfig) -> list[Rule]:
    chosen, rejected = char_length("chosen"), char_length("rejected")
    # Only a pair has a ratio: a chosen answer without a rejected one (a KTO-style row) is not "longer" than it.
    ratio = pl.when(pl.col("chosen").is_not_null() & pl.col("rejected").is_not_null()).then(
        pl.max_horizontal(chosen, rejected) / pl.min_horizontal(chosen, rejected).clip(lower_bound=1))
    return [
        Rule("length_ratio_extreme", f"one response over {config.max_length_ratio:g} times longer than the other",
             "warn", pl.struct(flag=ratio > config.max_length_ratio, length_ratio=ratio.round(3)),
             scores=("length_ratio",)),
    ]

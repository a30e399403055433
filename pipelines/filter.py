"""Apply the filter rules: blocking rules quarantine a row with every reason; warnings travel with it."""

from __future__ import annotations

import polars as pl

from curation.rules.rule import Rule
from curation.schema import TEXT_FIELDS, Status
from curation.stage import Stage, StageResult


def _names_where_true(rules: list[Rule]) -> pl.Expr:
    """The list of rule names whose flag column is true on the row."""
    if not rules:
        return pl.lit([], dtype=pl.List(pl.String))
    return pl.concat_list(pl.when(pl.col(rule.column)).then(pl.lit(rule.name)) for rule in rules).list.drop_nulls()


def with_raw_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Rules that read the original text (mojibake) find <field>_raw even when normalise did not run."""
    return frame.with_columns(pl.lit(None, dtype=pl.String).alias(f"{field}_raw")
                              for field in TEXT_FIELDS if f"{field}_raw" not in frame.columns)


class Filter(Stage):
    name = "filter"
    description = "Rules as polars expressions: block quarantines with reasons, warn annotates."
    row_local = True
    inputs = ("prompt", "chosen", "rejected", "system_prompt")
    outputs = ("warnings",)

    def __init__(self, rules: list[Rule]):
        self.rules = rules

    def process(self, frame: pl.DataFrame) -> StageResult:
        unnormalised = [f"{field}_raw" for field in TEXT_FIELDS if f"{field}_raw" not in frame.columns]
        flags = [rule.column for rule in self.rules] + unnormalised
        flagged = with_raw_text(frame)
        for rule in self.rules:  # one at a time: each rule's temporary copies of the texts are freed before the next
            flagged = flagged.with_columns(rule.flag())
        stats = flagged.select(pl.col(rule.column).sum().alias(rule.name) for rule in self.rules).row(0, named=True) if self.rules else {}
        blocking = [rule for rule in self.rules if rule.severity == "block"]
        warning = [rule for rule in self.rules if rule.severity == "warn"]
        flagged = flagged.with_columns(_blocked_by=_names_where_true(blocking), warnings=_names_where_true(warning))
        is_blocked = pl.col("_blocked_by").list.len() > 0
        kept = flagged.filter(~is_blocked).drop(*flags, "_blocked_by")
        removed = self.leave(flagged.filter(is_blocked), Status.QUARANTINED, pl.col("_blocked_by")).drop(*flags, "_blocked_by")
        return StageResult(kept, removed, stats)

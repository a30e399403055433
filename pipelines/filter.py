"""Apply the filter rules: blocking rules quarantine a row with every reason; warnings travel with it."""

from __future__ import annotations

from typing import Self

import polars as pl

from curation.config import RunConfig
from curation.pipelines.image_pipeline import image_rules, text_filters
from curation.rules import default_rules
from curation.rules.pack import load_packs
from curation.rules.rule import Rule, flag_columns
from curation.schema import TEXT_FIELDS, Status
from curation.stage import Stage, StageResult


def _names_where_true(rules: list[Rule]) -> pl.Expr:
    """The list of rule names whose flag column is true on the row."""
    if not rules:
        return pl.lit([], dtype=pl.List(pl.String))
    return pl.concat_list(pl.when(pl.col(rule.column)).then(pl.lit(rule.name)) for rule in rules).list.drop_nulls()


def absent_columns(frame: pl.DataFrame, rules: list[Rule]) -> list[str]:
    """Columns the rules read that the frame lacks: each is read as all null. That covers <field>_raw
    when normalise did not run, and a pack's optional columns (modelo_gen on seed data)."""
    read = {column for rule in rules for column in rule.columns} | {f"{field}_raw" for field in TEXT_FIELDS}
    return sorted(read - set(frame.columns))


class Filter(Stage):
    name = "filter"
    description = "Rules as polars expressions: block quarantines with reasons, warn annotates."
    row_local = True
    inputs = ("prompt", "chosen", "rejected", "system_prompt")
    outputs = ("warnings",)

    def __init__(self, rules: list[Rule]):
        self.rules = rules
        # The tags the rules read are inputs too: a filter without the stages that make them fails its check.
        self.inputs = (*Filter.inputs, *dict.fromkeys(column for rule in rules for column in rule.requires))

    @classmethod
    def from_config(cls, config: RunConfig) -> Self:
        """The built-in rules with the config's settings, an image run's image rules, and the packs' row rules."""
        built_in = default_rules(text_filters(config), tagged=config.tagging.enabled,
                                 varieties_lexicon=config.tagging.varieties_lexicon)
        return cls(built_in + image_rules(config) + [rule for pack in load_packs(config.gate.packs) for rule in pack.rules()])

    def process(self, frame: pl.DataFrame) -> StageResult:
        absent = absent_columns(frame, self.rules)
        flags = [rule.column for rule in self.rules] + absent
        flagged = frame.with_columns(pl.lit(None, dtype=pl.String).alias(column) for column in absent)
        # All rules in one lazy context: polars runs them on every core, and its lazy engine frees each rule's
        # temporary copies of the texts sooner than the eager one (50k rows: peak ~500 MB, against ~620 MB one
        # rule at a time). Without common-subexpression elimination, which finds little here and keeps its
        # cached columns alive.
        flagged = flag_columns(flagged.lazy(), self.rules).collect(
            optimizations=pl.QueryOptFlags(comm_subexpr_elim=False))
        stats = flagged.select(pl.col(rule.column).sum().alias(rule.name) for rule in self.rules).row(0, named=True) if self.rules else {}
        blocking = [rule for rule in self.rules if rule.severity == "block"]
        warning = [rule for rule in self.rules if rule.severity == "warn"]
        flagged = flagged.with_columns(_blocked_by=_names_where_true(blocking), warnings=_names_where_true(warning))
        is_blocked = pl.col("_blocked_by").list.len() > 0
        kept = flagged.filter(~is_blocked).drop(*flags, "_blocked_by")
        removed = self.leave(flagged.filter(is_blocked), Status.QUARANTINED, pl.col("_blocked_by")).drop(*flags, "_blocked_by")
        return StageResult(kept, removed, stats)

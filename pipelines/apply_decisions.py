"""The steward's decisions (curation/decisions.py), applied after the automatic stages and before the split.

A decision first takes back rows an automatic stage removed: `keep` returns a quarantined row (the rules
it broke stay as warnings), and `not_duplicate_of` a duplicate of that very row. Then, on the rows in the
flow: `quarantine` (its reason), `both_bad` (review_both_bad) and a reject category (review_<category>)
quarantine the row; `swap` makes the export's rejected answer the chosen one; `confirm`, `swap`,
`both_good` and `both_bad` set the preference; `correct` replaces the chosen answer (the one it replaces
stays in chosen_before_review); `category` and `dimension` overrule the tags (an accepted category is
the prompt's dimension, as in the guide). Each row carries the decisions in force about it, with who,
when, why and where they came from, in `decisions`. A duplicate of a row a decision quarantines leaves
with it (duplicate_of_quarantined): the row it repeats is no longer in the data.
"""

from __future__ import annotations

from typing import Self

import polars as pl

from curation.config import RunConfig
from curation.decisions import APPLIED, DIMENSIONS, REJECT_CATEGORIES, in_force, read_decisions
from curation.errors import ConfigError
from curation.ledger import follow_duplicate_chains
from curation.schema import Preference, Status
from curation.stage import REMOVED_COLUMNS, Stage, StageResult

PROVENANCE = ("action", "value", "who", "when", "why", "source")
PREFERENCES = {"confirm": Preference.CHOSEN_BETTER.value, "swap": Preference.CHOSEN_BETTER.value,
               "both_good": Preference.BOTH_GOOD.value, "both_bad": Preference.BOTH_BAD.value}
FOLLOWS_ITS_ORIGINAL = "duplicate_of_quarantined"
ANSWERS = ("_decided_status", "_reason", "_vote", "_correction", "_corrected_by", "_human_category", "_human_dimension",
           "_not_duplicate_of", "_applied")


def _last(action: str | list[str], column: str = "value") -> pl.Expr:
    actions = [action] if isinstance(action, str) else action
    return pl.col(column).filter(pl.col("action").is_in(actions)).last()


def _reasons() -> pl.Expr:
    """Why the decisions in force take a row out: a quarantine, a both-bad vote, a reject category."""
    return pl.concat_list(
        pl.when(pl.col("_decided_status") == "quarantine").then("_reason"),
        pl.when(pl.col("_vote") == "both_bad").then(pl.lit("review_both_bad")),
        pl.when(pl.col("_human_category").is_in(REJECT_CATEGORIES)).then(pl.lit("review_") + pl.col("_human_category")),
    ).list.drop_nulls()


class ApplyDecisions(Stage):
    name = "apply_decisions"
    description = "The steward's decisions (the decisions file): keep, quarantine, not a duplicate, vote, corrected answer, category, dimension."
    inputs = ("id", "chosen", "rejected", "preference")
    outputs = ("decisions", "chosen_before_review", "review_provenance")

    def __init__(self, decisions: pl.DataFrame):
        # One row per id: each question's answer in force, and every decision with its provenance.
        decided = in_force(decisions).with_columns(
            provenance=pl.format("{} ({}, {})", pl.col("who").fill_null("someone"), "source", pl.col("when").fill_null("undated")))
        self.by_id = decided.group_by("id", maintain_order=True).agg(
            _decided_status=_last(["keep", "quarantine"], "action"), _reason=_last("quarantine"),
            _vote=_last(list(PREFERENCES), "action"), _correction=_last("correct"),
            _corrected_by=_last("correct", "provenance"), _human_category=_last("category"),
            _human_dimension=_last("dimension"),
            _not_duplicate_of=pl.col("value").filter(pl.col("action") == "not_duplicate_of"),
            _applied=pl.struct(PROVENANCE),
        ).with_columns(pl.col("_applied").cast(APPLIED))
        self.leaving = self.by_id.filter(_reasons().list.len() > 0).get_column("id")

    @classmethod
    def from_config(cls, config: RunConfig) -> Self:
        if config.decisions is None:
            raise ConfigError("apply_decisions needs the decisions file: set `decisions: decisions.yaml` in the config")
        return cls(read_decisions(config.decisions))

    @classmethod
    def enabled(cls, config: RunConfig) -> bool:
        return config.decisions is not None  # image runs too: between the image dedupe and the split by image

    def take_back(self, removed: pl.LazyFrame) -> tuple[pl.LazyFrame, pl.LazyFrame]:
        """(the removed rows a decision returns to the flow, the removed rows left); a duplicate of a row a
        decision quarantines leaves as quarantined with it."""
        asked = follow_duplicate_chains(removed).join(
            self.by_id.lazy().select("id", "_decided_status", "_not_duplicate_of"), on="id", how="left",
            maintain_order="left")
        duplicate = pl.col("status") == Status.DUPLICATE.value
        back = (((pl.col("status") == Status.QUARANTINED.value) & (pl.col("_decided_status") == "keep"))
                | (duplicate & pl.col("_not_duplicate_of").list.contains(pl.col("duplicate_of")))).fill_null(False)
        asked = asked.with_columns(_back=back, _follows=duplicate & pl.col("duplicate_of").is_in(self.leaving.implode()))
        returned = asked.filter("_back").with_columns(  # the rules a kept row broke stay in sight
            warnings=pl.col("warnings").fill_null([]).list.concat("reasons") if "warnings" in asked.collect_schema().names() else pl.col("reasons"))
        left = asked.filter(~pl.col("_back")).with_columns(
            status=pl.when("_follows").then(pl.lit(Status.QUARANTINED.value)).otherwise("status"),
            reasons=pl.when("_follows").then(pl.lit([FOLLOWS_ITS_ORIGINAL])).otherwise("reasons"))
        helpers = ["_decided_status", "_not_duplicate_of", "_back", "_follows"]
        return returned.drop(*helpers, *REMOVED_COLUMNS), left.drop(helpers)

    def process(self, frame: pl.DataFrame) -> StageResult:
        rows = frame.join(self.by_id, on="id", how="left", maintain_order="left")
        swap, corrected = pl.col("_vote") == "swap", pl.col("_correction").is_not_null()
        better = pl.when(swap).then("rejected").otherwise("chosen")
        human_dimension = pl.coalesce("_human_dimension", pl.when(pl.col("_human_category").is_in(DIMENSIONS)).then("_human_category"))
        rows = rows.with_columns(
            chosen_before_review=pl.when(corrected).then(better),
            review_provenance=pl.when(corrected).then(pl.lit("chosen corrected by ") + pl.col("_corrected_by")),
            chosen=pl.coalesce("_correction", better),
            rejected=pl.when(swap).then("chosen").otherwise("rejected"),
            preference=pl.coalesce(pl.col("_vote").replace_strict(PREFERENCES, default=None, return_dtype=pl.String), "preference"),
            category=pl.coalesce("_human_category", _present(rows, "category")),
            dimension=pl.coalesce(human_dimension, _present(rows, "dimension")),
            decisions=pl.col("_applied").fill_null(pl.lit([], dtype=APPLIED)),
            _reasons=_reasons(),
        ).with_columns(*_human_confidence(rows, "category", pl.col("_human_category")),
                       *_human_confidence(rows, "dimension", human_dimension))
        leaving = pl.col("_reasons").list.len() > 0
        removed = self.leave(rows.filter(leaving), Status.QUARANTINED, pl.col("_reasons"))
        stats = {f"decided_{action}": count for action, count in
                 rows.select(pl.col("decisions").explode().struct.field("action").drop_nulls().value_counts()).unnest("action").iter_rows()}
        stats |= {"rows_decided": rows.filter(pl.col("decisions").list.len() > 0).height, "quarantined": removed.height}
        helpers = ["_reasons", *ANSWERS]
        return StageResult(rows.filter(~leaving).drop(helpers), removed.drop(helpers), stats)


def _present(rows: pl.DataFrame, column: str) -> pl.Expr:
    return pl.col(column) if column in rows.columns else pl.lit(None, dtype=pl.String)


def _human_confidence(rows: pl.DataFrame, tag: str, human: pl.Expr) -> list[pl.Expr]:
    """A person's label is certain: confidence 1 where one overrules the tag."""
    column = f"{tag}_confidence"
    if column not in rows.columns:
        return []
    return [pl.when(human.is_not_null()).then(pl.lit(1.0)).otherwise(pl.col(column)).alias(column)]

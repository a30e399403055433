"""A rule: a named polars expression, true on the rows that break it, with a reason and a severity."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import polars as pl

from curation.config import Severity


@dataclass(frozen=True)
class Rule:
    name: str
    reason: str
    severity: Severity
    expr: pl.Expr
    # Columns the data may lack (modelo_gen, origin): the filter reads an absent one as all null.
    columns: tuple[str, ...] = ()
    # Columns an earlier stage must have made (the tags): the pipeline is checked for them before it runs.
    requires: tuple[str, ...] = ()
    # Output columns for the scores the rule judged by (`chosen_rejected_similarity`, `length_ratio`):
    # then `expr` is a struct whose first field is the flag and the others these scores, in this order.
    # They stay in the accepted and quarantined rows, so a threshold can be re-tuned without a re-run.
    scores: tuple[str, ...] = ()

    def with_severity(self, severity: Severity) -> Rule:
        return replace(self, severity=severity)

    @property
    def column(self) -> str:
        """The flag column's name; the leading underscore keeps it apart from input metadata columns."""
        return f"_rule:{self.name}"

    def flag(self) -> pl.Expr:
        """The boolean flag column; a null (absent text) never breaks a rule. For a rule with scores, the flag
        alone: `flag_columns` gives the score columns too."""
        expr = self._named().struct.field(self.column) if self.scores else self.expr
        return expr.fill_null(False).alias(self.column)

    def _named(self) -> pl.Expr:
        """A scored rule's struct, its fields named: the flag column, then the score columns."""
        return self.expr.struct.rename_fields([self.column, *self.scores])


def flag_columns(frame: pl.LazyFrame, rules: list[Rule]) -> pl.LazyFrame:
    """Every rule's flag column (see `Rule.flag`) and score columns, each expression evaluated once: a scored
    rule's struct is made as one column and unnested after (unnesting the expression itself evaluated it once
    per field: 2x the time)."""
    scored = [rule for rule in rules if rule.scores]
    frame = frame.with_columns(*(rule.flag() for rule in rules if not rule.scores),
                               *(rule._named().alias(f"_scored:{rule.name}") for rule in scored))
    if not scored:  # unnest() without names would unnest every struct column, the input's own too
        return frame
    return (frame.unnest(*(f"_scored:{rule.name}" for rule in scored))
            .with_columns(pl.col(rule.column).fill_null(False) for rule in scored))


def for_responses(
    name: str, reason: str, breaks: Callable[[str], pl.Expr], chosen: Severity, rejected: Severity,
    requires: Callable[[str], tuple[str, ...]] = lambda side: (),
) -> list[Rule]:
    """The same check on the chosen and on the rejected response, each with its own severity."""
    return [
        Rule(f"{name}_chosen", f"{reason} (chosen response)", chosen, breaks("chosen"), requires=requires("chosen")),
        Rule(f"{name}_rejected", f"{reason} (rejected response)", rejected, breaks("rejected"), requires=requires("rejected")),
    ]

"""The budget before a paid pipeline starts: which requests it can admit at their worst cost, and the
cost table a dry run prints. The journal holds the hard limit call by call; admitting up front keeps a
run from starting requests it cannot pay for (and from logging a refusal per row)."""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from curation.llms.journal import Journal


def paid_before(llm, journal: Journal | None, chats: Iterable[list[dict[str, str]]]) -> pl.Series:
    """Per request, whether its (first) call is in the journal already, with this LLM's settings."""
    return pl.Series([journal is not None and llm.paid_before(journal, chat) for chat in chats], dtype=pl.Boolean)


def admit(requests: pl.DataFrame, worst: pl.Series, started: pl.Series, left: float) -> tuple[pl.DataFrame, pl.DataFrame, str]:
    """The requests the budget left can finish at their worst cost (`worst`, USD per request), in order,
    and those held back, with why. A request started before a restart is always admitted: its finished
    calls cost nothing again."""
    new_cost = worst * (~started).cast(pl.Float64)
    keep = started | (new_cost.cum_sum() <= left)
    admitted = int((keep & ~started).sum())
    why = (f"the budget left ({left:.4f} USD) covers {admitted} new requests at their worst cost "
           f"({new_cost.filter(keep).sum():.4f} USD in all)")
    return requests.filter(keep), requests.filter(~keep), why


def with_total(steps: pl.DataFrame) -> pl.DataFrame:
    """A cost table (step, model, calls, input_tokens, output_tokens, usd) with its total as the last row.
    USD unrounded: a cheap model's cents must not round to 0 before the budget sees them (printing rounds)."""
    total = steps.select(pl.lit("total").alias("step"), pl.lit("").alias("model"), pl.col("calls").sum(),
                         pl.col("input_tokens").sum(), pl.col("output_tokens").sum(), pl.col("usd").sum())
    return pl.concat([steps, total])

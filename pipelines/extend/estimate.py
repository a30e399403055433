"""`curation extend --dry-run`: which gap cells the requests fill, and tokens and USD before anything is
spent, from the price table.

Prompt-writer inputs are the real messages; later steps read text not written yet, so their inputs
assume each earlier answer at its max_tokens, and every output is counted at its max_tokens: an
upper bound, which is what a budget needs. USD stays unrounded here; printing rounds."""

from __future__ import annotations

import polars as pl

from curation.llms.budget import with_total
from curation.llms.cost import (
    TOKENS_PER_MESSAGE,
    estimate_input_tokens,
    load_prices,
    price_of,
)
from curation.pipelines.extend.config import ExtendConfig
from curation.pipelines.extend.judge import JUDGE_GUIDE
from curation.pipelines.extend.respond import VARIETY_INSTRUCTION
from curation.pipelines.extend.write_prompt import writer_messages
from curation.reports.bias_audit import audited_gaps


def _tokens(text: str) -> int:
    return estimate_input_tokens([{"content": text}])


def estimate(requests: pl.DataFrame, config: ExtendConfig) -> pl.DataFrame:
    """One row per step: model, calls, input and output tokens, USD (upper bounds); then the total."""
    calls = requests.height
    writer_input = sum(estimate_input_tokens(writer_messages(row)) for row in requests.iter_rows(named=True))
    written, answer = config.max_tokens.prompt_writer, config.max_tokens.response
    steps = [
        ("write_prompt", config.models.prompt_writer, writer_input, config.max_tokens.prompt_writer),
        ("respond_role_aware", config.models.role_aware,
         calls * (written + _tokens(VARIETY_INSTRUCTION) + 2 * TOKENS_PER_MESSAGE), answer),
        ("respond_plain", config.models.plain, calls * (written + TOKENS_PER_MESSAGE), answer),
        ("judge", config.models.judge, calls * (_tokens(JUDGE_GUIDE) + written + 2 * answer + 2 * TOKENS_PER_MESSAGE),
         config.max_tokens.judge),
    ]
    prices = load_prices(config.prices)
    rows = [{"step": step, "model": model, "calls": calls, "input_tokens": tokens_in, "output_tokens": calls * per_call,
             "usd": price_of(prices, model).usd(tokens_in, calls * per_call)}
            for step, model, tokens_in, per_call in steps]
    return with_total(pl.DataFrame(rows))


def gap_cover(accepted: pl.DataFrame, requests: pl.DataFrame, config: ExtendConfig) -> pl.DataFrame:
    """Every country x dimension cell below target, as `prompt_requests` saw it (the audit's gap list): rows today,
    target, gap, the prompts `requests` ask for it (0: none this run) and the share of its gap they cover."""
    cells, target = audited_gaps(accepted, config.cell_target)
    asked = requests.group_by("country", "dimension").agg(requested=pl.len())
    return (cells.join(asked, on=["country", "dimension"], how="left")
            .select("country", "dimension", pl.col("rows").cast(pl.Int64), target=pl.lit(target, dtype=pl.Int64),
                    gap=pl.col("needed").cast(pl.Int64), requested=pl.col("requested").fill_null(0).cast(pl.Int64))
            .with_columns(covered=pl.col("requested") / pl.col("gap")))


def with_cells_total(cells: pl.DataFrame) -> pl.DataFrame:
    """`gap_cover`'s cells with their total as the last row (country `total`): the share is of the summed gap."""
    total = cells.select(pl.lit("total").alias("country"), pl.lit("").alias("dimension"),
                         pl.col("rows", "target", "gap", "requested").sum())
    return pl.concat([cells, total.with_columns(covered=pl.col("requested") / pl.col("gap"))])

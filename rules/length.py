"""Empty or too short prompt and responses."""

from __future__ import annotations

import polars as pl

from curation.config import FilterConfig
from curation.rules.rule import Rule, for_responses
from curation.text import char_length


def rules(config: FilterConfig) -> list[Rule]:
    def too_short(column: str) -> pl.Expr:
        return pl.col(column).is_not_null() & (char_length(column) < config.min_response_chars)

    return [
        Rule("too_short_prompt", f"prompt empty or under {config.min_prompt_chars} characters", "block",
             char_length("prompt") < config.min_prompt_chars),
        *for_responses("too_short", f"empty or under {config.min_response_chars} characters", too_short,
                       chosen="block", rejected="block"),
    ]

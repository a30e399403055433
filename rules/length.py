"""Empty or too short prompt and responses."""

from __future__ import annotations

import polars as pl

from curation.config import FilterConfig
from curation.rules.rule import Rule, for_responses
from curation.text import char_length

# A prompt that asks for a one-word or yes/no answer makes a short response right ("Valor.").
SHORT_ANSWER_REQUESTED = (
    r"(?i)en una (?:sola )?palabra|en (?:una|dos|tres|pocas) palabras|"
    r"em uma palavra|numa (?:s[óo] )?palavra|sim ou n[ãa]o|en una paraula|s[íi] o no|in (?:one|a single) word|yes or no"
)


def rules(config: FilterConfig) -> list[Rule]:
    short_allowed = pl.col("prompt").str.contains(SHORT_ANSWER_REQUESTED).fill_null(False)

    def too_short(column: str) -> pl.Expr:
        empty = char_length(column) == 0
        return pl.col(column).is_not_null() & (empty | ((char_length(column) < config.min_response_chars) & ~short_allowed))

    return [
        Rule("too_short_prompt", f"prompt empty or under {config.min_prompt_chars} characters", "block",
             char_length("prompt") < config.min_prompt_chars),
        *for_responses("too_short", f"empty, or under {config.min_response_chars} characters where the prompt "
                       "does not ask for a short answer", too_short, chosen="block", rejected="block"),
    ]

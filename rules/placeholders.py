"""Error placeholders that failed API calls wrote instead of a response.

The tell is a short text that either carries an explicit error signature, or is a generic apology
that repeats across rows (a real answer is not written twice word for word).
"""

from __future__ import annotations

import polars as pl

from curation.config import FilterConfig
from curation.rules.rule import Rule, for_responses
from curation.text import char_length, comparison_key, dfa_friendly

ERROR_SIGNATURE = dfa_friendly(
    r"(?i)^\s*(?:error|exception|traceback)\s*[:\[(\d]|^\s*(?:none|null|nan|undefined|n/a)\s*$|\[error\]|"
    r"\b(?:429|500|502|503|504)\b.{0,20}(?:too many requests|internal server error|bad gateway|service unavailable|gateway timeout)|"
    r"rate limit|request (?:failed|timed out)|upstream timeout|\$moderation\$|violates our content|"
    r"ha ocurrido un error|se produjo un error|ocorreu um erro|s'ha produ[ïi]t un error|an error (?:has )?occurred"
)
APOLOGY = dfa_friendly(r"(?i)\b(?:lo siento|disculp|perd[óo]n|lamentamos|desculp|lamento|sinto muito|ho sento|em sap greu|sorry|apologi)")


def rules(config: FilterConfig) -> list[Rule]:
    # Keys of the opening only: a placeholder is short, and long texts need no costly key.
    keys = {column: comparison_key(pl.col(column).str.slice(0, config.placeholder_max_chars + 1))
            for column in ("chosen", "rejected")}

    def placeholder(column: str) -> pl.Expr:
        other = "rejected" if column == "chosen" else "chosen"
        key = keys[column]
        repeated = (pl.len().over(key) > 1) | key.is_in(keys[other].implode())
        # Only short texts can be placeholders: the patterns read no further than that.
        text = pl.col(column).str.slice(0, config.placeholder_max_chars + 1)
        short = char_length(column) <= config.placeholder_max_chars
        return short & (text.str.contains(ERROR_SIGNATURE) | (text.str.contains(APOLOGY) & repeated))

    prompt = Rule("error_placeholder_prompt", "error message instead of a prompt", "block",
                  (char_length("prompt") <= config.placeholder_max_chars) & pl.col("prompt").str.contains(ERROR_SIGNATURE))
    return [prompt, *for_responses("error_placeholder", "error placeholder left by a failed API call", placeholder,
                                   chosen="block", rejected="block")]

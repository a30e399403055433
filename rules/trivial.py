"""Trivial prompts: a greeting, a test, a lookup a foreigner answers in minutes (the guide's reject category 1).

Two signals, either one flags:
- the phrasing (trivial_prompts.yaml): the whole prompt is a greeting, or a short question asking for
  one fact ("¿quién fue…?", "nombra un…", "¿cuántos… tiene…?") that holds no word of cultural content or
  opinion ("típico", "tradición", "dicho", "consideres");
- the prompt classifier (curation/prompt_classifier.py), through the `category` and
  `category_confidence` the dimension_tag stage adds, at the threshold chosen on its cross-validation
  for precision >= 0.80 (shipped with the model). Untagged data has no category: the phrasing alone decides.

A warning: the row travels on, flagged for a reviewer, and Argilla suggests category 1.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import polars as pl

from curation.config import FilterConfig
from curation.prompt_classifier import PromptClassifier
from curation.rules.rule import Rule
from curation.safe_yaml import load_yaml
from curation.text import dfa_friendly, fold_accents

# A greeting longer than this is a greeting followed by a question; a lookup longer than this carries context.
GREETING_CHARS = 40
LOOKUP_CHARS = 160


@cache
def patterns() -> dict[str, str]:
    """Kind (greeting, lookup, cultural) -> one regex joining every language's forms."""
    text = resources.files("curation.rules").joinpath("trivial_prompts.yaml").read_text(encoding="utf-8")
    return {kind: "|".join(f"(?:{form})" for forms in languages.values() for form in forms)
            for kind, languages in load_yaml(text, "trivial_prompts.yaml").items()}


def trivial_threshold() -> float:
    return float(PromptClassifier.load().meta.get("trivial_threshold", 0.55))


def trivial_phrasing(column: str = "prompt") -> pl.Expr:
    """True where the prompt is a bare greeting or a short one-fact lookup without cultural content."""
    found = patterns()
    # Opening punctuation and quotes go, so that "¿Quién fue…?" and "quien fue…" read the same.
    text = fold_accents(pl.col(column).str.to_lowercase()).str.replace(r"^[\s¿¡\"'«“(\-*]+", "").str.strip_chars_end()
    greeting = text.str.contains(dfa_friendly(f"^(?:{found['greeting']})")) & (text.str.len_chars() <= GREETING_CHARS)
    lookup = (text.str.contains(dfa_friendly(f"^(?:{found['lookup']})")) & (text.str.len_chars() <= LOOKUP_CHARS)
              & ~text.str.contains(dfa_friendly(rf"\b(?:{found['cultural']})\b")))
    return greeting | lookup


def rules(config: FilterConfig) -> list[Rule]:
    threshold = trivial_threshold()
    classifier = (pl.col("category") == "trivial") & (pl.col("category_confidence").cast(pl.Float64, strict=False) >= threshold)
    return [Rule("trivial_prompt", "trivial prompt: a greeting, a test or a one-fact lookup (its phrasing, or the prompt "
                 f"classifier's confidence >= {threshold:.2f})", "warn", trivial_phrasing() | classifier,
                 columns=("category", "category_confidence"))]

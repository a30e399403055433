"""Trivial prompts: a greeting, a test, a lookup a foreigner answers in minutes (the guide's reject category 1).

Reads the `category` and `category_confidence` the dimension_tag stage adds (the prompt classifier,
curation/prompt_classifier.py). A warning: the row travels on, flagged for a reviewer, who can reject
it as category 1. The threshold is the one chosen on the classifier's cross-validation for precision
>= 0.80, shipped with the model.
"""

from __future__ import annotations

import polars as pl

from curation.config import FilterConfig
from curation.prompt_classifier import PromptClassifier
from curation.rules.rule import Rule


def trivial_threshold() -> float:
    return float(PromptClassifier.load().meta.get("trivial_threshold", 0.55))


def rules(config: FilterConfig) -> list[Rule]:
    threshold = trivial_threshold()
    return [Rule("trivial_prompt", f"trivial prompt: a greeting, a test or a quick lookup (classifier confidence >= {threshold:.2f})",
                 "warn", (pl.col("category") == "trivial") & (pl.col("category_confidence").cast(pl.Float64, strict=False) >= threshold),
                 columns=("category", "category_confidence"))]

"""The cultural dimension of a prompt (knowledge, preference, dynamics, bias trap) and its validation
category (the guide's seven), each with a calibrated probability, and the phrase evidence that explains it.

The decision is the prompt classifier's (curation/prompt_classifier.py: logistic regression over hashed
words of the prompt and system prompt, fitted on the gold set): a label when its probability reaches
the threshold chosen on cross-validation for precision >= 0.80, else `undetermined`. Multi-turn markers
make the prompt dynamics whatever the model says (the guide). The phrases of
curation/data/dimensions.yaml stay as evidence (`dimension_evidence`, `dimension_score`,
`dimension_candidates`: the lexicon's own pick) and as features of the model.
"""

from __future__ import annotations

from typing import Self

import polars as pl

from curation.config import RunConfig
from curation.lexicon import Lexicon, tag
from curation.prompt_classifier import ROLE, TURNS, PromptClassifier
from curation.stage import Stage, StageResult

RULE_DIMENSIONS = ("bias_trap", "dynamics")
STRONG_EVIDENCE = 3


class DimensionTag(Stage):
    name = "dimension_tag"
    description = "Cultural dimension and category of the prompt (classifier + phrases, role, turns): label, confidence, evidence."
    row_local = True
    inputs = ("system_prompt", "prompt")
    outputs = ("dimension", "dimension_confidence", "dimension_score", "dimension_candidates", "dimension_evidence",
               "category", "category_confidence", "has_role", "is_multi_turn")

    def __init__(self, lexicon_file: str = "dimensions.yaml"):
        self.lexicon = Lexicon.load(lexicon_file)
        self.classifier = PromptClassifier.load()

    @classmethod
    def from_config(cls, config: RunConfig) -> Self:
        return cls(config.tagging.dimensions_lexicon)

    @classmethod
    def enabled(cls, config: RunConfig) -> bool:
        return config.tagging.enabled

    def process(self, frame: pl.DataFrame) -> StageResult:
        frame = tag(frame, "prompt", self.lexicon, None, "dimension")
        predicted = self.classifier.predict(frame.select("prompt", "system_prompt", "dimension_evidence"))
        # The rare dimensions (a dozen gold rows each) are beyond the model: strong phrase evidence for them
        # (weight >= 3, e.g. the stereotype frame "por qué los X son tan") decides, as a rule (confidence 1).
        strong = pl.col("dimension").is_in(RULE_DIMENSIONS) & (pl.col("dimension_score") >= STRONG_EVIDENCE)
        predicted = pl.concat([frame.select("dimension", "dimension_score"), predicted.rename({"dimension": "_model"})], how="horizontal").select(
            dimension=pl.when(strong).then("dimension").otherwise("_model"),
            dimension_confidence=pl.when(strong).then(pl.lit(1.0)).otherwise("dimension_confidence"),
            category=pl.col("category"), category_confidence=pl.col("category_confidence"))
        frame = frame.drop([c for c in predicted.columns if c in frame.columns]).with_columns(predicted).with_columns(
            has_role=pl.col("system_prompt").str.contains(ROLE).fill_null(False),
            is_multi_turn=(pl.col("prompt").str.count_matches(TURNS) >= 2).fill_null(False),
        )
        # Turns inside one prompt are dynamics whatever the phrases say (see the guide).
        frame = frame.with_columns(
            dimension=pl.when("is_multi_turn").then(pl.lit("dynamics")).otherwise("dimension"),
            dimension_confidence=pl.when("is_multi_turn").then(pl.lit(1.0)).otherwise("dimension_confidence"),
            dimension_evidence=pl.when("is_multi_turn").then(pl.col("dimension_evidence").list.concat(pl.lit(["structure:turns"])))
            .otherwise("dimension_evidence"),
        ).with_columns(
            dimension_evidence=pl.when("has_role").then(pl.col("dimension_evidence").list.concat(pl.lit(["structure:role"])))
            .otherwise("dimension_evidence"),
        )
        counts = frame.get_column("dimension").value_counts()
        return StageResult(frame, self.nothing_removed(frame), dict(counts.iter_rows()))

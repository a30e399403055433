"""Guess the cultural dimension of a prompt (knowledge, preference, dynamics, bias trap), with evidence.

A heuristic from phrases (curation/data/dimensions.yaml) plus two structural signals: a role set in
the system prompt, and multi-turn markers in the prompt. An LLM judge and people refine it later.
"""

from __future__ import annotations

import polars as pl

from curation.lexicon import Lexicon, tag
from curation.stage import Stage, StageResult

# A system prompt that casts the model as someone ("Eres una abuela de Rosario", "Imagina que eres").
ROLE = r"(?i)^\s*(?:eres|sos|imagina que eres|act[úu]a como|responde como|you are|és|ets|voc[êe] [ée]|tu [ée]s)\b"
TURNS = r"(?im)^\s*(?:usuario|user|asistente|assistant|usu[áa]rio|assistent)\s*:"


class DimensionTag(Stage):
    name = "dimension_tag"
    description = "Cultural dimension of the prompt from phrases, role and turns: dimension + evidence."
    row_local = True
    inputs = ("system_prompt", "prompt")
    outputs = ("dimension", "dimension_score", "dimension_candidates", "dimension_evidence", "has_role", "is_multi_turn")

    def __init__(self, lexicon_file: str = "dimensions.yaml"):
        self.lexicon = Lexicon.load(lexicon_file)

    def process(self, frame: pl.DataFrame) -> StageResult:
        frame = tag(frame, "prompt", self.lexicon, None, "dimension").with_columns(
            has_role=pl.col("system_prompt").str.contains(ROLE).fill_null(False),
            is_multi_turn=(pl.col("prompt").str.count_matches(TURNS) >= 2).fill_null(False),
        )
        # Turns inside one prompt are dynamics whatever the phrases say (see the guide).
        frame = frame.with_columns(
            dimension=pl.when("is_multi_turn").then(pl.lit("dynamics")).otherwise("dimension"),
            dimension_evidence=pl.when("is_multi_turn").then(pl.col("dimension_evidence").list.concat(pl.lit(["structure:turns"])))
            .otherwise("dimension_evidence"),
        ).with_columns(
            dimension_evidence=pl.when("has_role").then(pl.col("dimension_evidence").list.concat(pl.lit(["structure:role"])))
            .otherwise("dimension_evidence"),
        )
        counts = frame.get_column("dimension").value_counts()
        return StageResult(frame, self.nothing_removed(frame), dict(counts.iter_rows()))

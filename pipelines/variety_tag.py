"""Tag the national variety of Spanish / Portuguese texts (es-AR, es-ES, pt-BR...), with its evidence."""

from __future__ import annotations

import polars as pl

from curation.lexicon import Lexicon, tag
from curation.stage import Stage, StageResult

FIELDS = ("prompt", "chosen", "rejected")


class VarietyTag(Stage):
    name = "variety_tag"
    description = "National variety from an editable lexicon (voseo, vosotros, vocabulary, slang): <field>_variety + evidence."
    inputs = (*FIELDS, *(f"{field}_lang" for field in FIELDS))
    outputs = tuple(f"{field}_variety{suffix}" for field in FIELDS for suffix in ("", "_score", "_candidates", "_evidence"))

    def __init__(self, lexicon_file: str = "varieties.yaml"):
        self.lexicon = Lexicon.load(lexicon_file)

    def process(self, frame: pl.DataFrame) -> StageResult:
        for field in FIELDS:
            frame = tag(frame, field, self.lexicon, f"{field}_lang", f"{field}_variety")
        counts = frame.get_column("prompt_variety").value_counts()
        return StageResult(frame, self.nothing_removed(frame), {f"prompt_{v}": n for v, n in counts.iter_rows()})

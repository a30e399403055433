"""Tag the national variety of Spanish / Portuguese texts (es-AR, es-ES, pt-BR...), with its evidence."""

from __future__ import annotations

import polars as pl

from curation.lexicon import TAGGED_FIELDS, Lexicon, tag_columns, tag_fields
from curation.mentions import MENTION
from curation.stage import Stage, StageResult


class VarietyTag(Stage):
    name = "variety_tag"
    description = "National variety from an editable lexicon (voseo, vosotros, vocabulary, slang): <field>_variety + evidence."
    row_local = True
    inputs = (*TAGGED_FIELDS, *(f"{field}_lang" for field in TAGGED_FIELDS))
    outputs = tag_columns("variety")

    def __init__(self, lexicon_file: str = "varieties.yaml"):
        self.lexicon = Lexicon.load(lexicon_file)

    def process(self, frame: pl.DataFrame) -> StageResult:
        frame = tag_fields(frame, self.lexicon, "variety", mask=MENTION, prior=True)
        counts = dict(frame.get_column("prompt_variety").value_counts().iter_rows())
        return StageResult(frame, self.nothing_removed(frame), {f"prompt_{variety}": n for variety, n in counts.items()})

"""Tag the form of address of Spanish texts: tú, usted, vos, vosotros, ustedes (or undetermined)."""

from __future__ import annotations

import polars as pl

from curation.lexicon import TAGGED_FIELDS, Lexicon, tag_columns, tag_fields
from curation.mentions import MENTION
from curation.stage import Stage, StageResult


class RegisterTag(Stage):
    name = "register_tag"
    description = "Form of address (tú / usted / vos / vosotros / ustedes) per text: <field>_register + evidence."
    row_local = True
    inputs = (*TAGGED_FIELDS, *(f"{field}_lang" for field in TAGGED_FIELDS))
    outputs = tag_columns("register")

    def __init__(self, lexicon_file: str = "register.yaml"):
        self.lexicon = Lexicon.load(lexicon_file)

    def process(self, frame: pl.DataFrame) -> StageResult:
        frame = tag_fields(frame, self.lexicon, "register", mask=MENTION, mask_answers=False)
        counts = dict(frame.get_column("chosen_register").value_counts().iter_rows())
        return StageResult(frame, self.nothing_removed(frame), {f"chosen_{register}": n for register, n in counts.items()})

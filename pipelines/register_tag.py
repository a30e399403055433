"""Tag the form of address of Spanish texts: tú, usted, vos, vosotros, ustedes (or undetermined)."""

from __future__ import annotations

import polars as pl

from curation.lexicon import Lexicon, tag
from curation.stage import Stage, StageResult

FIELDS = ("prompt", "chosen", "rejected")


class RegisterTag(Stage):
    name = "register_tag"
    description = "Form of address (tú / usted / vos / vosotros / ustedes) per text: <field>_register + evidence."
    inputs = (*FIELDS, *(f"{field}_lang" for field in FIELDS))
    outputs = tuple(f"{field}_register{suffix}" for field in FIELDS for suffix in ("", "_score", "_candidates", "_evidence"))

    def __init__(self, lexicon_file: str = "register.yaml"):
        self.lexicon = Lexicon.load(lexicon_file)

    def process(self, frame: pl.DataFrame) -> StageResult:
        for field in FIELDS:
            frame = tag(frame, field, self.lexicon, f"{field}_lang", f"{field}_register")
        counts = frame.get_column("chosen_register").value_counts()
        return StageResult(frame, self.nothing_removed(frame), {f"chosen_{r}": n for r, n in counts.iter_rows()})

"""Tag prompt, chosen and rejected from an editable lexicon, with the evidence: one stage, declared twice.

`variety_tag` names the national variety of Spanish / Portuguese texts (es-AR, es-ES, pt-BR...);
`register_tag` the form of address of Spanish texts (tú, usted, vos, vosotros, ustedes). Each declaration
says only what differs: its name, label, lexicon setting, masking and the field its stats count.
"""

from __future__ import annotations

from typing import ClassVar, Self

import polars as pl

from curation.config import RunConfig, TaggingConfig
from curation.lexicon import TAGGED_FIELDS, Lexicon, tag_columns, tag_fields
from curation.mentions import MENTION
from curation.stage import Stage, StageResult


class LexiconTag(Stage):
    """<field>_<label> for each text (and its evidence, score, candidates, confidence) from `lexicon_file`."""
    row_local = True
    inputs = (*TAGGED_FIELDS, *(f"{field}_lang" for field in TAGGED_FIELDS))
    label: ClassVar[str]
    lexicon_setting: ClassVar[str]  # the field of config.tagging naming the lexicon file
    counted_field: ClassVar[str]  # the text whose labels the stats count
    mask_answers: ClassVar[bool]  # quoted mentions are not evidence in the answers either
    prior: ClassVar[bool]  # a tie that includes the row's country variety is decided for it

    def __init__(self, lexicon_file: str | None = None):
        # Without a file, the one the config names by default (varieties.yaml, register.yaml).
        self.lexicon = Lexicon.load(lexicon_file or getattr(TaggingConfig(), self.lexicon_setting))

    @classmethod
    def from_config(cls, config: RunConfig) -> Self:
        return cls(getattr(config.tagging, cls.lexicon_setting))

    @classmethod
    def enabled(cls, config: RunConfig) -> bool:
        return config.tagging.enabled

    def process(self, frame: pl.DataFrame) -> StageResult:
        frame = tag_fields(frame, self.lexicon, self.label, mask=MENTION, mask_answers=self.mask_answers, prior=self.prior)
        counts = frame.get_column(f"{self.counted_field}_{self.label}").value_counts().iter_rows()
        return StageResult(frame, self.nothing_removed(frame), {f"{self.counted_field}_{value}": n for value, n in counts})


class VarietyTag(LexiconTag):
    name = "variety_tag"
    description = "National variety from an editable lexicon (voseo, vosotros, vocabulary, slang): <field>_variety + evidence."
    outputs = tag_columns("variety")
    label = "variety"
    lexicon_setting = "varieties_lexicon"
    counted_field = "prompt"
    mask_answers = True
    prior = True


class RegisterTag(LexiconTag):
    name = "register_tag"
    description = "Form of address (tú / usted / vos / vosotros / ustedes) per text: <field>_register + evidence."
    outputs = tag_columns("register")
    label = "register"
    lexicon_setting = "register_lexicon"
    counted_field = "chosen"
    mask_answers = False
    prior = False

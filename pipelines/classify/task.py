"""The classifier's request and answer. The system message is the guide's seven categories and four
dimensions in our words (curation/data/classify.yaml); the user message is the case (the assigned
country, the role, the prompt). The answer is JSON ({category, dimension, confidence, rationale}),
checked with pydantic: JSON that is not this (a category outside the list, a confidence of 7) is an
unreadable verdict, filed as failed, never a label."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, Field, ValidationError

from curation.decisions import CATEGORIES, DIMENSIONS
from curation.llms.guarded_task import GuardedTask
from curation.prompt_classifier import UNDETERMINED

# No numeric range: Cohere's structured output does not support minimum/maximum; pydantic checks it.
CLASSIFY_SCHEMA = {
    "type": "object",
    "properties": {"category": {"type": "string", "enum": [*CATEGORIES, UNDETERMINED]},
                   "dimension": {"type": "string", "enum": [*DIMENSIONS, UNDETERMINED]},
                   "confidence": {"type": "number", "description": "0 to 1: how likely the category is right."},
                   "rationale": {"type": "string"}},
    "required": ["category", "dimension", "confidence", "rationale"],
}


class Verdict(BaseModel):
    """What CLASSIFY_SCHEMA asks for, with the bounds the schema cannot say."""
    category: Literal[CATEGORIES + (UNDETERMINED,)]
    dimension: Literal[DIMENSIONS + (UNDETERMINED,)]
    confidence: float = Field(ge=0, le=1, allow_inf_nan=False)
    rationale: str


def parse_verdict(output: str | None) -> str | None:
    """The verdict as canonical JSON, or None when there is no answer or it is not the verdict asked for."""
    try:
        return Verdict.model_validate_json(output).model_dump_json() if output else None
    except ValidationError:
        return None


@cache
def guide_message() -> str:
    """The system message: instructions, the categories, the dimensions and the answer's format."""
    table = yaml.safe_load(resources.files("curation.data").joinpath("classify.yaml").read_text(encoding="utf-8"))
    categories = "\n".join(f"- {name}: {table['categories'][name]}" for name in CATEGORIES)
    dimensions = "\n".join(f"- {name}: {table['dimensions'][name]}" for name in DIMENSIONS)
    return (f"{table['instructions']}\n\nCategorías:\n{categories}\n\nDimensiones culturales:\n{dimensions}\n\n"
            f"{table['answer']}")


def classifier_messages(case: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": guide_message()}, {"role": "user", "content": case}]


class ClassifyPrompt(GuardedTask):
    @property
    def inputs(self) -> list[str]:
        return ["case"]

    @property
    def outputs(self) -> list[str]:
        return ["verdict", "llm_model"]

    def format_input(self, input: dict) -> list[dict[str, str]]:  # noqa: A002 (distilabel's name)
        return classifier_messages(input["case"])

    def format_output(self, output: str | None, input: dict | None = None) -> dict:
        return {"verdict": parse_verdict(output), "llm_model": self.llm.model_name}

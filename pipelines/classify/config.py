"""The classifier's settings: the shared endpoint, budget, retries and sampling (curation/llms/settings.py),
the model, its answer's length and the confidence under which it abstains. A YAML file
(configs/classify.yaml shows every setting with its default)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from curation.llms.settings import MAX_OUTPUT_TOKENS, CallSettings, load_settings


class ClassifyConfig(CallSettings):
    budget_usd: float = Field(50.0, gt=0, le=100_000, description="Hard budget over the call journal, resumes included.")
    temperature: float = Field(0.0, ge=0, le=2, description="0: the same prompt gets the same verdict.")
    model: str = "command-a-03-2025"
    max_tokens: int = Field(300, ge=16, le=MAX_OUTPUT_TOKENS, description="The JSON verdict with a one- or two-sentence rationale.")
    confidence_floor: float = Field(0.6, ge=0, le=1, description="Below this confidence the verdict is `undetermined`.")


def load_classify_config(path: str | Path | None, **overrides: object) -> ClassifyConfig:
    """The config file (or the defaults) with the command's overrides that are not None."""
    return load_settings(path, ClassifyConfig, "classify options", **overrides)

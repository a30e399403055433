"""The extension's settings: which endpoint and models, the budget, how many prompts, the judge's
thresholds. A YAML file (configs/extend.yaml shows every setting with its default). The endpoint, budget,
retries and sampling are the settings every paid pipeline shares (curation/llms/settings.py)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from curation.config import Settings
from curation.llms.settings import MAX_OUTPUT_TOKENS, CallSettings, load_settings


class Models(Settings):
    prompt_writer: str = "command-a-03-2025"
    role_aware: str = Field("command-a-03-2025", description="Strong model, with a role- and variety-aware system prompt.")
    plain: str = Field("command-r7b-12-2024", description="Small model, the prompt alone: the contrast candidate.")
    judge: str = "command-a-03-2025"


class MaxTokens(Settings):
    prompt_writer: int = Field(300, ge=16, le=MAX_OUTPUT_TOKENS)
    response: int = Field(600, ge=16, le=MAX_OUTPUT_TOKENS)
    judge: int = Field(400, ge=16, le=MAX_OUTPUT_TOKENS)


class JudgeSettings(Settings):
    tie_margin: float = Field(0.5, ge=0, le=4, description="Scores (1-5) closer than this are a tie (both good).")
    bad_below: float = Field(3.0, ge=1, le=5, description="Both scores under this: both bad.")


class ExtendConfig(CallSettings):
    max_prompts: int = Field(200, ge=1, le=100_000, description="New prompts per run at most, the largest gaps first.")
    cell_target: int | None = Field(None, ge=1, le=100_000, description="Rows per country x dimension; default the audit's balanced target.")
    countries: list[str] = Field(default_factory=list, description="Only these ISO codes; default every country of the run.")
    models: Models = Models()
    max_tokens: MaxTokens = MaxTokens()
    judge: JudgeSettings = JudgeSettings()


def load_extend_config(path: str | Path | None, **overrides: object) -> ExtendConfig:
    """The config file (or the defaults) with the command's overrides that are not None."""
    return load_settings(path, ExtendConfig, "extend options", **overrides)

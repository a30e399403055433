"""The extension's settings: which endpoint and models, the budget, how many prompts, the judge's
thresholds. A YAML file (configs/extend.yaml shows every setting with its default).

Every setting is bounded: a typo (a budget of 1e9, a timeout of 1e-9, a million calls in flight) is
refused before any call, never spent. No setting takes inf or nan."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from curation.config import read_model


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Models(_Section):
    prompt_writer: str = "command-a-03-2025"
    role_aware: str = Field("command-a-03-2025", description="Strong model, with a role- and variety-aware system prompt.")
    plain: str = Field("command-r7b-12-2024", description="Small model, the prompt alone: the contrast candidate.")
    judge: str = "command-a-03-2025"


MAX_OUTPUT_TOKENS = 32_768  # Cohere's models answer 8k tokens a call at most; room left for local ones


class MaxTokens(_Section):
    prompt_writer: int = Field(300, ge=16, le=MAX_OUTPUT_TOKENS)
    response: int = Field(600, ge=16, le=MAX_OUTPUT_TOKENS)
    judge: int = Field(400, ge=16, le=MAX_OUTPUT_TOKENS)


class JudgeSettings(_Section):
    tie_margin: float = Field(0.5, ge=0, le=4, description="Scores (1-5) closer than this are a tie (both good).")
    bad_below: float = Field(3.0, ge=1, le=5, description="Both scores under this: both bad.")


class ExtendConfig(_Section):
    provider: Literal["cohere", "openai"] = Field("cohere", description="openai: any OpenAI-compatible server (vLLM, llama.cpp).")
    base_url: str | None = Field(None, description="Default: COHERE_BASE_URL or OPENAI_BASE_URL, else the provider's.")
    budget_usd: float = Field(500.0, gt=0, le=100_000, description="Hard budget over the call journal, resumes included.")
    prices: str | None = Field(None, description="Price table (USD per million tokens); default curation/data/prices.yaml.")
    max_concurrency: int = Field(32, ge=1, le=256, description="Calls in flight per step.")
    timeout_seconds: float = Field(120.0, ge=1, le=3600)
    max_attempts: int = Field(5, ge=1, le=20)
    max_prompts: int = Field(200, ge=1, le=100_000, description="New prompts per run at most, the largest gaps first.")
    cell_target: int | None = Field(None, ge=1, le=100_000, description="Rows per country x dimension; default the audit's balanced target.")
    countries: list[str] = Field(default_factory=list, description="Only these ISO codes; default every country of the run.")
    seed: int = Field(0, description="Persona order, answer order shown to the judge, sampling.")
    temperature: float = Field(0.7, ge=0, le=2)
    models: Models = Models()
    max_tokens: MaxTokens = MaxTokens()
    judge: JudgeSettings = JudgeSettings()


def load_extend_config(path: str | Path | None) -> ExtendConfig:
    if path is None:
        return ExtendConfig()
    config = read_model(path, ExtendConfig)
    if config.prices and (Path(path).parent / config.prices).is_file():
        config.prices = str(Path(path).parent / config.prices)
    return config

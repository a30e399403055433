"""The settings every paid LLM pipeline shares (`curation extend`, `curation classify`): the endpoint,
the hard budget, the price table, concurrency, timeouts, retries and sampling. Each pipeline's config
adds its own settings to these.

Every setting is bounded: a typo (a budget of 1e9, a timeout of 1e-9, a million calls in flight) is
refused before any call, never spent. No setting takes inf or nan."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, TypeVar

from pydantic import Field

from curation.config import Settings, read_model, validated

MAX_OUTPUT_TOKENS = 32_768  # Cohere's models answer 8k tokens a call at most; room left for local ones


class CallSettings(Settings):
    provider: Literal["cohere", "openai"] = Field("cohere", description="openai: any OpenAI-compatible server (vLLM, llama.cpp).")
    base_url: str | None = Field(None, description="Default: COHERE_BASE_URL or OPENAI_BASE_URL, else the provider's.")
    budget_usd: float = Field(500.0, gt=0, le=100_000, description="Hard budget over the call journal, resumes included.")
    prices: str | None = Field(None, description="Price table (USD per million tokens); default curation/data/prices.yaml.")
    max_concurrency: int = Field(32, ge=1, le=256, description="Calls in flight per step.")
    timeout_seconds: float = Field(120.0, ge=1, le=3600)
    max_attempts: int = Field(5, ge=1, le=20)
    seed: int = Field(0, description="Sampling, and each pipeline's own draws (persona order, answer order).")
    temperature: float = Field(0.7, ge=0, le=2)


Settings = TypeVar("Settings", bound=CallSettings)


def load_settings(path: str | Path | None, model: type[Settings], where: str = "options", **overrides: object) -> Settings:
    """A pipeline's YAML config (the defaults without one) with a command's overrides that are not None, checked as
    the file is (`where` names them in an error); a relative price table is relative to the file."""
    config = model() if path is None else read_model(path, model)
    if path is not None and config.prices and (Path(path).parent / config.prices).is_file():
        config.prices = str(Path(path).parent / config.prices)
    settings = {key: value for key, value in overrides.items() if value is not None}
    return validated(model, config.model_dump() | settings, where) if settings else config

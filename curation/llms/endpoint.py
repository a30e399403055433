"""The LLM behind each step of a paid pipeline, from its settings: Cohere v2 or an OpenAI-compatible server,
all sharing one call journal and one budget. Keys come from the environment only, never from a file."""

from __future__ import annotations

import math
import os

from curation.errors import ConfigError
from curation.llms.settings import CallSettings

DEFAULT_URLS = {"cohere": "https://api.cohere.com", "openai": "https://api.openai.com/v1"}


def endpoint(config: CallSettings) -> str:
    """Where the calls go: the config's base_url, else COHERE_BASE_URL / OPENAI_BASE_URL, else the provider's."""
    return config.base_url or os.getenv(f"{config.provider.upper()}_BASE_URL") or DEFAULT_URLS[config.provider]


def make_llm(config: CallSettings, model: str, journal_path: str, max_tokens: int, json_schema: dict | None = None):
    shared = {"model": model, "journal_path": journal_path, "budget_usd": config.budget_usd, "prices_path": config.prices,
              "max_concurrency": config.max_concurrency, "max_attempts": config.max_attempts, "json_schema": json_schema,
              "base_url": endpoint(config),
              "generation_kwargs": {"max_tokens": max_tokens, "temperature": config.temperature, "seed": config.seed}}
    if config.provider == "cohere":
        from curation.llms.cohere_v2 import CohereV2LLM

        if not os.getenv("COHERE_API_KEY"):
            raise ConfigError("no Cohere API key: set COHERE_API_KEY in the environment (or use --dry-run)")
        return CohereV2LLM(timeout=config.timeout_seconds, **shared)
    from curation.llms.openai_compatible import OpenAICompatibleLLM

    if not (config.base_url or os.getenv("OPENAI_BASE_URL") or os.getenv("OPENAI_API_KEY")):
        raise ConfigError("provider openai needs base_url (a local vLLM or llama.cpp server) or OPENAI_API_KEY")
    # Local servers take any key; the openai client insists on one.
    api_key = os.getenv("OPENAI_API_KEY") or "local-server"
    return OpenAICompatibleLLM(api_key=api_key, timeout=math.ceil(config.timeout_seconds), **shared)

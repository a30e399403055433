"""A distilabel LLM on Cohere's v2 chat API (`cohere.AsyncClientV2`).

distilabel 1.5.3's CohereLLM calls the v1 chat API, and its load() breaks (it calls a sync tokenizer
helper with the async client). This one keeps the real client and adds what a paid run needs: a base
URL (COHERE_BASE_URL: a proxy, or the tests' emulator), system messages, structured output from a JSON
schema, token usage per call, a concurrency limit, and retries with backoff that honour Retry-After
on 429, 5xx, timeouts and unreadable bodies. A call that still fails returns no text (None), never a
placeholder: the row is then marked failed downstream.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from typing import Any, Optional

import httpx

# Imported here, not in load(): distilabel forks one process per step, and they share this import.
from cohere import AsyncClientV2
from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.models.llms.base import AsyncLLM
from pydantic import Field, PrivateAttr, SecretStr

from curation.llms.paid_calls import PaidCalls

# Made once, before the fork: cohere's default HTTP client loads the CA bundle into new SSL contexts for
# every client, about 0.3 s of CPU each time.
TLS = httpx.create_ssl_context()

RETRYABLE_STATUS = {429, 500, 502, 503, 504}


def retry_delay(error: Exception, attempt: int, backoff: float) -> float | None:
    """Seconds to wait before the next attempt, or None when retrying cannot help (a 400, a bad key)."""
    from cohere.core.api_error import ApiError

    if isinstance(error, ApiError):
        status = error.status_code or 0
        unreadable = status == 200  # the client got a 200 whose body it could not parse
        if status not in RETRYABLE_STATUS and not unreadable:
            return None
        retry_after = (error.headers or {}).get("retry-after") or (error.headers or {}).get("Retry-After")
        if retry_after:
            try:
                return float(retry_after)
            except ValueError:
                pass
    elif not isinstance(error, (httpx.TransportError, json.JSONDecodeError)):
        return None
    return backoff * 2**attempt * (0.5 + random.random())  # jitter: many calls must not come back together


class CohereV2LLM(PaidCalls, AsyncLLM):
    model: str
    base_url: Optional[RuntimeParameter[str]] = Field(
        default_factory=lambda: os.getenv("COHERE_BASE_URL"), description="Cohere API base URL (default: Cohere's).")
    api_key: Optional[RuntimeParameter[SecretStr]] = Field(
        default_factory=lambda: os.getenv("COHERE_API_KEY"), description="The API key (COHERE_API_KEY).")
    timeout: RuntimeParameter[float] = Field(default=120.0, description="Seconds before a call is given up.")
    max_attempts: RuntimeParameter[int] = Field(default=5, description="Attempts per call, the first included.")
    backoff_seconds: RuntimeParameter[float] = Field(default=1.0, description="First wait between attempts; doubles.")

    _num_generations_param_supported = False
    _client: Any = PrivateAttr(None)

    def load(self) -> None:
        super().load()
        if self.api_key is None:
            raise ValueError("no Cohere API key: set COHERE_API_KEY (or api_key)")
        self._client = AsyncClientV2(api_key=self.api_key.get_secret_value(), base_url=self.base_url,
                                     timeout=self.timeout, max_retries=0, client_name="curation",
                                     httpx_client=httpx.AsyncClient(timeout=self.timeout, verify=TLS))
        self.load_paid_calls(self.model)

    @property
    def model_name(self) -> str:
        return self.model

    def response_format(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {"type": "json_object", "json_schema": schema}

    async def _call(self, messages: list[dict], options: dict[str, Any]) -> tuple[str | None, int, int] | None:
        for attempt in range(self.max_attempts):
            try:
                async with self.limit():
                    response = await self._client.chat(model=self.model, messages=messages, **options)
                usage = response.usage.billed_units
                tokens = int(usage.input_tokens or 0), int(usage.output_tokens or 0)
                text = response.message.content[0].text if response.message.content else None
                return (text if self.usable(text, response.finish_reason == "MAX_TOKENS") else None), *tokens
            except Exception as error:  # classified below: retried, or given up at once
                wait = retry_delay(error, attempt, self.backoff_seconds)
                if wait is None or attempt == self.max_attempts - 1:
                    self._logger.warning(f"Cohere call failed after {attempt + 1} attempt(s): {type(error).__name__}")
                    break
                await asyncio.sleep(wait)
        return None

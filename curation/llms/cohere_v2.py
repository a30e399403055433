"""A distilabel LLM on Cohere's v2 chat API (`cohere.AsyncClientV2`).

distilabel 1.5.3's CohereLLM calls the v1 chat API, and its load() breaks (it calls a sync tokenizer
helper with the async client). This one keeps the real client and adds what a paid run needs: a base
URL (COHERE_BASE_URL: a proxy, or the tests' emulator), system messages, structured output from a JSON
schema, and billed token usage per call. PaidCalls adds the journal, the budget, a concurrency limit
and the retries (backoff, Retry-After) on 429, 5xx, timeouts and unreadable bodies, each attempt
accounted for. A call that still fails returns no text (None), never a placeholder: the row is then
marked failed downstream.
"""

from __future__ import annotations

import os
from typing import Any, Optional

import httpx

# Imported here, not in load(): distilabel forks one process per step, and they share this import.
from cohere import AsyncClientV2
from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.models.llms.base import AsyncLLM
from pydantic import Field, PrivateAttr, SecretStr

from curation.llms.paid_calls import (
    UNREADABLE,
    Answer,
    Failure,
    PaidCalls,
    billed_usage,
    status_failure,
    transport_failure,
    unexpected,
)

# Made once, before the fork: cohere's default HTTP client loads the CA bundle into new SSL contexts for
# every client, about 0.3 s of CPU each time.
TLS = httpx.create_ssl_context()


class CohereV2LLM(PaidCalls, AsyncLLM):
    model: str
    base_url: Optional[RuntimeParameter[str]] = Field(
        default_factory=lambda: os.getenv("COHERE_BASE_URL"), description="Cohere API base URL (default: Cohere's).")
    api_key: Optional[RuntimeParameter[SecretStr]] = Field(
        default_factory=lambda: os.getenv("COHERE_API_KEY"), description="The API key (COHERE_API_KEY).")
    timeout: RuntimeParameter[float] = Field(default=120.0, description="Seconds before a call is given up.")

    _num_generations_param_supported = False
    _client: Any = PrivateAttr(None)
    _http: Any = PrivateAttr(None)  # the client's connections, closed on unload

    def load(self) -> None:
        super().load()
        if self.api_key is None:
            raise ValueError("no Cohere API key: set COHERE_API_KEY (or api_key)")
        self._http = httpx.AsyncClient(timeout=self.timeout, verify=TLS)
        self._client = AsyncClientV2(api_key=self.api_key.get_secret_value(), base_url=self.base_url,
                                     timeout=self.timeout, max_retries=0, client_name="curation", httpx_client=self._http)
        self.load_paid_calls(self.model)

    async def close_client(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    @property
    def model_name(self) -> str:
        return self.model

    def response_format(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {"type": "json_object", "json_schema": schema}

    async def _attempt(self, messages: list[dict], options: dict[str, Any]) -> Answer:
        response = await self._client.chat(model=self.model, messages=messages, **options)
        usage = response.usage.billed_units if response.usage else None
        text = response.message.content[0].text if response.message.content else None
        return Answer(text if self.usable(text, response.finish_reason == "MAX_TOKENS") else None,
                      billed_usage(usage.input_tokens, usage.output_tokens) if usage else None)

    def failure(self, error: Exception) -> Failure:
        from cohere.core.api_error import ApiError

        if isinstance(error, ApiError):
            if error.status_code == 200:  # the client could not parse the answer's body
                return UNREADABLE
            return status_failure(error.status_code or 0, error.body, error.headers)
        if isinstance(error, httpx.TransportError):
            return transport_failure(error)
        return unexpected(error)

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

from pathlib import Path

from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.models.llms.base import AsyncLLM
from distilabel.models.llms.utils import prepare_output
from pydantic import Field, PrivateAttr, SecretStr

from curation.llms.cost import estimate_input_tokens, load_prices, price_of
from curation.llms.journal import Journal, request_key

RETRYABLE_STATUS = {429, 500, 502, 503, 504}


def retry_delay(error: Exception, attempt: int, backoff: float) -> float | None:
    """Seconds to wait before the next attempt, or None when retrying cannot help (a 400, a bad key)."""
    import httpx
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
    elif not isinstance(error, (httpx.TimeoutException, httpx.TransportError, json.JSONDecodeError)):
        return None
    return backoff * 2**attempt * (0.5 + random.random())  # jitter: many calls must not come back together


class CohereV2LLM(AsyncLLM):
    model: str
    base_url: Optional[RuntimeParameter[str]] = Field(
        default_factory=lambda: os.getenv("COHERE_BASE_URL"), description="Cohere API base URL (default: Cohere's).")
    api_key: Optional[RuntimeParameter[SecretStr]] = Field(
        default_factory=lambda: os.getenv("COHERE_API_KEY"), description="The API key (COHERE_API_KEY).")
    timeout: RuntimeParameter[float] = Field(default=120.0, description="Seconds before a call is given up.")
    max_attempts: RuntimeParameter[int] = Field(default=5, description="Attempts per call, the first included.")
    backoff_seconds: RuntimeParameter[float] = Field(default=1.0, description="First wait between attempts; doubles.")
    max_concurrency: RuntimeParameter[int] = Field(default=32, description="Calls in flight at most.")
    json_schema: Optional[dict[str, Any]] = Field(default=None, description="Structured output: the answer's JSON schema.")
    journal_path: Optional[str] = Field(default=None, description="Call journal (SQLite): resume without paying twice.")
    budget_usd: Optional[float] = Field(default=None, description="Hard budget over the journal; needs journal_path.")
    prices_path: Optional[str] = Field(default=None, description="Price table (default: curation/data/prices.yaml).")
    max_output_tokens_estimate: int = Field(default=1024, description="Output tokens assumed per call when max_tokens is unset.")

    _num_generations_param_supported = False
    _client: Any = PrivateAttr(None)
    _limits: dict = PrivateAttr(default_factory=dict)
    _journal: Any = PrivateAttr(None)
    _price: Any = PrivateAttr(None)
    _reserved_usd: float = PrivateAttr(0.0)

    def load(self) -> None:
        super().load()
        from cohere import AsyncClientV2

        if self.api_key is None:
            raise ValueError("no Cohere API key: set COHERE_API_KEY (or api_key)")
        self._client = AsyncClientV2(api_key=self.api_key.get_secret_value(), base_url=self.base_url,
                                     timeout=self.timeout, max_retries=0, client_name="curation")
        if self.budget_usd is not None and self.journal_path is None:
            raise ValueError("a budget needs a journal_path: the spend must survive a restart")
        self._journal = Journal(Path(self.journal_path)) if self.journal_path else None
        prices = load_prices(self.prices_path)
        # A budget needs this model's price; without one, a known price still costs the journal's calls.
        self._price = price_of(prices, self.model) if self.budget_usd is not None else prices.get(self.model)

    @property
    def model_name(self) -> str:
        return self.model

    def _limit(self) -> asyncio.Semaphore:
        # One semaphore per event loop: distilabel may run each batch on its own loop.
        loop = asyncio.get_running_loop()
        if loop not in self._limits:
            self._limits[loop] = asyncio.Semaphore(self.max_concurrency)
        return self._limits[loop]

    async def agenerate(self, input: list[dict[str, str]], max_tokens: Optional[int] = None,  # noqa: A002 (distilabel's name)
                        temperature: Optional[float] = None, seed: Optional[int] = None) -> dict:
        """One chat call: the text (None if every attempt failed) and its billed input and output tokens.

        Args:
            input: chat messages (system, user, assistant).
            max_tokens: the most tokens to generate.
            temperature: sampling temperature.
            seed: sampling seed, for repeatable answers.
        """
        options: dict[str, Any] = {key: value for key, value in
                                   (("max_tokens", max_tokens), ("temperature", temperature), ("seed", seed)) if value is not None}
        if self.json_schema is not None:
            options["response_format"] = {"type": "json_object", "json_schema": self.json_schema}
        messages = [{"role": message["role"], "content": message["content"]} for message in input]
        key = request_key(self.model, messages, options)
        if self._journal is not None and (done := self._journal.get(key)) is not None:  # paid for before a restart
            text, input_tokens, output_tokens = done
            return prepare_output([text], input_tokens=[input_tokens], output_tokens=[output_tokens])
        estimate = self._reserve(messages, max_tokens)
        if estimate is None:
            return prepare_output([None], input_tokens=[0], output_tokens=[0])
        try:
            return await self._call(key, messages, options)
        finally:
            self._reserved_usd -= estimate

    def _reserve(self, messages: list[dict], max_tokens: Optional[int]) -> float | None:
        """Hold the call's worst cost against the budget; None (no call) when it would go over."""
        if self.budget_usd is None:
            return 0.0
        estimate = self._price.usd(estimate_input_tokens(messages), max_tokens or self.max_output_tokens_estimate)
        if self._journal.spent() + self._reserved_usd + estimate > self.budget_usd:
            self._logger.warning(f"budget of {self.budget_usd} USD reached: call not made")
            return None
        self._reserved_usd += estimate
        return estimate

    async def _call(self, key: str, messages: list[dict], options: dict[str, Any]) -> dict:
        for attempt in range(self.max_attempts):
            try:
                async with self._limit():
                    response = await self._client.chat(model=self.model, messages=messages, **options)
                text = response.message.content[0].text
                if self.json_schema is not None:
                    json.loads(text)  # an answer that is not the JSON asked for is retried like a bad body
                usage = response.usage.billed_units
                input_tokens, output_tokens = int(usage.input_tokens or 0), int(usage.output_tokens or 0)
                if self._journal is not None:
                    cost = self._price.usd(input_tokens, output_tokens) if self._price else 0.0
                    self._journal.record(key, self.model, text, input_tokens, output_tokens, cost)
                return prepare_output([text], input_tokens=[input_tokens], output_tokens=[output_tokens])
            except Exception as error:  # classified below: retried, or given up at once
                wait = retry_delay(error, attempt, self.backoff_seconds)
                if wait is None or attempt == self.max_attempts - 1:
                    self._logger.warning(f"Cohere call failed after {attempt + 1} attempt(s): {type(error).__name__}")
                    break
                await asyncio.sleep(wait)
        return prepare_output([None], input_tokens=[0], output_tokens=[0])

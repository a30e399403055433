"""What every paid LLM of the engine shares, whatever its API: the call journal (resume without paying
twice), the hard budget held over the journal, prices from the table, and a limit on calls in flight."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Optional

from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.models.llms.utils import prepare_output
from pydantic import BaseModel, Field, PrivateAttr

from curation.llms.cost import estimate_input_tokens, load_prices, price_of
from curation.llms.journal import Journal, request_key

NO_ANSWER = prepare_output([None], input_tokens=[0], output_tokens=[0])


class PaidCalls(BaseModel):
    """Mixed into a distilabel AsyncLLM, which supplies `response_format` (the API's structured-output
    shape) and `_call`: one request's (text, input tokens, output tokens), None when nothing was billed
    (it failed), or a None text when an answer was billed but is unusable (cut at max_tokens, not the
    JSON asked for). A billed answer is journaled either way: it counts against the budget, and a
    resumed run does not pay for it again."""

    json_schema: Optional[dict[str, Any]] = Field(default=None, description="Structured output: the answer's JSON schema.")
    max_concurrency: RuntimeParameter[int] = Field(default=32, description="Calls in flight at most.")
    journal_path: Optional[str] = Field(default=None, description="Call journal (SQLite): resume without paying twice.")
    budget_usd: Optional[float] = Field(default=None, description="Hard budget over the journal; needs journal_path.")
    prices_path: Optional[str] = Field(default=None, description="Price table (default: curation/data/prices.yaml).")
    max_output_tokens_estimate: int = Field(default=1024, description="Output tokens assumed per call when max_tokens is unset.")

    _limits: dict = PrivateAttr(default_factory=dict)
    _journal: Any = PrivateAttr(None)
    _price: Any = PrivateAttr(None)

    def load_paid_calls(self, model: str) -> None:
        if self.budget_usd is not None and self.journal_path is None:
            raise ValueError("a budget needs a journal_path: the spend must survive a restart")
        self._journal = Journal(Path(self.journal_path)) if self.journal_path else None
        prices = load_prices(self.prices_path)
        # A budget needs this model's price; without one, a known price still costs the journal's calls.
        self._price = price_of(prices, model) if self.budget_usd is not None else prices.get(model)

    def limit(self) -> asyncio.Semaphore:
        # One semaphore per event loop: distilabel may run each batch on its own loop.
        loop = asyncio.get_running_loop()
        if loop not in self._limits:
            self._limits[loop] = asyncio.Semaphore(self.max_concurrency)
        return self._limits[loop]

    async def agenerate(self, input: list[dict[str, str]], max_tokens: Optional[int] = None,  # noqa: A002 (distilabel's name)
                        temperature: Optional[float] = None, seed: Optional[int] = None) -> dict:
        """One chat call: the text (None if it failed) and its billed input and output tokens.

        Args:
            input: chat messages (system, user, assistant).
            max_tokens: the most tokens to generate.
            temperature: sampling temperature.
            seed: sampling seed, for repeatable answers.
        """
        messages, options = self.chat_request(input, max_tokens, temperature, seed)
        return await self.journaled(messages, options, max_tokens, lambda: self._call(messages, options))

    def chat_request(self, input: list[dict[str, str]], max_tokens: Optional[int] = None,  # noqa: A002
                     temperature: Optional[float] = None, seed: Optional[int] = None) -> tuple[list[dict], dict[str, Any]]:
        """The messages and options sent for one call: what the journal keys it by."""
        options: dict[str, Any] = {key: value for key, value in
                                   (("max_tokens", max_tokens), ("temperature", temperature), ("seed", seed)) if value is not None}
        if self.json_schema is not None:
            options["response_format"] = self.response_format(self.json_schema)
        return [{"role": message["role"], "content": message["content"]} for message in input], options

    def paid_before(self, journal: Journal, input: list[dict[str, str]]) -> bool:  # noqa: A002
        """Whether this call, with this LLM's generation settings, is in the journal already."""
        messages, options = self.chat_request(input, **self.generation_kwargs)
        return journal.get(request_key(self.model_name, messages, options)) is not None

    async def journaled(self, messages: list[dict], options: dict[str, Any], max_tokens: Optional[int],
                        call: Callable[[], Awaitable[tuple[str | None, int, int] | None]]) -> dict:
        """distilabel's output for one request: from the journal if it was paid for before (a restart),
        else from `call` (text, input and output tokens, or None when it failed) if the budget allows,
        recorded in the journal before the answer is used."""
        key = request_key(self.model_name, messages, options)
        if self._journal is not None and (done := self._journal.get(key)) is not None:
            text, input_tokens, output_tokens = done
            return prepare_output([text], input_tokens=[input_tokens], output_tokens=[output_tokens])
        estimate = self._reserve(messages, max_tokens)
        if estimate is None:
            return NO_ANSWER
        try:
            answer = await call()
        except BaseException:
            self._release(estimate)
            raise
        if answer is None:
            self._release(estimate)
            return NO_ANSWER
        text, input_tokens, output_tokens = answer
        if text is None:
            self._logger.warning(f"{self.model_name}: an answer was billed but is unusable (cut short, or not the JSON asked for)")
        if self._journal is not None:
            cost = self._price.usd(input_tokens, output_tokens) if self._price else 0.0
            self._journal.record(key, self.model_name, text, input_tokens, output_tokens, cost, reserved=estimate)
        return prepare_output([text], input_tokens=[input_tokens], output_tokens=[output_tokens])

    def _release(self, estimate: float) -> None:
        if estimate:
            self._journal.release(estimate)

    def usable(self, text: str | None, truncated: bool) -> bool:
        """An answer to keep: complete, and the JSON asked for when a schema was given."""
        if text is None or truncated:
            return False
        if self.json_schema is None:
            return True
        try:
            json.loads(text)
        except json.JSONDecodeError:
            return False
        return True

    def _reserve(self, messages: list[dict], max_tokens: Optional[int]) -> float | None:
        """Hold the call's worst cost against the budget; None (no call) when it would go over."""
        if self.budget_usd is None:
            return 0.0
        estimate = self._price.usd(estimate_input_tokens(messages), max_tokens or self.max_output_tokens_estimate)
        if not self._journal.reserve(estimate, self.budget_usd):
            self._logger.warning(f"budget of {self.budget_usd} USD reached: call not made")
            return None
        return estimate

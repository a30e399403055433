"""What every paid LLM of the engine shares, whatever its API: the call journal (resume without paying
twice), the hard budget held over the journal, prices from the table, a limit on calls in flight, and
the retries, each attempt reserved and accounted for on its own: the API may bill every attempt."""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any, NamedTuple, Optional

from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.models.llms.utils import prepare_output
from pydantic import BaseModel, Field, PrivateAttr

from curation.llms.cost import estimate_input_tokens, load_prices, price_of
from curation.llms.journal import Journal, request_key

NO_ANSWER = prepare_output([None], input_tokens=[0], output_tokens=[0])
RETRYABLE_STATUS = {429, 500, 502, 503, 504}
# Transport errors raised before the request left: nothing reached the server, nothing was billed.
NOT_SENT = {"ConnectError", "ConnectTimeout", "PoolTimeout"}


class Answer(NamedTuple):
    text: str | None  # None: billed but unusable (cut at max_tokens, not the JSON asked for)
    usage: tuple[int, int] | None  # billed input and output tokens; None when the API did not say


@dataclass(frozen=True)
class Failure:
    """What a failed attempt tells: its kind (named when a whole run gets nothing), whether the API may
    have billed it (its worst cost then counts as spent), and whether another attempt can help."""
    kind: str
    maybe_billed: bool
    retryable: bool
    retry_after: float | None = None


UNREADABLE = Failure("unreadable answer", maybe_billed=True, retryable=True)  # a 200 whose body could not be parsed


def billed_usage(input_tokens: float | None, output_tokens: float | None) -> tuple[int, int] | None:
    """Both billed counts, or None when the API left one out."""
    return None if input_tokens is None or output_tokens is None else (int(input_tokens), int(output_tokens))


def status_failure(status: int, body: Any, headers: Any) -> Failure:
    """An HTTP error status. The APIs bill the answers they generate, and an error status with the API's
    JSON error says none was (Cohere bills no failed request). A 5xx without it (a gateway's page, its
    timeout) may hide an answer generated behind the gateway: counted at its worst cost."""
    retry_after = {name.lower(): value for name, value in (headers or {}).items()}.get("retry-after")
    try:
        kind = f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        kind = f"HTTP {status}"
    return Failure(kind, maybe_billed=status >= 500 and not isinstance(body, dict), retryable=status in RETRYABLE_STATUS,
                   retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None)


def transport_failure(error: BaseException) -> Failure:
    """A transport error, known by its class names: cohere raises httpx's, openai httpx2's, named alike.
    Past the connection the request reached the server, and a timeout or a connection dropped mid-body
    may follow an answer generated and billed."""
    names = {kind.__name__ for kind in type(error).__mro__}
    if names & NOT_SENT:
        return Failure("could not connect", maybe_billed=False, retryable=True)
    kind = "timeout" if "TimeoutException" in names else f"connection broken ({type(error).__name__})"
    return Failure(kind, maybe_billed=True, retryable=True)


def unexpected(error: Exception) -> Failure:
    """An error nobody planned for: the request may have been sent, and retrying will not help."""
    return Failure(type(error).__name__, maybe_billed=True, retryable=False)


class PaidCalls(BaseModel):
    """Mixed into a distilabel AsyncLLM, which supplies `response_format` (the API's structured-output
    shape), `_attempt` (one request, no retry: its Answer, or an exception) and `failure` (what that
    exception says: a Failure). A billed answer is journaled even when unusable: it counts against the
    budget, and a resumed run does not pay for it again."""

    json_schema: Optional[dict[str, Any]] = Field(default=None, description="Structured output: the answer's JSON schema.")
    max_concurrency: RuntimeParameter[int] = Field(default=32, ge=1, description="Calls in flight at most.")
    max_attempts: RuntimeParameter[int] = Field(default=5, ge=1, description="Attempts per call, the first included.")
    backoff_seconds: RuntimeParameter[float] = Field(default=1.0, ge=0, description="First wait between attempts; doubles.")
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

    async def close_client(self) -> None:
        """Close the HTTP client's connections (each LLM closes its own client)."""
        raise NotImplementedError

    def unload(self) -> None:
        # distilabel unloads an LLM but leaves its client's sockets open until the garbage collector finds them.
        if self._event_loop is not None and not self._event_loop.is_closed():
            self._event_loop.run_until_complete(self.close_client())
        super().unload()

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
        return await self.journaled(messages, options, max_tokens)

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

    async def journaled(self, messages: list[dict], options: dict[str, Any], max_tokens: Optional[int]) -> dict:
        """distilabel's output for one request: from the journal if it was paid for before (a restart),
        else from the API, attempt by attempt while the budget allows each one at its worst cost, and
        recorded in the journal before the answer is used."""
        key = request_key(self.model_name, messages, options)
        if self._journal is not None and (done := self._journal.get(key)) is not None:
            text, input_tokens, output_tokens = done
            return prepare_output([text], input_tokens=[input_tokens], output_tokens=[output_tokens])
        worst, wait = self._worst_cost(messages, max_tokens), 0.0
        for attempt in range(self.max_attempts):
            if wait:
                await asyncio.sleep(wait)
            if not self._reserve(worst):
                self._logger.warning(f"budget of {self.budget_usd} USD reached: call not made")
                return NO_ANSWER
            try:
                async with self.limit():
                    answer = await self._attempt(messages, options)
            except Exception as error:  # a cancellation (BaseException) keeps its reservation: counted at the next start
                failure = self.failure(error)
                self._fail(failure, worst)
                if not failure.retryable:
                    break
                # Jittered: many calls must not come back together.
                wait = failure.retry_after or self.backoff_seconds * 2**attempt * (0.5 + random.random())
            else:
                return self._record(key, answer, worst)
        self._logger.warning(f"{self.model_name}: call failed after {attempt + 1} attempt(s): {failure.kind}")
        return NO_ANSWER

    def _worst_cost(self, messages: list[dict], max_tokens: Optional[int]) -> float:
        """What one attempt can cost at most: the input at 3 characters a token, the output at max_tokens."""
        if self._price is None:
            return 0.0
        return self._price.usd(estimate_input_tokens(messages), max_tokens or self.max_output_tokens_estimate)

    def _reserve(self, worst: float) -> bool:
        """Hold an attempt's worst cost in the journal; False (no attempt) when the budget cannot hold it."""
        return self._journal is None or self._journal.reserve(worst, self.budget_usd)

    def _fail(self, failure: Failure, worst: float) -> None:
        if self._journal is not None:
            self._journal.fail(failure.kind, reserved=worst, unconfirmed=worst if failure.maybe_billed else 0.0)

    def _record(self, key: str, answer: Answer, worst: float) -> dict:
        if answer.text is None:
            self._logger.warning(f"{self.model_name}: an answer was billed but is unusable (cut short, or not the JSON asked for)")
        if answer.usage is None:
            self._logger.warning(f"{self.model_name}: an answer came without its billed usage: counted at its worst cost")
        input_tokens, output_tokens = answer.usage or (0, 0)
        if self._journal is not None:
            billed = self._price.usd(input_tokens, output_tokens) if self._price else 0.0
            self._journal.record(key, self.model_name, answer.text, input_tokens, output_tokens, billed, reserved=worst,
                                 unconfirmed=0.0 if answer.usage else worst)
        return prepare_output([answer.text], input_tokens=[input_tokens], output_tokens=[output_tokens])

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

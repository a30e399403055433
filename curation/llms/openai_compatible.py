"""OpenAI-compatible endpoints (vLLM, llama.cpp's server, OpenAI) through distilabel's `OpenAILLM`, with
the same journal, budget, concurrency limit and retries as the Cohere LLM. The openai client's own
retries are off: each attempt must be reserved against the budget and accounted for, and the client
would make them unseen. A call that still fails gives no text, never a placeholder. A local model costs
nothing unless you give it a price in the table.
"""

from __future__ import annotations

from typing import Any

from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.models.llms.openai import OpenAILLM
from pydantic import Field

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


class OpenAICompatibleLLM(PaidCalls, OpenAILLM):
    max_retries: RuntimeParameter[int] = Field(default=0, ge=0, le=0, description="Always 0: see max_attempts.")
    _num_generations_param_supported = False  # one answer per call: the journal keys one request to one answer

    def load(self) -> None:
        super().load()
        self.load_paid_calls(self.model)

    async def close_client(self) -> None:
        if self._aclient is not None:
            await self._aclient.close()

    def response_format(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}

    async def _attempt(self, messages: list[dict], options: dict[str, Any]) -> Answer:
        completion = await self._aclient.chat.completions.create(model=self.model, messages=messages, **options)
        usage = completion.usage
        choice = completion.choices[0]
        text = choice.message.content
        return Answer(text if self.usable(text, choice.finish_reason == "length") else None,
                      billed_usage(usage.prompt_tokens, usage.completion_tokens) if usage else None)

    def failure(self, error: Exception) -> Failure:
        import openai

        if isinstance(error, openai.APIStatusError):
            return status_failure(error.status_code, error.body, error.response.headers)
        if isinstance(error, openai.APIConnectionError):  # a timeout too: the transport error is its cause
            return transport_failure(error.__cause__ or error)
        if isinstance(error, (ValueError, openai.APIResponseValidationError)):  # a 200 whose body is not the JSON expected
            return UNREADABLE
        return unexpected(error)

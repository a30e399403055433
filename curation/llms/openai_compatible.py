"""OpenAI-compatible endpoints (vLLM, llama.cpp's server, OpenAI) through distilabel's `OpenAILLM`, with
the same journal, budget and concurrency limit as the Cohere LLM. The openai client retries 429, 5xx
and timeouts itself, honouring Retry-After; a call that still fails gives no text, never a placeholder.
A local model costs nothing unless you give it a price in the table.
"""

from __future__ import annotations

from typing import Any

from distilabel.models.llms.openai import OpenAILLM

from curation.llms.paid_calls import PaidCalls


class OpenAICompatibleLLM(PaidCalls, OpenAILLM):
    _num_generations_param_supported = False  # one answer per call: the journal keys one request to one answer

    def load(self) -> None:
        super().load()
        self.load_paid_calls(self.model)

    def response_format(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}

    async def _call(self, messages: list[dict], options: dict[str, Any]) -> tuple[str | None, int, int] | None:
        import openai

        try:
            async with self.limit():
                completion = await self._aclient.chat.completions.create(model=self.model, messages=messages, **options)
        except (openai.OpenAIError, ValueError) as error:  # the client's own retries are spent, or a bad body
            self._logger.warning(f"OpenAI-compatible call failed: {type(error).__name__}")
            return None
        usage = completion.usage
        tokens = int(usage.prompt_tokens if usage else 0), int(usage.completion_tokens if usage else 0)
        choice = completion.choices[0]
        text = choice.message.content
        return (text if self.usable(text, choice.finish_reason == "length") else None), *tokens

"""OpenAI-compatible endpoints (vLLM, llama.cpp's server, OpenAI) through distilabel's `OpenAILLM`, with
the same journal, budget and concurrency limit as the Cohere LLM. The openai client retries 429, 5xx
and timeouts itself, honouring Retry-After; a call that still fails gives no text, never a placeholder.
A local model costs nothing unless you give it a price in the table.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from distilabel.models.llms.openai import OpenAILLM
from pydantic import Field

from curation.llms.paid_calls import PaidCalls


class OpenAICompatibleLLM(PaidCalls, OpenAILLM):
    json_schema: Optional[dict[str, Any]] = Field(default=None, description="Structured output: the answer's JSON schema.")

    _num_generations_param_supported = False  # one answer per call: the journal keys one request to one answer

    def load(self) -> None:
        super().load()
        self.load_paid_calls(self.model)

    async def agenerate(self, input: list[dict[str, str]], max_tokens: Optional[int] = None,
                        temperature: Optional[float] = None, seed: Optional[int] = None) -> dict:
        """One chat call: the text (None if it failed) and its input and output tokens.

        Args:
            input: chat messages (system, user, assistant).
            max_tokens: the most tokens to generate.
            temperature: sampling temperature.
            seed: sampling seed, for repeatable answers.
        """
        options: dict[str, Any] = {key: value for key, value in
                                   (("max_tokens", max_tokens), ("temperature", temperature), ("seed", seed)) if value is not None}
        if self.json_schema is not None:
            options["response_format"] = {"type": "json_schema", "json_schema": {"name": "answer", "schema": self.json_schema}}
        messages = [{"role": message["role"], "content": message["content"]} for message in input]
        return await self.journaled(messages, options, max_tokens, lambda: self._call(messages, options))

    async def _call(self, messages: list[dict], options: dict[str, Any]) -> tuple[str, int, int] | None:
        import openai

        try:
            async with self.limit():
                completion = await self._aclient.chat.completions.create(model=self.model, messages=messages, **options)
        except (openai.OpenAIError, ValueError) as error:  # the client's own retries are spent, or a bad body
            self._logger.warning(f"OpenAI-compatible call failed: {type(error).__name__}")
            return None
        text = completion.choices[0].message.content
        if text is None or (self.json_schema is not None and not _is_json(text)):
            return None
        usage = completion.usage
        return text, int(usage.prompt_tokens if usage else 0), int(usage.completion_tokens if usage else 0)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True

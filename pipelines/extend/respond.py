"""Step 2: a candidate answer. Two styles make the pair: `role_aware` (the role plus an instruction to
answer from the country's culture and language variety, on a strong model) and `plain` (the prompt
alone, on a small model)."""

from __future__ import annotations

from typing import Literal

from curation.countries import local_name
from curation.llms.guarded_task import GuardedTask

VARIETY_INSTRUCTION = ("Responde como lo haría alguien de {country}: en la variedad local de la lengua (vocabulario, "
                       "tratamiento, giros), con conocimiento vivido del contexto y sin estereotipos.")


Style = Literal["role_aware", "plain"]


def respond_messages(row: dict, style: Style) -> list[dict[str, str]]:
    if style == "plain":
        return [{"role": "user", "content": row["prompt"]}]
    system = f"{row['system_prompt']}\n{VARIETY_INSTRUCTION.format(country=local_name(row['country']))}"
    return [{"role": "system", "content": system}, {"role": "user", "content": row["prompt"]}]


class Respond(GuardedTask):
    style: Style

    @property
    def inputs(self) -> list[str]:
        return ["country", "system_prompt", "prompt"]

    @property
    def outputs(self) -> list[str]:
        return [f"response_{self.style}", f"model_{self.style}"]

    def format_input(self, input: dict) -> list[dict[str, str]]:  # noqa: A002 (distilabel's name)
        return respond_messages(input, self.style)

    def format_output(self, output: str | None, input: dict | None = None) -> dict:
        text = output.strip() if output else None
        return {f"response_{self.style}": text or None, f"model_{self.style}": self.llm.model_name}

"""Step 1: a new prompt for a gap (country x dimension), written to the guide (../shared/guide.md):
not trivial, neutral, anchored in a place and a role, open to several valid answers, 2-3 lines, in
the country's language and variety. The role becomes the row's system prompt."""

from __future__ import annotations

import json

from curation.countries import local_name
from curation.llms.guarded_task import GuardedTask

PROMPT_SCHEMA = {
    "type": "object",
    "properties": {"system_prompt": {"type": "string", "description": "The role, in the second person: 'Eres ...'."},
                   "prompt": {"type": "string", "description": "What the person asks, 2-3 lines."}},
    "required": ["system_prompt", "prompt"],
}

WRITER_GUIDE = """Escribes prompts para un dataset de preferencias culturalmente alineado. Un buen prompt:
- no es trivial: un extranjero con internet no podría responderlo bien en minutos;
- es neutral: sin carga política, religiosa o ideológica;
- está contextualizado: anclado en un lugar, una situación o una relación, y habla desde un rol concreto
  (país, región, edad, género, oficio), nunca "una persona de X";
- admite varias respuestas culturalmente válidas;
- tiene 2 o 3 líneas, en la lengua y la variedad habituales del país (vocabulario, tratamiento).
Nunca induce un estereotipo ("¿por qué los X son tan...?").
Devuelve JSON con "system_prompt" (el rol, en segunda persona: "Eres ...") y "prompt" (lo que pide esa persona)."""


def writer_messages(request: dict) -> list[dict[str, str]]:
    ask = (f"País: {local_name(request['country'])} ({request['country']}).\n"
           f"Dimensión cultural: {request['dimension_text']}.\n"
           f"Rol: {request['rol']} ({request['genero']}, {request['edad']} años); adapta el rol al género.\n"
           f"Plantilla: {request['template_text']}\n"
           f"Encargo {request['request_id']}: que no repita otros prompts de esta celda.")
    return [{"role": "system", "content": WRITER_GUIDE}, {"role": "user", "content": ask}]


class WritePrompt(GuardedTask):
    @property
    def inputs(self) -> list[str]:
        return ["request_id", "country", "dimension_text", "template_text", "edad", "genero", "rol"]

    @property
    def outputs(self) -> list[str]:
        return ["system_prompt", "prompt", "prompt_model"]

    def format_input(self, input: dict) -> list[dict[str, str]]:  # noqa: A002 (distilabel's name)
        return writer_messages(input)

    def format_output(self, output: str | None, input: dict | None = None) -> dict:
        written = _parse(output)
        if not {"system_prompt", "prompt"} <= written.keys():  # half a request is no request
            written = {}
        return {"system_prompt": written.get("system_prompt"), "prompt": written.get("prompt"),
                "prompt_model": self.llm.model_name}


def _parse(output: str | None) -> dict[str, str]:
    """The JSON answer's non-empty texts; {} when there is no answer or it is not the JSON asked for."""
    try:
        answer = json.loads(output) if output else {}
    except json.JSONDecodeError:
        return {}
    if not isinstance(answer, dict):
        return {}
    return {key: value.strip() for key, value in answer.items() if isinstance(value, str) and value.strip()}

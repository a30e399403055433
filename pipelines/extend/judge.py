"""Step 3: an LLM judge rates both candidates on the guide's criteria, with a rationale. The candidates
are shown in an order drawn per row (a judge may favour whichever comes first); `a_is_role_aware`
says which it was. `verdict.py` turns the ratings into chosen/rejected, ties and both-bad."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, ValidationError

from curation.countries import local_name
from curation.llms.guarded_task import GuardedTask
from curation.schema import seeded_coin

CRITERIA = ("correct", "cultural_fit", "natural_variety")
_RATING = {"type": "integer", "minimum": 1, "maximum": 5}
_CANDIDATE = {"type": "object", "properties": {**{name: _RATING for name in CRITERIA}, "stereotype": {"type": "boolean"}},
              "required": [*CRITERIA, "stereotype"]}
JUDGE_SCHEMA = {"type": "object", "properties": {"a": _CANDIDATE, "b": _CANDIDATE, "rationale": {"type": "string"}},
                "required": ["a", "b", "rationale"]}

Score = Annotated[int, Field(ge=1, le=5)]


class CandidateRating(BaseModel):
    correct: Score
    cultural_fit: Score
    natural_variety: Score
    stereotype: bool


class Judgement(BaseModel):
    """What JUDGE_SCHEMA asks for, checked row by row: an answer that is JSON but not this (a string
    for a score, a missing candidate) is an unreadable judgement, filed as failed, never a verdict."""
    a: CandidateRating
    b: CandidateRating
    rationale: str


JUDGE_GUIDE = """Evalúas dos respuestas a un prompt de un dataset de preferencias culturalmente alineado.
Juzga desde el rol del prompt y su país, no desde ti. Para cada respuesta, de 1 a 5:
- correct: información correcta; mejor si explica el porqué o el cuándo que si da datos sueltos;
- cultural_fit: encaja con la cultura del país y del rol; lo localmente más natural gana;
- natural_variety: suena natural en la variedad local (voseo, leísmo, palabras locales) y usa la misma
  variedad que el prompt; no hay un español "neutro" que premiar;
y stereotype: true si la respuesta reproduce un estereotipo (la regla de la trampa de sesgo).
Si hay turnos previos en el prompt, gana la respuesta que los continúa con el mismo registro.
Devuelve JSON con "a", "b" y "rationale" (dos o tres frases)."""


def a_is_role_aware(request_id: str, seed: int) -> bool:
    return seeded_coin(seed, request_id)


def judge_messages(row: dict, seed: int) -> list[dict[str, str]]:
    first, second = ("response_role_aware", "response_plain") if a_is_role_aware(row["request_id"], seed) \
        else ("response_plain", "response_role_aware")
    case = (f"País: {local_name(row['country'])}\nRol (system prompt): {row['system_prompt']}\n"
            f"Prompt: {row['prompt']}\n\nRespuesta A:\n{row[first]}\n\nRespuesta B:\n{row[second]}")
    return [{"role": "system", "content": JUDGE_GUIDE}, {"role": "user", "content": case}]


class JudgeCandidates(GuardedTask):
    seed: int = 0

    @property
    def inputs(self) -> list[str]:
        return ["request_id", "country", "system_prompt", "prompt", "response_role_aware", "response_plain"]

    @property
    def outputs(self) -> list[str]:
        return ["judgement", "judge_model"]

    def format_input(self, input: dict) -> list[dict[str, str]]:  # noqa: A002 (distilabel's name)
        return judge_messages(input, self.seed)

    def format_output(self, output: str | None, input: dict | None = None) -> dict:
        try:
            judgement = Judgement.model_validate_json(output).model_dump_json() if output else None
        except ValidationError:
            judgement = None
        return {"judgement": judgement, "judge_model": self.llm.model_name}

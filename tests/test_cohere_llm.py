"""The Cohere v2 LLM for distilabel, through the real `cohere` client against the local emulator."""

import time

import pytest

from curation.llms.cohere_emulator import CohereEmulator
from curation.llms.cohere_v2 import CohereV2LLM

CHAT = [{"role": "system", "content": "Eres una abuela de Rosario."}, {"role": "user", "content": "¿Mate dulce o amargo?"}]


@pytest.fixture
def emulator():
    with CohereEmulator() as running:
        yield running


def llm_for(emulator, **settings) -> CohereV2LLM:
    llm = CohereV2LLM(model="command-r7b-12-2024", base_url=emulator.base_url, api_key="test-key",
                      backoff_seconds=0.05, timeout=2, **settings)
    llm.load()
    return llm


def test_chat_with_system_message_returns_text_and_billed_tokens(emulator):
    [output] = llm_for(emulator).generate_outputs(inputs=[CHAT])
    assert isinstance(output["generations"][0], str) and len(output["generations"][0].split()) == 40
    assert output["statistics"] == {"input_tokens": [9], "output_tokens": [40]}  # the emulator bills words
    assert emulator.requests[0]["messages"][0] == {"role": "system", "content": "Eres una abuela de Rosario."}
    assert emulator.requests[0]["model"] == "command-r7b-12-2024"


def test_structured_output_follows_the_schema(emulator):
    import json

    schema = {"type": "object", "properties": {"score": {"type": "integer", "minimum": 1, "maximum": 5},
                                               "rationale": {"type": "string"}}, "required": ["score", "rationale"]}
    [output] = llm_for(emulator, json_schema=schema).generate_outputs(inputs=[CHAT])
    answer = json.loads(output["generations"][0])
    assert 1 <= answer["score"] <= 5 and isinstance(answer["rationale"], str)
    assert emulator.requests[0]["response_format"] == {"type": "json_object", "json_schema": schema}


def test_faults_are_retried_and_retry_after_is_honoured(emulator):
    emulator.inject("429", "500", "malformed", "timeout")
    started = time.perf_counter()
    [output] = llm_for(emulator).generate_outputs(inputs=[CHAT])
    assert isinstance(output["generations"][0], str)
    assert len(emulator.requests) == 5
    assert time.perf_counter() - started >= 1 + 2  # Retry-After: 1, and a 2 s timeout


def test_a_call_that_keeps_failing_leaves_no_text(emulator):
    emulator.inject(*["500"] * 5)
    [output] = llm_for(emulator).generate_outputs(inputs=[CHAT])
    assert output["generations"] == [None] and output["statistics"] == {"input_tokens": [0], "output_tokens": [0]}


def test_calls_in_flight_stay_under_the_limit(emulator):
    emulator.latency = 0.2
    outputs = llm_for(emulator, max_concurrency=4).generate_outputs(
        inputs=[[{"role": "user", "content": f"pregunta {number}"}] for number in range(16)])
    assert len(outputs) == 16 and all(output["generations"][0] for output in outputs)
    assert emulator.most_in_flight <= 4


def test_a_real_distilabel_pipeline_generates_through_it(emulator, tmp_path):
    from distilabel.pipeline import Pipeline
    from distilabel.steps import LoadDataFromDicts
    from distilabel.steps.tasks import TextGeneration

    with Pipeline(name="cohere-v2-test", cache_dir=str(tmp_path)) as pipeline:
        rows = LoadDataFromDicts(data=[{"instruction": "¿Qué es el chipá?", "system_prompt": "Eres de Asunción."},
                                       {"instruction": "¿Qué es el tereré?", "system_prompt": "Eres de Encarnación."}])
        generate = TextGeneration(llm=CohereV2LLM(model="command-r7b-12-2024", base_url=emulator.base_url, api_key="test-key"),
                                  system_prompt=None)
        rows >> generate
    distiset = pipeline.run(use_cache=False)
    produced = distiset["default"]["train"]
    assert len(produced) == 2 and all(row["generation"] for row in produced)
    assert all(row["model_name"] == "command-r7b-12-2024" for row in produced)
    assert {message["content"] for request in emulator.requests for message in request["messages"]} >= {"Eres de Asunción."}

"""The Cohere v2 LLM for distilabel, through the real `cohere` client against the local emulator."""

import time

import polars as pl
import pytest

from curation.llms.cohere_v2 import CohereV2LLM
from curation.testing import LOADED_LLMS

CHAT = [{"role": "system", "content": "Eres una abuela de Rosario."}, {"role": "user", "content": "¿Mate dulce o amargo?"}]


def llm_for(emulator, **settings) -> CohereV2LLM:
    llm = CohereV2LLM(model="command-r7b-12-2024", base_url=emulator.base_url, api_key="test-key",
                      backoff_seconds=0.05, timeout=2, **settings)
    llm.load()
    LOADED_LLMS.append(llm)
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


def test_a_restarted_run_does_not_pay_twice(emulator, tmp_path):
    journal = str(tmp_path / "calls.sqlite")
    inputs = [[{"role": "user", "content": f"pregunta {number}"}] for number in range(6)]
    first = llm_for(emulator, journal_path=journal).generate_outputs(inputs=inputs[:4])
    paid = len(emulator.requests)
    again = llm_for(emulator, journal_path=journal).generate_outputs(inputs=inputs)  # a new process, same journal
    assert len(emulator.requests) == paid + 2  # only the two calls not made before
    assert [o["generations"] for o in again[:4]] == [o["generations"] for o in first]


def test_the_budget_stops_calls_before_it_is_exceeded(emulator, tmp_path):
    from curation.llms.cost import load_prices
    from curation.llms.journal import Journal

    journal = tmp_path / "calls.sqlite"
    price = load_prices()["command-r7b-12-2024"]
    one_call = price.usd(10, 100)  # estimated per call: a short prompt and max_tokens=100
    llm = llm_for(emulator, journal_path=str(journal), budget_usd=3.5 * one_call, max_concurrency=1)
    outputs = llm.generate_outputs(inputs=[[{"role": "user", "content": f"pregunta {n}"}] for n in range(10)], max_tokens=100)
    made = [o for o in outputs if o["generations"][0] is not None]
    assert 3 <= len(made) < 10 and len(emulator.requests) == len(made)
    assert Journal(journal).spent() <= 3.5 * one_call


def test_dry_run_estimate_prices_every_step_at_its_worst_case():
    """The extension's dry run (the estimate `curation extend --dry-run` prints) on two real requests:
    each step's USD is the price table's at its token bounds, outputs at max_tokens, and the total adds up."""
    from curation.llms.cost import estimate_input_tokens, load_prices
    from curation.pipelines.extend.config import ExtendConfig
    from curation.pipelines.extend.estimate import estimate
    from curation.pipelines.extend.write_prompt import writer_messages

    price = load_prices()["command-a-03-2025"]
    assert price.usd(1_000_000, 1_000_000) == 12.5
    assert estimate_input_tokens([{"role": "user", "content": "x" * 400}]) == 137  # 3 characters a token, erring high
    requests = pl.DataFrame([{"request_id": f"PE:knowledge:{n}", "country": "PE", "dimension": "knowledge",
                              "dimension_text": "conocimiento cultural", "template": "t1", "template_text": "¿Qué se come en {lugar}?",
                              "edad": "30", "genero": "mujer", "rol": "cocinera"} for n in range(2)])
    config = ExtendConfig()
    table = estimate(requests, config)
    steps = {row["step"]: row for row in table.iter_rows(named=True)}
    assert list(steps) == ["write_prompt", "respond_role_aware", "respond_plain", "judge", "total"]
    writer = steps["write_prompt"]
    assert writer["input_tokens"] == sum(estimate_input_tokens(writer_messages(row)) for row in requests.iter_rows(named=True))
    assert writer["output_tokens"] == 2 * config.max_tokens.prompt_writer
    assert steps["judge"]["output_tokens"] == 2 * config.max_tokens.judge
    prices = load_prices()
    for name in ("write_prompt", "respond_role_aware", "respond_plain", "judge"):
        row = steps[name]
        assert row["calls"] == 2 and row["usd"] == prices[row["model"]].usd(row["input_tokens"], row["output_tokens"])
    assert steps["total"]["usd"] == pytest.approx(sum(steps[name]["usd"] for name in list(steps)[:4]), rel=1e-12)
    assert table.schema["usd"] == pl.Float64  # a number, unrounded: printing rounds


GENERATE = """
import sys
from curation.llms.cohere_v2 import CohereV2LLM
llm = CohereV2LLM(model="command-r7b-12-2024", base_url=sys.argv[1], api_key="test-key", journal_path=sys.argv[2],
                  max_concurrency=4)
llm.load()
llm.generate_outputs(inputs=[[{"role": "user", "content": f"pregunta {n}"}] for n in range(40)])
"""


def test_kill_9_then_resume_pays_only_for_unfinished_calls(emulator, tmp_path):
    import signal
    import subprocess
    import sys

    from curation.llms.journal import Journal

    emulator.latency = 0.1
    journal = tmp_path / "calls.sqlite"
    command = [sys.executable, "-c", GENERATE, emulator.base_url, str(journal)]
    killed = subprocess.Popen(command)
    while not journal.exists() or Journal(journal).calls() < 8:
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    finished_before = Journal(journal).calls()
    assert finished_before < 40
    requests_before = len(emulator.requests)
    subprocess.run(command, check=True)
    assert Journal(journal).calls() == 40
    # Finished calls were not paid again; only the unfinished ones (at most 4 were in flight) were.
    assert len(emulator.requests) - requests_before == 40 - finished_before
    assert requests_before - finished_before <= 4

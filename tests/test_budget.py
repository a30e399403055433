"""The hard budget against an API that bills every answer it generates, whether or not the client gets
it: each attempt counts at its worst cost unless the API's answer says what it billed. Both LLMs, through
the real cohere and openai clients against the emulator."""

import socket

import polars as pl
import pytest

from curation.llms.budget import with_total
from curation.llms.cohere_v2 import CohereV2LLM
from curation.llms.cost import estimate_input_tokens, load_prices
from curation.llms.journal import Journal
from curation.llms.openai_compatible import OpenAICompatibleLLM
from curation.testing import LOADED_LLMS

MODEL = "command-r7b-12-2024"
CHAT = [{"role": "user", "content": "¿Mate dulce o amargo?"}]
MAX_TOKENS = 100
WORST = load_prices()[MODEL].usd(estimate_input_tokens(CHAT), MAX_TOKENS)  # one attempt's reservation
PROVIDERS = ("cohere", "openai")


def llm_for(provider: str, base_url: str, journal, **settings):
    common = {"model": MODEL, "api_key": "test-key", "journal_path": str(journal), "backoff_seconds": 0.05, "timeout": 1,
              **settings}
    llm = CohereV2LLM(base_url=base_url, **common) if provider == "cohere" else OpenAICompatibleLLM(base_url=f"{base_url}/v1", **common)
    llm.load()
    LOADED_LLMS.append(llm)
    return llm


def ask(llm) -> str | None:
    [output] = llm.generate_outputs(inputs=[CHAT], max_tokens=MAX_TOKENS)
    return output["generations"][0]


def free_port_url() -> str:
    """A local URL where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("fault", ["timeout", "cut", "malformed", "no_usage"])
def test_an_answer_the_api_generated_but_did_not_bill_in_the_open_counts_at_its_worst_cost(emulator, tmp_path, provider, fault):
    emulator.slow_seconds = 1.5  # past the client's 1 s timeout
    emulator.inject(fault)
    llm = llm_for(provider, emulator.base_url, tmp_path / "calls.sqlite", max_attempts=1)
    answer = ask(llm)
    journal = Journal(tmp_path / "calls.sqlite")
    assert journal.spending() == (0.0, pytest.approx(WORST))
    assert emulator.billed_usd <= journal.spent()
    if fault == "no_usage":  # the text came: kept, and not bought again
        assert answer and ask(llm) == answer and len(emulator.requests) == 1
    else:
        assert answer is None and sum(journal.failures().values()) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("fault, kind", [("429", "429 Too Many Requests"), ("500", "500 Internal Server Error")])
def test_an_error_status_with_the_apis_error_body_costs_nothing(emulator, tmp_path, provider, fault, kind):
    emulator.inject(fault)
    assert ask(llm_for(provider, emulator.base_url, tmp_path / "calls.sqlite", max_attempts=1)) is None
    journal = Journal(tmp_path / "calls.sqlite")
    assert journal.spent() == 0 and journal.failures() == {kind: 1}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_wrong_key_is_not_retried_and_costs_nothing(tmp_path, provider):
    from curation.llms.cohere_emulator import CohereEmulator

    with CohereEmulator(api_key="the-right-key") as emulator:
        assert ask(llm_for(provider, emulator.base_url, tmp_path / "calls.sqlite", max_attempts=3)) is None
        assert len(emulator.requests) == 1
    journal = Journal(tmp_path / "calls.sqlite")
    assert journal.spent() == 0 and journal.failures() == {"401 Unauthorized": 1}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_request_that_never_reached_the_server_costs_nothing(tmp_path, provider):
    assert ask(llm_for(provider, free_port_url(), tmp_path / "calls.sqlite", max_attempts=2)) is None
    journal = Journal(tmp_path / "calls.sqlite")
    assert journal.spent() == 0 and journal.failures() == {"could not connect": 2}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_each_attempt_is_reserved_and_one_that_no_longer_fits_is_not_made(emulator, tmp_path, provider):
    emulator.slow_seconds = 1.5
    emulator.inject("timeout")
    llm = llm_for(provider, emulator.base_url, tmp_path / "calls.sqlite", max_attempts=3, budget_usd=1.5 * WORST)
    assert ask(llm) is None
    assert len(emulator.requests) == 1  # the retry would have gone over: the timed-out attempt may have been billed
    assert emulator.billed_usd <= Journal(tmp_path / "calls.sqlite").spent() <= 1.5 * WORST


def test_a_killed_runs_calls_in_flight_count_as_unconfirmed(tmp_path):
    journal = Journal(tmp_path / "calls.sqlite")
    assert journal.reserve(WORST, budget=1.0)  # then the process is killed, the call in flight
    journal.settle_reservations()
    assert journal.spending() == (0.0, pytest.approx(WORST)) and not journal.reserve(1.0, budget=1.0)


def test_the_cost_tables_total_is_a_number_not_rounded_away():
    """A local model priced at cents per million tokens: its total must not round to 0 before the budget sees it."""
    price = load_prices()[MODEL]
    steps = pl.DataFrame([{"step": step, "model": MODEL, "calls": 1, "input_tokens": 3, "output_tokens": 2,
                           "usd": price.usd(3, 2)} for step in ("write", "judge")])
    total = with_total(steps).row(-1, named=True)
    assert total["step"] == "total" and (total["calls"], total["input_tokens"], total["output_tokens"]) == (2, 6, 4)
    assert isinstance(total["usd"], float) and total["usd"] == pytest.approx(2 * price.usd(3, 2), rel=1e-12) and total["usd"] > 0

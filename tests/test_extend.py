"""`curation extend`: gap prompts, two candidates, the judge, money and resume, through real distilabel
pipelines and the real cohere/openai clients against the local emulator."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from curation.cli import app
from curation.config import demo_config
from curation.errors import CurationError
from curation.llms.journal import Journal
from curation.pipelines.extend.config import ExtendConfig
from curation.pipelines.extend.estimate import gap_cover
from curation.pipelines.extend.requests import prompt_requests
from curation.pipelines.extend.run import JOURNAL, run_extension, write_outputs
from curation.pipelines.extend.verdict import with_verdicts
from curation.reports.curation_report import write_report
from curation.reports.generation_cost import generation_cost
from curation.run import run
from curation.run_folder import RunFolder

SECRET = "sk-test-never-print-me"
STEPS = 4  # calls per request: the prompt, two candidates, the judge


@pytest.fixture(autouse=True)
def cohere_key(monkeypatch):
    monkeypatch.setenv("COHERE_API_KEY", SECRET)


def settings(emulator, **overrides) -> ExtendConfig:
    return ExtendConfig(**{"base_url": emulator.base_url, "max_prompts": 8, "budget_usd": 5.0, "timeout_seconds": 2, **overrides})


def test_requests_aim_at_the_gaps_with_balanced_personas(seed_run):
    accepted = RunFolder.read(seed_run).accepted
    requests = prompt_requests(accepted, ExtendConfig(max_prompts=1000, cell_target=6))
    from curation.reports.bias_audit import confident_dimension

    # The cells as the audit counts them (rows whose dimension is confident): never past the target
    counts = confident_dimension(accepted).group_by("country", "dimension").len()
    wanted = requests.group_by("country", "dimension").len(name="asked").join(counts, on=["country", "dimension"], how="left")
    assert (wanted.get_column("asked") + wanted.get_column("len").fill_null(0) <= 6).all()
    assert requests.get_column("request_id").is_unique().all()
    templates = requests.select(pl.col("template").str.starts_with(pl.col("dimension")).all()).item()
    assert templates  # each template belongs to its dimension
    small = prompt_requests(accepted, ExtendConfig(max_prompts=10, cell_target=6))
    assert small.height == 10 and small.select(pl.struct("country", "dimension").n_unique()).item() == 10  # one per gap first


def test_verdicts_follow_the_guide():
    def judged(a: int, b: int, a_stereotype: bool = False) -> str:
        rating = lambda score, stereotype: {"correct": score, "cultural_fit": score, "natural_variety": score, "stereotype": stereotype}  # noqa: E731
        return json.dumps({"a": rating(a, a_stereotype), "b": rating(b, False), "rationale": "porque sí"})

    rows = pl.DataFrame({"judgement": [judged(5, 2), judged(2, 5), judged(4, 4), judged(2, 1), judged(5, 4, True)],
                         "a_is_role_aware": [True, False, True, True, True],
                         "response_role_aware": ["R"] * 5, "response_plain": ["P"] * 5,
                         "model_role_aware": ["big"] * 5, "model_plain": ["small"] * 5})
    verdicts = with_verdicts(rows, tie_margin=0.5, bad_below=3.0)
    assert verdicts.get_column("preference").to_list() == ["chosen-better", "chosen-better", "both-good", "both-bad", "chosen-better"]
    assert verdicts.get_column("chosen").to_list() == ["R", "R", "R", "R", "P"]  # the stereotyped answer loses
    assert verdicts.get_column("judge_rationale").to_list() == ["porque sí"] * 5


@pytest.fixture(scope="module")
def extended(seed_run, tmp_path_factory):
    """One extension of the demo run, then the curation run over seed + generated rows and its report."""
    from curation.llms.cohere_emulator import CohereEmulator

    out = tmp_path_factory.mktemp("extension")
    with pytest.MonkeyPatch.context() as patch, CohereEmulator() as emulator:
        patch.setenv("COHERE_API_KEY", SECRET)
        result = CliRunner().invoke(app, ["extend", str(seed_run), "--out", str(out), "--max-prompts", "12", "--budget", "5"],
                                    env={"COHERE_BASE_URL": emulator.base_url})
        requests = list(emulator.requests)
    assert result.exit_code == 0, result.output
    curated = CliRunner().invoke(app, ["run", str(out / "run.yaml")])
    assert curated.exit_code == 0, curated.output  # a failed dataset expectation is reported, not fatal, without --strict
    write_report(RunFolder.read(out / "curated"))
    return out, requests, result.output


def test_every_request_ends_generated_or_failed_and_is_paid_once(extended):
    out, requests, _ = extended
    generated, failed = pl.read_parquet(out / "generated.parquet"), pl.read_parquet(out / "failed.parquet")
    summary = json.loads((out / "extend.json").read_text())
    assert generated.height + failed.height == summary["requested"] == 12
    assert failed.is_empty() and generated.get_column("request_id").is_unique().all()
    assert len(requests) == Journal(out / JOURNAL).calls() == STEPS * 12
    assert generated.get_column("cost_usd").sum() == pytest.approx(summary["spent_usd"], rel=1e-3)
    assert summary["billed_usd"] == summary["spent_usd"] and summary["unconfirmed_usd"] == 0  # every answer said what it billed
    assert set(generated.get_column("preference")) <= {"chosen-better", "both-good", "both-bad"}
    for column in ("modelo_gen", "template", "edad", "genero", "rol", "judge_model", "judge_rationale"):
        assert generated.get_column(column).is_not_null().all(), column
    assert (generated.get_column("origin") == "synthetic").all()
    assert all(isinstance(value, float) for name, value in summary.items() if name.endswith("_usd"))  # numbers in the JSON


def test_candidates_differ_by_role_awareness_and_the_judge_gets_a_schema(extended):
    _, requests, _ = extended
    by_model = {}
    for request in requests:
        by_model.setdefault(request["model"], []).append(request)
    plain = by_model["command-r7b-12-2024"]
    assert all([message["role"] for message in request["messages"]] == ["user"] for request in plain)
    judged = [r for r in requests if "Respuesta A" in r["messages"][-1]["content"]]
    assert len(judged) == 12 and all(r["response_format"]["json_schema"]["required"] == ["a", "b", "rationale"] for r in judged)
    role_aware = [r for r in requests if r["messages"][0]["role"] == "system" and "Responde como lo haría" in r["messages"][0]["content"]]
    assert len(role_aware) == 12


def test_generated_rows_go_through_the_curation_and_the_report_shows_their_cost(extended):
    out, _, output = extended
    accepted = pl.read_parquet(out / "curated" / "accepted.parquet")
    ledger = json.loads((out / "curated" / "ledger.json").read_text())
    assert sum(ledger["status"].values()) == ledger["input_rows"]  # seed + 12 generated, each in one place
    assert accepted.filter(pl.col("origin") == "synthetic").height > 0
    report = (out / "curated" / "report.md").read_text()
    assert "## Generated rows and their cost" in report and "usd_per_accepted_pair" in report
    cost = generation_cost(RunFolder.read(out / "curated"))
    assert cost.schema["spent_usd"] == cost.schema["usd_per_accepted_pair"] == pl.Float64
    everything = cost.filter(pl.col("country") == "all").row(0, named=True)  # unrounded: the report's tables round
    spent = pl.read_parquet(out / "generated.parquet").get_column("cost_usd").sum()
    assert everything["spent_usd"] == pytest.approx(spent, rel=1e-12)
    assert everything["usd_per_accepted_pair"] == pytest.approx(spent / everything["accepted_pairs"], rel=1e-12)
    texts = [path.read_bytes() for path in out.rglob("*") if path.is_file()]
    assert not any(SECRET.encode() in text for text in texts) and SECRET not in output


def test_failed_calls_are_filed_as_failed_never_as_text(emulator, seed_run, tmp_path):
    emulator.inject("500", "500", "500")
    requests = prompt_requests(RunFolder.read(seed_run).accepted, settings(emulator))
    extension = run_extension(settings(emulator, max_attempts=1), requests, tmp_path)
    assert extension.failed.height == 3 and set(extension.failed.get_column("failed_step")) == {"write_prompt"}
    assert extension.generated.height == requests.height - 3
    assert extension.generated.select(pl.all_horizontal(pl.col("question", "chosen", "rejected").is_not_null())).to_series().all()
    assert len(emulator.requests) == 3 + STEPS * (requests.height - 3)  # nothing was asked on a failed prompt's behalf


def test_when_every_call_fails_every_request_is_filed_as_failed(emulator, seed_run, tmp_path):
    emulator.inject(*["500"] * 8)
    requests = prompt_requests(RunFolder.read(seed_run).accepted, settings(emulator))
    extension = run_extension(settings(emulator, max_attempts=1), requests, tmp_path)
    assert extension.generated.is_empty() and extension.failed.height == requests.height == 8
    assert set(extension.failed.get_column("failed_step")) == {"write_prompt"} and len(emulator.requests) == 8
    assert extension.summary["failed_attempts"] == {"500 Internal Server Error": 8}
    assert str(extension.failure) == f"every call failed at {emulator.base_url}: 500 Internal Server Error (8 attempts)"


def free_port_url() -> str:
    """A local URL where nothing listens."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


@pytest.mark.parametrize("server, cause", [("wrong key", "401 Unauthorized (4 attempts)"), ("down", "could not connect (4 attempts)")])
def test_a_run_whose_every_call_failed_exits_2_with_the_cause_and_no_next_step(seed_run, tmp_path, server, cause):
    from curation.llms.cohere_emulator import CohereEmulator

    config = tmp_path / "extend.yaml"
    config.write_text("max_attempts: 1\n")  # a server down is retried with backoff otherwise: slow for a test
    out = tmp_path / "extension"
    with CohereEmulator(api_key="not-" + SECRET) as emulator:
        url = emulator.base_url if server == "wrong key" else free_port_url()
        result = CliRunner().invoke(app, ["extend", str(seed_run), "--out", str(out), "--max-prompts", "4", "-c", str(config)],
                                    env={"COHERE_BASE_URL": url})
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())  # the console wraps long lines
    assert f"every call failed at {url}: {cause}" in message and "next:" not in message
    assert not (out / "run.yaml").exists()
    summary = json.loads((out / "extend.json").read_text())  # the record of what was spent
    assert summary["generated"] == 0 and summary["spent_usd"] == 0 and pl.read_parquet(out / "failed.parquet").height == 4


@pytest.mark.parametrize("provider", ["cohere", "openai"])
def test_what_the_api_bills_never_exceeds_the_reported_spend_nor_the_budget(seed_run, tmp_path, provider):
    """Answers past the client's timeout, cut mid-body or without usage: the API billed them all."""
    from curation.llms.cohere_emulator import CohereEmulator
    from curation.llms.cost import load_prices

    prices = tmp_path / "prices.yaml"
    prices.write_text("local-model: {input: 2.5, output: 10.0}\n")
    local = {"prices": str(prices), "base_url": "{url}/v1",
             "models": dict.fromkeys(("prompt_writer", "role_aware", "plain", "judge"), "local-model")}
    faults = {"timeout": 0.3, "cut": 0.1, "no_usage": 0.1}
    with CohereEmulator(prices=load_prices(prices) | load_prices(), fault_rates=faults) as emulator:
        emulator.slow_seconds = 1.5  # past the client's 1 s timeout
        overrides = {key: value.format(url=emulator.base_url) if key == "base_url" else value for key, value in local.items()}
        config = settings(emulator, budget_usd=0.08, timeout_seconds=1, max_attempts=3,
                          **(overrides if provider == "openai" else {}), provider=provider)
        requests = prompt_requests(RunFolder.read(seed_run).accepted, config)
        summary = run_extension(config, requests, tmp_path / "out").summary
        billed = emulator.billed_usd
    assert billed <= summary["spent_usd"] + 1e-6 and summary["spent_usd"] <= 0.08
    assert Journal(tmp_path / "out" / JOURNAL).spent() <= 0.08
    assert summary["unconfirmed_usd"] > 0 and summary["spent_usd"] == pytest.approx(summary["billed_usd"] + summary["unconfirmed_usd"], abs=2e-6)
    print(f"{provider}: the emulator billed {billed:.4f} USD; reported {summary['spent_usd']:.4f} "
          f"({summary['billed_usd']:.4f} billed + {summary['unconfirmed_usd']:.4f} unconfirmed)")


@pytest.mark.parametrize("fault", ["off_schema", "truncated"])
def test_a_billed_unusable_judgement_is_counted_filed_and_not_paid_again(emulator, seed_run, tmp_path, fault):
    emulator.inject("none", "none", "none", fault)  # one request: the prompt, two candidates, then the judge
    config = settings(emulator, max_prompts=1)
    requests = prompt_requests(RunFolder.read(seed_run).accepted, config)
    extension = run_extension(config, requests, tmp_path)
    assert extension.generated.is_empty() and extension.failed.get_column("failed_step").to_list() == ["judge"]
    assert len(emulator.requests) == STEPS and Journal(tmp_path / JOURNAL).calls() == STEPS  # billed, so journaled
    assert extension.failed.get_column("cost_usd")[0] == pytest.approx(extension.summary["spent_usd"], abs=1e-6)
    run_extension(config, requests, tmp_path)  # resumed: the unusable answer is not bought again
    assert len(emulator.requests) == STEPS


def test_the_budget_admits_only_requests_it_can_finish_and_stops_cleanly(emulator, seed_run, tmp_path):
    config = settings(emulator, budget_usd=0.05)
    requests = prompt_requests(RunFolder.read(seed_run).accepted, config)
    extension = run_extension(config, requests, tmp_path)
    assert Journal(tmp_path / JOURNAL).spent() <= 0.05
    assert extension.generated.height >= 1 and extension.generated.height + extension.failed.height == requests.height
    assert set(extension.failed.get_column("failed_step")) == {"not_started"}  # no paid request left half done
    write_outputs(extension, tmp_path, None)
    assert pl.read_parquet(tmp_path / "failed.parquet").height == extension.failed.height
    asked = len(emulator.requests)
    spent = Journal(tmp_path / JOURNAL).spent()
    resumed = run_extension(settings(emulator, budget_usd=spent + 0.001), requests, tmp_path)  # no room for a new one
    assert resumed.generated.equals(extension.generated) and len(emulator.requests) == asked  # started ones, free
    too_small = settings(emulator, budget_usd=0.005)  # below one request's worst cost
    with pytest.raises(CurationError, match="nothing started"):
        run_extension(too_small, requests, tmp_path / "none")
    assert not (tmp_path / "none").exists()


def test_dry_run_calls_nothing_and_writes_nothing(emulator, seed_run, tmp_path):
    result = CliRunner().invoke(app, ["extend", str(seed_run), "--out", str(tmp_path / "x"), "--dry-run"],
                                env={"COHERE_BASE_URL": emulator.base_url})
    assert result.exit_code == 0, result.output
    assert "total" in result.output and "USD" in result.output
    assert emulator.requests == [] and not (tmp_path / "x").exists()


def test_dry_run_shows_the_cells_it_fills_and_how_much_of_each_gap(emulator, seed_run, tmp_path):
    config = ExtendConfig(max_prompts=5, cell_target=6)
    accepted = RunFolder.read(seed_run).accepted
    requests = prompt_requests(accepted, config)
    cells = gap_cover(accepted, requests, config)
    from curation.reports.bias_audit import confident_dimension

    # rows today as the audit counts them: the rows whose dimension is confident
    today = confident_dimension(accepted).group_by(pl.col("country").fill_null("unknown"), "dimension").agg(counted=pl.len())
    checked = cells.join(today, on=["country", "dimension"], how="left").with_columns(pl.col("counted").fill_null(0))
    assert (checked.get_column("rows") == checked.get_column("counted")).all()
    assert (cells.get_column("gap") == 6 - cells.get_column("rows")).all() and (cells.get_column("target") == 6).all()
    filled = cells.filter(pl.col("requested") > 0)
    asked = requests.group_by("country", "dimension").agg(requested=pl.len().cast(pl.Int64))
    assert filled.select(asked.columns).sort("country", "dimension").equals(asked.sort("country", "dimension"))
    assert (cells.get_column("covered") == cells.get_column("requested") / cells.get_column("gap")).all()
    result = CliRunner().invoke(app, ["extend", str(seed_run), "--out", str(tmp_path / "x"), "--dry-run", "--max-prompts", "5",
                                      "--cell-target", "6"], env={"COHERE_BASE_URL": emulator.base_url})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for row in filled.iter_rows(named=True):
        assert any(f" {row['country']} " in line and f" {row['dimension']} " in line and f"{row['covered']:.1%}" in line
                   for line in lines), row
    covered = requests.height / filled.get_column("gap").sum()
    assert any(line.startswith("│ total") and f"{covered:.1%}" in line for line in lines)
    message = " ".join(result.output.split())
    assert f"5 prompts requested for 5 of the {cells.height} cells below target" in message
    assert f"The other {cells.height - 5} cells" in message
    assert emulator.requests == [] and not (tmp_path / "x").exists()


def test_a_missing_key_or_price_is_a_clear_error_before_anything_is_written(seed_run, tmp_path, monkeypatch):
    monkeypatch.delenv("COHERE_API_KEY")
    result = CliRunner().invoke(app, ["extend", str(seed_run), "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "COHERE_API_KEY" in result.output and not (tmp_path / "x").exists()
    monkeypatch.setenv("COHERE_API_KEY", SECRET)
    config = tmp_path / "extend.yaml"
    config.write_text("models: {judge: my-unpriced-model}\n")
    result = CliRunner().invoke(app, ["extend", str(seed_run), "--out", str(tmp_path / "x"), "-c", str(config)])
    assert result.exit_code == 2 and "my-unpriced-model" in result.output and not (tmp_path / "x").exists()


# (a setting in the config file, options on the command line, the setting the error must name)
OUT_OF_BOUNDS = [("budget_usd: -1", [], "budget_usd"), ("budget_usd: .inf", [], "budget_usd"), ("budget_usd: .nan", [], "budget_usd"),
                 ("budget_usd: 1.0e+9", [], "budget_usd"), ("max_concurrency: 1000000", [], "max_concurrency"),
                 ("timeout_seconds: 1.0e-9", [], "timeout_seconds"), ("max_attempts: 1000", [], "max_attempts"),
                 ("max_prompts: 1000000000", [], "max_prompts"), ("cell_target: 1000000000", [], "cell_target"),
                 ("max_tokens: {response: 10000000}", [], "max_tokens.response"), ("temperature: .nan", [], "temperature"),
                 ("judge: {tie_margin: .inf}", [], "judge.tie_margin"), ("prices: prices.yaml", [], "command-a-03-2025.input"),
                 ("seed: 0", ["--budget", "inf"], "budget_usd"), ("seed: 0", ["--budget", "-5"], "budget_usd"),
                 ("seed: 0", ["--budget", "nan"], "budget_usd"), ("seed: 0", ["--max-prompts", "0"], "max_prompts"),
                 ("seed: 0", ["--max-prompts", "1000000000"], "max_prompts"), ("seed: 0", ["--cell-target", "0"], "cell_target")]


@pytest.mark.parametrize("setting, options, name", OUT_OF_BOUNDS)
def test_a_setting_out_of_bounds_exits_2_naming_it_before_any_call_or_file(emulator, seed_run, tmp_path, setting, options, name):
    (tmp_path / "prices.yaml").write_text("command-a-03-2025: {input: -2.5, output: 10.0}\n")  # a negative price
    (tmp_path / "extend.yaml").write_text(setting + "\n")
    result = CliRunner().invoke(app, ["extend", str(seed_run), "--out", str(tmp_path / "x"), "-c", str(tmp_path / "extend.yaml"),
                                      *options], env={"COHERE_BASE_URL": emulator.base_url})
    assert result.exit_code == 2 and name in result.output, result.output
    assert emulator.requests == [] and not (tmp_path / "x").exists()


def test_openai_compatible_server_with_the_same_budget_and_journal(emulator, seed_run, tmp_path):
    prices = tmp_path / "prices.yaml"
    prices.write_text("local-model: {input: 0.1, output: 0.2}\n")
    config = settings(emulator, provider="openai", base_url=f"{emulator.base_url}/v1", prices=str(prices), max_prompts=4,
                      models={"prompt_writer": "local-model", "role_aware": "local-model", "plain": "local-model", "judge": "local-model"})
    requests = prompt_requests(RunFolder.read(seed_run).accepted, config)
    extension = run_extension(config, requests, tmp_path / "out")
    assert extension.generated.height == 4 and extension.summary["paid_calls"] == STEPS * 4
    assert extension.summary["spent_usd"] > 0
    again = run_extension(config, requests, tmp_path / "out")  # a rerun pays for nothing
    assert len(emulator.requests) == STEPS * 4 and again.generated.equals(extension.generated)


def test_kill_9_then_resume_pays_once_and_writes_no_duplicates(emulator, seed_run, tmp_path):
    emulator.latency = 0.3
    out = tmp_path / "extension"
    command = [sys.executable, "-m", "curation", "extend", str(seed_run), "--out", str(out), "--max-prompts", "16"]
    environment = {**os.environ, "COHERE_BASE_URL": emulator.base_url}
    # Its own process group: distilabel runs steps in child processes, and kill -9 takes them all.
    killed = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    journal = out / JOURNAL
    deadline = time.monotonic() + 120
    while (not journal.exists() or Journal(journal).calls() < 20) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()
    time.sleep(0.5)  # the emulator finishes answering the calls that were in flight, to nobody
    finished_before, asked_before = Journal(journal).calls(), len(emulator.requests)
    assert 20 <= finished_before < STEPS * 16 and not (out / "generated.parquet").exists()
    subprocess.run(command, env=environment, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert Journal(journal).calls() == STEPS * 16
    assert len(emulator.requests) - asked_before == STEPS * 16 - finished_before  # finished calls not paid again
    generated = pl.read_parquet(out / "generated.parquet")
    assert generated.height == 16 and generated.get_column("request_id").is_unique().all()


def test_the_judge_becomes_argilla_suggestions():
    from curation.review.dataset import review_rows, to_record

    row = {"id": "g1", "system_prompt": "Eres taxista en Lima.", "prompt": "¿Qué le digo a un pasajero?", "chosen": "Buenas, causa.",
           "rejected": "Hola.", "preference": "chosen-better", "country": "PE", "source": "generated.parquet#1",
           "judge_model": "command-a-03-2025", "judge_rationale": "A suena limeña."}
    [record] = [to_record(r, show_suggestions=True) for r in review_rows(pl.DataFrame([row]), seed=0).iter_rows(named=True)]
    suggestions = {suggestion.question_name: suggestion for suggestion in record.suggestions}
    assert suggestions["vote"].agent == "LLM judge command-a-03-2025" and suggestions["vote"].type == "model"
    assert "A suena limeña." in suggestions["comment"].value

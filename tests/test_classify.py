"""`curation classify`: an LLM names each distinct prompt's category and dimension, through a real distilabel
pipeline and the real cohere client against the local emulator: the output, the abstentions, money and resume."""

import os
import shutil
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
from curation.llms.journal import Journal
from curation.pipelines.classify.run import OUTPUT, SCHEMA, journal_path
from curation.pipelines.classify.task import CATEGORIES, DIMENSIONS, guide_message
from curation.run import run

SECRET = "sk-test-never-print-me"
CATEGORY_VALUES = {*CATEGORIES, "undetermined"}
DIMENSION_VALUES = {*DIMENSIONS, "undetermined"}


@pytest.fixture
def run_dir(seed_run, tmp_path) -> Path:
    """A copy of the demo run: classify writes its verdicts and journal into the run folder."""
    return Path(shutil.copytree(seed_run, tmp_path / "run"))


@pytest.fixture(autouse=True)
def cohere_key(monkeypatch):
    monkeypatch.setenv("COHERE_API_KEY", SECRET)


def classify(run_dir: Path, emulator, *options: str):
    return CliRunner().invoke(app, ["classify", str(run_dir), *options], env={"COHERE_BASE_URL": emulator.base_url})


def distinct_prompts(run_dir: Path) -> int:
    accepted = pl.read_parquet(run_dir / "accepted.parquet")
    return accepted.select(pl.struct(pl.col("system_prompt").fill_null(""), "prompt").n_unique()).item()


@pytest.fixture(scope="module")
def classified(seed_run, tmp_path_factory):
    """The demo run, plus one prompt asked again under another country, classified once."""
    from curation.llms.cohere_emulator import CohereEmulator

    folder = Path(shutil.copytree(seed_run, tmp_path_factory.mktemp("classified") / "run"))
    accepted = pl.read_parquet(folder / "accepted.parquet")
    again = accepted.head(1).with_columns(id=pl.lit("asked-again"), country=pl.lit("MX"))
    pl.concat([accepted, again]).write_parquet(folder / "accepted.parquet")
    with pytest.MonkeyPatch.context() as patch, CohereEmulator() as emulator:
        patch.setenv("COHERE_API_KEY", SECRET)
        result = classify(folder, emulator)
        requests = list(emulator.requests)
    assert result.exit_code == 0, result.output
    return folder, requests, result.output


def test_one_call_per_distinct_prompt_and_a_row_per_accepted_row(classified):
    folder, requests, _ = classified
    labels = pl.read_parquet(folder / OUTPUT)
    accepted = pl.read_parquet(folder / "accepted.parquet")
    assert labels.schema == pl.Schema(SCHEMA)
    assert labels.get_column("id").to_list() == accepted.get_column("id").to_list()
    assert len(requests) == distinct_prompts(folder) == accepted.height - 1
    assert set(labels.get_column("llm_category")) <= CATEGORY_VALUES
    assert set(labels.get_column("llm_dimension")) <= DIMENSION_VALUES
    assert labels.select(pl.col("llm_confidence").is_between(0, 1).all()).item()
    assert (labels.get_column("llm_model") == "command-a-03-2025").all()
    twins = labels.filter(pl.col("id").is_in([accepted.get_column("id")[0], "asked-again"]))
    assert twins.drop("id").n_unique() == 1  # the same verdict for the prompt asked twice
    [asked_twice] = [r for r in requests if accepted.get_column("prompt")[0] in r["messages"][-1]["content"]]
    assert "México (MX)" in asked_twice["messages"][-1]["content"]  # both countries named in its one call


def test_the_request_carries_the_guide_definitions_and_the_verdict_schema(classified):
    _, requests, _ = classified
    assert all(request["messages"][0] == {"role": "system", "content": guide_message()} for request in requests)
    assert all(f"- {category}:" in guide_message() for category in CATEGORIES)
    assert all(request["response_format"]["json_schema"]["required"] == ["category", "dimension", "confidence", "rationale"]
               for request in requests)


def test_no_secret_in_any_file_or_the_output(classified):
    folder, _, output = classified
    texts = [path.read_bytes() for path in folder.rglob("*") if path.is_file()]
    assert not any(SECRET.encode() in text for text in texts) and SECRET not in output


def verdict(category: str, dimension: str, confidence: float) -> dict:
    return {"category": category, "dimension": dimension, "confidence": confidence, "rationale": "lo decide el rol"}


# (the model's answer, the category and dimension written): the floor is 0.6
ANSWERS = [
    (verdict("knowledge", "knowledge", 0.9), "knowledge", "knowledge"),
    (verdict("trivial", "undetermined", 0.8), "trivial", "undetermined"),
    (verdict("preference", "preference", 0.3), "undetermined", "undetermined"),  # under the floor
    (verdict("undetermined", "dynamics", 0.95), "undetermined", "dynamics"),  # the model says it is unsure
    (verdict("knowledge", "preference", 0.9), "undetermined", "undetermined"),  # an accepted category is its dimension
]


def test_it_abstains_when_unsure_under_the_floor_or_inconsistent(emulator, run_dir):
    accepted = pl.read_parquet(run_dir / "accepted.parquet").head(len(ANSWERS) + 1)
    for (answer, _, _), prompt in zip(ANSWERS, accepted.get_column("prompt"), strict=False):
        emulator.script(prompt, answer)
    unreadable = accepted.get_column("prompt")[-1]
    emulator.script(unreadable, {**verdict("opinion", "knowledge", 0.9)})  # JSON, but no category of the guide
    result = classify(run_dir, emulator)
    assert result.exit_code == 0, result.output
    labels = pl.read_parquet(run_dir / OUTPUT)
    written = accepted.head(len(ANSWERS)).join(labels, on="id", how="left", maintain_order="left")
    assert written.select("llm_category", "llm_dimension").rows() == [(category, dimension) for _, category, dimension in ANSWERS]
    assert written.get_column("llm_confidence").to_list() == [answer["confidence"] for answer, _, _ in ANSWERS]
    assert (written.get_column("llm_rationale") == "lo decide el rol").all()
    assert accepted.get_column("id")[-1] not in labels.get_column("id")  # an unreadable verdict is no label
    assert "1 failed" in " ".join(result.output.split())
    asked = len(emulator.requests)
    assert classify(run_dir, emulator).exit_code == 0 and len(emulator.requests) == asked  # billed once, not bought again


def test_dry_run_calls_nothing_and_writes_nothing(emulator, run_dir):
    before = sorted(run_dir.rglob("*"))
    result = classify(run_dir, emulator, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "total" in result.output and "USD" in result.output and f"{distinct_prompts(run_dir)}" in result.output
    assert emulator.requests == [] and sorted(run_dir.rglob("*")) == before


def test_the_budget_stops_cleanly_and_a_rerun_pays_only_for_the_rest(emulator, run_dir):
    result = classify(run_dir, emulator, "--budget", "0.05")
    assert result.exit_code == 0, result.output
    journal = Journal(journal_path(run_dir / OUTPUT))
    assert journal.spent() <= 0.05 and emulator.billed_usd <= journal.spent() + 1e-9
    labels = pl.read_parquet(run_dir / OUTPUT)
    assert 0 < labels.height == len(emulator.requests) < distinct_prompts(run_dir)
    assert "not started" in result.output and "budget left" in " ".join(result.output.split())
    result = classify(run_dir, emulator, "--budget", "5")
    assert result.exit_code == 0, result.output
    assert len(emulator.requests) == distinct_prompts(run_dir) == pl.read_parquet(run_dir / OUTPUT).height


def test_a_budget_below_one_call_exits_2_before_any_file(emulator, run_dir):
    result = classify(run_dir, emulator, "--budget", "0.001", "--out", str(run_dir / "x" / "labels.parquet"))
    assert result.exit_code == 2 and "nothing started" in result.output
    assert emulator.requests == [] and not (run_dir / "x").exists()


def test_a_missing_key_or_price_exits_2_before_any_file(emulator, run_dir, monkeypatch, tmp_path):
    out = tmp_path / "out" / "labels.parquet"
    monkeypatch.delenv("COHERE_API_KEY")
    result = classify(run_dir, emulator, "--out", str(out))
    assert result.exit_code == 2 and "COHERE_API_KEY" in result.output and not out.parent.exists()
    monkeypatch.setenv("COHERE_API_KEY", SECRET)
    config = tmp_path / "classify.yaml"
    config.write_text("model: my-unpriced-model\n")
    result = classify(run_dir, emulator, "--out", str(out), "-c", str(config), "--dry-run")
    assert result.exit_code == 2 and "my-unpriced-model" in result.output
    result = classify(run_dir, emulator, "--out", str(out), "-c", str(config))
    assert result.exit_code == 2 and "my-unpriced-model" in result.output
    assert emulator.requests == [] and not out.parent.exists()


@pytest.mark.parametrize("setting, name", [("confidence_floor: 1.5", "confidence_floor"), ("budget_usd: .inf", "budget_usd"),
                                           ("max_tokens: 1", "max_tokens"), ("judge: {}", "judge")])
def test_a_bad_setting_exits_2_naming_it(emulator, run_dir, tmp_path, setting, name):
    config = tmp_path / "classify.yaml"
    config.write_text(setting + "\n")
    result = classify(run_dir, emulator, "-c", str(config))
    assert result.exit_code == 2 and name in result.output, result.output
    assert emulator.requests == [] and not (run_dir / OUTPUT).exists()


def test_accepted_rows_without_a_prompt_column_exit_2_naming_file_and_column(emulator, run_dir):
    pl.read_parquet(run_dir / "accepted.parquet").drop("prompt").write_parquet(run_dir / "accepted.parquet")
    result = classify(run_dir, emulator)
    message = " ".join(result.output.split())
    assert result.exit_code == 2 and "accepted.parquet" in message and "column 'prompt'" in message, result.output


def test_when_every_call_fails_it_exits_2_naming_why_and_writes_no_verdicts(run_dir, tmp_path):
    from curation.llms.cohere_emulator import CohereEmulator

    config = tmp_path / "classify.yaml"
    config.write_text("max_attempts: 1\n")
    with CohereEmulator(api_key="not-" + SECRET) as emulator:
        result = classify(run_dir, emulator, "-c", str(config))
    message = " ".join(result.output.split())
    assert result.exit_code == 2 and f"every call failed at {emulator.base_url}: 401 Unauthorized" in message
    assert not (run_dir / OUTPUT).exists()


def test_kill_9_then_resume_pays_once(emulator, run_dir, tmp_path):
    emulator.latency = 0.2
    config = tmp_path / "classify.yaml"
    config.write_text("max_concurrency: 4\n")  # about 7 s of calls: room to kill it midway
    command = [sys.executable, "-m", "curation", "classify", str(run_dir), "-c", str(config)]
    environment = {**os.environ, "COHERE_BASE_URL": emulator.base_url}
    log = tmp_path / "killed.log"
    # Its own process group: distilabel runs steps in child processes, and kill -9 takes them all.
    with log.open("w") as stderr:
        killed = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
    journal = journal_path(run_dir / OUTPUT)
    deadline = time.monotonic() + 120
    while killed.poll() is None and (not journal.exists() or Journal(journal).calls() < 12) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert killed.poll() is None, log.read_text()  # still running: it is killed midway
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()
    time.sleep(0.5)  # the emulator finishes answering the calls that were in flight, to nobody
    total = distinct_prompts(run_dir)
    finished_before, asked_before = Journal(journal).calls(), len(emulator.requests)
    assert 12 <= finished_before < total and not (run_dir / OUTPUT).exists(), log.read_text()
    resumed = subprocess.run(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    assert resumed.returncode == 0, resumed.stderr
    assert Journal(journal).calls() == total
    assert len(emulator.requests) - asked_before == total - finished_before  # finished calls not paid again
    labels = pl.read_parquet(run_dir / OUTPUT)
    assert labels.height == pl.read_parquet(run_dir / "accepted.parquet").height and labels.get_column("id").is_unique().all()

"""`curation classify`'s plan without the command line: which calls, for which rows, at what cost, checked
before any call; carried out against the emulator with the real cohere client."""

import shutil
from pathlib import Path

import polars as pl
import pytest

from curation.config import ConfigError
from curation.output_folder import OutputError
from curation.pipelines.classify.plan import plan_classification
from curation.pipelines.classify.run import OUTPUT, journal_path


@pytest.fixture
def run_dir(seed_run, tmp_path) -> Path:
    return Path(shutil.copytree(seed_run, tmp_path / "run"))


def test_one_request_per_distinct_prompt_and_a_link_per_accepted_row(run_dir):
    plan = plan_classification(run_dir, None)
    accepted = pl.read_parquet(run_dir / "accepted.parquet")
    distinct = accepted.select(pl.struct(pl.col("system_prompt").fill_null("").str.strip_chars(), "prompt").n_unique()).item()
    assert plan.requests.height == distinct and plan.requests.get_column("request_id").is_unique().all()
    assert plan.links.get_column("id").to_list() == accepted.get_column("id").to_list()
    assert set(plan.links.get_column("request_id")) == set(plan.requests.get_column("request_id"))
    assert plan.out == run_dir / OUTPUT


def test_overrides_apply_when_given_and_are_checked_as_the_file_is(run_dir):
    assert plan_classification(run_dir, None, budget_usd=None).config.budget_usd == 50.0  # the config's
    assert plan_classification(run_dir, None, budget_usd=3.0).config.budget_usd == 3.0
    with pytest.raises(ConfigError, match="classify options: budget_usd"):
        plan_classification(run_dir, None, budget_usd=-1.0)


def test_the_estimate_is_an_upper_bound_and_nothing_is_spent_before_a_run(run_dir):
    plan = plan_classification(run_dir, None)
    estimate = plan.estimate()
    assert estimate.get_column("step").to_list() == ["classify", "total"]
    assert estimate.get_column("calls")[-1] == plan.requests.height
    assert estimate.get_column("output_tokens")[-1] == plan.requests.height * plan.config.max_tokens
    assert estimate.get_column("usd")[-1] > 0 and plan.spent() == 0.0
    assert not journal_path(plan.out).exists() and not plan.out.exists()


def test_an_output_the_command_reads_is_refused_before_any_call(run_dir):
    with pytest.raises(OutputError, match="the file the command reads"):
        plan_classification(run_dir, None, run_dir / "accepted.parquet")


def test_carried_out_it_writes_a_label_per_accepted_row_and_the_journal_holds_its_spend(run_dir, emulator, monkeypatch):
    monkeypatch.setenv("COHERE_API_KEY", "sk-test")
    monkeypatch.setenv("COHERE_BASE_URL", emulator.base_url)
    out = run_dir / "verdicts.parquet"
    plan = plan_classification(run_dir, None, out)
    classification, labels = plan.carry_out()
    assert classification.summary["classified"] == plan.requests.height == len(emulator.requests)
    assert pl.read_parquet(out).equals(labels) and labels.height == plan.links.height
    assert 0 < plan.spent() <= plan.estimate().get_column("usd")[-1]

"""The real arena sample in ../shared/: read intact, countries mapped, repeats found, ledger balanced."""

import csv
import json

import polars as pl
import yaml
from typer.testing import CliRunner

from curation.cli import app
from curation.config import InputConfig
from curation.readers import read_records


def test_every_row_is_read_with_multiline_fields_intact(arena_sample):
    with arena_sample.open(encoding="utf-8", newline="") as handle:
        expected = list(csv.DictReader(handle))
    records = read_records(InputConfig(path=str(arena_sample)))
    assert records.height == len(expected) == 446
    assert records["prompt"].to_list() == [row["question"] for row in expected]
    assert records["chosen"].to_list() == [row["chosen"] for row in expected]
    assert records["prompt"].str.contains("\n").sum() > 0
    assert set(records["country"]) == {"ES", "CO", "CL", "PE", "PY", "NI", "MX"}
    assert records["id"].n_unique() == 446


def test_the_run_finds_the_repeated_prompts_and_balances(arena_sample, tmp_path):
    config = tmp_path / "arena.yaml"
    config.write_text(yaml.safe_dump({"name": "arena_v0", "input": {"path": str(arena_sample)}, "output": {"dir": "out"}}))
    result = CliRunner().invoke(app, ["run", str(config), "--quiet"])
    assert result.exit_code == 0, result.stderr
    summary = json.loads((tmp_path / "out" / "ledger.json").read_text())
    ledger = pl.read_parquet(tmp_path / "out" / "ledger.parquet")
    # The sample repeats 14 prompts (17 extra rows), matched case- and space-insensitively.
    with arena_sample.open(encoding="utf-8", newline="") as handle:
        prompts = [" ".join(row["question"].lower().split()) for row in csv.DictReader(handle)]
    assert len(prompts) - len(set(prompts)) == 17
    duplicates = ledger.filter(pl.col("status") == "duplicate")
    # The persona is part of a row: most repeats are the same question asked of different personas (a
    # Basque and a Sevillian, five class and gender personas), which stay. The true repeats (same
    # country, equivalent persona) are the gold set's duplicate groups; they are dropped.
    assert summary["reasons"]["exact_duplicate_prompt"] == 5
    assert set(duplicates["reasons"].explode()) == {"exact_duplicate_prompt"}
    warned = ledger.filter(pl.col("warnings").list.contains("possible_duplicate"))
    assert warned.height > 0  # template prompts and near personas travel to review as possible duplicates
    assert ledger.height == 446 and ledger["source"].n_unique() == 446
    assert sum(summary["status"].values()) == 446
    clusters = pl.read_parquet(tmp_path / "out" / "duplicate_clusters.parquet")
    assert clusters.height == duplicates.height and clusters["kept_prompt"].null_count() == 0
    assert "## Duplicate clusters" in (tmp_path / "out" / "summary.md").read_text()
    assert duplicates["duplicate_of"].is_in(ledger.filter(pl.col("status") == "accepted")["id"].implode()).all()

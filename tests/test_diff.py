"""`curation diff RUN_A RUN_B` and `curation report --previous`: two real runs of the demo (the second with a
longer minimum answer, no exact dedupe by prompt and two steward's decisions) and a third on a changed input,
checked against the ledgers read here on their own, row by row."""

import json
import re
import shutil
from collections import Counter
from importlib import resources
from pathlib import Path

import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from curation.cli import app
from curation.decisions import append_decisions, decision

FIELDS = ("status", "reasons", "duplicate_of", "split")
NEW_ROW = {"country": "Chile", "system_prompt": "", "preference": "chosen-better",
           "question": "¿Qué se come en Valparaíso un domingo de invierno, si vengo de Temuco a ver a mi hermana?",
           "chosen": "Una paila marina bien caliente en el mercado Cardonal, y de postre unos calzones rotos con té.",
           "rejected": "En Chile se come mucho pescado y marisco en la costa, así que puedes buscar un restaurante."}


def invoke(*args: str):
    result = CliRunner().invoke(app, [str(arg) for arg in args])
    assert result.exit_code == 0, (args, result.stderr, result.exception)
    return result


def run_with(base: Path, folder: Path, name: str, change) -> Path:
    """`curation run` on a copy of the base run's config.yaml, changed by `change`."""
    config = yaml.safe_load((base / "config.yaml").read_text(encoding="utf-8"))
    change(config)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    invoke("run", path, "--out", folder / name)
    return folder / name


def stricter(decisions: Path):
    def change(config: dict) -> None:
        config["filters"]["min_response_chars"] = 60
        config["dedupe"]["exact"]["by_prompt"] = False
        config["decisions"] = str(decisions)
    return change


def decide(old: Path, path: Path) -> None:
    """A steward takes an accepted row out and says a duplicate is not one."""
    accepted = pl.read_parquet(old / "accepted.parquet").row(0, named=True)
    copy = pl.read_parquet(old / "duplicates.parquet").row(0, named=True)
    append_decisions(path, pl.DataFrame([
        decision(accepted["id"], "quarantine", "review_off_topic", who="ana", source="cli"),
        decision(copy["id"], "not_duplicate_of", copy["duplicate_of"], who="ana", source="cli")]))


@pytest.fixture(scope="module")
def runs(demo_run, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("diff")
    old = folder / "old"
    shutil.copytree(demo_run[0], old)  # the session's demo run stays as other tests expect it
    decide(old, folder / "decisions.yaml")
    new = run_with(old, folder, "new", stricter(folder / "decisions.yaml"))
    # The changed input: four records gone, one new, and the rest in reverse order (every line number moves).
    lines = resources.files("curation.demo").joinpath("arena_demo.jsonl").read_text(encoding="utf-8").splitlines()
    changed_input = folder / "changed.jsonl"
    changed_input.write_text("\n".join([json.dumps(NEW_ROW, ensure_ascii=False), *reversed(lines[4:])]) + "\n", encoding="utf-8")
    other = run_with(old, folder, "other", lambda config: config["input"].update(path=str(changed_input)))
    invoke("report", old)
    invoke("report", new, "--previous", old)
    invoke("diff", old, new, "--out", folder / "diff")
    return {"old": old, "new": new, "other": other, "diff": folder / "diff"}


def ledger_by_id(run: Path) -> dict[str, dict]:
    rows = pl.read_parquet(run / "ledger.parquet").to_dicts()
    by_id = {row["id"]: row | {"reasons": sorted(row["reasons"])} for row in rows}
    assert len(by_id) == len(rows)  # the demo has no record twice, so the id alone is the key here
    return by_id


def expected_changes(old_run: Path, new_run: Path) -> dict[str, tuple[str, tuple[str, ...]]]:
    """id -> (added | removed | changed, the fields that changed), from the two ledgers."""
    old, new = ledger_by_id(old_run), ledger_by_id(new_run)
    changes = {key: ("added", ()) for key in new.keys() - old.keys()} | {key: ("removed", ()) for key in old.keys() - new.keys()}
    for key in old.keys() & new.keys():
        fields = tuple(name for name in FIELDS if old[key][name] != new[key][name])
        if fields:
            changes[key] = ("changed", fields)
    return changes


def listed_changes(diff: dict) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {row["id"]: (row["change"], tuple(row["changed"])) for row in diff["rows"]}


def markdown_section(text: str, title: str) -> list[list[str]]:
    """The rows of the table under the heading `title` (any level), each as its cells."""
    section = re.search(rf"^#+ {re.escape(title)}\n\n(.*?)(?:\n\n|\Z)", text, re.DOTALL | re.MULTILINE).group(1)
    if section == "_(none)_":
        return []
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in section.splitlines()[2:]]


def test_the_rows_that_moved_are_exactly_those_the_ledgers_show(runs):
    diff = json.loads((runs["diff"] / "diff.json").read_text(encoding="utf-8"))
    expected = expected_changes(runs["old"], runs["new"])
    assert listed_changes(diff) == expected
    moved = Counter(fields for _, fields in expected.values())
    assert {("status", "reasons", "split"), ("reasons",), ("status", "reasons", "duplicate_of", "split")} <= set(moved), moved
    old, new = ledger_by_id(runs["old"]), ledger_by_id(runs["new"])
    for row in diff["rows"]:
        assert (row["status_old"], row["status_new"]) == (old[row["id"]]["status"], new[row["id"]]["status"])
        assert (row["reasons_old"], row["reasons_new"]) == (old[row["id"]]["reasons"], new[row["id"]]["reasons"])
    assert diff["notes"] == []  # same input, both audited
    assert {row["setting"]: (row["old"], row["new"]) for row in diff["config"]} == {
        "filters.min_response_chars": ("15", "60"), "dedupe.exact.by_prompt": ("true", "false"),
        "decisions": ("null", json.dumps(str(runs["diff"].parent / "decisions.yaml")))}


def test_counts_and_audit_deltas_match_the_runs(runs):
    diff = json.loads((runs["diff"] / "diff.json").read_text(encoding="utf-8"))
    deltas = {(row["kind"], row["name"]): (row["old"], row["new"]) for row in diff["counts"]}
    for kind, column in (("reason", "reasons"), ("warning", "warnings")):
        old, new = (Counter(name for row in ledger_by_id(runs[side]).values() for name in row[column]) for side in ("old", "new"))
        assert {name: counts for (listed, name), counts in deltas.items() if listed == kind} == {
            name: (old[name], new[name]) for name in old.keys() | new.keys() if old[name] != new[name]}
    assert deltas[("reason", "exact_duplicate_prompt")][1] == 0
    decided = Counter(entry["action"] for row in ledger_by_id(runs["new"]).values() for entry in row["decisions"])
    assert {name: counts for (kind, name), counts in deltas.items() if kind == "decision"} == {
        action: (0, count) for action, count in decided.items()} == {"quarantine": (0, 1), "not_duplicate_of": (0, 1)}
    summaries = [json.loads((runs[side] / "ledger.json").read_text(encoding="utf-8"))["status"] for side in ("old", "new")]
    assert {row["status"]: (row["old"], row["new"]) for row in diff["status"]} == {
        status: (summaries[0][status], summaries[1][status]) for status in summaries[0]}
    old, new = (pl.read_parquet(runs[side] / "accepted.parquet").get_column("country").value_counts() for side in ("old", "new"))
    countries = old.join(new, on="country", how="full", coalesce=True).fill_null(0).filter(pl.col("count") != pl.col("count_right"))
    assert {row["country"]: (row["old"], row["new"]) for row in diff["audit"]["countries"]} == {
        country: (before, after) for country, before, after in countries.iter_rows()}
    audits = [json.loads((runs[side] / "bias_audit.json").read_text(encoding="utf-8"))["headline"] for side in ("old", "new")]
    assert {row["figure"]: (row["old"], row["new"]) for row in diff["audit"]["headline"]}["rows"] == (audits[0]["rows"], audits[1]["rows"])


def test_markdown_and_json_agree(runs):
    diff = json.loads((runs["diff"] / "diff.json").read_text(encoding="utf-8"))
    markdown = (runs["diff"] / "diff.md").read_text(encoding="utf-8")
    assert diff["headline"] in markdown
    rows = markdown_section(markdown, "Rows that changed")
    assert {row[0]: (row[2], tuple(row[3].split(", ")) if row[3] else ()) for row in rows} == listed_changes(diff)
    status_column = {row[0]: row[4] for row in rows}
    for row in diff["rows"]:
        if "status" in row["changed"]:
            assert status_column[row["id"]] == f"{row['status_old']} → {row['status_new'] or '–'}"
    assert [[row["status"], str(row["old"]), str(row["new"]), str(row["delta"])] for row in diff["status"]] == \
        markdown_section(markdown, "Rows per status")
    assert [[row["kind"], row["name"], str(row["old"]), str(row["new"]), str(row["delta"])] for row in diff["counts"]] == \
        markdown_section(markdown, "Rule and tag counts that changed")


def test_a_changed_input_is_flagged_and_its_rows_listed_as_added_or_removed(runs):
    printed = CliRunner().invoke(app, ["diff", str(runs["old"]), str(runs["other"]), "--format", "json"])
    assert printed.exit_code == 0, printed.stderr
    diff = json.loads(printed.stdout)
    expected = expected_changes(runs["old"], runs["other"])
    assert listed_changes(diff) == expected
    assert Counter(change for change, _ in expected.values()) >= Counter(added=1, removed=4)
    assert "the runs read different input files: arena_demo.jsonl → changed.jsonl" in diff["notes"]
    assert {row["setting"] for row in diff["config"]} == {"input.path"}
    assert "the input changed: 1 rows only in the new run, 4 only in the old one" in diff["notes"]
    assert "the input changed" in printed.stderr  # the flags are shown, not only written
    removed = {row["id"]: row for row in diff["rows"] if row["change"] == "removed"}
    assert {row["source_old"] for row in removed.values()} == {f"arena_demo.jsonl:{line}" for line in range(1, 5)}


def test_the_report_says_what_changed_since_the_previous_run(runs):
    diff = json.loads((runs["diff"] / "diff.json").read_text(encoding="utf-8"))
    markdown = (runs["new"] / "report.md").read_text(encoding="utf-8")
    html = (runs["new"] / "report.html").read_text(encoding="utf-8")
    assert f"## What changed since {runs['old']}" in markdown
    assert diff["headline"] in markdown and diff["headline"] in html
    assert f"What changed since {runs['old']}</h2>" in html
    assert {row[0] for row in markdown_section(markdown, "Rows that changed")} == {row["id"] for row in diff["rows"]}
    for row in diff["rows"]:
        assert row["id"] in html
    assert "Audit headline" in markdown and "What changed since" not in (runs["old"] / "report.md").read_text(encoding="utf-8")


def test_help_and_bad_input(runs, tmp_path):
    runner = CliRunner()
    help_text = runner.invoke(app, ["diff", "--help"])
    assert help_text.exit_code == 0 and "RUN_A" in help_text.stdout and "--format" in help_text.stdout
    assert "--previous" in runner.invoke(app, ["report", "--help"]).stdout
    out = tmp_path / "diff"
    refused = runner.invoke(app, ["diff", str(runs["old"]), str(tmp_path), "--out", str(out)])
    assert refused.exit_code == 2 and "is not a run folder" in refused.stderr and not out.exists()
    assert runner.invoke(app, ["report", str(runs["new"]), "--previous", str(tmp_path)]).exit_code == 2
    broken = tmp_path / "broken"
    shutil.copytree(runs["old"], broken)
    (broken / "bias_audit.json").write_text('{"headline": ', encoding="utf-8")  # cut short
    refused = runner.invoke(app, ["diff", str(broken), str(runs["new"])])
    assert refused.exit_code == 2 and f"{broken / 'bias_audit.json'}: not readable as JSON" in refused.stderr

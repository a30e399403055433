"""Human review against a real Argilla server (argilla-server with the SQL search engine, redis-server,
SQLite), started for the session: push, an annotator's submitted answers, pull, decisions applied."""

import json
import shutil
from importlib import resources
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from curation.cli import app
from curation.config import RunConfig
from curation.review.agreement import fleiss_kappa
from curation.review.pull import decide, pull
from curation.review.push import MANIFEST, connect, push
from curation.review.server import SERVER_VENV, LocalArgilla, ReviewServerError, free_port
from curation.run import run

pytestmark = pytest.mark.skipif(not (SERVER_VENV / "bin" / "python").is_file() or shutil.which("redis-server") is None,
                                reason="the Argilla stack is not installed (`make test` installs it: make argilla)")


@pytest.fixture(scope="session")
def argilla(tmp_path_factory):
    home = tmp_path_factory.mktemp("argilla")
    home.chmod(0o755)  # as `mkdir` leaves a folder: the server must close it
    with LocalArgilla(home, port=free_port()) as server:
        yield server


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("review_run")
    with resources.as_file(resources.files("curation.demo").joinpath("arena_demo.jsonl")) as demo:
        config = RunConfig(name="review_demo", input={"path": str(demo), "format": "arena"},
                           dedupe={"semantic": {"enabled": False}})
        return run(config, folder / "out").output_dir


def owner(server):
    return connect(server.api_url, server.accounts["owner"].api_key)


def annotate(server, dataset_name: str, answers: dict[str, dict], status: str = "submitted") -> None:
    """Answer as the annotator, through the endpoints the Argilla UI uses (annotators may not list records
    through the owner's endpoints), with the SDK's authenticated HTTP client."""
    annotator = connect(server.api_url, server.accounts["annotator"].api_key)
    http = annotator.api.http_client
    dataset = annotator.datasets(name=dataset_name, workspace="curation")
    found = http.post(f"/api/v1/me/datasets/{dataset.id}/records/search", params={"limit": 1000}, json={}).json()
    by_external = {item["record"]["external_id"]: item["record"]["id"] for item in found["items"]}
    for external_id, values in answers.items():
        answer = http.post(f"/api/v1/records/{by_external[external_id]}/responses",
                           json={"values": {question: {"value": value} for question, value in values.items()}, "status": status})
        assert answer.status_code == 201, answer.text


def test_push_creates_the_dataset_and_is_idempotent(argilla, demo_run):
    client = owner(argilla)
    first = push(demo_run, client, "idempotent")
    accepted = pl.read_parquet(demo_run / "accepted.parquet")
    pairs = accepted.filter(pl.col("chosen").is_not_null() & pl.col("rejected").is_not_null()).height
    assert first.pushed == pairs and first.rejected == []
    again = push(demo_run, client, "idempotent")
    assert again.pushed == 0 and again.skipped == pairs
    updated = push(demo_run, client, "idempotent", update=True)  # re-sends: updates, never duplicates
    assert updated.pushed == pairs
    dataset = client.datasets(name="idempotent", workspace="curation")
    records = list(dataset.records(with_suggestions=True))
    assert len(records) == pairs
    assert {field.name for field in dataset.settings.fields} == {"system_prompt", "prompt", "response_a", "response_b", "possible_duplicate"}
    assert {question.name for question in dataset.settings.questions} == {"vote", "category", "corrected_response", "comment"}
    record = records[0]
    assert {"country", "source", "a_is_chosen"} <= set(record.metadata)
    assert any(suggestion.question_name == "vote" for suggestion in record.suggestions)
    # The A/B order is recorded, and it is not always the same side.
    shown = pl.read_parquet(demo_run / MANIFEST).filter(pl.col("dataset") == "idempotent")
    assert shown.height == pairs and 0 < shown.get_column("a_is_chosen").sum() < pairs


def test_round_trip_applies_the_annotators_decisions(argilla, demo_run):
    client = owner(argilla)
    push(demo_run, client, "roundtrip")
    shown = dict(pl.read_parquet(demo_run / MANIFEST).filter(pl.col("dataset") == "roundtrip").select("id", "a_is_chosen").iter_rows())
    accepted = pl.read_parquet(demo_run / "accepted.parquet").filter(pl.col("preference") == "chosen-better")
    ids = accepted.get_column("id").to_list()[:6]
    swap, both_good, both_bad, trivial, corrected, drafted = ids
    rejected_side = {row_id: ("b" if shown[row_id] else "a") for row_id in ids}
    annotate(argilla, "roundtrip", {
        swap: {"vote": rejected_side[swap], "category": "knowledge"},
        both_good: {"vote": "both_good", "category": "preference"},
        both_bad: {"vote": "both_bad", "category": "dynamics"},
        trivial: {"vote": "a", "category": "trivial"},
        corrected: {"vote": "b" if rejected_side[corrected] == "a" else "a", "category": "knowledge",
                    "corrected_response": "Una respuesta mejor, corregida por una persona de allí."},
    })
    annotate(argilla, "roundtrip", {drafted: {"vote": "both_bad", "category": "trivial"}}, status="draft")
    result = pull(demo_run, client, "roundtrip")
    assert result.reviewed == 5  # the draft does not count
    reviewed = pl.read_parquet(result.output_dir / "accepted.parquet")
    before = accepted.filter(pl.col("id") == swap).row(0, named=True)
    after = reviewed.filter(pl.col("id") == swap).row(0, named=True)
    assert (after["chosen"], after["rejected"]) == (before["rejected"], before["chosen"])
    assert reviewed.filter(pl.col("id") == both_good).get_column("preference").item() == "both-good"
    fixed = reviewed.filter(pl.col("id") == corrected).row(0, named=True)
    original = accepted.filter(pl.col("id") == corrected).row(0, named=True)
    assert fixed["chosen"].startswith("Una respuesta mejor") and fixed["chosen_before_review"] == original["chosen"]
    assert "corrected in Argilla" in fixed["review_provenance"]
    quarantined = pl.read_parquet(result.output_dir / "quarantine.parquet")
    assert dict(quarantined.select("id", "reasons").iter_rows()) == {both_bad: ["review_both_bad"], trivial: ["review_trivial"]}
    assert drafted in reviewed.get_column("id").to_list()
    ledger = dict(pl.read_parquet(result.output_dir / "review_ledger.parquet").select("id", "decision").iter_rows())
    assert ledger == {swap: "swapped", both_good: "both_good_to_kto", both_bad: "quarantined", trivial: "quarantined",
                      corrected: "confirmed"}
    dpo = pl.read_parquet(next((result.output_dir / "review_demo_dpo" / "parquet").glob("train.parquet")))
    assert both_good not in dpo.get_column("id").to_list()
    kto = pl.concat([pl.read_parquet(f) for f in (result.output_dir / "review_demo_kto" / "parquet").glob("*.parquet")])
    assert kto.filter(pl.col("id") == both_good).get_column("label").to_list() == [True, True]
    assert json.loads((result.output_dir / "review.json").read_text())["reviewed"] == 5
    from curation.reports.curation_report import write_report
    from curation.run_folder import RunFolder

    report, _ = write_report(RunFolder.read(demo_run))
    html = report.html
    assert "5 records reviewed" in html and "Fleiss" in html


def test_a_rejected_record_is_reported_and_the_others_go_through(argilla, demo_run, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(demo_run, folder)
    (folder / MANIFEST).unlink(missing_ok=True)
    accepted = pl.read_parquet(folder / "accepted.parquet")
    bad_id = accepted.get_column("id")[0]
    # Not an ISO code: the review dataset's country metadata refuses it.
    accepted.with_columns(country=pl.when(pl.col("id") == bad_id).then(pl.lit("Narnia")).otherwise("country")).write_parquet(folder / "accepted.parquet")
    result = push(folder, owner(argilla), "with_a_bad_record", batch_size=50)
    assert [record_id for record_id, _ in result.rejected] == [bad_id]
    assert result.pushed == accepted.filter(pl.col("chosen").is_not_null() & pl.col("rejected").is_not_null()).height - 1


def test_a_dead_server_loses_nothing_and_the_push_resumes(argilla, demo_run, tmp_path, monkeypatch):
    folder = tmp_path / "run"
    shutil.copytree(demo_run, folder)
    (folder / MANIFEST).unlink(missing_ok=True)
    client = owner(argilla)
    import httpx
    from argilla.records._dataset_records import DatasetRecords

    real_log = DatasetRecords.log
    calls = {"n": 0}

    def log_then_die(self, records, *args, **kwargs):  # the server dies after the first batch
        calls["n"] += 1
        if calls["n"] > 1:
            raise httpx.ConnectError("Connection refused")
        return real_log(self, records, *args, **kwargs)

    monkeypatch.setattr(DatasetRecords, "log", log_then_die)
    with pytest.raises(ReviewServerError, match="run the same push again to resume"):
        push(folder, client, "resumed", batch_size=40)
    done = pl.read_parquet(folder / MANIFEST).height
    assert done == 40
    monkeypatch.undo()
    resumed = push(folder, client, "resumed", batch_size=40)
    assert resumed.skipped == 40 and resumed.pushed + resumed.skipped == len(list(client.datasets(name="resumed", workspace="curation").records))


def test_an_existing_home_and_everything_in_it_are_private(argilla):
    """argilla.db holds the API keys in plain text: no file or folder of the home may be read by others."""
    assert {"argilla.db", "accounts.env", "server.log"} <= {path.name for path in argilla.home.iterdir()}
    home = [argilla.home, *argilla.home.rglob("*")]
    assert {str(path): oct(path.stat().st_mode & 0o777) for path in home if path.stat().st_mode & 0o077} == {}


def test_cli_errors_on_an_unreachable_server_without_printing_the_key(demo_run):
    result = CliRunner().invoke(app, ["review", "push", str(demo_run), "--api-url", f"http://127.0.0.1:{free_port()}",
                                      "--api-key", "owner.very-secret-key"])
    assert result.exit_code == 2 and "cannot reach Argilla" in result.output and "very-secret" not in result.output


def test_majority_and_disagreement():
    answers = pl.DataFrame({"id": ["r1"] * 3 + ["r2"] * 2, "user": ["u1", "u2", "u3", "u1", "u2"],
                            "question": ["vote"] * 5, "value": ["a", "a", "b", "a", "b"]})
    decisions = {row["id"]: row for row in decide(answers).iter_rows(named=True)}
    assert decisions["r1"]["vote"] == "a" and decisions["r1"]["disagreement"]
    assert decisions["r2"]["vote"] is None and decisions["r2"]["disagreement"]  # a tie decides nothing


def test_fleiss_kappa():
    assert fleiss_kappa([["a", "a"], ["b", "b"], ["a", "a"]]) == 1.0
    assert fleiss_kappa([["a", "b"], ["b", "a"]]) == -1.0
    assert fleiss_kappa([["a"]]) is None


def test_serve_command_starts_and_stops_the_stack(tmp_path):
    """`curation review serve` as a user runs it: up with both accounts, down on Ctrl-C, no key printed."""
    import signal
    import subprocess
    import sys

    import httpx

    port = free_port()
    serve = subprocess.Popen([sys.executable, "-m", "curation", "review", "serve", "--home", str(tmp_path), "--port", str(port)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    printed = []
    try:
        for line in serve.stdout:  # the command says when it is up
            printed.append(line)
            if "Argilla is up" in line:
                break
        keys = dict(line.split("=", 1) for line in (tmp_path / "accounts.env").read_text().splitlines())
        me = httpx.get(f"http://127.0.0.1:{port}/api/v1/me", headers={"X-Argilla-Api-Key": keys["annotator_api_key"]})
        assert me.status_code == 200 and me.json()["role"] == "annotator"
        assert oct((tmp_path / "accounts.env").stat().st_mode & 0o777) == "0o600"
    finally:
        serve.send_signal(signal.SIGINT)
        rest, _ = serve.communicate(timeout=60)
    output = "".join(printed) + rest
    assert serve.returncode == 0
    assert "Argilla is up" in output and keys["owner_api_key"] not in output


def test_the_sql_search_engine_answers_the_sdks_queries(argilla, demo_run):
    """Text, metadata and status queries go through argilla-server to our SQL engine."""
    import argilla as rg

    client = owner(argilla)
    push(demo_run, client, "searched")
    dataset = client.datasets(name="searched", workspace="curation")
    pairs = pl.read_parquet(demo_run / "accepted.parquet").filter(pl.col("chosen").is_not_null() & pl.col("rejected").is_not_null())
    spanish = pairs.filter(pl.col("country") == "ES").height
    by_country = list(dataset.records(query=rg.Query(filter=rg.Filter(("metadata.country", "==", "ES")))))
    assert len(by_country) == spanish and all(record.metadata["country"] == "ES" for record in by_country)
    found = list(dataset.records(query=rg.Query(query="abuela")))
    expected = pairs.filter(pl.col("prompt").str.to_lowercase().str.contains("abuela")
                            | pl.col("chosen").str.to_lowercase().str.contains("abuela")
                            | pl.col("rejected").str.to_lowercase().str.contains("abuela")
                            | pl.col("system_prompt").fill_null("").str.to_lowercase().str.contains("abuela")).height
    assert len(found) == expected > 0
    pending = list(dataset.records(query=rg.Query(filter=rg.Filter(("status", "==", "pending")))))
    assert len(pending) == pairs.height


def test_a_possible_duplicate_travels_side_by_side_and_the_classifiers_suggest_the_category(argilla, demo_run, tmp_path):
    run_dir = Path(shutil.copytree(demo_run, tmp_path / "run"))
    accepted = pl.read_parquet(run_dir / "accepted.parquet").filter(pl.col("rejected").is_not_null())
    first, second, third, fourth = accepted.get_column("id").to_list()[:4]
    accepted = pl.read_parquet(run_dir / "accepted.parquet").with_columns(
        possible_duplicate_of=pl.when(pl.col("id") == second).then(pl.lit(first)).otherwise(pl.col("possible_duplicate_of")),
        warnings=pl.when(pl.col("id") == third).then(pl.col("warnings").list.concat(pl.lit(["trivial_prompt"])))
        .otherwise(pl.col("warnings")))
    accepted.write_parquet(run_dir / "accepted.parquet")
    pl.DataFrame({"id": [fourth], "llm_category": ["bias_trap"], "llm_dimension": ["bias_trap"], "llm_confidence": [0.9],
                  "llm_rationale": ["invita a generalizar"], "llm_model": ["command-r7b-12-2024"]}).write_parquet(
        run_dir / "llm_classification.parquet")
    push(run_dir, owner(argilla), "side_by_side")
    dataset = owner(argilla).datasets(name="side_by_side", workspace="curation")
    records = {record.id: record for record in dataset.records(with_suggestions=True)}
    first_row = accepted.filter(pl.col("id") == first).row(0, named=True)
    shown = records[second].fields["possible_duplicate"]
    assert first_row["prompt"] in shown and f"(row {first})" in shown and records[second].metadata["possible_duplicate_of"] == first
    assert "possible_duplicate" not in records[first].fields or not records[first].fields["possible_duplicate"]
    category = {row_id: next(s for s in records[row_id].suggestions if s.question_name == "category") for row_id in (third, fourth)}
    assert (category[third].value, category[third].agent) == ("trivial", "trivial_prompt rule")
    assert (category[fourth].value, category[fourth].agent) == ("bias_trap", "LLM classifier command-r7b-12-2024")
    comment = next(s for s in records[fourth].suggestions if s.question_name == "comment")
    assert "invita a generalizar" in comment.value

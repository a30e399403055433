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
from curation.decisions import read_decisions
from curation.review.agreement import fleiss_kappa
from curation.review.annotate import answer, my_records
from curation.review.pull import decide, pull
from curation.review.push import MANIFEST, connect, push
from curation.review.server import SERVER_VENV, ReviewServerError, free_port, read_environment
from curation.run import run
from curation.run_folder import RunFolder

pytestmark = pytest.mark.skipif(not (SERVER_VENV / "bin" / "python").is_file() or shutil.which("redis-server") is None,
                                reason="the Argilla stack is not installed (`make test` installs it: make argilla)")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("review_run")
    with resources.as_file(resources.files("curation.demo").joinpath("arena_demo.jsonl")) as demo:
        config = RunConfig(name="review_demo", input={"path": str(demo), "format": "arena"},
                           dedupe={"semantic": {"enabled": False}}, decisions=str(folder / "decisions.yaml"))
        return run(config, folder / "out").output_dir


def owner(server):
    return connect(server.api_url, server.accounts["owner"].api_key)


def annotate(server, dataset_name: str, answers: dict[str, dict], status: str = "submitted") -> None:
    """Answer as the annotator, as curation.review.annotate documents it (the endpoints the Argilla UI uses)."""
    annotator = connect(server.api_url, server.accounts["annotator"].api_key)
    by_external = {record["external_id"]: record["id"] for record in my_records(annotator, dataset_name)}
    for external_id, values in answers.items():
        answer(annotator, by_external[external_id], values, status)


def curate(config, out):
    return run(config, out).output_dir


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
    assert {field.name for field in dataset.settings.fields} == {"context", "system_prompt", "prompt", "response_a", "response_b",
                                                                 "possible_duplicate"}
    assert {question.name for question in dataset.settings.questions} == {"vote", "category", "corrected_response", "comment"}
    assert dataset.settings.guidelines.startswith("Lee la pregunta")  # Spanish data, Spanish guidelines
    record = records[0]
    assert {"country", "source", "a_is_chosen"} <= set(record.metadata)
    assert record.fields["context"].startswith("País: ") and f"({record.metadata['country']})" in record.fields["context"]
    # Blind: no vote is pre-selected, and no judge's verdict shows
    assert not any(suggestion.question_name == "vote" for record in records for suggestion in record.suggestions)
    # The A/B order is recorded, and it is not always the same side.
    shown = pl.read_parquet(demo_run / MANIFEST).filter(pl.col("dataset") == "idempotent")
    assert shown.height == pairs and 0 < shown.get_column("a_is_chosen").sum() < pairs


def test_round_trip_applies_the_annotators_decisions(argilla, demo_run, tmp_path):
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
    result = pull(demo_run, client, "roundtrip", curate=curate)
    assert result.reviewed == 5  # the draft does not count
    assert pull(demo_run, client, "roundtrip", curate=curate).added == 0  # pulled again: nothing new to record
    table = read_decisions(demo_run.parent / "decisions.yaml")
    assert set(table.get_column("source")) == {"argilla"} and set(table.get_column("who")) == {"annotator"}
    assert set(table.filter(pl.col("id") == swap).get_column("action")) == {"swap", "category"}
    reviewed = pl.read_parquet(result.output_dir / "accepted.parquet")
    before = accepted.filter(pl.col("id") == swap).row(0, named=True)
    after = reviewed.filter(pl.col("id") == swap).row(0, named=True)
    assert (after["chosen"], after["rejected"]) == (before["rejected"], before["chosen"])
    assert reviewed.filter(pl.col("id") == both_good).get_column("preference").item() == "both-good"
    fixed = reviewed.filter(pl.col("id") == corrected).row(0, named=True)
    original = accepted.filter(pl.col("id") == corrected).row(0, named=True)
    assert fixed["chosen"].startswith("Una respuesta mejor") and fixed["chosen_before_review"] == original["chosen"]
    assert fixed["review_provenance"].startswith("chosen corrected by annotator (argilla, ")  # a username, not a UUID
    quarantined = pl.read_parquet(result.output_dir / "quarantine.parquet").filter(pl.col("stage") == "apply_decisions")
    assert dict(quarantined.select("id", "reasons").iter_rows()) == {both_bad: ["review_both_bad"], trivial: ["review_trivial"]}
    assert drafted in reviewed.get_column("id").to_list()
    ledger = dict(pl.read_parquet(result.output_dir / "review_ledger.parquet").select("id", "decision").iter_rows())
    assert ledger == {swap: "swapped", both_good: "both_good_to_kto", both_bad: "quarantined", trivial: "quarantined",
                      corrected: "confirmed"}
    dpo = pl.read_parquet(next((result.output_dir / "review_demo_dpo").rglob("train*.parquet")))
    assert both_good not in dpo.get_column("id").to_list()
    kto = pl.concat([pl.read_parquet(f) for f in (result.output_dir / "review_demo_kto").rglob("*.parquet")])
    assert kto.filter(pl.col("id") == both_good).get_column("label").to_list() == [True, True]
    assert json.loads((result.output_dir / "review.json").read_text())["reviewed"] == 5
    from curation.reports.curation_report import write_report

    report, _ = write_report(RunFolder.read(demo_run))
    html = report.html
    assert "5 records reviewed" in html and "Fleiss" in html
    # The reviewed result is a run folder of its own: the ledger balances, and the report reads it
    folder = RunFolder.read(result.output_dir)
    assert folder.summary["input_rows"] == RunFolder.read(demo_run).summary["input_rows"]
    assert folder.human_reviewed() == {"accepted": 3, "quarantined": 2}
    write_report(folder)
    every_command_takes_it_as_a_run(result.output_dir, tmp_path)


def every_command_takes_it_as_a_run(reviewed: Path, tmp_path: Path) -> None:
    """`curation report`, `card`, `evaluate` and `train` on <run>/reviewed, as on any run folder: the report and the
    cards count the rows a person reviewed, and the model card carries the reviewed run's audit."""
    from curation.train.tiny import build_tiny_model

    def curation(*arguments):
        done = CliRunner().invoke(app, [*map(str, arguments)])
        assert done.exit_code == 0, (arguments, done.output, done.exception)
        return done

    reviewed_rows = "Rows a person reviewed: **3**"
    curation("report", reviewed, "--out", tmp_path / "report")
    assert reviewed_rows in (tmp_path / "report" / "bias_audit.md").read_text(encoding="utf-8")
    curation("card", reviewed, "--kind", "kto")
    assert reviewed_rows in (reviewed / "review_demo_kto" / "README.md").read_text(encoding="utf-8")
    # A gold label for the demo's first row: the evaluation finds the row in the reviewed run's ledger
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"row": 1, "category": "knowledge", "dimension": "knowledge"}) + "\n", encoding="utf-8")
    curation("evaluate", reviewed, "--gold", gold, "--target-file", "arena_demo.jsonl", "--out", tmp_path / "evaluation")
    assert json.loads((tmp_path / "evaluation" / "evaluation.json").read_text())["rows"]["evaluated_rows"] == 1
    tiny = build_tiny_model(tmp_path / "tiny")
    curation("train", reviewed, "--model", tiny, "--preset", "cpu-tiny", "--out", tmp_path / "model", "--max-steps", 1,
             "--max-length", 64, "--quiet")
    assert reviewed_rows in (tmp_path / "model" / "README.md").read_text(encoding="utf-8")


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
        keys = {role: read_environment(tmp_path / name) for role, name in (("owner", "accounts.env"), ("annotator", "annotator.env"))}
        me = httpx.get(f"http://127.0.0.1:{port}/api/v1/me", headers={"X-Argilla-Api-Key": keys["annotator"]["ARGILLA_API_KEY"]})
        assert me.status_code == 200 and me.json()["role"] == "annotator"
        # `source accounts.env` sets what the SDK and `curation review` read, for the owner
        sourced = subprocess.run(["bash", "-c", f"source {tmp_path / 'accounts.env'} && echo $ARGILLA_API_URL $ARGILLA_API_KEY"],
                                 capture_output=True, text=True, check=True).stdout.split()
        assert sourced == [f"http://127.0.0.1:{port}", keys["owner"]["ARGILLA_API_KEY"]]
        assert {oct((tmp_path / name).stat().st_mode & 0o777) for name in ("accounts.env", "annotator.env")} == {"0o600"}
    finally:
        serve.send_signal(signal.SIGINT)
        rest, _ = serve.communicate(timeout=60)
    output = "".join(printed) + rest
    assert serve.returncode == 0
    assert "Argilla is up" in output and keys["owner"]["ARGILLA_API_KEY"] not in output


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


def test_blind_by_default_and_the_guidelines_follow_the_datas_language(argilla):
    from curation.review.dataset import review_language, review_rows, settings, to_record

    owner(argilla)  # argilla's records and suggestions need a client, as they have in a push

    row = {"id": "r1", "system_prompt": None, "prompt": "¿Qué se come en Nochebuena?", "chosen": "Bacalao.", "rejected": "Pavo.",
           "preference": "chosen-better", "country": "PT", "source": "x:1", "prompt_lang": "pt", "edad": "60", "genero": "mujer"}
    [shown] = review_rows(pl.DataFrame([row]), seed=0).iter_rows(named=True)
    assert not [s for s in to_record(shown).suggestions if s.question_name == "vote"]
    assert [s.agent for s in to_record(shown, show_suggestions=True).suggestions if s.question_name == "vote"] == ["arena vote"]
    assert to_record(shown).fields["context"] == "País: Portugal (PT)\nedad: 60 · genero: mujer"
    assert review_language(review_rows(pl.DataFrame([row]), seed=0)) == "pt"
    assert settings(language="pt").guidelines.startswith("Leia a pergunta")


def test_an_annotator_cannot_list_records_with_the_sdk_but_can_through_annotate(argilla, demo_run):
    """argilla 2.8: `dataset.records` asks the owner's endpoint and the server answers 403 to an annotator."""
    push(demo_run, owner(argilla), "annotator_view")
    annotator = connect(argilla.api_url, argilla.accounts["annotator"].api_key)
    with pytest.raises(Exception, match="403|ermission|orbidden"):
        list(annotator.datasets(name="annotator_view", workspace="curation").records)
    pending = my_records(annotator, "annotator_view")
    assert len(pending) == pl.read_parquet(demo_run / MANIFEST).filter(pl.col("dataset") == "annotator_view").height
    answer(annotator, pending[0]["id"], {"vote": "a", "category": "knowledge"})
    assert len(my_records(annotator, "annotator_view")) == len(pending) - 1


def test_the_whole_loop_keeps_every_human_decision(argilla, tmp_path):
    """push, annotate as the annotator, pull, extend (the Cohere emulator), curate the extended run from the
    raw export again: every decision still applies, and the ledger balances."""
    from curation.llms.cohere_emulator import CohereEmulator

    with resources.as_file(resources.files("curation.demo").joinpath("arena_demo.jsonl")) as demo:
        config = RunConfig(name="loop", input={"path": str(demo), "format": "arena"}, dedupe={"semantic": {"enabled": False}},
                           decisions=str(tmp_path / "decisions.yaml"))
        seed = run(config, tmp_path / "seed").output_dir
    client = owner(argilla)
    push(seed, client, "loop")
    shown = dict(pl.read_parquet(seed / MANIFEST).select("id", "a_is_chosen").iter_rows())
    ids = pl.read_parquet(seed / "accepted.parquet").filter(pl.col("preference") == "chosen-better").get_column("id").to_list()
    swap, stereotype = ids[:2]
    annotate(argilla, "loop", {swap: {"vote": "b" if shown[swap] else "a", "category": "preference"},
                               stereotype: {"vote": "a" if shown[stereotype] else "b", "category": "stereotype"}})
    pull(seed, client, "loop", curate=curate)
    kept_back = pl.read_parquet(seed / "quarantine.parquet").get_column("id")[0]
    done = CliRunner().invoke(app, ["decide", str(seed), kept_back, "--keep", "--why", "el filtro se equivoca", "--who", "ana"])
    assert done.exit_code == 0, done.output
    with pytest.MonkeyPatch.context() as patch, CohereEmulator() as emulator:
        patch.setenv("COHERE_API_KEY", "sk-test")
        extended = CliRunner().invoke(app, ["extend", str(seed / "reviewed"), "--out", str(tmp_path / "extension"),
                                            "--max-prompts", "4", "--budget", "5"], env={"COHERE_BASE_URL": emulator.base_url})
    assert extended.exit_code == 0, extended.output
    curated = CliRunner().invoke(app, ["run", str(tmp_path / "extension" / "run.yaml")])
    assert curated.exit_code == 0, curated.output  # the run proves its ledger balances, or fails
    again = RunFolder.read(tmp_path / "extension" / "curated")
    accepted = {row["id"]: row for row in again.accepted.iter_rows(named=True)}
    before = {row["id"]: row for row in pl.read_parquet(seed / "accepted.parquet").iter_rows(named=True)}
    assert (accepted[swap]["chosen"], accepted[swap]["category"]) == (before[swap]["rejected"], "preference")
    assert again.quarantined.filter(pl.col("id") == stereotype).get_column("reasons").to_list() == [["review_stereotype"]]
    assert [d["who"] for d in accepted[kept_back]["decisions"]] == ["ana"]
    assert again.human_reviewed() == {"accepted": 2, "quarantined": 1}
    ledger = pl.read_parquet(tmp_path / "extension" / "curated" / "ledger.parquet")
    generated = pl.read_parquet(tmp_path / "extension" / "generated.parquet").height
    assert ledger.height == again.summary["input_rows"] == RunFolder.read(seed).summary["input_rows"] + generated

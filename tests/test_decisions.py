"""Decisions as data: the table (YAML or CSV, append-only, the last word wins), the stage that applies it
in every run, `curation decide`, and the ledger's conservation with rows put back and taken out."""

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from curation.cli import app
from curation.config import demo_config
from curation.decisions import append_decisions, decision, in_force, read_decisions
from curation.errors import ConfigError
from curation.run import run


def decided(path: Path, *entries: dict) -> None:
    append_decisions(path, pl.DataFrame(list(entries)))


def test_the_table_reads_back_what_is_appended_in_yaml_and_csv(tmp_path):
    for name in ("decisions.yaml", "decisions.csv"):
        path = tmp_path / name
        first = decision("a1", "quarantine", "review_trivial", who="ana", why="de enciclopedia", source="cli")
        second = decision("b2", "category", "knowledge", who="luis", source="argilla")
        assert append_decisions(path, pl.DataFrame([first, second])) == 2
        assert append_decisions(path, pl.DataFrame([first])) == 0  # the same decision again adds nothing
        table = read_decisions(path)
        assert table.select("id", "action", "value", "who", "source").rows() == [
            ("a1", "quarantine", "review_trivial", "ana", "cli"), ("b2", "category", "knowledge", "luis", "argilla")]
        assert table.get_column("when").str.to_datetime().is_not_null().all()


def test_a_steward_can_edit_the_yaml_by_hand_and_comments_survive_an_append(tmp_path):
    path = tmp_path / "decisions.yaml"
    path.write_text("# nuestras decisiones\n- id: a1\n  action: keep\n  why: el filtro se equivoca\n  when: 2026-05-01T10:00:00Z\n")
    decided(path, decision("a1", "quarantine", "review_off_topic", who="ana", source="cli"))
    assert path.read_text().startswith("# nuestras decisiones\n")
    table = read_decisions(path)
    assert table.get_column("source").to_list() == ["file", "cli"]  # a hand-written entry comes from the file
    assert table.get_column("when")[0].startswith("2026-05-01T10:00:00")
    assert in_force(table).select("id", "action").rows() == [("a1", "quarantine")]  # the later one wins


@pytest.mark.parametrize(("text", "message"), [
    ("- id: a1\n  action: delete\n", "entry 1: action"),
    ("- id: a1\n  action: keep\n- id: a2\n  action: quarantine\n", "entry 2: value: quarantine needs a value"),
    ("- id: a1\n  action: category\n  value: trivia\n", "a category is one of"),
    ("- id: a1\n  action: quarantine\n  value: a long explanation\n", "a quarantine reason is a short name"),
    ("- id: a1\n  action: keep\n  colour: red\n", "colour"),
    ("id: a1\n", "expected a list of decisions"),
])
def test_a_bad_entry_names_the_file_the_entry_and_the_field(tmp_path, text, message):
    path = tmp_path / "decisions.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as error:
        read_decisions(path)
    assert str(path) in str(error.value)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """The demo without semantic dedupe, and a decisions file beside it, empty for now."""
    folder = tmp_path_factory.mktemp("decisions")
    config = demo_config()
    config.dedupe.semantic.enabled = False
    return config, run(config, folder / "before").output_dir, folder / "decisions.yaml"


def test_every_decision_applies_and_the_ledger_still_balances(first_run):
    config, before, decisions_file = first_run
    accepted = pl.read_parquet(before / "accepted.parquet")
    quarantined = pl.read_parquet(before / "quarantine.parquet")
    duplicates = pl.read_parquet(before / "duplicates.parquet")
    pairs = accepted.filter(pl.col("preference") == "chosen-better")
    swap, both_good, corrected, trivial, relabelled, out = pairs.get_column("id").to_list()[:6]
    kept_back = quarantined.get_column("id")[0]
    copy = duplicates.row(0, named=True)  # a duplicate, and the accepted row it repeats
    original = copy["duplicate_of"]
    decided(decisions_file,
            decision(swap, "swap", who="ana", source="argilla"),
            decision(both_good, "both_good", who="ana", source="argilla"),
            decision(corrected, "correct", "Una respuesta escrita por alguien de allí.", who="luis", source="argilla"),
            decision(trivial, "category", "trivial", who="luis", source="argilla"),
            decision(relabelled, "category", "bias_trap", who="luis", source="argilla"),
            decision(out, "quarantine", "review_off_topic", who="ana", why="no es de este país", source="cli"),
            decision(kept_back, "keep", who="ana", why="el filtro se equivoca", source="cli"),
            decision(copy["id"], "not_duplicate_of", original, who="ana", why="otra persona", source="cli"),
            decision(original, "keep", who="ana", source="file"),  # keeps nothing: the row is not out
            decision("0000000000000000", "keep", who="ana", source="file"))  # no such row here
    config = config.model_copy(update={"decisions": str(decisions_file)})
    after = run(config, before.parent / "after")  # run() proves the ledger balances, or raises
    rows = {row["id"]: row for row in after.accepted.iter_rows(named=True)}
    old = {row["id"]: row for row in accepted.iter_rows(named=True)}
    assert (rows[swap]["chosen"], rows[swap]["rejected"]) == (old[swap]["rejected"], old[swap]["chosen"])
    assert rows[both_good]["preference"] == "both-good"
    assert rows[corrected]["chosen"].startswith("Una respuesta") and rows[corrected]["chosen_before_review"] == old[corrected]["chosen"]
    assert rows[corrected]["review_provenance"].startswith("chosen corrected by luis (argilla, ")
    assert (rows[relabelled]["category"], rows[relabelled]["dimension"], rows[relabelled]["dimension_confidence"]) == \
        ("bias_trap", "bias_trap", 1.0)
    assert kept_back in rows and set(quarantined.row(0, named=True)["reasons"]) <= set(rows[kept_back]["warnings"])
    assert copy["id"] in rows and [d["action"] for d in rows[copy["id"]]["decisions"]] == ["not_duplicate_of"]
    removed = {row["id"]: row for row in after.removed.collect().iter_rows(named=True)}
    assert removed[trivial]["reasons"] == ["review_trivial"] and removed[out]["reasons"] == ["review_off_topic"]
    assert removed[out]["decisions"][0] | {"when": None} == {"action": "quarantine", "value": "review_off_topic", "who": "ana",
                                                            "when": None, "why": "no es de este país", "source": "cli"}
    stage = next(entry for entry in after.summary["stages"] if entry["stage"] == "apply_decisions")
    assert stage["returned"] == 2 and stage["removed"] == 2 and stage["stats"]["rows_decided"] == 9
    assert after.summary["status"] == {"accepted": accepted.height, "quarantined": quarantined.height + 1,
                                       "duplicate": duplicates.height - 1}
    ledger = pl.read_parquet(after.output_dir / "ledger.parquet")
    assert ledger.height == accepted.height + quarantined.height + duplicates.height
    assert ledger.filter(pl.col("decisions").list.len() > 0).height == 9
    assert ledger.filter(pl.col("id") == out).get_column("status").item() == "quarantined"
    from curation.reports.bias_audit import audit, audit_markdown

    audited = audit(after.accepted)
    assert audited["headline"]["human_reviewed"] == 7 and "Rows a person reviewed: **7**" in audit_markdown(audited)
    # A run from the raw export again applies every decision the same way.
    again = run(config, before.parent / "again")
    assert again.ledger_rows.drop("decisions").equals(after.ledger_rows.drop("decisions"))


def test_a_row_a_decision_takes_out_takes_its_duplicates_with_it(first_run, tmp_path):
    config, before, _ = first_run
    copy = pl.read_parquet(before / "duplicates.parquet").row(0, named=True)
    decisions_file = tmp_path / "decisions.csv"
    decided(decisions_file, decision(copy["duplicate_of"], "both_bad", who="ana", source="cli"))
    config = config.model_copy(update={"decisions": str(decisions_file)})
    after = run(config, tmp_path / "out")
    removed = {row["source"]: row for row in after.removed.collect().iter_rows(named=True)}
    assert removed[copy["source"]]["status"] == "quarantined"
    assert removed[copy["source"]]["reasons"] == ["duplicate_of_quarantined"]
    assert removed[copy["duplicate_of_source"]]["reasons"] == ["review_both_bad"]


def test_decide_adds_to_the_runs_decisions_file(first_run, tmp_path):
    config, before, _ = first_run
    accepted = pl.read_parquet(before / "accepted.parquet")
    row_id = accepted.get_column("id")[0]
    decisions_file = tmp_path / "mine.yaml"
    runner = CliRunner()
    done = runner.invoke(app, ["decide", str(before), row_id, "--quarantine", "review_off_topic", "--why", "fuera de tema",
                               "--who", "ana", "--decisions", str(decisions_file)])
    assert done.exit_code == 0, done.output
    done = runner.invoke(app, ["decide", str(before), row_id, "--category", "knowledge", "--dimension", "knowledge",
                               "--who", "ana", "--decisions", str(decisions_file)])
    assert done.exit_code == 0, done.output
    table = read_decisions(decisions_file)
    assert table.select("id", "action", "value", "who", "why", "source").rows() == [
        (row_id, "quarantine", "review_off_topic", "ana", "fuera de tema", "cli"),
        (row_id, "category", "knowledge", "ana", None, "cli"), (row_id, "dimension", "knowledge", "ana", None, "cli")]


@pytest.mark.parametrize(("arguments", "message"), [
    (["nonexistent_id", "--keep", "--decisions", "{file}"], "no row with id nonexistent_id"),
    (["{id}", "--keep", "--quarantine", "review_x", "--decisions", "{file}"], "one of each"),
    (["{id}", "--decisions", "{file}"], "say what to decide"),
    (["{id}", "--category", "trivia", "--decisions", "{file}"], "a category is one of"),
    (["{id}", "--keep"], "no decisions file"),
])
def test_decide_refuses_what_it_cannot_record(first_run, tmp_path, arguments, message):
    _, before, _ = first_run
    row_id = pl.read_parquet(before / "accepted.parquet").get_column("id")[0]
    decisions_file = tmp_path / "decisions.yaml"
    done = CliRunner().invoke(app, ["decide", str(before), *(part.format(id=row_id, file=decisions_file) for part in arguments)])
    assert done.exit_code == 2 and message in " ".join(done.output.split()), done.output
    assert not decisions_file.exists()


def test_a_dataset_folder_inside_a_run_finds_its_run_and_a_bad_folder_gets_the_right_hint(first_run, tmp_path):
    from curation.errors import InputError
    from curation.train.data import load_splits

    _, before, _ = first_run
    assert load_splits(before / "demo_arena_dpo").run_folder == before  # so the model card finds the run's audit
    with pytest.raises(InputError, match="neither a run folder") as error:
        load_splits(tmp_path)
    assert "test_fraction" not in str(error.value)

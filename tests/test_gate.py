"""The gate: rule packs (row rules as polars expressions, dataset expectations with great-expectations),
quarantine with every reason, validation.json, and --strict."""

import json

import polars as pl
import pytest
from typer.testing import CliRunner

from curation.cli import app
from curation.config import RunConfig
from curation.errors import ConfigError
from curation.pipelines.filter import Filter
from curation.rules.expectations import country_dimension_counts, tables, validate
from curation.rules.pack import Pack, load_pack
from curation.testing import frame_of, pair

runner = CliRunner()


def test_default_pack_loads_and_compiles():
    pack = load_pack("default")
    names = {rule.name for rule in pack.rules()}
    assert {"country_is_iso", "synthetic_names_its_model"} <= names
    assert {e.table for e in pack.expectations} >= {"accepted", "country_shares", "country_dimension_counts", "dpo_pairs"}


def test_synthetic_rows_must_name_their_model():
    rows = frame_of(pair(), pair(prompt="¿Qué se come en la Candelaria de Puno?"), pair(prompt="¿Y en el Inti Raymi?"))
    rows = rows.with_columns(origin=pl.Series([None, "synthetic", "synthetic"]), modelo_gen=pl.Series([None, None, "command-r7b-12-2024"]))
    result = Filter(load_pack("default").rules())(rows)
    assert result.removed.get_column("source").to_list() == ["test:2"]
    assert result.removed.get_column("reasons").to_list() == [["synthetic_names_its_model"]]
    seed_only = Filter(load_pack("default").rules())(frame_of(pair()))  # no origin, no modelo_gen column: nothing to check
    assert seed_only.removed.height == 0


def test_a_stewards_pack_blocks_with_every_reason(tmp_path):
    pack_file = tmp_path / "pack.yaml"
    pack_file.write_text("""
name: strict_mx
row_rules:
  - {name: only_mexico, column: country, check: in_set, values: [MX], reason: this dataset is Mexican}
  - {name: no_question_marks_missing, column: prompt, check: matches, pattern: '\\?', reason: a prompt asks something}
  - {name: short_prompt, column: prompt, check: length_between, max: 30, severity: warn, reason: keep it short}
""", encoding="utf-8")
    rows = frame_of(pair(country="MX", prompt="¿Mole o pozole?"), pair(country="AR", prompt="Contame del mate"))
    result = Filter(load_pack(str(pack_file)).rules())(rows)
    assert result.removed.get_column("reasons").to_list() == [["only_mexico", "no_question_marks_missing"]]
    assert result.kept.get_column("warnings").to_list() == [[]]


@pytest.mark.parametrize("text, message", [
    ("name: x\nrow_rules:\n  - {name: a, column: prompt, check: sounds_nice, reason: r}\n", "sounds_nice"),
    ("name: x\nrow_rules:\n  - {name: a, column: prompt, check: in_set, reason: r}\n", "needs ['values']"),
    ("name: x\nexpectations:\n  - {expectation: not_an_expectation, kwargs: {}}\n", "expect_"),
    ("name: x\nsurprise: 1\n", "surprise"),
])
def test_bad_packs_are_config_errors(tmp_path, text, message):
    pack_file = tmp_path / "bad.yaml"
    pack_file.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_pack(str(pack_file))


def test_dpo_pairs_expectation_catches_a_both_good_pair():
    accepted = frame_of(pair(), pair(prompt="¿Empanadas de pino o de queso?", preference="both-good"))
    pack = Pack.model_validate({"name": "p", "expectations": [
        {"expectation": "expect_column_values_to_be_in_set", "table": "dpo_pairs",
         "kwargs": {"column": "preference", "value_set": ["chosen-better"]}}]})
    names = {"dpo": "x_dpo"}
    clean = validate([pack], tables(accepted, accepted.get_column("id").head(1), names))
    leaked = validate([pack], tables(accepted, accepted.get_column("id"), names))
    assert clean["success"] and not leaked["success"]
    assert leaked["results"][0]["result"]["unexpected_count"] == 1


def test_country_dimension_cells_include_empty_ones():
    accepted = frame_of(pair(country="MX"), pair(country="AR")).with_columns(dimension=pl.Series(["knowledge", "dynamics"]))
    cells = country_dimension_counts(accepted)
    assert cells.height == 8 and cells.get_column("rows").sum() == 2 and cells.filter(pl.col("rows") == 0).height == 6


def test_run_writes_validation_and_strict_fails(tmp_path):
    config = tmp_path / "run.yaml"
    source = tmp_path / "rows.jsonl"
    pl.DataFrame([pair(country="MX"), pair(country="MX", prompt="¿Qué es un tlacoyo?")]).write_ndjson(source)
    config.write_text(json.dumps({"name": "gate", "input": {"path": str(source), "format": "trl"},
                                  "output": {"dir": str(tmp_path / "out")}, "dedupe": {"semantic": {"enabled": False}}}))
    relaxed = runner.invoke(app, ["run", str(config), "-q"])
    assert relaxed.exit_code == 0, relaxed.output
    validation = json.loads((tmp_path / "out" / "validation.json").read_text())
    failed = {r["table"] for r in validation["results"] if not r["success"]}
    assert "country_shares" in failed and "country_counts" in failed  # one country, two rows
    assert json.loads((tmp_path / "out" / "ledger.json").read_text())["validation"]["failed"] == validation["failed"]
    strict = runner.invoke(app, ["run", str(config), "-q", "--strict"])
    assert strict.exit_code == 3 and "dataset expectations failed" in strict.output


def test_rules_command_lists_pack_rules_and_expectations():
    result = runner.invoke(app, ["rules"], env={"COLUMNS": "300"})
    assert result.exit_code == 0
    assert "synthetic_names_its_model" in result.output and "expect_column_values_to_be_unique" in result.output


def test_unknown_pack_is_a_config_error():
    from curation.pipelines import default_pipeline

    with pytest.raises(ConfigError, match="no such file"):
        default_pipeline(RunConfig(name="x", input={"path": "a.csv"}, gate={"packs": ["missing.yaml"]}))

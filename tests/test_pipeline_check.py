"""The pipeline is checked before it reads a row (each rule declares the tag columns it needs), the README's
one-stage-at-a-time sequence works, and a user's lexicon is checked and used by every stage that reads it."""

import json
from importlib import resources

import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from curation.cli import app
from curation.config import FilterConfig, RunConfig
from curation.errors import ConfigError, CurationError
from curation.lexicon import Lexicon
from curation.pipelines import column_makers, default_pipeline
from curation.rules import default_rules
from curation.schema import CANONICAL
from curation.stage import Pipeline

DEMO = str(resources.files("curation.demo").joinpath("arena_demo.jsonl"))


def invoke(*args):
    return CliRunner().invoke(app, [str(arg) for arg in args])


def test_a_filter_without_the_tag_stages_fails_its_check_naming_what_to_run():
    from curation.pipelines.filter import Filter

    pipeline = Pipeline([Filter(default_rules(FilterConfig()))])
    with pytest.raises(CurationError, match=r"stage filter needs columns \['prompt_lang'.*run language_tag, variety_tag first"):
        pipeline.check(CANONICAL, column_makers())
    default_pipeline(RunConfig(name="x", input={"path": DEMO})).check(CANONICAL, column_makers())  # the whole pipeline holds


def test_the_readmes_stage_by_stage_sequence_runs_and_a_missing_stage_exits_2(tmp_path):
    steps = tmp_path / "steps"
    assert invoke("normalise", DEMO, "-o", steps / "1").exit_code == 0
    skipped = invoke("filter", steps / "1" / "kept.parquet", "-o", steps / "x")
    assert skipped.exit_code == 2 and "run language_tag, variety_tag first" in skipped.stderr and not (steps / "x").exists()
    previous = steps / "1"
    for number, stage in enumerate(["language-tag", "variety-tag", "register-tag", "dimension-tag", "filter", "exact-dedupe"], 2):
        result = invoke(stage, previous / "kept.parquet", "-o", steps / str(number))
        assert result.exit_code == 0, (stage, result.stderr)
        previous = steps / str(number)
    stats = json.loads((previous / "stats.json").read_text())
    kept = pl.read_parquet(previous / "kept.parquet")
    assert kept.height > 0 and "warnings" in kept.columns and stats


@pytest.mark.parametrize(("text", "message"), [
    ("es:\n  - kind: word\n    words: [che]\n", "language es, group 1: varieties: Field required"),
    ("es:\n  kind: word\n", "language es: expected a list of groups"),
    ("es:\n  - kind: word\n    varieties: [es-AR]\n    patterns: ['(unclosed']\n", "is not a valid regex"),
    ("es:\n  - kind: word\n    varieties: [es-AR]\n    wrods: [che]\n", "wrods: Extra inputs are not permitted"),
    ("- just a list\n", "expected a mapping of language code"),
])
def test_a_broken_lexicon_is_named_with_its_language_group_and_field(tmp_path, text, message):
    lexicon = tmp_path / "mine.yaml"
    lexicon.write_text(text)
    with pytest.raises(ConfigError, match=message):
        Lexicon.load(str(lexicon))
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({"name": "x", "input": {"path": DEMO}, "tagging": {"varieties_lexicon": str(lexicon)}}))
    result = invoke("run", config, "--out", tmp_path / "out", "--quiet")
    assert result.exit_code == 2 and message.split(":")[0] in result.stderr and not (tmp_path / "out").exists()


def test_a_missing_lexicon_file_exits_2(tmp_path):
    with pytest.raises(ConfigError, match="cannot read it"):
        Lexicon.load(str(tmp_path / "absent.yaml"))


def test_variety_clash_reads_the_lexicon_the_tags_were_made_with(tmp_path):
    lexicon = tmp_path / "mine.yaml"
    lexicon.write_text("es:\n  - kind: word\n    weight: 3\n    varieties: [es-XX]\n    words: [guachinango]\n")
    frame = pl.DataFrame({"country": ["XX"], "chosen_lang": ["es"], "chosen_variety_score": [3], "chosen_variety_candidates": [["es-MX"]],
                          "rejected_lang": ["es"], "rejected_variety_score": [0], "rejected_variety_candidates": [[]]})

    def clash(varieties_lexicon):
        rules = {rule.name: rule for rule in default_rules(FilterConfig(), varieties_lexicon=varieties_lexicon)}
        return frame.select(rules["variety_clash_chosen"].flag()).item()
    assert clash(str(lexicon)) is True  # the user's lexicon knows es-XX: an es-MX answer clashes
    assert clash("varieties.yaml") is False  # the packaged one does not know XX: nothing to judge


@pytest.mark.parametrize(("expectation", "message"), [
    ("{expectation: expect_column_values_to_not_be_nul, kwargs: {column: prompt}}", "has no expectation 'expect_column_values_to_not_be_nul'"),
    ("{expectation: expect_column_values_to_not_be_null, kwargs: {colum: prompt}}", "colum extra fields not permitted"),
    ("{expectation: expect_column_values_to_not_be_null, table: nope, kwargs: {column: prompt}}", "unknown table 'nope'"),
])
def test_a_misspelt_expectation_fails_before_any_row_is_read(tmp_path, expectation, message):
    pack = tmp_path / "pack.yaml"
    pack.write_text(f"name: mine\nexpectations:\n  - {expectation}\n")
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({"name": "x", "input": {"path": DEMO}, "gate": {"packs": ["default", str(pack)]}}))
    result = invoke("run", config, "--out", tmp_path / "out", "--quiet")
    assert result.exit_code == 2 and "rule pack 'mine', expectation 1" in result.stderr and message in " ".join(result.stderr.split())
    assert sorted(path.name for path in tmp_path.iterdir()) == ["pack.yaml", "run.yaml"]  # no output, no work folder


def test_the_summary_tells_a_rule_from_a_dedupe_by_where_its_rows_ended_not_by_its_name(tmp_path):
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in [
        {"prompt": "¿Qué es un duplicate_note en un archivo?", "chosen": "Una nota que marca un duplicado.", "rejected": "No lo sé, la verdad.", "country": "ES"},
        {"prompt": "¿Cómo se prepara el mate cocido?", "chosen": "Se hierve la yerba y se cuela.", "rejected": "Con agua fría, sin más.", "country": "PY"},
        {"prompt": "¿Cómo se prepara el mate cocido?", "chosen": "Se hierve la yerba y se cuela.", "rejected": "Con agua fría, sin más.", "country": "PY"},
    ]))
    pack = tmp_path / "pack.yaml"
    pack.write_text("name: mine\nrow_rules:\n  - {name: no_duplicate_word, column: prompt, check: not_matches, pattern: duplicate, reason: a test}\n")
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({"name": "x", "input": {"path": str(data)}, "gate": {"packs": ["default", str(pack)]},
                                      "dedupe": {"semantic": {"enabled": False}}}))
    result = CliRunner().invoke(app, ["run", str(config), "--out", str(tmp_path / "out")], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stderr
    lines = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in result.stderr.splitlines() if line.count("│") >= 4}
    assert lines["no_duplicate_word"] == "block" and lines["exact_duplicate_pair"] == "duplicate"

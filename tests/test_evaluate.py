"""`curation evaluate`: the engine's judgements on a run measured against hand labels (the gold set), on a
hand-made run folder and small synthetic gold files whose every figure is worked out below; and the real gold
folder on the shared sample when ../shared exists."""

import csv
import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from curation.cli import app
from curation.config import RunConfig, load_config
from curation.errors import CurationError
from curation.reports.evaluation import GOLD_FIELDS, evaluate, read_gold, rule_family
from curation.run import run

TARGET = "arena_v0_sample.csv"
GOLD_README = Path(__file__).resolve().parents[1] / "curation" / "data" / "gold"

# source row -> status, stage, reasons, warnings, duplicate_of row, and the tags
# (dimension, prompt_register, chosen_variety, chosen_lang)
RUN = {
    1: ("accepted", None, [], ["language_mismatch_chosen"], None, ("knowledge", "tú", "es-AR", "es")),
    2: ("quarantined", "filter", ["truncated_chosen", "mojibake"], ["stereotype_inducing_prompt"], None,
        ("undetermined", "undetermined", "undetermined", "es")),
    3: ("duplicate", "exact_dedupe", ["exact_duplicate_prompt"], [], 1, ("preference", "tú", "undetermined", "es")),
    4: ("duplicate", "semantic_dedupe", ["semantic_duplicate"], [], 1, ("preference", "tú", "undetermined", "und")),
    5: ("accepted", None, [], ["ai_disclaimer_rejected"], None, ("bias_trap", "usted", "es-ES", "gl")),
    6: ("accepted", None, [], ["length_ratio_extreme"], None, ("undetermined", "undetermined", "undetermined", "es")),
    7: ("accepted", None, [], [], None, ("knowledge", "undetermined", "undetermined", "es")),
    8: ("accepted", None, [], [], None, ("knowledge", "tú", "undetermined", "es")),
}

PROMPTS = [  # row, category, dimension, dimension_second, register, duplicate_group, prompt_defects
    (1, "knowledge", "knowledge", None, "tú", "1", []),
    (2, "stereotype", "preference", "knowledge", "none", None, ["mojibake"]),
    (3, "knowledge", "preference", None, "tú", "1", []),
    (4, "trivial", "knowledge", None, "none", None, []),
    (5, "dynamics", "dynamics", "bias_trap", "usted", "5", []),
    (6, "trivial", None, None, "vos", "5", []),
    (7, "knowledge", "knowledge", None, "tú", None, []),
    (99, "knowledge", "knowledge", None, "tú", None, []),  # not in the run
]
ANSWERS = [  # row, chosen_defects, rejected_defects, chosen_language, chosen_variety
    (1, ["wrong_language"], [], "es", "es-AR"),
    (2, ["truncated"], [], "es", "es-CL"),
    (3, [], [], "es", "undetermined"),
    (4, [], [], "es", "undetermined"),
    (5, [], ["persona_break"], "gl", "undetermined"),
    (6, ["truncated", "factual_error"], [], "es", "undetermined"),
]


def _run_folder(folder: Path) -> Path:
    """The files `evaluate` reads, as a run writes them: ledger.parquet and the three row tables."""
    folder.mkdir(parents=True)
    ledger, frames = [], {"accepted": [], "quarantined": [], "duplicate": []}
    other_file = [(f"other.csv:{row}", RUN[row]) for row in (1, 3)]  # another input of the run: left out
    for source, (status, stage, reasons, warnings, target, tags) in [*((f"{TARGET}:{row}", item) for row, item in RUN.items()), *other_file]:
        target_source = None if target is None else f"{TARGET}:{target}"
        ledger.append({"source": source, "id": f"id{len(ledger)}", "status": status, "stage": stage, "reasons": reasons,
                       "warnings": warnings, "duplicate_of": None if target is None else f"id{target - 1}",
                       "duplicate_of_source": target_source, "split": "train" if status == "accepted" else None})
        frames[status].append({"source": source, "dimension": tags[0], "prompt_register": tags[1], "chosen_variety": tags[2],
                               "chosen_lang": tags[3], "warnings": warnings})
    schema = {"source": pl.String, "id": pl.String, "status": pl.String, "stage": pl.String, "reasons": pl.List(pl.String),
              "warnings": pl.List(pl.String), "duplicate_of": pl.String, "duplicate_of_source": pl.String, "split": pl.String}
    pl.DataFrame(ledger, schema=schema).write_parquet(folder / "ledger.parquet")
    for status, name in (("accepted", "accepted"), ("quarantined", "quarantine"), ("duplicate", "duplicates")):
        pl.DataFrame(frames[status]).write_parquet(folder / f"{name}.parquet")
    return folder


def _write_gold(folder: Path, answers_tail: str = '{"row": 7, "chosen_def') -> Path:
    folder.mkdir(parents=True)
    (folder / "prompts.jsonl").write_text("".join(json.dumps(
        {"row": row, "category": category, "dimension": dimension, "dimension_second": second, "register": register,
         "register_evidence": [], "prompt_defects": defects, "duplicate_group": group, "notes": "n"}, ensure_ascii=False) + "\n"
        for row, category, dimension, second, register, group, defects in PROMPTS), encoding="utf-8")
    # The last line is being written by an annotator: no newline yet, cut mid-object.
    (folder / "answers-1.jsonl").write_text("".join(json.dumps(
        {"row": row, "chosen_defects": chosen, "rejected_defects": rejected, "chosen_language": language,
         "chosen_variety": variety, "chosen_variety_evidence": "", "vote_inverted": False, "notes": "other"}) + "\n"
        for row, chosen, rejected, language, variety in ANSWERS) + answers_tail, encoding="utf-8")
    return folder


@pytest.fixture
def fake(tmp_path) -> tuple[Path, Path]:
    return _run_folder(tmp_path / "run"), _write_gold(tmp_path / "gold")


def _family(evaluation: dict, family: str, side: str) -> dict:
    return next(item for item in evaluation["rule_families"] if item["family"] == family and item["side"] == side)


def test_rule_names_map_to_families_and_sides():
    assert rule_family("too_short_prompt") == ("too_short", "prompt")
    assert rule_family("error_placeholder_rejected") == ("error_placeholder", "rejected")
    assert rule_family("ai_disclaimer_chosen") == ("ai_disclaimer", "chosen")
    assert rule_family("pii_national_id") == ("pii", "row")
    assert rule_family("mojibake") == ("mojibake", "row")
    assert rule_family("language_mismatch_chosen_unsure") == ("language_mismatch", "chosen")
    assert rule_family("length_ratio_extreme") is None and rule_family("variety_clash_chosen") is None


def test_gold_folder_joins_files_on_row_and_skips_a_line_being_written(fake):
    gold = read_gold(fake[1])
    assert gold.files == ["answers-1.jsonl", "prompts.jsonl"] and gold.target_file == TARGET
    labels = gold.labels
    assert labels.height == 8  # rows 1-7 and 99; the cut line of row 7 is skipped
    assert labels.filter(pl.col("row") == 7)["labelled:chosen_defects"].item() is False
    assert labels.filter(pl.col("row") == 1)["chosen_defects"].to_list() == [["wrong_language"]]
    assert any("incomplete last line" in problem for problem in gold.problems)
    assert not any("notes" in problem for problem in gold.problems)  # notes differ per file: not a conflict


def test_rule_families_per_side_flagged_and_blocked(fake):
    evaluation = evaluate(*fake)
    # Only the target file's rows, and only rows the gold labels.
    assert evaluation["rows"] == {"run_rows": 8, "other_file_rows": 2, "gold_rows": 8, "evaluated_rows": 7,
                                  "gold_rows_not_in_run": [99]}
    coverage = {item["field"]: item for item in evaluation["coverage"]}
    assert (coverage["dimension"]["labelled"], coverage["dimension"]["coverage"]) == (7, 0.875)
    assert (coverage["chosen_defects"]["labelled"], coverage["chosen_defects"]["coverage"]) == (6, 0.75)
    mismatch = _family(evaluation, "language_mismatch", "chosen")  # a warning: flagged, never blocked
    assert mismatch["labelled"] == 6 and mismatch["gold_defect"] == "wrong_language"
    assert mismatch["flagged"] == {"support": 1, "predicted": 1, "tp": 1, "fp": 0, "fn": 0, "precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert mismatch["blocked"]["predicted"] == 0 and mismatch["blocked"]["recall"] == 0.0 and mismatch["blocked"]["precision"] is None
    truncated = _family(evaluation, "truncated", "chosen")  # rows 2 and 6 are truncated; the engine blocks row 2
    assert (truncated["blocked"]["tp"], truncated["blocked"]["fn"], truncated["blocked"]["precision"], truncated["blocked"]["recall"]) == (1, 1, 1.0, 0.5)
    mojibake = _family(evaluation, "mojibake", "row")  # a whole-row rule: the defect on any side (here the prompt)
    assert (mojibake["labelled"], mojibake["flagged"]["tp"], mojibake["flagged"]["support"]) == (6, 1, 1)
    disclaimer = _family(evaluation, "ai_disclaimer", "rejected")
    assert disclaimer["gold_defect"] == "persona_break" and disclaimer["flagged"]["f1"] == 1.0 and disclaimer["blocked"]["tp"] == 0
    assert {"rule": "length_ratio_extreme", "flagged": 1, "blocked": 0, "flagged_in_labelled_rows": 1} in evaluation["rules_without_gold"]
    assert {"side": "chosen", "gold_defect": "factual_error", "rows": 1} in evaluation["gold_defects_without_rule"]


def test_tags_abstention_lenient_and_confusion(fake):
    tags = evaluate(*fake)["tags"]
    dimension = tags["dimension"]
    assert (dimension["labelled"], dimension["decided"], dimension["correct"], dimension["gold_with_value"]) == (7, 5, 3, 6)
    assert (dimension["coverage"], dimension["precision"], dimension["recall"]) == (round(5 / 7, 4), 0.6, 0.5)
    assert (dimension["lenient_correct"], dimension["lenient_precision"]) == (4, 0.8)  # bias_trap is row 5's second
    confusion = dimension["confusion"]
    assert confusion["counts"][confusion["gold"].index("knowledge")][confusion["engine"].index("preference")] == 1  # row 4
    register = tags["prompt_register"]  # engine undetermined = no register; gold none = no second person
    assert (register["decided"], register["correct"], register["precision"], register["recall"]) == (4, 3, 0.75, 0.6)
    confusion = register["confusion"]
    none = confusion["counts"][confusion["gold"].index("none")]
    assert (none[confusion["engine"].index("tú")], none[confusion["engine"].index("none")]) == (1, 1)  # rows 4 and 2
    variety = tags["chosen_variety"]  # es-ES on a gold-undetermined row counts against precision
    assert (variety["decided"], variety["correct"], variety["precision"], variety["recall"]) == (2, 1, 0.5, 0.5)
    per_class = {item["class"]: item for item in variety["per_class"]}
    assert per_class["es-ES"]["precision"] == 0.0 and per_class["es-AR"]["f1"] == 1.0 and per_class["es-CL"]["recall"] == 0.0
    language = tags["chosen_language"]  # `und` is an abstention
    assert (language["decided"], language["correct"], language["precision"], language["recall"]) == (5, 5, 1.0, round(5 / 6, 4))


def test_dedupe_pairs_against_gold_groups(fake):
    dedupe = evaluate(*fake)["dedupe"]
    assert (dedupe["gold_groups"], dedupe["gold_duplicate_rows"]) == (2, 2)
    stages = {item["stage"]: item for item in dedupe["stages"]}
    assert (stages["exact_dedupe"]["engine_pairs"], stages["exact_dedupe"]["precision"], stages["exact_dedupe"]["recall"]) == (1, 1.0, 0.5)
    assert (stages["semantic_dedupe"]["precision"], stages["semantic_dedupe"]["recall"]) == (0.0, 0.0)
    assert stages["near_dedupe"]["engine_pairs"] == 0 and stages["near_dedupe"]["precision"] is None
    assert (dedupe["overall"]["precision"], dedupe["overall"]["recall"], dedupe["overall"]["f1"]) == (0.5, 0.5, 0.5)
    assert [(pair["row"], pair["duplicate_of"], pair["stage"]) for pair in dedupe["false_merges"]] == [(4, 1, "semantic_dedupe")]
    assert [(item["gold_group"], item["rows"], item["missed"]) for item in dedupe["missed"]] == [("5", [5, 6], 1)]


def test_category_counts_and_the_stereotype_rule(fake):
    category = evaluate(*fake)["category"]
    assert (category["trivial"], category["stereotype"], category["labelled_rows"]) == (2, 1, 7)
    (rule,) = category["rules"]
    assert rule["rule"] == "stereotype_inducing_prompt" and rule["gold_category"] == "stereotype"
    assert (rule["flagged"]["tp"], rule["flagged"]["precision"], rule["flagged"]["recall"]) == (1, 1.0, 1.0)


def test_one_gold_file_evaluates_what_it_labels(fake):
    evaluation = evaluate(fake[0], fake[1] / "prompts.jsonl")
    assert evaluation["gold_files"] == ["prompts.jsonl"]
    assert _family(evaluation, "truncated", "chosen")["labelled"] == 0
    assert _family(evaluation, "mojibake", "row")["labelled"] == 0  # the answers' sides are not labelled
    assert evaluation["tags"]["chosen_variety"]["labelled"] == 0 and evaluation["tags"]["dimension"]["labelled"] == 7


def test_cli_prints_tables_and_writes_json_and_markdown(fake, tmp_path):
    run_dir, gold = fake
    result = CliRunner().invoke(app, ["evaluate", str(run_dir), "--gold", str(gold)], env={"COLUMNS": "220"})
    assert result.exit_code == 0, (result.stderr, result.exception)
    for title in ("Rule families", "Tags", "Dedupe", "false merges", "Coverage"):
        assert title in result.stdout
    saved = json.loads((run_dir / "evaluation.json").read_text(encoding="utf-8"))
    assert saved["gold_target_file"] == TARGET and saved["dedupe"]["overall"]["precision"] == 0.5
    markdown = (run_dir / "evaluation.md").read_text(encoding="utf-8")
    assert "# Evaluation against the gold set" in markdown and "| language_mismatch | wrong_language | chosen |" in markdown
    out = tmp_path / "elsewhere"
    result = CliRunner().invoke(app, ["evaluate", str(run_dir), "--gold", str(gold), "--out", str(out)])
    assert result.exit_code == 0 and (out / "evaluation.json").is_file() and (out / "evaluation.md").is_file()
    assert "Measure the run's judgements" in CliRunner().invoke(app, ["evaluate", "--help"]).stdout


def test_bad_gold_and_wrong_file_exit_2(fake, tmp_path):
    run_dir, gold = fake
    broken = _write_gold(tmp_path / "broken", answers_tail="")
    with (broken / "prompts.jsonl").open("a", encoding="utf-8") as file:
        file.write('{"row": 8, "category": \n{"row": 9}\n')  # broken in the middle: an error, not a skip
    result = CliRunner().invoke(app, ["evaluate", str(run_dir), "--gold", str(broken)])
    assert result.exit_code == 2 and "prompts.jsonl line 9" in result.stderr
    result = CliRunner().invoke(app, ["evaluate", str(run_dir), "--gold", str(gold), "--target-file", "nothing.csv"])
    assert result.exit_code == 2 and "nothing.csv" in result.stderr
    result = CliRunner().invoke(app, ["evaluate", str(run_dir), "--gold", str(tmp_path / "absent")])
    assert result.exit_code == 2
    (tmp_path / "readme_gold").mkdir()
    shutil.copy(gold / "prompts.jsonl", tmp_path / "readme_gold")
    (tmp_path / "readme_gold" / "README.md").write_text("Labels for `other.csv`.\n", encoding="utf-8")
    assert read_gold(tmp_path / "readme_gold").target_file == "other.csv"  # the gold names its file
    with pytest.raises(CurationError, match="no \\*.jsonl"):
        read_gold(tmp_path)


def test_real_gold_folder_on_the_shared_sample(arena_sample, tmp_path):
    """The annotators' files as they stand (maybe incomplete): the evaluation runs and covers what they label."""
    gold = shutil.copytree(GOLD_README, tmp_path / "gold")  # a still copy: the annotators may be writing
    if not list(gold.glob("*.jsonl")):
        pytest.skip("no gold file written yet")
    config = load_config(Path(__file__).resolve().parents[1] / "configs" / "arena_v0.yaml")
    config.input.path = str(arena_sample)
    run_dir = run(config, tmp_path / "run").output_dir
    result = CliRunner().invoke(app, ["evaluate", str(run_dir), "--gold", str(gold), "--out", str(tmp_path / "eval")])
    assert result.exit_code == 0, (result.stderr, result.exception)
    evaluation = json.loads((tmp_path / "eval" / "evaluation.json").read_text(encoding="utf-8"))
    assert evaluation["gold_target_file"] == TARGET and evaluation["rows"]["run_rows"] == 446
    labelled = {name: set() for name in GOLD_FIELDS}
    for path in gold.glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # the line being written
            for name in GOLD_FIELDS:
                if name in record and 1 <= record["row"] <= 446:
                    labelled[name].add(record["row"])
    for item in evaluation["coverage"]:
        assert item["labelled"] == len(labelled[item["field"]]), item
    assert evaluation["tags"]["dimension"]["labelled"] == len(labelled["dimension"])
    assert evaluation["dedupe"]["labelled_rows"] == len(labelled["duplicate_group"])
    if all(len(rows) == 446 for rows in labelled.values()):
        assert_floors(evaluation)


def assert_floors(evaluation: dict) -> None:
    """The issue's targets on the whole gold set. Dimension and trivial recall are cross-validated in
    tests/test_prompt_classifier.py: on the sample the classifier was fitted on, they would say nothing."""
    dedupe = evaluation["dedupe"]
    assert dedupe["overall"]["precision"] >= 0.95 and dedupe["exact_recall"] == 1.0, dedupe
    families = {(item["family"], item["side"]): item for item in evaluation["rule_families"]}
    assert families[("error_placeholder", "rejected")]["flagged"]["recall"] == 1.0
    assert families[("error_placeholder", "prompt")]["flagged"]["recall"] == 1.0
    assert families[("language_mismatch", "chosen")]["blocked"]["recall"] == 1.0
    blocked = [item["blocked"] for item in evaluation["rule_families"] if item["blocked"]["predicted"]]
    assert sum(item["tp"] for item in blocked) / sum(item["predicted"] for item in blocked) >= 0.95
    tags = evaluation["tags"]
    assert tags["prompt_register"]["precision"] >= 0.95 and tags["prompt_register"]["recall"] >= 0.85
    assert tags["chosen_variety"]["precision"] >= 0.90 and tags["chosen_variety"]["recall"] >= 0.70


def test_report_with_gold_has_the_evaluation_section_escaped(tmp_path):
    """`curation report --gold` on a real run of a small CSV: the section is in report.html and report.md, and
    gold values are shown, never run."""
    sample = tmp_path / "data" / TARGET
    sample.parent.mkdir()
    rows = [("Chile", "¿Qué comes en las fiestas patrias de Chile con tu familia?", "Empanadas de pino, anticuchos y mote con huesillo en la fonda.",
             "Comida típica de un país de Sudamérica, como la de muchos otros lugares."),
            ("México", "¿Cómo se prepara el mole poblano en casa de tu abuela?", "Con chiles mulato, ancho y pasilla, chocolate y mucha paciencia.",
             "Se prepara con ingredientes variados y se sirve caliente en un plato."),
            ("México", "¿Cómo se prepara el mole poblano en casa de tu abuela?", "Mi abuela tuesta los chiles y muele todo en el metate, despacio.",
             "Es una salsa."),
            ("Perú", "¿Qué significa «pata» en Lima?", "Amigo cercano: «es mi pata» quiere decir que es mi amigo de confianza.",
             "Es una parte del cuerpo de un animal, como la pata de un perro o un gato.")]
    with sample.open("w", encoding="utf-8", newline="") as file:
        csv.writer(file).writerows([("country", "system_prompt", "question", "chosen", "rejected"),
                                    *((country, "", question, chosen, rejected) for country, question, chosen, rejected in rows)])
    config = RunConfig(name="gold_report", input={"path": str(sample), "format": "arena"})
    config.dedupe.semantic.enabled = False
    run_dir = run(config, tmp_path / "run").output_dir
    gold = tmp_path / "gold"
    gold.mkdir()
    (gold / "prompts.jsonl").write_text("".join(json.dumps(
        {"row": row, "category": "<script>window.__pwned=1</script>" if row == 1 else "knowledge", "dimension": "knowledge",
         "dimension_second": None, "register": "tú", "register_evidence": [], "prompt_defects": [],
         "duplicate_group": "2" if row in (2, 3) else None}) + "\n" for row in range(1, 5)), encoding="utf-8")
    result = CliRunner().invoke(app, ["report", str(run_dir), "--gold", str(gold), "--out", str(tmp_path / "report")])
    assert result.exit_code == 0, (result.stderr, result.exception)
    html = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert "<h2>Evaluation against the gold set</h2>" in html and "Dedupe: false merges" in html
    assert "<script>window.__pwned" not in html and "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    markdown = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert "## Evaluation against the gold set" in markdown and "<script>" not in markdown
    evaluation = json.loads((tmp_path / "report" / "evaluation.json").read_text(encoding="utf-8"))
    assert evaluation["rows"]["evaluated_rows"] == 4 and evaluation["dedupe"]["gold_duplicate_rows"] == 1
    # Without --gold, no section.
    result = CliRunner().invoke(app, ["report", str(run_dir), "--out", str(tmp_path / "plain")])
    assert result.exit_code == 0 and "Evaluation against the gold set" not in (tmp_path / "plain" / "report.html").read_text(encoding="utf-8")


def test_the_llm_classifiers_verdicts_are_scored_when_the_run_has_them(fake):
    run_dir, gold = fake
    assert "llm_category" not in evaluate(run_dir, gold)["tags"]
    pl.DataFrame({"id": ["id0", "id1", "id2", "id3"], "llm_category": ["knowledge", "stereotype", "preference", "undetermined"],
                  "llm_dimension": ["knowledge", "preference", "knowledge", "undetermined"], "llm_confidence": [0.9, 0.8, 0.7, 0.3],
                  "llm_rationale": ["r"] * 4, "llm_model": ["m"] * 4}).write_parquet(run_dir / "llm_classification.parquet")
    tags = evaluate(run_dir, gold)["tags"]
    assert (tags["llm_category"]["decided"], tags["llm_category"]["correct"], tags["llm_category"]["precision"]) == (3, 2, round(2 / 3, 4))
    assert (tags["llm_dimension"]["decided"], tags["llm_dimension"]["correct"]) == (3, 2)

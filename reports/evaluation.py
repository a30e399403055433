"""The engine's judgements on a run measured against hand labels (the gold set: `curation/data/gold/README.md`).

`evaluate(run_dir, gold_path)` joins the gold files on `row`, matches them to the run's rows by the number in
the engine's `source` column (`<file>:<row>`, only rows of the file the gold describes) and measures, on the
rows the gold labels only:

- the rule families per side (prompt / chosen / rejected; `mojibake` and `pii_*` look at the whole row, so
  they are measured against the defect on any side), "flagged" (block or warn) and "blocked" apart;
- the tags: cultural dimension, prompt register, chosen variety and chosen language, with confusion matrices
  (an engine `undetermined` is an abstention: coverage, then precision on the rows it decided);
- the dedupe stages: engine pairs (duplicate row, the row it points to) against the gold duplicate groups;
- the prompt category: the gold's trivial / stereotype counts and the rules named after them.

Precision, recall, F1 and confusion matrices are scikit-learn's. `evaluation_tables` lays the result out as
tables, which the CLI, `evaluation.md` and the curation report show.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from curation.errors import CurationError
from curation.reports.markdown import markdown_code, markdown_table, markdown_text
from curation.run_folder import LLM_CLASSIFICATION, present

# Engine rule family (the rule name's prefix) -> the gold defect it looks for. A new rule family with a
# gold counterpart is one line here. The disclaimer phrases of ai_disclaimer (rules/disclaimers.yaml) hold
# no knowledge-cutoff phrase; a `cutoff_disclaimer_*` rule, when the run has one, is measured against it.
RULE_FAMILIES: dict[str, str] = {
    "error_placeholder": "error_page",
    "language_mismatch": "wrong_language",
    "mojibake": "mojibake",
    "ai_disclaimer": "persona_break",
    "cutoff_disclaimer": "cutoff_disclaimer",
    "refusal": "refusal",
    "truncated": "truncated",
    "simulated_dialogue": "simulated_dialogue",
    "too_short": "empty_or_too_short",
    "non_answer": "empty_or_too_short",
    "pii": "pii",
}
SIDES = ("prompt", "chosen", "rejected")
ROW = "row"  # a rule on the whole row (mojibake, pii_*): gold positive when any side has the defect
DEFECT_FIELDS = {"prompt": "prompt_defects", "chosen": "chosen_defects", "rejected": "rejected_defects"}
DEDUPE_STAGES = ("exact_dedupe", "near_dedupe", "semantic_dedupe")
CATEGORY_WORDS = ("trivial", "stereotype")  # gold categories that a rule may be named after
DEFAULT_TARGET = "arena_v0_sample.csv"
NONE = "none"  # gold: no value (no dimension, no second person); engine: abstained (undetermined)

LIST_FIELDS = ("prompt_defects", "chosen_defects", "rejected_defects", "register_evidence", "chosen_variety_evidence")
TEXT_FIELDS = ("category", "dimension", "dimension_second", "register", "duplicate_group", "chosen_language",
               "chosen_variety")
BOOL_FIELDS = ("vote_inverted",)
GOLD_FIELDS = (*TEXT_FIELDS[:5], "prompt_defects", "register_evidence", "chosen_defects", "rejected_defects",
               "chosen_language", "chosen_variety", "chosen_variety_evidence", "vote_inverted")  # `notes` differ per file: not read
TAG_COLUMNS = ("dimension", "category", "prompt_register", "chosen_variety", "chosen_lang")
LLM_COLUMNS = ("llm_category", "llm_dimension")
ENGINE_COLUMNS = (*TAG_COLUMNS, "system_prompt", "prompt")  # the texts as normalised: exact duplicates share them
RUN_FRAMES = ("accepted.parquet", "quarantine.parquet", "duplicates.parquet")


# ---------------------------------------------------------------- the gold set

@dataclass
class Gold:
    labels: pl.DataFrame  # one row per `row`: the fields, and `labelled:<field>` (the key was written)
    files: list[str]
    target_file: str
    problems: list[str] = field(default_factory=list)


def read_gold(path: Path, target_file: str | None = None) -> Gold:
    """A gold folder (every *.jsonl, joined on `row`) or one JSONL file. The target CSV's name is
    `target_file`, else the first `*.csv` the folder's README.md names, else arena_v0_sample.csv."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.jsonl"))
        folder = path
    elif path.is_file():
        files, folder = [path], path.parent
    else:
        raise CurationError(f"gold {path}: no such file or folder")
    if not files:
        raise CurationError(f"gold {path}: no *.jsonl file in it")
    problems: list[str] = []
    merged: dict[int, dict] = {}
    for file in files:
        for number, record in _gold_records(file, problems):
            row = merged.setdefault(record["row"], {})
            for key, value in record.items():
                if key in row and row[key] != value:
                    problems.append(f"{file.name} line {number}: row {record['row']} {key} differs from an earlier "
                                    f"file ({row[key]!r} kept)")
                row.setdefault(key, value)
    frame = pl.DataFrame(
        [{"row": row, **{name: values.get(name) for name in GOLD_FIELDS},
          **{f"labelled:{name}": name in values for name in GOLD_FIELDS}} for row, values in sorted(merged.items())],
        schema={"row": pl.Int64, **{name: _gold_dtype(name) for name in GOLD_FIELDS},
                **{f"labelled:{name}": pl.Boolean for name in GOLD_FIELDS}})
    return Gold(frame, [file.name for file in files], target_file or _readme_target(folder) or DEFAULT_TARGET, problems)


def _gold_dtype(name: str) -> pl.DataType:
    return pl.List(pl.String) if name in LIST_FIELDS else pl.Boolean if name in BOOL_FIELDS else pl.String


def _readme_target(folder: Path) -> str | None:
    readme = folder / "README.md"
    if not readme.is_file():
        return None
    match = re.search(r"`([^`/\\\s]+\.csv)`", readme.read_text(encoding="utf-8", errors="replace"))
    return match.group(1) if match else None


def _gold_records(file: Path, problems: list[str]):
    """(line number, normalised record) for each line; a broken last line is skipped (an annotator may be
    writing it), a broken line elsewhere stops with an error naming the file and line."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CurationError(f"gold {file}: cannot read it: {error}") from None
    lines = text.split("\n")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
            row = record.get("row")
            if isinstance(row, bool) or not isinstance(row, int) or row < 1:
                raise ValueError(f"`row` must be a record number (1, 2...), not {row!r}")
        except ValueError as error:
            if number == len(lines) and not text.endswith("\n"):
                problems.append(f"{file.name} line {number}: incomplete last line skipped ({error})")
                continue
            raise CurationError(f"gold {file} line {number}: {error}") from None
        yield number, {key: _gold_value(key, value) for key, value in record.items() if key == "row" or key in GOLD_FIELDS}


def _gold_value(key: str, value: object) -> object:
    if key == "row":
        return value
    if key in LIST_FIELDS:
        items = value if isinstance(value, list) else [] if value in (None, "") else [value]
        return [str(item).strip() for item in items if item is not None and str(item).strip()]
    if key in BOOL_FIELDS:
        return None if value is None else bool(value)
    return None if value is None else str(value).strip()


# ---------------------------------------------------------------- the run

def run_rows(run_dir: Path, target_file: str) -> tuple[pl.DataFrame, int]:
    """Every ledger row of the target file, with its row number, the row its duplicate points to, its
    rules and its tags; and how many rows came from other files."""
    run_dir = Path(run_dir)
    missing = [name for name in ("ledger.parquet", *RUN_FRAMES) if not present(run_dir / name)]
    if missing:
        raise CurationError(f"{run_dir} is not a run folder: it lacks {missing} (make one with `curation run`)")
    ledger = pl.read_parquet(run_dir / "ledger.parquet")
    tag_parts = []
    for name in RUN_FRAMES:
        frame = pl.read_parquet(run_dir / name)
        tag_parts.append(frame.select("source", *((pl.col(column).cast(pl.String) if column in frame.columns
                                                   else pl.lit(None, pl.String)).alias(f"engine:{column}") for column in ENGINE_COLUMNS)))
    tags = pl.concat(tag_parts).unique("source", keep="first")
    classified = run_dir / LLM_CLASSIFICATION
    llm = (pl.read_parquet(classified).select("id", *LLM_COLUMNS) if present(classified)
           else pl.DataFrame(schema={"id": pl.String, **dict.fromkeys(LLM_COLUMNS, pl.String)}))
    ledger = ledger.join(llm.unique("id").rename({name: f"engine:{name}" for name in LLM_COLUMNS}), on="id", how="left")
    rows = ledger.with_columns(*_file_and_row("source", "file", "row"), *_file_and_row("duplicate_of_source", "target_file", "duplicate_of_row"))
    other = rows.filter(pl.col("file") != target_file).height
    rows = rows.filter(pl.col("file") == target_file).with_columns(
        pl.when(pl.col("target_file") == target_file).then(pl.col("duplicate_of_row")).alias("duplicate_of_row"),
        pl.col("reasons").fill_null([]), pl.col("warnings").fill_null([]),
    ).join(tags, on="source", how="left")
    return rows.drop("target_file"), other


def _file_and_row(column: str, file_name: str, row_name: str) -> list[pl.Expr]:
    parts = pl.col(column).str.extract_groups(r"^(.*):(\d+)$")
    return [parts.struct.field("1").str.replace(r"^.*[/\\]", "").alias(file_name),
            parts.struct.field("2").cast(pl.Int64).alias(row_name)]


def _rule_catalog(run_dir: Path, seen: set[str]) -> list[str]:
    """The run's rules (its saved config's filters and packs) and every name its ledger holds."""
    names = set(seen)
    try:
        from curation.config import saved_config
        from curation.rules import default_rules
        from curation.rules.pack import load_packs

        config = saved_config(run_dir)
        names |= {rule.name for rule in default_rules(config.filters, config.tagging.enabled)}
        names |= {rule.name for pack in load_packs(config.gate.packs) for rule in pack.rules()}
    except (CurationError, OSError):
        pass  # no readable config.yaml: the names the ledger holds
    return sorted(name for name in names if "duplicate" not in name)


def rule_family(name: str) -> tuple[str, str] | None:
    """(family, side) of a rule name: too_short_chosen -> (too_short, chosen), language_mismatch_chosen_unsure ->
    (language_mismatch, chosen), pii_email -> (pii, row)."""
    for prefix in RULE_FAMILIES:
        if name == prefix or name.startswith(prefix + "_"):
            words = name[len(prefix) + 1:].split("_")
            return prefix, next((word for word in words if word in SIDES), ROW)
    return None


# ---------------------------------------------------------------- metrics

def _number(value: float) -> float | None:
    value = float(value)
    return None if math.isnan(value) else round(value, 4)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def binary_scores(y_true: list[bool], y_pred: list[bool]) -> dict:
    """Precision, recall, F1 (scikit-learn; undefined is null), support and the counts."""
    if not y_true:
        return {"support": 0, "predicted": 0, "tp": 0, "fp": 0, "fn": 0, "precision": None, "recall": None, "f1": None}
    tn, fp, fn, tp = (int(value) for value in confusion_matrix(y_true, y_pred, labels=[False, True]).ravel())
    precision, recall, f1, _ = precision_recall_fscore_support(y_true, y_pred, average="binary", pos_label=True,
                                                               zero_division=np.nan)
    return {"support": tp + fn, "predicted": tp + fp, "tp": tp, "fp": fp, "fn": fn,
            "precision": _number(precision), "recall": _number(recall), "f1": _number(f1)}


def _f1(precision: float | None, recall: float | None) -> float | None:
    if precision is None or recall is None or precision + recall == 0:
        return None if precision is None or recall is None else 0.0
    return round(2 * precision * recall / (precision + recall), 4)


def tag_scores(y_true: list[str], y_pred: list[str], second: list[str | None] | None = None) -> dict:
    """A tag against the gold: `none` in y_true is "no value", in y_pred an abstention. Coverage = decided /
    labelled; precision = correct / decided; recall = correct / gold with a value; agreement counts
    none = none. `second`: a gold second answer, also correct in the lenient figures."""
    labelled = len(y_true)
    decided = [pred != NONE for pred in y_pred]
    named = sum(true != NONE for true in y_true)
    correct = sum(d and pred == true for d, pred, true in zip(decided, y_pred, y_true))
    scores = {"labelled": labelled, "decided": sum(decided), "coverage": _ratio(sum(decided), labelled),
              "gold_with_value": named, "correct": correct,
              "precision": _ratio(correct, sum(decided)), "recall": _ratio(correct, named),
              "agreement": _ratio(sum(pred == true for pred, true in zip(y_pred, y_true)), labelled)}
    scores["f1"] = _f1(scores["precision"], scores["recall"])
    if second is not None:
        lenient = sum(d and (pred == true or pred == other)
                      for d, pred, true, other in zip(decided, y_pred, y_true, second))
        scores |= {"lenient_correct": lenient, "lenient_precision": _ratio(lenient, sum(decided)),
                   "lenient_recall": _ratio(lenient, named)}
        scores["lenient_f1"] = _f1(scores["lenient_precision"], scores["lenient_recall"])
    classes = sorted({value for value in (*y_true, *y_pred) if value != NONE})
    per_class = []
    if labelled and classes:
        precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=classes, average=None,
                                                                         zero_division=np.nan)
        predicted = Counter(y_pred)
        per_class = [{"class": name, "support": int(support[i]), "predicted": predicted[name],
                      "tp": sum(pred == true == name for pred, true in zip(y_pred, y_true)),
                      "precision": _number(precision[i]), "recall": _number(recall[i]), "f1": _number(f1[i])}
                     for i, name in enumerate(classes)]
    labels = [*classes, NONE]
    matrix = confusion_matrix(y_true, y_pred, labels=labels) if labelled else np.zeros((len(labels), len(labels)), int)
    rows = [i for i in range(len(labels)) if matrix[i].sum()]
    columns = [j for j in range(len(labels)) if matrix[:, j].sum()]
    scores["per_class"] = per_class
    scores["confusion"] = {"gold": [labels[i] for i in rows], "engine": [labels[j] for j in columns],
                           "counts": [[int(matrix[i, j]) for j in columns] for i in rows]}
    return scores


# ---------------------------------------------------------------- evaluation

def evaluate(run_dir: Path, gold_path: Path, target_file: str | None = None) -> dict:
    """The evaluation of a run folder against a gold folder or file, as a JSON-ready dict."""
    gold = read_gold(gold_path, target_file)
    rows, other_rows = run_rows(run_dir, gold.target_file)
    if rows.is_empty():
        raise CurationError(f"{run_dir}: no row of the run comes from {gold.target_file}, the file the gold set "
                            f"describes (its `source` column names other files)")
    joined = rows.join(gold.labels, on="row", how="inner").sort("row")
    run_numbers = set(rows.get_column("row").to_list())
    not_in_run = [row for row in gold.labels.get_column("row").to_list() if row not in run_numbers]
    seen = {name for column in ("reasons", "warnings") for names in rows.get_column(column).to_list() for name in names}
    catalog = _rule_catalog(Path(run_dir), seen)
    coverage = [{"field": name, "labelled": int(joined.get_column(f"labelled:{name}").sum()), "run_rows": rows.height,
                 "coverage": _ratio(int(joined.get_column(f"labelled:{name}").sum()), rows.height)}
                for name in GOLD_FIELDS]
    families, without_gold, defects_without_rule = _rule_families(joined, rows, catalog)
    return {
        "run": str(run_dir), "gold": str(gold_path), "gold_files": gold.files, "gold_target_file": gold.target_file,
        "gold_problems": gold.problems,
        "rows": {"run_rows": rows.height, "other_file_rows": other_rows, "gold_rows": gold.labels.height,
                 "evaluated_rows": joined.height, "gold_rows_not_in_run": not_in_run},
        "coverage": coverage,
        "rule_families": families, "rules_without_gold": without_gold, "gold_defects_without_rule": defects_without_rule,
        "tags": _tags(joined),
        "dedupe": _dedupe(joined),
        "category": _category(joined, catalog),
    }


def _flags(frame: pl.DataFrame, names: list[str]) -> tuple[list[bool], list[bool]]:
    """Per row: whether any of `names` flagged it (block or warn), and whether any blocked it."""
    flagged = frame.select(pl.any_horizontal(pl.lit(False), *(pl.col("reasons").list.contains(name) | pl.col("warnings").list.contains(name)
                                                              for name in names))).to_series().to_list()
    blocked = frame.select(pl.any_horizontal(pl.lit(False), *(pl.col("reasons").list.contains(name) for name in names))).to_series().to_list()
    return flagged, blocked


def _rule_families(joined: pl.DataFrame, rows: pl.DataFrame, catalog: list[str]) -> tuple[list[dict], list[dict], list[dict]]:
    by_item: dict[tuple[str, str], list[str]] = {}
    for name in catalog:
        item = rule_family(name)
        if item:
            by_item.setdefault(item, []).append(name)
    families = []
    for (family, side), names in sorted(by_item.items(), key=lambda item: (list(RULE_FAMILIES).index(item[0][0]),
                                                                            [*SIDES, ROW].index(item[0][1]))):
        defect = RULE_FAMILIES[family]
        fields = list(DEFECT_FIELDS.values()) if side == ROW else [DEFECT_FIELDS[side]]
        labelled = joined.filter(pl.all_horizontal(pl.col(f"labelled:{name}") for name in fields))
        truth = labelled.select(pl.any_horizontal(pl.col(name).list.contains(defect) for name in fields)).to_series().to_list()
        flagged, blocked = _flags(labelled, names)
        families.append({"family": family, "gold_defect": defect, "side": side, "rules": names, "labelled": labelled.height,
                         "flagged": binary_scores(truth, flagged), "blocked": binary_scores(truth, blocked)})
    without_gold = []
    for name in catalog:
        if rule_family(name) is None:
            flagged, blocked = _flags(rows, [name])
            labelled_flagged, _ = _flags(joined, [name])
            without_gold.append({"rule": name, "flagged": sum(flagged), "blocked": sum(blocked),
                                 "flagged_in_labelled_rows": sum(labelled_flagged)})
    measured = {(RULE_FAMILIES[family], side) for family, side in by_item}
    defects_without_rule = []
    for side, name in DEFECT_FIELDS.items():
        labelled = joined.filter(pl.col(f"labelled:{name}"))
        counts = Counter(defect for defects in labelled.get_column(name).to_list() for defect in defects)
        for defect, count in sorted(counts.items()):
            if (defect, side) not in measured and (defect, ROW) not in measured:
                defects_without_rule.append({"side": side, "gold_defect": defect, "rows": count})
    return families, without_gold, defects_without_rule


def _tags(joined: pl.DataFrame) -> dict:
    """Each tag on the rows labelled for it; engine `undetermined` (and `und` for a language) is an abstention."""
    def engine(frame: pl.DataFrame, column: str) -> list[str]:
        return _values(frame, f"engine:{column}", ("undetermined", "und"))

    tags = {}
    labelled = joined.filter(pl.col("labelled:dimension"))
    tags["dimension"] = tag_scores(_values(labelled, "dimension"), engine(labelled, "dimension"),
                                   second=labelled.get_column("dimension_second").to_list())
    labelled = joined.filter(pl.col("labelled:category"))
    tags["category"] = tag_scores(_values(labelled, "category"), engine(labelled, "category"))
    if joined.get_column("engine:llm_category").is_not_null().any():
        labelled = joined.filter(pl.col("labelled:dimension"))
        tags["llm_dimension"] = tag_scores(_values(labelled, "dimension"), engine(labelled, "llm_dimension"),
                                           second=labelled.get_column("dimension_second").to_list())
        labelled = joined.filter(pl.col("labelled:category"))
        tags["llm_category"] = tag_scores(_values(labelled, "category"), engine(labelled, "llm_category"))
    labelled = joined.filter(pl.col("labelled:register"))
    tags["prompt_register"] = tag_scores(_values(labelled, "register"), engine(labelled, "prompt_register"))
    labelled = joined.filter(pl.col("labelled:chosen_variety"))
    tags["chosen_variety"] = tag_scores(_values(labelled, "chosen_variety", ("undetermined",)), engine(labelled, "chosen_variety"))
    labelled = joined.filter(pl.col("labelled:chosen_language"))
    tags["chosen_language"] = tag_scores(_values(labelled, "chosen_language"), engine(labelled, "chosen_lang"))
    return tags


def _values(frame: pl.DataFrame, column: str, none: tuple[str, ...] = ()) -> list[str]:
    """The column's values, with null, empty and the `none` words as NONE."""
    return [NONE if value is None or value in none or value in ("", "null", NONE) else value
            for value in frame.get_column(column).to_list()]


def _dedupe(joined: pl.DataFrame) -> dict:
    """Engine pairs against gold duplicate groups. A gold group can only be deduplicated among the members
    that reach dedupe: a member quarantined first already leaves the data, so the group needs
    (members reaching dedupe - 1) duplicates found; the rest is counted as resolved by quarantine.
    Members with the same normalised prompt and system prompt are exact duplicates: `exact_recall`."""
    labelled = joined.filter(pl.col("labelled:duplicate_group"))
    group = dict(zip(labelled.get_column("row").to_list(), labelled.get_column("duplicate_group").to_list()))
    reached = labelled.filter(pl.col("duplicate_group").is_not_null() & (pl.col("status") != "quarantined"))
    members = {name: frame for (name,), frame in reached.group_by("duplicate_group")}
    sizes = Counter(value for value in group.values() if value is not None)
    needed = {name: frame.height - 1 for name, frame in members.items() if frame.height > 1}
    exact_needed = {name: frame.height - frame.select("engine:system_prompt", "engine:prompt").n_unique()
                    for name, frame in members.items()}
    engine = labelled.filter(pl.col("status") == "duplicate")
    pairs, outside = [], 0
    for row in engine.iter_rows(named=True):
        target = row["duplicate_of_row"]
        if target is None or target not in group:
            outside += 1
            continue
        same = group[row["row"]] is not None and group[row["row"]] == group[target]
        pairs.append({"row": row["row"], "duplicate_of": target, "stage": row["stage"], "reasons": row["reasons"],
                      "gold_group": group[row["row"]], "gold_group_of_target": group[target], "same_gold_group": same})

    def scores(chosen: list[dict]) -> dict:
        found = Counter(pair["gold_group"] for pair in chosen if pair["same_gold_group"])
        recalled = sum(min(count, needed.get(name, 0)) for name, count in found.items())
        correct = sum(pair["same_gold_group"] for pair in chosen)
        result = {"engine_pairs": len(chosen), "correct_pairs": correct, "precision": _ratio(correct, len(chosen)),
                  "gold_duplicate_rows": sum(needed.values()), "found": recalled, "recall": _ratio(recalled, sum(needed.values()))}
        return result | {"f1": _f1(result["precision"], result["recall"])}

    stages = [{"stage": stage, **scores([pair for pair in pairs if pair["stage"] == stage])} for stage in DEDUPE_STAGES]
    other = sorted({pair["stage"] for pair in pairs} - set(DEDUPE_STAGES), key=str)
    stages += [{"stage": stage, **scores([pair for pair in pairs if pair["stage"] == stage])} for stage in other]
    status = {row["row"]: _status_text(row) for row in labelled.iter_rows(named=True)}
    found_in = Counter(pair["gold_group"] for pair in pairs if pair["same_gold_group"])
    missed = [{"gold_group": name, "rows": sorted(row for row, value in group.items() if value == name),
               "found": found_in[name], "missed": count - found_in[name],
               "engine": [f"{row}: {status[row]}" for row in sorted(row for row, value in group.items() if value == name)]}
              for name, count in sorted(needed.items(), key=lambda item: int(item[0]) if item[0].isdigit() else 0)
              if found_in[name] < count]
    exact_found = sum(min(found_in[name], count) for name, count in exact_needed.items())
    return {"labelled_rows": labelled.height, "gold_groups": sum(size > 1 for size in sizes.values()),
            "gold_duplicate_rows": sum(size - 1 for size in sizes.values()),
            "resolved_by_quarantine": sum(size - 1 for size in sizes.values()) - sum(needed.values()),
            "exact_gold_duplicate_rows": sum(exact_needed.values()), "exact_found": exact_found,
            "exact_recall": _ratio(exact_found, sum(exact_needed.values())),
            "pairs_outside_labelled_rows": outside,
            "stages": stages, "overall": {"stage": "overall", **scores(pairs)},
            "false_merges": [pair for pair in pairs if not pair["same_gold_group"]], "missed": missed}


def _status_text(row: dict) -> str:
    if row["status"] == "duplicate":
        return f"duplicate of {row['duplicate_of_row']} ({row['stage']})"
    if row["status"] == "quarantined":
        return "quarantined (" + ", ".join(row["reasons"]) + ")"
    return str(row["status"])


def _category(joined: pl.DataFrame, catalog: list[str]) -> dict:
    labelled = joined.filter(pl.col("labelled:category"))
    counts = Counter(value or NONE for value in labelled.get_column("category").to_list())
    rules = []
    for name in catalog:
        word = next((word for word in CATEGORY_WORDS if word in name), None)
        if word:
            truth = [value == word for value in labelled.get_column("category").to_list()]
            flagged, blocked = _flags(labelled, [name])
            rules.append({"rule": name, "gold_category": word, "labelled": labelled.height,
                          "flagged": binary_scores(truth, flagged), "blocked": binary_scores(truth, blocked)})
    return {"labelled_rows": labelled.height, "counts": dict(counts.most_common()),
            "trivial": counts.get("trivial", 0), "stereotype": counts.get("stereotype", 0), "rules": rules}


# ---------------------------------------------------------------- tables and files

TAG_TITLES = {"dimension": "cultural dimension", "category": "prompt category (prompt classifier)",
              "llm_dimension": "cultural dimension (LLM classifier)", "llm_category": "prompt category (LLM classifier)",
              "prompt_register": "prompt register", "chosen_variety": "chosen variety", "chosen_language": "chosen language"}


def _scored(prefix: str, scores: dict) -> dict:
    return {f"{prefix}{name}": scores[name] for name in ("predicted", "tp", "fp", "fn", "precision", "recall", "f1")}


def evaluation_tables(evaluation: dict) -> dict[str, pl.DataFrame]:
    """The evaluation as titled tables (the CLI, evaluation.md and the curation report show these)."""
    tables = {"Coverage (labelled rows / run rows)": pl.DataFrame(evaluation["coverage"])}
    tables["Rule families (flagged = block or warn; blocked = block)"] = pl.DataFrame(
        [{"family": item["family"], "gold defect": item["gold_defect"], "side": item["side"], "labelled": item["labelled"],
          "gold": item["flagged"]["support"], **_scored("flagged ", item["flagged"]),
          **{key: value for key, value in _scored("blocked ", item["blocked"]).items() if key.split()[1] in ("predicted", "precision", "recall", "f1")}}
         for item in evaluation["rule_families"]])
    tables["Rules with no gold counterpart (rows)"] = pl.DataFrame(
        evaluation["rules_without_gold"], schema={"rule": pl.String, "flagged": pl.Int64, "blocked": pl.Int64, "flagged_in_labelled_rows": pl.Int64})
    tables["Gold defects with no rule (rows)"] = pl.DataFrame(
        evaluation["gold_defects_without_rule"], schema={"side": pl.String, "gold_defect": pl.String, "rows": pl.Int64})
    tag_rows = []
    for name, scores in evaluation["tags"].items():
        tag_rows.append({"tag": TAG_TITLES.get(name, name), **{key: scores.get(key) for key in (
            "labelled", "decided", "coverage", "correct", "precision", "recall", "f1", "agreement", "lenient_precision", "lenient_recall")}})
    tables["Tags (engine undetermined = abstained: precision on decided rows, recall on gold rows with a value)"] = pl.DataFrame(tag_rows)
    for name, scores in evaluation["tags"].items():
        title = TAG_TITLES.get(name, name)
        tables[f"{title.capitalize()}: per class"] = pl.DataFrame(
            scores["per_class"], schema={"class": pl.String, "support": pl.Int64, "predicted": pl.Int64, "tp": pl.Int64,
                                         "precision": pl.Float64, "recall": pl.Float64, "f1": pl.Float64})
        tables[f"{title.capitalize()}: confusion (rows gold, columns engine; none = no value / undetermined)"] = confusion_table(scores["confusion"])
    dedupe = evaluation["dedupe"]
    tables["Dedupe (engine pairs against gold duplicate groups)"] = pl.DataFrame([*dedupe["stages"], dedupe["overall"]])
    tables["Dedupe: the gold's duplicates (a member quarantined first leaves no duplicate to find)"] = pl.DataFrame([{
        key: dedupe[key] for key in ("gold_groups", "gold_duplicate_rows", "resolved_by_quarantine", "exact_gold_duplicate_rows",
                                     "exact_found", "exact_recall")}])
    tables["Dedupe: false merges"] = pl.DataFrame(
        [{key: pair[key] for key in ("row", "duplicate_of", "stage", "gold_group", "gold_group_of_target")} for pair in dedupe["false_merges"]],
        schema={"row": pl.Int64, "duplicate_of": pl.Int64, "stage": pl.String, "gold_group": pl.String, "gold_group_of_target": pl.String})
    tables["Dedupe: gold duplicates the engine missed"] = pl.DataFrame(
        dedupe["missed"], schema={"gold_group": pl.String, "rows": pl.List(pl.Int64), "found": pl.Int64, "missed": pl.Int64,
                                  "engine": pl.List(pl.String)})
    category = evaluation["category"]
    tables["Category (gold counts)"] = pl.DataFrame([{"category": name, "rows": count} for name, count in category["counts"].items()],
                                                    schema={"category": pl.String, "rows": pl.Int64})
    tables["Category rules (flagged = block or warn)"] = pl.DataFrame(
        [{"rule": item["rule"], "gold category": item["gold_category"], "labelled": item["labelled"], "gold": item["flagged"]["support"],
          **_scored("flagged ", item["flagged"])} for item in category["rules"]],
        schema={"rule": pl.String, "gold category": pl.String, "labelled": pl.Int64, "gold": pl.Int64,
                **{f"flagged {key}": pl.Int64 for key in ("predicted", "tp", "fp", "fn")},
                **{f"flagged {key}": pl.Float64 for key in ("precision", "recall", "f1")}})
    return tables


def confusion_table(confusion: dict) -> pl.DataFrame:
    columns = confusion["engine"]
    return pl.DataFrame([{"gold \\ engine": gold, **dict(zip(columns, counts))} for gold, counts in zip(confusion["gold"], confusion["counts"])],
                        schema={"gold \\ engine": pl.String, **{name: pl.Int64 for name in columns}})


def headline(evaluation: dict) -> str:
    rows = evaluation["rows"]
    return (f"{rows['evaluated_rows']:,} of the run's {rows['run_rows']:,} rows of {evaluation['gold_target_file']} are in the gold set "
            f"({', '.join(evaluation['gold_files'])}); {rows['other_file_rows']:,} rows of other files and "
            f"{len(rows['gold_rows_not_in_run']):,} gold rows absent from the run are left out.")


def evaluation_markdown(evaluation: dict) -> str:
    lines = ["# Evaluation against the gold set", "",
             f"Run {markdown_code(evaluation['run'])}, gold {markdown_code(evaluation['gold'])}. {markdown_text(headline(evaluation))}", "",
             "Only rows the gold labels are measured, each field on the rows labelled for it. Rules on the whole row "
             "(side `row`: mojibake, pii) are checked against the defect on any side.", ""]
    for problem in evaluation["gold_problems"]:
        lines.append(f"- gold: {markdown_text(problem)}")
    for title, table in evaluation_tables(evaluation).items():
        lines += [f"## {markdown_text(title)}", "", markdown_table(table, max_rows=100), ""]
    return "\n".join(lines)


def write_evaluation(evaluation: dict, out_dir: Path) -> dict[str, Path]:
    """evaluation.json and evaluation.md in `out_dir`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    texts = {"evaluation.json": json.dumps(evaluation, indent=2, ensure_ascii=False, default=str),
             "evaluation.md": evaluation_markdown(evaluation)}
    for name, text in texts.items():
        (out_dir / name).write_text(text, encoding="utf-8")
    return {name: out_dir / name for name in texts}

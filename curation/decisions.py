"""The steward's decisions: a table kept in the project (YAML or CSV, in git) of what people decided about
rows, by the row's stable content id (curation.schema.record_ids), so every later run, re-read from the raw
export, honours them.

    - id: 3f2a9c0e5b7d1a4e
      action: quarantine
      value: review_trivial
      who: ana
      when: '2026-05-02T10:14:03+00:00'
      why: pregunta de enciclopedia, sin anclaje cultural
      source: cli

The table is append-only: `curation decide` and `curation review pull` add to its end, and a steward may
edit it by hand. When two decisions about a row answer the same question (keep or quarantine; the vote;
the corrected answer; the category; the dimension), the later one in the file wins.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import polars as pl
import yaml
from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from curation.config import Settings, saved_config, validated
from curation.errors import ConfigError
from curation.output_folder import atomic_file
from curation.safe_yaml import read_yaml

# The guide's seven prompt categories: three reject a prompt, four accept it under its cultural dimension. The one
# definition: the classifier, the review, the gate's country x dimension cells and the audit read these.
REJECT_CATEGORIES = ("trivial", "stereotype", "no_anchor")
DIMENSIONS = ("knowledge", "preference", "dynamics", "bias_trap")
CATEGORIES = (*REJECT_CATEGORIES, *DIMENSIONS)
SOURCES = ("argilla", "cli", "file")
# Action -> the question it answers about a row: per row and question, the last decision wins.
ACTIONS = {
    "keep": "status",  # back into the data: a rule's quarantine is overruled
    "quarantine": "status",  # out, with `value` as the reason
    "not_duplicate_of": "duplicate",  # `value` is the id of the row dedupe took it for a copy of
    "confirm": "vote",  # the chosen answer is the better one
    "swap": "vote",  # the rejected answer (as in the export) is the better one
    "both_good": "vote",
    "both_bad": "vote",
    "correct": "correction",  # `value` replaces the chosen answer
    "category": "category",  # one of CATEGORIES; a reject category quarantines the row
    "dimension": "dimension",  # one of DIMENSIONS
}
Action = Literal["keep", "quarantine", "not_duplicate_of", "confirm", "swap", "both_good", "both_bad", "correct",
                 "category", "dimension"]
NEEDS_VALUE = {"quarantine", "not_duplicate_of", "correct", "category", "dimension"}
REASON = re.compile(r"^[a-z0-9][a-z0-9_:-]*$")
COLUMNS = {"id": pl.String, "action": pl.String, "value": pl.String, "who": pl.String, "when": pl.String,
           "why": pl.String, "source": pl.String}
# What a row carries of each decision applied to it (the `decisions` column, and the ledger's).
APPLIED = pl.List(pl.Struct({name: pl.String for name in ("action", "value", "who", "when", "why", "source")}))
HEADER = ("# Human decisions about rows, by their content id: every `curation run` whose config names this file\n"
          "# applies them. `curation decide` and `curation review pull` add to the end; the last decision about\n"
          "# a row's status, vote, correction, category or dimension wins.\n")


class Decision(Settings):
    id: str
    action: Action
    value: str | None = Field(None, validate_default=True)
    who: str | None = None
    when: str | None = None
    why: str | None = None
    source: Literal["argilla", "cli", "file"] = "file"

    @field_validator("id", "value", "who", "why", mode="before")
    @classmethod
    def _text(cls, value):
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str):
            raise ValueError(f"expected text, found {value!r}")
        return value.strip()

    @field_validator("when", mode="before")
    @classmethod
    def _moment(cls, value):
        if isinstance(value, datetime):  # YAML reads an unquoted timestamp as one
            return value.isoformat()
        return cls._text(value)

    @field_validator("value", mode="after")
    @classmethod
    def _value_fits_action(cls, value: str | None, info: ValidationInfo) -> str | None:
        action = info.data.get("action")
        if action is None:  # the action itself is at fault, and named
            return value
        problem = (f"{action} needs a value" if action in NEEDS_VALUE and value is None
                   else f"{action} takes no value" if action not in NEEDS_VALUE and value is not None
                   else "a quarantine reason is a short name like review_trivial (the explanation goes in why)"
                   if action == "quarantine" and not REASON.match(value)
                   else f"a category is one of {', '.join(CATEGORIES)}" if action == "category" and value not in CATEGORIES
                   else f"a dimension is one of {', '.join(DIMENSIONS)}" if action == "dimension" and value not in DIMENSIONS
                   else None)
        if problem:
            raise PydanticCustomError("decision_value", problem)
        return value


def decision(id: str, action: str, value: str | None = None, *, who: str | None, why: str | None = None,
             source: str, when: str | None = None) -> dict:
    """One checked decision as a table row, stamped now unless `when` is given."""
    return validated(Decision, {"id": id, "action": action, "value": value, "who": who, "why": why, "source": source,
                                "when": when or now()}, f"decision about {id}").model_dump()


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def empty() -> pl.DataFrame:
    return pl.DataFrame(schema=COLUMNS)


def read_decisions(path: str | Path) -> pl.DataFrame:
    """The table in file order; an absent file is an empty table (nobody has decided anything yet). A bad entry
    is a ConfigError naming the file, the entry and the field."""
    path = Path(path)
    if not path.exists():
        return empty()
    if path.suffix.lower() == ".csv":
        entries = _csv_entries(path)
        label = "row"
    else:
        entries = read_yaml(path, f"decisions {path}") or []
        if not isinstance(entries, list):
            raise ConfigError(f"decisions {path}: expected a list of decisions (- id: ..., action: ...)")
        label = "entry"
    rows = []
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise ConfigError(f"decisions {path}, {label} {number}: expected a mapping of id, action, value, who, when, why, source")
        rows.append(validated(Decision, entry, f"decisions {path}, {label} {number}").model_dump())
    return pl.DataFrame(rows, schema=COLUMNS)


def _csv_entries(path: Path) -> list[dict]:
    try:
        table = pl.read_csv(path, infer_schema=False)
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"decisions {path}: cannot read it as CSV: {str(error).splitlines()[0]}") from None
    return table.to_dicts()


def append_decisions(path: str | Path, new: pl.DataFrame) -> int:
    """Add the decisions the table does not already hold (the same id, action, value, who and source), at its
    end; the file is replaced whole, so a crash leaves the old one. Returns how many were added."""
    path = Path(path)
    table = read_decisions(path)  # never append to a table that does not read
    key = ["id", "action", "value", "who", "source"]
    fresh = new.select(list(COLUMNS)).cast(COLUMNS).join(table.select(key), on=key, how="anti", nulls_equal=True, maintain_order="left")
    fresh = fresh.unique(key, keep="last", maintain_order=True)
    if fresh.is_empty():
        return 0
    if path.suffix.lower() == ".csv":
        text = pl.concat([table, fresh]).write_csv()
    else:
        before = path.read_text(encoding="utf-8") if path.is_file() else HEADER
        entries = [{name: value for name, value in row.items() if value is not None} for row in fresh.iter_rows(named=True)]
        text = before + ("" if before.endswith("\n") or not before else "\n") + yaml.safe_dump(
            entries, allow_unicode=True, sort_keys=False, width=100)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as partial:
        partial.write_text(text, encoding="utf-8")
    return fresh.height


def in_force(table: pl.DataFrame) -> pl.DataFrame:
    """The decisions that hold: per row and question, the last one in the table (each not-a-duplicate-of
    pair is a question of its own)."""
    question = pl.col("action").replace_strict(ACTIONS, return_dtype=pl.String)
    question = pl.when(pl.col("action") == "not_duplicate_of").then(question + ":" + pl.col("value")).otherwise(question)
    return table.with_columns(_question=question).unique(["id", "_question"], keep="last", maintain_order=True).drop("_question")


def decisions_file(run_dir: Path, given: str | Path | None = None) -> Path:
    """The decisions file a command about this run adds to: the one given, else the one its config names."""
    path = given or saved_config(run_dir).decisions
    if path is None:
        raise ConfigError(f"no decisions file: set `decisions: decisions.yaml` in the config of {run_dir} (and run it "
                          "again), or pass --decisions FILE")
    return Path(path)


def decide_in_run(run_dir: Path, row_id: str, actions: list[tuple[str, str | None]], who: str | None, why: str | None,
                  path: Path) -> int:
    """Record decisions about one row of a run (by the CLI): the row, and any row it names, must be in the run."""
    if not actions:
        raise ConfigError("say what to decide: --keep, --quarantine REASON, --not-duplicate-of ID, --confirm, --swap, "
                          "--both-good, --both-bad, --correct TEXT, --category NAME or --dimension NAME")
    questions = [ACTIONS[action] for action, _ in actions]
    repeated = sorted({question for question in questions if questions.count(question) > 1} - {"duplicate"})
    if repeated:
        raise ConfigError(f"one of each: {', '.join(a for a, _ in actions if ACTIONS[a] in repeated)} answer the same question")
    ids = pl.scan_parquet(Path(run_dir) / "ledger.parquet").select("id").collect().get_column("id")
    named = [row_id, *(value for action, value in actions if action == "not_duplicate_of")]
    unknown = [name for name in named if name not in ids]
    if unknown:
        raise ConfigError(f"no row with id {unknown[0]} in {run_dir} (the ids are in its ledger.parquet)")
    return append_decisions(path, pl.DataFrame([decision(row_id, action, value, who=who, why=why, source="cli")
                                                for action, value in actions]))

"""What changed between two run folders: `curation diff OLD NEW`, and the report's "What changed since" section.

Rows are matched by their content id (curation.schema.record_ids), so a row keeps its identity when the input
file is reordered or grows; a record read twice is matched occurrence by occurrence (in source order). A row
found in one run only means the input changed: it is listed as added or removed, and the runs are flagged.
Everything is whole-column polars joins of the two ledgers, the accepted rows and the two audits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from curation.errors import CurationError
from curation.ledger import ROW_COLUMNS, Ledger
from curation.reports.bias_audit import confident_dimension
from curation.reports.markdown import markdown_table, markdown_text
from curation.rules.expectations import country_dimension_counts
from curation.run_folder import RunFolder
from curation.safe_yaml import read_yaml
from curation.schema import Status

CHANGE_FIELDS = ("status", "reasons", "duplicate_of", "split")  # a row whose field changed is listed
TAG_COLUMNS = ("prompt_lang", "prompt_variety", "prompt_register", "dimension")  # counted on the accepted rows
AUDIT_HEADLINE = ("rows", "countries", "missing_countries", "imbalance_index", "dimension_coverage", "cell_target",
                  "rows_needed", "chosen_longer")
AUDIT_FILE = "bias_audit.json"
EXCERPT_CHARS = 80
ROWS_SHOWN = 200  # in the Markdown and the HTML; the JSON holds every row
KEY = ["id", "occurrence"]
ABSENT = "–"
IGNORED_SETTINGS = {"output.dir"}  # where a run was written says nothing about its rows
HOW_TO_READ = "Rows are matched by content id; tags count the accepted rows."


@dataclass
class RunDiff:
    old: Path
    new: Path
    notes: list[str]  # what a reader must know first: different input, missing audits
    status: pl.DataFrame  # status, old, new, delta
    moves: pl.DataFrame  # from, to, rows: where the rows that changed status went
    rows: pl.DataFrame  # one row per changed, added or removed row, old and new values side by side
    counts: pl.DataFrame  # kind, name, old, new, delta: the rule and tag counts that changed
    config: pl.DataFrame  # setting, old, new: the settings of config.yaml that differ
    audit: dict[str, pl.DataFrame] = field(default_factory=dict)  # headline, countries, cells, gaps

    def tables(self) -> dict[str, pl.DataFrame]:
        """The tables a reader sees, by title, in order (the Markdown and the HTML show the same)."""
        audit_titles = {"headline": "Audit headline", "countries": "Accepted rows per country (those that changed)",
                        "cells": "Accepted rows per country × dimension cell, confident dimension (those that changed)",
                        "gaps": "Gap list: rows needed per country × dimension cell (those that changed)"}
        return {"Rows per status": self.status, "Where the rows went": self.moves,
                "Settings that differ (config.yaml)": self.config, "Rule and tag counts that changed": self.counts,
                **{audit_titles[name]: table for name, table in self.audit.items()},
                "Rows that changed": self.rows_shown()}

    def rows_shown(self) -> pl.DataFrame:
        """The changed rows for a reader: each field as `old → new` where it changed, and an excerpt of the prompt."""
        return self.rows.select(
            "id", pl.coalesce("source_new", "source_old").alias("source"), "change",
            pl.col("changed").list.join(", "),
            *(_old_to_new(name) for name in CHANGE_FIELDS), "prompt",
        )

    def headline(self) -> str:
        counts = dict(self.rows.get_column("change").value_counts().iter_rows())
        return (f"{counts.get('changed', 0):,} rows changed, {counts.get('added', 0):,} added and "
                f"{counts.get('removed', 0):,} removed between {self.old} and {self.new}.")

    def as_json(self) -> dict:
        return {"old": str(self.old), "new": str(self.new), "headline": self.headline(), "notes": self.notes,
                "status": self.status.to_dicts(), "moves": self.moves.to_dicts(), "config": self.config.to_dicts(),
                "counts": self.counts.to_dicts(), "audit": {name: table.to_dicts() for name, table in self.audit.items()},
                "rows": self.rows.to_dicts()}

    def markdown(self, level: int = 1) -> str:
        """The diff as Markdown, its title at heading `level` (2 inside the report)."""
        heading = "#" * level
        lines = [f"{heading} What changed since {markdown_text(self.old)}", "",
                 markdown_text(f"{self.headline()} {HOW_TO_READ}"), ""]
        lines += [f"- **{markdown_text(note)}**" for note in self.notes] + ([""] if self.notes else [])
        for title, table in self.tables().items():
            lines += [f"{heading}# {markdown_text(title)}", "", markdown_table(table, ROWS_SHOWN), ""]
        return "\n".join(lines) + "\n"

    def as_text(self, form: str) -> str:
        """The diff as `md` or `json` text."""
        return self.markdown() if form == "md" else json.dumps(self.as_json(), indent=2, ensure_ascii=False, default=str) + "\n"


def diff_runs(old: RunFolder, new: RunFolder, old_audit: dict | None = None, new_audit: dict | None = None) -> RunDiff:
    """Every difference between two runs. The audits default to each folder's bias_audit.json (the report passes
    the one it has just computed)."""
    old_rows, new_rows = _ledger(old), _ledger(new)
    rows = _changed_rows(old_rows, new_rows, _prompts(old), _prompts(new))
    config = _config_changes(old.path, new.path)
    notes = _input_notes(old_rows, new_rows, rows)
    old_audit, new_audit = old_audit or _read_audit(old.path), new_audit or _read_audit(new.path)
    notes += [f"no {AUDIT_FILE} in {run.path}: run `curation report {run.path}` for the audit deltas"
              for run, audited in ((old, old_audit), (new, new_audit)) if audited is None]
    audit = {"countries": _delta(_country_counts(old), _country_counts(new), ["country"]),
             "cells": _delta(_cell_counts(old), _cell_counts(new), ["country", "dimension"])}
    if old_audit is not None and new_audit is not None:
        audit = {"headline": _headline_delta(old_audit, new_audit), **audit, "gaps": _gap_delta(old_audit, new_audit)}
        if old_audit["headline"].get("target") != new_audit["headline"].get("target"):
            notes.append(f"the audits use different targets: {old_audit['headline'].get('target')} and "
                         f"{new_audit['headline'].get('target')}")
    return RunDiff(old.path, new.path, notes, _status_counts(old_rows, new_rows), _moves(rows), rows,
                   _rule_and_tag_counts(old, new, old_rows, new_rows), config, audit)


def write_diff(diff: RunDiff, folder: Path, formats: tuple[str, ...] = ("md", "json")) -> list[Path]:
    """diff.md and diff.json (or one of them) in `folder`."""
    paths = [folder / f"diff.{form}" for form in formats]
    for form, path in zip(formats, paths):
        path.write_text(diff.as_text(form), encoding="utf-8")
    return paths


# ---------------------------------------------------------------- rows

def _ledger(run: RunFolder) -> pl.DataFrame:
    """The run's ledger rows (as ledger.parquet holds them), each with its occurrence among the rows of the same id."""
    def narrow(frame: pl.DataFrame) -> pl.DataFrame:  # the ledger's columns only: the rows are wide
        return frame.select(name for name in ROW_COLUMNS if name in frame.columns)
    removed = pl.concat([narrow(run.quarantined), narrow(run.duplicates)], how="diagonal_relaxed")
    rows = Ledger(0).rows(narrow(run.accepted), removed)  # sorted by source: occurrences follow the input's order
    return rows.with_columns(pl.col("reasons").list.sort(), occurrence=pl.int_range(pl.len()).over("id"))


def _prompts(run: RunFolder) -> pl.DataFrame:
    return pl.concat([frame.select("source", "prompt") for frame in (run.accepted, run.quarantined, run.duplicates)])


def _excerpt(column: str) -> pl.Expr:
    text = pl.col(column).fill_null("").str.replace_all(r"\s+", " ").str.strip_chars()
    return pl.when(text.str.len_chars() > EXCERPT_CHARS).then(text.str.slice(0, EXCERPT_CHARS - 1) + "…").otherwise(text)


def _changed_rows(old: pl.DataFrame, new: pl.DataFrame, old_prompts: pl.DataFrame, new_prompts: pl.DataFrame) -> pl.DataFrame:
    """The rows in one run only, and the rows whose status, reasons, duplicate target or split differ."""
    values = ["source", "duplicate_of_source", *CHANGE_FIELDS]
    joined = old.select(*KEY, *(pl.col(name).alias(f"{name}_old") for name in values)).join(
        new.select(*KEY, *(pl.col(name).alias(f"{name}_new") for name in values)), on=KEY, how="full", coalesce=True)
    changed = pl.concat_list(pl.when(pl.col(f"{name}_old").ne_missing(pl.col(f"{name}_new"))).then(pl.lit(name))
                             for name in CHANGE_FIELDS).list.drop_nulls()
    in_both = pl.col("source_old").is_not_null() & pl.col("source_new").is_not_null()
    change = (pl.when(pl.col("source_old").is_null()).then(pl.lit("added"))
              .when(pl.col("source_new").is_null()).then(pl.lit("removed"))
              .when(changed.list.len() > 0).then(pl.lit("changed")))
    rows = (joined.with_columns(change=change, changed=pl.when(in_both).then(changed).otherwise(pl.lit([], dtype=pl.List(pl.String))))
            .filter(pl.col("change").is_not_null()))
    prompts = (rows.select(*KEY, "source_new").join(new_prompts, left_on="source_new", right_on="source")
               .select(*KEY, "prompt"))
    prompts = pl.concat([prompts, rows.join(prompts, on=KEY, how="anti").select(*KEY, "source_old")
                         .join(old_prompts, left_on="source_old", right_on="source").select(*KEY, "prompt")])
    order = pl.col("change").replace_strict({"changed": 0, "added": 1, "removed": 2}, return_dtype=pl.Int8)
    return (rows.join(prompts.with_columns(_excerpt("prompt")), on=KEY, how="left")  # excerpts of the changed rows only
            .sort(order, pl.coalesce("source_new", "source_old"))
            .select(*KEY, "change", "changed", "source_old", "source_new",
                    *(f"{name}_{side}" for name in [*CHANGE_FIELDS, "duplicate_of_source"] for side in ("old", "new")),
                    "prompt"))


def _old_to_new(name: str) -> pl.Expr:
    """`old → new` where the field changed; else its value (the old one for a removed row)."""
    def text(side: str) -> pl.Expr:
        value = pl.col(f"{name}_{side}")
        if name == "reasons":
            value = value.list.join(", ")
        return pl.when(value.is_null() | (value == "")).then(pl.lit(ABSENT)).otherwise(value)
    return (pl.when(pl.col("changed").list.contains(name)).then(pl.concat_str(text("old"), pl.lit(" → "), text("new")))
            .when(pl.col("change") == "removed").then(text("old"))
            .otherwise(text("new")).alias(name))


def _moves(rows: pl.DataFrame) -> pl.DataFrame:
    """From status to status (or from/to `absent` for added and removed rows), with how many rows."""
    moved = rows.filter(pl.col("status_old").ne_missing(pl.col("status_new")))
    return (moved.group_by(pl.col("status_old").fill_null("absent").alias("from"), pl.col("status_new").fill_null("absent").alias("to"))
            .agg(rows=pl.len()).sort("rows", "from", "to", descending=[True, False, False]))


def _status_counts(old: pl.DataFrame, new: pl.DataFrame) -> pl.DataFrame:
    """Every status, in the ledger's order (accepted, quarantined, duplicate), with its rows in each run."""
    statuses = pl.DataFrame({"status": [status.value for status in Status]})
    def counts(rows: pl.DataFrame) -> pl.DataFrame:
        return statuses.join(rows.group_by("status").agg(count=pl.len()), on="status", how="left")
    return statuses.join(_delta(counts(old), counts(new), ["status"], keep_unchanged=True), on="status", how="left")


# ---------------------------------------------------------------- counts

def _rule_and_tag_counts(old: RunFolder, new: RunFolder, old_rows: pl.DataFrame, new_rows: pl.DataFrame) -> pl.DataFrame:
    """Per quarantine reason, warning and flag (every row), per steward's decision applied (by action), and per tag
    value of the accepted rows: the counts that changed."""
    def counts(run: RunFolder, rows: pl.DataFrame) -> pl.DataFrame:
        listed = [rows.select(pl.col(column).explode().drop_nulls().alias("name")).group_by("name").agg(count=pl.len())
                  .select(pl.lit(kind).alias("kind"), "name", "count") for kind, column in (("reason", "reasons"), ("warning", "warnings"))]
        decided = (rows.select(pl.col("decisions").explode().struct.field("action").drop_nulls().alias("name"))
                   .group_by("name").agg(count=pl.len()).select(pl.lit("decision").alias("kind"), "name", "count"))
        every_row = [frame for frame in (run.accepted, run.quarantined, run.duplicates) if "possible_duplicate_of" in frame.columns]
        flagged = [pl.concat([frame.select("possible_duplicate_of") for frame in every_row])
                   .select(pl.lit("flag").alias("kind"), pl.lit("possible_duplicate").alias("name"),
                           pl.col("possible_duplicate_of").is_not_null().sum().cast(pl.UInt32).alias("count"))] if every_row else []
        tags = [run.accepted.group_by(pl.col(column).cast(pl.String).fill_null("undetermined").alias("name")).agg(count=pl.len())
                .select(pl.lit(column).alias("kind"), "name", "count") for column in TAG_COLUMNS if column in run.accepted.columns]
        return pl.concat([*listed, decided, *flagged, *tags])
    return _delta(counts(old, old_rows), counts(new, new_rows), ["kind", "name"])


def _country_counts(run: RunFolder) -> pl.DataFrame:
    return run.accepted.group_by(pl.col("country").fill_null("unknown")).agg(count=pl.len())


def _cell_counts(run: RunFolder) -> pl.DataFrame:
    """Accepted rows per country x dimension, as the audit counts them (confident dimension only)."""
    if "dimension" not in run.accepted.columns:
        return pl.DataFrame(schema={"country": pl.String, "dimension": pl.String, "count": pl.Int64})
    return country_dimension_counts(confident_dimension(run.accepted)).rename({"rows": "count"})


def _delta(old: pl.DataFrame, new: pl.DataFrame, keys: list[str], keep_unchanged: bool = False) -> pl.DataFrame:
    """old, new and delta of `count` per key, absent counting 0; only the keys whose count changed unless told."""
    joined = old.select(*keys, pl.col("count").cast(pl.Int64).alias("old")).join(
        new.select(*keys, pl.col("count").cast(pl.Int64).alias("new")), on=keys, how="full", coalesce=True)
    table = joined.with_columns(pl.col("old", "new").fill_null(0)).with_columns(delta=pl.col("new") - pl.col("old"))
    if not keep_unchanged:
        table = table.filter(pl.col("delta") != 0)
    return table.sort(pl.col("delta").abs(), *keys, descending=[True, *[False] * len(keys)])


# ---------------------------------------------------------------- settings and input

def _config_changes(old: Path, new: Path) -> pl.DataFrame:
    """The settings of the two runs' config.yaml that differ, as `section.key` with JSON values."""
    old_settings, new_settings = _settings(old), _settings(new)
    rows = [{"setting": name, "old": old_settings.get(name, ABSENT), "new": new_settings.get(name, ABSENT)}
            for name in sorted((old_settings.keys() | new_settings.keys()) - IGNORED_SETTINGS)
            if old_settings.get(name) != new_settings.get(name)]
    return pl.DataFrame(rows, schema={"setting": pl.String, "old": pl.String, "new": pl.String})


def _settings(run: Path) -> dict[str, str]:
    path = run / "config.yaml"
    return _flatten(read_yaml(path, f"{path}")) if path.is_file() else {}


def _flatten(value: object, prefix: str = "") -> dict[str, str]:
    if isinstance(value, dict):
        return {key: text for name, item in value.items() for key, text in _flatten(item, f"{prefix}{name}.").items()}
    if isinstance(value, list) and any(isinstance(item, dict) for item in value):  # several inputs: input.0.path...
        return {key: text for index, item in enumerate(value) for key, text in _flatten(item, f"{prefix}{index}.").items()}
    return {prefix.removesuffix("."): json.dumps(value, ensure_ascii=False)}


def _input_files(rows: pl.DataFrame) -> list[str]:
    """The input files by the names the rows' source labels give them (`name:row`)."""
    return rows.select(pl.col("source").str.replace(r":\d+$", "").unique().sort()).to_series().to_list()


def _input_notes(old_rows: pl.DataFrame, new_rows: pl.DataFrame, rows: pl.DataFrame) -> list[str]:
    """A different input is allowed, but said first: by file name (a path written another way is the same file), and
    by rows (the same name with other content)."""
    old_files, new_files = _input_files(old_rows), _input_files(new_rows)
    notes = [f"the runs read different input files: {', '.join(old_files)} → {', '.join(new_files)}"] if old_files != new_files else []
    added, removed = (rows.filter(pl.col("change") == kind).height for kind in ("added", "removed"))
    if added or removed:
        notes.append(f"the input changed: {added:,} rows only in the new run, {removed:,} only in the old one")
    return notes


# ---------------------------------------------------------------- audit

def _read_audit(run: Path) -> dict | None:
    """The run's bias_audit.json, if `curation report` wrote one; a CurationError naming it when it is not one."""
    path = run / AUDIT_FILE
    if not path.is_file():
        return None
    try:
        audited = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CurationError(f"{path}: not readable as JSON ({error}): run `curation report {run}` again") from None
    if not (isinstance(audited, dict) and isinstance(audited.get("headline"), dict) and isinstance(audited.get("tables"), dict)):
        raise CurationError(f"{path}: not an audit (no `headline` and `tables`): run `curation report {run}` again")
    return audited


def _headline_delta(old: dict, new: dict) -> pl.DataFrame:
    rows = [{"figure": name, "old": old["headline"].get(name), "new": new["headline"].get(name)} for name in AUDIT_HEADLINE]
    table = pl.DataFrame(rows, schema={"figure": pl.String, "old": pl.Float64, "new": pl.Float64})
    return table.with_columns(delta=(pl.col("new") - pl.col("old")).round(4))


def _gap_delta(old: dict, new: dict) -> pl.DataFrame:
    """The gap list's cells whose rows needed changed (a closed gap needs 0)."""
    def needed(audited: dict) -> pl.DataFrame:
        gaps = audited["tables"].get("gaps") or []
        return pl.DataFrame(gaps, schema={"country": pl.String, "dimension": pl.String, "rows": pl.Int64, "needed": pl.Int64}
                            ).select("country", "dimension", pl.col("needed").alias("count"))
    return _delta(needed(old), needed(new), ["country", "dimension"])

"""The curation report of a run folder: one self-contained HTML file (inline CSS and figures, opens from
disk) and a Markdown summary, plus the bias-balance audit as JSON, Markdown and a figure. Both open with what
to do next (reports/next_steps.py).

The HTML comes from an autoescaped Jinja template (reports/html_report.py), the Markdown escapes every piece
of data (`markdown_text`, `markdown_table`): a prompt holding `<script>` is shown, never run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from curation.reports import figures, html_report
from curation.reports.bias_audit import audit, audit_figure, audit_json, audit_markdown, missing_sentence
from curation.reports.evaluation import evaluation_tables, headline
from curation.reports.gate import gate_table, gate_verdict
from curation.reports.generation_cost import generation_cost
from curation.reports.image_grid import render_images
from curation.reports.markdown import markdown_code, markdown_table, markdown_text
from curation.reports.next_steps import STEP_ROWS, Step, next_steps
from curation.reports.run_diff import HOW_TO_READ, ROWS_SHOWN, RunDiff, diff_runs
from curation.reports.similarity import tfidf_similarity
from curation.run_folder import RunFolder
from curation.text import char_length, raw_text

EXAMPLES_PER_RULE = 3
AUDIT_FIGURE = "bias_audit_countries.png"


def prompt_length_by_country(rows: pl.DataFrame) -> pl.DataFrame:
    """The table of the community's v0 analysis: per country, number of prompts and the mean, min and
    max length in characters of the raw prompt text, to two decimals."""
    length = pl.col("raw_prompt").fill_null("").str.len_chars()
    return rows.group_by(pl.col("country").fill_null("unknown")).agg(
        prompts=pl.len(), mean_chars=length.mean().round(2), min_chars=length.min(), max_chars=length.max(),
    ).sort("prompts", "country", descending=[True, False])


def with_two_decimals(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """The column as text with exactly two decimals (119 -> "119.00"), as the published table shows it."""
    return frame.with_columns(pl.Series(column, [None if value is None else f"{value:.2f}" for value in frame.get_column(column)]))


def lengths_by_country(accepted: pl.DataFrame) -> pl.DataFrame:
    return accepted.group_by(pl.col("country").fill_null("unknown")).agg(
        rows=pl.len(), **{f"mean_{field}_chars": char_length(field).mean().round(1) for field in ("prompt", "chosen", "rejected")}
    ).sort("country")


def similarity_by_country(scored: pl.DataFrame) -> pl.DataFrame:
    return scored.group_by(pl.col("country").fill_null("unknown")).agg(
        pairs=pl.len(), mean_similarity=pl.col("similarity").mean().round(3),
        median_similarity=pl.col("similarity").median().round(3),
    ).sort("country")


def rule_examples(run: RunFolder) -> pl.DataFrame:
    """Per rule (blocking reasons and warnings), its count and a few example prompts with their source."""
    rows = []
    # Warnings travel with every row, so their examples may be quarantined or duplicate rows too.
    every_row = pl.concat([frame.select("source", "prompt", "warnings") for frame in (run.accepted, run.quarantined, run.duplicates)
                           if "warnings" in frame.columns and frame.height])
    for column, frame, counts in (("reasons", run.quarantined, run.summary.get("reasons", {})),
                                  ("warnings", every_row, run.summary.get("warnings", {}))):
        for name, count in counts.items():
            if "duplicate" in name:
                continue
            examples = frame.filter(pl.col(column).list.contains(name)).head(EXAMPLES_PER_RULE) if column in frame.columns else frame.clear()
            rows.append({"rule": name, "kind": "block" if column == "reasons" else "warn", "rows": count,
                         "examples": [f"{source}: {html_report.excerpt(prompt)}" for source, prompt in examples.select("source", "prompt").iter_rows()]})
    return pl.DataFrame(rows, schema={"rule": pl.String, "kind": pl.String, "rows": pl.Int64, "examples": pl.List(pl.String)})


def _counts(frame: pl.DataFrame, column: str) -> tuple[list[str], list[float]]:
    if column not in frame.columns:
        return [], []
    counts = frame.group_by(pl.col(column).cast(pl.String).fill_null("undetermined")).agg(rows=pl.len()).sort("rows", column, descending=[True, False])
    return counts.get_column(column).to_list(), counts.get_column("rows").to_list()


@dataclass
class Report:
    html: str
    markdown: str
    audited: dict  # the bias-balance audit's tables and headline, which the dataset cards show too
    images: dict[str, bytes] = field(default_factory=dict)  # PNG files the Markdown shows, by file name


def build_report(run: RunFolder, target: str = "uniform", cell_target: int | None = None,
                 evaluation: dict | None = None, out_dir: Path | None = None, previous: RunFolder | None = None) -> Report:
    """The report of a run; `out_dir` is where it goes (default: the run folder), for its links to the run's files;
    with a previous run, what changed since it."""
    accepted = run.accepted
    pairs = accepted.filter(pl.col("chosen").is_not_null() & pl.col("rejected").is_not_null())
    scored = pairs.select("country").with_columns(tfidf_similarity(pairs))
    tables = {
        "prompt_length_as_read": with_two_decimals(prompt_length_by_country(run.as_read()), "mean_chars"),
        "prompt_length_accepted": with_two_decimals(
            prompt_length_by_country(accepted.select("country", raw_text("prompt").alias("raw_prompt"))), "mean_chars"),
        "lengths": lengths_by_country(accepted),
        "similarity": similarity_by_country(scored),
        "rules": rule_examples(run),
        "funnel": pl.DataFrame(run.summary["stages"]).select("stage", "rows_in", "rows_out", "removed", "seconds"),
        "generation_cost": generation_cost(run),
    }
    audited = audit(accepted, target, cell_target)
    charts = _charts(run, accepted, scored) | {"audit_countries": audit_figure(audited)}
    steps = next_steps(run, audited, out_dir or run.path)
    changes = diff_runs(previous, run, new_audit=audit_json(audited)) if previous is not None else None
    return Report(_html(run, tables, audited, charts, steps, evaluation, changes),
                  _markdown(run, tables, audited, steps, evaluation, changes), audited, {AUDIT_FIGURE: charts["audit_countries"]})


def _charts(run: RunFolder, accepted: pl.DataFrame, scored: pl.DataFrame) -> dict[str, bytes]:
    status = run.summary["status"]
    stages = run.summary["stages"]
    charts = {"funnel": figures.bars([s["stage"] for s in stages] + [f"→ {name}" for name in status],
                                     [s["rows_in"] for s in stages] + list(status.values()),
                                     "Rows into each stage, and where they ended", "rows")}
    for column, title in (("country", "Accepted rows by country"), ("prompt_lang", "Prompt language"),
                          ("prompt_variety", "Regional variety of the prompt"), ("prompt_register", "Register of address in the prompt"),
                          ("dimension", "Cultural dimension of the prompt")):
        labels, values = _counts(accepted, column)
        if labels:
            charts[column] = figures.bars(labels, values, title, "accepted rows")
    if accepted.height:
        lengths = _values_by_country(accepted, [char_length(field).alias(field) for field in ("prompt", "chosen", "rejected")])
        charts["lengths"] = figures.boxes(lengths, ["prompt", "chosen", "rejected"], "Length by country", "characters")
        similarity = _values_by_country(scored, [pl.col("similarity")])
        charts["similarity"] = figures.boxes(similarity, ["chosen vs rejected"], "TF-IDF cosine similarity by country", "cosine")
    return charts


def _values_by_country(frame: pl.DataFrame, values: list[pl.Expr]) -> dict[str, list[list[float]]]:
    """Country -> one list of values per expression, countries in order: the data of a box plot."""
    grouped = frame.group_by(pl.col("country").fill_null("unknown")).agg(values).sort("country")
    return {row[0]: list(row[1:]) for row in grouped.iter_rows()}


def _review_tables(review: dict | None) -> dict[str, pl.DataFrame] | None:
    if review is None:
        return None
    agreement = pl.DataFrame([{"question": question, "records answered by 2+": value["records"],
                               "Fleiss' kappa": value["fleiss_kappa"]} for question, value in review["agreement"].items()])
    decisions = pl.DataFrame([{"decision": name, "records": count} for name, count in review["decisions"].items()],
                             schema={"decision": pl.String, "records": pl.Int64})
    return {"decisions": decisions, "agreement": agreement}


def _html(run: RunFolder, tables: dict[str, pl.DataFrame], audited: dict, charts: dict[str, bytes], steps: list[Step],
          evaluation: dict | None, changes: RunDiff | None = None) -> str:
    summary = run.summary
    return html_report.render(
        dataset=summary["dataset"], input_rows=summary["input_rows"],
        status=", ".join(f"{name} {count:,}" for name, count in summary["status"].items()),
        steps=steps, step_rows=STEP_ROWS, tables=tables, charts={name: figures.data_uri(png) for name, png in charts.items()},
        gate_verdict=gate_verdict(run.validation), gate=gate_table(run.validation),
        gx_version=(run.validation or {}).get("great_expectations", "not run"),
        review=run.review, review_tables=_review_tables(run.review),
        clusters=html_report.clusters_view(run.clusters), duplicates=0 if run.clusters is None else run.clusters.height,
        images=render_images(run),
        evaluation=None if evaluation is None else {"headline": headline(evaluation), "tables": evaluation_tables(evaluation)},
        changes=None if changes is None else {"since": str(changes.old), "headline": changes.headline(), "notes": changes.notes,
                                              "how_to_read": HOW_TO_READ, "tables": changes.tables(), "max_rows": ROWS_SHOWN},
        audit={"headline": audited["headline"], "tables": audited["tables"], "missing": missing_sentence(audited),
               "figure": figures.data_uri(charts["audit_countries"])},
    )


# ---------------------------------------------------------------- Markdown

def _steps_markdown(steps: list[Step]) -> list[str]:
    lines = ["## What to do next", ""]
    for step in steps:
        lines += [f"### {'✓' if step.done else '!'} {markdown_text(step.heading)}", ""]
        lines += [line for sentence in step.sentences for line in (markdown_text(sentence), "")]
        for caption, table in step.tables:
            lines += [*([markdown_text(caption), ""] if caption else []), markdown_table(table, STEP_ROWS), ""]
        if step.link:
            example = f", e.g. {markdown_code(step.code)}" if step.code else ""
            lines += [f"The rows: [{markdown_text(step.link[0])}](<{step.link[1]}>){example}", ""]
        elif step.code:
            lines += [f"Next: {markdown_code(step.code)}", ""]
    return lines


def _markdown(run: RunFolder, tables: dict[str, pl.DataFrame], audited: dict, steps: list[Step], evaluation: dict | None = None,
              changes: RunDiff | None = None) -> str:
    summary = run.summary
    lines = [
        f"# Curation report: {markdown_text(summary['dataset'])}", "",
        f"{summary['input_rows']:,} input rows: " + ", ".join(f"{k} {v:,}" for k, v in summary["status"].items()) + ".", "",
        *_steps_markdown(steps),
        *([changes.markdown(level=2)] if changes is not None else []),
        "## Funnel per stage", "", markdown_table(tables["funnel"]), "",
        "## The gate", "", markdown_text(gate_verdict(run.validation)), "", markdown_table(gate_table(run.validation)), "",
        "## Rules", "", markdown_table(tables["rules"]), "",
        "## Prompts per country (raw prompt length in characters)", "", "Every row read:", "",
        markdown_table(tables["prompt_length_as_read"]), "", "Accepted rows:", "", markdown_table(tables["prompt_length_accepted"]), "",
        "## Length by country", "", markdown_table(tables["lengths"]), "",
        "## Chosen vs rejected TF-IDF cosine similarity by country", "", markdown_table(tables["similarity"]), "",
        *(["## Generated rows and their cost", "", markdown_table(tables["generation_cost"]), ""]
          if tables["generation_cost"] is not None else []),
        *(["## Evaluation against the gold set", "", markdown_text(headline(evaluation)), "",
           *(f"### {markdown_text(title)}\n\n{markdown_table(table, max_rows=100)}\n" for title, table in evaluation_tables(evaluation).items())]
          if evaluation is not None else []),
        "## Bias-balance audit", "", audit_markdown(audited, AUDIT_FIGURE),
    ]
    return "\n".join(lines) + "\n"


def write_report(run: RunFolder, out_dir: Path | None = None, target: str = "uniform", cell_target: int | None = None,
                 evaluation: dict | None = None, previous: RunFolder | None = None) -> tuple[Report, dict[str, Path]]:
    """report.html, report.md, bias_audit.json and bias_audit.md in `out_dir` (default: the run folder); with an
    evaluation against the gold set (reports/evaluation.py), its section in the report; with a previous run, what
    changed since it (reports/run_diff.py)."""
    out_dir = out_dir or run.path
    report = build_report(run, target, cell_target, evaluation, out_dir, previous)
    out_dir.mkdir(parents=True, exist_ok=True)
    texts = {"report.html": report.html, "report.md": report.markdown,
             "bias_audit.json": json.dumps(audit_json(report.audited), indent=2, ensure_ascii=False, default=str),
             "bias_audit.md": audit_markdown(report.audited, AUDIT_FIGURE)}
    for name, text in texts.items():
        (out_dir / name).write_text(text, encoding="utf-8")
    for name, png in report.images.items():
        (out_dir / name).write_bytes(png)
    return report, {name: out_dir / name for name in [*texts, *report.images]}

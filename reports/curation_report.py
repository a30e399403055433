"""The curation report of a run folder: one self-contained HTML file (inline CSS and figures, opens from
disk) and a Markdown summary, plus the bias-balance audit as JSON and Markdown.

Every piece of user text goes through `html.escape` (in the Markdown, `markdown_text`): a prompt holding
`<script>` is shown, never run.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from curation.errors import CurationError
from curation.reports import figures
from curation.reports.bias_audit import audit, audit_json, audit_markdown
from curation.reports.evaluation import evaluation_tables, headline
from curation.reports.generation_cost import generation_cost
from curation.reports.markdown import markdown_table, markdown_text
from curation.reports.similarity import tfidf_similarity
from curation.text import char_length, raw_text

EXAMPLES_PER_RULE = 3
EXCERPT_CHARS = 120
CLUSTERS_SHOWN = 20
RUN_FILES = ("accepted.parquet", "quarantine.parquet", "duplicates.parquet", "ledger.json")


@dataclass
class RunFolder:
    """What a run wrote, read back for the report."""
    path: Path
    accepted: pl.DataFrame
    quarantined: pl.DataFrame
    duplicates: pl.DataFrame
    summary: dict
    validation: dict | None
    clusters: pl.DataFrame | None
    review: dict | None = None

    @classmethod
    def read(cls, path: Path) -> RunFolder:
        missing = [name for name in RUN_FILES if not (path / name).is_file()]
        if missing:
            raise CurationError(f"{path} is not a run folder: it lacks {missing} (make one with `curation run`)")
        validation = path / "validation.json"
        clusters = path / "duplicate_clusters.parquet"
        review = path / "reviewed" / "review.json"
        return cls(path, pl.read_parquet(path / "accepted.parquet"), pl.read_parquet(path / "quarantine.parquet"),
                   pl.read_parquet(path / "duplicates.parquet"), json.loads((path / "ledger.json").read_text(encoding="utf-8")),
                   json.loads(validation.read_text(encoding="utf-8")) if validation.is_file() else None,
                   pl.read_parquet(clusters) if clusters.is_file() else None,
                   json.loads(review.read_text(encoding="utf-8")) if review.is_file() else None)

    def published(self, kind: str) -> bool:
        """Whether the run wrote its <name>_<kind> dataset (dpo, kto, prompts)."""
        return any(name.endswith(f"_{kind}") for name in self.summary.get("outputs", {}))

    def as_read(self) -> pl.DataFrame:
        """Every input row (accepted, quarantined or duplicate) with the columns they share."""
        parts = [frame.select("source", "country", raw_text("prompt").alias("raw_prompt"))
                 for frame in (self.accepted, self.quarantined, self.duplicates) if frame.height]
        return pl.concat(parts) if parts else pl.DataFrame(schema={"source": pl.String, "country": pl.String, "raw_prompt": pl.String})


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
                         "examples": [f"{source}: {_excerpt(prompt)}" for source, prompt in examples.select("source", "prompt").iter_rows()]})
    return pl.DataFrame(rows, schema={"rule": pl.String, "kind": pl.String, "rows": pl.Int64, "examples": pl.List(pl.String)})


def _excerpt(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


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


def build_report(run: RunFolder, target: str = "uniform", cell_target: int | None = None,
                 evaluation: dict | None = None) -> Report:
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
    charts = _charts(run, accepted, scored)
    return Report(_html(run, tables, audited, charts, evaluation), _markdown(run, tables, audited, evaluation), audited)


def _charts(run: RunFolder, accepted: pl.DataFrame, scored: pl.DataFrame) -> dict[str, str]:
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


# ---------------------------------------------------------------- HTML

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2733;line-height:1.45;padding:0 1rem}
h1{font-size:1.7rem}h2{border-bottom:2px solid #dde3ea;padding-bottom:.2rem;margin-top:2.2rem}
table{border-collapse:collapse;margin:.6rem 0 1rem;font-size:.88rem}th,td{border:1px solid #dde3ea;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f6f9}td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#1e7b34;font-weight:600}.fail{color:#b3261e;font-weight:600}.muted{color:#5b6875}
img{max-width:100%;border:1px solid #eef1f4;margin:.4rem 0}.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:1rem}
code{background:#f3f6f9;padding:0 .2rem}
"""


def _escape(value: object) -> str:
    return html.escape("" if value is None else str(value))


def html_table(frame: pl.DataFrame, max_rows: int = 60) -> str:
    if frame.height == 0:
        return '<p class="muted">(none)</p>'
    head = "".join(f"<th>{_escape(name)}</th>" for name in frame.columns)
    body = []
    for row in frame.head(max_rows).iter_rows():
        cells = []
        for value in row:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                cells.append(f'<td class="num">{_escape(f"{value:,.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else f"{value:,}")}</td>')
            elif isinstance(value, list):
                cells.append("<td>" + "<br>".join(_escape(item) for item in value) + "</td>")
            else:
                cells.append(f"<td>{_escape(value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = f'<p class="muted">{frame.height - max_rows} more rows not shown.</p>' if frame.height > max_rows else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}"


def _figure(uri: str | None, alt: str) -> str:
    return f'<img src="{uri}" alt="{_escape(alt)}">' if uri else ""


def _validation_html(validation: dict | None) -> str:
    if validation is None:
        return '<p class="muted">No validation.json in this run.</p>'
    verdict = '<span class="ok">all passed</span>' if validation["success"] else \
        f'<span class="fail">{validation["failed"]} of {validation["evaluated"]} failed</span>'
    rows = [{"result": "pass" if r["success"] else "FAIL", "table": r["table"], "expectation": r["expectation"],
             "arguments": json.dumps(r["kwargs"], ensure_ascii=False), "what it checks": r.get("description") or "",
             "observed": json.dumps({k: v for k, v in r["result"].items() if k in ("observed_value", "unexpected_count", "unexpected_percent", "partial_unexpected_list")}, ensure_ascii=False, default=str)[:300]}
            for r in validation["results"]]
    return f"<p>Dataset expectations (great-expectations {_escape(validation['great_expectations'])}): {verdict}.</p>" + html_table(pl.DataFrame(rows))


def _clusters_html(clusters: pl.DataFrame | None) -> str:
    if clusters is None or clusters.height == 0:
        return '<p class="muted">No duplicates.</p>'
    parts = []
    for (kept_source,), members in clusters.partition_by("kept_source", as_dict=True, maintain_order=True).items():
        if len(parts) >= CLUSTERS_SHOWN:
            break
        items = "".join(
            f"<li><code>{_escape(row['dropped_source'])}</code> {_escape(row['reason'])}{_similarity_text(row['similarity'])}: "
            f"{_escape(_excerpt(row['dropped_prompt']))}</li>"
            for row in members.head(5).iter_rows(named=True))
        more = f"<li class='muted'>… and {members.height - 5} more</li>" if members.height > 5 else ""
        parts.append(f"<li>kept <code>{_escape(kept_source)}</code> {_escape(_excerpt(members['kept_prompt'][0]))}<ul>{items}{more}</ul></li>")
    return f"<p>{clusters.height} rows dropped as duplicates; the largest clusters:</p><ul>{''.join(parts)}</ul>"


def _review_html(review: dict | None) -> str:
    if review is None:
        return '<p class="muted">Not reviewed yet (<code>curation review push</code>, then <code>pull</code>).</p>'
    agreement = pl.DataFrame([{"question": question, "records answered by 2+": value["records"],
                               "Fleiss' kappa": value["fleiss_kappa"]} for question, value in review["agreement"].items()])
    decisions = pl.DataFrame([{"decision": name, "records": count} for name, count in review["decisions"].items()],
                             schema={"decision": pl.String, "records": pl.Int64})
    return (f"<p>{review['reviewed']:,} records reviewed in Argilla dataset <code>{_escape(review['dataset'])}</code> "
            f"({review['answers']:,} submitted answers).</p><div class='grid'>{html_table(decisions)}{html_table(agreement)}</div>")


COST_NOTE = ("Rows made by <code>curation extend</code>. The spend counts every paid request: generated rows, quarantined "
             "and duplicate ones included, and the extension's failed requests (<code>failed.parquet</code>).")


def _cost_html(cost: pl.DataFrame | None) -> str:
    if cost is None:
        return '<p class="muted">No generated rows in this run.</p>'
    return f"<p>{COST_NOTE}</p>{html_table(cost)}"


def _evaluation_html(evaluation: dict | None) -> str:
    """The section `curation report --gold` adds: the evaluation's tables (reports/evaluation.py)."""
    if evaluation is None:
        return ""
    tables = "".join(f"<h3>{_escape(title)}</h3>{html_table(table, max_rows=100)}" for title, table in evaluation_tables(evaluation).items())
    return (f"<h2>Evaluation against the gold set</h2><p>{_escape(headline(evaluation))} Only the rows the gold labels are "
            f"measured; rules on the whole row (side <code>row</code>) against the defect on any side.</p>{tables}")


def _similarity_text(similarity: float | None) -> str:
    return "" if similarity is None else f", similarity {similarity:.2f}"


def _html(run: RunFolder, tables: dict[str, pl.DataFrame], audited: dict, charts: dict[str, str], evaluation: dict | None = None) -> str:
    summary = run.summary
    head = audited["headline"]
    status = ", ".join(f"{_escape(name)} {count:,}" for name, count in summary["status"].items())
    audit_sections = "".join(f"<h3>{_escape(name.replace('_', ' ').capitalize())}</h3>{html_table(table)}"
                             for name, table in audited["tables"].items() if table is not None)
    distributions = "".join(_figure(charts.get(column), column) for column in ("country", "prompt_lang", "prompt_variety", "prompt_register", "dimension"))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Curation report: {_escape(summary['dataset'])}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>
<body>
<h1>Curation report: {_escape(summary['dataset'])}</h1>
<p>{summary['input_rows']:,} input rows: {status}. Every row is in the ledger (<code>ledger.parquet</code>), which the run checked balances.</p>
<h2>Funnel per stage</h2>
<div class="grid">{html_table(tables['funnel'])}{_figure(charts.get('funnel'), 'funnel')}</div>
<h2>The gate</h2>
{_validation_html(run.validation)}
<h2>Rules, with examples</h2>
{html_table(tables['rules'])}
<h2>Distributions of the accepted rows</h2>
<div class="grid">{distributions}</div>
<h2>Prompts per country and their length</h2>
<p>Number of prompts and mean / min / max length in characters of the raw prompt text, as the community analysis of v0 published it.</p>
<h3>Every row read</h3>{html_table(tables['prompt_length_as_read'])}
<h3>Accepted rows</h3>{html_table(tables['prompt_length_accepted'])}
<h2>Length by country</h2>
{html_table(tables['lengths'])}{_figure(charts.get('lengths'), 'lengths by country')}
<h2>Chosen vs rejected similarity by country</h2>
<p>TF-IDF cosine of the two answers of each pair (one vocabulary over every answer).</p>
{html_table(tables['similarity'])}{_figure(charts.get('similarity'), 'similarity by country')}
<h2>Generated rows and their cost</h2>
{_cost_html(tables['generation_cost'])}
<h2>Human review</h2>
{_review_html(run.review)}
<h2>Duplicate clusters</h2>
{_clusters_html(run.clusters)}
{_evaluation_html(evaluation)}
<h2>Bias-balance audit</h2>
<p>Target: {_escape(head['target_source'])}. Imbalance index (total variation distance to the target, 0 = balanced): <b>{head['imbalance_index']}</b>.
Gap list target: {head['cell_target']} rows per country × dimension cell; {head['rows_needed']:,} rows needed.</p>
{audit_sections}
</body></html>
"""


def _markdown(run: RunFolder, tables: dict[str, pl.DataFrame], audited: dict, evaluation: dict | None = None) -> str:
    summary = run.summary
    validation = run.validation
    gate = "no validation.json" if validation is None else (
        "all dataset expectations passed" if validation["success"] else f"{validation['failed']} of {validation['evaluated']} dataset expectations failed")
    lines = [
        f"# Curation report: {markdown_text(summary['dataset'])}", "",
        f"{summary['input_rows']:,} input rows: " + ", ".join(f"{k} {v:,}" for k, v in summary["status"].items()) + f". Gate: {gate}.", "",
        "## Funnel per stage", "", markdown_table(tables["funnel"]), "",
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
        "## Bias-balance audit", "", audit_markdown(audited),
    ]
    return "\n".join(lines) + "\n"


def write_report(run: RunFolder, out_dir: Path | None = None, target: str = "uniform",
                 cell_target: int | None = None, evaluation: dict | None = None) -> tuple[Report, dict[str, Path]]:
    """report.html, report.md, bias_audit.json and bias_audit.md in `out_dir` (default: the run folder); with an
    evaluation against the gold set (reports/evaluation.py), its section in the report."""
    report = build_report(run, target, cell_target, evaluation)
    out_dir = out_dir or run.path
    out_dir.mkdir(parents=True, exist_ok=True)
    texts = {"report.html": report.html, "report.md": report.markdown,
             "bias_audit.json": json.dumps(audit_json(report.audited), indent=2, ensure_ascii=False, default=str),
             "bias_audit.md": audit_markdown(report.audited)}
    for name, text in texts.items():
        (out_dir / name).write_text(text, encoding="utf-8")
    return report, {name: out_dir / name for name in texts}

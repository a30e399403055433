"""summary.md: the run's funnel per stage, where rows ended, and each reason with a few examples."""

from __future__ import annotations

import polars as pl

from curation.reports.markdown import markdown_code, markdown_table, markdown_text

EXAMPLES_PER_REASON = 3
EXCERPT_CHARS = 80


def _excerpt(text: str | None) -> str:
    text = " ".join((text or "").split())
    text = text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"
    return text or "(empty)"


CLUSTERS_SHOWN = 15


def _cluster_lines(clusters: pl.DataFrame) -> list[str]:
    """The largest clusters: the kept prompt, then each dropped one with its reason and similarity."""
    lines = []
    for (kept_source,), members in clusters.partition_by("kept_source", as_dict=True, maintain_order=True).items():
        if len(lines) >= CLUSTERS_SHOWN:
            break
        lines.append(f"- kept {markdown_code(kept_source)} {markdown_text(_excerpt(members['kept_prompt'][0]))}")
        for row in members.head(5).iter_rows(named=True):
            similarity = "" if row["similarity"] is None else f", similarity {row['similarity']:.2f}"
            lines.append(f"  - dropped {markdown_code(row['dropped_source'])} ({markdown_text(row['reason'])}{similarity}) "
                         f"{markdown_text(_excerpt(row['dropped_prompt']))}")
        if members.height > 5:
            lines.append(f"  - … and {members.height - 5} more (duplicate_clusters.parquet)")
    return lines


ALL_ROWS = 10_000  # summary.md lists every stage, reason and dataset


def _reasons(summary: dict, removed: pl.DataFrame | pl.LazyFrame, accepted: pl.DataFrame) -> pl.DataFrame:
    """Each blocking reason and warning, with its count and a few example prompts with their source."""
    rows = []
    for column, frame in (("reasons", removed.lazy()), ("warnings", accepted.lazy())):
        present = column in frame.collect_schema().names()
        for name, count in summary[column].items():
            examples = (frame.filter(pl.col(column).list.contains(name)) if present else frame.clear()).head(
                EXAMPLES_PER_REASON).select("source", "prompt").collect()
            shown = [f"{source}: {_excerpt(prompt)}" for source, prompt in examples.iter_rows()]
            rows.append({"reason": name, "kind": "warn" if column == "warnings" else "removed", "rows": count,
                         "examples (source, prompt)": shown})
    return pl.DataFrame(rows, schema={"reason": pl.String, "kind": pl.String, "rows": pl.Int64,
                                      "examples (source, prompt)": pl.List(pl.String)})


def run_summary(summary: dict, removed: pl.DataFrame | pl.LazyFrame, accepted: pl.DataFrame, clusters: pl.DataFrame) -> str:
    intro = (f"{summary['input_rows']} input rows, {summary['seconds']:.2f} s. Every row is in the ledger "
             "(`ledger.parquet`), which the run checked balances.")
    status = pl.DataFrame({"status": list(summary["status"]), "rows": list(summary["status"].values())})
    stages = pl.DataFrame(summary["stages"]).select("stage", pl.col("rows_in").alias("in"), pl.col("rows_out").alias("out"),
                                                    "removed", "seconds")
    datasets = pl.DataFrame({"dataset": list(summary["outputs"]),
                             "splits": [", ".join(f"{s}: {n}" for s, n in splits.items()) for splits in summary["outputs"].values()]})
    lines = [f"# Curation run: {markdown_text(summary['dataset'])}", "", intro, "",
             "## Where rows ended", "", markdown_table(status, ALL_ROWS), "",
             "## Funnel per stage", "", markdown_table(stages, ALL_ROWS), "",
             "## Reasons, with examples", "", markdown_table(_reasons(summary, removed, accepted), ALL_ROWS), "",
             "## Duplicate clusters (largest first)", "", *(_cluster_lines(clusters) or ["No duplicates."]), "",
             "## Published datasets", "", markdown_table(datasets, ALL_ROWS)]
    return "\n".join(lines) + "\n"

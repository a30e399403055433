"""summary.md: the run's funnel per stage, where rows ended, and each reason with a few examples."""

from __future__ import annotations

import polars as pl

from curation.reports.markdown import markdown_code, markdown_rows, markdown_text

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


def run_summary(summary: dict, removed: pl.DataFrame, accepted: pl.DataFrame, clusters: pl.DataFrame) -> str:
    lines = [f"# Curation run: {markdown_text(summary['dataset'])}", "",
             f"{summary['input_rows']} input rows, {summary['seconds']:.2f} s. Every row is in the ledger "
             "(`ledger.parquet`), which the run checked balances.", "", "## Where rows ended", ""]
    lines += markdown_rows(["status", "rows"], [[status, count] for status, count in summary["status"].items()])
    lines += ["", "## Funnel per stage", ""]
    lines += markdown_rows(["stage", "in", "out", "removed", "seconds"],
                           [[s["stage"], s["rows_in"], s["rows_out"], s["removed"], s["seconds"]] for s in summary["stages"]])
    lines += ["", "## Reasons, with examples", ""]
    rows = []
    for column, frame in (("reasons", removed), ("warnings", accepted)):
        counts = summary[column]
        for name, count in counts.items():
            examples = frame.filter(pl.col(column).list.contains(name)).head(EXAMPLES_PER_REASON) if column in frame.columns else frame.clear()
            shown = [f"{source}: {_excerpt(prompt)}" for source, prompt in examples.select("source", "prompt").iter_rows()]
            rows.append([name, "warn" if column == "warnings" else "removed", count, shown])
    lines += markdown_rows(["reason", "kind", "rows", "examples (source, prompt)"], rows)
    lines += ["", "## Duplicate clusters (largest first)", ""]
    lines += _cluster_lines(clusters) or ["No duplicates."]
    lines += ["", "## Published datasets", ""]
    lines += markdown_rows(["dataset", "splits"], [[name, ", ".join(f"{s}: {n}" for s, n in splits.items())]
                                                   for name, splits in summary["outputs"].items()])
    return "\n".join(lines) + "\n"

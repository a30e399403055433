"""report.html from the Jinja template reports/templates/report.html.j2, autoescaped: every value the template
prints is escaped unless it is marked safe, so a prompt holding `<script>` is shown, never run. This module
turns polars tables and duplicate clusters into plain values the template lays out."""

from __future__ import annotations

from functools import cache

import polars as pl

EXCERPT_CHARS = 120
CLUSTERS_SHOWN = 20
MEMBERS_SHOWN = 5


def excerpt(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


def _cell(value: object) -> dict:
    """A table cell: its lines of text and whether it is a number (right-aligned)."""
    if isinstance(value, bool) or value is None:
        return {"lines": ["" if value is None else str(value)], "number": False}
    if isinstance(value, int):
        return {"lines": [f"{value:,}"], "number": True}
    if isinstance(value, float):
        return {"lines": [f"{value:,.3f}".rstrip("0").rstrip(".")], "number": True}
    if isinstance(value, list):
        return {"lines": [str(item) for item in value], "number": False}
    return {"lines": [str(value)], "number": False}


def table_view(frame: pl.DataFrame | None, max_rows: int = 60) -> dict:
    """Column names, rows of cells, and how many rows are left out."""
    if frame is None:
        return {"columns": [], "rows": [], "more": 0}
    rows = [[_cell(value) for value in row] for row in frame.head(max_rows).iter_rows()]
    return {"columns": frame.columns, "rows": rows, "more": max(frame.height - max_rows, 0)}


def clusters_view(clusters: pl.DataFrame | None) -> list[dict]:
    """The largest duplicate clusters: the kept row, and the first dropped rows with reason and similarity."""
    if clusters is None or clusters.height == 0:
        return []
    view = []
    for (kept_source,), members in list(clusters.partition_by("kept_source", as_dict=True, maintain_order=True).items())[:CLUSTERS_SHOWN]:
        view.append({"kept_source": kept_source, "kept": excerpt(members["kept_prompt"][0]),
                     "members": [{"source": row["dropped_source"], "reason": row["reason"], "prompt": excerpt(row["dropped_prompt"]),
                                  "similarity": None if row["similarity"] is None else f"{row['similarity']:.2f}"}
                                 for row in members.head(MEMBERS_SHOWN).iter_rows(named=True)],
                     "more": max(members.height - MEMBERS_SHOWN, 0)})
    return view


@cache
def _template():
    from jinja2 import Environment, PackageLoader, StrictUndefined

    environment = Environment(loader=PackageLoader("curation.reports", "templates"), autoescape=True,
                              undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.globals.update(table_view=table_view)
    environment.filters["thousands"] = lambda number: f"{number:,}"
    return environment.get_template("report.html.j2")


def render(**context: object) -> str:
    return _template().render(**context)

"""Data text in the Markdown outputs (summary.md, report.md, bias_audit.md, the dataset cards): shown, never run.

GitHub and the Hugging Face Hub render Markdown with HTML on, so a prompt, a persona value or a model name
holding `<script>` or `<img onerror=...>` would run in the reader's browser. Every piece of data goes
through `markdown_text` (or `markdown_code`, or a table of `markdown_table`, the one table writer).
"""

from __future__ import annotations

import html
import math
import re

import polars as pl

# Backslash-escaped: the backslash itself (data cannot escape what follows it), `[` and `]` (no link or
# image made of data) and `|` (a table cell holds).
_ESCAPES = str.maketrans({char: "\\" + char for char in "\\[]|"})


def _one_line(value: object) -> str:
    """A line break would end a table row or a list item, so every run of whitespace becomes one space."""
    return " ".join(str(value).split())


def markdown_text(value: object) -> str:
    """Data text safe anywhere in a Markdown line or table cell: `<`, `>` and `&` as HTML entities, so no
    tag survives ("<script>" shows as typed); nothing is put inside an HTML attribute, so quotes stay."""
    return html.escape(_one_line(value), quote=False).translate(_ESCAPES)


def markdown_code(value: object) -> str:
    """Data text as inline code, shown exactly: a code span holds no HTML or markup, as long as its fence
    is longer than any run of backticks inside (the spaces keep a backtick at either end apart from it).
    `|` is escaped so that a table cell holds; outside a table the backslash shows."""
    text = _one_line(value).replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}" if "`" in text else f"{fence}{text}{fence}"


def markdown_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.3f}".rstrip("0").rstrip(".")
    if isinstance(value, list):
        return "<br>".join(markdown_cell(item) for item in value)
    return markdown_text(value)


def markdown_table(table: pl.DataFrame, max_rows: int = 40) -> str:
    """A GFM table, every cell (the header's too: pivoted tables take column names from the data) through
    `markdown_cell`."""
    if table.height == 0:
        return "_(none)_"
    lines = ["| " + " | ".join(markdown_cell(name) for name in table.columns) + " |", "|" + "---|" * table.width]
    lines += ["| " + " | ".join(markdown_cell(cell) for cell in row) + " |" for row in table.head(max_rows).iter_rows()]
    more = [f"\n_{table.height - max_rows} more rows in the JSON._"] if table.height > max_rows else []
    return "\n".join([*lines, *more])

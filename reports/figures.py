"""The report's figures (matplotlib) as PNG bytes: written beside the Markdown, inline in the HTML as data
URIs (it opens from disk and fetches nothing)."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")  # no display: the figures are only ever saved
import matplotlib.pyplot as plt

COLOUR = "#3b6ea8"
MISSING = "#b3261e"


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return buffer.getvalue()


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _value_labels(axis, values: list[float]) -> None:
    for position, value in enumerate(values):
        axis.annotate(f"{value:,.0f}" if float(value).is_integer() else f"{value:.2f}", (value, position),
                      xytext=(3, 0), textcoords="offset points", va="center", fontsize=8)


def bars(labels: list[str], values: list[float], title: str, xlabel: str) -> bytes:
    """Horizontal bars, the first label on top."""
    figure, axis = plt.subplots(figsize=(7, 0.35 * max(len(labels), 3) + 1.2))
    axis.barh(labels[::-1], values[::-1], color=COLOUR)
    axis.set_title(title)
    axis.set_xlabel(xlabel)
    _value_labels(axis, values[::-1])
    return _png(figure)


def coverage(labels: list[str], rows: list[int], targets: list[int], title: str) -> bytes:
    """Horizontal bars of rows per country, the first label on top, with each country's rows at the target
    as a tick; a country with no rows gets its label in red and the word "none"."""
    labels, rows, targets = labels[::-1], rows[::-1], targets[::-1]
    figure, axis = plt.subplots(figsize=(7, 0.3 * max(len(labels), 3) + 1.4))
    axis.barh(labels, rows, color=COLOUR)
    axis.scatter(targets, labels, marker="|", s=160, color="#1d2733", label="rows at the target", zorder=3)
    for position, (label, value) in enumerate(zip(axis.get_yticklabels(), rows)):
        if value == 0:
            label.set_color(MISSING)
            axis.annotate("none", (0, position), xytext=(3, 0), textcoords="offset points", va="center", fontsize=8, color=MISSING)
    axis.set_title(title)
    axis.set_xlabel("accepted rows")
    axis.legend(loc="lower right", fontsize=8)
    return _png(figure)


def boxes(groups: dict[str, list[list[float]]], panels: list[str], title: str, ylabel: str) -> bytes:
    """One panel per entry of `panels`; in each, a box per group (country) of that panel's values."""
    names = list(groups)
    figure, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8), squeeze=False)
    for index, (axis, panel) in enumerate(zip(axes[0], panels)):
        data = [groups[name][index] or [0.0] for name in names]
        axis.boxplot(data, showfliers=False)
        axis.set_xticks(range(1, len(names) + 1), names, rotation=45, fontsize=8)
        axis.set_title(panel)
        axis.set_ylabel(ylabel if index == 0 else "")
    figure.suptitle(title)
    return _png(figure)

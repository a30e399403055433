"""The report's figures (matplotlib), each as an inline PNG data URI: the HTML opens from disk and
fetches nothing."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")  # no display: the figures are only ever saved
import matplotlib.pyplot as plt  # noqa: E402

COLOUR = "#3b6ea8"


def _data_uri(figure) -> str:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def bars(labels: list[str], values: list[float], title: str, xlabel: str) -> str:
    """Horizontal bars, the first label on top."""
    figure, axis = plt.subplots(figsize=(7, 0.35 * max(len(labels), 3) + 1.2))
    axis.barh(labels[::-1], values[::-1], color=COLOUR)
    axis.set_title(title)
    axis.set_xlabel(xlabel)
    for position, value in enumerate(values[::-1]):
        axis.annotate(f"{value:,.0f}" if float(value).is_integer() else f"{value:.2f}", (value, position),
                      xytext=(3, 0), textcoords="offset points", va="center", fontsize=8)
    return _data_uri(figure)


def boxes(groups: dict[str, list[list[float]]], panels: list[str], title: str, ylabel: str) -> str:
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
    return _data_uri(figure)

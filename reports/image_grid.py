"""The report's image section: a thumbnail grid per rule (the quarantined images with the reason) and per
duplicate cluster (the kept image first, then its copies), inline as base64 JPEG and every caption escaped,
so the single HTML file stays self-contained and safe to open."""

from __future__ import annotations

from importlib import resources

import polars as pl
from jinja2 import Environment

from curation.images.thumbnail import thumbnail
from curation.run_folder import RunFolder

THUMBNAIL = 96  # pixels of the longer side
PER_GROUP = 8  # thumbnails shown per rule or cluster
GROUPS = 12  # clusters shown
COLUMNS = ["source", "id", "prompt", "chosen", "image_bytes", "image_path", "image_error", "image_width", "image_height"]


def _tiles(rows: pl.DataFrame) -> list[dict]:
    return [{"uri": thumbnail(row["image_bytes"], row["image_path"], THUMBNAIL), "source": row["source"],
             "caption": (row["chosen"] or "")[:120], "size": f"{row['image_width']}x{row['image_height']}"
             if row["image_width"] else "", "error": row["image_error"]} for row in rows.head(PER_GROUP).iter_rows(named=True)]


def image_sections(run: RunFolder) -> dict | None:
    """Per rule and per duplicate cluster, the tiles to show; None for a run without images."""
    if "image_sha256" not in run.accepted.columns:
        return None
    quarantined = run.quarantined.select(*COLUMNS, "reasons") if run.quarantined.height else None
    rules = {} if quarantined is None else {
        reason: _tiles(quarantined.filter(pl.col("reasons").list.contains(reason)))
        for reason in quarantined.get_column("reasons").explode().drop_nulls().unique().sort().to_list()}
    clusters = []
    if run.duplicates.height:
        duplicates = run.duplicates.select(*COLUMNS, "duplicate_of", "reasons")
        kept = pl.concat([frame.select(COLUMNS) for frame in (run.accepted, run.quarantined, run.duplicates)
                          if frame.height], how="vertical_relaxed")
        for representative, members in duplicates.group_by("duplicate_of", maintain_order=True):
            if len(clusters) == GROUPS:
                break
            first = kept.filter(pl.col("id") == representative[0]).head(1)
            clusters.append({"reason": members.get_column("reasons").list.first()[0],
                             "tiles": _tiles(pl.concat([first, members.select(COLUMNS)]))})
    return {"rules": rules, "clusters": clusters}


def render_images(run: RunFolder) -> str:
    """The section's HTML (empty for a run without images)."""
    sections = image_sections(run)
    if sections is None:
        return ""
    template = resources.files("curation.reports").joinpath("templates", "images.html.j2").read_text(encoding="utf-8")
    return Environment(autoescape=True).from_string(template).render(**sections)

"""A run folder as `curation run` wrote it, read back: the rows, the ledger, the gate's results, and what
the review and the LLM classifier added. Shared by the report, the cards, the review and training."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from curation.errors import CurationError
from curation.text import raw_text

RUN_FILES = ("accepted.parquet", "quarantine.parquet", "duplicates.parquet", "ledger.json")
REVIEW_MANIFEST = "review_push.parquet"  # what `curation review push` sent, with the A/B order shown
LLM_CLASSIFICATION = "llm_classification.parquet"  # `curation classify`'s verdicts


def present(path: Path) -> bool:
    """Whether a run folder's table is there: one file, or (the Ray engine's) a folder of parquet shards."""
    return path.is_file() or any(path.glob("*.parquet"))


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
    review: dict | None = None  # reviewed/review.json, once the review is pulled
    pushed: pl.DataFrame | None = None  # review_push.parquet, once rows are pushed for review

    @classmethod
    def read(cls, path: Path) -> RunFolder:
        # A table is one parquet file, or (the Ray engine's) a folder of parquet shards polars reads as one.
        missing = [name for name in RUN_FILES if not (path / name).exists()]
        if missing:
            raise CurationError(f"{path} is not a run folder: it lacks {missing} (make one with `curation run`)")
        validation = path / "validation.json"
        clusters = path / "duplicate_clusters.parquet"
        # A run's pulled review, or (in the reviewed run folder `review pull` writes) its own
        review = next((file for file in (path / "reviewed" / "review.json", path / "review.json") if file.is_file()),
                      path / "review.json")
        pushed = path / REVIEW_MANIFEST
        return cls(path, pl.read_parquet(path / "accepted.parquet"), pl.read_parquet(path / "quarantine.parquet"),
                   pl.read_parquet(path / "duplicates.parquet"), json.loads((path / "ledger.json").read_text(encoding="utf-8")),
                   json.loads(validation.read_text(encoding="utf-8")) if validation.is_file() else None,
                   pl.read_parquet(clusters) if clusters.is_file() else None,
                   json.loads(review.read_text(encoding="utf-8")) if review.is_file() else None,
                   pl.read_parquet(pushed) if pushed.is_file() else None)

    def published(self, kind: str) -> bool:
        """Whether the run wrote its <name>_<kind> dataset (dpo, kto, prompts)."""
        return any(name.endswith(f"_{kind}") for name in self.summary.get("outputs", {}))

    def human_reviewed(self) -> dict[str, int]:
        """Rows a person decided about (the decisions file, applied by the run), accepted and quarantined."""
        return {name: frame.filter(pl.col("decisions").list.len() > 0).height if "decisions" in frame.columns else 0
                for name, frame in (("accepted", self.accepted), ("quarantined", self.quarantined))}

    def as_read(self) -> pl.DataFrame:
        """Every input row (accepted, quarantined or duplicate) with the columns they share."""
        parts = [frame.select("source", "country", raw_text("prompt").alias("raw_prompt"))
                 for frame in (self.accepted, self.quarantined, self.duplicates) if frame.height]
        return pl.concat(parts) if parts else pl.DataFrame(schema={"source": pl.String, "country": pl.String, "raw_prompt": pl.String})

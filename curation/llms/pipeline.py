"""What the paid distilabel pipelines share (`curation extend`, `curation classify`): the pipeline class
that leaves resuming to the call journal, running it to a frame of rows, and the error of a run whose
every call failed."""

from __future__ import annotations

import functools
import os
import shutil
from collections import Counter
from pathlib import Path

import polars as pl

from curation.errors import CurationError


class CallsFailed(CurationError):
    """Nothing came back because the calls failed: a bad key, a server down, every answer too slow."""


def journaled_pipeline(name: str, cache_dir: Path):
    """A distilabel Pipeline to build steps in (`with journaled_pipeline(...) as pipeline:`)."""
    from distilabel.pipeline import Pipeline

    class JournaledPipeline(Pipeline):
        """distilabel saves the whole pipeline and its buffered batches after every batch, for its own
        resume, and recomputes its cache folder (a signature of every step) for each batch: together,
        most of the engine's CPU. Resuming is the call journal's job here, so the per-batch save is
        skipped and the folder computed once; everything else is distilabel's own."""

        def _cache(self) -> None:
            pass

        @functools.cached_property
        def _cache_location(self):
            return super()._cache_location

    return JournaledPipeline(name=name, cache_dir=str(cache_dir))


def pipeline_rows(pipeline, cache_dir: Path) -> pl.DataFrame:
    """Run the pipeline and return its last step's rows; its cache folder is removed whatever happens."""
    os.environ.setdefault("DISTILABEL_LOG_LEVEL", "WARNING")
    try:
        # distilabel's own cache is off: resuming is the journal's job, so a rerun can never duplicate rows.
        distiset = pipeline.run(use_cache=False)
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)
    return distiset["default"]["train"].to_polars()


def calls_failed(produced: int, failed_attempts: Counter[str], answered: int, url: str) -> CallsFailed | None:
    """The error of a run that produced nothing because its calls failed, naming how they failed."""
    if produced or not failed_attempts:
        return None
    what = "every call failed" if not answered else f"nothing generated: {answered} calls answered, the others failed"
    kinds = ", ".join(f"{kind} ({count} attempts)" for kind, count in failed_attempts.most_common())
    return CallsFailed(f"{what} at {url}: {kinds}")

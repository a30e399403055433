"""`curation review push`: send the rows that passed the gate to an Argilla dataset.

Idempotent and resumable: records carry the row's stable id (a re-push updates, never duplicates), and
review_push.parquet in the run folder lists what reached the server with the A/B order it was shown in,
so a push cut short by a dead server resumes where it stopped. A record the server rejects is reported;
the others go through.
"""

from __future__ import annotations

import warnings
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import polars as pl
from rich.console import Console
from rich.progress import Progress

from curation.errors import CurationError
from curation.output_folder import atomic_file
from curation.review.dataset import review_language, review_rows, settings, to_record
from curation.review.server import WORKSPACE, ReviewServerError
from curation.run_folder import LLM_CLASSIFICATION, REVIEW_MANIFEST, present

MANIFEST = REVIEW_MANIFEST


@dataclass
class PushResult:
    dataset: str
    pushed: int
    skipped: int
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (id, the server's reason)


def connect(api_url: str, api_key: str):
    import argilla as rg

    try:
        client = rg.Argilla(api_url=api_url, api_key=api_key, timeout=60)
        # The SDK never closes its HTTP client: close it when the client goes (no socket left to the collector).
        weakref.finalize(client, client.http_client.close)
        client.me  # noqa: B018  (checks the URL and the key now, not at the first batch)
    except Exception as error:  # the SDK raises its own errors and httpx's
        raise ReviewServerError(f"cannot reach Argilla at {api_url}: {_reason(error)}") from None
    return client


def _reason(error: Exception) -> str:
    # Never the key: the SDK's messages hold URLs and status codes, not headers.
    return f"{type(error).__name__}: {str(error).splitlines()[0][:300] if str(error) else ''}"


def review_dataset(client, name: str, workspace: str = WORKSPACE, overlap: int = 1, language: str = "es",
                   images: bool = False):
    import argilla as rg

    with warnings.catch_warnings():  # "not found" is the expected answer on a first push
        warnings.simplefilter("ignore", UserWarning)
        dataset = client.datasets(name=name, workspace=workspace)
    if dataset is None:
        dataset = rg.Dataset(name=name, workspace=workspace, settings=settings(overlap, language, images), client=client).create()
    return dataset


def _connection_lost(error: Exception) -> bool:
    return isinstance(error, (httpx.TransportError, ConnectionError)) or isinstance(error.__cause__, httpx.TransportError)


def push(run_dir: Path, client, name: str, workspace: str = WORKSPACE, overlap: int = 1, seed: int = 0,
         batch_size: int = 500, update: bool = False, console: Console | None = None,
         show_suggestions: bool = False) -> PushResult:
    """Blind by default: the vote and the judge's verdict are suggested only with `show_suggestions`."""
    accepted_file = run_dir / "accepted.parquet"
    if not present(accepted_file):
        raise CurationError(f"{run_dir} has no accepted.parquet: push a folder `curation run` wrote")
    rows = review_rows(pl.read_parquet(accepted_file), seed, *_beside(run_dir))
    manifest_file = run_dir / MANIFEST
    manifest = pl.read_parquet(manifest_file) if manifest_file.is_file() else pl.DataFrame(
        schema={"id": pl.String, "a_is_chosen": pl.Boolean, "dataset": pl.String})
    done = set(manifest.filter(pl.col("dataset") == name).get_column("id").to_list())
    todo = rows if update else rows.filter(~pl.col("id").is_in(list(done)))
    language = review_language(rows)
    dataset = review_dataset(client, name, workspace, overlap, language, images="image_bytes" in rows.columns)
    result = PushResult(name, 0, rows.height - todo.height)
    with Progress(console=console, disable=console is None) as progress:
        task = progress.add_task(f"push {name}", total=todo.height)
        for batch in todo.iter_slices(batch_size):
            records = [to_record(row, show_suggestions, language) for row in batch.iter_rows(named=True)]
            accepted_ids = _log(dataset, records, result)
            sent = batch.filter(pl.col("id").is_in(accepted_ids)).select("id", "a_is_chosen", dataset=pl.lit(name))
            manifest = pl.concat([manifest.filter(~pl.col("id").is_in(accepted_ids) | (pl.col("dataset") != name)), sent])
            _save(manifest, manifest_file)
            result.pushed += sent.height
            progress.advance(task, batch.height)
    return result


def _beside(run_dir: Path) -> tuple[pl.DataFrame | None, pl.DataFrame | None]:
    """The texts of the run's dropped duplicates (a possible duplicate may point to one) and the LLM
    classifier's verdicts (`curation classify`), when the run folder has them. Only the columns used are
    read: a large run drops hundreds of thousands of duplicates."""
    wanted = {"duplicates.parquet": ["id", "system_prompt", "prompt"], LLM_CLASSIFICATION: None}
    return tuple(pl.read_parquet(run_dir / name, columns=columns) if present(run_dir / name) else None
                 for name, columns in wanted.items())


def _log(dataset, records: list, result: PushResult) -> list[str]:
    """Log a batch; if the server refuses it, log its records one by one so only the bad ones stay out."""
    try:
        dataset.records.log(records)
        return [str(record.id) for record in records]
    except Exception as error:
        if _connection_lost(error):
            raise ReviewServerError(f"lost the Argilla server while pushing: {_reason(error)}. Nothing is lost: "
                                    f"{result.pushed} records were pushed; run the same push again to resume") from None
        if len(records) == 1:
            result.rejected.append((str(records[0].id), _reason(error)))
            return []
        return [record_id for record in records for record_id in _log(dataset, [record], result)]


def _save(manifest: pl.DataFrame, path: Path) -> None:
    with atomic_file(path) as partial:
        manifest.write_parquet(partial)

"""A whole curation run: read, run the stages, prove the ledger, write every output at once."""

from __future__ import annotations

import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import takewhile
from pathlib import Path

import polars as pl
import yaml
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from curation.config import RunConfig
from curation.image_writers import image_dataset_name, write_image_datasets
from curation.ledger import Ledger, follow_duplicate_chains
from curation.output_folder import (
    atomic_directory,
    check_output_folder,
    remove_stale,
    work_folder,
)
from curation.pipelines import column_makers, default_pipeline
from curation.pipelines.apply_decisions import ApplyDecisions
from curation.pipelines.columns import protect_metadata, published_metadata
from curation.readers import read_inputs
from curation.reports.duplicate_clusters import duplicate_clusters
from curation.reports.run_summary import run_summary
from curation.rules.expectations import check_expectations, tables, validate
from curation.rules.pack import load_packs
from curation.schema import CANONICAL, IMAGE_COLUMNS, Status
from curation.stage import (
    BATCH_ROWS,
    REMOVED_COLUMNS,
    Pipeline,
    Stage,
    add_stats,
)
from curation.writers import sink_table, write_published, write_table


@dataclass
class RunResult:
    accepted: pl.DataFrame
    removed: pl.LazyFrame  # quarantined and duplicate rows, on disk: see pipeline_run
    ledger_rows: pl.DataFrame
    summary: dict
    output_dir: Path | None = None

    def reason_kinds(self) -> dict[str, str]:
        """Each reason rows left the flow for -> its kind, told by where its rows ended: duplicate (a dedupe
        stage) or block (a blocking rule), whatever its name says."""
        ended = (self.ledger_rows.filter(pl.col("status") != Status.ACCEPTED.value).explode("reasons")
                 .group_by("reasons").agg(pl.col("status").first()))
        return {reason: "duplicate" if status == Status.DUPLICATE.value else "block" for reason, status in ended.iter_rows()}


def _progress(console: Console | None) -> Progress:
    return Progress(TextColumn("{task.description:<14}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                    TimeElapsedColumn(), console=console, disable=console is None, transient=False)


@contextmanager
def pipeline_run(records: pl.DataFrame | Callable[[], pl.DataFrame], pipeline: Pipeline,
                 console: Console | None = None, work_dir: Path | None = None) -> Iterator[RunResult]:
    """Run the stages on canonical records; every row ends accepted, quarantined or duplicate.

    The leading row-local stages (normalise, tags, filter) stream over batches of the input, spilled to
    parquet in a work folder (in `work_dir`, else the system's temporary folder); the stages that compare
    rows (dedupe, split) then see the survivors. Given a function that reads the records, nothing
    outside holds the input frame, so a million-row run never holds two copies of its texts. Removed rows
    go to the work folder as they leave the flow and `RunResult.removed` scans them there: it is valid as
    long as the context, and a run holds in memory only the rows still in the flow.
    """
    with work_folder(work_dir) as work:
        yield _run_stages(records, pipeline, console, Path(work))


def run_pipeline(records: pl.DataFrame | Callable[[], pl.DataFrame], pipeline: Pipeline,
                 console: Console | None = None) -> RunResult:
    """`pipeline_run` with the removed rows read into memory, for runs that fit in it."""
    with pipeline_run(records, pipeline, console) as result:
        result.removed = result.removed.collect().lazy()
        return result


def _run_stages(records: pl.DataFrame | Callable[[], pl.DataFrame], pipeline: Pipeline, console: Console | None,
                work: Path) -> RunResult:
    frame = records() if callable(records) else records
    del records
    pipeline.check(frame.columns, column_makers())
    ledger = Ledger(input_rows=frame.height)
    sources = frame.get_column("source")
    stages = list(pipeline)
    streamed = list(takewhile(lambda stage: stage.row_local, stages))
    removed = SpilledRows(work)
    with _progress(console) as progress:
        if streamed:
            spilled = work / "input.parquet"
            write_table(frame, spilled)
            del frame
            frame = _run_in_batches(spilled, streamed, ledger, removed, progress)
        task = progress.add_task("stages", total=len(stages) - len(streamed))
        for stage in stages[len(streamed):]:
            progress.update(task, description=stage.name)
            started = time.perf_counter()
            returned = 0
            if isinstance(stage, ApplyDecisions) and removed.files:  # a person's decision may put a removed row back
                back, left = stage.take_back(removed.scan(like=frame))
                back = back.collect()
                removed.replace(left)
                frame, returned = pl.concat([frame, back], how="diagonal_relaxed"), back.height
            result = stage(frame)
            ledger.record(stage.name, frame.height, result.kept.height, result.removed.height,
                          time.perf_counter() - started, result.stats, returned)
            removed.add(result.removed)
            frame = result.kept
            progress.advance(task)
    rows = follow_duplicate_chains(removed.scan(like=frame))
    ledger_rows = ledger.rows(frame, rows)
    ledger.check(sources, ledger_rows)
    return RunResult(frame, rows, ledger_rows, ledger.summary(ledger_rows))


@dataclass
class SpilledRows:
    """Removed rows, written to parquet in the work folder as they leave the flow and scanned back as one
    table: a million-row run's hundreds of thousands of removed rows, with their tags, never sit in memory."""
    folder: Path
    files: list[Path] = field(default_factory=list)

    def add(self, rows: pl.DataFrame) -> None:
        if rows.height:
            self.files.append(self.folder / f"removed-{len(self.files):05d}.parquet")
            write_table(rows, self.files[-1])

    def replace(self, rows: pl.LazyFrame) -> None:
        """Every removed row so far is now `rows` (a query over the current files)."""
        file = self.folder / f"removed-{len(self.files):05d}.parquet"
        sink_table(rows, file)
        self.files = [file]

    def scan(self, like: pl.DataFrame) -> pl.LazyFrame:
        """The removed rows; none, with the columns of `like` (the kept rows) and the removal's, if nothing left."""
        if not self.files:
            return like.clear().with_columns(pl.lit(None, dtype=dtype).alias(name)
                                             for name, dtype in REMOVED_COLUMNS.items()).lazy()
        return pl.concat([pl.scan_parquet(file) for file in self.files], how="diagonal_relaxed")


def _run_in_batches(spilled: Path, stages: list[Stage], ledger: Ledger, removed: SpilledRows,
                    progress: Progress) -> pl.DataFrame:
    """Row-local stages, batch by batch; each batch's kept and removed rows go back to parquet, so a
    batch's texts and temporaries are freed before the next (a polars string column keeps alive every
    buffer it points into) and what is read back has compact buffers of its own.

    One batch per core at a time, each in its own thread: polars releases the GIL, and a single regex
    pass over a column runs on one core, so two batches keep two cores busy where one batch leaves one
    idle. Results are taken in batch order, so the removed rows and the kept files are in input order.
    """
    total = pl.scan_parquet(spilled).select(pl.len()).collect().item()
    counts = {stage.name: StageCounts() for stage in stages}
    task = progress.add_task(stages[0].name if len(stages) == 1 else f"{stages[0].name}..{stages[-1].name}", total=total)
    starts = range(0, max(total, 1), BATCH_ROWS)
    kept_files = [spilled.with_name(f"kept-{number:05d}.parquet") for number in range(len(starts))]

    def run_batch(number: int) -> list[tuple[str, int, int, pl.DataFrame, dict, float]]:
        """The stages on one batch: per stage, its name, rows in and kept, removed rows, stats and seconds
        (each stage's kept rows are freed as the next stage takes them)."""
        batch = pl.scan_parquet(spilled).slice(starts[number], BATCH_ROWS).collect()
        steps = []
        for stage in stages:
            started = time.perf_counter()
            result = stage(batch)
            steps.append((stage.name, batch.height, result.kept.height, result.removed, result.stats,
                          time.perf_counter() - started))
            batch = result.kept
        write_table(batch, kept_files[number])
        return steps

    workers = batch_workers()
    with ThreadPoolExecutor(workers) as pool:
        pending = deque(pool.submit(run_batch, number) for number in range(min(workers, len(starts))))
        try:
            for number in range(len(starts)):
                steps = pending.popleft().result()
                if number + workers < len(starts):  # at most `workers` batches in flight
                    pending.append(pool.submit(run_batch, number + workers))
                for name, rows_in, rows_out, rows_removed, stats, seconds in steps:
                    counts[name].add(rows_in, rows_out, rows_removed.height, stats, seconds)
                    removed.add(rows_removed)
                progress.advance(task, steps[0][1])
                del steps
        except BaseException:  # a failed batch (or Ctrl-C): no batch still waiting is started
            pool.shutdown(cancel_futures=True)
            raise
    for name, entry in counts.items():
        ledger.record(name, entry.rows_in, entry.rows_out, entry.removed, entry.seconds, entry.stats)
    return pl.concat([pl.read_parquet(file) for file in kept_files], how="diagonal_relaxed", rechunk=False)


def batch_workers() -> int:
    """Batches in flight at once: one per core this process may use, at most two (each holds a batch's
    temporaries, ~500 MB for 50k rows)."""
    return max(1, min(2, len(os.sched_getaffinity(0))))


@dataclass
class StageCounts:
    """One stage's rows and time summed over the batches."""
    rows_in: int = 0
    rows_out: int = 0
    removed: int = 0
    seconds: float = 0.0
    stats: dict[str, int] = field(default_factory=dict)

    def add(self, rows_in: int, rows_out: int, removed: int, stats: dict[str, int], seconds: float) -> None:
        self.rows_in += rows_in
        self.rows_out += rows_out
        self.removed += removed
        self.seconds += seconds
        add_stats(self.stats, stats)


def run(config: RunConfig, output_dir: Path | None = None, console: Console | None = None) -> RunResult:
    """The configured run end to end. Bad input raises InputError before anything is written."""
    if config.engine == "ray":  # Ray is imported only by a run that uses it
        from curation.distributed.engine import run_on_ray

        return run_on_ray(config, output_dir, console)
    started = time.perf_counter()
    final, pipeline = prepare(config, output_dir, console)
    # Spill beside the output (where the space for it is), unless that folder is still to be made.
    with pipeline_run(lambda: protect_metadata(read_inputs(config)), pipeline, console,
                      work_dir=final.parent if final.parent.is_dir() else None) as result:
        metadata = published_metadata(result.accepted)
        result.output_dir = final
        with atomic_directory(result.output_dir, config.read_paths()) as folder:
            result.summary["outputs"] = _write_outputs(result, config, metadata, folder)
            write_reports(result, config, folder, started)
    # The work folder is gone: the removed rows are now the ones written.
    result.removed = pl.concat([pl.scan_parquet(final / name) for name in ("quarantine.parquet", "duplicates.parquet")],
                               how="diagonal_relaxed")
    return result


def prepare(config: RunConfig, output_dir: Path | None, console: Console | None) -> tuple[Path, Pipeline]:
    """Before any row is read (either engine): the output folder may be replaced, what killed runs left is
    removed, and the pipeline and the packs' expectations are checked. The final folder and the pipeline."""
    final = Path(output_dir or config.output_dir())
    check_output_folder(final, config.read_paths())
    for stale in remove_stale(final.parent):
        if console is not None:
            console.print(f"removed {stale}, left by a run that was killed")
    pipeline = default_pipeline(config)
    # A stage that lacks its columns fails before any row is read.
    pipeline.check([*CANONICAL, *(IMAGE_COLUMNS if config.images else ())], column_makers())
    check_expectations(load_packs(config.gate.packs))  # and so does a misspelt expectation
    return final, pipeline


def write_reports(result: RunResult, config: RunConfig, folder: Path, started: float) -> None:
    """Beside the written rows (either engine): validation, ledger summary, duplicate clusters, summary, config."""
    validation = _validate(result, config, folder)
    result.summary["validation"] = {key: validation[key] for key in ("success", "evaluated", "failed")} | {
        "skipped": len(validation["skipped"])}
    (folder / "validation.json").write_text(json.dumps(validation, indent=2, ensure_ascii=False, default=str),
                                            encoding="utf-8")
    result.summary["seconds"] = round(time.perf_counter() - started, 3)
    result.summary["dataset"] = config.name
    (folder / "ledger.json").write_text(json.dumps(result.summary, indent=2, ensure_ascii=False), encoding="utf-8")
    clusters = duplicate_clusters(result.accepted, result.removed)
    write_table(clusters, folder / "duplicate_clusters.parquet")
    (folder / "summary.md").write_text(run_summary(result.summary, result.removed, result.accepted, clusters),
                                       encoding="utf-8")
    (folder / "config.yaml").write_text(yaml.safe_dump(config.model_dump(mode="json"), allow_unicode=True, sort_keys=False))


def _validate(result: RunResult, config: RunConfig, folder: Path) -> dict:
    """The packs' dataset expectations on the accepted rows and on what was published."""
    names = {kind: image_dataset_name(config.name, kind) if config.images else f"{config.name}_{kind}"
             for kind in ("dpo", "kto", "prompts")}
    dpo_files = sorted((folder / names["dpo"]).glob("data/*.parquet"))
    dpo_ids = pl.concat([pl.read_parquet(file, columns=["id"]) for file in dpo_files]).get_column("id") if dpo_files \
        else pl.Series("id", [], dtype=pl.String)
    return validate(load_packs(config.gate.packs), tables(result.accepted, dpo_ids, names))


def _write_outputs(result: RunResult, config: RunConfig, metadata: list[str], folder: Path) -> dict:
    """The published datasets, and the accepted, quarantined, duplicate and ledger tables."""
    if config.images is not None:  # trl's vision format; the summary says what the privacy step removed
        outputs, result.summary["images"] = write_image_datasets(result.accepted, result.removed, config.name, folder,
                                                                 config.output.formats, metadata)
    else:
        outputs = write_published(result.accepted, config.name, folder, config.output.dpo_format == "conversational",
                                  config.output.formats, metadata)
    write_table(result.accepted, folder / "accepted.parquet")
    for status, file in ((Status.QUARANTINED, "quarantine.parquet"), (Status.DUPLICATE, "duplicates.parquet")):
        # Streamed from the removed rows: a million-row run never holds a filtered copy of them as well
        sink_table(result.removed.filter(pl.col("status") == status.value), folder / file)
    write_table(result.ledger_rows, folder / "ledger.parquet")
    return outputs

"""A whole curation run: read, run the stages, prove the ledger, write every output at once."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import yaml
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from curation.config import RunConfig
from curation.ledger import ROW_COLUMNS, Ledger, follow_duplicate_chains
from curation.pipelines import STAGES, default_pipeline
from curation.readers import read_inputs
from curation.reports.duplicate_clusters import duplicate_clusters
from curation.reports.run_summary import run_summary
from curation.schema import TEXT_FIELDS, Status, metadata_columns
from curation.stage import REMOVED_COLUMNS, Pipeline
from curation.writers import atomic_directory, dpo_frame, kto_frame, prompts_frame, write_dataset


@dataclass
class RunResult:
    accepted: pl.DataFrame
    removed: pl.DataFrame
    ledger_rows: pl.DataFrame
    summary: dict
    output_dir: Path | None = None


def _progress(console: Console | None) -> Progress:
    return Progress(TextColumn("{task.description:<14}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                    TimeElapsedColumn(), console=console, disable=console is None, transient=False)


def run_pipeline(records: pl.DataFrame, pipeline: Pipeline, console: Console | None = None) -> RunResult:
    """Run the stages on canonical records; every row ends accepted, quarantined or duplicate."""
    ledger = Ledger(input_rows=records.height)
    sources = records.get_column("source")
    removed_parts: list[pl.DataFrame] = []
    frame = records
    del records  # the stages' outputs replace it; holding it would double a large run's memory
    stages = list(pipeline)
    with _progress(console) as progress:
        task = progress.add_task("stages", total=len(stages))
        for stage in stages:
            progress.update(task, description=stage.name)
            started = time.perf_counter()
            result = stage(frame)
            ledger.record(stage.name, frame.height, result.kept.height, result.removed.height,
                          time.perf_counter() - started, result.stats)
            if result.removed.height:
                removed_parts.append(result.removed)
            frame = result.kept
            progress.advance(task)
    removed = pl.concat(removed_parts, how="diagonal_relaxed") if removed_parts else pl.DataFrame(schema=REMOVED_COLUMNS)
    removed = follow_duplicate_chains(removed)
    ledger_rows = ledger.rows(frame, removed)
    ledger.check(sources, ledger_rows)
    return RunResult(frame, removed, ledger_rows, ledger.summary(ledger_rows))


def engine_columns() -> set[str]:
    """Every column name the engine adds to a record."""
    engine = {column for stage in STAGES.values() for column in stage.outputs} | set(REMOVED_COLUMNS) | set(ROW_COLUMNS)
    return engine | {"label", "completion", "similarity"} | {f"{field}_raw" for field in TEXT_FIELDS}


def protect_metadata(records: pl.DataFrame) -> pl.DataFrame:
    """Input metadata columns named like a column the engine adds are kept, renamed input_<name>."""
    engine = engine_columns()
    clashing = [name for name in metadata_columns(records) if name in engine or name.startswith("_")]
    return records.rename({name: f"input_{name.lstrip('_')}" for name in clashing})


def run(config: RunConfig, output_dir: Path | None = None, console: Console | None = None) -> RunResult:
    """The configured run end to end. Bad input raises InputError before anything is written."""
    started = time.perf_counter()
    # Passed on, not kept here: the input frame can be freed once normalised.
    result = run_pipeline(protect_metadata(read_inputs(config)), default_pipeline(config), console)
    engine = engine_columns()
    metadata = [name for name in metadata_columns(result.accepted) if name not in engine and not name.startswith("_")]
    result.output_dir = Path(output_dir or config.output_dir())
    with atomic_directory(result.output_dir) as folder:
        result.summary["outputs"] = _write_outputs(result, config, metadata, folder)
        result.summary["seconds"] = round(time.perf_counter() - started, 3)
        result.summary["dataset"] = config.name
        (folder / "ledger.json").write_text(json.dumps(result.summary, indent=2, ensure_ascii=False), encoding="utf-8")
        clusters = duplicate_clusters(result.accepted, result.removed)
        clusters.write_parquet(folder / "duplicate_clusters.parquet")
        (folder / "summary.md").write_text(run_summary(result.summary, result.removed, result.accepted, clusters),
                                           encoding="utf-8")
        (folder / "config.yaml").write_text(yaml.safe_dump(config.model_dump(mode="json"), allow_unicode=True, sort_keys=False))
    return result


def _write_outputs(result: RunResult, config: RunConfig, metadata: list[str], folder: Path) -> dict:
    """The published datasets, and the accepted, quarantined, duplicate and ledger tables."""
    conversational = config.output.dpo_format == "conversational"
    accepted = result.accepted
    published = {
        "dpo": dpo_frame(accepted, conversational, metadata),
        "kto": kto_frame(accepted, conversational, metadata),
        "prompts": prompts_frame(accepted, metadata),
    }
    outputs: dict = {}
    for kind, frame in published.items():
        if frame.height:
            outputs[f"{config.name}_{kind}"] = write_dataset(frame, folder / f"{config.name}_{kind}", config.output.formats)
    accepted.write_parquet(folder / "accepted.parquet")
    for status, file in ((Status.QUARANTINED, "quarantine.parquet"), (Status.DUPLICATE, "duplicates.parquet")):
        rows = result.removed.filter(pl.col("status") == status.value) if result.removed.height else result.removed
        rows.write_parquet(folder / file)
    result.ledger_rows.write_parquet(folder / "ledger.parquet")
    return outputs

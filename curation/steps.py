"""A run one step at a time, as the README's stage-by-stage sequence makes it: `ingest` reads any input into
canonical records, and `run_step` runs one stage alone on a previous step's kept rows (or any input), writing
its kept rows, removed rows and stats as one folder, whole or not at all."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from curation.config import RunConfig, load_config
from curation.output_folder import atomic_directory, atomic_file, check_output_file, check_output_folder
from curation.readers import read_records
from curation.run import run_pipeline
from curation.schema import CANONICAL
from curation.stage import Pipeline, Stage
from curation.writers import sink_table, write_table


def step_config(config_path: Path | None, input_path: str) -> RunConfig:
    """The config file's settings (or the defaults) applied to this one input."""
    config = load_config(config_path) if config_path else RunConfig(name="curation", input={"path": input_path})
    config.input = config.inputs()[0].model_copy(update={"path": input_path})
    return config


def ingest(config: RunConfig, out: Path) -> int:
    """The input as canonical records in the parquet file `out`, which appears only complete; the rows written."""
    check_output_file(out, config.read_paths())
    records = read_records(config.input, config.images)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(out) as partial:
        write_table(records, partial)
    return records.height


@dataclass
class StepCounts:
    rows_in: int
    kept: int

    @property
    def removed(self) -> int:
        return self.rows_in - self.kept


def run_step(stage: type[Stage], config: RunConfig, out: Path) -> StepCounts:
    """`stage` alone, built from the config even when the config disables it: kept.parquet, removed.parquet and
    stats.json (the ledger's summary) in the folder `out`."""
    check_output_folder(out, config.read_paths())
    frame = step_input(config)
    result = run_pipeline(frame, Pipeline([stage.from_config(config)]))
    with atomic_directory(out, config.read_paths()) as folder:
        write_table(result.accepted, folder / "kept.parquet")
        sink_table(result.removed, folder / "removed.parquet")
        (folder / "stats.json").write_text(json.dumps(result.summary, indent=2, ensure_ascii=False), encoding="utf-8")
    return StepCounts(frame.height, result.accepted.height)


def step_input(config: RunConfig) -> pl.DataFrame:
    """A previous step's parquet as it is (with the columns earlier stages made); anything else through the readers."""
    path = Path(config.input.path)
    if path.suffix == ".parquet" and path.is_file() and set(CANONICAL) <= set(pl.read_parquet_schema(path)):
        return pl.read_parquet(path)
    return read_records(config.input, config.images)

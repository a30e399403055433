"""Input and output at scale: input shards read by Ray tasks into canonical parquet, and Ray datasets
written as sharded parquet folders (accepted.parquet/part-*.parquet...) that polars reads as one table."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from curation.config import InputConfig, RunConfig
from curation.distributed.envelope import POINTED, POSITION
from curation.errors import ConfigError, CurationError, InputError
from curation.pipelines.columns import protect_metadata
from curation.readers import read_records
from curation.readers.files import CSV_SUFFIXES, JSONL_SUFFIXES, SAVED_DATASET_FILES, hub_parquet_files
from curation.writers import ROW_GROUP_ROWS, write_table

SHARD_SUFFIXES = {*CSV_SUFFIXES, *JSONL_SUFFIXES, ".parquet"}


def input_shards(config: RunConfig) -> list[InputConfig]:
    """Every input, a folder of CSV/JSONL/parquet shards or a Hub dataset's parquet files (`data/*.parquet`) as one
    input per file (in name order); a saved dataset, a Hub id or a single file as it is."""
    shards = []
    for source in config.inputs():
        folder = Path(source.path)
        if folder.is_dir() and (files := hub_parquet_files(folder, source.split)):
            shards += [source.model_copy(update={"path": str(file), "split": None}) for file in files]
        elif folder.is_dir() and not any((folder / name).is_file() for name in SAVED_DATASET_FILES):
            files = sorted(path for path in folder.iterdir() if path.is_file() and path.suffix.lower() in SHARD_SUFFIXES)
            if not files:
                raise InputError(source.path, f"a folder with no shards ({', '.join(sorted(SHARD_SUFFIXES))}) and no saved dataset")
            shards += [source.model_copy(update={"path": str(file)}) for file in files]
        else:
            shards.append(source)
    names = [Path(shard.path).name for shard in shards]
    if len(set(names)) != len(names):  # a row's source label is its file's name and its row number
        raise ConfigError("two input files have the same name; their rows would share source labels. Rename one.")
    return shards


def read_shard(source: InputConfig, number: int, folder: str) -> tuple[str, int, dict]:
    """One input shard as canonical records with their input position, in a parquet file of the work folder:
    (file, rows, schema)."""
    frame = protect_metadata(read_records(source))
    frame = frame.with_columns((pl.int_range(pl.len(), dtype=pl.Int64) + (number << 32)).alias(POSITION),
                               pl.lit(False).alias(POINTED))
    file = Path(folder) / f"input-{number:05d}.parquet"
    write_table(frame, file)
    return str(file), frame.height, dict(frame.schema)


def read_inputs_on_ray(config: RunConfig, folder: Path) -> tuple[list[str], int, pl.Schema]:
    """Every shard read by a Ray task: the canonical files, the rows in all, and the schema they share (a
    column one input lacks is null there). Bad input raises its InputError, as the local engine does."""
    import ray

    task = ray.remote(read_shard)
    results = ray.get([task.remote(shard, number, str(folder)) for number, shard in enumerate(input_shards(config))])
    schema = pl.concat([pl.DataFrame(schema=schema) for _, _, schema in results], how="diagonal_relaxed").schema
    return [file for file, _, _ in results], sum(rows for _, rows, _ in results), schema


def unwrapped(error: Exception) -> Exception:
    """A task's own CurationError (bad input) rather than Ray's wrapper of it."""
    cause = getattr(error, "cause", None)
    return cause if isinstance(cause, CurationError) else error


def write_shards(dataset, folder: Path, schema: pl.Schema) -> None:
    """A Ray dataset as parquet shards in `folder`; a dataset of no rows as one empty shard, so that the
    folder still reads as a table with its columns."""
    folder.mkdir(parents=True, exist_ok=True)
    dataset.write_parquet(str(folder), min_rows_per_file=ROW_GROUP_ROWS)
    if not any(folder.glob("*.parquet")):
        write_table(pl.DataFrame(schema=schema), folder / "part-00000.parquet")


def read_shards(folder: Path, columns: list[str] | None = None) -> pl.DataFrame:
    return pl.read_parquet(folder / "*.parquet", columns=columns)

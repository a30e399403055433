"""`curation run --engine ray`: the run of curation.run, step by step on a Ray cluster.

Each step's output (kept rows, removed rows, counts) is written as sharded parquet in the run's work folder,
so the next step reads it back lazily and a retried task replaces only its own output; the outputs are then
built beside the final folder and moved into place whole (atomic_directory), as the local engine does.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import polars as pl
from rich.console import Console
from rich.progress import Progress

from curation.config import RunConfig
from curation.distributed import ledger as distributed
from curation.distributed.cluster import connected
from curation.distributed.compare import PARTITION, needs_rekeying, rekeyed, stage_on_partition, with_partition
from curation.distributed.envelope import COUNTS, ENGINE_COLUMNS, KEPT, PART, REMOVED, STATS, Template, conform, rows_of
from curation.distributed.io import read_inputs_on_ray, read_shards, unwrapped, write_shards
from curation.distributed.row_local import leading_row_local, row_local_batch
from curation.errors import ConfigError
from curation.extras import require
from curation.ledger import Ledger
from curation.output_folder import atomic_directory, work_folder
from curation.pipelines import column_makers
from curation.pipelines.columns import published_metadata
from curation.run import RunResult, _progress, prepare, write_reports
from curation.schema import Status
from curation.stage import BATCH_ROWS, Pipeline, Stage
from curation.writers import write_published, write_table

# Hash partitions of a shuffle per CPU of the cluster: enough to spread the work, few enough that each
# partition's stage call is worth its start.
PARTITIONS_PER_CPU = 2
MIN_PARTITION_ROWS = 2_000


def run_on_ray(config: RunConfig, output_dir: Path | None = None, console: Console | None = None) -> RunResult:
    """The configured run on Ray (config.address, else a small local instance): every row ends where the
    local engine puts it. Bad input raises InputError before anything is written."""
    require("ray")
    import ray

    started = time.perf_counter()
    if config.images is not None or config.decisions is not None:
        raise ConfigError("the ray engine runs text preference data without decisions; run images and decisions "
                          "with the local engine (engine: local)")
    final, pipeline = prepare(config, output_dir, console)
    with connected(config.address), work_folder(final.parent if final.parent.is_dir() else None) as work:
        try:
            with _progress(console) as progress:
                steps = _run_steps(config, list(pipeline), Path(work), progress)
            partitions = steps.partitions
            return _finish(config, steps, final, partitions, started)
        except ray.exceptions.RayTaskError as error:
            raise unwrapped(error) from None


class Steps:
    """What the steps left in the work folder: each step's envelope shards and template, and the ledger."""

    def __init__(self, work: Path, ledger: Ledger, inputs: list[str]):
        self.work, self.ledger, self.inputs = work, ledger, inputs
        self.folders: list[Path] = []
        self.templates: list[Template] = []
        self.shuffle_bytes: dict[str, int] = {}
        self.partitions = 1

    def add(self, name: str, dataset, template: Template, stages: list[Stage]) -> None:
        """Run a step (writing its shards) and record its stages' counts, summed over its batches."""
        folder = self.work / f"{len(self.folders):02d}-{name}"
        dataset.write_parquet(str(folder))
        self.folders.append(folder)
        self.templates.append(template)
        counts = [json.loads(text) for text in pl.scan_parquet(folder / "*.parquet").filter(pl.col(PART) == STATS)
                  .select(COUNTS).collect().get_column(COUNTS)]
        for stage in stages:
            entries = [entry["stages"][stage.name] for entry in counts]
            stats: dict[str, int] = {}
            for entry in entries:
                for key, value in entry["stats"].items():
                    stats[key] = stats.get(key, 0) + value
            self.ledger.record(stage.name, *(sum(entry[key] for entry in entries) for key in ("rows_in", "rows_out", "removed", "seconds")),
                               stats)
        if shuffled := sum(entry.get("shuffle_bytes", 0) for entry in counts):
            self.shuffle_bytes[name] = shuffled

    def rows(self, step: int, part: str):
        """One part (kept or removed) of a step's output, as a Ray dataset."""
        import ray

        schema = self.templates[step].kept if part == KEPT else self.templates[step].removed
        return ray.data.read_parquet(str(self.folders[step])).map_batches(
            _part_rows, batch_format="pyarrow", fn_kwargs={"part": part, "schema": schema})

    def removed(self):
        """Every step's removed rows (one read of every step's shards: they share the envelope's columns)."""
        import ray

        schema = pl.concat([pl.DataFrame(schema=template.removed) for template in self.templates], how="diagonal_relaxed").schema
        return ray.data.read_parquet([str(folder) for folder in self.folders]).map_batches(
            _part_rows, batch_format="pyarrow", fn_kwargs={"part": REMOVED, "schema": schema}), schema


def _part_rows(batch, part: str, schema: pl.Schema):
    return rows_of(part, pl.from_arrow(batch), schema).to_arrow()


def _conformed(batch, schema: pl.Schema):
    return conform(pl.from_arrow(batch), schema).to_arrow()


def _partitions(rows: int) -> int:
    """Hash partitions of a shuffle: PARTITIONS_PER_CPU per CPU of the cluster, fewer for few rows."""
    import ray

    cpus = int(ray.cluster_resources().get("CPU", 1))
    return max(2, min(PARTITIONS_PER_CPU * cpus, rows // MIN_PARTITION_ROWS))


def _run_steps(config: RunConfig, stages: list[Stage], work: Path, progress: Progress) -> Steps:
    """The row-local stages as one map_batches step, then each stage that compares rows on its partitions."""
    import ray

    task = progress.add_task("read", total=len(stages) + 1)
    (work / "input").mkdir()
    files, input_rows, schema = read_inputs_on_ray(config, work / "input")
    Pipeline(stages).check([name for name in schema.names() if name not in ENGINE_COLUMNS], column_makers())
    progress.advance(task)
    steps = Steps(work, Ledger(input_rows=input_rows), files)
    partitions = steps.partitions = _partitions(input_rows)
    streamed = leading_row_local(stages)
    groups = ([streamed] if streamed else []) + [[stage] for stage in stages[len(streamed):]]
    templates = Template.shared(_templates(groups, schema))
    rows_schema = schema
    for group, template in zip(groups, templates):
        progress.update(task, description=group[0].name)
        if group is streamed:
            dataset = ray.data.read_parquet(files).map_batches(
                row_local_batch, batch_format="pyarrow", batch_size=BATCH_ROWS,
                fn_kwargs={"config": config, "schema": schema, "template": template})
        else:
            dataset = _compared(config, group[0], steps.rows(len(steps.folders) - 1, KEPT) if steps.folders
                                else ray.data.read_parquet(files), partitions, rows_schema, template)
        steps.add("row_local" if group is streamed else group[0].name, dataset, template, group)
        rows_schema = template.kept
        progress.advance(task, len(group))
    return steps


def _templates(groups: list[list[Stage]], schema: pl.Schema) -> list[Template]:
    """Each step's template, each step taking the rows the one before kept."""
    templates = []
    for group in groups:
        templates.append(Template.of(group, schema))
        schema = templates[-1].kept
    return templates


def _compared(config: RunConfig, stage: Stage, kept, partitions: int, rows_schema: pl.Schema, template: Template):
    """A stage that compares rows, on the hash partitions of its key (compare.py)."""
    arguments = {"config": config, "name": stage.name}
    keyed = kept.map_batches(with_partition, batch_format="pyarrow", fn_kwargs=arguments | {"partitions": partitions})
    if needs_rekeying(stage):
        keyed = keyed.groupby(PARTITION, num_partitions=partitions).map_groups(
            rekeyed, batch_format="pyarrow", fn_kwargs=arguments | {"partitions": partitions})
    return keyed.groupby(PARTITION, num_partitions=partitions).map_groups(
        stage_on_partition, batch_format="pyarrow", fn_kwargs=arguments | {"schema": rows_schema, "template": template})


def _finish(config: RunConfig, steps: Steps, final: Path, partitions: int, started: float) -> RunResult:
    """Duplicate chains followed, the ledger built, every output written as shards and checked against the input
    before the folder is moved into place (a run that does not balance leaves the previous output)."""
    import ray

    removed, removed_schema = steps.removed()
    removed_schema = _without_engine_columns(removed_schema)
    ends = distributed.chain_ends(steps.folders)
    removed_folder, ledger_folder = steps.work / "removed", steps.work / "ledger"
    removed.map_batches(distributed.redirected, batch_format="pyarrow", fn_kwargs={"ends": ends, "columns": removed_schema.names()}
                        ).write_parquet(str(removed_folder), partition_cols=[distributed.BY_STATUS])
    accepted = steps.rows(len(steps.folders) - 1, KEPT)
    written = [str(shards) for shards in sorted(removed_folder.iterdir())] if removed_folder.is_dir() else []
    for rows, is_accepted in ((accepted, True), *([(ray.data.read_parquet(written), False)] if written else [])):
        rows.map_batches(distributed.ledger_rows, batch_format="pyarrow", fn_kwargs={"accepted": is_accepted}
                         ).write_parquet(str(ledger_folder))
    rows = ray.data.read_parquet(str(ledger_folder))
    summary = distributed.summary(steps.ledger, rows)
    summary["engine"] = {"name": "ray", "partitions": partitions, "shuffle_bytes": steps.shuffle_bytes}
    accepted_schema = _without_engine_columns(steps.templates[-1].kept)
    with atomic_directory(final, config.read_paths()) as folder:
        outputs = {status: folder / name for status, name in distributed.OUTPUTS.items()}
        write_shards(accepted.map_batches(_conformed, batch_format="pyarrow", fn_kwargs={"schema": accepted_schema}),
                     outputs[Status.ACCEPTED], accepted_schema)
        for status in (Status.QUARANTINED, Status.DUPLICATE):  # the removed rows' shards of that status, as written
            _move_shards(removed_folder / f"{distributed.BY_STATUS}={status.value}", outputs[status], removed_schema)
        distributed.check(steps.ledger, summary["status"], steps.inputs, folder, partitions)
        shutil.copytree(ledger_folder, folder / "ledger.parquet")
        result = RunResult(read_shards(outputs[Status.ACCEPTED]),
                           _removed_rows(folder),
                           read_shards(folder / "ledger.parquet"), summary, final)
        # Streamed from the accepted shards by polars (never held whole): the published layout is the writers'.
        summary["outputs"] = write_published(pl.scan_parquet(outputs[Status.ACCEPTED] / "*.parquet"), config.name, folder,
                                             config.output.dpo_format == "conversational", config.output.formats,
                                             published_metadata(result.accepted.clear()))
        write_reports(result, config, folder, started)
    result.removed = _removed_rows(final)  # the folder has moved into place
    return result


def _move_shards(shards: Path, folder: Path, schema: pl.Schema) -> None:
    """A folder of shards moved into place (one empty shard with the columns if no row has that status)."""
    if shards.is_dir():
        shutil.move(shards, folder)
    else:
        folder.mkdir()
        write_table(pl.DataFrame(schema=schema), folder / "part-00000.parquet")


def _removed_rows(folder: Path) -> pl.LazyFrame:
    """The quarantined and duplicate shards, scanned as the local engine's removed rows are: the driver never
    holds them whole."""
    return pl.scan_parquet([folder / distributed.OUTPUTS[status] / "*.parquet" for status in (Status.QUARANTINED, Status.DUPLICATE)])


def _without_engine_columns(schema: pl.Schema) -> pl.Schema:
    return pl.Schema({name: dtype for name, dtype in schema.items() if name not in ENGINE_COLUMNS})

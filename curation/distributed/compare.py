"""The stages that compare rows, on partitions made by Ray's hash shuffle (groupby + map_groups): each
partition runs the same stage class, on its rows in input order, so it decides as the local engine does.

Why each partition key is safe (a stage compares rows only within it):
- exact dedupe: rows are duplicates only with the same normalised prompt (its prompt key and its whole-pair
  key both start with it), so rows are partitioned by the hash of that prompt key;
- near and semantic dedupe: pairs, buckets, clusters and possible duplicates are all within one scope
  (country, persona: `scope_keys`), so rows are partitioned by the hash of their scope key;
- split: a prompt group's stratum is its first row's country and vote, and the test share is counted per
  stratum; one shuffle by prompt group finds each group's first row, a second puts whole strata together.
A stage not listed here runs on one partition: correct, not scaled.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import polars as pl
import pyarrow as pa

from curation.clusters import scope_keys
from curation.config import RunConfig
from curation.distributed.envelope import POSITION, Template, conform, run_stages
from curation.distributed.row_local import pipeline_stages
from curation.pipelines.exact_dedupe import ExactDedupe
from curation.pipelines.near_dedupe import NearDedupe
from curation.pipelines.semantic_dedupe import SemanticDedupe
from curation.pipelines.split import Split
from curation.stage import Stage
from curation.text import exact_key

PARTITION = "_partition"
# The bytes a first shuffle brought (rekeyed), carried by the rows to the second: a step counts every shuffle it does.
SHUFFLED = "_shuffled_bytes"
SEED = 23


def _prompt_group(stage: Stage, frame: pl.DataFrame) -> pl.Series:
    return frame.select(exact_key("prompt").hash(seed=SEED)).to_series()


def _scope(stage: NearDedupe | SemanticDedupe, frame: pl.DataFrame) -> pl.Series:
    return scope_keys(frame, stage.scope, stage.persona).hash(seed=SEED)


def _constant(stage: Stage, frame: pl.DataFrame) -> pl.Series:
    return pl.Series([0] * frame.height, dtype=pl.UInt64)


PARTITION_KEYS: dict[type[Stage], Callable[[Stage, pl.DataFrame], pl.Series]] = {
    ExactDedupe: _prompt_group, NearDedupe: _scope, SemanticDedupe: _scope, Split: _prompt_group}
# Stages whose partitions need a second shuffle: rows keyed by what the first partitions found.
REKEYED: dict[type[Stage], Callable[[pl.DataFrame], pl.Series]] = {
    Split: lambda frame: frame.select(pl.struct("country", "preference").first().over(exact_key("prompt"))
                                      .hash(seed=SEED)).to_series()}


@cache
def _stage(config_json: str, name: str) -> Stage:
    return next(stage for stage in pipeline_stages(RunConfig.model_validate_json(config_json)) if stage.name == name)


def stage_named(config: RunConfig, name: str) -> Stage:
    return _stage(config.model_dump_json(), name)


def with_partition(batch: pa.Table, config: RunConfig, name: str, partitions: int) -> pa.Table:
    """A batch with each row's partition number (the stage's key, hashed, modulo `partitions`)."""
    stage = stage_named(config, name)
    frame = pl.from_arrow(batch)
    key = PARTITION_KEYS.get(type(stage), _constant)(stage, frame)
    return frame.with_columns((key % partitions).alias(PARTITION)).to_arrow()


def rekeyed(group: pa.Table, config: RunConfig, name: str, partitions: int) -> pa.Table:
    """One partition's rows keyed again for the stage's second shuffle (rows in input order first); its first
    row carries the bytes this first shuffle brought, which the second's partitions add up."""
    stage = stage_named(config, name)
    frame = pl.from_arrow(group).sort(POSITION)
    brought = pl.when(pl.int_range(pl.len()) == 0).then(group.nbytes).otherwise(0).cast(pl.Int64)
    return frame.with_columns((REKEYED[type(stage)](frame) % partitions).alias(PARTITION), brought.alias(SHUFFLED)).to_arrow()


def needs_rekeying(stage: Stage) -> bool:
    return type(stage) in REKEYED


def stage_on_partition(group: pa.Table, config: RunConfig, name: str, schema: pl.Schema, template: Template) -> pa.Table:
    """The stage on one partition's rows, in input order; the counts say how many bytes the shuffles brought
    (this one's, and a first shuffle's that its rows carry)."""
    frame = pl.from_arrow(group)
    earlier = frame.get_column(SHUFFLED).sum() if SHUFFLED in frame.columns else 0
    return run_stages([stage_named(config, name)], conform(frame.sort(POSITION), schema), template,
                      extra={"shuffle_bytes": group.nbytes + earlier})

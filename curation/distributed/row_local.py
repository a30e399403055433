"""The leading row-local stages (normalise, tags, filter) as Ray Data `map_batches` over Arrow batches: each
batch goes to the same stage classes through polars (`pl.from_arrow`, zero-copy), one implementation of
every rule."""

from __future__ import annotations

from functools import cache
from itertools import takewhile

import polars as pl
import pyarrow as pa

from curation.config import RunConfig
from curation.distributed.envelope import Template, conform, run_stages
from curation.pipelines import default_pipeline
from curation.stage import Stage


@cache
def _stages(config_json: str) -> list[Stage]:
    """The run's stages, built once per worker process (the taggers load their models)."""
    return list(default_pipeline(RunConfig.model_validate_json(config_json)))


def pipeline_stages(config: RunConfig) -> list[Stage]:
    return _stages(config.model_dump_json())


def leading_row_local(stages: list[Stage]) -> list[Stage]:
    """The stages a row's result depends on that row alone, up to the first that compares rows."""
    return list(takewhile(lambda stage: stage.row_local, stages))


def row_local_batch(batch: pa.Table, config: RunConfig, schema: pl.Schema, template: Template) -> pa.Table:
    """One batch through the leading row-local stages: its kept rows, removed rows and counts (envelope.py)."""
    stages = leading_row_local(pipeline_stages(config))
    return run_stages(stages, conform(pl.from_arrow(batch), schema), template)

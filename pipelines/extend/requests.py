"""The prompts to ask for: one row per new prompt, aimed at the audit's gaps (country x cultural
dimension), each with a persona and a template taken in turn so every cell gets a balanced mix."""

from __future__ import annotations

import hashlib
import itertools
from functools import cache
from importlib import resources

import polars as pl
import yaml

from curation.pipelines.extend.config import ExtendConfig
from curation.reports.bias_audit import audited_gaps

PERSONA_AXES = ("edad", "genero", "rol")


@cache
def extension_table() -> dict:
    """Dimension definitions, prompt templates and persona axes (curation/data/extend.yaml)."""
    return yaml.safe_load(resources.files("curation.data").joinpath("extend.yaml").read_text(encoding="utf-8"))


def _personas() -> pl.DataFrame:
    axes = extension_table()["personas"]
    return pl.DataFrame(list(itertools.product(*(axes[axis] for axis in PERSONA_AXES))), schema=list(PERSONA_AXES), orient="row")


def _templates() -> pl.DataFrame:
    return pl.DataFrame([{"dimension": dimension, "template": template["id"], "template_text": template["text"]}
                         for dimension, templates in extension_table()["templates"].items() for template in templates])


def _offset(seed: int, country: str, dimension: str) -> int:
    """Where a cell starts in the persona list: cells differ, and the same seed repeats a run."""
    return int.from_bytes(hashlib.blake2b(f"{seed}:{country}:{dimension}".encode(), digest_size=4).digest(), "big")


def prompt_requests(accepted: pl.DataFrame, config: ExtendConfig) -> pl.DataFrame:
    """Rows: request_id, country, dimension, dimension_text, template, template_text, edad, genero, rol.

    At most `max_prompts`, taken in rounds over the cells (the largest gaps first in each round), so a
    small budget still touches every gap rather than filling one."""
    cells, _ = audited_gaps(accepted, config.cell_target)
    if config.countries:
        cells = cells.filter(pl.col("country").is_in(config.countries))
    cells = cells.filter(pl.col("country") != "unknown")
    if cells.is_empty():
        return pl.DataFrame()
    wanted = (cells.with_columns(index=pl.int_ranges(0, "needed")).explode("index")
              .sort("index", "needed", "country", "dimension", descending=[False, True, False, False])
              .head(config.max_prompts))
    personas, templates = _personas(), _templates()
    wanted = wanted.with_columns(
        persona=(pl.col("index") + pl.struct("country", "dimension").map_elements(
            lambda cell: _offset(config.seed, cell["country"], cell["dimension"]), return_dtype=pl.Int64)) % personas.height)
    templates = templates.with_columns(template_index=pl.int_range(pl.len()).over("dimension"),
                                       templates_in_dimension=pl.len().over("dimension"))
    wanted = (wanted.join(templates, on="dimension")
              .filter(pl.col("index") % pl.col("templates_in_dimension") == pl.col("template_index"))
              .join(personas.with_row_index("persona").with_columns(pl.col("persona").cast(pl.Int64)), on="persona"))
    definitions = pl.DataFrame({"dimension": list(extension_table()["dimensions"]),
                                "dimension_text": list(extension_table()["dimensions"].values())})
    return (wanted.join(definitions, on="dimension")
            .with_columns(request_id=pl.concat_str("country", "dimension", pl.col("index").cast(pl.String), separator=":"))
            .sort("index", "needed", "country", "dimension", descending=[False, True, False, False])
            .select("request_id", "country", "dimension", "dimension_text", "template", "template_text", *PERSONA_AXES))

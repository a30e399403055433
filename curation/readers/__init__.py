"""Readers: any supported shape and file kind -> the canonical preference records."""

from __future__ import annotations

import polars as pl

from curation.config import ImagesConfig, InputConfig, RunConfig
from curation.errors import ConfigError, InputError
from curation.readers import arena, images, pairwise, prompt_upload, trl
from curation.readers.files import load_raw
from curation.schema import conform

# Tried in this order by `format: auto`: the most specific column sets first.
SHAPES = {"pairwise": pairwise, "arena": arena, "trl": trl, "prompts": prompt_upload}
_KNOWN = {"question", "prompt", "chosen", "rejected", "country", "pais", "país", "system_prompt",
          "response_a", "response_b", "winner", "model_a", "model_b", "preference", "modelo_gen"}


def _standard_names(frame: pl.DataFrame, mapping: dict[str, str], label: str) -> pl.DataFrame:
    """Apply the config's column mapping, then fold known names' case and spaces ('Question ' -> question)."""
    absent = [name for name in mapping if name not in frame.columns]
    if absent:
        raise InputError(label, f"input.columns maps {absent}, which the data does not have (found {frame.columns})",
                         column=absent[0])
    targets = list(mapping.values())
    if len(set(targets)) != len(targets):
        raise ConfigError(f"input.columns maps two columns to the same name: {mapping}")
    frame = frame.rename(mapping)
    folded = {name: name.strip().lower() for name in frame.columns if name.strip().lower() in _KNOWN}
    names = [folded.get(name, name) for name in frame.columns]
    clashes = sorted({name for name in names if names.count(name) > 1})
    if clashes:
        both = [old for old in frame.columns if folded.get(old, old) in clashes]
        raise InputError(label, f"columns {both} all mean {clashes[0]!r}; drop or rename one (input.columns)",
                         column=both[0])
    return frame.rename({old: new for old, new in folded.items() if old != new})


def read_records(config: InputConfig, image_settings: ImagesConfig | None = None) -> pl.DataFrame:
    """Read the configured input as canonical records (see curation.schema); with `image_settings`, each row's
    image too (curation.readers.images)."""
    raw = _standard_names(load_raw(config.path, config.split), config.columns, config.path)
    image_column = images.image_column(raw, image_settings, config.path)
    if image_column is not None:
        raw = images.take_images(raw, image_column, images.images_folder(config.path, image_settings), image_settings)
    if config.format == "auto":
        columns = set(raw.columns)
        shape = next((module for module in SHAPES.values() if module.matches(columns)), None)
        if shape is None:
            raise InputError(
                config.path,
                f"cannot tell the data's shape from its columns {raw.columns}; expected the columns of one of "
                + "; ".join(f"{name}: {module.REQUIRED}" for name, module in SHAPES.items()),
            )
    else:
        shape = SHAPES[config.format]
    return conform(shape.to_records(raw))


def read_inputs(config: RunConfig) -> pl.DataFrame:
    """Every configured input as one frame of canonical records (metadata columns may differ by input)."""
    parts = [read_records(source, config.images) for source in config.inputs()]
    records = pl.concat(parts, how="diagonal_relaxed") if len(parts) > 1 else parts[0]
    if len(parts) > 1 and records.get_column("source").is_duplicated().any():
        raise ConfigError("two inputs have the same file name; their rows would share source labels. Rename one.")
    return records

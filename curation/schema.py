"""The canonical preference record: one polars schema every reader produces and every stage reads."""

from __future__ import annotations

import hashlib
from enum import StrEnum

import polars as pl

from curation.images.probe import FACT_COLUMNS
from curation.text import nfc


class Preference(StrEnum):
    CHOSEN_BETTER = "chosen-better"
    BOTH_GOOD = "both-good"
    BOTH_BAD = "both-bad"


class Status(StrEnum):
    ACCEPTED = "accepted"
    QUARANTINED = "quarantined"
    DUPLICATE = "duplicate"


TEXT_FIELDS = ("system_prompt", "prompt", "chosen", "rejected")
RESPONSE_FIELDS = ("chosen", "rejected")
# Persona columns of the input (the prompt-upload CSV's and others'): part of a row's persona, audited per country.
PERSONA_AXES = ("edad", "genero", "region", "nivel_educativo", "clase_social", "age", "gender")

# Column -> dtype. Readers produce these first, in this order; any other column is kept as metadata.
CANONICAL: dict[str, pl.DataType] = {
    "id": pl.String(),
    "source": pl.String(),
    "system_prompt": pl.String(),
    "prompt": pl.String(),
    "chosen": pl.String(),
    "rejected": pl.String(),
    "preference": pl.String(),
    "country": pl.String(),
}

# The image of a row of the `_images_` datasets (curation.readers.images): its bytes when the input held them,
# else its file; then what curation.images.probe measured. They follow the canonical columns.
IMAGE_COLUMNS: dict[str, pl.DataType] = {"image_bytes": pl.Binary(), "image_path": pl.String(), **FACT_COLUMNS}

_ID_FIELDS = ("system_prompt", "prompt", "chosen", "rejected", "preference", "country")
_UNIT_SEPARATOR, _NULL_MARK = "\x1f", "\x00"
_ID_BATCH_ROWS = 50_000


def record_ids(frame: pl.DataFrame) -> pl.Series:
    """Content-derived ids: the same record read twice, from any file, gets the same id.

    The content is lightly normalised first (NFC, line ends, outer spaces; empty means absent), so a
    CSV's empty cell and a JSONL's "" or a CRLF copy of the file give the same id. blake2b rather
    than polars' hash, whose values may change between polars versions. An image record's id covers its
    image's content hash too: one caption pair on two images is two records.
    """
    fields = (*_ID_FIELDS, "image_sha256") if "image_sha256" in frame.columns else _ID_FIELDS
    light = [nfc(name).str.replace_all("\r\n?", "\n").str.strip_chars() for name in fields]
    ids: list[str] = []
    # Slices, so neither the normalised copies nor the Python strings of a million-row input exist all at once.
    for part in frame.iter_slices(_ID_BATCH_ROWS):
        normalised = part.select(light).select(pl.when(pl.col(name) != "").then(pl.col(name)).alias(name) for name in fields)
        columns = [normalised.get_column(name).to_list() for name in fields]
        ids.extend(
            hashlib.blake2b(
                _UNIT_SEPARATOR.join(_NULL_MARK if value is None else value for value in values).encode(),
                digest_size=8,
            ).hexdigest()
            for values in zip(*columns)
        )
    return pl.Series("id", ids, dtype=pl.String)


def conform(frame: pl.DataFrame) -> pl.DataFrame:
    """Order canonical columns first with their dtypes, give each row its id, keep metadata after."""
    missing = [name for name in CANONICAL if name not in frame.columns and name != "id"]
    frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(name) for name in missing)
    frame = frame.with_columns(pl.col(name).cast(dtype) for name, dtype in CANONICAL.items() if name != "id")
    frame = frame.with_columns(record_ids(frame))
    images = [name for name in IMAGE_COLUMNS if name in frame.columns]
    return frame.select(*CANONICAL, *images, *metadata_columns(frame))


def metadata_columns(frame: pl.DataFrame) -> list[str]:
    """Persona and other metadata columns a reader kept, in their input order."""
    return [name for name in frame.columns if name not in CANONICAL and name not in IMAGE_COLUMNS]


def seeded_coin(seed: int, key: str) -> bool:
    """A fair coin fixed by the seed and a row's key: the same draw on every machine and every run."""
    return hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=1).digest()[0] & 1 == 1

"""The image of each row of an image + caption dataset: a file path (relative to the input's folder), bytes,
or a Hugging Face `Image` (parquet or save_to_disk). The image column becomes the image columns of the
canonical record (curation.schema.IMAGE_COLUMNS): its bytes or its file, and what the probe measured.

The captions are the responses: the rest of the row is read by the text shapes (arena, trl, pairwise),
trl's vision format included (message contents that are lists of image and text parts). One caption and a vote
(trl's KTO shape: prompt, completion or caption, label or vote) is read as the pairwise shape's row whose second
response is missing: the caption is `chosen`, `rejected` stays empty, and the vote is both-good or both-bad, which
the KTO dataset labels desirable or not (and the DPO dataset, needing a pair, leaves out)."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from curation.config import ImagesConfig
from curation.errors import ConfigError, InputError
from curation.extras import require
from curation.images.probe import probe_all
from curation.readers.common import first_bad, require_text, source_file
from curation.readers.trl import _dialogue, _role_content
from curation.schema import Preference
from curation.text import fold_key

IMAGE_COLUMN_NAMES = ("image", "images", "image_path", "file_name", "imagen")
URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
CAPTION_COLUMNS, VOTE_COLUMNS = ("completion", "caption"), ("label", "vote")
PAIR_COLUMNS = {"chosen", "rejected", "response_a", "response_b"}
# A single caption's vote, folded (curation.text.fold_key): trl's boolean label, or a word in the data's language.
GOOD_VOTES = {"true", "1", "good", "buena", "bueno", "boa", "bom", "yes", "si", "sim", "desirable"}
BAD_VOTES = {"false", "0", "bad", "mala", "malo", "ruim", "ma", "no", "nao", "undesirable"}


def image_column(frame: pl.DataFrame, settings: ImagesConfig | None, label: str) -> str | None:
    """The column that holds the images, or None for text data; an image column in a text run (or none in an
    image run) is a configuration error."""
    if settings is not None and settings.column is not None:
        if settings.column not in frame.columns:
            raise InputError(label, f"images.column is {settings.column!r}, which the data lacks (found {frame.columns})",
                             column=settings.column)
        return settings.column
    found = next((name for name in IMAGE_COLUMN_NAMES if name in frame.columns), None)
    if settings is None and found is not None:
        raise ConfigError(f"{label}: the data has an image column ({found!r}); add `images: {{}}` to the config to "
                          "curate images and captions (the published datasets are then <name>_images_dpo/_kto)")
    if settings is not None and found is None:
        raise InputError(label, f"an image run needs an image column: one of {list(IMAGE_COLUMN_NAMES)} or "
                                f"images.column (found {frame.columns})")
    return found


def take_images(frame: pl.DataFrame, column: str, folder: Path, settings: ImagesConfig) -> pl.DataFrame:
    """The frame with image_bytes, image_path and the probe's columns in place of `column`; text message
    lists of trl's vision format flattened to text. Bad images get `image_error`; a column that holds no
    kind of image at all is an InputError."""
    require("images")  # Pillow and imagehash: a missing one is an install command, not a crash
    frame = _single_image(frame, column)
    dtype = frame.schema[column]
    if dtype == pl.String:
        located = frame.select(image_bytes=pl.lit(None, dtype=pl.Binary), image_path=_located(pl.col(column), folder))
    elif dtype == pl.Binary:
        located = frame.select(image_bytes=pl.col(column), image_path=pl.lit(None, dtype=pl.String))
    elif isinstance(dtype, pl.Struct) and {"bytes", "path"} <= {field.name for field in dtype.fields}:
        embedded = pl.col(column).struct.field("bytes")
        located = frame.select(image_bytes=embedded, image_path=pl.when(embedded.is_null()).then(
            _located(pl.col(column).struct.field("path"), folder)))
    else:
        file, row = first_bad(frame, pl.col(column).is_not_null())
        raise InputError(file, f"expected image file paths, image bytes or a Hugging Face Image, found {dtype}",
                         row=row, column=column)
    _check_not_all_missing(frame, located, column)
    images = [data if data is not None else path
              for data, path in zip(located.get_column("image_bytes").to_list(), located.get_column("image_path").to_list())]
    facts = probe_all(images, settings.max_pixels)
    urls = located.select(pl.col("image_path").str.contains(URL.pattern)).to_series().fill_null(False)
    facts = facts.with_columns(image_error=pl.when(pl.lit(urls)).then(pl.lit("a URL, not a local file: download the "
                                                                             "images first")).otherwise("image_error"))
    # The input's own image_* columns (a published dataset read back) are measured again, not trusted.
    measured = [*located.columns, *facts.columns]
    return _one_caption(_flat_messages(frame.drop(column, *measured, strict=False))).hstack(located).hstack(facts)


def _one_caption(frame: pl.DataFrame) -> pl.DataFrame:
    """A row of one caption and a vote as the pairwise shape's columns (response_a the caption, response_b none,
    winner both-good or both-bad); any other frame as it is. An unknown vote is an InputError naming its row."""
    caption = next((name for name in CAPTION_COLUMNS if name in frame.columns), None)
    vote = next((name for name in VOTE_COLUMNS if name in frame.columns), None)
    if caption is None or vote is None or PAIR_COLUMNS & set(frame.columns):
        return frame
    if isinstance(frame.schema[caption], pl.List):  # trl's messages: the assistant's text
        frame = frame.with_columns(_role_content(caption, "assistant").alias(caption))
    if "prompt" in frame.columns and isinstance(frame.schema["prompt"], pl.List):
        system = _role_content("prompt", "system")
        frame = frame.with_columns(system_prompt=pl.when(system != "").then(system), prompt=_dialogue("prompt"))
    require_text(frame, caption)
    labels = frame.get_column(vote).cast(pl.String)
    folded = {label: fold_key(label) for label in labels.drop_nulls().unique().to_list()}
    unknown = [label for label, key in folded.items() if key not in GOOD_VOTES | BAD_VOTES]
    if unknown or labels.has_nulls():
        bad = labels.is_null() if not unknown else labels == unknown[0]
        file, row = first_bad(frame, bad)
        raise InputError(file, f"unknown vote {None if not unknown else unknown[0]!r} for the caption; expected true or "
                               "false (good or bad, buena or mala, boa or ruim)", row=row, column=vote)
    good = labels.replace_strict({label: key in GOOD_VOTES for label, key in folded.items()}, return_dtype=pl.Boolean)
    winner = pl.when(pl.lit(good)).then(pl.lit(Preference.BOTH_GOOD.value)).otherwise(pl.lit(Preference.BOTH_BAD.value))
    return frame.with_columns(response_a=pl.col(caption), response_b=pl.lit(None, dtype=pl.String),
                              winner=winner).drop(caption, vote)


def _single_image(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """A list of images (trl's `images`) as its one image: one image per row is what the records hold."""
    if not isinstance(frame.schema[column], pl.List):
        return frame
    more = pl.col(column).list.len() > 1
    if frame.select(more.any()).item():
        file, row = first_bad(frame, more)
        raise InputError(file, "more than one image in the row; one image per row is supported", row=row, column=column)
    return frame.with_columns(pl.col(column).list.first())


def _located(paths: pl.Expr, folder: Path) -> pl.Expr:
    """Absolute paths; a relative one starts at `folder`; a URL stays as it is (never downloaded)."""
    relative = ~paths.str.starts_with("/") & ~paths.str.contains(URL.pattern)
    blank = paths.str.strip_chars() == ""
    return pl.when(blank).then(pl.lit(None, dtype=pl.String)).when(relative).then(pl.lit(f"{folder}/") + paths).otherwise(paths)


def _check_not_all_missing(frame: pl.DataFrame, located: pl.DataFrame, column: str) -> None:
    """A column that names no existing file at all is a wrong column or folder, not a dataset of bad images."""
    paths = located.filter(pl.col("image_bytes").is_null()).get_column("image_path").drop_nulls()
    if located.get_column("image_bytes").is_not_null().any() or paths.is_empty():
        return
    if not any(Path(path).exists() for path in paths.unique().head(1000).to_list()):
        raise InputError(source_file(frame), f"none of the image files exists (the first: {paths[0]}); image paths start "
                                             "at the input file's folder, or at images.folder", column=column)


def _flat_messages(frame: pl.DataFrame) -> pl.DataFrame:
    """Message lists whose contents are lists of parts ({type: image} and {type: text, text}) as plain
    messages whose content is the text parts joined: what the trl shape reads."""
    flat = {}
    for name, dtype in frame.schema.items():
        if not (isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct)):
            continue
        fields = {field.name: field.dtype for field in dtype.inner.fields}
        if isinstance(fields.get("content"), pl.List):
            text = (pl.element().struct.field("content").list.eval(pl.element().struct.field("text"))
                    .list.drop_nulls().list.join("\n\n"))
            flat[name] = pl.col(name).list.eval(pl.struct(role=pl.element().struct.field("role"), content=text))
    return frame.with_columns(**flat) if flat else frame


def images_folder(path: str, settings: ImagesConfig) -> Path:
    """Where relative image paths start: images.folder, else the input file's folder (or the saved dataset's)."""
    if settings.folder is not None:
        return Path(settings.folder).resolve()
    location = Path(path).resolve()
    return location if location.is_dir() else location.parent

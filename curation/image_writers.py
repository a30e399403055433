"""The published `_images_` datasets: trl's vision format for DPO and KTO, as parquet (with the `Image` feature
in its metadata, so `load_dataset` gives PIL images) and `save_to_disk`, named <name>_images_dpo and
<name>_images_kto. Each image is published without its EXIF GPS block and owner fields, and without XMP or IPTC
blocks that locate it or name its owner."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import yaml

from curation.errors import CurationError
from curation.images.privacy import strip_private_metadata
from curation.images.probe import read_image_file
from curation.schema import Preference
from curation.writers import CARD_HINT, DATA_FOLDER, hub_metadata, split_file

_PART = pl.Struct({"type": pl.String, "text": pl.String})
_MESSAGE = pl.Struct({"role": pl.String, "content": pl.List(_PART)})
IMAGE = pl.Struct({"bytes": pl.Binary, "path": pl.String})
# What the published rows keep of the image besides the image itself.
IMAGE_FACTS = ("image_sha256", "image_width", "image_height", "image_format")


def image_dataset_name(name: str, kind: str) -> str:
    """<name>_images_<kind>; a name that already ends in _images gets only the kind."""
    return f"{name.removesuffix('_images')}_images_{kind}"


def _text(text: str | pl.Expr) -> pl.Expr:
    return pl.struct(type=pl.lit("text"), text=pl.col(text) if isinstance(text, str) else text).cast(_PART)


def _message(role: str, parts: list[pl.Expr]) -> pl.Expr:
    return pl.struct(role=pl.lit(role), content=pl.concat_list(parts)).cast(_MESSAGE)


def _prompt() -> pl.Expr:
    """[system?, user]: the user's content is the image placeholder, then the prompt's text (trl's vision format)."""
    user = _message("user", [pl.struct(type=pl.lit("image"), text=pl.lit(None, dtype=pl.String)).cast(_PART),
                             _text("prompt")])
    with_system = pl.concat_list(_message("system", [_text("system_prompt")]), user)
    return pl.when(pl.col("system_prompt").is_not_null()).then(with_system).otherwise(pl.concat_list(user))


def _answer(column: str) -> pl.Expr:
    return pl.concat_list(_message("assistant", [_text(column)]))


def image_dpo_frame(accepted: pl.LazyFrame, metadata: list[str]) -> pl.LazyFrame:
    """images, prompt, chosen, rejected: pairs with a clear winner."""
    pairs = accepted.filter(pl.col("preference") == Preference.CHOSEN_BETTER.value)
    return pairs.select("id", "images", _prompt().alias("prompt"), _answer("chosen").alias("chosen"),
                        _answer("rejected").alias("rejected"), "country", *IMAGE_FACTS, *metadata, "split")


def image_kto_frame(accepted: pl.LazyFrame, metadata: list[str]) -> pl.LazyFrame:
    """images, prompt, completion, label: each caption on its own, desirable as in the text KTO dataset (a single
    caption with its vote has no rejected one)."""
    rows = accepted.filter(pl.col("preference").is_not_null())
    desirable = {"chosen": pl.col("preference").is_in([Preference.CHOSEN_BETTER.value, Preference.BOTH_GOOD.value]),
                 "rejected": pl.col("preference") == Preference.BOTH_GOOD.value}
    return pl.concat([rows.filter(pl.col(side).is_not_null()).select("id", "images", _prompt().alias("prompt"), _answer(side).alias("completion"),
                                  label.alias("label"), "country", *IMAGE_FACTS, *metadata, "split")
                      for side, label in desirable.items()])


@dataclass
class PublishedImages:
    """What the privacy step did to the published images."""
    images: int = 0
    with_gps: int = 0
    with_owner: int = 0
    with_xmp_iptc: int = 0
    rewritten: int = 0
    formats: dict[str, int] = field(default_factory=dict)


def published_images(accepted: pl.DataFrame) -> tuple[pl.Series, PublishedImages]:
    """Each accepted row's image as the Hub's Image struct ({bytes, path}: the file's name, never the local
    folder): read from its file when the input named one (it must not have changed since the run read it),
    the GPS block, owner fields, XMP and IPTC removed where it had private ones."""
    record = PublishedImages(images=accepted.height)
    images = []
    columns = accepted.select("source", "image_bytes", "image_path", "image_sha256", "image_gps", "image_owner",
                              "image_xmp_iptc")
    for source, data, path, sha256, gps, owner, xmp_iptc in columns.iter_rows():
        if data is None:
            data = read_image_file(path)
            if isinstance(data, str) or hashlib.sha256(data).hexdigest() != sha256:
                raise CurationError(f"{source}: the image file {path} changed or went away while the run read it")
        if gps or owner or xmp_iptc:
            data = strip_private_metadata(data)
            record.with_gps, record.with_owner = record.with_gps + gps, record.with_owner + owner
            record.with_xmp_iptc, record.rewritten = record.with_xmp_iptc + xmp_iptc, record.rewritten + 1
        images.append([{"bytes": data, "path": Path(path).name if path else None}])
    formats = accepted.get_column("image_format").value_counts(sort=True)
    record.formats = {name: count for name, count in formats.iter_rows()}
    return pl.Series("images", images, dtype=pl.List(IMAGE)), record


def images_summary(accepted: pl.DataFrame, removed: pl.LazyFrame, record: PublishedImages) -> dict:
    """For the ledger, the report and the card: images read and published, their sizes, formats and
    sources (input files), and how many carried GPS positions, owner fields or private XMP or IPTC (stripped from
    the published)."""
    every = pl.concat([frame.lazy().select("source", "image_gps", "image_owner", "image_xmp_iptc") for frame in (accepted, removed)
                       if "image_gps" in frame.lazy().collect_schema().names()], how="vertical_relaxed").collect()
    sizes = accepted.select(pl.col("image_width", "image_height"))
    return {
        "images_read": every.height, "images_published": record.images,
        "distinct_images_published": accepted.get_column("image_sha256").n_unique(),
        "read_with_gps": int(every.get_column("image_gps").sum()), "read_with_owner": int(every.get_column("image_owner").sum()),
        "read_with_xmp_iptc": int(every.get_column("image_xmp_iptc").sum()),
        "published_gps_removed": record.with_gps, "published_owner_removed": record.with_owner,
        "published_xmp_iptc_removed": record.with_xmp_iptc,
        "published_rewritten": record.rewritten, "formats": record.formats,
        "sources": every.select(pl.col("source").str.replace(r":\d+$", "")).to_series().value_counts(sort=True)
                   .rows(),
        "width": _spread(sizes.get_column("image_width")), "height": _spread(sizes.get_column("image_height")),
    }


def _spread(values: pl.Series) -> dict[str, int | None]:
    return {"min": values.min(), "median": None if values.is_empty() else int(values.median()), "max": values.max()}


def write_image_datasets(accepted: pl.DataFrame, removed: pl.LazyFrame, name: str, folder: Path, formats: list[str],
                         metadata: list[str]) -> tuple[dict[str, dict[str, int]], dict]:
    """<name>_images_dpo and <name>_images_kto in `folder` (an empty one is not written): rows per split of each,
    and the images' summary (images_summary)."""
    images, record = published_images(accepted)
    lazy = accepted.with_columns(images).lazy()
    published = {"dpo": image_dpo_frame(lazy, metadata), "kto": image_kto_frame(lazy, metadata)}
    outputs = {}
    for kind, rows in published.items():
        frame = rows.collect()
        if frame.height:
            outputs[image_dataset_name(name, kind)] = write_image_dataset(frame, folder / image_dataset_name(name, kind), formats)
    return outputs, images_summary(accepted, removed, record)


def write_image_dataset(frame: pl.DataFrame, folder: Path, formats: list[str]) -> dict[str, int]:
    """One dataset, a split per value of `split`, in the layout of curation.writers.write_dataset, with
    `images` as a list of the `datasets` Image feature."""
    import datasets

    datasets.disable_progress_bars()
    splits = {name: datasets.Dataset.from_polars(frame.filter(pl.col("split") == name).drop("split"))
              .cast_column("images", datasets.List(datasets.Image()))
              for name in frame.get_column("split").unique(maintain_order=True).to_list()}
    if "disk" in formats:
        datasets.DatasetDict(splits).save_to_disk(str(folder))
    if "parquet" in formats:
        (folder / DATA_FOLDER).mkdir(parents=True, exist_ok=True)
        for name, split in splits.items():
            split.to_parquet(str(folder / split_file(name)))
        front = yaml.safe_dump(hub_metadata(folder), allow_unicode=True, sort_keys=False)
        (folder / "README.md").write_text(f"---\n{front}---\n\n# {folder.name}\n\n{CARD_HINT}\n", encoding="utf-8")
    shutil.rmtree(folder / ".cache", ignore_errors=True)
    return {name: split.num_rows for name, split in splits.items()}

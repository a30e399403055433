"""Writers: the published datasets in trl's formats (DPO, KTO, prompts), as parquet and save_to_disk.

Dataset folders follow the naming convention: <name>_dpo, <name>_kto, <name>_prompts. Each is laid out as a
Hub dataset repository and a save_to_disk folder at once, so `load_dataset(folder)`, `load_from_disk(folder)`
and an upload of the folder as it is all work:

    <name>_dpo/README.md                          the card: `configs` points at data/, `dataset_info` its splits
    <name>_dpo/data/<split>-00000-of-00001.parquet
    <name>_dpo/dataset_dict.json, <split>/        save_to_disk's arrow files
"""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import yaml

from curation.errors import CurationError
from curation.schema import Preference

# Rows per parquet row group: the writer encodes a whole group at once, so a table of a million texts
# is written without a second copy of it in memory.
ROW_GROUP_ROWS = 20_000
_MESSAGE = pl.Struct({"role": pl.String, "content": pl.String})
DATA_FOLDER = "data"  # the Hub's layout: data/<split>-<shard>-of-<shards>.parquet
CARD_HINT = "`curation report RUN_DIR` writes the full card here."


def _message(role: str, content: str | pl.Expr) -> pl.Expr:
    content = pl.col(content) if isinstance(content, str) else content
    return pl.struct(role=pl.lit(role), content=content).cast(_MESSAGE)


def _prompt_messages() -> pl.Expr:
    """[system?, user] messages: the system message only where the row has a system prompt."""
    user = pl.concat_list(_message("user", "prompt"))
    with_system = pl.concat_list(_message("system", "system_prompt"), _message("user", "prompt"))
    return pl.when(pl.col("system_prompt").is_not_null()).then(with_system).otherwise(user)


def dpo_frame(accepted: pl.LazyFrame, conversational: bool, metadata: list[str]) -> pl.LazyFrame:
    """Pairs with a clear winner; both-good and both-bad are never DPO pairs (they feed KTO)."""
    pairs = accepted.filter(pl.col("preference") == Preference.CHOSEN_BETTER.value)
    if conversational:
        columns = [_prompt_messages().alias("prompt"),
                   pl.concat_list(_message("assistant", "chosen")).alias("chosen"),
                   pl.concat_list(_message("assistant", "rejected")).alias("rejected")]
    else:
        # trl's standard format has no place for it; kept beside so it is not lost.
        columns = [pl.col("prompt"), pl.col("chosen"), pl.col("rejected"), pl.col("system_prompt")]
    return pairs.select("id", *columns, "country", *metadata, "split")


def kto_frame(accepted: pl.LazyFrame, conversational: bool, metadata: list[str]) -> pl.LazyFrame:
    """Unpaired completions: chosen of a clear pair and both of a both-good pair are desirable."""
    rows = accepted.filter(pl.col("preference").is_not_null())
    prompt = _prompt_messages() if conversational else pl.col("prompt")
    desirable = {
        "chosen": pl.col("preference").is_in([Preference.CHOSEN_BETTER.value, Preference.BOTH_GOOD.value]),
        "rejected": pl.col("preference") == Preference.BOTH_GOOD.value,
    }
    sides = [
        rows.select(
            "id", prompt.alias("prompt"),
            (pl.concat_list(_message("assistant", side)) if conversational else pl.col(side)).alias("completion"),
            label.alias("label"), *([] if conversational else ["system_prompt"]), "country", *metadata, "split",
        )
        for side, label in desirable.items()
    ]
    return pl.concat(sides)


def prompts_frame(accepted: pl.LazyFrame, metadata: list[str]) -> pl.LazyFrame:
    return accepted.select("id", "system_prompt", "prompt", "country", *metadata, "split")


def write_published(accepted: pl.DataFrame, name: str, folder: Path, conversational: bool, formats: list[str],
                    metadata: list[str]) -> dict[str, dict[str, int]]:
    """<name>_dpo, <name>_kto and <name>_prompts in `folder` (an empty one is not written): rows per split of each."""
    lazy = accepted.lazy()
    published = {"dpo": dpo_frame(lazy, conversational, metadata), "kto": kto_frame(lazy, conversational, metadata),
                 "prompts": prompts_frame(lazy, metadata)}
    return {f"{name}_{kind}": write_dataset(frame, folder / f"{name}_{kind}", formats)
            for kind, frame in published.items() if frame.select(pl.len()).collect().item()}


def write_table(frame: pl.DataFrame, path: Path) -> None:
    frame.write_parquet(path, row_group_size=ROW_GROUP_ROWS)


def sink_table(rows: pl.LazyFrame, path: Path) -> None:
    """A query's rows to parquet, streamed in row groups: the result is never held whole in memory."""
    rows.sink_parquet(path, row_group_size=ROW_GROUP_ROWS)


def split_file(split: str) -> str:
    """Where a split's parquet file lives in a dataset folder (and in its Hub repository)."""
    return f"{DATA_FOLDER}/{split}-00000-of-00001.parquet"


def write_dataset(frame: pl.DataFrame | pl.LazyFrame, folder: Path, formats: list[str]) -> dict[str, int]:
    """Write one dataset, a split per value of `split`: data/<split>-00000-of-00001.parquet with README.md's
    `configs` (parquet), and dataset_dict.json with a folder per split (disk, save_to_disk).

    Streamed: each split is sunk to parquet in row groups, and the save_to_disk copy is built from
    that parquet, so a large dataset is never held twice (polars, then arrow) in memory.
    """
    import datasets

    datasets.disable_progress_bars()
    lazy = frame.lazy()
    names = lazy.select(pl.col("split").unique(maintain_order=True)).collect().to_series().to_list()
    staging = folder if "parquet" in formats else folder / ".parquet"
    files = {name: staging / split_file(name) for name in names}
    (staging / DATA_FOLDER).mkdir(parents=True)
    for name, file in files.items():
        lazy.filter(pl.col("split") == name).drop("split").sink_parquet(file, row_group_size=ROW_GROUP_ROWS)
    if "disk" in formats:
        cache = folder / ".cache"
        splits = {name: datasets.Dataset.from_parquet(str(file), cache_dir=str(cache)) for name, file in files.items()}
        datasets.DatasetDict(splits).save_to_disk(str(folder))
        del splits
        shutil.rmtree(cache)
    counts = {name: pl.scan_parquet(file).select(pl.len()).collect().item() for name, file in files.items()}
    if "parquet" in formats:
        front = yaml.safe_dump(hub_metadata(folder), allow_unicode=True, sort_keys=False)
        (folder / "README.md").write_text(f"---\n{front}---\n\n# {folder.name}\n\n{CARD_HINT}\n", encoding="utf-8")
    else:
        shutil.rmtree(staging)
    return counts


def hub_metadata(folder: Path) -> dict:
    """A dataset folder's `configs` (its data/ files by split) and `dataset_info` (features and, per split,
    rows and bytes), as the Hub and `datasets` read them from the card."""
    import datasets
    import pyarrow.parquet as pq
    from datasets.info import DatasetInfosDict
    from huggingface_hub import DatasetCardData

    found = {file.name.split("-00000-of-")[0]: file for file in (folder / DATA_FOLDER).glob("*.parquet")}
    files = {split: found[split] for split in sorted(found, key=lambda split: (split != "train", split))}
    if not files:
        raise CurationError(f"{folder} holds no {DATA_FOLDER}/*.parquet (the run's output.formats lacks parquet)")
    metadata = {split: pq.read_metadata(file) for split, file in files.items()}
    # The bytes of a split as `datasets` counts them (uncompressed), from the parquet footer: no data is read.
    splits = datasets.SplitDict()
    for split, footer in metadata.items():
        uncompressed = sum(footer.row_group(group).total_byte_size for group in range(footer.num_row_groups))
        splits.add(datasets.SplitInfo(name=split, num_bytes=uncompressed, num_examples=footer.num_rows))
    info = datasets.DatasetInfo(features=datasets.Features.from_arrow_schema(pq.read_schema(next(iter(files.values())))),
                                splits=splits, download_size=sum(file.stat().st_size for file in files.values()),
                                dataset_size=sum(split.num_bytes for split in splits.values()))
    card = DatasetCardData(configs=[{"config_name": "default", "data_files": [
        {"split": split, "path": f"{DATA_FOLDER}/{split}-*"} for split in files]}])
    DatasetInfosDict({"default": info}).to_dataset_card_data(card)
    return card.to_dict()

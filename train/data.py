"""The preference splits to train on: found in a run folder or a dataset folder, checked, and measured in tokens.

A pair is (prompt, chosen, rejected) in trl's format: conversational (lists of messages) as `curation run`
writes by default, or standard (strings) with `output.dpo_format: standard`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from curation.errors import InputError
from curation.writers import split_file

PAIR_COLUMNS = ("prompt", "chosen", "rejected")
IDS = ("prompt_ids", "chosen_ids", "rejected_ids")
SPLITS = ("train", "test")
TOKENIZE_BATCH = 256


@dataclass
class PreferenceSplits:
    """The train and test pairs, where they came from, and their format."""
    train: pl.DataFrame
    test: pl.DataFrame
    files: dict[str, str]
    dataset_name: str
    run_folder: Path | None
    conversational: bool


# Above this share of cut pairs, a split's training reads mostly openings: the run and the model card say so.
CUT_WARNING_SHARE = 0.25


def cut_warning(split: str, rows: int, truncated: int, max_length: int) -> str | None:
    """A sentence when more than CUT_WARNING_SHARE of a split's pairs were cut at max_length, else None."""
    if not rows or truncated / rows <= CUT_WARNING_SHARE:
        return None
    return (f"{truncated:,} of the {rows:,} {split} pairs ({truncated / rows:.0%}) were cut at {max_length} tokens: the model "
            f"learned from their openings only. Raise max_length (--max-length, or the preset's) if memory allows.")


@dataclass
class LengthReport:
    """How a split fits `max_length`: pairs cut at the end, and pairs whose prompt alone fills it (dropped)."""
    rows: int
    truncated: int
    dropped: int
    tokens: int

    @property
    def kept(self) -> int:
        return self.rows - self.dropped


def load_splits(path: Path) -> PreferenceSplits:
    """A run folder (its <name>_dpo dataset), a dataset folder (data/<split>-*.parquet or save_to_disk's
    files), a folder of train.parquet and test.parquet, or a `save_to_disk` folder."""
    path = Path(path)
    if not path.is_dir():
        raise InputError(str(path), "expected a run folder or a dataset folder with train and test splits")
    # A run folder, or a dataset folder in one (<run>/<name>_dpo): the model card then finds the run's audit.
    run_folder = next((folder for folder in (path, path.parent) if (folder / "ledger.json").is_file()), None)
    dataset = _dpo_dataset(path) if run_folder == path else path
    frames, files = _read_splits(dataset)
    # The train split's prompt sets the format; each split must then follow it.
    conversational = isinstance(frames["train"].schema.get("prompt"), pl.List)
    for split, frame in frames.items():
        _check(frame, files[split], conversational)
    return PreferenceSplits(frames["train"], frames["test"], files, dataset.name, run_folder, conversational)


def _dpo_dataset(run_folder: Path) -> Path:
    found = sorted(folder for folder in run_folder.glob("*_dpo") if folder.is_dir())
    if not found:
        raise InputError(str(run_folder), "the run published no DPO dataset (no <name>_dpo folder): it had no pair "
                                          "with a clear winner")
    return found[0]


def _read_splits(dataset: Path) -> tuple[dict[str, pl.DataFrame], dict[str, str]]:
    published = {split: dataset / split_file(split) for split in SPLITS}
    if not all(file.is_file() for file in published.values()):
        published = {split: dataset / f"{split}.parquet" for split in SPLITS}
    if all(file.is_file() for file in published.values()):
        files = {split: str(file) for split, file in published.items()}
        return {split: pl.read_parquet(file) for split, file in files.items()}, files
    if (dataset / "dataset_dict.json").is_file():
        import datasets

        saved = datasets.load_from_disk(str(dataset))
        missing = [split for split in SPLITS if split not in saved]
        if missing:
            raise InputError(str(dataset), f"no {' and no '.join(missing)} split (it has {sorted(saved)}): training "
                                           "needs train, evaluation needs test (curate with split.test_fraction > 0)")
        return {split: saved[split].to_polars() for split in SPLITS}, {split: f"{dataset}[{split}]" for split in SPLITS}
    if any(file.is_file() for file in (dataset / split_file("train"), dataset / "train.parquet")):
        raise InputError(str(dataset), "a train split but no test split: evaluation needs one (curate with "
                                       "split.test_fraction > 0)")
    raise InputError(str(dataset), "neither a run folder (no ledger.json) nor a DPO dataset folder (no "
                                   "data/train-*.parquet, train.parquet or dataset_dict.json): give a `curation run` "
                                   "folder or its <name>_dpo folder")


def _check(frame: pl.DataFrame, file: str, conversational: bool) -> None:
    """Pair columns, non-empty, one format throughout, and no pair with an empty side."""
    missing = [column for column in PAIR_COLUMNS if column not in frame.columns]
    if missing:
        raise InputError(file, f"not a DPO dataset: no {missing} column (it has {frame.columns})")
    if frame.height == 0:
        raise InputError(file, "the split is empty: there is nothing to train on or to evaluate")
    expected = "lists of messages (conversational)" if conversational else "strings (standard)"
    for column in PAIR_COLUMNS:
        if isinstance(frame.schema[column], pl.List) != conversational:
            raise InputError(file, f"expected {expected}, like the train split's prompt, found {frame.schema[column]}",
                             column=column)
        if conversational:  # no messages, or a message with no text
            blank = pl.col(column).list.len() == 0
            blank |= pl.col(column).list.eval(pl.element().struct.field("content").fill_null("").str.strip_chars() == "").list.any()
        else:
            blank = pl.col(column).str.strip_chars() == ""
        empty = frame.select(pl.col(column).is_null() | blank).to_series()
        if empty.any():
            raise InputError(file, "empty value: every pair needs a prompt, a chosen and a rejected answer",
                             row=int(empty.arg_true()[0]) + 1, column=column)


def as_dataset(frame: pl.DataFrame):
    """The pairs as an in-memory `datasets.Dataset`: trl's tokenised copies stay out of the data folders."""
    import datasets

    return datasets.Dataset.from_polars(frame.select(PAIR_COLUMNS))


def pair_token_ids(frame: pl.DataFrame, tokenizer, conversational: bool) -> pl.DataFrame:
    """prompt_ids, chosen_ids and rejected_ids per pair, as trl's DPOTrainer tokenises them."""
    parts = [pl.DataFrame(_tokenize(batch, tokenizer, conversational), schema={name: pl.List(pl.Int32) for name in IDS})
             for batch in _batches(frame)]
    return pl.concat(parts)


def token_lengths(frame: pl.DataFrame, tokenizer, conversational: bool) -> pl.DataFrame:
    """Tokens of the prompt, prompt + chosen and prompt + rejected per pair (batch by batch: the ids of a
    large split are never all held)."""
    parts = []
    for batch in _batches(frame):
        ids = _tokenize(batch, tokenizer, conversational)
        prompt = [len(prompt_ids) for prompt_ids in ids["prompt_ids"]]
        parts.append(pl.DataFrame({
            "prompt": prompt,
            "prompt_chosen": [length + len(chosen) for length, chosen in zip(prompt, ids["chosen_ids"], strict=True)],
            "prompt_rejected": [length + len(rejected) for length, rejected in zip(prompt, ids["rejected_ids"], strict=True)],
        }, schema={"prompt": pl.Int64, "prompt_chosen": pl.Int64, "prompt_rejected": pl.Int64}))
    return pl.concat(parts)


def _batches(frame: pl.DataFrame):
    for start in range(0, frame.height, TOKENIZE_BATCH):
        yield frame.slice(start, TOKENIZE_BATCH).select(PAIR_COLUMNS).to_dicts()


def _tokenize(rows: list[dict], tokenizer, conversational: bool) -> dict[str, list[list[int]]]:
    """trl's tokenisation: the prompt alone (with the generation prompt), then prompt + each answer; the answer
    starts where those diverge. Plain text gets the EOS token appended to each answer."""
    from trl.data_utils import common_prefix_length

    if not conversational:
        eos = tokenizer.eos_token or ""
        rows = [row | {side: row[side] if row[side].endswith(eos) else row[side] + eos for side in ("chosen", "rejected")}
                for row in rows]
    prompt = _encode(tokenizer, [row["prompt"] for row in rows], conversational, generation_prompt=True)
    with_chosen = _encode(tokenizer, [row["prompt"] + row["chosen"] for row in rows], conversational)
    with_rejected = _encode(tokenizer, [row["prompt"] + row["rejected"] for row in rows], conversational)
    ids: dict[str, list[list[int]]] = {name: [] for name in IDS}
    for prompt_ids, chosen, rejected in zip(prompt, with_chosen, with_rejected, strict=True):
        cut = min(common_prefix_length(prompt_ids, chosen), common_prefix_length(prompt_ids, rejected))
        ids["prompt_ids"].append(prompt_ids[:cut])
        ids["chosen_ids"].append(chosen[cut:])
        ids["rejected_ids"].append(rejected[cut:])
    return ids


def _encode(tokenizer, inputs: list, conversational: bool, generation_prompt: bool = False) -> list[list[int]]:
    if conversational:
        return tokenizer.apply_chat_template(inputs, tokenize=True, return_dict=True,
                                             add_generation_prompt=generation_prompt)["input_ids"]
    return tokenizer(inputs)["input_ids"]


def fit_to_max_length(frame: pl.DataFrame, lengths: pl.DataFrame, max_length: int) -> tuple[pl.DataFrame, LengthReport]:
    """Drop the pairs whose prompt alone fills `max_length` (no answer token would be left to learn from, and
    trl would drop them silently); count the kept pairs that trl's collator will cut at the end."""
    longest = pl.max_horizontal("prompt_chosen", "prompt_rejected")
    dropped = pl.col("prompt") >= max_length
    flags = lengths.select(dropped=dropped, truncated=(longest > max_length) & ~dropped,
                           tokens=pl.col("prompt_chosen").clip(upper_bound=max_length)
                           + pl.col("prompt_rejected").clip(upper_bound=max_length))
    kept = frame.filter(~flags.get_column("dropped"))
    report = LengthReport(rows=frame.height, truncated=int(flags.get_column("truncated").sum()),
                          dropped=int(flags.get_column("dropped").sum()),
                          tokens=int(flags.filter(~pl.col("dropped")).get_column("tokens").sum()))
    return kept, report

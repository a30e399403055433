"""Load a file, a saved `datasets` folder or a Hub dataset into a raw polars frame, strictly.

Every row gets a `source` label (`file:row`, row = 1-based record number). Any problem raises
InputError naming the file, the row and the column.
"""

from __future__ import annotations

import csv
from collections import Counter
import io
import re
from pathlib import Path

import orjson
import polars as pl

from curation.errors import InputError

SOURCE = "source"
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
CSV_SUFFIXES, JSONL_SUFFIXES = {".csv", ".tsv"}, {".jsonl", ".ndjson", ".json"}


def load_raw(path: str, split: str | None = None) -> pl.DataFrame:
    location = Path(path)
    if location.is_dir():
        frame = _load_saved_dataset(location)
    elif location.is_file():
        suffix = location.suffix.lower()
        if suffix in CSV_SUFFIXES:
            frame = _load_csv(location)
        elif suffix in JSONL_SUFFIXES:
            frame = _load_jsonl(location)
        elif suffix == ".parquet":
            frame = _load_parquet(location)
        else:
            raise InputError(path, f"unknown file type {suffix!r}: use .csv, .tsv, .jsonl, .parquet or a folder")
    elif HUB_ID.match(path) and location.suffix.lower() not in {*CSV_SUFFIXES, *JSONL_SUFFIXES, ".parquet"}:
        frame = _load_hub(path, split)
    else:
        raise InputError(path, "no such file or folder (and not a Hub dataset id like 'owner/name')")
    if frame.height == 0:
        raise InputError(path, "the data has no rows")
    return frame


def _with_sources(frame: pl.DataFrame, label: str) -> pl.DataFrame:
    # The engine writes `id` and `source`; an input's own columns of those names are kept as input_*.
    frame = frame.rename({name: f"input_{name}" for name in ("id", "source") if name in frame.columns})
    rows = pl.int_range(1, pl.len() + 1, dtype=pl.Int64).cast(pl.String)
    return frame.with_columns((pl.lit(f"{label}:") + rows).alias(SOURCE))


UTF8_BOM = b"\xef\xbb\xbf"


def _decode_utf8(file: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise InputError(file, f"not UTF-8: byte 0x{data[error.start]:02x} at line {line}; re-save the file as UTF-8") from None


def _load_csv(file: Path) -> pl.DataFrame:
    data = file.read_bytes().removeprefix(UTF8_BOM)
    if not data.strip():
        raise InputError(file, "the file is empty")
    text = _decode_utf8(file, data)
    delimiter = "\t" if file.suffix.lower() == ".tsv" else ","
    records = _check_csv_shape(file, text, delimiter)
    try:
        frame = pl.read_csv(io.BytesIO(data), separator=delimiter, infer_schema=False, encoding="utf8")
    except pl.exceptions.PolarsError as error:
        raise InputError(file, f"malformed CSV: {str(error).splitlines()[0]}") from None
    frame = frame.filter(~pl.all_horizontal(pl.all().is_null()))  # blank lines, which the check skipped too
    if frame.height != records:
        raise InputError(file, f"malformed CSV: {records} records by the csv module, {frame.height} by polars")
    return _with_sources(frame, file.name)


def _check_csv_shape(file: Path, text: str, delimiter: str) -> int:
    """Every record has as many fields as the header; quotes are closed. Returns the record count.

    A strict pass with the csv module because polars silently pads short rows with nulls.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader)
        if len(set(header)) != len(header):
            raise InputError(file, "the header repeats a column name", row=0)
        records = 0
        for fields in reader:
            if not fields:  # a blank line, which polars skips too
                continue
            records += 1
            if len(fields) != len(header):
                column = header[len(fields)] if len(fields) < len(header) else None
                raise InputError(
                    file,
                    f"malformed CSV: {len(fields)} fields where the header has {len(header)} (line {reader.line_num})",
                    row=records,
                    column=column,
                )
    except csv.Error as error:
        raise InputError(file, f"malformed CSV near line {reader.line_num}: {error}", row=reader.line_num) from None
    return records


def _value_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "text"
    return "list" if isinstance(value, list) else "object"


def _load_jsonl(file: Path) -> pl.DataFrame:
    data = file.read_bytes().removeprefix(UTF8_BOM)
    if not data.strip():
        raise InputError(file, "the file is empty")
    _decode_utf8(file, data)
    if data.lstrip().startswith(b"["):  # a .json file holding an array of records
        try:
            records = orjson.loads(data)
        except orjson.JSONDecodeError as error:
            raise InputError(file, f"broken JSON: {error}") from None
        return _records_frame(file, records)
    records = []
    for line_number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            raise InputError(file, f"broken JSON on line {line_number}: {error}", row=len(records) + 1) from None
        if not isinstance(record, dict):
            raise InputError(file, f"line {line_number} is not a JSON object", row=len(records) + 1)
        records.append(record)
    return _records_frame(file, records)


def _records_frame(file: Path, records: list) -> pl.DataFrame:
    """A frame from parsed JSON records; nested objects (not message lists) are kept as JSON text."""
    for row, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise InputError(file, "expected a JSON object per record", row=row)
    columns = list(dict.fromkeys(key for record in records for key in record))
    for record in records:
        for key, value in record.items():
            if isinstance(value, dict):
                record[key] = orjson.dumps(value).decode()
    for column in columns:
        _check_one_kind(file, column, [record.get(column) for record in records])
    try:
        frame = pl.DataFrame(records, schema=columns, infer_schema_length=None)
    except (pl.exceptions.PolarsError, TypeError, ValueError) as error:
        raise InputError(file, f"cannot build a table from the records: {error}") from None
    return _with_sources(frame, file.name)


def _check_one_kind(file: Path, column: str, values: list) -> None:
    """A column holds one kind of value (text, number, list...), nulls aside."""
    kinds = [_value_kind(value) for value in values]
    present = [kind for kind in kinds if kind != "null"]
    if not present:
        return
    expected = Counter(present).most_common(1)[0][0]  # ties go to the kind seen first
    for row, kind in enumerate(kinds, start=1):
        if kind not in (expected, "null"):
            raise InputError(file, f"expected {expected} like the other rows, found {kind}", row=row, column=column)


def _load_parquet(file: Path) -> pl.DataFrame:
    try:
        frame = pl.read_parquet(file)
    except (pl.exceptions.PolarsError, OSError) as error:
        raise InputError(file, f"not a readable parquet file: {str(error).splitlines()[0]}") from None
    return _with_sources(frame, file.name)


def _dataset_frames(dataset, label: str) -> pl.DataFrame:
    """A `datasets` Dataset or DatasetDict as one frame, each split labelled in `source`."""
    import datasets

    if isinstance(dataset, datasets.DatasetDict):
        return pl.concat(
            [_with_sources(pl.from_arrow(part.flatten_indices().data.table), f"{label}[{name}]") for name, part in dataset.items()],
            how="diagonal_relaxed",
        )
    return _with_sources(pl.from_arrow(dataset.flatten_indices().data.table), label)


def _load_saved_dataset(folder: Path) -> pl.DataFrame:
    import datasets

    try:
        dataset = datasets.load_from_disk(str(folder))
    except (FileNotFoundError, ValueError, OSError) as error:
        raise InputError(folder, f"not a folder written by datasets.save_to_disk: {error}") from None
    return _dataset_frames(dataset, folder.name)


def _load_hub(dataset_id: str, split: str | None) -> pl.DataFrame:
    import datasets

    try:
        dataset = datasets.load_dataset(dataset_id, split=split)
    except Exception as error:  # the Hub client raises many kinds; all mean "could not load"
        raise InputError(dataset_id, f"could not load it from the Hugging Face Hub ({type(error).__name__}: {error})") from None
    return _dataset_frames(dataset, dataset_id)

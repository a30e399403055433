"""Load a file, a saved `datasets` folder or a Hub dataset into a raw polars frame, strictly.

Every row gets a `source` label (`file:row`, row = 1-based record number). Any problem raises
InputError naming the file, the row and the column.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import orjson
import polars as pl

from curation.errors import InputError
from curation.readers.common import first_bad

SOURCE = "source"
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
CSV_SUFFIXES, JSONL_SUFFIXES = {".csv", ".tsv"}, {".jsonl", ".ndjson", ".json"}

# Limits far above real preference data, so that a broken or hostile file is refused in a second
# instead of costing minutes and gigabytes (a 200,000-column header once ran for 15 minutes).
MAX_COLUMNS = 1_000
MAX_FIELD_BYTES = 1_048_576  # one value: 1 MiB of UTF-8, about 250,000 words
MAX_HEADER_BYTES = 65_536  # a CSV header's first line: 1,000 names of 64 bytes


def load_raw(path: str, split: str | None = None) -> pl.DataFrame:
    try:
        frame = _load(Path(path), path, split)
    except OSError as error:  # permission denied, a folder that cannot be searched, a file deleted meanwhile
        raise InputError(path, f"cannot read it: {error.strerror or error}") from None
    if frame.height == 0:
        raise InputError(path, "the data has no rows")
    _check_field_sizes(frame)
    return frame


def _load(location: Path, path: str, split: str | None) -> pl.DataFrame:
    if location.is_dir():
        if shards := hub_parquet_files(location, split):
            return pl.concat([_load_parquet(shard) for shard in shards], how="diagonal_relaxed")
        return _load_saved_dataset(location)
    if location.is_file():
        suffix = location.suffix.lower()
        if suffix in CSV_SUFFIXES:
            return _load_csv(location)
        if suffix in JSONL_SUFFIXES:
            return _load_jsonl(location)
        if suffix == ".parquet":
            return _load_parquet(location)
        raise InputError(path, f"unknown file type {suffix!r}: use .csv, .tsv, .jsonl, .parquet or a folder")
    if location.is_symlink():
        raise InputError(path, f"a broken symbolic link: its target {os.readlink(location)} does not exist")
    if location.exists():  # never opened: reading a FIFO would wait for a writer forever
        raise InputError(path, "not a regular file or folder (a FIFO, socket or device); save the data to a file")
    if HUB_ID.match(path) and location.suffix.lower() not in {*CSV_SUFFIXES, *JSONL_SUFFIXES, ".parquet"}:
        return _load_hub(path, split)
    raise InputError(path, "no such file or folder (and not a Hub dataset id like 'owner/name')")


def _check_width(file: Path | str, columns: int, *, row: int | None = None, what: str = "columns") -> None:
    if columns > MAX_COLUMNS:
        raise InputError(file, f"{columns:,} {what}, more than the limit of {MAX_COLUMNS:,} columns", row=row)


def _check_field_sizes(frame: pl.DataFrame) -> None:
    """No text value is over MAX_FIELD_BYTES (list and struct values are not measured)."""
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    longest = frame.select(pl.col(text).str.len_bytes().max()).row(0)
    for column, size in zip(text, longest):
        if size is not None and size > MAX_FIELD_BYTES:
            file, row = first_bad(frame, pl.col(column).str.len_bytes() > MAX_FIELD_BYTES)
            raise InputError(file, f"a value longer than the limit of {MAX_FIELD_BYTES:,} bytes (1 MiB)",
                             row=row, column=column)


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
    if data.find(b"\n", 0, MAX_HEADER_BYTES + 1) == -1 and len(data) > MAX_HEADER_BYTES:
        raise InputError(file, f"the header line is longer than the limit of {MAX_HEADER_BYTES:,} bytes")
    text = _decode_utf8(file, data)
    delimiter = "\t" if file.suffix.lower() == ".tsv" else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    with _csv_fields_unlimited():
        header = _csv_header(file, reader)
        records, blank_lines = _check_csv_records(file, reader, header)
    try:
        frame = pl.read_csv(io.BytesIO(data), separator=delimiter, infer_schema=False, encoding="utf8", new_columns=header)
    except pl.exceptions.PolarsError as error:
        raise InputError(file, f"malformed CSV: {str(error).splitlines()[0]}") from None
    if blank_lines:  # polars reads a blank line as a row of nulls; a record of empty fields stays a row
        frame = frame.filter(~pl.int_range(pl.len()).is_in(blank_lines))
    if frame.height != records:
        raise InputError(file, f"malformed CSV: {records} records by the csv module, {frame.height} by polars")
    return _with_sources(frame, file.name)


@contextmanager
def _csv_fields_unlimited():
    """Lift the csv module's 128 KiB field limit: MAX_FIELD_BYTES is checked on the frame, with row and column."""
    previous = csv.field_size_limit(2**31 - 1)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


# BOMs and spaces around a header name: a BOM is kept before any name of a file that was pasted together.
NAME_EDGES = re.compile(r"^[\s\ufeff]+|[\s\ufeff]+$")


def _csv_header(file: Path, reader) -> list[str]:
    """The header's names, parsed as CSV fields (quotes un-doubled) and cleaned; at most MAX_COLUMNS, none twice."""
    try:
        header = [NAME_EDGES.sub("", name) for name in next(reader)]
    except csv.Error as error:
        raise InputError(file, f"malformed CSV header: {error}") from None
    _check_width(file, len(header))
    repeated = next((name for name, count in Counter(header).items() if count > 1), None)
    if repeated is not None:
        raise InputError(file, "the header repeats a column name", column=repeated)
    return header


def _check_csv_records(file: Path, reader, header: list[str]) -> tuple[int, list[int]]:
    """Every record has as many fields as the header; quotes are closed.

    A strict pass with the csv module because polars silently pads short rows with nulls. Returns the
    record count and the blank lines' positions among polars' rows. Rows are counted in records, not
    lines: a quoted field may span lines.
    """
    records, blank_lines = 0, []
    first_line = reader.line_num + 1  # of the record being read
    try:
        for fields in reader:
            if not fields:
                blank_lines.append(records + len(blank_lines))
            else:
                records += 1
                if len(fields) != len(header):
                    missing = header[len(fields)] if len(fields) < len(header) else None
                    raise InputError(file, f"malformed CSV: {len(fields)} fields where the header has {len(header)}",
                                     row=records, line=first_line, column=missing)
            first_line = reader.line_num + 1
    except csv.Error as error:
        raise InputError(file, f"malformed CSV: {error}", row=records + 1, line=first_line) from None
    return records, blank_lines


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
        _check_width(file, len(record), row=row, what="keys")
    columns = list(dict.fromkeys(key for record in records for key in record))
    _check_width(file, len(columns), what="different keys")
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
        _check_width(file, len(pl.read_parquet_schema(file)))  # from the footer, before reading any column
        frame = pl.read_parquet(file)
    except (pl.exceptions.PolarsError, OSError) as error:
        raise InputError(file, f"not a readable parquet file: {str(error).splitlines()[0]}") from None
    return _with_sources(frame, file.name)


def _dataset_frames(dataset, label: str) -> pl.DataFrame:
    """A `datasets` Dataset or DatasetDict as one frame, each split labelled in `source`."""
    import datasets

    if isinstance(dataset, datasets.DatasetDict):
        return pl.concat([_split_frame(part, f"{label}[{name}]") for name, part in dataset.items()], how="diagonal_relaxed")
    return _split_frame(dataset, label)


def _split_frame(split, label: str) -> pl.DataFrame:
    _check_width(label, len(split.column_names))
    return _with_sources(pl.from_arrow(split.flatten_indices().data.table), label)


# What `datasets.save_to_disk` leaves in a folder: such a folder is one saved dataset.
SAVED_DATASET_FILES = ("dataset_dict.json", "dataset_info.json", "state.json")


def hub_parquet_files(folder: Path, split: str | None = None) -> list[Path]:
    """A Hub dataset repository's parquet files, as `huggingface-cli download --repo-type dataset` leaves them
    (`data/<split>-00000-of-00002.parquet`... or `data/<split>.parquet`), in name order, of one split if given;
    none for a saved dataset or a folder without them. Each is read as a file of its own: a row's source label
    names its shard."""
    if any((folder / name).is_file() for name in SAVED_DATASET_FILES) or not (folder / "data").is_dir():
        return []
    files = sorted(file for file in (folder / "data").glob("*.parquet") if file.is_file())
    splits = {file: file.name.removesuffix(".parquet").split("-")[0] for file in files}
    chosen = [file for file in files if split is None or splits[file] == split]
    if files and not chosen:
        raise InputError(folder, f"no parquet file of split {split!r} in data/ (splits there: {sorted(set(splits.values()))})")
    # A shard with no rows holds nothing to read (a file of its own would be refused as empty by either engine).
    with_rows = [file for file in chosen if _parquet_rows(file)]
    if chosen and not with_rows:
        raise InputError(folder, f"the data has no rows (every parquet file of {split or 'the dataset'!r} in data/ is empty)")
    return with_rows


def _parquet_rows(file: Path) -> int:
    try:
        return pl.scan_parquet(file).select(pl.len()).collect().item()  # from the footer
    except (pl.exceptions.PolarsError, OSError) as error:
        raise InputError(file, f"not a readable parquet file: {str(error).splitlines()[0]}") from None


def _load_saved_dataset(folder: Path) -> pl.DataFrame:
    import datasets

    try:
        dataset = datasets.load_from_disk(str(folder))
    except Exception as error:  # a folder with broken metadata raises KeyError, IndexError, TypeError...
        raise InputError(folder, f"not a folder written by datasets.save_to_disk: {error}") from None
    return _dataset_frames(dataset, folder.name)


def _load_hub(dataset_id: str, split: str | None) -> pl.DataFrame:
    import datasets

    try:
        dataset = datasets.load_dataset(dataset_id, split=split)
    except Exception as error:  # the Hub client raises many kinds; all mean "could not load"
        raise InputError(dataset_id, f"could not load it from the Hugging Face Hub ({type(error).__name__}: {error})") from None
    return _dataset_frames(dataset, dataset_id)

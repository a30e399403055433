"""Errors a user can act on: each names the file, and where it can, the row and the column."""

from __future__ import annotations


class CurationError(Exception):
    """Base of the errors the CLI turns into a clear message and exit code 2."""


class InputError(CurationError):
    """Bad input data: names the file, the row (1-based record number) and the column.

    `line` is the row's first line in a text file, where a quoted field spanning lines makes them differ.
    """

    def __init__(self, file: str, message: str, *, row: int | None = None, column: str | None = None,
                 line: int | None = None):
        self.file, self.row, self.column, self.detail = str(file), row, column, message
        self.line = line
        where = [f"file {self.file}"]
        if row is not None:
            where.append(f"row {row}" if line is None else f"row {row} (line {line})")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(f"{', '.join(where)}: {message}")


class ConfigError(CurationError):
    """An invalid configuration file."""

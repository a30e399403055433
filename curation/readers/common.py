"""Checks and mappings every input shape shares: text columns, countries, preferences."""

from __future__ import annotations

import polars as pl

from curation.countries import to_iso
from curation.errors import InputError
from curation.schema import Preference
from curation.text import fold_key


def source_file(frame: pl.DataFrame) -> str:
    """The file part of the first row's source label, for error messages."""
    return frame.get_column("source")[0].rsplit(":", 1)[0]


def first_bad(frame: pl.DataFrame, bad: pl.Expr) -> tuple[str, int]:
    """File (with its split, for saved datasets) and 1-based row of the first row where `bad` holds."""
    file, row = frame.filter(bad).get_column("source")[0].rsplit(":", 1)
    return file, int(row)


def require_columns(frame: pl.DataFrame, columns: list[str], shape: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise InputError(
            source_file(frame),
            f"the {shape} shape needs columns {columns}; missing {missing} (found {frame.columns}). "
            "Map your names with `input.columns` in the config.",
            column=missing[0],
        )


def require_text(frame: pl.DataFrame, *columns: str) -> None:
    """The columns hold text (or nothing): a number or a list there is a wrong type."""
    for column in columns:
        dtype = frame.schema[column]
        if dtype not in (pl.String, pl.Null):
            file, row = first_bad(frame, pl.col(column).is_not_null())
            raise InputError(file, f"expected text, found {dtype}", row=row, column=column)


def iso_countries(frame: pl.DataFrame, column: str) -> pl.Expr:
    """The column's country names as ISO codes; an unknown name is an error with its row."""
    require_text(frame, column)
    names = frame.get_column(column).unique().drop_nulls().to_list()
    codes: dict[str, str | None] = {}
    for name in names:
        try:
            codes[name] = to_iso(name)
        except KeyError:
            file, row = first_bad(frame, pl.col(column) == name)
            raise InputError(
                file, f"unknown country {name!r}; add its name to curation/data/countries.yaml or use an ISO 3166 code",
                row=row, column=column,
            ) from None
    return pl.col(column).replace_strict(codes, default=None, return_dtype=pl.String)


# Vote labels seen in arena exports, trl/LMSYS-style data and the hackathon's Spanish interface.
_VOTES: dict[str, str] = {
    **dict.fromkeys(["chosenbetter", "chosen", "a", "modela", "abetter", "amejor", "amelhor"], "a"),
    **dict.fromkeys(["b", "modelb", "bbetter", "bmejor", "bmelhor"], "b"),
    **dict.fromkeys(["bothgood", "tie", "ambasbuenas", "ambosbuenos", "ambasboas", "ambduesbones"], Preference.BOTH_GOOD.value),
    **dict.fromkeys(["bothbad", "tiebothbad", "ambasmalas", "ambosmalos", "ambasruins", "ambduesdolentes"], Preference.BOTH_BAD.value),
}


VOTE_EXAMPLES = {"a": "a / chosen-better", "b": "b", Preference.BOTH_GOOD.value: "tie / both-good",
                 Preference.BOTH_BAD.value: "tie (bothbad) / both-bad"}


def vote_labels(frame: pl.DataFrame, column: str, allowed: set[str], missing: str | None = None) -> pl.Expr:
    """Vote labels folded to 'a', 'b', both-good or both-bad; anything else is an error with its row.

    `missing` is the label an empty value stands for; without it an empty vote is an error.
    """
    require_text(frame, column)
    text = pl.when(pl.col(column).str.strip_chars() != "").then(pl.col(column))
    labels = text.fill_null(missing) if missing else text
    mapping: dict[str, str] = {}
    for label in frame.select(labels).to_series().unique().to_list():
        vote = _VOTES.get(fold_key(label)) if label is not None else None
        if vote not in allowed:
            bad = pl.col(column).is_null() if label is None else pl.col(column) == label
            file, row = first_bad(frame, bad)
            expected = ", ".join(sorted(VOTE_EXAMPLES[value] for value in allowed))
            raise InputError(file, f"unknown vote {label!r}; expected {expected}", row=row, column=column)
        mapping[label] = vote
    return labels.replace_strict(mapping, return_dtype=pl.String)


def preference_or_default(frame: pl.DataFrame) -> pl.Expr:
    """The optional `preference` column as chosen-better, both-good or both-bad (empty: chosen-better)."""
    if "preference" not in frame.columns:
        return pl.lit(Preference.CHOSEN_BETTER.value)
    votes = vote_labels(frame, "preference", {"a", Preference.BOTH_GOOD.value, Preference.BOTH_BAD.value}, missing="a")
    return votes.replace("a", Preference.CHOSEN_BETTER.value)

"""The calls to make: one per distinct (system prompt, prompt) of the run's accepted rows, with the case
the classifier reads (the assigned country or countries, the role, the prompt), and which row asks which."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from curation.countries import local_name
from curation.errors import InputError

COLUMNS = ("id", "system_prompt", "prompt", "country")
NO_ROLE = "(ninguno)"


def _country_name(code: str) -> str:
    """'Chile (CL)'; a code that names no country (unknown) as it is."""
    try:
        return f"{local_name(code)} ({code})"
    except AttributeError:  # pycountry knows no such code
        return code


def check_rows(accepted: pl.DataFrame, file: Path) -> None:
    """InputError naming the file, and the row and column, unless every row has an id and a prompt."""
    missing = [name for name in COLUMNS if name not in accepted.columns]
    if missing:
        raise InputError(file, f"missing column(s) {missing}: a run's accepted rows are needed", column=missing[0])
    for column in ("id", "prompt"):
        blank = accepted.select(pl.col(column).fill_null("").str.strip_chars().eq("").arg_true().first()).item()
        if blank is not None:
            raise InputError(file, f"empty {column}: nothing to classify", row=blank + 1, column=column)


def classification_requests(accepted: pl.DataFrame, file: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(requests: request_id and case, one per distinct system prompt and prompt, in order of first
    appearance; links: each row's id and its request_id)."""
    check_rows(accepted, file)
    rows = accepted.select("id", "prompt", "country", system=pl.col("system_prompt").fill_null("").str.strip_chars())
    groups = (rows.group_by("system", "prompt", maintain_order=True)
              .agg(pl.col("country").drop_nulls().unique().sort())
              .with_row_index("request_id"))
    names = {code: _country_name(code) for code in groups.get_column("country").explode().drop_nulls().unique()}
    # A prompt asked under several countries is classified once: every country is named in its case.
    countries = pl.col("country").list.eval(pl.element().replace_strict(names, return_dtype=pl.String)).list.join(", ")
    role = pl.when(pl.col("system") == "").then(pl.lit(NO_ROLE)).otherwise("system")
    requests = groups.select(
        "request_id",
        case=pl.concat_str(pl.lit("País asignado: "), pl.when(countries == "").then(pl.lit("sin país")).otherwise(countries),
                           pl.lit("\nRol (system prompt): "), role, pl.lit("\nPrompt:\n"), "prompt"))
    links = rows.join(groups.select("system", "prompt", "request_id"), on=["system", "prompt"], maintain_order="left")
    return requests, links.select("id", "request_id")

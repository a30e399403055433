"""The gate's results (validation.json, great-expectations' own JSON) in words a data steward acts on: for a
failed expectation, which countries, cells or rows break it and how many rows would mend it.

An expectation on a table made from the accepted rows (rows per country, per country x dimension cell...) is
checked again here, with polars, on the same table rebuilt from accepted.parquet: GX reports the offending
values but not whose they are. Any other expectation is told from GX's counts and offending values.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from curation.reports.bias_audit import country_name
from curation.rules.expectations import country_counts, country_dimension_counts, country_shares

DERIVED = {"country_counts": country_counts, "country_shares": country_shares, "country_dimension_counts": country_dimension_counts}
UNITS = {"country_counts": "countries", "country_shares": "countries", "country_dimension_counts": "country × dimension cells",
         "accepted": "accepted rows", "dpo_pairs": "DPO pairs", "dataset_names": "dataset names"}
SHOWN_ROWS = 20


@dataclass
class GateFailure:
    checks: str  # what the expectation checks, in the pack's words
    sentence: str  # what fails and how much
    where: pl.DataFrame  # the countries, cells or rows that fail it


def what_it_checks(result: dict) -> str:
    """The pack's description, else the expectation and its arguments as text."""
    if result.get("description"):
        return result["description"]
    arguments = ", ".join(f"{name}: {value}" for name, value in result["kwargs"].items())
    return f"{result['expectation']} ({arguments})" if arguments else result["expectation"]


def _named(frame: pl.DataFrame) -> pl.DataFrame:
    """The country's local name beside its code."""
    if "country" not in frame.columns:
        return frame
    names = {code: country_name(code) for code in frame.get_column("country").unique().to_list()}
    position = frame.columns.index("country") + 1
    return frame.insert_column(position, frame.get_column("country").replace_strict(names).alias("name"))


def _bound_failure(result: dict, table: pl.DataFrame) -> GateFailure:
    """A value-between expectation on a derived table: the entries outside the bounds, and for a minimum of
    rows, the rows each needs to reach it."""
    kwargs = result["kwargs"]
    column, low, high = kwargs["column"], kwargs.get("min_value"), kwargs.get("max_value")
    value = pl.col(column)
    below = (value <= low if kwargs.get("strict_min") else value < low) if low is not None else pl.lit(False)
    above = (value >= high if kwargs.get("strict_max") else value > high) if high is not None else pl.lit(False)
    keys = [name for name, dtype in table.schema.items() if dtype == pl.String]
    extra = {**({"minimum": pl.lit(low)} if low is not None else {}), **({"maximum": pl.lit(high)} if high is not None else {})}
    if low is not None and column == "rows":
        extra["rows_needed"] = (low - value).clip(lower_bound=0)
    failing = _named(table.filter(below | above).select(*keys, column, **extra))
    unit = UNITS.get(result["table"], "entries")
    bounds = [f"below {low} {column}" if column == "rows" else f"{column} below {low}"] if low is not None else []
    bounds += [f"{column} above {high}"] if high is not None else []
    sentence = f"{failing.height} of {table.height} {unit} {' or '.join(bounds)}"
    if "rows_needed" in failing.columns:
        sentence += f"; {failing.get_column('rows_needed').sum():,} rows needed"
    return GateFailure(what_it_checks(result), sentence + ".", failing)


def _counted_failure(result: dict, accepted: pl.DataFrame) -> GateFailure:
    """Any other expectation, from GX's counts; on the accepted rows, the rows holding the offending values."""
    observed = result["result"]
    unit = UNITS.get(result["table"], "rows")
    if "unexpected_count" not in observed:
        return GateFailure(what_it_checks(result), f"Observed: {observed.get('observed_value', 'nothing')}.", pl.DataFrame())
    values = [item["value"] for item in observed.get("partial_unexpected_counts", [])]
    counts = ", ".join(f"{item['value']} ({item['count']})" for item in observed.get("partial_unexpected_counts", []))
    sentence = (f"{observed['unexpected_count']:,} of {observed['element_count']:,} {unit} "
                f"({observed['unexpected_percent']:.2f}%) break it" + (f": {counts}." if counts else "."))
    column = result["kwargs"].get("column")
    if result["table"] == "accepted" and column in accepted.columns:
        holding = pl.col(column).is_null() if values == [None] else pl.col(column).is_in(values)
        where = _named(accepted.filter(holding).select("source", "country", column).head(SHOWN_ROWS))
    else:
        where = pl.DataFrame(observed.get("partial_unexpected_counts", []))
    return GateFailure(what_it_checks(result), sentence, where)


def gate_failures(validation: dict | None, accepted: pl.DataFrame) -> list[GateFailure]:
    """Each failed expectation of the run, in words, in the order the packs list them."""
    failed = [] if validation is None else [result for result in validation["results"] if not result["success"]]
    return [_bound_failure(result, DERIVED[result["table"]](accepted))
            if result["table"] in DERIVED and result["expectation"] == "expect_column_values_to_be_between"
            else _counted_failure(result, accepted) for result in failed]


def gate_verdict(validation: dict | None) -> str:
    if validation is None:
        return "No validation.json in this run: the gate did not run."
    skipped = f" {len(validation['skipped'])} skipped: the run did not make their columns." if validation.get("skipped") else ""
    if validation["success"]:
        return f"The gate passed: all {validation['evaluated']} dataset expectations hold.{skipped}"
    return f"The gate failed: {validation['failed']} of {validation['evaluated']} dataset expectations do not hold.{skipped}"


def gate_table(validation: dict | None) -> pl.DataFrame:
    """Every expectation, the failed ones first: result, what it checks, on which table, how many entries broke it."""
    rows = [] if validation is None else sorted(validation["results"], key=lambda result: result["success"])
    return pl.DataFrame([{"result": "pass" if result["success"] else "FAIL", "what it checks": what_it_checks(result),
                          "table": result["table"], "entries breaking it": result["result"].get("unexpected_count")}
                         for result in rows],
                        schema={"result": pl.String, "what it checks": pl.String, "table": pl.String, "entries breaking it": pl.Int64})

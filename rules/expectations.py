"""Dataset-level expectations of the rule packs, run with great-expectations.

An ephemeral GX context validates pandas frames (GX does not read polars): the accepted rows (only
the columns the expectations name) and tables derived from them with polars, such as each country's
share of the data or its rows per cultural dimension. The results are kept as GX's own JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

from curation.decisions import DIMENSIONS
from curation.errors import ConfigError
from curation.rules.naming import name_problem
from curation.rules.pack import Expectation, Pack, value_set


def country_counts(accepted: pl.DataFrame) -> pl.DataFrame:
    return accepted.group_by(pl.col("country").fill_null("unknown")).agg(rows=pl.len()).sort("country")


def country_shares(accepted: pl.DataFrame) -> pl.DataFrame:
    return country_counts(accepted).with_columns(share=pl.col("rows") / pl.col("rows").sum())


def country_dimension_counts(accepted: pl.DataFrame) -> pl.DataFrame:
    """Every country x dimension cell, the empty ones included (a missing cell is the gap that matters)."""
    cells = country_counts(accepted).select("country").join(pl.DataFrame({"dimension": DIMENSIONS}), how="cross")
    counts = accepted.group_by(pl.col("country").fill_null("unknown"), "dimension").agg(rows=pl.len())
    return cells.join(counts, on=["country", "dimension"], how="left").with_columns(pl.col("rows").fill_null(0))


Tables = dict[str, Callable[[], pl.DataFrame]]
# The accepted rows' columns each derived table is made from.
TABLE_COLUMNS = {"country_counts": {"country"}, "country_shares": {"country"},
                 "country_dimension_counts": {"country", "dimension"}, "dpo_pairs": {"id", "preference"},
                 "dataset_names": set()}


def tables(accepted: pl.DataFrame, dpo_ids: pl.Series, dataset_names: dict[str, str]) -> Tables:
    """Each table an expectation may name, made only when one does."""
    return {
        "accepted": lambda: accepted,
        "country_counts": lambda: country_counts(accepted),
        "country_shares": lambda: country_shares(accepted),
        "country_dimension_counts": lambda: country_dimension_counts(accepted),
        # The published DPO rows with the vote they came from: both-good and both-bad must not be there.
        "dpo_pairs": lambda: accepted.filter(pl.col("id").is_in(dpo_ids.implode())).select("id", "preference"),
        "dataset_names": lambda: pl.DataFrame(
            [{"name": name, "kind": kind, "problem": name_problem(name, kind)} for kind, name in dataset_names.items()],
            schema={"name": pl.String, "kind": pl.String, "problem": pl.String}),
    }


def _kwargs(expectation: Expectation) -> dict[str, Any]:
    kwargs = dict(expectation.kwargs)
    if isinstance(kwargs.get("value_set"), str):
        kwargs["value_set"] = value_set(kwargs["value_set"])
    return kwargs


def _gx_class(name: str):
    import great_expectations as gx

    class_name = "".join(part.capitalize() for part in name.split("_"))
    if not hasattr(gx.expectations, class_name):
        raise ValueError(f"great-expectations has no expectation {name!r}")
    return getattr(gx.expectations, class_name)


def check_expectations(packs: list[Pack]) -> None:
    """Before any row is read: each expectation is one great-expectations knows, with arguments it accepts,
    on a table the engine makes. A misspelt name fails now, not after the whole run."""
    for pack in packs:
        for number, expectation in enumerate(pack.expectations, start=1):
            where = f"rule pack {pack.name!r}, expectation {number} ({expectation.expectation})"
            if expectation.table != "accepted" and expectation.table not in TABLE_COLUMNS:
                raise ConfigError(f"{where}: unknown table {expectation.table!r}; tables: {['accepted', *TABLE_COLUMNS]}")
            try:
                _gx_class(expectation.expectation)(**_kwargs(expectation))
            except ValueError as error:  # pydantic's ValidationError is a ValueError
                raise ConfigError(f"{where}: {' '.join(str(error).split())[:500]}") from None


def missing_columns(expectation: Expectation, columns: set[str]) -> set[str]:
    """Columns of the accepted rows an expectation needs and the run did not make (a stage switched off,
    such as tagging); an expectation that a column exists needs nothing: checking it is its job."""
    if expectation.table != "accepted":
        return TABLE_COLUMNS.get(expectation.table, set()) - columns
    if expectation.expectation == "expect_column_to_exist":
        return set()
    return {expectation.kwargs["column"]} - columns if "column" in expectation.kwargs else set()


def validate(packs: list[Pack], available: Tables) -> dict:
    """Run every pack's expectations; one GX validation per table. Returns a JSON-ready summary with
    each expectation's result (as GX reports it) and `success` over all of them. An expectation on columns
    this run did not make is listed as skipped, with the columns, and decides nothing."""
    import great_expectations as gx

    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # the run has its own progress display
    source = context.data_sources.add_pandas("curation")
    by_table: dict[str, list[Expectation]] = {}
    skipped = []
    columns = set(available["accepted"]().columns)
    for pack in packs:
        for expectation in pack.expectations:
            if missing := missing_columns(expectation, columns):
                skipped.append({"table": expectation.table, "expectation": expectation.expectation,
                                "kwargs": dict(expectation.kwargs), "missing_columns": sorted(missing)})
            else:
                by_table.setdefault(expectation.table, []).append(expectation)
    results = []
    for table, expectations in by_table.items():
        frame = available[table]()
        named = {expectation.kwargs.get("column") for expectation in expectations} & set(frame.columns)
        batch = source.add_dataframe_asset(table).add_batch_definition_whole_dataframe(table).get_batch(
            batch_parameters={"dataframe": frame.select(sorted(named)).to_pandas()})
        for expectation in expectations:
            result = batch.validate(_gx_class(expectation.expectation)(**_kwargs(expectation)), result_format="SUMMARY")
            # The kwargs as the pack wrote them: a named value set stays its name, not 250 codes.
            results.append({"table": table, "expectation": expectation.expectation, "kwargs": dict(expectation.kwargs),
                            "description": expectation.description, "success": bool(result.success),
                            "result": result.to_json_dict().get("result", {})})
    return {"success": all(result["success"] for result in results), "great_expectations": gx.__version__,
            "evaluated": len(results), "failed": sum(not result["success"] for result in results), "results": results,
            "skipped": skipped}

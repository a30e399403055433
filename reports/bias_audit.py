"""The bias-balance audit that goes into the dataset card: who is represented, how, and what is missing.

- representation by country against a target share (uniform over the countries present, or a
  reference table such as Spanish speakers per country), with an imbalance index;
- coverage of the four cultural dimensions per country, and the register of address per country;
- length bias: the share of clear pairs whose chosen answer is longer (DPO learns length);
- which generating model wins how often, when the data names the models;
- persona axes (age, gender, region...) when the data has them;
- the gap list: country x dimension cells below target and how many rows each needs;
- the countries of the region (reports/region.yaml) and of the target table with no rows at all, and the
  rows each would hold at the target, as a table and a figure.
"""

from __future__ import annotations

import math
from functools import cache
from importlib import resources
from pathlib import Path

import polars as pl

from curation.countries import local_name
from curation.decisions import DIMENSIONS
from curation.errors import ConfigError
from curation.reports import figures
from curation.reports.markdown import markdown_code, markdown_table, markdown_text
from curation.rules.expectations import country_dimension_counts
from curation.safe_yaml import read_yaml
from curation.schema import PERSONA_AXES, Preference
from curation.text import char_length

REFERENCES = {"spanish_speakers": "spanish_speakers.yaml"}


def reference_table(target: str) -> tuple[dict[str, float], str]:
    """The values of a reference target (a shipped one or a YAML file) per country, and its source."""
    path = resources.files("curation.data").joinpath(REFERENCES[target]) if target in REFERENCES else Path(target)
    table = read_yaml(path, f"audit target {target}")
    if not (isinstance(table, dict) and isinstance(table.get("values"), dict) and "source" in table):
        raise ConfigError(f"audit target {target}: expected `source: <text>` and `values: {{ISO code: number}}`")
    return {country: float(value) for country, value in table["values"].items()}, table["source"]


def load_target(target: str, countries: list[str]) -> tuple[dict[str, float], str]:
    """Target share per country, and where it comes from: `uniform`, a shipped reference or a YAML file."""
    if target == "uniform":
        return {country: 1 / len(countries) for country in countries} if countries else {}, "uniform over the countries present"
    values, source = reference_table(target)
    weights = {country: values.get(country, 0.0) for country in countries}
    total = sum(weights.values())
    if total == 0:
        raise ConfigError(f"audit target {target}: no value for any country present ({countries})")
    return {country: weight / total for country, weight in weights.items()}, source


@cache
def region() -> tuple[tuple[str, ...], str]:
    """The countries the data is for (ISO codes), and how the list is drawn (reports/region.yaml)."""
    table = read_yaml(resources.files("curation.reports").joinpath("region.yaml"), "reports/region.yaml")
    return tuple(table["countries"]), table["source"]


def country_name(code: str) -> str:
    """The local name of an ISO code; any other value (`unknown`) as it is."""
    import pycountry

    return local_name(code) if pycountry.countries.get(alpha_2=code) else code


def country_rows(accepted: pl.DataFrame) -> pl.DataFrame:
    """Accepted rows per country, the most first; ties in country order (group_by's order is not stable)."""
    return (accepted.group_by(pl.col("country").fill_null("unknown")).agg(rows=pl.len())
            .sort("rows", "country", descending=[True, False]))


def country_coverage(accepted: pl.DataFrame, target: str = "uniform") -> pl.DataFrame:
    """Every country of the region, of the target table (a value above 0) and of the data: its accepted rows,
    its weight in the target (1 each for `uniform`) and the rows it would hold if the accepted rows were shared
    by the target among all of them. The region's countries first, in the order of reports/region.yaml."""
    countries, _ = region()
    values = {} if target == "uniform" else reference_table(target)[0]
    wanted = [*countries, *sorted(country for country, value in values.items() if value > 0 and country not in countries)]
    counts = country_rows(accepted)
    table = pl.DataFrame({"country": wanted}).join(counts, on="country", how="full", coalesce=True, maintain_order="left_right")
    names = {country: country_name(country) for country in table.get_column("country")}
    weight = pl.lit(1.0) if target == "uniform" else pl.col("country").replace_strict(values, default=0.0, return_dtype=pl.Float64)
    return table.select(
        "country", name=pl.col("country").replace_strict(names), in_region=pl.col("country").is_in(countries),
        rows=pl.col("rows").fill_null(0).cast(pl.Int64), target_weight=weight,
    ).with_columns(rows_at_target=(pl.col("target_weight") / pl.col("target_weight").sum() * pl.col("rows").sum()).round().cast(pl.Int64))


def missing_countries(accepted: pl.DataFrame, target: str = "uniform") -> pl.DataFrame:
    """The countries of `country_coverage` with no accepted row, the most wanted first."""
    return (country_coverage(accepted, target).filter(pl.col("rows") == 0).drop("rows")
            .sort("target_weight", "country", descending=[True, False]))


def representation(accepted: pl.DataFrame, target: str = "uniform") -> tuple[pl.DataFrame, dict]:
    """Rows and share per country beside the target share; the imbalance index is the total variation
    distance between the two (0: as the target; 1: nothing in common)."""
    counts = country_rows(accepted)
    shares, source = load_target(target, counts.get_column("country").to_list())
    table = counts.with_columns(share=pl.col("rows") / pl.col("rows").sum()).with_columns(
        target_share=pl.col("country").replace_strict(shares, default=0.0, return_dtype=pl.Float64)
    ).with_columns(ratio_to_target=pl.when(pl.col("target_share") > 0).then(pl.col("share") / pl.col("target_share")))
    imbalance = 0.5 * table.select((pl.col("share") - pl.col("target_share")).abs().sum()).item() if table.height else 0.0
    return table, {"target": target, "target_source": source, "imbalance_index": round(imbalance, 4)}


def shares_by_country(accepted: pl.DataFrame, column: str) -> pl.DataFrame:
    """Per country, the share of rows with each value of `column` (a wide table, one column per value)."""
    counts = accepted.group_by(pl.col("country").fill_null("unknown"), pl.col(column).fill_null("undetermined")).agg(rows=pl.len())
    wide = (counts.with_columns(share=(pl.col("rows") / pl.col("rows").sum().over("country")).round(3))
            .pivot(on=column, index="country", values="share").fill_null(0.0).sort("country"))
    # pivot orders its columns as the values come, and group_by's order is not stable
    return wide.select("country", *sorted(wide.columns[1:]))


CHOSEN_LONGER = char_length("chosen") > char_length("rejected")


def clear_pairs(accepted: pl.DataFrame) -> pl.DataFrame:
    """The pairs with a winner: the only ones where length or a model can win."""
    return accepted.filter(pl.col("preference") == Preference.CHOSEN_BETTER.value)


def length_bias(accepted: pl.DataFrame) -> pl.DataFrame:
    """Per country, of the clear pairs: how often the chosen answer is the longer one."""
    return clear_pairs(accepted).group_by(pl.col("country").fill_null("unknown")).agg(
        pairs=pl.len(),
        chosen_longer=CHOSEN_LONGER.mean().round(3),
        mean_chosen_chars=char_length("chosen").mean().round(1),
        mean_rejected_chars=char_length("rejected").mean().round(1),
    ).sort("country")


def model_wins(accepted: pl.DataFrame) -> pl.DataFrame | None:
    """Wins, losses and win rate per generating model, when the data names them (pairwise exports)."""
    if not {"chosen_model", "rejected_model"} <= set(accepted.columns):
        return None
    pairs = clear_pairs(accepted)
    wins = pairs.group_by(pl.col("chosen_model").alias("model")).agg(wins=pl.len())
    losses = pairs.group_by(pl.col("rejected_model").alias("model")).agg(losses=pl.len())
    return (wins.join(losses, on="model", how="full", coalesce=True).fill_null(0)
            .with_columns(win_rate=(pl.col("wins") / (pl.col("wins") + pl.col("losses"))).round(3))
            .sort("win_rate", "model", descending=[True, False], nulls_last=True))


def gaps(accepted: pl.DataFrame, cell_target: int | None = None) -> tuple[pl.DataFrame, int]:
    """Country x dimension cells below target, with the rows each needs. The default target is what a
    balanced dataset of this size would hold per cell: rows / (countries x 4). A run without tagging has no
    dimension, so no cells."""
    if "dimension" not in accepted.columns:
        accepted = accepted.head(0).with_columns(dimension=pl.lit(None, dtype=pl.String))
    cells = country_dimension_counts(accepted)
    if cell_target is None:
        countries = cells.get_column("country").n_unique()
        cell_target = math.ceil(accepted.height / (countries * len(DIMENSIONS))) if countries else 0
    below = cells.filter(pl.col("rows") < cell_target).with_columns(needed=cell_target - pl.col("rows"))
    return below.sort("needed", "country", "dimension", descending=[True, False, False]), cell_target


# A dimension counts in the dimension tables and the gap list only at this confidence (dimension_tag's probability).
CONFIDENT_DIMENSION = 0.6


def confident_dimension(accepted: pl.DataFrame) -> pl.DataFrame:
    """The rows whose dimension is decided with confidence >= CONFIDENT_DIMENSION (all rows with a
    dimension when the run predates the confidence column)."""
    if "dimension" not in accepted.columns:
        return accepted
    decided = accepted.filter(pl.col("dimension").is_not_null() & (pl.col("dimension") != "undetermined"))
    if "dimension_confidence" in accepted.columns:
        decided = decided.filter(pl.col("dimension_confidence") >= CONFIDENT_DIMENSION)
    return decided


def audited_gaps(accepted: pl.DataFrame, cell_target: int | None = None) -> tuple[pl.DataFrame, int]:
    """The audit's gap list: the cells of the rows whose dimension is confident. The extension spends on
    these, so what it aims at is what the report shows."""
    return gaps(confident_dimension(accepted), cell_target)


def audit(accepted: pl.DataFrame, target: str = "uniform", cell_target: int | None = None) -> dict[str, object]:
    """Every table of the audit (polars frames) and its headline figures."""
    represented, headline = representation(accepted, target)
    confident = confident_dimension(accepted)
    gap_list, cell_target = audited_gaps(accepted, cell_target)
    missing = missing_countries(accepted, target)
    tables: dict[str, object] = {
        "representation": represented,
        "missing_countries": missing,
        "dimensions": shares_by_country(confident, "dimension") if "dimension" in accepted.columns else None,
        "register": shares_by_country(accepted, "prompt_register") if "prompt_register" in accepted.columns else None,
        "variety": shares_by_country(accepted, "prompt_variety") if "prompt_variety" in accepted.columns else None,
        "length_bias": length_bias(accepted),
        "model_wins": model_wins(accepted),
        "gaps": gap_list if "dimension" in accepted.columns else None,  # a run without tagging has no cells
    }
    for axis in PERSONA_AXES:
        if axis in accepted.columns:
            tables[f"persona_{axis}"] = shares_by_country(accepted, axis)
    if "dimension" in accepted.columns:
        headline.update(dimension_rows=confident.height, dimension_confidence=CONFIDENT_DIMENSION,
                        dimension_coverage=round(confident.height / accepted.height, 4) if accepted.height else None)
    headline.update(rows=accepted.height, countries=represented.height, missing_countries=missing.height,
                    region=region()[1], cell_target=cell_target,
                    rows_needed=int(gap_list.get_column("needed").sum()) if gap_list.height else 0,
                    chosen_longer=_overall_chosen_longer(accepted),
                    # Rows a person decided about (curation decide, review pull): their labels overrule the tags
                    human_reviewed=accepted.filter(pl.col("decisions").list.len() > 0).height if "decisions" in accepted.columns else 0)
    return {"headline": headline, "tables": tables, "coverage": country_coverage(accepted, target)}


def audit_figure(result: dict[str, object]) -> bytes:
    """Accepted rows per country of the region (and of the target table and the data), the countries with none
    marked, each with the rows it would hold at the target: a PNG."""
    coverage = result["coverage"]
    labels = [f"{name} ({country})" for country, name in coverage.select("country", "name").iter_rows()]
    return figures.coverage(labels, coverage.get_column("rows").to_list(), coverage.get_column("rows_at_target").to_list(),
                            "Accepted rows per country of the region")


def _overall_chosen_longer(accepted: pl.DataFrame) -> float | None:
    pairs = clear_pairs(accepted)
    return round(pairs.select(CHOSEN_LONGER.mean()).item(), 3) if pairs.height else None


def audit_json(result: dict[str, object]) -> dict:
    """The audit as plain JSON: each table a list of rows."""
    tables = {name: table.to_dicts() for name, table in result["tables"].items() if table is not None}
    return {"headline": result["headline"], "tables": tables}


def _on_confident(head: dict) -> str:
    if "dimension_rows" not in head:
        return ""
    return (f", computed on {head['dimension_rows']} of {head['rows']} rows whose dimension is confident "
            f"(>= {head['dimension_confidence']})")


def missing_sentence(result: dict[str, object]) -> str:
    """The countries with no rows at all, in words (plain text: escape it where it goes)."""
    missing = result["tables"]["missing_countries"]
    in_region = missing.filter(pl.col("in_region")).get_column("name").to_list()
    beyond = missing.filter(~pl.col("in_region")).get_column("name").to_list()
    sentence = (f"No rows at all from {len(in_region)} countries of the region ({result['headline']['region']}): "
                f"{', '.join(in_region)}." if in_region else "Every country of the region has rows.")
    return sentence + (f" The target also wants {', '.join(beyond)}, with no rows either." if beyond else "")


def target_markdown(head: dict) -> str:
    """Which target the audit used and the command that computes the same audit: a card says what its audit measured."""
    command = f"curation report --target {head['target']}"
    return (f"Target: {markdown_code(head['target'])}, {markdown_text(head['target_source'])} "
            f"(as {markdown_code(command)} computes it)")


def audit_markdown(result: dict[str, object], figure: str | None = None) -> str:
    """The audit as the Markdown section of a dataset card (and of a model card): data text escaped. `figure`:
    the file name of `audit_figure`'s PNG beside the Markdown, linked after the missing countries."""
    head = result["headline"]
    opening = (f"Accepted rows: {head['rows']} from {head['countries']} countries. {target_markdown(head)}. "
               f"Imbalance index (total variation distance to the target, 0 = balanced): **{head['imbalance_index']}**."
               + (f" Rows a person reviewed: **{head['human_reviewed']}** (their category and dimension overrule the "
                  "automatic tags)." if head.get("human_reviewed") else ""))
    lines = [opening, "", markdown_text(missing_sentence(result)), ""]
    titles = {
        "representation": "Representation by country",
        "missing_countries": "Countries with no rows, and the rows each would hold at the target",
        "dimensions": f"Cultural dimensions per country (share of rows){_on_confident(head)}",
        "register": "Register of address in the prompt, per country (share of rows)",
        "variety": "Regional variety of the prompt, per country (share of rows)",
        "length_bias": "Length bias: share of clear pairs whose chosen answer is longer",
        "model_wins": "Which generating model wins",
        "gaps": f"Gap list: country x dimension cells below {head['cell_target']} rows ({head['rows_needed']} rows needed)"
                f"{_on_confident(head)}",
    }
    for name, table in result["tables"].items():
        if table is None:
            continue
        lines += [f"#### {titles.get(name, name.replace('_', ' ').capitalize())}", "", markdown_table(table), ""]
        if name == "missing_countries" and figure:
            # A link, not an image: the Markdown files show no image at all (tests/test_hostile_text.py).
            lines += [f"Figure: [accepted rows per country of the region]({figure})", ""]
    return "\n".join(lines)

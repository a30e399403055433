"""The bias-balance audit names the countries of the region with no rows at all, against the target, with a figure."""

import io
import json
from importlib import resources

import polars as pl
import yaml
from PIL import Image

from curation.reports.bias_audit import audit, audit_figure, audit_json, audit_markdown, missing_countries
from curation.reports.curation_report import write_report
from curation.reports.dataset_card import KINDS, write_card
from curation.run_folder import RunFolder
from curation.testing import frame_of, pair

def _rows(**per_country: int) -> pl.DataFrame:
    return frame_of(*[pair(country=country) for country, rows in per_country.items() for _ in range(rows)])


def test_every_country_of_the_region_without_rows_is_named_with_its_share_of_a_uniform_target(region):
    accepted = _rows(MX=30, ES=16)  # 46 rows over the 23 countries of the region: 2 each
    missing = missing_countries(accepted, "uniform")
    assert set(missing.get_column("country")) == region - {"MX", "ES"}
    argentina = missing.filter(pl.col("country") == "AR").row(0, named=True)
    assert argentina == {"country": "AR", "name": "Argentina", "in_region": True, "target_weight": 1.0, "rows_at_target": 2}
    assert {"Venezuela", "Uruguay", "Brasil", "Portugal", "Andorra"} <= set(missing.get_column("name"))


def test_a_reference_target_weighs_the_missing_countries_and_adds_its_own():
    accepted = _rows(MX=300, ES=100)
    table = yaml.safe_load(resources.files("curation.data").joinpath("spanish_speakers.yaml").read_text(encoding="utf-8"))["values"]
    missing = missing_countries(accepted, "spanish_speakers")
    by_country = {row["country"]: row for row in missing.iter_rows(named=True)}
    # Argentina's share of every speaker the table counts, applied to the 400 rows.
    assert by_country["AR"]["rows_at_target"] == round(400 * table["AR"] / sum(table.values()))
    assert by_country["AR"]["target_weight"] == table["AR"]
    # The table wants the United States and Equatorial Guinea too, outside the region.
    assert by_country["US"]["in_region"] is False and by_country["GQ"]["in_region"] is False
    # Brazil is in the region but not in a table of Spanish speakers: named, with no rows wanted.
    assert by_country["BR"]["target_weight"] == 0.0 and by_country["BR"]["rows_at_target"] == 0
    assert missing.get_column("rows_at_target").to_list() == sorted(missing.get_column("rows_at_target").to_list(), reverse=True)


def test_the_audit_says_which_countries_are_missing_in_words_and_in_a_figure():
    accepted = _rows(MX=30, ES=16, AR=4)
    result = audit(accepted)
    assert result["headline"]["missing_countries"] == 20
    text = audit_markdown(result)
    assert "No rows at all from 20 countries of the region" in text
    section = text.split("#### Countries with no rows")[1].split("####")[0]
    assert "| VE | Venezuela |" in section and "| UY | Uruguay |" in section and "| AR |" not in section
    image = Image.open(io.BytesIO(audit_figure(result)))
    assert image.format == "PNG" and image.width > 400 and image.height > 400  # one bar per country of the region


def test_the_audit_states_the_target_it_was_computed_against():
    accepted = _rows(MX=3, ES=1)
    assert "`uniform`" in audit_markdown(audit(accepted)) and "`spanish_speakers`" in audit_markdown(audit(accepted, "spanish_speakers"))


def _tied_rows() -> pl.DataFrame:
    """Three countries with 4 rows each; per country every dimension, register and model once or twice; two models
    with the same win rate: every table of the audit has ties to break."""
    dimensions, registers = ("bias_trap", "knowledge", "preference", "dynamics"), ("usted", "tú", "vos", "undetermined")
    return frame_of(*[pair(prompt=f"{country} {number}", country=country, dimension=dimensions[number],
                           prompt_register=registers[(number + offset) % 4], chosen_model=f"model-{'ab'[number % 2]}",
                           rejected_model=f"model-{'ba'[number % 2]}")
                      for offset, country in enumerate(("PE", "CO", "AR")) for number in range(4)])


def test_the_audit_breaks_every_tie_the_same_way():
    accepted = _tied_rows()
    texts = {(audit_markdown(result := audit(accepted)), json.dumps(audit_json(result))) for _ in range(5)}
    assert len(texts) == 1
    tables = audit(accepted)["tables"]
    assert tables["representation"].get_column("country").to_list() == ["AR", "CO", "PE"]  # 4 rows each: by code
    assert tables["register"].columns == ["country", "tú", "undetermined", "usted", "vos"]
    assert tables["dimensions"].columns == ["country", "bias_trap", "dynamics", "knowledge", "preference"]
    assert tables["model_wins"].get_column("model").to_list() == ["model-a", "model-b"]  # both win half


def test_two_reports_of_a_run_write_the_same_audit_and_cards_byte_for_byte(demo_run, tmp_path):
    run = RunFolder.read(demo_run[0])
    kinds = [kind for kind in KINDS if f"demo_arena_{kind}" in run.summary["outputs"]]  # dpo, kto, prompts
    written = []
    for out in (tmp_path / "first", tmp_path / "second"):
        report, files = write_report(run, out)
        cards = [write_card(run, report.audited, kind, out_dir=out)[0] for kind in kinds]
        written.append([path.read_bytes() for path in (files["bias_audit.md"], files["bias_audit.json"], *cards)])
    assert written[0] == written[1] and len(written[0]) == 2 + 3

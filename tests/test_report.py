"""The curation report, the bias-balance audit and the dataset card, on a run of the demo data plus
hostile rows; the report is opened in headless Chromium."""

import csv
import json
import math
import re
import shutil
from collections import Counter
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from curation.cli import app
from curation.config import RunConfig
from curation.countries import local_name
from curation.reports.bias_audit import audit, gaps, representation
from curation.reports.curation_report import prompt_length_by_country, write_report
from curation.reports.dataset_card import dataset_card, size_category
from curation.rules.naming import name_problem
from curation.run import run
from curation.run_folder import RunFolder
from curation.testing import frame_of, pair

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
HOSTILE = [
    {"country": "México", "question": "<script>window.__pwned = 1; console.error('xss')</script> ¿Qué es el mole poblano?",
     "chosen": "Sí.",  # too short: quarantined, so the report shows its prompt as an example
     "rejected": "<img src=x onerror=\"window.__pwned = 2\"> Una salsa mexicana muy conocida en todo el mundo."},
    {"country": "Chile", "question": "¿Qué significa «al tiro» en Santiago? </td></table><b>roto</b>",
     "chosen": "Significa de inmediato: «voy al tiro» es que sales ya, sin demora, como dicen en Santiago.",
     "rejected": "Es una expresión que significa rápido en muchos países de habla hispana y en general."},
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    hostile = folder / "hostile.jsonl"
    pl.DataFrame([*HOSTILE, HOSTILE[1]]).write_ndjson(hostile)  # the repeat shows in the duplicate clusters
    with resources.as_file(resources.files("curation.demo").joinpath("arena_demo.jsonl")) as demo:
        # Hostile rows first: the report shows the first examples of each rule.
        config = RunConfig(name="report_test", input=[{"path": str(hostile), "format": "arena"},
                                                      {"path": str(demo), "format": "arena"}])
        result = run(config, folder / "out")
    write_report(RunFolder.read(result.output_dir))
    return result.output_dir


def test_report_files_and_sections(run_dir):
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    for section in ("Funnel per stage", "The gate", "Rules, with examples", "Prompts per country", "Length by country",
                    "Chosen vs rejected similarity", "Duplicate clusters", "Bias-balance audit"):
        assert section in html
    assert html.count('<img src="data:image/png;base64,') >= 6
    assert "http://" not in html and "https://" not in html  # nothing to fetch: it opens from disk
    markdown = (run_dir / "report.md").read_text(encoding="utf-8")
    assert "## Prompts per country" in markdown and "## Bias-balance audit" in markdown


class _Section(HTMLParser):
    """The text of an HTML fragment, and the cells of each of its table rows."""

    def __init__(self, fragment: str):
        super().__init__()
        self.text: list[str] = []
        self.rows: list[list[str]] = []
        self.links: list[str] = []
        self._cell: list[str] | None = None
        self.feed(fragment)

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "a":
            self.links.append(dict(attrs)["href"])

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)

    def words(self) -> str:
        return " ".join(" ".join(self.text).split())


def _next_steps(html: str) -> _Section:
    return _Section(re.search(r'<section id="next-steps">(.*?)</section>', html, re.DOTALL).group(1))


def test_report_opens_with_what_to_do_next(run_dir, region):
    """Before any table: the gate's failures in words (which countries and cells, how many rows), the largest
    quarantine reasons with a link to quarantine.parquet, the countries the audit finds missing, the review."""
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert re.findall(r"<h2[^>]*>(.*?)</h2>", html)[0] == "What to do next"
    section = _next_steps(html)
    rows = section.rows
    accepted = pl.read_parquet(run_dir / "accepted.parquet")
    per_country = Counter(accepted.get_column("country").to_list())
    # The pack wants 20 rows per country and 5 per country x dimension cell.
    short = {country: rows for country, rows in per_country.items() if rows < 20}
    for country, count in short.items():
        assert [country, local_name(country), str(count), "20", str(20 - count)] in rows
    assert f"{len(short)} of {len(per_country)} countries below 20 rows; {sum(20 - n for n in short.values())} rows needed" in section.words()
    cells = Counter(zip(accepted.get_column("country").to_list(), accepted.get_column("dimension").to_list()))
    thin = {(country, dimension): cells[country, dimension] for country in per_country
            for dimension in ("knowledge", "preference", "dynamics", "bias_trap") if cells[country, dimension] < 5}
    for (country, dimension), count in thin.items():
        assert [country, local_name(country), dimension, str(count), "5", str(5 - count)] in rows
    assert f"{len(thin)} of {4 * len(per_country)} country × dimension cells below 5 rows" in section.words()
    # The largest quarantine reasons, counted from quarantine.parquet, and where to find their rows.
    reasons = Counter(reason for row in pl.read_parquet(run_dir / "quarantine.parquet").get_column("reasons").to_list() for reason in row)
    for reason, count in sorted(reasons.items(), key=lambda item: (-item[1], item[0]))[:5]:
        assert any(row[:2] == [reason, str(count)] for row in rows), reason
    assert "quarantine.parquet" in section.links
    for country in region - set(per_country):
        assert local_name(country) in section.words()
    assert "Not reviewed yet" in section.words() and "curation review push" in section.words()


def test_the_gate_lists_failures_first_in_words_not_raw_json(run_dir):
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "partial_unexpected" not in html and "observed_value" not in html
    gate = _Section(re.search(r'<section id="gate">(.*?)</section>', html, re.DOTALL).group(1))
    validation = json.loads((run_dir / "validation.json").read_text())
    failed = [result["description"] for result in validation["results"] if not result["success"]]
    listed = [row[1] for row in gate.rows[1:]]
    assert listed[: len(failed)] == failed and len(listed) == validation["evaluated"]
    assert {row[0] for row in gate.rows[1: len(failed) + 1]} == {"FAIL"}


def test_bias_audit_figures_match_a_plain_count(run_dir, region):
    audited = json.loads((run_dir / "bias_audit.json").read_text())
    head, tables = audited["headline"], audited["tables"]
    accepted = pl.read_parquet(run_dir / "accepted.parquet")
    per_country = Counter(accepted.get_column("country").to_list())
    assert (head["rows"], head["countries"]) == (accepted.height, len(per_country))
    assert {row["country"]: row["rows"] for row in tables["representation"]} == per_country
    uniform = 1 / len(per_country)
    assert head["imbalance_index"] == round(0.5 * sum(abs(n / accepted.height - uniform) for n in per_country.values()), 4)
    # The gap list: cells of the rows whose dimension is confident (>= 0.6), each below the balanced size.
    confident = [(row["country"], row["dimension"]) for row in accepted.iter_rows(named=True)
                 if row["dimension"] not in (None, "undetermined") and row["dimension_confidence"] >= 0.6]
    countries = {country for country, _ in confident}
    cell_target = math.ceil(len(confident) / (4 * len(countries)))
    cells = Counter(confident)
    needed = sum(max(0, cell_target - cells[country, dimension]) for country in countries
                 for dimension in ("knowledge", "preference", "dynamics", "bias_trap"))
    assert (head["cell_target"], head["rows_needed"]) == (cell_target, needed)
    assert {row["country"] for row in tables["missing_countries"]} == region - set(per_country)
    assert (run_dir / "bias_audit_countries.png").read_bytes().startswith(b"\x89PNG")
    assert "[accepted rows per country of the region](bias_audit_countries.png)" in (run_dir / "bias_audit.md").read_text()


def test_review_status_of_a_pushed_run_not_pulled_yet(run_dir, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(run_dir, folder)
    accepted = pl.read_parquet(folder / "accepted.parquet")
    # What `curation review push` leaves: the pushed ids, their A/B order and the Argilla dataset.
    accepted.head(12).select("id", a_is_chosen=pl.lit(True), dataset=pl.lit("report_test_review")).write_parquet(folder / "review_push.parquet")
    report, _ = write_report(RunFolder.read(folder))
    words = _next_steps(report.html).words()
    assert f"12 of {accepted.height} accepted rows pushed for review (Argilla dataset report_test_review); not pulled yet" in words
    assert "curation review pull" in words


def test_the_html_comes_from_the_shipped_template(run_dir):
    template = resources.files("curation.reports").joinpath("templates", "report.html.j2")
    assert template.is_file() and "{%" in template.read_text(encoding="utf-8")
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "{{" not in html and "{%" not in html


def test_user_text_is_escaped(run_dir):
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "<script>window.__pwned" not in html and "&lt;script&gt;window.__pwned" in html
    assert "<img src=x" not in html and "</td></table><b>roto" not in html


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (`make test` installs it)")
def test_report_renders_in_headless_chromium(run_dir, tmp_path):
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto((run_dir / "report.html").as_uri())
        images = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight])")
        pwned = page.evaluate("window.__pwned === undefined")
        screenshot = tmp_path / "report.png"
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    assert len(images) >= 6 and all(complete and width > 100 and height > 100 for complete, width, height in images)
    assert pwned, "user text ran as script"
    assert errors == []
    assert screenshot.stat().st_size > 50_000


def test_per_country_table_matches_a_plain_count(arena_sample):
    """The community table, recomputed with the csv module: prompts and raw prompt lengths per country."""
    with arena_sample.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    expected: dict[str, list[int]] = {}
    for row in rows:
        expected.setdefault(row["country"], []).append(len(row["question"]))
    table = prompt_length_by_country(pl.DataFrame({"country": [r["country"] for r in rows], "raw_prompt": [r["question"] for r in rows]}))
    for country, lengths in expected.items():
        got = table.filter(pl.col("country") == country).row(0, named=True)
        assert (got["prompts"], got["min_chars"], got["max_chars"]) == (len(lengths), min(lengths), max(lengths))
        assert got["mean_chars"] == round(sum(lengths) / len(lengths), 2)


def test_report_table_keeps_raw_prompts_of_every_row(run_dir):
    """The 'every row read' table counts quarantined and duplicate rows too, at their raw length."""
    run_folder = RunFolder.read(run_dir)
    table = prompt_length_by_country(run_folder.as_read())
    assert table.get_column("prompts").sum() == run_folder.summary["input_rows"]


def test_representation_and_imbalance_index():
    accepted = frame_of(*[pair(country="MX")] * 3, pair(country="AR"))
    table, head = representation(accepted)
    shares = dict(table.select("country", "share").iter_rows())
    assert shares == {"MX": 0.75, "AR": 0.25}
    assert head["imbalance_index"] == 0.25  # |0.75 - 0.5| / 2 + |0.25 - 0.5| / 2


def test_reference_target_and_gap_list():
    accepted = frame_of(pair(country="MX"), pair(country="ES")).with_columns(dimension=pl.lit("knowledge"))
    table, head = representation(accepted, "spanish_speakers")
    target = dict(table.select("country", "target_share").iter_rows())
    assert target["MX"] > target["ES"] and round(sum(target.values()), 6) == 1 and "Cervantes" in head["target_source"]
    below, cell_target = gaps(accepted, cell_target=3)
    assert cell_target == 3 and below.height == 8  # 2 countries x 4 dimensions, all under 3 rows
    assert below.filter((pl.col("country") == "MX") & (pl.col("dimension") == "knowledge")).get_column("needed").item() == 2


def test_audit_length_bias_and_model_wins():
    accepted = frame_of(pair(chosen="una respuesta larga y detallada sobre el tema", rejected="corta"),
                        pair(chosen="corta, pero buena", rejected="una respuesta mucho más larga que la elegida"))
    accepted = accepted.with_columns(chosen_model=pl.Series(["gemma", "gemma"]), rejected_model=pl.Series(["mistral", "salamandra"]),
                                     dimension=pl.lit("knowledge"))
    result = audit(accepted)
    assert result["headline"]["chosen_longer"] == 0.5
    wins = dict(result["tables"]["model_wins"].select("model", "win_rate").iter_rows())
    assert wins == {"gemma": 1.0, "mistral": 0.0, "salamandra": 0.0}


def test_dataset_card_metadata_is_valid_for_the_hub(run_dir):
    from huggingface_hub import DatasetCard

    run_folder = RunFolder.read(run_dir)
    text, problem = dataset_card(run_folder, audit(run_folder.accepted), "dpo")
    assert problem == ""
    card = DatasetCard(text)
    data = card.data.to_dict()
    assert data["license"] == "apache-2.0" and "es" in data["language"] and "dpo" in data["tags"]
    assert data["size_categories"] == ["n<1K"] and data["configs"][0]["data_files"][0]["path"] == "data/train-*"
    for section in ("## Motivation and impact", "## Generation and processing pipeline", "## Tests done",
                    "## Bias-balance audit", "## Limitations", "## Licence", "| polars |", "| great-expectations |"):
        assert section in card.text


def test_naming_convention():
    assert name_problem("somosnlp/cultura_dpo", "dpo") == ""
    assert name_problem("cultura_prompts", "prompts") == ""
    assert name_problem("cultura_images_prompts", "images") == ""
    assert "must contain 'kto'" in name_problem("cultura_dpo", "kto")
    assert "another kind" in name_problem("cultura_dpo_kto", "dpo")
    assert size_category(999) == "n<1K" and size_category(100_000) == "100K<n<1M"


def test_report_and_card_commands(run_dir, tmp_path):
    runner = CliRunner()
    out = tmp_path / "report"
    result = runner.invoke(app, ["report", str(run_dir), "--out", str(out), "--target", "spanish_speakers"])
    assert result.exit_code == 0, result.output
    assert (out / "report.html").is_file() and (out / "report_test_kto" / "README.md").is_file()
    bad = runner.invoke(app, ["card", str(run_dir), "--kind", "dpo", "--repo-id", "somosnlp/cultura_prompts"])
    assert bad.exit_code == 3 and "naming convention" in bad.output
    missing = runner.invoke(app, ["report", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "not a run folder" in missing.output

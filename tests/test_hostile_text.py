"""Hostile text through `curation run` and `curation report`: HTML in prompts, answers, system prompts,
persona values and model names never reaches a Markdown file as markup; control characters, ANSI escapes
and bidi overrides never reach the published data, and the ledger counts them; an error body returned as
an answer is quarantined."""

import json
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
import yaml
from markdown_it import MarkdownIt
from typer.testing import CliRunner

from curation.cli import app

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
PERSONA = {"country": "México", "region": IMG, "edad": SCRIPT, "chosen_model": SCRIPT, "rejected_model": IMG}
PROMPT = f"¿Qué lleva el mole\x00 poblano de verdad? {SCRIPT}"
HOSTILE = [
    # Accepted, with a hidden character of some kind in each text.
    PERSONA | {"system_prompt": f"Eres una cocinera de Puebla.\x1b]0;pwned\x07 {SCRIPT}", "question": PROMPT,
               "chosen": f"Lleva chiles \x1b[31mmulato\x1b[0m, chocolate y especias; {IMG} se sirve en las fiestas.",
               "rejected": "Es una salsa mexicana que se come en muchas partes; la receta está en \u202egnp.exe para verla."},
    # The same prompt for the same persona: a duplicate of the row above, in the clusters.
    PERSONA | {"system_prompt": f"Eres una cocinera de Puebla.\x1b]0;pwned\x07 {SCRIPT}", "question": PROMPT,
               "chosen": "Chiles, chocolate, ajonjolí y mucha paciencia, como lo hacía mi abuela en Puebla.",
               "rejected": "Es una salsa de chiles con chocolate que se come en todo México en ocasiones especiales."},
    # Quarantined: too short an answer; an error body as an answer.
    PERSONA | {"system_prompt": "", "question": f"{IMG} ¿Qué es el pozole rojo de Guerrero?", "chosen": "Sí.",
               "rejected": "Un caldo de maíz cacahuazintle con carne de cerdo y chile guajillo, muy rico los jueves."},
    PERSONA | {"system_prompt": "", "question": "¿Cómo se celebra el Día de Muertos en Janitzio?",
               "chosen": '{"message": "internal server error", "code": 500}',
               "rejected": "Con velas en el panteón toda la noche y las canoas de los pescadores en el lago de Pátzcuaro."},
]
HIDDEN = ("\x00", "\x07", "\x1b", "\u202e")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    hostile = folder / "hostile.jsonl"
    pl.DataFrame(HOSTILE).write_ndjson(hostile)
    runner = CliRunner()
    with resources.as_file(resources.files("curation.demo").joinpath("arena_demo.jsonl")) as demo:
        config = folder / "hostile.yaml"
        config.write_text(yaml.safe_dump({
            "name": "hostile", "input": [{"path": str(hostile), "format": "arena"}, {"path": str(demo), "format": "arena"}],
            "output": {"dir": str(folder / "out")}, "dedupe": {"semantic": {"enabled": False}}}))
        ran = runner.invoke(app, ["run", str(config), "--quiet"])
    assert ran.exit_code == 0, (ran.output, ran.exception)
    reported = runner.invoke(app, ["report", str(folder / "out")])
    assert reported.exit_code == 0, (reported.output, reported.exception)
    return folder / "out"


class _Elements(HTMLParser):
    """Every element and attribute of an HTML text, and its text as a reader sees it."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.texts: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)

    def handle_data(self, data):
        if data.strip():
            self.texts.append(data)


def test_no_markdown_file_carries_the_data_as_html(run_dir):
    files = sorted(run_dir.rglob("*.md"))
    names = {path.relative_to(run_dir).as_posix() for path in files}
    assert {"summary.md", "report.md", "bias_audit.md", "hostile_dpo/README.md", "hostile_kto/README.md",
            "hostile_prompts/README.md"} <= names
    # As GitHub and the Hub render it: Markdown with HTML on, GFM tables.
    renderer = MarkdownIt("commonmark", {"html": True}).enable("table")
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert "<script" not in text and "<img" not in text, path
        elements = _Elements(renderer.render(text))
        assert not elements.tags & {"script", "img"}, (path, elements.tags)
        assert not [name for name in elements.attributes if name.startswith("on")], path
    # The data is there, shown as typed: the prompts and reasons in the summary, persona values and model
    # names (as table cells and as column names) in the audit and the cards.
    shown = "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert shown in (run_dir / "summary.md").read_text() and shown in (run_dir / "report.md").read_text()
    for path in ("bias_audit.md", "hostile_dpo/README.md"):
        audit = (run_dir / path).read_text()
        assert shown in audit and "&lt;img src=x onerror=alert(1)&gt;" in audit


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def test_hidden_characters_never_reach_the_published_data_and_the_ledger_counts_them(run_dir):
    published = [path for kind in ("dpo", "kto", "prompts") for path in (run_dir / f"hostile_{kind}").rglob("*.parquet")]
    assert len(published) >= 6
    texts = [text for path in published for text in _strings(pq.read_table(path).to_pylist())]
    assert any("mole poblano de verdad" in text for text in texts)
    assert not [text for text in texts if any(char in text for char in HIDDEN)]
    stats = next(stage["stats"] for stage in json.loads((run_dir / "ledger.json").read_text())["stages"]
                 if stage["stage"] == "normalise")
    # Control characters: the prompts of the kept row and of its duplicate, and the demo's mojibake row
    # (line 167: a curly quote read as CP-1252 leaves U+009D); escapes: the kept row's answer and the two
    # rows' system prompts (the BEL that ends that sequence is not counted apart); bidi: a rejected answer.
    assert (stats["texts_with_control_characters"], stats["texts_with_ansi_escapes"], stats["texts_with_bidi_controls"]) == (3, 3, 1)
    accepted = pl.read_parquet(run_dir / "accepted.parquet")
    warned = accepted.filter(pl.col("warnings").list.contains("control_characters_removed"))
    assert warned["prompt"].to_list() == [PROMPT.replace("\x00", "")]
    assert warned["chosen"][0] == f"Lleva chiles mulato, chocolate y especias; {IMG} se sirve en las fiestas."
    assert warned["rejected_raw"][0] == HOSTILE[0]["rejected"]  # the original is kept
    # Clean text is untouched: no other row was warned, and the demo's clean rows read as written.
    assert accepted.filter(pl.col("source").str.starts_with("arena_demo")).select(
        pl.col("warnings").list.contains("control_characters_removed").any()).item() is False


def test_an_error_body_returned_as_an_answer_is_quarantined(run_dir):
    quarantined = pl.read_parquet(run_dir / "quarantine.parquet")
    error = quarantined.filter(pl.col("chosen").str.starts_with('{"message"'))
    assert error["reasons"].to_list() == [["error_placeholder_chosen"]]


@pytest.mark.parametrize("value", ["arena[train]:12", "a `<script>` b", "``<img src=x onerror=alert(1)>``", "x | y"])
def test_markdown_code_shows_data_exactly_and_never_as_markup(value):
    from curation.reports.markdown import markdown_code

    rendered = MarkdownIt("commonmark", {"html": True}).enable("table").render(f"| c |\n|---|\n| {markdown_code(value)} |")
    elements = _Elements(rendered)
    assert elements.tags == {"table", "thead", "tbody", "tr", "th", "td", "code"} and elements.texts == ["c", value]


def test_markdown_text_makes_no_link_or_image_of_data():
    from curation.reports.markdown import markdown_text

    text = "mira ![foto](https://tracker.example/p.png) y [aquí](javascript:alert(1)) \\<b>"
    elements = _Elements(MarkdownIt("commonmark", {"html": True}).render(markdown_text(text)))
    assert elements.tags == {"p"} and elements.texts == [text]

"""The dataset cards `curation report` writes: where (`--out` leaves the run folder as it was) and which
audit target they state."""

from importlib import resources
from pathlib import Path

import pytest
from typer.testing import CliRunner

from curation.cli import app
from curation.config import RunConfig
from curation.run import run

KINDS = ("dpo", "kto", "prompts")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cards")
    with resources.as_file(resources.files("curation.demo").joinpath("arena_demo.jsonl")) as demo:
        config = RunConfig(name="cards", input={"path": str(demo), "format": "arena"}, dedupe={"semantic": {"enabled": False}})
        return run(config, folder / "out").output_dir


def _files(folder: Path) -> dict[str, bytes]:
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def test_report_with_out_writes_the_cards_there_and_leaves_the_run_folder_as_it_was(run_dir, tmp_path):
    before = _files(run_dir)
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["report", str(run_dir), "--out", str(out), "--target", "spanish_speakers"])
    assert result.exit_code == 0, result.output
    assert _files(run_dir) == before
    for kind in KINDS:
        card = (out / f"cards_{kind}" / "README.md").read_text(encoding="utf-8")
        assert "Target: `spanish_speakers`" in card and "Instituto Cervantes" in card
        assert "`curation report --target spanish_speakers`" in card


def test_report_without_out_writes_the_cards_beside_the_published_data_and_states_the_default_target(run_dir):
    result = CliRunner().invoke(app, ["report", str(run_dir)])
    assert result.exit_code == 0, result.output
    card = (run_dir / "cards_dpo" / "README.md").read_text(encoding="utf-8")
    assert "Target: `uniform`" in card and "`curation report --target uniform`" in card


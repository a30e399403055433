"""atomic_file, the one way a single output file is written (ingest, the decisions file, the review manifest,
classify's verdicts, extend's outputs): the previous file until the new one is complete, never half of one."""

from pathlib import Path

import polars as pl
import pytest

from curation.decisions import append_decisions, read_decisions
from curation.output_folder import atomic_file


class DiskFull(OSError):
    pass


def test_a_complete_write_replaces_the_file_and_leaves_nothing_beside_it(tmp_path):
    target = tmp_path / "table.parquet"
    target.write_text("previous")
    with atomic_file(target) as partial:
        assert partial.parent == target.parent and partial != target
        pl.DataFrame({"a": [1, 2]}).write_parquet(partial)
        assert target.read_text() == "previous"  # untouched until the block ends
    assert pl.read_parquet(target).get_column("a").to_list() == [1, 2]
    assert [path.name for path in tmp_path.iterdir()] == ["table.parquet"]


@pytest.mark.parametrize("existed", [True, False])
def test_a_failed_write_leaves_the_previous_file_or_none_and_no_partial(tmp_path, existed):
    target = tmp_path / "decisions.yaml"
    if existed:
        target.write_text("- id: a\n")
    with pytest.raises(DiskFull), atomic_file(target) as partial:
        partial.write_text("- id: half a fi")
        raise DiskFull("no space left on device")
    assert (target.read_text() == "- id: a\n") if existed else not target.exists()
    assert [path.name for path in tmp_path.iterdir()] == (["decisions.yaml"] if existed else [])


def test_a_decisions_file_whose_new_text_fails_to_write_keeps_its_decisions(tmp_path, monkeypatch):
    path = tmp_path / "decisions.yaml"
    first = pl.DataFrame({"id": ["a"], "action": ["keep"], "value": [None], "who": ["ana"], "why": ["ok"], "when": ["2026-01-01"],
                          "source": ["cli"]})
    assert append_decisions(path, first) == 1
    before = path.read_bytes()

    write_text = Path.write_text

    def full_disk(self, text, *args, **kwargs):  # half the new text reaches the disk, then it is full
        write_text(self, text[: len(text) // 2], *args, **kwargs)
        raise DiskFull("no space left on device")

    monkeypatch.setattr(Path, "write_text", full_disk)
    with pytest.raises(DiskFull):
        append_decisions(path, first.with_columns(id=pl.lit("b")))
    monkeypatch.undo()
    assert path.read_bytes() == before and read_decisions(path).get_column("id").to_list() == ["a"]
    assert [entry.name for entry in tmp_path.iterdir()] == ["decisions.yaml"]

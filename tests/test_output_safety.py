"""The engine never deletes a user's files: it replaces only a folder it wrote itself (its marker inside),
refuses every other output before any work (exit 2), and cleans up what killed runs left behind."""

import multiprocessing
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from curation.cli import app
from curation.output_folder import MARKER

DEMO = Path(__file__).resolve().parents[1] / "curation" / "demo" / "arena_demo.jsonl"
FAST = {"dedupe": {"semantic": {"enabled": False}}}


def project(tmp_path: Path, **settings) -> Path:
    """A user's project folder: the input, the config and a file of notes side by side."""
    folder = tmp_path / "project"
    (folder / "data").mkdir(parents=True)
    shutil.copy(DEMO, folder / "data" / "arena.jsonl")
    (folder / "notes.txt").write_text("my notes")
    config = folder / "run.yaml"
    config.write_text(yaml.safe_dump({"name": "safe", "input": {"path": "data/arena.jsonl"}, **FAST, **settings}))
    return config


def invoke(*arguments: str):
    result = CliRunner().invoke(app, [*map(str, arguments)])
    return result, " ".join(result.stderr.split())


def assert_untouched(config: Path) -> None:
    folder = config.parent
    assert (folder / "data" / "arena.jsonl").read_bytes() == DEMO.read_bytes()
    assert (folder / "notes.txt").read_text() == "my notes"
    assert config.is_file()
    assert not [path for path in folder.rglob(".*") if "building" in path.name or "curation-work" in path.name]


@pytest.mark.parametrize("output_dir", [".", "data", "..", "../.."])
def test_an_output_folder_holding_the_input_or_the_config_is_refused(tmp_path, output_dir):
    config = project(tmp_path, output={"dir": output_dir})
    result, message = invoke("run", config, "--quiet")
    assert result.exit_code == 2, message
    assert "choose another output folder" in message or "not written by curation" in message
    assert_untouched(config)


def test_an_existing_folder_the_engine_did_not_write_is_never_replaced(tmp_path):
    config = project(tmp_path)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    result, message = invoke("run", config, "--out", mine, "--quiet")
    assert result.exit_code == 2 and "was not written by curation" in message
    assert (mine / "thesis.tex").read_text() == "years of work" and not (mine / MARKER).exists()


def test_the_filesystem_root_is_refused_before_any_work(tmp_path):
    config = project(tmp_path, output={"dir": "/"})
    result, message = invoke("run", config, "--quiet")
    assert result.exit_code == 2 and "filesystem root" in message
    assert not [path for path in Path("/").iterdir() if ".building-" in path.name]


def test_an_output_that_is_a_file_is_refused(tmp_path):
    config = project(tmp_path)
    existing = tmp_path / "report.pdf"
    existing.write_bytes(b"%PDF")
    result, message = invoke("run", config, "--out", existing, "--quiet")
    assert result.exit_code == 2 and "is a file" in message
    assert existing.read_bytes() == b"%PDF"


def test_a_folder_the_engine_wrote_is_replaced_and_an_empty_one_is_used(tmp_path):
    config = project(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    for _ in range(2):  # empty the first time, the engine's own the second
        result, message = invoke("run", config, "--out", out, "--quiet")
        assert result.exit_code == 0, message
        assert (out / MARKER).is_file() and (out / "ledger.json").is_file()
    assert_untouched(config)


def test_stale_work_and_building_folders_of_killed_runs_are_removed(tmp_path):
    config = project(tmp_path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    leftovers = {name: tmp_path / name for name in
                 (f".curation-work-{dead.pid}-abc", f".out.building-{dead.pid}-def", f".out.previous-{dead.pid}-")}
    alive = tmp_path / f".curation-work-{os.getpid()}-live"  # a run still working
    unmarked = tmp_path / f".curation-work-{dead.pid}-user"  # not the engine's: never touched
    for folder in [*leftovers.values(), alive, unmarked]:
        folder.mkdir()
        (folder / "input.parquet").write_bytes(b"x")
    for folder in [*leftovers.values(), alive]:
        (folder / MARKER).write_text("{}")
    result, message = invoke("run", config, "--out", tmp_path / "out")
    assert result.exit_code == 0, message
    assert not any(folder.exists() for folder in leftovers.values())
    assert alive.is_dir() and unmarked.is_dir()
    assert "left by a run that was killed" in message


def test_ingest_refuses_a_folder_or_its_own_input_as_output(tmp_path):
    config = project(tmp_path)
    data = config.parent / "data" / "arena.jsonl"
    result, message = invoke("ingest", data, "-o", config.parent / "data")
    assert result.exit_code == 2 and "is a folder" in message
    result, message = invoke("ingest", data, "-o", data)
    assert result.exit_code == 2 and "the file the command reads" in message
    assert_untouched(config)


def test_a_stage_command_refuses_a_folder_it_did_not_write(tmp_path):
    config = project(tmp_path)
    result, message = invoke("normalise", config.parent / "data" / "arena.jsonl", "-o", config.parent)
    assert result.exit_code == 2
    assert_untouched(config)


def test_a_read_only_output_parent_is_a_clear_error(tmp_path):
    """Root writes anywhere, so the parent is made read-only with a read-only bind mount in a mount namespace."""
    config = project(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    command = (f"mount --bind {locked} {locked} && mount -o remount,bind,ro {locked} && "
               f"{sys.executable} -m curation.cli run {config} --out {locked / 'out'} --quiet")
    try:
        done = subprocess.run(["unshare", "-m", "sh", "-c", command], capture_output=True, text=True, timeout=300)
    except FileNotFoundError:
        pytest.skip("unshare is not installed")
    if "mount:" in done.stderr or "unshare:" in done.stderr:
        pytest.skip(f"no mount namespace here: {done.stderr.strip()}")
    message = " ".join(done.stderr.split())
    assert done.returncode == 2, message
    assert "permission denied" in message or "Read-only" in message
    assert "Traceback" not in done.stderr


def test_a_dataset_name_too_long_for_the_hub_is_a_config_error(tmp_path):
    config = project(tmp_path)
    config.write_text(yaml.safe_dump({"name": "x" * 300, "input": {"path": "data/arena.jsonl"}}))
    result, message = invoke("run", config, "--quiet")
    assert result.exit_code == 2 and "at most 80 characters" in message


ALIAS_BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
"""


def test_a_yaml_alias_bomb_in_a_rule_pack_is_refused_at_once(tmp_path):
    config = project(tmp_path, gate={"packs": ["bomb_pack.yaml"]})
    anchors = "".join(f"  {line}\n" for line in ALIAS_BOMB.splitlines())
    (config.parent / "bomb_pack.yaml").write_text(
        f"name: bomb\nanchors:\n{anchors}expectations:\n  - expectation: expect_column_values_to_be_in_set\n"
        "    kwargs: {column: country, value_set: *h}\n")
    for command in (["run", config, "--quiet"], ["rules", "--config", config]):
        result, message = invoke(*command)
        assert result.exit_code == 2, message
        assert "aliases" in message and "bomb_pack.yaml" in message


def test_a_yaml_alias_bomb_as_the_config_is_refused(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text(ALIAS_BOMB + "name: x\ninput: {path: x.csv}\n")
    result, message = invoke("run", config, "--quiet")
    assert result.exit_code == 2 and "aliases" in message


def test_yaml_anchors_of_a_normal_size_still_work(tmp_path):
    config = project(tmp_path)
    config.write_text("name: safe\ninput: {path: data/arena.jsonl}\nsplit: &split {test_fraction: 0.2, seed: 1}\n"
                      "dedupe: {semantic: {enabled: false}}\n")
    result, message = invoke("run", config, "--out", tmp_path / "out", "--quiet")
    assert result.exit_code == 0, message


def test_tagging_switched_off_runs_and_reports(tmp_path):
    config = project(tmp_path, tagging={"enabled": False}, output={"dir": "../out"})
    result, message = invoke("run", config)
    assert result.exit_code == 0, (message, result.exception)
    validation = yaml.safe_load((tmp_path / "out" / "validation.json").read_text())
    assert {tuple(entry["missing_columns"]) for entry in validation["skipped"]} == {("dimension",), ("prompt_lang",)}
    assert "skipped" in message
    result, message = invoke("report", tmp_path / "out")
    assert result.exit_code == 0, (message, result.exception)
    assert "Gap list" not in (tmp_path / "out" / "bias_audit.md").read_text()


def test_language_workers_never_exceed_the_cores(monkeypatch):
    from curation.language import combined_identify

    texts = [f"Esta es la frase número {number} sobre la comida de mi abuela." for number in range(25_000)]
    languages, _ = combined_identify(texts, workers=24)
    assert len(languages) == len(texts)
    assert len(multiprocessing.active_children()) <= len(os.sched_getaffinity(0))


def test_report_out_is_checked_like_any_output(demo_run, tmp_path):
    out, _ = demo_run
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "report.md").write_text("my own report")
    result, message = invoke("report", out, "--out", mine)
    assert result.exit_code == 2 and "was not written by curation" in message
    assert (mine / "report.md").read_text() == "my own report"
    for _ in range(2):  # a new folder, then the engine's own
        result, message = invoke("report", out, "--out", tmp_path / "reports")
        assert result.exit_code == 0, message
    assert (tmp_path / "reports" / "report.html").is_file()


def test_paths_inside_a_folder_we_may_not_open_are_clear_errors(tmp_path):
    """Root reads anything, so the command runs without the capabilities that let it (setpriv)."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv is not installed")
    config = project(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    shutil.copy(DEMO, locked / "arena.jsonl")
    locked.chmod(0)
    unprivileged = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-m", "curation.cli"]
    try:
        for arguments in (["ingest", locked / "arena.jsonl", "-o", tmp_path / "records.parquet"],
                          ["run", config, "--out", locked / "out", "--quiet"]):
            done = subprocess.run([*unprivileged, *map(str, arguments)], capture_output=True, text=True, timeout=300)
            assert done.returncode == 2, done.stderr
            assert "Traceback" not in done.stderr and "ermission denied" in done.stderr
    finally:
        locked.chmod(0o755)


def test_extend_refuses_an_output_folder_it_did_not_write(demo_run, tmp_path):
    out, _ = demo_run
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "generated.parquet").write_text("a user's file")
    result, message = invoke("extend", out, "--out", mine, "--dry-run")
    assert result.exit_code == 2 and "was not written by curation" in message
    assert (mine / "generated.parquet").read_text() == "a user's file"


def test_an_audit_target_that_is_missing_or_a_bomb_is_a_config_error(demo_run, tmp_path):
    out, _ = demo_run
    bomb = tmp_path / "target.yaml"
    bomb.write_text(ALIAS_BOMB + "source: x\nvalues: {ES: 1}\n")
    for target, expected in ((tmp_path / "missing.yaml", "no such file"), (bomb, "aliases")):
        result, message = invoke("report", out, "--out", tmp_path / "report", "--target", target)
        assert result.exit_code == 2 and expected in message, message


def test_a_bug_is_one_line_and_a_log_not_a_traceback(monkeypatch, tmp_path, capsys):
    """Exit codes: 2 bad input, 3 gate failed, 4 a bug (1 stays Python's own crash code)."""
    import curation.cli as cli

    def broken(**_):
        raise RuntimeError("a bug")

    monkeypatch.setenv("CURATION_CACHE", str(tmp_path))
    monkeypatch.setattr(cli, "app", broken)
    with pytest.raises(SystemExit) as stopped:
        cli.main()
    assert stopped.value.code == cli.EXIT_INTERNAL_ERROR == 4
    message = capsys.readouterr().err
    assert "internal error: RuntimeError: a bug" in message and "Traceback" not in message
    (log,) = (tmp_path / "logs").glob("crash-*.log")
    assert "Traceback" in log.read_text() and "RuntimeError: a bug" in log.read_text()

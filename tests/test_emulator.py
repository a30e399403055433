"""The emulator by hand, as a steward runs it: its own process, `--port`, the lines it prints to export,
then `curation extend --dry-run` and `curation classify` against it."""

import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from contextlib import contextmanager

import polars as pl
from typer.testing import CliRunner

from curation.cli import app

COMMAND = [sys.executable, "-m", "curation.llms.cohere_emulator"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def served(*options: str):
    """The emulator in its own process, stopped (by its pid) at the end."""
    with subprocess.Popen([*COMMAND, *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            yield process
        finally:  # then Popen's exit closes the pipes
            process.terminate()
            process.wait(timeout=10)


def exported(process: subprocess.Popen) -> dict[str, str]:
    """The two `export NAME=value` lines the emulator prints first, as the shell would set them."""
    lines = [process.stdout.readline().rstrip("\n") for _ in range(2)]
    assert all(line.startswith("export ") for line in lines), (lines, process.stderr.read() if process.poll() is not None else "")
    return dict(line.removeprefix("export ").split("=", 1) for line in lines)


def test_help_names_the_port_and_the_variable_to_export():
    result = subprocess.run([*COMMAND, "--help"], capture_output=True, text=True, check=True)
    assert "--port" in result.stdout and "COHERE_BASE_URL" in result.stdout


def test_a_steward_starts_it_on_a_port_exports_its_lines_and_runs_the_commands(seed_run, tmp_path):  # noqa: F811
    run_dir = seed_run
    port = free_port()
    with served("--port", str(port)) as process:
        environment = exported(process)
        assert environment["COHERE_BASE_URL"] == f"http://127.0.0.1:{port}" and environment["COHERE_API_KEY"]
        dry_run = CliRunner().invoke(app, ["extend", str(run_dir), "--out", str(tmp_path / "extension"), "--dry-run"],
                                     env=environment)
        labels = tmp_path / "labels.parquet"
        classified = CliRunner().invoke(app, ["classify", str(run_dir), "--out", str(labels)], env=environment)
    assert dry_run.exit_code == 0 and "total" in dry_run.output, dry_run.output
    assert classified.exit_code == 0, classified.output  # a wrong URL would have failed every call (exit 2)
    assert pl.read_parquet(labels).height == pl.read_parquet(run_dir / "accepted.parquet").height


def status(base_url: str, key: str) -> int:
    """The HTTP status of one chat request with this key."""
    request = urllib.request.Request(f"{base_url}/v2/chat", data=json.dumps({"model": "command-r7b-12-2024", "messages": []}).encode(),
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def test_a_key_given_at_start_is_the_one_it_prints_and_the_only_one_it_accepts():
    with served("--api-key", "steward-key") as process:
        environment = exported(process)
        assert environment["COHERE_API_KEY"] == "steward-key"
        assert status(environment["COHERE_BASE_URL"], "steward-key") == 200
        assert status(environment["COHERE_BASE_URL"], "another-key") == 401


def test_a_port_in_use_exits_2_naming_it():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([*COMMAND, "--port", str(port)], check=False, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and f"127.0.0.1:{port}" in result.stderr and result.stdout == ""


def test_a_port_or_latency_out_of_range_exits_2_naming_the_option():
    for option, value in (("--port", "65536"), ("--port", "-1"), ("--latency", "nan"), ("--latency", "-1")):
        result = subprocess.run([*COMMAND, option, value], check=False, capture_output=True, text=True, timeout=60)
        assert result.returncode == 2 and option in result.stderr and repr(value) in result.stderr, (option, value)

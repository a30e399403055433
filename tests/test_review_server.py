"""`curation review serve` as a real process: a private home, no secret on a command line, nothing left
running after a kill -9, and no false "Argilla is up" when the port or the home is taken."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import psutil
import pytest
from typer.testing import CliRunner

from curation.cli import app
from curation.review.server import ACCOUNT_FILES, PIDFILE, SERVER_VENV, LocalArgilla, claim_home, free_port, read_environment

pytestmark = pytest.mark.skipif(not (SERVER_VENV / "bin" / "python").is_file() or shutil.which("redis-server") is None,
                                reason="the Argilla stack is not installed (`make test` installs it: make argilla)")


def serve(home: Path, port: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "curation", "review", "serve", "--home", str(home), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def command_lines() -> set[str]:
    """Every process's command line as `ps` shows it to any user (/proc/<pid>/cmdline)."""
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            found.add((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:  # not a process, or gone
            pass
    return found


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One serve on a fresh home, watched from its start: every command line seen while it comes up."""
    home = tmp_path_factory.mktemp("served") / "argilla"
    port = free_port()
    seen: set[str] = set()
    up = threading.Event()

    def watch() -> None:
        while not up.wait(0.02):  # 50 looks a second: making an account takes seconds
            seen.update(command_lines())

    watcher = threading.Thread(target=watch)
    watcher.start()
    process = serve(home, port)
    printed = []
    try:
        for line in process.stdout:
            printed.append(line)
            if "Argilla is up" in line:
                break
    finally:
        up.set()
        watcher.join()
    assert "Argilla is up" in "".join(printed), "".join(printed)
    yield process, home, port, seen
    process.kill()
    process.communicate(timeout=30)


def test_a_fresh_home_and_everything_in_it_are_private(served):
    _, home, _, _ = served
    assert {"argilla.db", "accounts.env", "annotator.env", "server.log", PIDFILE} <= {path.name for path in home.iterdir()}
    opened = {str(path): oct(path.stat().st_mode & 0o777) for path in [home, *home.rglob("*")] if path.stat().st_mode & 0o077}
    assert opened == {}


def test_no_password_or_key_is_on_a_command_line(served):
    _, home, port, seen = served
    assert any("users create" in line for line in seen)  # the watcher saw the accounts being made
    keys = {role: read_environment(home / name) for role, name in ACCOUNT_FILES.items()}
    secrets = [values[name] for values in keys.values() for name in ("ARGILLA_PASSWORD", "ARGILLA_API_KEY")]
    assert len(set(secrets)) == 4 and not [line for line in seen for secret in secrets if secret in line]
    for role in ("owner", "annotator"):  # the accounts were made with them all the same
        me = httpx.get(f"http://127.0.0.1:{port}/api/v1/me", headers={"X-Argilla-Api-Key": keys[role]["ARGILLA_API_KEY"]})
        assert me.status_code == 200 and me.json()["role"] == role


def test_a_second_serve_of_the_same_home_is_refused(served):
    first, home, _, _ = served
    second = serve(home, free_port())
    output, _ = second.communicate(timeout=60)
    assert second.returncode == 2 and "is up" not in output
    assert "already served by process" in output and str(first.pid) in output


def test_nothing_outlives_a_serve_killed_with_kill_9(served):
    """Last in this file: it kills the module's serve."""
    process, _, _, _ = served
    children = psutil.Process(process.pid).children(recursive=True)
    assert {child.name() for child in children} >= {"redis-server"} and len(children) >= 2
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == []


def test_serve_refuses_a_port_another_program_holds(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        process = serve(tmp_path / "argilla", port)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 2 and "is up" not in output
    assert f"port {port} on 127.0.0.1 is already in use by process {os.getpid()}" in " ".join(output.split())


def test_serve_exits_2_when_its_server_dies(tmp_path, monkeypatch):
    monkeypatch.setattr(LocalArgilla, "start", lambda self: self)
    monkeypatch.setattr(LocalArgilla, "alive", lambda self: False)  # as if redis or argilla-server died
    result = CliRunner().invoke(app, ["review", "serve", "--home", str(tmp_path), "--port", str(free_port())])
    assert result.exit_code == 2 and "died" in result.output


def test_what_a_dead_serve_left_running_is_stopped(tmp_path):
    """Orphans of a serve that died (where no parent-death signal stopped them) hold the port and the
    database: the next start on the home stops them. The dead serve's pid is alive again, reused by an
    unrelated process (this one, started at another time): that does not count as the serve."""
    orphan = psutil.Popen(["sleep", "60"])
    (tmp_path / PIDFILE).write_text(json.dumps({"serve": [os.getpid(), 0.0], "processes": [[orphan.pid, orphan.create_time()]]}))
    claim_home(tmp_path)
    assert not orphan.is_running()
    orphan.poll()  # claim_home reaped it: its Popen learns so, and does not warn that it still runs

"""A real Argilla server on 127.0.0.1, started by the project: redis-server (Debian), argilla-server
from PyPI in its own environment (its pins clash with the engine's), SQLite, and the SQL search engine
(argilla_sql_engine.py). An owner and an annotator account are created on first start.

`curation review serve` runs it for a team on a laptop; the tests start the same in a session fixture.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from curation.errors import CurationError

HERE = Path(__file__).resolve().parent
REPOSITORY = HERE.parents[1]
SERVER_VENV = REPOSITORY / ".argilla-server-venv"
WORKSPACE = "curation"


class ReviewServerError(CurationError):
    """The review server could not be started or reached."""


def server_python() -> Path:
    """The argilla-server environment's Python: $ARGILLA_SERVER_PYTHON, or the one `make argilla` builds."""
    python = Path(os.environ.get("ARGILLA_SERVER_PYTHON") or SERVER_VENV / "bin" / "python")
    if not python.is_file():
        raise ReviewServerError(f"no argilla-server environment at {python}: run `make argilla` first "
                                "(or set ARGILLA_SERVER_PYTHON, or use a hosted Argilla with --api-url and --api-key)")
    return python


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Account:
    username: str
    role: str
    password: str
    api_key: str


@dataclass
class LocalArgilla:
    """The whole stack under `home`; use as a context manager, or start() and stop()."""
    home: Path
    port: int = 6900
    redis_port: int = 0
    accounts: dict[str, Account] = field(default_factory=dict)
    _processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _environment(self) -> dict[str, str]:
        return {**os.environ, "ARGILLA_HOME_PATH": str(self.home), "ARGILLA_SEARCH_ENGINE": "sql",
                "ARGILLA_REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0", "ARGILLA_ENABLE_TELEMETRY": "0",
                "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_OFFLINE": "1"}

    def _server(self, *arguments: str, background: bool = False) -> subprocess.Popen | subprocess.CompletedProcess:
        command = [str(server_python()), str(HERE / "argilla_launch.py"), *arguments]
        if background:
            log = (self.home / "server.log").open("ab")
            return subprocess.Popen(command, env=self._environment(), stdout=log, stderr=subprocess.STDOUT)
        done = subprocess.run(command, env=self._environment(), capture_output=True, text=True)
        if done.returncode != 0:
            raise ReviewServerError(f"argilla-server {' '.join(arguments[:3])} failed: {done.stderr.strip()[-800:]}")
        return done

    def start(self, timeout: float = 90) -> LocalArgilla:
        """Start the stack; if any part fails (or Ctrl-C comes) midway, what did start is stopped."""
        try:
            return self._start(timeout)
        except BaseException:
            self.stop()
            raise

    def _start(self, timeout: float) -> LocalArgilla:
        self.home.mkdir(parents=True, exist_ok=True)
        redis = shutil.which("redis-server")
        if redis is None:
            raise ReviewServerError("redis-server is not installed: `make argilla` installs Debian's redis-server")
        self.redis_port = self.redis_port or free_port()
        self._processes.append(subprocess.Popen(
            [redis, "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        self._server("database", "migrate")
        self.accounts = self._ensure_accounts()
        self._processes.append(self._server("start", "--host", "127.0.0.1", "--port", str(self.port), background=True))
        self._wait(timeout)
        return self

    def _ensure_accounts(self) -> dict[str, Account]:
        """The owner and an annotator, created once and kept in the home folder (mode 600)."""
        saved = self.home / "accounts.env"
        if saved.is_file():
            fields = dict(line.split("=", 1) for line in saved.read_text().splitlines() if "=" in line)
            return {role: Account(fields[f"{role}_username"], role, fields[f"{role}_password"], fields[f"{role}_api_key"])
                    for role in ("owner", "annotator")}
        accounts = {role: Account(role, role, secrets.token_urlsafe(12), f"{role}.{secrets.token_urlsafe(24)}")
                    for role in ("owner", "annotator")}
        for account in accounts.values():
            self._server("database", "users", "create", "--first-name", account.username.capitalize(),
                         "--username", account.username, "--role", account.role, "--password", account.password,
                         "--api-key", account.api_key, "--workspace", WORKSPACE)
        saved.write_text("".join(f"{role}_{key}={getattr(account, key)}\n" for role, account in accounts.items()
                                 for key in ("username", "password", "api_key")))
        saved.chmod(0o600)
        return accounts

    def _wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._processes[-1].poll() is not None:
                raise ReviewServerError(f"argilla-server exited; see {self.home / 'server.log'}")
            try:
                answer = httpx.get(f"{self.api_url}/api/v1/me", headers={"X-Argilla-Api-Key": self.accounts["owner"].api_key},
                                   timeout=2)
                if answer.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise ReviewServerError(f"argilla-server did not answer on {self.api_url} within {timeout:.0f} s; "
                                f"see {self.home / 'server.log'}")

    def alive(self) -> bool:
        return bool(self._processes) and all(process.poll() is None for process in self._processes)

    def stop(self) -> None:
        for process in reversed(self._processes):
            process.terminate()
        for process in self._processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        self._processes.clear()

    def __enter__(self) -> LocalArgilla:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

"""A real Argilla server on 127.0.0.1, started by the project: redis-server (Debian), argilla-server
from PyPI in its own environment (its pins clash with the engine's), SQLite, and the SQL search engine
(argilla_sql_engine.py). An owner and an annotator account are created on first start.

`curation review serve` runs it for a team on a laptop; the tests start the same in a session fixture.

The home folder holds the database, whose API keys are in plain text: it is 0700 and what the stack writes
in it 0600. The stack's processes die with the process that started them, even by kill -9 (Linux), and
are recorded in <home>/serve.pid, so a second start on the same home is refused while the first lives.
"""

from __future__ import annotations

import ctypes
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil  # a dependency of codecarbon, trl and peft

from curation.errors import CurationError

HERE = Path(__file__).resolve().parent  # argilla_launch.py is installed beside this file, in a wheel too
REPOSITORY = HERE.parents[1]  # the source checkout when installed editable (`make setup`)
SERVER_VENV_NAME = ".argilla-server-venv"
SERVER_VENV = REPOSITORY / SERVER_VENV_NAME
WORKSPACE = "curation"
PIDFILE = "serve.pid"
ACCOUNT_FILES = {"owner": "accounts.env", "annotator": "annotator.env"}
ENVIRONMENT = {"url": "ARGILLA_API_URL", "api_key": "ARGILLA_API_KEY", "username": "ARGILLA_USERNAME",
               "password": "ARGILLA_PASSWORD"}
PRIVATE = 0o077  # the umask of everything the stack writes: no access for group and others
PR_SET_PDEATHSIG = 1


class ReviewServerError(CurationError):
    """The review server could not be started or reached."""


def server_python() -> Path:
    """The argilla-server environment's Python: $ARGILLA_SERVER_PYTHON, else the one `make argilla` builds in
    the current folder or in the source checkout (an install from a wheel has no checkout)."""
    configured = os.environ.get("ARGILLA_SERVER_PYTHON")
    candidates = [Path(configured)] if configured else [base / SERVER_VENV_NAME / "bin" / "python" for base in (Path.cwd(), REPOSITORY)]
    found = next((python for python in candidates if python.is_file()), None)
    if found is None:
        raise ReviewServerError(f"no argilla-server environment at {' or '.join(str(python) for python in dict.fromkeys(candidates))}: "
                                "run `make argilla` first (or set ARGILLA_SERVER_PYTHON, or use a hosted Argilla with "
                                "--api-url and --api-key)")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def check_port_free(port: int) -> None:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT does not count
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise ReviewServerError(f"port {port} on 127.0.0.1 is already in use{_listener(port)}: "
                                    "stop it, or choose another port with --port") from None


def _listener(port: int) -> str:
    """Who listens on the port, when we may see it (our own processes; everyone's as root)."""
    for connection in psutil.net_connections(kind="tcp"):
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port and connection.pid:
            return f" by process {_describe(connection.pid)}"
    return ""


def _describe(pid: int) -> str:
    try:
        return f"{pid} ({' '.join(psutil.Process(pid).cmdline())[:200]})"
    except psutil.Error:
        return str(pid)


def _identity(process: psutil.Process) -> list:
    """A pid and its start time: a pid alone may have been reused by an unrelated process."""
    return [process.pid, process.create_time()]


def _still_running(identity: list) -> psutil.Process | None:
    pid, started = identity
    try:
        process = psutil.Process(pid)
        return process if process.create_time() == started and process.status() != psutil.STATUS_ZOMBIE else None
    except psutil.Error:
        return None


def claim_home(home: Path) -> None:
    """Refuse a home that a live serve uses (two servers on one SQLite database, one port); stop what a dead
    serve left running there (its orphans hold the port and the database, and they are ours)."""
    try:
        stack = json.loads((home / PIDFILE).read_text())
    except (OSError, ValueError):
        return
    serve = _still_running(stack["serve"])
    if serve is not None:
        raise ReviewServerError(f"{home} is already served by process {_describe(serve.pid)}: stop it first "
                                "(Ctrl-C where it runs), or use another --home")
    orphans = [process for process in map(_still_running, stack["processes"]) if process is not None]
    for orphan in orphans:
        orphan.terminate()
    for orphan in psutil.wait_procs(orphans, timeout=15)[1]:
        orphan.kill()


def account_environment(account: Account, api_url: str) -> str:
    """An account as shell variables the argilla SDK and `curation review` read: `source` the file."""
    values = {"url": api_url, "api_key": account.api_key, "username": account.username, "password": account.password}
    return (f"# Argilla's {account.role} account ({account.username}): `source` this file, then `curation review push` ...\n"
            + "".join(f"export {ENVIRONMENT[key]}={shlex.quote(value)}\n" for key, value in values.items()))


def read_environment(path: Path) -> dict[str, str]:
    """NAME=value lines of a file written by account_environment (or older versions), without `export`."""
    lines = [line.removeprefix("export ") for line in path.read_text().splitlines() if "=" in line and not line.startswith("#")]
    return {name: shlex.split(value)[0] if value else "" for name, value in (line.split("=", 1) for line in lines)}


def _write_private(path: Path, text: str) -> None:
    """Created 0600: never readable by others, not even for the moment before a chmod."""
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as file:
        file.write(text)


def _stack_child() -> dict:
    """Popen options for each process of the stack: what it writes is private (the database holds the API
    keys in plain text), and it dies with this process, even by kill -9 (Linux)."""
    return {"umask": PRIVATE, "preexec_fn": _die_with(os.getpid()) if sys.platform == "linux" else None}


def _die_with(parent: int):
    """A preexec_fn: the child gets SIGTERM when its parent dies. Linux sends it when the parent's *thread*
    that started the child ends, so start the stack from a thread that lives as long as it (the main one)."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def prepare() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl: no signal would come
            os._exit(1)
    return prepare


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
    _claimed: bool = False

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _environment(self) -> dict[str, str]:
        return {**os.environ, "ARGILLA_HOME_PATH": str(self.home), "ARGILLA_SEARCH_ENGINE": "sql",
                "ARGILLA_REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0", "ARGILLA_ENABLE_TELEMETRY": "0",
                "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_OFFLINE": "1"}

    def _server(self, *arguments: str, background: bool = False,
                hidden: dict[str, str] | None = None) -> subprocess.Popen | subprocess.CompletedProcess:
        """argilla_launch.py with these arguments; the `hidden` variables go in its environment (readable by
        this user only), never on its command line (which `ps` shows to every user)."""
        command = [str(server_python()), str(HERE / "argilla_launch.py"), *arguments]
        environment = {**self._environment(), **(hidden or {})}
        if background:
            log = os.open(self.home / "server.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                return subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT, **_stack_child())
            finally:
                os.close(log)
        done = subprocess.run(command, env=environment, capture_output=True, text=True, **_stack_child())
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
        redis = shutil.which("redis-server")
        if redis is None:
            raise ReviewServerError("redis-server is not installed: `make argilla` installs Debian's redis-server")
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.home.chmod(0o700)  # a home made before, or by hand, may be open to others
        claim_home(self.home)
        check_port_free(self.port)
        self._claimed = True
        self._record_processes()
        self.redis_port = self.redis_port or free_port()
        self._processes.append(subprocess.Popen(
            [redis, "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **_stack_child()))
        self._record_processes()
        self._server("database", "migrate")
        self.accounts = self._ensure_accounts()
        self._processes.append(self._server("start", "--host", "127.0.0.1", "--port", str(self.port), background=True))
        self._record_processes()
        self._wait(timeout)
        return self

    def _record_processes(self) -> None:
        """<home>/serve.pid: this process and the stack's, for the next start on this home (claim_home)."""
        stack = {"serve": _identity(psutil.Process()), "processes": [_identity(psutil.Process(process.pid))
                                                                     for process in self._processes]}
        _write_private(self.home / PIDFILE, json.dumps(stack))

    def _ensure_accounts(self) -> dict[str, Account]:
        """The owner and an annotator, created once; each one's keys in a file to `source` (mode 600):
        <home>/accounts.env (the owner) and <home>/annotator.env, rewritten with this start's URL."""
        accounts = self._saved_accounts()
        if accounts is None:
            accounts = {role: Account(role, role, secrets.token_urlsafe(12), f"{role}.{secrets.token_urlsafe(24)}")
                        for role in ("owner", "annotator")}
            for account in accounts.values():
                self._server("database", "users", "create", "--first-name", account.username.capitalize(),
                             "--username", account.username, "--role", account.role, "--workspace", WORKSPACE,
                             hidden={"ARGILLA_LAUNCH_PASSWORD": account.password, "ARGILLA_LAUNCH_API_KEY": account.api_key})
        for role, account in accounts.items():
            _write_private(self.home / ACCOUNT_FILES[role], account_environment(account, self.api_url))
        return accounts

    def _saved_accounts(self) -> dict[str, Account] | None:
        """The accounts of an earlier start: one file per role, or the single file of older versions."""
        files = {role: self.home / name for role, name in ACCOUNT_FILES.items()}
        if all(file.is_file() for file in files.values()):
            saved = {role: read_environment(file) for role, file in files.items()}
            if all(ENVIRONMENT["api_key"] in values for values in saved.values()):
                return {role: Account(values[ENVIRONMENT["username"]], role, values[ENVIRONMENT["password"]],
                                      values[ENVIRONMENT["api_key"]]) for role, values in saved.items()}
        older = read_environment(files["owner"]) if files["owner"].is_file() else {}
        if "owner_api_key" in older:
            return {role: Account(older[f"{role}_username"], role, older[f"{role}_password"], older[f"{role}_api_key"])
                    for role in ("owner", "annotator")}
        return None

    def _wait(self, timeout: float) -> None:
        """Until our own argilla-server answers: another one on the port (it may know our keys, if it serves
        this home) does not count."""
        server = self._processes[-1]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise ReviewServerError(f"argilla-server exited ({self._last_logged()}); see {self.home / 'server.log'}")
            try:
                answer = httpx.get(f"{self.api_url}/api/v1/me", headers={"X-Argilla-Api-Key": self.accounts["owner"].api_key},
                                   timeout=2)
                if answer.status_code == 200 and self._listens(server.pid):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise ReviewServerError(f"argilla-server did not answer on {self.api_url} within {timeout:.0f} s; "
                                f"see {self.home / 'server.log'}")

    def _listens(self, pid: int) -> bool:
        try:
            return any(connection.status == psutil.CONN_LISTEN and connection.laddr.port == self.port
                       for connection in psutil.Process(pid).net_connections(kind="tcp"))
        except psutil.Error:
            return False

    def _last_logged(self) -> str:
        lines = (self.home / "server.log").read_text(errors="replace").strip().splitlines()
        return lines[-1][-300:] if lines else "nothing logged"

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
        if self._claimed:
            (self.home / PIDFILE).unlink(missing_ok=True)
            self._claimed = False

    def __enter__(self) -> LocalArgilla:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

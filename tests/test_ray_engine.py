"""The Ray engine (`curation run --engine ray`) puts every row where the local engine puts it: same status,
reasons, duplicate target and split, row for row, on a Ray started in the test's own process (the default
suite's test) and on a real two-node Ray cluster started here (slow); a worker killed mid-run is retried
and the run still balances."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl
import psutil
import pytest
from typer.testing import CliRunner

from curation.cli import app
from curation.config import RunConfig, demo_config
from curation.ledger import ROW_COLUMNS
from curation.near_duplicates import Shingles
from curation.reports.evaluation import run_rows
from curation.run import run
from curation.run_folder import RunFolder, present

ROOT = Path(__file__).resolve().parents[1]
RAY = Path(sys.executable).with_name("ray")
COMPARED = ["source", "status", "reasons", "duplicate_of", "split"]
# The two-node tests take minutes on this shared 2-core machine: out of the default suite's budget.
slow = pytest.mark.slow
NODE = ["--num-cpus", "1", "--object-store-memory", "200000000", "--disable-usage-stats", "--block"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    """Two Ray nodes on this machine (1 CPU each), as `ray start` makes a cluster; stopped by their own pids."""
    address = f"127.0.0.1:{free_port()}"
    # A cluster on the loopback for this module only: no token (the driver below connects without one).
    saved = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    env = dict(os.environ)
    head = subprocess.Popen([str(RAY), "start", "--head", "--node-ip-address", "127.0.0.1", "--port", address.split(":")[1],
                             "--include-dashboard", "false", *NODE], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    nodes = NODES
    nodes[:] = [head]
    try:
        _wait_for(address)
        nodes.append(subprocess.Popen([str(RAY), "start", "--address", address, "--node-ip-address", "127.0.0.1", *NODE],
                                      env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _wait_for_nodes(address, 2)
        yield address
    finally:
        for node in reversed(nodes):  # `ray start --block` stops the processes it started when it is told to
            node.send_signal(signal.SIGTERM)
            try:
                node.wait(timeout=60)
            except subprocess.TimeoutExpired:
                node.kill()
        if saved is None:
            os.environ.pop("RAY_AUTH_MODE")
        else:
            os.environ["RAY_AUTH_MODE"] = saved


NODES: list[subprocess.Popen] = []  # the `ray start` processes of the module's cluster


def cluster_workers() -> list[psutil.Process]:
    """The processes the cluster's nodes started (never another Ray on this machine)."""
    workers = []
    for node in NODES:
        try:
            workers += psutil.Process(node.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            pass
    return workers


def _wait_for(address: str) -> None:
    host, port = address.split(":")
    for _ in range(240):
        with socket.socket() as probe:
            if probe.connect_ex((host, int(port))) == 0:
                return
        time.sleep(0.5)
    raise RuntimeError(f"the Ray head at {address} did not start")


def _wait_for_nodes(address: str, count: int) -> None:
    script = ("import ray, time\nray.init(address=%r, log_to_driver=False)\n"
              "while sum(n['Alive'] for n in ray.nodes()) < %d: time.sleep(0.5)\n") % (address, count)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=180, capture_output=True)


def ledger_of(folder: Path) -> pl.DataFrame:
    """Where each row ended, from a run folder's ledger (one file, or a folder of shards)."""
    path = folder / "ledger.parquet"
    return pl.read_parquet(path / "*.parquet" if path.is_dir() else path, columns=COMPARED).sort("source")


def assert_same_rows(local: Path, distributed: Path) -> None:
    expected, actual = ledger_of(local), ledger_of(distributed)
    assert expected.height == actual.height
    differing = expected.join(actual, on="source", how="full", suffix="_ray", coalesce=True).filter(
        pl.any_horizontal(~pl.col(column).eq_missing(pl.col(f"{column}_ray")) for column in COMPARED[1:]))
    assert differing.height == 0, differing
    assert expected.get_column("status").value_counts().height >= 2  # rows ended in more than one place


def config_for(path: Path, name: str) -> RunConfig:
    return RunConfig(name=name, input={"path": str(path)})


def run_both(config: RunConfig, tmp_path: Path, address: str | None) -> tuple[Path, Path]:
    local, distributed = tmp_path / "local", tmp_path / "ray"
    run(config, local)
    run(config.model_copy(update={"engine": "ray", "address": address}), distributed)
    return local, distributed


@slow
def test_the_demo_on_two_nodes_through_the_cli(cluster, tmp_path):
    local, distributed = tmp_path / "local", tmp_path / "ray"
    run(demo_config(), local)
    result = CliRunner().invoke(app, ["run", "--demo", "--engine", "ray", "--address", cluster, "--out", str(distributed), "-q"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert_same_rows(local, distributed)
    assert (distributed / "accepted.parquet").is_dir() and len(list((distributed / "accepted.parquet").glob("*.parquet"))) >= 1
    folder = RunFolder.read(distributed)  # the report, audit and cards read the sharded outputs
    assert folder.accepted.height == RunFolder.read(local).accepted.height
    assert folder.summary["engine"]["name"] == "ray" and folder.summary["engine"]["shuffle_bytes"]
    assert pl.read_parquet(distributed / "ledger.parquet" / "*.parquet").columns == ROW_COLUMNS
    assert sorted(os.listdir(distributed / "demo_arena_dpo")) == sorted(os.listdir(local / "demo_arena_dpo"))


@slow
def test_the_shared_sample_on_two_nodes(cluster, arena_sample, tmp_path):
    assert_same_rows(*run_both(config_for(arena_sample, "arena_sample"), tmp_path, cluster))


@slow
def test_twenty_thousand_generated_rows_on_two_nodes(cluster, arena_sample, tmp_path):
    generated = tmp_path / "generated.parquet"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "generate.py"), "--rows", "20000", "--out", str(generated)],
                   check=True, capture_output=True)
    assert_same_rows(*run_both(config_for(generated, "generated"), tmp_path, cluster))


@slow
def test_a_worker_killed_mid_run_is_retried_and_the_run_balances(cluster, tmp_path):
    """kill -9 of the first Ray worker busy with a task; Ray retries its task and every row still ends once."""
    killed = []
    done = threading.Event()

    def kill_a_busy_worker():
        while not done.is_set() and not killed:
            for process in cluster_workers():
                command = " ".join(process.cmdline())
                if command.startswith("ray::") and "IDLE" not in command and "MapBatches" in command:
                    os.kill(process.pid, signal.SIGKILL)
                    killed.append(command)
                    return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_a_busy_worker)
    killer.start()
    try:
        local, distributed = run_both(demo_config(), tmp_path, cluster)
    finally:
        done.set()
        killer.join()
    assert killed, "no busy Ray worker was seen to kill"
    assert_same_rows(local, distributed)


@slow
def test_a_killed_run_leaves_the_previous_output(cluster, tmp_path):
    out = tmp_path / "out"
    run(demo_config().model_copy(update={"engine": "ray", "address": cluster}), out)
    before = ledger_of(out)
    command = [sys.executable, "-m", "curation", "run", "--demo", "--engine", "ray", "--address", cluster, "--out", str(out), "-q"]
    running = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):  # until the run has its work folder beside the output, then kill it whole
        if any(path.name.startswith(".") for path in tmp_path.iterdir()) or running.poll() is not None:
            break
        time.sleep(0.05)
    running.kill()
    running.wait()
    assert ledger_of(out).equals(before)
    assert RunFolder.read(out).summary["input_rows"] == before.height


def test_ray_started_in_the_test_process(tmp_path):
    """The default suite's Ray test (about a minute): the demo on a Ray the caller started (ray.init() in a
    notebook), used as it is and left running; the evaluation reads the sharded ledger as the local one."""
    import ray

    ray.init(address="local", num_cpus=2, object_store_memory=200_000_000, include_dashboard=False, log_to_driver=False)
    try:
        local, distributed = run_both(demo_config(), tmp_path, None)
        assert ray.is_initialized()
    finally:
        ray.shutdown()
    assert_same_rows(local, distributed)
    assert (distributed / "ledger.parquet").is_dir() and present(distributed / "ledger.parquet")
    target = Path(demo_config().inputs()[0].path).name
    expected, actual = (run_rows(folder, target)[0].sort("source") for folder in (local, distributed))
    assert actual.select(expected.columns).equals(expected)


def test_near_dedupe_signatures_do_not_depend_on_the_texts_hashed_with_them():
    """A Ray partition hashes fewer texts than the local engine: a text's MinHash signature is the same."""
    texts = pl.Series([f"que comida preparas en tu casa de arequipa numero {number}" for number in range(3000)])
    alone = Shingles.of(texts.head(3), 2).signatures(64)
    assert (Shingles.of(texts, 2).signatures(64)[:3] == alone).all()

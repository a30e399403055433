"""The Ray engine (`curation run --engine ray`) puts every row where the local engine puts it: same status,
reasons, duplicate target and split, row for row, on a Ray started in the test's own process (the default
suite's test) and on a real two-node Ray cluster started here (slow); a worker killed mid-run is retried
and the run still balances; the distributed conservation check fails on outputs that lose a row or hold one
twice."""

import os
import shutil
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
from curation.distributed import ledger as ray_ledger
from curation.distributed.envelope import POSITION
from curation.ledger import ROW_COLUMNS, Ledger, LedgerError, StageEntry
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
    script = (f"import ray, time\nray.init(address={address!r}, log_to_driver=False)\n"
              f"while sum(n['Alive'] for n in ray.nodes()) < {count}: time.sleep(0.5)\n")
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
                try:
                    command = " ".join(process.cmdline())
                except psutil.Error:  # a worker that ended (or is ending: a zombie) since it was listed
                    continue
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


@pytest.fixture(scope="module")
def ray_in_process():
    """A Ray the caller started (ray.init() in a notebook), for the module's in-process tests; shut down after
    them (they come after the cluster's tests, which a running session would otherwise take over)."""
    import ray

    ray.init(address="local", num_cpus=2, object_store_memory=200_000_000, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def demo_in_process(ray_in_process, tmp_path_factory) -> tuple[Path, Path]:
    """The demo run by the local engine and on the in-process Ray: (local output, Ray output)."""
    return run_both(demo_config(), tmp_path_factory.mktemp("demo"), None)


def test_ray_started_in_the_test_process(ray_in_process, demo_in_process):
    """The default suite's Ray test (about a minute): the demo on a Ray the caller started, used as it is and
    left running; the evaluation reads the sharded ledger as the local one; the split's two shuffles are
    counted (each moves the rows the split got, so about twice their bytes)."""
    local, distributed = demo_in_process
    assert ray_in_process.is_initialized()
    assert_same_rows(local, distributed)
    assert (distributed / "ledger.parquet").is_dir() and present(distributed / "ledger.parquet")
    target = Path(demo_config().inputs()[0].path).name
    expected, actual = (run_rows(folder, target)[0].sort("source") for folder in (local, distributed))
    assert actual.select(expected.columns).equals(expected)
    summary = RunFolder.read(distributed).summary
    split_rows = next(entry["rows_in"] for entry in summary["stages"] if entry["stage"] == "split")
    assert split_rows == summary["status"]["accepted"]  # the split removes nothing: its rows are the accepted ones
    accepted_bytes = pl.read_parquet(distributed / "accepted.parquet" / "*.parquet").to_arrow().nbytes
    assert 1.5 * accepted_bytes < summary["engine"]["shuffle_bytes"]["split"] < 3 * accepted_bytes


def outputs_with(distributed: Path, folder: Path, change) -> Path:
    """A copy of a Ray run's sharded outputs, with `change` made to its accepted shards."""
    for name in ("accepted.parquet", "quarantine.parquet", "duplicates.parquet"):
        shutil.copytree(distributed / name, folder / name)
    accepted = folder / "accepted.parquet"
    rows = pl.read_parquet(accepted / "*.parquet")
    shutil.rmtree(accepted)
    accepted.mkdir()
    change(rows).write_parquet(accepted / "part-00000.parquet")
    return folder


def check_outputs(distributed: Path, folder: Path, change) -> None:
    """The distributed conservation check on a copy of a Ray run's outputs, `change` made to its accepted rows;
    the input as the engine reads it (canonical parquet: each source and its place) made from the ledger."""
    summary = RunFolder.read(distributed).summary
    ledger = Ledger(input_rows=summary["input_rows"], stages=[StageEntry(**entry) for entry in summary["stages"]])
    inputs = folder / "input.parquet"
    pl.read_parquet(distributed / "ledger.parquet" / "*.parquet", columns=["source"]).with_columns(
        pl.int_range(pl.len(), dtype=pl.Int64).alias(POSITION)).write_parquet(inputs)
    ray_ledger.check(ledger, summary["status"], [str(inputs)], outputs_with(distributed, folder / "out", change), 2)


def test_the_check_passes_the_outputs_as_written(ray_in_process, demo_in_process, tmp_path):
    check_outputs(demo_in_process[1], tmp_path, lambda rows: rows)


@pytest.mark.parametrize(("change", "problems"), [
    (lambda rows: rows.slice(1), ["accepted.parquet holds", "rows lost (1): ['{first}']"]),
    (lambda rows: pl.concat([rows, rows.head(1)]), ["accepted.parquet holds", "rows counted twice (1): ['{first} in accepted.parquet, accepted.parquet']"]),
], ids=["a row lost", "a row held twice"])
def test_the_check_fails_on_outputs_that_lose_a_row_or_hold_one_twice(ray_in_process, demo_in_process, tmp_path, change, problems):
    """The check reads the outputs as written: one accepted row dropped, or written twice, and the run does not
    balance, naming the row."""
    distributed = demo_in_process[1]
    first = pl.read_parquet(distributed / "accepted.parquet" / "*.parquet").get_column("source")[0]
    with pytest.raises(LedgerError) as failed:
        check_outputs(distributed, tmp_path, change)
    for problem in problems:
        assert problem.format(first=first) in str(failed.value)


def test_near_dedupe_signatures_do_not_depend_on_the_texts_hashed_with_them():
    """A Ray partition hashes fewer texts than the local engine: a text's MinHash signature is the same."""
    texts = pl.Series([f"que comida preparas en tu casa de arequipa numero {number}" for number in range(3000)])
    alone = Shingles.of(texts.head(3), 2).signatures(64)
    assert (Shingles.of(texts, 2).signatures(64)[:3] == alone).all()


def test_a_folder_of_csv_jsonl_and_parquet_shards_is_one_input(ray_in_process, tmp_path):
    """A folder of shards of three formats reads on Ray as the local engine reads the three files: same rows,
    same places (a row's source label is its shard's name and its row there)."""
    demo = pl.read_ndjson(demo_config().inputs()[0].path)
    shards = tmp_path / "shards"
    shards.mkdir()
    first, second, third = demo.slice(0, 60), demo.slice(60, 60), demo.slice(120)
    first.write_csv(shards / "a.csv")
    second.write_ndjson(shards / "b.jsonl")
    third.write_parquet(shards / "c.parquet")
    local, distributed = tmp_path / "local", tmp_path / "ray"
    run(RunConfig(name="shards", input=[{"path": str(path)} for path in sorted(shards.iterdir())]), local)
    run(RunConfig(name="shards", input={"path": str(shards)}, engine="ray"), distributed)
    assert_same_rows(local, distributed)
    assert {source.split(":")[0] for source in ledger_of(distributed).get_column("source")} == {"a.csv", "b.jsonl", "c.parquet"}


def test_a_hub_datasets_parquet_files_are_read_as_shards_by_both_engines(ray_in_process, tmp_path):
    """A Hub dataset repository as downloaded (README.md, data/<split>-0000N-of-0000M.parquet): each parquet file of
    the split is a shard; the local engine reads the same files with the same source labels."""
    demo = pl.read_ndjson(demo_config().inputs()[0].path)
    repository = tmp_path / "owner__arena"
    (repository / "data").mkdir(parents=True)
    (repository / "README.md").write_text("---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path: data/train-*\n---\n")
    for number, start in enumerate((0, 90)):
        demo.slice(start, 90).write_parquet(repository / "data" / f"train-{number:05d}-of-00002.parquet")
    demo.head(5).write_parquet(repository / "data" / "test-00000-of-00001.parquet")
    local, distributed = tmp_path / "local", tmp_path / "ray"
    config = RunConfig(name="hub", input={"path": str(repository), "split": "train"})
    run(config, local)
    run(config.model_copy(update={"engine": "ray"}), distributed)
    assert_same_rows(local, distributed)
    assert ledger_of(local).height == 180
    assert {source.split(":")[0] for source in ledger_of(distributed).get_column("source")} == {
        "train-00000-of-00002.parquet", "train-00001-of-00002.parquet"}

"""The Ray engine against the local engine on the same generated rows (issue 16). Prints Markdown for the README.

    .venv/bin/python benchmarks/bench_ray.py --rows 1000000       # /tmp/curation-bench/arena_1000000.parquet
    .venv/bin/python benchmarks/bench_ray.py --rows 100000 --timeout 1500

Each engine runs `curation run CONFIG --engine local|ray -q` in a child process, the config of
`benchmarks/bench.py run` (every stage but semantic dedupe). The Ray run starts its own small local instance
(curation/distributed/cluster.py: 2 CPUs, a 500 MB object store). Reported: wall time and its ratio (Ray's
overhead on one machine), the peak RSS of the driver process alone (its VmHWM, read every 0.2 s; the Ray
workers are other processes), seconds per 1,000 rows, the engine's seconds per stage (Ray's are summed over
its tasks) and the bytes each stage's shuffle moved (ledger.json: engine.shuffle_bytes), per row too.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import generated

CURATION = Path(sys.executable).with_name("curation")


def _peak_kb(pid: int) -> int:
    try:
        return int(re.search(r"VmHWM:\s+(\d+)", Path(f"/proc/{pid}/status").read_text()).group(1))
    except (FileNotFoundError, AttributeError):  # the process has just ended
        return 0


def run_engine(engine: str, data: Path, folder: Path, timeout: float) -> dict | None:
    """One `curation run` with this engine: wall seconds, the driver's peak RSS, its ledger summary; None
    when it did not finish within `timeout` seconds (it is then stopped)."""
    out = folder / f"out_{engine}_{data.stem}"
    config = folder / f"run_{engine}_{data.stem}.yaml"
    config.write_text(json.dumps({"name": f"bench_{engine}", "input": {"path": str(data), "format": "arena"},
                                  "output": {"dir": str(out)}, "dedupe": {"semantic": {"enabled": False}}}))
    started = time.perf_counter()
    child = subprocess.Popen([str(CURATION), "run", str(config), "--engine", engine, "-q"])
    peak = 0
    while child.poll() is None:
        peak = max(peak, _peak_kb(child.pid))
        if time.perf_counter() - started > timeout:
            child.terminate()
            child.wait()
            return None
        time.sleep(0.2)
    if child.returncode:
        raise SystemExit(f"curation run --engine {engine} failed (exit {child.returncode})")
    summary = json.loads((out / "ledger.json").read_text(encoding="utf-8"))
    return {"seconds": time.perf_counter() - started, "peak_gb": peak / 1024**2, "summary": summary}


def report(rows: int, local: dict, ray: dict | None, timeout: float) -> None:
    print(f"| {rows:,} generated rows | wall s | s per 1,000 rows | driver peak RSS GB |")
    print("|---|---|---|---|")
    for name, result in (("local engine", local), ("ray engine (local instance, 2 CPUs)", ray)):
        if result is None:
            print(f"| {name} | did not finish in {timeout:.0f} s | | |")
        else:
            print(f"| {name} | {result['seconds']:.1f} | {1000 * result['seconds'] / rows:.3f} | {result['peak_gb']:.2f} |")
    if ray is None:
        return
    print(f"\nRay / local wall time: {ray['seconds'] / local['seconds']:.2f}x\n")
    stages = {entry["stage"]: entry for entry in local["summary"]["stages"]}
    shuffled = ray["summary"]["engine"]["shuffle_bytes"]
    print("| stage | local s | ray s (summed over tasks) | shuffle MB | shuffle bytes per row |")
    print("|---|---|---|---|---|")
    for entry in ray["summary"]["stages"]:
        moved = shuffled.get(entry["stage"], 0)
        print(f"| {entry['stage']} | {stages[entry['stage']]['seconds']:.1f} | {entry['seconds']:.1f} | {moved / 1e6:.1f} | "
              f"{moved / max(entry['rows_in'], 1):.0f} |")
    print(f"\npartitions per shuffle: {ray['summary']['engine']['partitions']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "curation-bench")
    parser.add_argument("--timeout", type=float, default=1500, help="seconds the Ray run may take (default 25 minutes)")
    arguments = parser.parse_args()
    arguments.data.mkdir(parents=True, exist_ok=True)
    data = generated(arguments.rows, arguments.data)
    local = run_engine("local", data, arguments.data, timeout=float("inf"))
    ray = run_engine("ray", data, arguments.data, arguments.timeout)
    report(arguments.rows, local, ray, arguments.timeout)


if __name__ == "__main__":
    main()

"""Time `curation run` end to end (read, stages, ledger check, all writes) on the demo and the shared sample.

    .venv/bin/python benchmarks/run_times.py [--repeat 5]

Prints the median and best wall time of each and the rows per second. Figures go in the README.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1")

from curation.config import RunConfig, demo_config  # noqa: E402
from curation.run import run  # noqa: E402

SHARED_SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "arena_v0_sample.csv"


def time_run(config: RunConfig, repeat: int) -> tuple[list[float], dict]:
    seconds, summary = [], {}
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            summary = run(config, Path(folder) / "out").summary
            seconds.append(time.perf_counter() - started)
    return seconds, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    runs = {"demo (embedded)": demo_config()}
    if SHARED_SAMPLE.is_file():
        runs["arena_v0_sample.csv"] = RunConfig(name="arena_v0", input={"path": str(SHARED_SAMPLE)})
    time_run(runs["demo (embedded)"], 1)  # warm-up: imports and regex compilation
    print("| input | rows | accepted | quarantined | duplicate | median s | best s | rows/s |")
    print("|---|---|---|---|---|---|---|---|")
    for label, config in runs.items():
        seconds, summary = time_run(config, repeat)
        status, rows = summary["status"], summary["input_rows"]
        median = statistics.median(seconds)
        print(f"| {label} | {rows} | {status['accepted']} | {status['quarantined']} | {status['duplicate']} "
              f"| {median:.2f} | {min(seconds):.2f} | {rows / median:.0f} |")


if __name__ == "__main__":
    main()

"""The near_dedupe stage against a plain datasketch MinHashLSH script on the same texts (issue 14).

    python3 -m venv /tmp/datasketch-venv && /tmp/datasketch-venv/bin/pip install datasketch==2.0.0 polars
    .venv/bin/python benchmarks/near_vs_datasketch.py --rows 100000 --repeats 3

Both see the prompts of generated rows (benchmarks/generate.py) as the stage compares them (accent-, case- and
punctuation-free), the same scope keys (country and persona: no pair across two), word bigrams, threshold
0.8, 64 permutations in 16 bands of 4 (configs/arena_v0.yaml). datasketch runs in its own venv the way a
steward writes it: one MinHashLSH per scope, rows in input order, a row whose query returns a kept row is
its duplicate, any other row is kept and inserted. The engine's run is the whole stage as configured
(template guard, greedy clusters around the most complete row, possible duplicates, ledger rows).

Each side runs in a child process that reads the same records file (datasketch also reads the stage's
comparison and scope keys from it), then resets its peak RSS (Linux clear_refs): the figures are the wall
time of the dedupe alone (datasketch's includes splitting the rows into kept and removed, as the stage's
result does), the peak RSS of the process, and the memory the dedupe added over its input. Runs alternate; medians are reported with the load average seen, and the ratio of
the first pair of runs.

Quality, on a sample of rows (every row of the sample against every row of its scope, exact Jaccard of
the word-bigram sets, candidates from each sampled row's rarest bigrams, which any pair at the threshold
must share): link precision, the share of the sample's removed rows whose Jaccard with the row kept for
them is at the threshold; resolved recall, the share of the pairs at the threshold whose two rows are
not both kept; and pair precision and recall of "same cluster" against "Jaccard >= threshold" (star
clusters hold pairs under the threshold: members are each within it of their kept row only).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

HERE = Path(__file__).resolve().parent
NGRAM, PERMUTATIONS, BANDS, BAND_SIZE = 2, 64, 16, 4


def _memory_kb(field: str) -> int:
    return int(re.search(rf"{field}:\s+(\d+)", Path("/proc/self/status").read_text()).group(1))


def _measured(run) -> dict:
    """Run `run()` after resetting the process's peak RSS: seconds, the RSS before it (the input read), peak GB,
    GB over the input's RSS."""
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM starts again from the current RSS
    before = _memory_kb("VmRSS")
    started = time.perf_counter()
    reps = run()
    seconds = time.perf_counter() - started
    peak = _memory_kb("VmHWM")
    return {"seconds": seconds, "input_gb": before / 1024**2, "peak_gb": peak / 1024**2, "added_gb": (peak - before) / 1024**2,
            "reps": reps}


def bigrams(text: str) -> list[str]:
    """The stage's shingles: word n-grams, a text shorter than n words is one shingle."""
    words = [word for word in text.split(" ") if word]
    if len(words) < NGRAM:
        return [" ".join(words)] if words else []
    return [" ".join(words[i:i + NGRAM]) for i in range(len(words) - NGRAM + 1)]


def datasketch_worker(data: Path, output: Path, threshold: float) -> None:
    """In datasketch's venv: query-then-insert per scope; a row's representative is the first kept row its
    query returns, else itself; the rows are then split into kept and removed, as the stage does."""
    from datasketch import MinHash, MinHashLSH

    frame = pl.read_parquet(data)

    def run() -> np.ndarray:
        texts, scopes = frame.get_column("key").to_list(), frame.get_column("scope").to_list()
        indexes: dict[str, MinHashLSH] = {}
        reps = np.arange(len(texts), dtype=np.int64)
        shingles = ([gram.encode() for gram in bigrams(text)] for text in texts)
        for row, minhash in enumerate(MinHash.generator(shingles, num_perm=PERMUTATIONS)):
            index = indexes.setdefault(scopes[row], MinHashLSH(threshold=threshold, num_perm=PERMUTATIONS,
                                                               params=(BANDS, BAND_SIZE)))
            found = index.query(minhash)
            if found:
                reps[row] = found[0]
            else:
                index.insert(row, minhash)
        removed = pl.Series(reps != np.arange(len(reps)))
        kept, gone = frame.filter(~removed), frame.filter(removed).with_columns(duplicate_of=frame.get_column("id").gather(reps[removed.to_numpy()]))
        assert kept.height + gone.height == frame.height
        return reps

    measured = _measured(run)
    np.save(output, measured.pop("reps"))
    print(json.dumps(measured))


def engine_worker(data: Path, output: Path, threshold: float) -> None:
    """The stage as configured on the same records; a row's representative is its kept row."""
    from curation.pipelines.near_dedupe import NearDedupe

    records = pl.read_parquet(data, columns=[name for name in pl.read_parquet_schema(data) if name not in ("key", "scope")])
    records = records.with_row_index("bench_row")

    def run() -> np.ndarray:
        result = NearDedupe(threshold=threshold, scope=["country"])(records)
        kept = result.kept.select("id", "source", rep="bench_row")
        removed = result.removed.join(kept, left_on=["duplicate_of", "duplicate_of_source"], right_on=["id", "source"])
        reps = np.arange(records.height, dtype=np.int64)
        reps[removed.get_column("bench_row").to_numpy()] = removed.get_column("rep").to_numpy()
        return reps

    measured = _measured(run)
    np.save(output, measured.pop("reps"))
    print(json.dumps(measured))


def _child(command: list[str]) -> dict:
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def shingle_table(texts: pl.Series, scopes: pl.Series) -> pl.DataFrame:
    """(row, scope, shingle): each row's distinct bigrams, hashed (64 bits), independently of the engine's code."""
    grams = pl.Series([bigrams(text) for text in texts.to_list()], dtype=pl.List(pl.String))
    return (pl.DataFrame({"row": np.arange(len(texts)), "scope": scopes.rank("dense"), "gram": grams})
            .explode("gram").drop_nulls("gram").select("row", "scope", pl.col("gram").hash(seed=1).alias("shingle")).unique())


def jaccard_of(pairs: pl.DataFrame, grams: pl.DataFrame, sizes: pl.DataFrame) -> pl.DataFrame:
    """(s, o, jaccard) of the given pairs, counted from their shared shingles."""
    shared = (pairs.join(grams.select(pl.col("row").alias("s"), "shingle"), on="s")
              .join(grams.select(pl.col("row").alias("o"), "shingle"), on=["o", "shingle"]).group_by("s", "o").len("shared"))
    scored = (pairs.join(shared, on=["s", "o"], how="left").with_columns(pl.col("shared").fill_null(0))
              .join(sizes.rename({"row": "s", "size": "size_s"}), on="s").join(sizes.rename({"row": "o", "size": "size_o"}), on="o"))
    return scored.select("s", "o", (pl.col("shared") / (pl.col("size_s") + pl.col("size_o") - pl.col("shared"))).alias("jaccard"))


def true_pairs(sample: np.ndarray, grams: pl.DataFrame, sizes: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """(s, o): every row o of s's scope with Jaccard(s, o) >= threshold. Such an o shares at least
    ceil(threshold * |s|) of s's shingles, so at least one of s's |s| - ceil(threshold * |s|) + 1 rarest."""
    frequency = grams.group_by("shingle").len("frequency")
    mine = (grams.filter(pl.col("row").is_in(sample.tolist())).join(frequency, on="shingle")
            .join(sizes, on="row").sort("row", "frequency", "shingle")
            .filter(pl.int_range(pl.len()).over("row") < pl.col("size") - (threshold * pl.col("size")).ceil() + 1))
    candidates = (mine.select(pl.col("row").alias("s"), "scope", "shingle")
                  .join(grams.select(pl.col("row").alias("o"), "scope", "shingle"), on=["scope", "shingle"])
                  .filter(pl.col("s") != pl.col("o")).select("s", "o").unique())
    return jaccard_of(candidates, grams, sizes).filter(pl.col("jaccard") >= threshold).select("s", "o")


def quality(reps: np.ndarray, sample: np.ndarray, truth: pl.DataFrame, grams: pl.DataFrame, sizes: pl.DataFrame,
            threshold: float) -> dict:
    """Pair precision and recall of 'same cluster' for the sampled rows, and their removals' link precision."""
    cluster = pl.DataFrame({"o": np.arange(len(reps)), "cluster": reps})
    mine = pl.DataFrame({"s": sample, "cluster": reps[sample]})
    merged = mine.join(cluster, on="cluster").filter(pl.col("s") != pl.col("o")).select("s", "o")
    hits = merged.join(truth, on=["s", "o"]).height
    # A pair is resolved when the kept rows no longer hold both of its rows.
    resolved = truth.filter(pl.Series(reps[truth.get_column("s").to_numpy()] != truth.get_column("s").to_numpy())
                            | pl.Series(reps[truth.get_column("o").to_numpy()] != truth.get_column("o").to_numpy())).height
    removed = sample[reps[sample] != sample]
    links = jaccard_of(pl.DataFrame({"s": removed, "o": reps[removed]}), grams, sizes)
    return {"pair_precision": hits / merged.height if merged.height else 1.0,
            "pair_recall": hits / truth.height if truth.height else 1.0,
            "resolved_recall": resolved / truth.height if truth.height else 1.0,
            "link_precision": float((links.get_column("jaccard") >= threshold).mean()) if links.height else 1.0,
            "kept": int((reps == np.arange(len(reps))).sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--data", type=Path, help="generated rows (default: a file per --rows in the temp folder)")
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sample", type=int, default=300, help="rows whose pairs are checked against exact Jaccard")
    parser.add_argument("--datasketch-python", default="/tmp/datasketch-venv/bin/python")
    parser.add_argument("--datasketch-worker", nargs=2, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--engine-worker", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.datasketch_worker:
        datasketch_worker(*args.datasketch_worker, args.threshold)
        return
    if args.engine_worker:
        engine_worker(*args.engine_worker, args.threshold)
        return

    os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1")
    from curation.clusters import Persona, scope_keys
    from curation.config import InputConfig
    from curation.pipelines.near_dedupe import NearDedupe
    from curation.readers import read_records

    data = args.data or Path(tempfile.gettempdir()) / f"arena_near_bench_{args.rows}.parquet"
    if not data.exists():
        sys.path.insert(0, str(HERE))
        from generate import generate

        generate(args.rows).write_parquet(data)
    records = read_records(InputConfig(path=str(data), format="arena"))
    texts, scopes = NearDedupe().keys(records), scope_keys(records, ["country"], Persona())
    with tempfile.TemporaryDirectory() as folder:
        inputs, output = Path(folder) / "records.parquet", Path(folder) / "reps.npy"
        records.with_columns(key=texts, scope=scopes).write_parquet(inputs)
        del records
        runs: dict[str, list[dict]] = {"engine": [], "datasketch": []}
        reps: dict[str, np.ndarray] = {}
        loads = []
        for _ in range(args.repeats):  # interleaved, so that other work on the machine hits both alike
            loads.append(os.getloadavg()[0])
            runs["engine"].append(_child([sys.executable, __file__, "--threshold", str(args.threshold),
                                          "--engine-worker", str(inputs), str(output)]))
            reps["engine"] = np.load(output)
            runs["datasketch"].append(_child([args.datasketch_python, __file__, "--threshold", str(args.threshold),
                                              "--datasketch-worker", str(inputs), str(output)]))
            reps["datasketch"] = np.load(output)
    grams = shingle_table(texts, scopes)
    sizes = grams.group_by("row").len("size")
    rng = np.random.default_rng(0)
    sample = np.sort(rng.choice(sizes.get_column("row").to_numpy(), size=min(args.sample, sizes.height), replace=False))
    truth = true_pairs(sample, grams, sizes, args.threshold)
    scores = {name: quality(found, sample, truth, grams, sizes, args.threshold) for name, found in reps.items()}

    def median(name: str, field: str) -> float:
        return statistics.median(run[field] for run in runs[name])

    print(json.dumps({"rows": len(texts), "load_average_1min": loads, "runs": runs, "quality": scores}))
    print(f"| {len(texts):,} prompts, threshold {args.threshold}, 16 bands of 4 | median s (of {args.repeats}) | median peak RSS GB "
          f"| median input RSS GB | median GB over input | kept rows | link precision | resolved recall "
          f"| same-cluster pair precision | same-cluster pair recall |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    labels = {"engine": "curation near_dedupe (guard, clusters, possible duplicates, ledger rows)",
              "datasketch": "datasketch 2.0.0 MinHashLSH, query then insert"}
    for name, label in labels.items():
        score = scores[name]
        print(f"| {label} | {median(name, 'seconds'):.1f} | {median(name, 'peak_gb'):.2f} | {median(name, 'input_gb'):.2f} | {median(name, 'added_gb'):.2f} "
              f"| {score['kept']:,} | {score['link_precision']:.4f} | {score['resolved_recall']:.4f} | {score['pair_precision']:.4f} "
              f"| {score['pair_recall']:.4f} |")
    first = {field: runs["engine"][0][field] / runs["datasketch"][0][field] for field in ("seconds", "peak_gb", "added_gb")}
    medians = {field: median("engine", field) / median("datasketch", field) for field in ("seconds", "peak_gb", "added_gb")}
    print(f"engine / datasketch, first run: time {first['seconds']:.2f}, peak RSS {first['peak_gb']:.2f}, added {first['added_gb']:.2f}; "
          f"medians: time {medians['seconds']:.2f}, peak RSS {medians['peak_gb']:.2f}, added {medians['added_gb']:.2f}")
    print(f"sample: {len(sample)} rows, {truth.height:,} pairs at Jaccard >= {args.threshold}; "
          f"load average (1 min) before each pair of runs: {loads}")


if __name__ == "__main__":
    main()

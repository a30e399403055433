"""The semantic_dedupe stage against semhash on the same vectors (issue 14).

    python3 -m venv /tmp/semhash-venv && /tmp/semhash-venv/bin/pip install semhash==0.5.0
    .venv/bin/python benchmarks/semantic_vs_semhash.py --rows 100000 --repeats 3

Both get the prompts of generated rows (benchmarks/generate.py) and the vectors of one model, computed
before any timing (the engine reads them from its warm embedding cache, a cost semhash does not pay).
semhash runs in its own venv, once per scope block (country and persona: the engine never pairs rows
across blocks), and its time is that of `SemHash.from_embeddings` + `self_deduplicate`. The engine's time
is the whole stage: search down to the borderline, template guard, greedy clusters, possible duplicates,
ledger rows. Runs alternate; medians are reported with the load average seen.

Pair quality: the pairs at the threshold each search finds among the distinct (block, text) units,
against an exact range search (faiss, flat inner product) of the same vectors, block by block.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def semhash_worker(inputs: Path, output: Path, threshold: float) -> None:
    """In semhash's venv: time semhash on every block's rows, then list the pairs its index finds among
    every block's units."""
    from semhash import SemHash

    class Given:  # semhash asks its model for nothing when given the embeddings
        def encode(self, texts, **_):
            raise RuntimeError("semhash asked for new embeddings")

    data = np.load(inputs)
    started = time.perf_counter()
    kept = 0
    for block in np.unique(data["row_block"]):
        rows = np.flatnonzero(data["row_block"] == block)
        result = SemHash.from_embeddings(data["row_vectors"][rows], data["row_texts"][rows].tolist(), Given()).self_deduplicate(threshold)
        kept += len(result.selected)
    seconds = time.perf_counter() - started
    started = time.perf_counter()  # the whole set in one index, as semhash is used without a scope
    whole = SemHash.from_embeddings(data["row_vectors"], data["row_texts"].tolist(), Given()).self_deduplicate(threshold)
    whole_seconds = time.perf_counter() - started
    found_a, found_b = [], []
    for block in np.unique(data["unit_block"]):
        units = np.flatnonzero(data["unit_block"] == block)
        index = SemHash.from_embeddings(data["unit_vectors"][units], data["unit_texts"][units].tolist(), Given()).index
        for query, (neighbours, _) in enumerate(index.query_threshold(index.vectors, threshold)):
            neighbours = np.asarray(neighbours, dtype=np.int64)
            neighbours = neighbours[neighbours > query]
            found_a.append(np.full(len(neighbours), units[query]))
            found_b.append(units[neighbours])
    np.savez(output, seconds=seconds, kept=kept, whole_seconds=whole_seconds, whole_kept=len(whole.selected), a=np.concatenate(found_a), b=np.concatenate(found_b))


def exact_pairs(vectors: np.ndarray, blocks: np.ndarray, threshold: float) -> set[tuple[int, int]]:
    """Every pair of a block at the threshold or above: faiss range search, flat inner product."""
    import faiss

    found = set()
    for block in np.unique(blocks):
        units = np.flatnonzero(blocks == block)
        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(vectors[units])
        limits, _, neighbours = index.range_search(vectors[units], threshold)
        queries = np.repeat(np.arange(len(units)), np.diff(limits).astype(np.int64))
        later = neighbours > queries
        found.update(zip(units[queries[later]].tolist(), units[neighbours[later]].tolist()))
    return found


def quality(found: set[tuple[int, int]], truth: set[tuple[int, int]]) -> str:
    hits = len(found & truth)
    return f"{hits / len(found) if found else 1.0:.4f} | {hits / len(truth) if truth else 1.0:.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "arena_semantic_bench.parquet")
    parser.add_argument("--model", default="static-minilm")
    parser.add_argument("--threshold", type=float, default=0.95)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--semhash-python", default="/tmp/semhash-venv/bin/python")
    parser.add_argument("--semhash-worker", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.semhash_worker:
        semhash_worker(*args.semhash_worker, args.threshold)
        return

    import polars as pl

    from curation.clusters import Persona, completeness_order, scope_keys
    from curation.config import InputConfig
    from curation.embeddings import EmbeddingCache
    from curation.pipelines.semantic_dedupe import SemanticDedupe
    from curation.readers import read_records
    from curation.semantic_duplicates import Units, similar_pairs

    if not args.data.exists() or pl.scan_parquet(args.data).select(pl.len()).collect().item() != args.rows:
        sys.path.insert(0, str(HERE))
        from generate import generate

        generate(args.rows).write_parquet(args.data)
    records = read_records(InputConfig(path=str(args.data), format="arena"))
    units = Units.of(scope_keys(records, ["country"], Persona()), records.get_column("prompt"), completeness_order(records))
    with tempfile.TemporaryDirectory() as folder:
        cache = Path(folder) / "cache"
        vectors = EmbeddingCache(args.model, cache).embed(units.texts.to_list())  # warm the cache: no timing includes it
        inputs, output = Path(folder) / "in.npz", Path(folder) / "out.npz"
        np.savez(inputs, row_vectors=vectors[units.text[units.of_row]], row_texts=units.texts.to_numpy()[units.text[units.of_row]].astype(str),
                 row_block=units.block[units.of_row], unit_vectors=vectors[units.text],
                 unit_texts=units.unit_texts.to_numpy().astype(str), unit_block=units.block)
        engine_times, semhash_times, whole_times, loads = [], [], [], []
        for _ in range(args.repeats):  # interleaved, so that other work on the machine hits both alike
            loads.append(os.getloadavg()[0])
            started = time.perf_counter()
            result = SemanticDedupe(args.model, args.threshold, cache, scope=["country"])(records)
            engine_times.append(time.perf_counter() - started)
            subprocess.run([args.semhash_python, __file__, "--threshold", str(args.threshold),
                            "--semhash-worker", str(inputs), str(output)], check=True)
            semhash = np.load(output)
            semhash_times.append(float(semhash["seconds"]))
            whole_times.append(float(semhash["whole_seconds"]))
        unit_vectors = vectors[units.text]
        truth = exact_pairs(unit_vectors, units.block, args.threshold)
        engine_pairs = similar_pairs(unit_vectors, args.threshold, units.block)
        engine_found = set(zip(engine_pairs.get_column("a").to_list(), engine_pairs.get_column("b").to_list()))
        semhash_found = set(zip(semhash["a"].tolist(), semhash["b"].tolist()))
    print(json.dumps({"rows": records.height, "units": len(units.rank), "blocks": int(units.block.max()) + 1,
                      "load_average_1min": loads, "engine_s": engine_times, "semhash_s": semhash_times,
                      "semhash_whole_set_s": whole_times}))
    print(f"| {records.height:,} prompts, {len(units.rank):,} distinct in {int(units.block.max()) + 1} blocks, {args.model}, "
          f"threshold {args.threshold} | median s (of {args.repeats}) | kept rows | pair precision | pair recall |")
    print("|---|---|---|---|---|")
    print(f"| curation semantic_dedupe (exact search per block, guard, possible duplicates) | {statistics.median(engine_times):.1f} "
          f"| {result.kept.height:,} | {quality(engine_found, truth)} |")
    print(f"| semhash 0.5.0 (usearch HNSW per block) | {statistics.median(semhash_times):.1f} | {int(semhash['kept']):,} "
          f"| {quality(semhash_found, truth)} |")
    print(f"| semhash 0.5.0, whole set in one index (no scope: merges across countries and personas) "
          f"| {statistics.median(whole_times):.1f} | {int(semhash['whole_kept']):,} | | |")
    print(f"exact pairs at {args.threshold}: {len(truth):,}; load average (1 min) before each run: {loads}")


if __name__ == "__main__":
    main()

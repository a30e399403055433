"""Fit the prompt classifier (dimension and category) on the gold labels, cross-validate it, save it.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/fit_prompt_classifier.py            # CV report + refit + save
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/fit_prompt_classifier.py --compare  # also the other options

Texts come from ../shared/data/arena_v0_sample.csv (outside the project), labels from
curation/data/gold/prompts.jsonl. The cross-validation is stratified and grouped: rows of one duplicate
group, and rows that open with the same words (a template), stay in one fold. The abstention thresholds
are chosen on the out-of-fold probabilities (after temperature scaling) so that precision >= 0.80.
Deterministic: fixed seeds, liblinear-free lbfgs, CRC-32 hashing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from curation.config import InputConfig  # noqa: E402
from curation.lexicon import Lexicon, tag  # noqa: E402
from curation.pipelines.normalise import Normalise  # noqa: E402
from curation.prompt_classifier import TURNS, UNDETERMINED, Head, matrix, save, softmax  # noqa: E402
from curation.readers import read_records  # noqa: E402
from curation.rules.trivial import trivial_phrasing  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "data" / "arena_v0_sample.csv"
GOLD = ROOT / "curation" / "data" / "gold" / "prompts.jsonl"
OUT = ROOT / "curation" / "data" / "prompt_classifier.npz"
TARGET_PRECISION = 0.80
SEED = 13
FOLDS = 5


def load() -> pl.DataFrame:
    records = Normalise()(read_records(InputConfig(path=str(SAMPLE)))).kept
    records = tag(records, "prompt", Lexicon.load("dimensions.yaml"), None, "dimension")
    gold = pl.DataFrame([json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()],
                        schema_overrides={"duplicate_group": pl.String, "dimension": pl.String, "category": pl.String})
    frame = records.with_columns(row=pl.col("source").str.extract(r":(\d+)$").cast(pl.Int64)).join(
        gold.select("row", "category", pl.col("dimension").alias("gold_dimension"), "dimension_second", "duplicate_group"), on="row")
    return frame.sort("row").with_columns(turns=pl.col("prompt").str.count_matches(TURNS) >= 2)


def groups(frame: pl.DataFrame) -> np.ndarray:
    """Union of duplicate groups and templates (the same first six folded words of the prompt)."""
    parent = list(range(frame.height))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    keys = frame.select(
        pl.col("duplicate_group"),
        pl.col("prompt").str.to_lowercase().str.extract_all(r"\w+").list.head(6).list.join(" ").alias("opening"),
    )
    for column in ("duplicate_group", "opening"):
        first: dict = {}
        for i, key in enumerate(keys.get_column(column).to_list()):
            if key is None or key == "":
                continue
            if key in first:
                parent[find(i)] = find(first[key])
            else:
                first[key] = i
    return np.array([find(i) for i in range(frame.height)])


def features(frame: pl.DataFrame, option: str):
    if option == "words":
        return matrix(frame.with_columns(system_prompt=pl.lit(None, dtype=pl.String)), None)
    if option == "words+system+lexicon":
        return matrix(frame, "dimension_evidence")
    if option == "static-embeddings":
        from scipy.sparse import csr_matrix, hstack

        from curation.embeddings import load_model
        model = load_model("static-minilm")
        vectors = model.encode(frame.get_column("prompt").to_list(), normalize_embeddings=True)
        system = model.encode(frame.get_column("system_prompt").fill_null("").to_list(), normalize_embeddings=True)
        return hstack([csr_matrix(vectors.astype(np.float32)), csr_matrix(system.astype(np.float32) * 0.5)]).tocsr()
    raise ValueError(option)


class Compact:
    """A logistic regression fitted on the columns the training rows use (2**18 hashed columns, a few
    thousand used): the same model, fitted in a second instead of a minute."""

    def __init__(self, x, y, c: float, weight):
        from sklearn.linear_model import LogisticRegression

        self.used = np.unique(x.indices)
        self.model = LogisticRegression(C=c, max_iter=3000, class_weight=weight, random_state=SEED).fit(x[:, self.used], y)
        self.classes_ = self.model.classes_
        self.intercept_ = self.model.intercept_
        self.coef_ = np.zeros((self.model.coef_.shape[0], x.shape[1]))
        self.coef_[:, self.used] = self.model.coef_

    def decision_function(self, x):
        return self.model.decision_function(x[:, self.used])


def fit(x, y, c: float, weight):
    return Compact(x, y, c, weight)


def out_of_fold(x, y: np.ndarray, strata: np.ndarray, group: np.ndarray, c: float, weight, mask: np.ndarray):
    """Out-of-fold logits for the rows in `mask` (the others are predicted too, never trained on)."""
    from sklearn.model_selection import StratifiedGroupKFold

    classes = sorted(set(y[mask]))
    logits = np.zeros((len(y), len(classes)))
    with warnings.catch_warnings():
        # The gold set has strata rarer than FOLDS rows: their rows go to fewer folds, as intended.
        warnings.filterwarnings("ignore", "The least populated class in y has only", UserWarning)
        folds = list(StratifiedGroupKFold(FOLDS, shuffle=True, random_state=SEED).split(x, strata, group))
    for train, test in folds:
        train = train[mask[train]]
        model = fit(x[train], y[train], c, weight)
        scores = model.decision_function(x[test])
        if scores.ndim == 1:
            scores = np.stack([-scores, scores], axis=1)
        full = np.full((len(test), len(classes)), -1e3)
        for j, name in enumerate(model.classes_):
            full[:, classes.index(name)] = scores[:, j]
        logits[test] = full
    return classes, logits


def temperature(logits: np.ndarray, truth: np.ndarray) -> float:
    """The temperature minimising the log loss of the out-of-fold probabilities."""
    grid = np.round(np.arange(0.2, 3.01, 0.05), 2)
    losses = [-np.log(softmax(logits / t)[np.arange(len(truth)), truth] + 1e-12).mean() for t in grid]
    return float(grid[int(np.argmin(losses))])


def threshold(confidence: np.ndarray, correct: np.ndarray, target: float = TARGET_PRECISION) -> float:
    """The lowest top-probability threshold whose decisions (and those of every higher threshold with at
    least 20 decisions) keep precision >= target."""
    candidates = np.unique(np.round(confidence, 3))
    ok = None
    for t in sorted(candidates, reverse=True):
        decided = confidence >= t
        if decided.sum() < 20:
            continue
        if correct[decided].mean() >= target:
            ok = t
        else:
            break
    return float(ok) if ok is not None else 1.01


def report_dimension(frame, labels, confidence, title):
    gold = frame.get_column("gold_dimension").fill_null("none").to_list()
    second = frame.get_column("dimension_second").fill_null("none").to_list()
    decided = [label != UNDETERMINED for label in labels]
    correct = sum(d and p == g for d, p, g in zip(decided, labels, gold))
    lenient = sum(d and (p == g or p == s) for d, p, g, s in zip(decided, labels, gold, second))
    n = len(labels)
    named = sum(g != "none" for g in gold)
    print(f"\n{title}: coverage {sum(decided)}/{n} = {sum(decided) / n:.3f} (undetermined {1 - sum(decided) / n:.3f}); "
          f"precision {correct / max(1, sum(decided)):.3f} (lenient, gold second also right: {lenient / max(1, sum(decided)):.3f}); "
          f"recall {correct / named:.3f}")
    classes = ["knowledge", "preference", "dynamics", "bias_trap"]
    print("  per class:", ", ".join(
        f"{c}: gold {gold.count(c)}, predicted {labels.count(c)}, precision "
        f"{sum(p == g == c for p, g in zip(labels, gold)) / max(1, labels.count(c)):.2f}, recall "
        f"{sum(p == g == c for p, g in zip(labels, gold)) / max(1, gold.count(c)):.2f}" for c in classes))
    columns = [*classes, UNDETERMINED]
    print("  confusion (rows gold, columns engine):", columns)
    for g in [*classes, "none"]:
        print(f"    {g:>11}", [sum(1 for gg, p in zip(gold, labels) if gg == g and p == c) for c in columns])
    return {"coverage": sum(decided) / n, "precision": correct / max(1, sum(decided)), "recall": correct / named}


def report_trivial(frame, probabilities, classes, t_trivial, title):
    """The trivial_prompt rule out of fold: the classifier alone, the phrasing alone, and both (the rule)."""
    truth = frame.get_column("category").to_numpy() == "trivial"
    p = probabilities[:, classes.index("trivial")]
    top = probabilities.argmax(axis=1) == classes.index("trivial")
    by_classifier = top & (p >= t_trivial)
    by_phrasing = frame.select(trivial_phrasing()).to_series().to_numpy()
    figures = {}
    for name, flagged in (("classifier", by_classifier), ("phrasing", by_phrasing), ("rule", by_classifier | by_phrasing)):
        tp = int((flagged & truth).sum())
        figures[name] = {"precision": round(tp / max(1, flagged.sum()), 4), "recall": round(tp / truth.sum(), 4)}
        print(f"{title}: trivial_prompt by {name} (classifier at >= {t_trivial:.3f}): flagged {int(flagged.sum())}, "
              f"precision {figures[name]['precision']:.3f}, recall {figures[name]['recall']:.3f} ({tp}/{int(truth.sum())})")
    return figures["rule"] | {"classifier": figures["classifier"], "phrasing": figures["phrasing"]}


def evaluate(frame: pl.DataFrame, option: str, c: float, weight, quiet=False):
    x = features(frame, option)
    group = groups(frame)
    turns = frame.get_column("turns").to_numpy()
    # Dimension head: rows whose gold has a dimension.
    gold_dimension = frame.get_column("gold_dimension").fill_null("none").to_numpy()
    has_dimension = gold_dimension != "none"
    strata = frame.get_column("category").to_numpy()
    classes, logits = out_of_fold(x, gold_dimension, strata, group, c, weight, has_dimension)
    index = np.array([classes.index(g) if g in classes else 0 for g in gold_dimension])
    t_dim = temperature(logits[has_dimension], index[has_dimension])
    probabilities = softmax(logits / t_dim)
    best = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    labels = np.array(classes, dtype=object)[best]
    # The stage's rules: strong phrase evidence for a rare dimension, then turns.
    strong = (frame.get_column("dimension").is_in(["bias_trap", "dynamics"]) & (frame.get_column("dimension_score") >= 3)).to_numpy()
    labels[strong] = frame.get_column("dimension").to_numpy()[strong]
    confidence[strong] = 1.0
    labels[turns] = "dynamics"
    confidence[turns] = 1.0
    th_dim = threshold(confidence, labels == gold_dimension)
    decided_labels = [lab if conf >= th_dim else UNDETERMINED for lab, conf in zip(labels, confidence)]
    # Category head.
    category = frame.get_column("category").to_numpy()
    cat_classes, cat_logits = out_of_fold(x, category, category, group, c, weight, np.ones(len(category), bool))
    cat_index = np.array([cat_classes.index(g) for g in category])
    t_cat = temperature(cat_logits, cat_index)
    cat_prob = softmax(cat_logits / t_cat)
    cat_conf = cat_prob.max(axis=1)
    cat_labels = np.array(cat_classes, dtype=object)[cat_prob.argmax(axis=1)]
    th_cat = threshold(cat_conf, cat_labels == category)
    trivial_top = cat_labels == "trivial"
    th_trivial = threshold(cat_prob[:, cat_classes.index("trivial")][trivial_top], (category == "trivial")[trivial_top])
    title = f"[{option}, C={c}, class_weight={weight}]"
    if not quiet:
        print(f"\n===== {title}: dimension temperature {t_dim}, threshold {th_dim}; category temperature {t_cat}, "
              f"threshold {th_cat}, trivial threshold {th_trivial}")
    dim = report_dimension(frame, decided_labels, confidence, "dimension (grouped 5-fold CV)")
    cat_decided = cat_conf >= th_cat
    cat_precision = (cat_labels == category)[cat_decided].mean() if cat_decided.any() else 0
    print(f"category (grouped 5-fold CV): coverage {cat_decided.mean():.3f}, precision {cat_precision:.3f}; "
          f"accuracy without abstention {(cat_labels == category).mean():.3f}")
    counts = Counter(zip(category, [lab if d else UNDETERMINED for lab, d in zip(cat_labels, cat_decided)]))
    cat_columns = [*cat_classes, UNDETERMINED]
    print("  confusion (rows gold, columns engine):", cat_columns)
    for g in cat_classes:
        print(f"    {g:>11}", [counts[(g, col)] for col in cat_columns])
    triv = report_trivial(frame, cat_prob, cat_classes, th_trivial, "trivial (grouped 5-fold CV)")
    return {"dimension": dim, "trivial": triv, "thresholds": (t_dim, th_dim, t_cat, th_cat, th_trivial),
            "oof": (labels, confidence, decided_labels, cat_labels, cat_conf, cat_decided)}, x


def head(name, model, x_used: np.ndarray, temperature_: float, threshold_: float) -> Head:
    coef = model.coef_.T.astype(np.float32)  # (features, classes)
    if coef.shape[1] == 1:
        coef = np.concatenate([-coef, coef], axis=1)
    used = np.flatnonzero(np.abs(coef).sum(axis=1) > 0)
    intercept = model.intercept_ if len(model.classes_) > 2 else np.array([-model.intercept_[0], model.intercept_[0]])
    return Head(name, [str(c) for c in model.classes_], used.astype(np.uint32), coef[used], intercept.astype(np.float32),
                temperature_, threshold_)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", action="store_true", help="also cross-validate the other feature options")
    parser.add_argument("--no-save", action="store_true")
    parser.add_argument("--show", type=int, default=0, help="print N classified and N/2 abstained prompts (out of fold)")
    args = parser.parse_args(argv)
    if not SAMPLE.exists():
        print(f"the shared sample is needed to refit: {SAMPLE}", file=sys.stderr)
        return 2
    frame = load()
    print(f"{frame.height} labelled rows; {len(set(groups(frame)))} CV groups (duplicates and templates kept together)")
    if args.compare:
        for option, c, weight in [("words", 10.0, None), ("words+system+lexicon", 4.0, None),
                                  ("words+system+lexicon", 10.0, None), ("words+system+lexicon", 30.0, None),
                                  ("words+system+lexicon", 10.0, "balanced"), ("static-embeddings", 10.0, None)]:
            evaluate(frame, option, c, weight)
    option, c, weight = "words+system+lexicon", CHOSEN_C, None
    result, x = evaluate(frame, option, c, weight)
    t_dim, th_dim, t_cat, th_cat, th_trivial = result["thresholds"]
    if args.show:
        show(frame, result["oof"], args.show)
    if args.no_save:
        return 0
    has_dimension = frame.get_column("gold_dimension").is_not_null().to_numpy()
    dimension = fit(x[has_dimension], frame.get_column("gold_dimension").to_numpy()[has_dimension], c, weight)
    category = fit(x, frame.get_column("category").to_numpy(), c, weight)
    meta = {"evidence": True, "bits": 18, "fitted_on": f"{frame.height} gold rows of arena_v0_sample.csv",
            "trivial_threshold": th_trivial, "C": c, "cv": {"dimension": result["dimension"], "trivial": result["trivial"]}}
    save(OUT, {"dimension": head("dimension", dimension, x, t_dim, th_dim),
               "category": head("category", category, x, t_cat, th_cat)}, meta)
    print(f"\nsaved {OUT.relative_to(ROOT)} ({OUT.stat().st_size / 1024:.0f} KiB)")
    return 0


CHOSEN_C = 30.0


def show(frame, oof, n):
    labels, confidence, decided, cat_labels, cat_conf, cat_decided = oof
    rng = np.random.default_rng(SEED)
    order = rng.permutation(frame.height)
    shown = abstained = 0
    for i in order:
        row = frame.row(int(i), named=True)
        is_decided = decided[i] != UNDETERMINED
        if (is_decided and shown >= n) or (not is_decided and abstained >= n // 2):
            continue
        shown += is_decided
        abstained += not is_decided
        text = " ".join(row["prompt"].split())[:160]
        print(f"row {row['row']:>3} dim {decided[i]:>12} ({confidence[i]:.2f}) gold {row['gold_dimension']}/{row['dimension_second']}"
              f" | cat {cat_labels[i] if cat_decided[i] else UNDETERMINED} ({cat_conf[i]:.2f}) gold {row['category']} | {text}")


if __name__ == "__main__":
    raise SystemExit(main())

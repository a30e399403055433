"""Scale the shared arena sample to N rows: resampled rows with realistic perturbations.

    .venv/bin/python benchmarks/generate.py --rows 100000 --out /tmp/arena_100k.parquet

Each row is a random row of ../shared/data/arena_v0_sample.csv whose prompt and responses get a few
edits a real dataset shows (dropped or swapped words, accents removed, case changes, punctuation,
typos), so that dedupe and tagging see near duplicates rather than copies.
"""

from __future__ import annotations

import argparse
import random
import unicodedata
from pathlib import Path

import polars as pl

SHARED_SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "arena_v0_sample.csv"


def strip_accents(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))


# Paraphrase-like swaps: a word for a near synonym, as people reword the same question.
SYNONYMS = {"qué": "cuál", "cómo": "de qué forma", "comida": "platillo", "celebrar": "festejar", "fiesta": "celebración",
            "crees": "piensas", "típico": "tradicional", "amigos": "colegas", "casa": "hogar", "país": "nación",
            "importante": "relevante", "ciudad": "urbe", "trabajo": "empleo", "familia": "gente", "mejor": "más bueno"}


def perturb(text: str, rng: random.Random) -> str:
    """One to three edits of the kinds people and tools make, paraphrase-like swaps included."""
    for _ in range(rng.randint(1, 3)):
        words = text.split(" ")
        kind = rng.randrange(7)
        if kind == 6:
            swappable = [i for i, word in enumerate(words) if word.lower() in SYNONYMS]
            if swappable:
                i = rng.choice(swappable)
                words[i] = SYNONYMS[words[i].lower()]
            text = " ".join(words)
            continue
        if kind == 0 and len(words) > 3:
            del words[rng.randrange(len(words))]
        elif kind == 1 and len(words) > 3:
            i = rng.randrange(len(words) - 1)
            words[i], words[i + 1] = words[i + 1], words[i]
        elif kind == 2:
            return strip_accents(text)
        elif kind == 3:
            return text.lower() if rng.random() < 0.5 else text.rstrip("?.!") + rng.choice(["?", "!!", "..."])
        elif kind == 4 and words:
            i = rng.randrange(len(words))
            word = words[i]
            if len(word) > 3:
                j = rng.randrange(len(word) - 1)
                words[i] = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
        else:  # an inserted filler word, never at the end (that would look like a cut-off text)
            words.insert(rng.randrange(len(words)), rng.choice(["bueno", "pues", "hoy", "ahora", "porfa"]))
        text = " ".join(words)
    return text


def generate(rows: int, seed: int = 0) -> pl.DataFrame:
    sample = pl.read_csv(SHARED_SAMPLE, infer_schema=False)
    rng = random.Random(seed)
    picks = [rng.randrange(sample.height) for _ in range(rows)]
    base = sample[picks]
    columns = {name: base.get_column(name).to_list() for name in ("question", "chosen", "rejected")}
    return base.with_columns(
        pl.Series(name, [perturb(text, rng) if rng.random() < 0.9 else text for text in values])
        for name, values in columns.items()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    frame = generate(args.rows, args.seed)
    frame.write_parquet(args.out)
    print(f"{frame.height} rows -> {args.out}")


if __name__ == "__main__":
    main()

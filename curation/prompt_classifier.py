"""The prompt classifier: cultural dimension and validation category of a prompt, with a probability.

A linear model (multinomial logistic regression) over hashed features of the prompt, so that no text
is stored: words and word pairs of the folded prompt (lowercase, accents removed), the first five
letters of each word (a crude stem that survives conjugation and typos), the words of the system
prompt, and a few structural tokens (a role in the system prompt, turn labels, a length bucket,
the kinds of lexicon evidence found). Each token is hashed with CRC-32 into 2**18 buckets; a row's
vector is its bucket counts, L2-normalised. Scoring is one sparse product with the coefficients, so
100,000 prompts cost a few seconds, most of it in making the tokens.

The fitted parameters ship in `curation/data/prompt_classifier.npz` (bucket ids, coefficients,
intercepts, a temperature per head and the abstention thresholds). `benchmarks/fit_prompt_classifier.py`
refits them from the shared arena sample and the gold labels and prints the cross-validated report.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import polars as pl

from curation.text import fold_accents

MODEL_FILE = "prompt_classifier.npz"
BITS = 18
UNDETERMINED = "undetermined"
# The first characters of a long prompt carry its question; the rest adds cost, not signal.
MAX_CHARS = 2000
# A system prompt that casts the model as someone ("Eres una abuela de Rosario"); turn labels in a prompt.
ROLE = r"(?i)^\s*(?:eres|sos|imagina que eres|act[úu]a como|responde como|you are|és|ets|voc[êe] [ée]|tu [ée]s)\b"
TURNS = r"(?im)^\s*(?:usuario|user|asistente|assistant|usu[áa]rio|assistent)\s*:"
_WORD = r"[\p{L}\p{N}]+"


def _folded(column: str) -> pl.Expr:
    text = pl.col(column).fill_null("").str.slice(0, MAX_CHARS).str.to_lowercase()
    return fold_accents(text)


def tokens(frame: pl.DataFrame, evidence: str | None = None) -> pl.DataFrame:
    """One row per (row, token): the features before hashing. `frame` has `prompt` and `system_prompt`;
    `evidence` names an optional list column of lexicon evidence ("kind:phrase"), of which the kind is used."""
    base = frame.select(
        _folded("prompt").str.extract_all(_WORD).alias("words"),
        _folded("system_prompt").str.extract_all(_WORD).alias("system"),
        pl.col("system_prompt").fill_null("").str.contains(ROLE).alias("role"),
        (pl.col("prompt").fill_null("").str.count_matches(TURNS) >= 2).alias("turns"),
        pl.col("prompt").fill_null("").str.len_chars().alias("chars"),
        *([pl.col(evidence).list.eval(pl.element().str.split(":").list.first()).list.unique().alias("kinds")] if evidence else []),
    ).with_row_index("row")
    words = (base.select("row", "words").explode("words").drop_nulls("words")
             .with_columns(position=pl.int_range(pl.len()).over("row")))
    words = words.with_columns(following=pl.col("words").shift(-1).over("row"))
    parts = [
        words.select("row", token=pl.lit("w:") + pl.col("words")),
        words.drop_nulls("following").select("row", token=pl.lit("b:") + pl.col("words") + pl.lit(" ") + pl.col("following")),
        words.filter(pl.col("words").str.len_chars() > 5).select("row", token=pl.lit("p:") + pl.col("words").str.slice(0, 5)),
        words.filter(pl.col("position") < 3).select("row", token=pl.lit("f:") + pl.col("words")),
        base.select("row", "system").explode("system").drop_nulls("system").select("row", token=pl.lit("s:") + pl.col("system")),
        base.select("row", token=pl.lit("len:") + pl.col("chars").clip(1).log(2).floor().cast(pl.Int32).cast(pl.String)),
        base.filter("role").select("row", token=pl.lit("structure:role")),
        base.filter("turns").select("row", token=pl.lit("structure:turns")),
        base.filter(pl.col("system").list.len() == 0).select("row", token=pl.lit("structure:no_system")),
    ]
    if evidence:
        parts.append(base.select("row", "kinds").explode("kinds").drop_nulls("kinds").select("row", token=pl.lit("lex:") + pl.col("kinds")))
    return pl.concat([part.with_columns(pl.col("row").cast(pl.UInt32)) for part in parts])


def matrix(frame: pl.DataFrame, evidence: str | None = None):
    """The rows' hashed token counts as a scipy CSR matrix (rows x 2**BITS), each row L2-normalised.
    Tokens are hashed with CRC-32 (stable across versions and machines), each distinct token once."""
    from scipy.sparse import csr_matrix

    pairs = tokens(frame, evidence)
    names = pairs.get_column("token").unique(maintain_order=True).to_list()
    codes = pairs.get_column("token").cast(pl.Enum(names))
    mask = (1 << BITS) - 1
    table = np.fromiter((zlib.crc32(name.encode()) & mask for name in names), dtype=np.int64, count=len(names))
    buckets = table[codes.to_physical().to_numpy()]
    rows = pairs.get_column("row").to_numpy()
    counts = csr_matrix((np.ones(len(rows), dtype=np.float64), (rows, buckets)), shape=(frame.height, 1 << BITS))
    counts.sum_duplicates()
    norms = np.sqrt(np.asarray(counts.multiply(counts).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return csr_matrix(counts.multiply(1.0 / norms[:, None]))


@dataclass(frozen=True)
class Head:
    """One fitted multinomial head: classes, the coefficients of the buckets it uses, temperature, threshold."""
    name: str
    classes: list[str]
    buckets: np.ndarray  # (k,) uint32, sorted
    coef: np.ndarray  # (k, classes) float32
    intercept: np.ndarray  # (classes,)
    temperature: float
    threshold: float  # below this top probability the head abstains

    def probabilities(self, x) -> np.ndarray:
        """Calibrated class probabilities (rows x classes) from the `matrix` of the rows."""
        dense = np.zeros((1 << BITS, len(self.classes)), dtype=np.float32)
        dense[self.buckets.astype(np.int64)] = self.coef
        logits = np.asarray(x @ dense, dtype=np.float64) + self.intercept.astype(np.float64)
        return softmax(logits / self.temperature)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class PromptClassifier:
    heads: dict[str, Head]
    meta: dict

    @classmethod
    def load(cls, file_name: str = MODEL_FILE) -> PromptClassifier:
        return _load(file_name)

    def predict(self, frame: pl.DataFrame, evidence: str | None = "dimension_evidence") -> pl.DataFrame:
        """Per head: <head> (the label, or `undetermined` under the head's threshold) and <head>_confidence
        (the top probability), for a frame with `prompt`, `system_prompt` (and the evidence column)."""
        evidence = evidence if evidence and evidence in frame.columns and self.meta.get("evidence") else None
        x = matrix(frame, evidence)
        columns = {}
        for name, head in self.heads.items():
            probabilities = head.probabilities(x)
            best = probabilities.argmax(axis=1)
            confidence = probabilities[np.arange(frame.height), best]
            labels = np.asarray(head.classes, dtype=object)[best]
            labels = np.where(confidence >= head.threshold, labels, UNDETERMINED)
            columns[name] = pl.Series(name, labels.tolist(), dtype=pl.String)
            columns[f"{name}_confidence"] = pl.Series(f"{name}_confidence", confidence.round(4), dtype=pl.Float64)
        return pl.DataFrame(columns) if frame.height else pl.DataFrame(schema={k: v.dtype for k, v in columns.items()})


def save(path, heads: dict[str, Head], meta: dict) -> None:
    arrays = {}
    for name, head in heads.items():
        arrays |= {f"{name}.buckets": head.buckets.astype(np.uint32), f"{name}.coef": head.coef.astype(np.float32),
                   f"{name}.intercept": head.intercept.astype(np.float32)}
    header = {"meta": meta, "heads": {name: {"classes": head.classes, "temperature": head.temperature,
                                             "threshold": head.threshold} for name, head in heads.items()}}
    np.savez_compressed(path, header=np.frombuffer(json.dumps(header, sort_keys=True).encode(), dtype=np.uint8), **arrays)


@cache
def _load(file_name: str) -> PromptClassifier:
    with resources.files("curation.data").joinpath(file_name).open("rb") as handle, np.load(handle) as data:
        header = json.loads(bytes(data["header"]).decode())
        heads = {name: Head(name, spec["classes"], data[f"{name}.buckets"], data[f"{name}.coef"], data[f"{name}.intercept"],
                            float(spec["temperature"]), float(spec["threshold"]))
                 for name, spec in header["heads"].items()}
    return PromptClassifier(heads, header["meta"])

"""Semantic duplicate pairs: cosine similarity of normalised embeddings above a threshold.

The search is exact but blocked: rows are only duplicates of rows with the same scope key (country,
persona), so each block is compared with itself only, in chunks of rows that bound the memory. Rows of a
block that share a text are one unit (the same vector, so the same neighbours and the same cluster):
only distinct texts are embedded and only units are searched."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from curation.clusters import ROW

CHUNK_CELLS = 1 << 24  # similarities computed at once: 64 MB of float32


@dataclass(frozen=True)
class Units:
    """The distinct (scope key, text) of a frame's rows, numbered so that each block's units are adjacent."""

    of_row: np.ndarray  # a row's unit
    block: np.ndarray  # a unit's block number, ascending
    text: np.ndarray  # a unit's index into `texts`
    texts: pl.Series  # the distinct texts
    best_row: np.ndarray  # a unit's most complete row
    rank: np.ndarray  # a unit's position in completeness order (that of its best row)

    @classmethod
    def of(cls, keys: pl.Series, texts: pl.Series, order: list[int]) -> Units:
        rows = pl.DataFrame({"key": keys, "text": texts.fill_null("")}).with_columns(
            rank=pl.Series(np.argsort(np.asarray(order, dtype=np.int64)), dtype=pl.Int64)).with_row_index(ROW)
        distinct = rows.get_column("text").unique(maintain_order=True)
        units = (rows.group_by("key", "text").agg(pl.col("rank").min(), pl.col(ROW).sort_by("rank").first().alias("best"))
                 .sort("key", "rank").with_row_index("unit")
                 .with_columns(block=pl.col("key").rank("dense").cast(pl.Int64) - 1,
                               text_index=pl.col("text").replace_strict(distinct, pl.int_range(len(distinct)), return_dtype=pl.Int64)))
        of_row = rows.join(units.select("key", "text", "unit"), on=["key", "text"], how="left", maintain_order="left")
        return cls(of_row=_ints(of_row, "unit"), block=_ints(units, "block"), text=_ints(units, "text_index"),
                   texts=distinct, best_row=_ints(units, "best"), rank=_ints(units, "rank"))

    @property
    def unit_texts(self) -> pl.Series:
        return self.texts.gather(self.text)


def _ints(frame: pl.DataFrame, column: str) -> np.ndarray:
    return frame.get_column(column).cast(pl.Int64).to_numpy()


def _chunk_end(start: int, block_end: np.ndarray) -> int:
    """The end of the chunk of rows from `start` whose similarities to the rest of their blocks fit in
    CHUNK_CELLS (at least one row)."""
    stop = min(len(block_end), start + max(1, CHUNK_CELLS // int(block_end[start] - start)))
    while stop > start + 1 and (stop - start) * int(block_end[stop - 1] - start) > CHUNK_CELLS:
        stop = start + (stop - start) // 2
    return stop


def similar_pairs(vectors: np.ndarray, threshold: float, blocks: np.ndarray | None = None) -> pl.DataFrame:
    """(a, b, similarity) for every a < b whose cosine similarity is at least the threshold and, given
    `blocks` (a block number per row, ascending), whose rows are in the same block."""
    count = len(vectors)
    blocks = np.zeros(count, dtype=np.int64) if blocks is None else np.asarray(blocks)
    if np.any(np.diff(blocks) < 0):
        raise ValueError("similar_pairs: blocks must be ascending (each block's rows adjacent)")
    block_end = np.searchsorted(blocks, blocks, side="right")
    found_a, found_b, found_score = [], [], []
    start = 0
    while start < count:
        stop = _chunk_end(start, block_end)
        scores = vectors[start:stop] @ vectors[start:block_end[stop - 1]].T  # a row against the later rows of its block
        rows, columns = np.nonzero(scores >= threshold)
        a, b = rows + start, columns + start
        keep = (b > a) & (blocks[a] == blocks[b])
        found_a.append(a[keep])
        found_b.append(b[keep])
        found_score.append(scores[rows[keep], columns[keep]])
        start = stop
    return pl.DataFrame({"a": np.concatenate(found_a or [np.zeros(0, np.int64)]), "b": np.concatenate(found_b or [np.zeros(0, np.int64)]),
                         "similarity": np.concatenate(found_score or [np.zeros(0, np.float32)])},
                        schema={"a": pl.Int64, "b": pl.Int64, "similarity": pl.Float64})


def cosine(vectors: np.ndarray, pairs: pl.DataFrame, vector_of: np.ndarray | None = None) -> pl.DataFrame:
    """(a, b, similarity) for the given pairs of rows; `vector_of` maps a row to its row in `vectors`."""
    a, b = pairs.get_column("a").to_numpy(), pairs.get_column("b").to_numpy()
    if vector_of is not None:
        a, b = vector_of[a], vector_of[b]
    similarity = np.einsum("ij,ij->i", vectors[a], vectors[b]) if len(a) else np.zeros(0, dtype=np.float32)
    return pairs.with_columns(similarity=pl.Series(np.clip(similarity, -1.0, 1.0).astype(np.float64)).round(4))

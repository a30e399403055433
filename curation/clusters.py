"""From duplicate clusters to kept rows and duplicates: one representative per cluster, chosen the same
way every run (the most complete row), every other member pointing to it."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from curation.schema import Status
from curation.stage import Stage, StageResult
from curation.text import char_length

ROW = "row"
Similarity = Callable[[pl.DataFrame], pl.DataFrame]  # (a, b) -> (a, b, similarity)


def scope_keys(frame: pl.DataFrame, scope: list[str]) -> pl.Series:
    """One string per row: rows are only duplicates of rows with the same key (e.g. the same country)."""
    if not scope:
        return pl.Series([""] * frame.height, dtype=pl.String)
    return frame.select(pl.concat_str([pl.col(c).cast(pl.String).fill_null("\x00") for c in scope], separator="\x1f")).to_series()


def within_scope(pairs: pl.DataFrame, keys: pl.Series) -> pl.DataFrame:
    """Only the (a, b) pairs whose rows share a scope key."""
    key_of = keys.to_frame("key").with_row_index(ROW).with_columns(pl.col(ROW).cast(pl.Int64))
    return (pairs.with_columns(pl.col("a").cast(pl.Int64), pl.col("b").cast(pl.Int64))
            .join(key_of.rename({ROW: "a", "key": "key_a"}), on="a")
            .join(key_of.rename({ROW: "b", "key": "key_b"}), on="b")
            .filter(pl.col("key_a") == pl.col("key_b")).drop("key_a", "key_b"))


def greedy_clusters(pairs: pl.DataFrame, order: list[int], rows: int) -> pl.Series:
    """Star clusters: in `order` (best row first), each row not yet taken founds a cluster and takes its
    untaken neighbours. No chaining: every member is within the threshold of its founder, which
    single linkage would not give (A~B~C~... drifts to unrelated texts)."""
    neighbours: dict[int, list[int]] = {}
    for a, b in pairs.select("a", "b").iter_rows():
        neighbours.setdefault(a, []).append(b)
        neighbours.setdefault(b, []).append(a)
    founder = [-1] * rows
    for row in order:
        if founder[row] == -1:
            founder[row] = row
            for neighbour in neighbours.get(row, ()):
                if founder[neighbour] == -1:
                    founder[neighbour] = row
    return pl.Series(founder, dtype=pl.UInt32)


def completeness(columns: list[str]) -> list[pl.Expr]:
    """Sort keys, best first: has a system prompt, fewer warnings, longer responses, then the id (not the
    input order, so that shuffling the input keeps the same rows)."""
    warnings = [pl.col("warnings").list.len()] if "warnings" in columns else []
    length = (char_length("chosen") + char_length("rejected")).cast(pl.Int64)
    return [pl.col("system_prompt").is_null(), *warnings, -length, pl.col("id"), pl.col("source")]


def completeness_order(frame: pl.DataFrame) -> list[int]:
    """Row numbers, most complete row first."""
    keys = completeness(frame.columns)
    narrow = frame.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias(ROW), *(k.alias(f"_key{n}") for n, k in enumerate(keys)))
    return narrow.sort([f"_key{n}" for n in range(len(keys))] + [ROW]).get_column(ROW).to_list()


def representatives(frame: pl.DataFrame, group: pl.Expr) -> pl.DataFrame:
    """Per row, in the frame's order: its row number and its group's most complete row (_rep_row,
    _rep_id, _rep_source). Ranked on a narrow frame of keys: sorting the whole frame would copy every text."""
    keys = completeness(frame.columns)
    narrow = frame.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias(ROW), group.alias("_group"), "id", "source",
                          *(key.alias(f"_key{number}") for number, key in enumerate(keys)))
    ranked = narrow.sort([f"_key{number}" for number in range(len(keys))] + [ROW])
    return ranked.select(
        ROW,
        _rep_row=pl.col(ROW).first().over("_group"),
        _rep_id=pl.col("id").first().over("_group"),
        _rep_source=pl.col("source").first().over("_group"),
        _group_size=pl.len().over("_group"),
        _group="_group",
    ).sort(ROW)


def resolve_clusters(stage: Stage, frame: pl.DataFrame, cluster_ids: pl.Series, reason: str,
                     similarity: Similarity) -> StageResult:
    """Keep each cluster's most complete row; the others leave as duplicates with their similarity to it."""
    reps = representatives(frame, pl.lit(cluster_ids))
    ranked = frame.with_columns(reps.select(ROW, "_rep_row", "_rep_id", "_rep_source", pl.col("_group").alias("_cluster")))
    is_member = pl.col(ROW) != pl.col("_rep_row")
    members = ranked.filter(is_member)
    scores = similarity(members.select(pl.col(ROW).alias("a"), pl.col("_rep_row").alias("b")))
    members = members.join(scores.select(pl.col("a").alias(ROW), "similarity"), on=ROW, how="left", maintain_order="left")
    helpers = [ROW, "_cluster", "_rep_row", "_rep_id", "_rep_source"]
    removed = stage.leave(members, Status.DUPLICATE, pl.lit([reason]),
                          duplicate_of=pl.col("_rep_id"), duplicate_of_source=pl.col("_rep_source")).drop(helpers)
    kept = ranked.filter(~is_member).drop(helpers)
    clustered = ranked.filter(pl.len().over("_cluster") > 1)
    stats = {reason: members.height, f"{reason}_clusters": clustered.get_column("_cluster").n_unique()}
    return StageResult(kept, removed, stats)

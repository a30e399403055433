"""Near duplicates by MinHash LSH over word n-grams, on prompts (default) or whole pairs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Self

import numpy as np
import polars as pl

from curation.clusters import (
    GENERIC_SYSTEM_PROMPTS,
    ROW,
    Persona,
    completeness_order,
    content_words,
    differs_in_meaning,
    greedy_clusters,
    lazy_possible_duplicates,
    resolve_clusters,
    scope_keys,
    template_guard,
    with_possible_duplicates,
)
from curation.config import RunConfig
from curation.near_duplicates import ALL_PAIRS_MAX_BUCKET, BLOCK_TEXTS, Shingles, bucket_pairs, buckets, jaccard, scope_blocks
from curation.pipelines.exact_dedupe import grouping
from curation.schema import TEXT_FIELDS
from curation.stage import Stage, StageResult
from curation.text import comparison_key, fold_accents, own_copy

# Passes over the rows that large buckets' hubs left alone: each pass takes every large bucket's next
# best rows as its hubs (buckets of up to ALL_PAIRS_MAX_BUCKET remaining rows are compared pair by pair).
MAX_PASSES = 1
HUBS_PER_PASS = 2
GUARD_BORDERLINE = False
FLAGS = {ROW: pl.Int64, "other": pl.Int64}


class NearDedupe(Stage):
    name = "near_dedupe"
    description = "MinHash LSH near duplicates (Jaccard of word n-grams): keep the most complete row of each cluster."
    inputs = ("id", "source", *TEXT_FIELDS)

    def __init__(self, on: Literal["prompt", "pair"] = "prompt", threshold: float = 0.8, ngram: int = 2,
                 bins: int = 64, band_size: int = 4, scope: list[str] | None = None, persona: bool = True,
                 generic_system_prompts: str = GENERIC_SYSTEM_PROMPTS, guard: bool = True, borderline: float = 0.05):
        self.on, self.threshold, self.ngram, self.bins, self.band_size = on, threshold, ngram, bins, band_size
        self.scope = scope or []
        self.persona = Persona(generic_system_prompts) if persona else None
        self.guard, self.borderline = guard, borderline

    @classmethod
    def from_config(cls, config: RunConfig) -> Self:
        dedupe, near = config.dedupe, config.dedupe.near
        return cls(near.target, near.threshold, near.ngram, near.bins, near.band_size, **grouping(dedupe),
                   guard=dedupe.guard, borderline=dedupe.borderline)

    @classmethod
    def enabled(cls, config: RunConfig) -> bool:
        return config.dedupe.near.enabled and config.images is None

    def keys(self, frame: pl.DataFrame) -> pl.Series:
        """Accent-, case- and punctuation-free text: 'Qué' and 'que' are the same word here."""
        fields = ["prompt"] if self.on == "prompt" else list(TEXT_FIELDS)
        text = pl.concat_str([pl.col(field).fill_null("") for field in fields], separator=" ")
        # In streaming batches: each folding step on a whole column would copy every text.
        return frame.lazy().select(fold_accents(comparison_key(text))).collect(engine="streaming").to_series()

    def process(self, frame: pl.DataFrame) -> StageResult:
        if frame.height == 0:
            return StageResult(with_possible_duplicates(frame), self.nothing_removed(frame))
        rank = np.argsort(np.asarray(completeness_order(frame), dtype=np.int64))  # rank[row]: 0 is the best
        # Rows with one comparison key in one scope are one text: its most complete row stands for all of
        # them (similarity 1.0), so that copies never fill a bucket. Texts are numbered best first; they
        # keep their keys in a buffer of their own, so that the keys of every row can go.
        rows = pl.DataFrame({"scope": scope_keys(frame, self.scope, self.persona).rank("dense"), "key": self.keys(frame),
                             "rank": rank}).with_row_index(ROW).with_columns(best=pl.col("rank").min().over("scope", "key"))
        text_of = rows.get_column("best").rank("dense") - 1
        texts = rows.filter(pl.col("rank") == pl.col("best")).sort("rank").select(ROW, "scope", own_copy(pl.col("key")).alias("key"))
        del rows, rank
        text_row = texts.get_column(ROW)
        founder = np.empty(texts.height, dtype=np.int64)
        to_founder = np.empty(texts.height)  # each text's Jaccard similarity to its founder
        flags = []
        for block in scope_blocks(texts.get_column("scope"), BLOCK_TEXTS):
            keys, scopes = texts.get_column("key").gather(block), texts.get_column("scope").gather(block)
            founded, to_founder[block], possible = self._block(keys, scopes, frame.get_column("prompt").gather(text_row.gather(block)))
            founder[block] = block[founded]
            flags.append(pl.DataFrame({ROW: block[possible.get_column(ROW).to_numpy()],
                                       "other": block[possible.get_column("other").to_numpy()]}, schema=FLAGS))
        del texts
        cluster_ids = text_row.gather(founder[text_of.to_numpy()])
        flags = pl.concat(flags)
        flags = flags.select(text_row.gather(flags.get_column(ROW)).alias(ROW), text_row.gather(flags.get_column("other")).alias("other"))

        def similarity(pairs: pl.DataFrame) -> pl.DataFrame:
            """resolve_clusters asks for each member's similarity to its cluster's kept row: the most complete
            row of the cluster's founder text (texts are numbered best first, and a founder is its cluster's first)."""
            return pairs.with_columns(similarity=pl.Series(to_founder).gather(text_of.gather(pairs.get_column("a"))))

        return resolve_clusters(self, frame, cluster_ids, f"near_duplicate_{self.on}", similarity, flags)

    def _block(self, keys: pl.Series, scopes: pl.Series, prompts: pl.Series) -> tuple[np.ndarray, np.ndarray, pl.DataFrame]:
        """Clusters of texts numbered best first (of whole scopes: no pair crosses two): each text's founder,
        its similarity to it, and the possible duplicates (row, other) among these texts."""
        grams = Shingles.of(keys, self.ngram)
        members = buckets(grams, scopes, self.bins, self.band_size)
        floor = self.threshold - self.borderline  # no pair under it is of any use
        scored = jaccard(grams, bucket_pairs(members), floor).filter(pl.col("similarity") >= floor)
        guard = self._guard(prompts)
        founder = self._clusters(self._above(scored), len(grams), guard)
        founder, more = self._passes(members, founder, grams, guard)
        del members
        # Pairs of two clusters: possible duplicates if just under the threshold, or over it where the guard
        # kept them apart; each flagged text needs only its best such pair, so few pairs are judged.
        order_of_text = pl.int_range(len(grams), dtype=pl.Int64, eager=True)
        flags = lazy_possible_duplicates(pl.concat([scored, more]), founder, order_of_text, self._possible(prompts))
        founders = founder.to_numpy().astype(np.int64)
        taken = np.flatnonzero(founders != np.arange(len(grams)))
        to_founder = np.ones(len(grams))
        to_founder[taken] = grams.jaccard(taken, founders[taken])
        return founders, to_founder, flags

    def _above(self, scored: pl.DataFrame) -> pl.DataFrame:
        return scored.filter(pl.col("similarity") >= self.threshold)

    @staticmethod
    def _clusters(confirmed: pl.DataFrame, rows: int, guard: Guard | None, founder: list[int] | None = None) -> pl.Series:
        if guard is None:
            return greedy_clusters(confirmed, range(rows), rows, founder)
        guard.read(pl.concat([confirmed.get_column("a"), confirmed.get_column("b")]).unique())
        return greedy_clusters(confirmed, range(rows), rows, founder, accept=guard.accept)

    def _guard(self, prompts: pl.Series) -> Guard | None:
        return Guard(prompts) if self.guard else None

    def _possible(self, prompts: pl.Series) -> Callable[[pl.DataFrame], pl.Series]:
        """Which pairs of two clusters people should see: those under the threshold, and over it those the
        guard blocked (with GUARD_BORDERLINE, under it only those the guard lets through)."""
        def possible(pairs: pl.DataFrame) -> pl.Series:
            above = pairs.get_column("similarity") >= self.threshold
            if not self.guard:
                return ~above
            checked = above if not GUARD_BORDERLINE else pl.Series([True] * pairs.height)
            blocked = pl.Series([False] * pairs.height)
            if checked.any():
                verdict = template_guard(prompts, pairs.filter(checked).select("a", "b")).get_column("blocked")
                blocked = blocked.scatter(checked.arg_true(), verdict)
            return blocked == above if GUARD_BORDERLINE else ~above | blocked

        return possible

    def _passes(self, members: pl.DataFrame, founder: pl.Series, grams: Shingles,
                guard: Guard | None) -> tuple[pl.Series, pl.DataFrame]:
        """Large buckets link each text to their hub only. Where another cluster took the hub, the texts
        the hub left alone are compared again with the bucket's next best texts that are still founders
        (HUBS_PER_PASS of them, or every pair once MAX_BUCKET or fewer are left), for MAX_PASSES passes.
        The founders, and the pairs scored down to the borderline."""
        members = members.with_columns(pl.col(ROW).cast(pl.Int64)).filter(pl.len().over("bucket") > ALL_PAIRS_MAX_BUCKET)
        scored = pl.DataFrame(schema={"a": pl.Int64, "b": pl.Int64, "similarity": pl.Float64})
        if members.height == 0:
            return founder, scored
        done = members.group_by("bucket").agg(pl.col(ROW).min())  # the first pass's hubs (texts are numbered best first)
        rows = len(founder)
        floor = self.threshold - self.borderline
        for _ in range(MAX_PASSES):
            founders = founder.to_numpy().astype(np.int64)
            is_founder = founders == np.arange(rows)
            alone = is_founder & (np.bincount(founders, minlength=rows) == 1)
            status = pl.DataFrame({ROW: np.arange(rows, dtype=np.int64)[is_founder], "alone": alone[is_founder]})
            # Only buckets whose last hub another cluster took (issue 14); a hub that founded its own
            # cluster was compared with every text of its bucket already.
            taken = done.filter(~pl.Series(is_founder).gather(done.get_column(ROW))).get_column("bucket")
            left = (members.filter(pl.col("bucket").is_in(taken.implode()))
                    .join(done, on=["bucket", ROW], how="anti").join(status, on=ROW)
                    .filter(pl.col("alone").any().over("bucket") & (pl.len().over("bucket") > 1)))
            if left.height == 0:
                break
            small = left.filter(pl.len().over("bucket") <= ALL_PAIRS_MAX_BUCKET)
            large = left.filter(pl.len().over("bucket") > ALL_PAIRS_MAX_BUCKET)
            hubs = large.filter(pl.col(ROW).rank("ordinal").over("bucket") <= HUBS_PER_PASS).select("bucket", pl.col(ROW).alias("hub"))
            hub_pairs = large.join(hubs, on="bucket").filter(pl.col("alone") & (pl.col(ROW) != pl.col("hub")))
            pairs_small = small.join(small, on="bucket", suffix="_b").filter(
                (pl.col(ROW) < pl.col(f"{ROW}_b")) & (pl.col("alone") | pl.col("alone_b")))
            pairs = pl.concat([
                hub_pairs.select(pl.min_horizontal(ROW, "hub").alias("a"), pl.max_horizontal(ROW, "hub").alias("b")),
                pairs_small.select(pl.col(ROW).alias("a"), pl.col(f"{ROW}_b").alias("b")),
            ]).unique()
            done = pl.concat([done, hubs.rename({"hub": ROW}), small.select("bucket", ROW)])
            found = jaccard(grams, pairs, floor).filter(pl.col("similarity") >= floor)
            scored = pl.concat([scored, found])
            confirmed = self._above(found)
            if confirmed.height == 0:
                break  # nothing placed: the texts left alone are not near duplicates of their buckets' best rows
            founder = self._clusters(confirmed, rows, guard, np.where(alone, -1, founders).tolist())
        return founder, scored


class Guard:
    """The template guard as greedy_clusters' `accept`: a founder takes a neighbour only if no other
    content word and no other word order tells them apart. Checked on a founder and its untaken
    neighbours, not on every pair; the content words of the texts of confirmed pairs are folded once,
    in one pass over the column (`read`)."""

    def __init__(self, texts: pl.Series):
        self.texts = texts
        self.words: dict[int, list[str]] = {}

    def read(self, texts: pl.Series) -> None:
        new = [text for text in texts.to_list() if text not in self.words]
        self.words.update(zip(new, content_words(self.texts.gather(new))))

    def accept(self, founder: int, candidates: np.ndarray) -> np.ndarray:
        mine = self.words[founder]
        return np.fromiter((not differs_in_meaning(mine, self.words[other]) for other in candidates.tolist()),
                           dtype=bool, count=len(candidates))

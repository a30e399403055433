"""Near duplicates by MinHash LSH over word n-grams, on prompts (default) or whole pairs."""

from __future__ import annotations

from typing import Literal

import numpy as np
import polars as pl

from curation.clusters import (
    GENERIC_SYSTEM_PROMPTS,
    ROW,
    Persona,
    completeness_order,
    greedy_clusters,
    possible_duplicates,
    resolve_clusters,
    scope_keys,
    template_guard,
    with_possible_duplicates,
)
from curation.near_duplicates import ALL_PAIRS_MAX_BUCKET, bucket_pairs, buckets, jaccard, shingles
from curation.schema import TEXT_FIELDS
from curation.stage import Stage, StageResult
from curation.text import comparison_key, fold_accents

# Passes over the rows that large buckets' hubs left alone: each pass takes every large bucket's next
# best rows as its hubs (buckets of up to ALL_PAIRS_MAX_BUCKET remaining rows are compared pair by pair).
MAX_PASSES = 1
HUBS_PER_PASS = 2
GUARD_BORDERLINE = False


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

    def keys(self, frame: pl.DataFrame) -> pl.Series:
        """Accent-, case- and punctuation-free text: 'Qué' and 'que' are the same word here."""
        fields = ["prompt"] if self.on == "prompt" else list(TEXT_FIELDS)
        text = pl.concat_str([pl.col(field).fill_null("") for field in fields], separator=" ")
        return frame.select(fold_accents(comparison_key(text))).to_series()

    def process(self, frame: pl.DataFrame) -> StageResult:
        if frame.height == 0:
            return StageResult(with_possible_duplicates(frame), self.nothing_removed(frame))
        order = completeness_order(frame)
        rank = pl.Series(np.argsort(np.asarray(order, dtype=np.int64)), dtype=pl.Int64)  # rank[row]: 0 is the best
        table = pl.DataFrame({ROW: pl.int_range(frame.height, dtype=pl.Int64, eager=True), "key": self.keys(frame),
                              "scope": scope_keys(frame, self.scope, self.persona), "rank": rank})
        # Rows with one comparison key in one scope are one text: its most complete row stands for all of
        # them (similarity 1.0), so that copies never fill a bucket. Unique texts are numbered best first.
        table = table.with_columns(_rep=pl.col(ROW).sort_by("rank").first().over("scope", "key"))
        texts = table.filter(pl.col(ROW) == pl.col("_rep")).sort("rank").with_row_index("text")
        text_of = table.join(texts.select("_rep", "text"), on="_rep", how="left", maintain_order="left").get_column("text")
        text_row = texts.get_column(ROW)
        prompts = frame.get_column("prompt").gather(text_row)

        grams = shingles(texts.get_column("key"), self.ngram)
        members = buckets(grams, texts.get_column("scope"), self.bins, self.band_size)
        sizes = grams.group_by(ROW).len("size")
        floor = self.threshold - self.borderline  # no pair under it is of any use
        confirmed, possible = self._judge(jaccard(grams, bucket_pairs(members), sizes, floor), prompts)
        founder = greedy_clusters(confirmed, range(texts.height), texts.height)
        founder, more = self._passes(members, founder, grams, sizes, prompts)
        possible = pl.concat([possible, more])

        cluster_ids = text_row.gather(founder.gather(text_of))
        # Pairs just under the threshold across two clusters: possible duplicates if no other word sets them apart.
        across = possible.filter(founder.gather(possible.get_column("a")) != founder.gather(possible.get_column("b")))
        if self.guard and GUARD_BORDERLINE:
            near = template_guard(prompts, across.filter(~pl.col("guarded")))
            across = pl.concat([across.filter("guarded"), near.filter(~pl.col("blocked")).drop("blocked")])
        flags = possible_duplicates(across, founder, pl.int_range(texts.height, dtype=pl.Int64, eager=True))
        flags = flags.select(text_row.gather(flags.get_column(ROW)).alias(ROW), text_row.gather(flags.get_column("other")).alias("other"))

        def similarity(pairs: pl.DataFrame) -> pl.DataFrame:
            local = pairs.with_columns(ta=text_of.gather(pairs.get_column("a")), tb=text_of.gather(pairs.get_column("b")))
            distinct = local.filter(pl.col("ta") != pl.col("tb")).select(pl.col("ta").alias("a"), pl.col("tb").alias("b")).unique()
            scored = jaccard(grams, distinct).rename({"a": "ta", "b": "tb"})
            local = local.join(scored, on=["ta", "tb"], how="left", maintain_order="left")
            return local.select("a", "b", pl.when(pl.col("ta") == pl.col("tb")).then(1.0).otherwise("similarity").alias("similarity"))

        return resolve_clusters(self, frame, cluster_ids, f"near_duplicate_{self.on}", similarity, flags)

    def _judge(self, scored: pl.DataFrame, prompts: pl.Series) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Confirmed pairs (similar enough, and not told apart by the template guard), and the possible
        duplicates: pairs the guard blocked (`guarded`), and pairs just under the threshold (guarded once
        the clusters are known, see process)."""
        above = scored.filter(pl.col("similarity") >= self.threshold)
        if self.guard:
            above = template_guard(prompts, above)
            blocked, above = above.filter("blocked").drop("blocked"), above.filter(~pl.col("blocked")).drop("blocked")
        else:
            blocked = above.clear()
        near = scored.filter(pl.col("similarity").is_between(self.threshold - self.borderline, self.threshold, closed="left"))
        cast = [pl.col("a").cast(pl.Int64), pl.col("b").cast(pl.Int64), pl.col("similarity").cast(pl.Float64)]
        return above.select(cast), pl.concat([blocked.select(cast).with_columns(guarded=pl.lit(True)),
                                              near.select(cast).with_columns(guarded=pl.lit(False))])

    def _passes(self, members: pl.DataFrame, founder: pl.Series, grams: pl.DataFrame, sizes: pl.DataFrame,
                prompts: pl.Series) -> tuple[pl.Series, pl.DataFrame]:
        """Large buckets link each text to their hub only. Where another cluster took the hub, the texts
        the hub left alone are compared again with the bucket's next best texts that are still founders
        (HUBS_PER_PASS of them, or every pair once MAX_BUCKET or fewer are left), for MAX_PASSES passes."""
        members = members.with_columns(pl.col(ROW).cast(pl.Int64)).filter(pl.len().over("bucket") > ALL_PAIRS_MAX_BUCKET)
        possible = pl.DataFrame(schema={"a": pl.Int64, "b": pl.Int64, "similarity": pl.Float64, "guarded": pl.Boolean})
        if members.height == 0:
            return founder, possible
        done = members.group_by("bucket").agg(pl.col(ROW).min())  # the first pass's hubs (texts are numbered best first)
        grams = grams.filter(pl.col(ROW).is_in(members.get_column(ROW).unique().cast(pl.UInt32).implode()))
        rows = len(founder)
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
            confirmed, maybe = self._judge(jaccard(grams, pairs, sizes, self.threshold - self.borderline), prompts)
            possible = pl.concat([possible, maybe])
            if confirmed.height == 0:
                break  # nothing placed: the texts left alone are not near duplicates of their buckets' best rows
            founder = greedy_clusters(confirmed, range(rows), rows, np.where(alone, -1, founders).tolist())
        return founder, possible

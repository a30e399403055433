"""What the generated rows cost and what they bought: per country and in total, the rows the LLM
extension made, how many the curation accepted as DPO pairs, and the USD per accepted pair (spend
over every generated row, kept or not: quarantined and duplicate rows were paid for too)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:  # the report imports this module
    from curation.reports.curation_report import RunFolder

SYNTHETIC = pl.col("origin").is_in(["synthetic", "generated"])


def generation_cost(run: RunFolder) -> pl.DataFrame | None:
    """None when the run read no generated rows (no `origin`/`cost_usd` columns)."""
    frames = [frame.filter(SYNTHETIC.fill_null(False))
              .select("country", "cost_usd", accepted=pl.lit(kept), pair=pl.col("preference") == "chosen-better")
              if "cost_usd" in frame.columns and "origin" in frame.columns else None
              for frame, kept in ((run.accepted, True), (run.quarantined, False), (run.duplicates, False))]
    frames = [frame for frame in frames if frame is not None and frame.height]
    if not frames:
        return None
    rows = pl.concat(frames).with_columns(pl.col("country").fill_null("unknown"))
    measures = [pl.len().alias("generated"), pl.col("accepted").sum().alias("accepted"),
                (pl.col("accepted") & pl.col("pair")).sum().alias("accepted_pairs"),
                pl.col("cost_usd").sum().round(4).alias("spent_usd")]
    table = pl.concat([rows.group_by("country").agg(measures).sort("country"),
                       rows.select(pl.lit("all").alias("country"), *measures)])
    return table.with_columns(usd_per_accepted_pair=pl.when(pl.col("accepted_pairs") > 0)
                              .then((pl.col("spent_usd") / pl.col("accepted_pairs")).round(4)))

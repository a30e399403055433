"""What the generated rows cost and what they bought: per country and in total, the rows the LLM
extension made, how many the curation accepted as DPO pairs, and the USD per accepted pair. The spend
counts every request that was paid for: generated rows kept or not (quarantined and duplicate rows
were paid for too), and the extension's failed requests (`failed.parquet` beside a generated input)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from curation.config import saved_config

if TYPE_CHECKING:  # the report imports this module
    from curation.run_folder import RunFolder

SYNTHETIC = pl.col("origin").is_in(["synthetic", "generated"])


def generation_cost(run: RunFolder) -> pl.DataFrame | None:
    """None when the run read no generated rows (no `origin`/`cost_usd` columns). USD as exact floats: the
    report's tables round them when they print."""
    frames = [frame.filter(SYNTHETIC.fill_null(False))
              .select("country", "cost_usd", accepted=pl.lit(kept), pair=pl.col("preference") == "chosen-better")
              if "cost_usd" in frame.columns and "origin" in frame.columns else None
              for frame, kept in ((run.accepted, True), (run.quarantined, False), (run.duplicates, False))]
    frames = [frame for frame in frames if frame is not None and frame.height]
    if not frames:
        return None
    failed = [pl.read_parquet(path).select("country", "cost_usd", accepted=pl.lit(False), pair=pl.lit(False))
              for path in _failed_requests(run.path)]
    rows = pl.concat([*frames, *failed]).with_columns(pl.col("country").fill_null("unknown"))
    measures = [pl.len().alias("paid_requests"), pl.col("accepted").sum().alias("accepted"),
                (pl.col("accepted") & pl.col("pair")).sum().alias("accepted_pairs"),
                pl.col("cost_usd").sum().alias("spent_usd")]
    table = pl.concat([rows.group_by("country").agg(measures).sort("country"),
                       rows.select(pl.lit("all").alias("country"), *measures)])
    return table.with_columns(usd_per_accepted_pair=pl.when(pl.col("accepted_pairs") > 0)
                              .then(pl.col("spent_usd") / pl.col("accepted_pairs")))


def _failed_requests(run_dir: Path) -> list[Path]:
    """`failed.parquet` beside each input that `curation extend` wrote (its generated.parquet)."""
    paths = [Path(source.path) for source in saved_config(run_dir).inputs()]
    return [path.with_name("failed.parquet") for path in paths
            if path.name == "generated.parquet" and path.with_name("failed.parquet").is_file()]

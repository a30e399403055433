"""`curation run --demo`: the embedded data, offline, with every planted defect caught."""

from importlib import resources

import datasets
import polars as pl


def planted() -> pl.DataFrame:
    """Demo rows with their planted defects, keyed by the source label the reader gives them."""
    path = resources.files("curation.demo").joinpath("arena_demo.jsonl")
    with resources.as_file(path) as file:
        rows = pl.read_ndjson(file)
    return rows.with_row_index("row", offset=1).select(
        source=pl.format("arena_demo.jsonl:{}", pl.col("row")), planted=pl.col("planted_defect").str.split("+"),
    )


def test_every_planted_defect_is_caught_and_clean_rows_pass(demo_run):
    out, _ = demo_run
    ledger = pl.read_parquet(out / "ledger.parquet").join(planted(), on="source")
    caught = ledger.with_columns(caught=pl.concat_list("reasons", "warnings"))
    defective = caught.filter(pl.col("planted").is_not_null() & (pl.col("planted") != ["needs_normalisation"]))
    missed = defective.filter(pl.col("planted").list.set_difference("caught").list.len() > 0)
    assert missed.height == 0, missed.select("source", "planted", "caught").to_dicts()
    clean = caught.filter(pl.col("planted").is_null() | (pl.col("planted") == ["needs_normalisation"]))
    assert set(clean["status"]) == {"accepted"}
    # Rejected answers in the wrong national variety are part of the demo's design: only that warning.
    assert set(clean["warnings"].explode().drop_nulls()) <= {"variety_clash_chosen", "variety_clash_rejected"}
    every_kind = set(defective["planted"].explode())
    assert len(every_kind) >= 18, every_kind


def test_planted_markup_is_normalised(demo_run):
    out, _ = demo_run
    accepted = pl.read_parquet(out / "accepted.parquet").join(planted(), on="source")
    messy = accepted.filter(pl.col("planted") == ["needs_normalisation"])
    assert messy.height == 3
    fields = ("prompt", "chosen", "rejected")
    for column in fields:
        assert not messy[column].str.contains(r"<br|<p>|&nbsp;|&amp;|\x{00A0}|\x{200B}|\r|  ").any()
        # `<field>_raw` holds the text as read only where normalising changed it
        changed = messy.filter(pl.col(f"{column}_raw").is_not_null())
        assert (changed[column] != changed[f"{column}_raw"]).all()
    assert messy.select(pl.any_horizontal(pl.col(f"{column}_raw").is_not_null() for column in fields)).to_series().all()


def test_the_demo_writes_datasets_a_summary_and_a_balanced_ledger(demo_run):
    out, result = demo_run
    import json

    summary = json.loads((out / "ledger.json").read_text())
    assert sum(summary["status"].values()) == summary["input_rows"] == 180
    assert summary["status"]["duplicate"] == 3
    for kind in ("dpo", "kto", "prompts"):
        loaded = datasets.load_from_disk(str(out / f"demo_arena_{kind}"))
        assert set(loaded) == {"train", "test"}
    assert "demo_arena" in result.stderr and "pii_email" in result.stderr
    assert "## Reasons, with examples" in (out / "summary.md").read_text()

"""Published datasets: trl's DPO (standard, conversational), KTO and prompts formats, named by convention."""

import datasets
import polars as pl
import pytest

from curation.config import RunConfig
from curation.run import run
from curation.testing import pair

ROWS = [
    pair(prompt="¿Qué llevas a un asado en Montevideo?", country="UY", region="Montevideo"),
    pair(prompt="¿Cómo se saluda en Medellín?", preference="both-good", country="CO", region="Antioquia",
         system_prompt=None),
    pair(prompt="¿Cuál es el mejor barrio de Madrid?", preference="both-bad", country="ES", region="Madrid"),
]


@pytest.fixture
def run_on_rows(tmp_path):
    def run_with(output=None):
        source = tmp_path / "pairs.jsonl"
        pl.DataFrame(ROWS).write_ndjson(source)
        config = RunConfig(name="mini", input={"path": str(source), "format": "trl"},
                           output=output or {}, split={"test_fraction": 0.0})
        return run(config, tmp_path / "out")
    return run_with


def load(folder, kind, split="train"):
    return datasets.load_from_disk(str(folder / f"mini_{kind}"))[split]


def test_conversational_dpo_holds_only_clear_pairs_with_system_messages(run_on_rows):
    result = run_on_rows()
    dpo = load(result.output_dir, "dpo")
    assert dpo.num_rows == 1
    row = dpo[0]
    assert row["prompt"] == [{"role": "system", "content": ROWS[0]["system_prompt"]},
                             {"role": "user", "content": ROWS[0]["prompt"]}]
    assert row["chosen"] == [{"role": "assistant", "content": ROWS[0]["chosen"]}]
    assert row["rejected"] == [{"role": "assistant", "content": ROWS[0]["rejected"]}]
    assert (row["country"], row["region"]) == ("UY", "Montevideo")


def test_kto_labels_follow_the_vote(run_on_rows):
    kto = load(run_on_rows(output={"dpo_format": "standard"}).output_dir, "kto").to_polars()
    labels = {(row["prompt"], row["completion"] == ROWS[0]["chosen"]): row["label"] for row in kto.iter_rows(named=True)}
    assert labels[(ROWS[0]["prompt"], True)] is True and labels[(ROWS[0]["prompt"], False)] is False
    assert kto.filter(pl.col("prompt") == ROWS[1]["prompt"])["label"].to_list() == [True, True]
    assert kto.filter(pl.col("prompt") == ROWS[2]["prompt"])["label"].to_list() == [False, False]


def test_standard_dpo_and_prompts_and_parquet_files(run_on_rows):
    folder = run_on_rows(output={"dpo_format": "standard"}).output_dir
    dpo = pl.read_parquet(folder / "mini_dpo" / "data" / "train-00000-of-00001.parquet")
    assert dpo.select("prompt", "chosen", "rejected").row(0) == (ROWS[0]["prompt"], ROWS[0]["chosen"], ROWS[0]["rejected"])
    prompts = load(folder, "prompts")
    assert prompts.num_rows == 3 and "chosen" not in prompts.column_names
    assert sorted(path.name for path in folder.iterdir()) == [
        ".curation-output", "accepted.parquet", "config.yaml", "duplicate_clusters.parquet", "duplicates.parquet", "ledger.json", "ledger.parquet",
        "mini_dpo", "mini_kto", "mini_prompts", "quarantine.parquet", "summary.md", "validation.json",
    ]


def test_written_splits_are_what_trl_reads(run_on_rows):
    """trl's own format checks on our output: conversational by default, standard on request."""
    from trl.data_utils import is_conversational

    conversational = run_on_rows().output_dir
    assert is_conversational(load(conversational, "dpo")[0])
    assert is_conversational(load(conversational, "kto")[0])
    standard = run_on_rows(output={"dpo_format": "standard"}).output_dir
    assert not is_conversational(load(standard, "dpo")[0])

"""Property: whatever the input, every row ends in exactly one place and the ledger proves it."""

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from curation.config import RunConfig
from curation.ledger import Ledger, LedgerError
from curation.pipelines import default_pipeline
from curation.run import run_pipeline
from curation.testing import frame_of

PROMPTS = ["¿Qué se come en Semana Santa en Sevilla?", "¿QUÉ se come en semana santa en Sevilla?", "Hola", "",
           "¿Cómo se dice 'autobús' en Cuba?", "Usuario: ¿Y vos?\nAsistente: Bien, ¿y vos?", "Â¿QuÃ© tal?"]
RESPONSES = ["Torrijas, pestiños y potaje de vigilia, sobre todo en casa de la abuela.", "Guagua, sin duda.",
             "Lo siento, ha ocurrido un error. Por favor, inténtalo de nuevo.", "Como modelo de lenguaje, no sé.",
             "Escríbeme a ana@correo-ejemplo.es para más.", "Se come mucho y luego se va a la", "", "Sí.",
             "Torrijas, pestiños y potaje de vigilia, sobre todo en casa de la abuela!"]
CONFIG = RunConfig(name="property", input={"path": "unused.csv"})

rows = st.fixed_dictionaries({
    "system_prompt": st.sampled_from([None, "", "Eres de Triana."]),
    "prompt": st.sampled_from(PROMPTS) | st.text(max_size=40),
    "chosen": st.sampled_from(RESPONSES) | st.text(max_size=60),
    "rejected": st.sampled_from(RESPONSES) | st.text(max_size=60),
    "preference": st.sampled_from(["chosen-better", "both-good", "both-bad"]),
    "country": st.sampled_from(["ES", "CU", None]),
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(rows, min_size=1, max_size=40))
def test_every_input_row_ends_in_exactly_one_place(batch):
    records = frame_of(*batch)
    result = run_pipeline(records, default_pipeline(CONFIG))  # raises LedgerError if it does not balance
    ledger = result.ledger_rows
    assert sorted(ledger["source"]) == sorted(records["source"])
    assert set(ledger["status"]) <= {"accepted", "quarantined", "duplicate"}
    assert result.accepted.height + result.removed.collect().height == records.height
    assert (ledger.filter(pl.col("status") != "accepted")["reasons"].list.len() >= 1).all()
    accepted_ids = set(ledger.filter(pl.col("status") == "accepted")["id"])
    assert set(ledger.filter(pl.col("status") == "duplicate")["duplicate_of"]) <= accepted_ids
    assert result.summary["status"]["accepted"] == result.accepted.height


def test_the_check_catches_a_lost_row_and_a_row_counted_twice():
    records = frame_of({"prompt": "¿Qué tal?", "chosen": "Bien, gracias, ¿y tú?", "rejected": "Bien."},
                       {"prompt": "¿Y mañana?", "chosen": "Mañana vamos al Rastro.", "rejected": "No sé."})
    result = run_pipeline(records, default_pipeline(CONFIG))
    ledger = Ledger(input_rows=2)
    with pytest.raises(LedgerError, match="rows lost"):
        ledger.check(records["source"], result.ledger_rows.head(1))
    with pytest.raises(LedgerError, match="counted twice"):
        ledger.check(records["source"], pl.concat([result.ledger_rows.head(1)] * 2))
    unexplained = result.ledger_rows.with_columns(status=pl.lit("quarantined"), reasons=pl.lit([], dtype=pl.List(pl.String)))
    with pytest.raises(LedgerError, match="without a reason"):
        ledger.check(records["source"], unexplained)


def test_batched_run_ends_every_row_where_one_batch_does(monkeypatch):
    """The row-local stages stream over spilled batches; batch size changes nothing but memory."""
    import curation.run
    from curation.config import demo_config
    from curation.readers import read_inputs

    config = demo_config()
    config.dedupe.semantic.enabled = False
    records = read_inputs(config)
    whole = run_pipeline(records, default_pipeline(config))
    monkeypatch.setattr(curation.run, "BATCH_ROWS", 7)
    monkeypatch.setattr(curation.run, "batch_workers", lambda: 2)
    batched = run_pipeline(records, default_pipeline(config))
    # Known limit (README): repeated responses are counted per batch, so only that warning may differ.
    per_batch = pl.col("warnings").list.eval(pl.element().filter(~pl.element().str.starts_with("repeated_response")))
    assert batched.ledger_rows.with_columns(per_batch).equals(whole.ledger_rows.with_columns(per_batch))
    assert batched.accepted.sort("source").drop("warnings", "chosen_repeat_prompts", "rejected_repeat_prompts").equals(
        whole.accepted.sort("source").drop("warnings", "chosen_repeat_prompts", "rejected_repeat_prompts"))
    assert [s["rows_in"] for s in batched.summary["stages"]] == [s["rows_in"] for s in whole.summary["stages"]]
    # Two batches at a time, each in its thread: the rows come out in the order one batch at a time gives.
    monkeypatch.setattr(curation.run, "batch_workers", lambda: 1)
    one_at_a_time = run_pipeline(records, default_pipeline(config))
    assert batched.accepted.equals(one_at_a_time.accepted)
    assert batched.removed.collect().equals(one_at_a_time.removed.collect())
    assert batched.ledger_rows.equals(one_at_a_time.ledger_rows)

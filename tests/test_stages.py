"""The stages one by one: normalise, filter, exact dedupe, split; and their composition with >>."""

import polars as pl

from curation.config import FilterConfig, RunConfig
from curation.pipelines import default_pipeline
from curation.pipelines.exact_dedupe import ExactDedupe
from curation.pipelines.filter import Filter
from curation.pipelines.normalise import Normalise
from curation.pipelines.split import Split
from curation.rules import default_rules
from curation.stage import Pipeline
from curation.testing import frame_of, pair


def test_normalise_cleans_markup_spaces_and_unicode_and_keeps_the_original():
    messy = "Hola,&nbsp;qué\u00a0tal<br>¿Vienes   a la\u200b  fiesta?\r\n\r\n\r\n<p>Sí &amp; no</p> cafe\u0301 👨\u200d👩\u200d👧"
    result = Normalise()(frame_of(pair(chosen=messy, system_prompt="  ")))
    row = result.kept.row(0, named=True)
    assert row["chosen"] == "Hola, qué tal\n¿Vienes a la fiesta?\n\nSí & no\n café 👨\u200d👩\u200d👧"
    assert row["chosen_raw"] == messy
    assert row["prompt_raw"] is None  # unchanged: no copy kept
    assert row["system_prompt"] is None
    assert result.stats["changed_chosen"] == 1 and result.removed.height == 0


def test_normalise_leaves_markdown_and_code_alone():
    text = "Pasos:\n\n1. **Uno**\n    - sub item\n\n```python\nif a < b:\n    pass\n```"
    assert Normalise()(frame_of(pair(chosen=text))).kept["chosen"][0] == text


def test_normalise_removes_hidden_characters_whole_and_counts_the_texts():
    hostile = pair(prompt="¿Qué es\x00 el mole\x1b]0;pwned\x07 poblano?",
                   chosen="Una salsa \x1b[1;31mroja\x1b[0m de Puebla, con chiles, especias y chocolate.",
                   rejected="Abre la receta \u202egnp.exe y listo, es muy fácil de hacer en casa.",
                   system_prompt="Eres\x07 una cocinera \u2066poblana\u2069\x9b2J.")
    result = Normalise()(frame_of(hostile, pair()))
    cleaned, clean = result.kept.to_dicts()
    assert cleaned["prompt"] == "¿Qué es el mole poblano?"
    assert cleaned["chosen"] == "Una salsa roja de Puebla, con chiles, especias y chocolate."
    assert cleaned["rejected"] == "Abre la receta gnp.exe y listo, es muy fácil de hacer en casa."
    assert cleaned["system_prompt"] == "Eres una cocinera poblana."
    assert all(cleaned[f"{field}_raw"] == hostile[field] for field in ("prompt", "chosen", "rejected", "system_prompt"))
    assert {field: clean[field] for field in pair()} == pair() and clean["chosen_raw"] is None
    assert {key: value for key, value in result.stats.items() if key.startswith("texts_with_")} == {
        "texts_with_ansi_escapes": 3, "texts_with_control_characters": 2, "texts_with_bidi_controls": 2}


def test_normalise_keeps_tabs_line_ends_and_direction_marks():
    text = "Receta:\n\tPaso 1: \u200fאבא\u200e y chiles.\x0cFin."
    assert Normalise()(frame_of(pair(chosen=text))).kept["chosen"][0] == "Receta:\n\tPaso 1: \u200fאבא\u200e y chiles. Fin."


def test_filter_quarantines_with_every_reason_and_keeps_warnings():
    frame = frame_of(
        pair(),
        pair(prompt="¿Qué tal?", chosen="Como modelo de lenguaje, escríbeme a yo@correo-ejemplo.es y te cuento que"),
        pair(prompt="¿Y en Viña?", rejected="Son tortas fritas que se comen en invierno en el sur y el centro, y se"),
    )
    result = Filter(default_rules(FilterConfig(), tagged=False))(frame)
    assert result.kept["prompt"].to_list() == [pair()["prompt"], "¿Y en Viña?"]
    assert result.kept["warnings"].to_list() == [[], ["truncated_rejected"]]
    removed = result.removed.row(0, named=True)
    assert removed["status"] == "quarantined" and removed["stage"] == "filter"
    assert set(removed["reasons"]) == {"ai_disclaimer_chosen", "pii_email", "truncated_chosen"}
    assert result.stats["pii_email"] == 1 and result.stats["truncated_rejected"] == 1


def test_exact_dedupe_keeps_the_first_and_points_the_others_to_it():
    first = pair()
    frame = frame_of(
        first,
        pair(prompt=first["prompt"].upper() + "  ", chosen="Otra respuesta distinta, con chancaca y canela."),
        first,
        pair(prompt="¿Qué es el curanto en hoyo?"),
    )
    result = ExactDedupe()(frame)
    assert result.kept["source"].to_list() == ["test:1", "test:4"]
    removed = result.removed.sort("source")
    assert removed["duplicate_of"].to_list() == [frame["id"][0]] * 2
    assert removed["duplicate_of_source"].to_list() == ["test:1", "test:1"]
    assert removed["reasons"].to_list() == [["exact_duplicate_prompt"], ["exact_duplicate_pair"]]
    assert result.stats == {"exact_duplicate_pair": 1, "exact_duplicate_prompt": 1}


def test_exact_dedupe_by_pair_only_keeps_other_answers_to_the_same_prompt():
    first = pair()
    frame = frame_of(first, pair(chosen="Otra respuesta distinta, con chancaca y canela."), first)
    result = ExactDedupe(by_prompt=False)(frame)
    assert result.kept["source"].to_list() == ["test:1", "test:2"]


def test_split_is_by_prompt_group_stratified_and_seeded():
    rows = [pair(prompt=f"Pregunta número {n} sobre costumbres locales", country=country)
            for n in range(40) for country in ("CL", "ES")]
    rows += [pair(prompt="Pregunta número 3 sobre costumbres locales", chosen="Otra, y bien distinta, de verdad.")]
    frame = frame_of(*rows)
    first = Split(test_fraction=0.25, seed=1)(frame).kept
    again = Split(test_fraction=0.25, seed=1)(frame.reverse()).kept
    other_seed = Split(test_fraction=0.25, seed=2)(frame).kept
    splits = first.group_by("prompt").agg(pl.col("split").n_unique())
    assert splits["split"].max() == 1, "a prompt never lands in both splits"
    # a quarter of each country's 40 prompt groups, however many rows a group holds
    tested = first.filter(pl.col("split") == "test").group_by("country").agg(pl.col("prompt").n_unique()).sort("country")
    assert tested["prompt"].to_list() == [10, 10]
    assert dict(zip(first["source"], first["split"])) == dict(zip(again["source"], again["split"]))
    assert first["split"].to_list() != other_seed["split"].to_list()


def test_stages_compose_with_rshift_into_the_default_pipeline():
    config = RunConfig(name="x", input={"path": "x.csv"})
    names = [stage.name for stage in default_pipeline(config)]
    assert names == ["normalise", "language_tag", "variety_tag", "register_tag", "dimension_tag", "filter",
                     "exact_dedupe", "near_dedupe", "semantic_dedupe", "split"]
    off = RunConfig(name="x", input={"path": "x.csv"}, tagging={"enabled": False},
                    dedupe={"near": {"enabled": False}, "semantic": {"enabled": False}})
    assert [stage.name for stage in default_pipeline(off)] == ["normalise", "filter", "exact_dedupe", "split"]
    composed = Normalise() >> Filter([]) >> Split()
    assert isinstance(composed, Pipeline) and [s.name for s in composed] == ["normalise", "filter", "split"]


def test_a_stage_says_which_inputs_it_is_missing():
    import pytest

    from curation.errors import CurationError

    with pytest.raises(CurationError, match=r"stage split needs columns \['country', 'preference'\]"):
        Split()(pl.DataFrame({"prompt": ["a"]}))


def test_row_local_stages_give_the_same_result_chunk_by_chunk(monkeypatch):
    import curation.stage

    rows = [pair(prompt=f"¿Qué se come en la fiesta número {n} de tu pueblo?", chosen=f"Texto  con&nbsp;espacios {n}.")
            for n in range(7)]
    whole = Normalise()(frame_of(*rows))
    monkeypatch.setattr(curation.stage, "CHUNK_ROWS", 3)
    chunked = Normalise()(frame_of(*rows))
    assert chunked.kept.equals(whole.kept)
    assert chunked.stats == whole.stats

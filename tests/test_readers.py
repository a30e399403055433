"""Every supported shape and file kind reads into the canonical schema."""

import json

import datasets
import polars as pl
import pytest

from curation.config import InputConfig
from curation.countries import to_iso
from curation.errors import InputError
from curation.readers import read_records
from curation.schema import CANONICAL


def read(path, **options):
    return read_records(InputConfig(path=str(path), **options))


def write_jsonl(path, rows):
    path.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in rows) + "\n", encoding="utf-8")
    return path


def test_arena_csv_with_multiline_fields_and_country_names(tmp_path):
    file = tmp_path / "arena.csv"
    pl.DataFrame({
        "country": ["España", "Perú", "MEXICO"],
        "system_prompt": ["Eres de Sevilla.", "", "Eres de Monterrey."],
        "question": ["¿Qué es\nun pescaíto?", "¿Dónde comer cuy?", "¿Qué es el cabrito?"],
        "chosen": ["Línea uno,\n\"citada\".", "En Cusco, causa.", "Un platillo norteño."],
        "rejected": ["Otra.", "No sé.", "Comida."],
    }).write_csv(file)
    records = read(file)
    assert records.columns[: len(CANONICAL)] == list(CANONICAL)
    assert records["country"].to_list() == ["ES", "PE", "MX"]
    assert records["prompt"][0] == "¿Qué es\nun pescaíto?"
    assert records["chosen"][0] == 'Línea uno,\n"citada".'
    assert records["source"].to_list() == ["arena.csv:1", "arena.csv:2", "arena.csv:3"]
    assert set(records["preference"]) == {"chosen-better"}


def test_ids_are_content_derived_and_stable_across_files(tmp_path):
    row = {"question": "¿Qué se come en Navidad en Caracas?", "chosen": "Hallacas, pan de jamón y ensalada de gallina.",
           "rejected": "Comida típica.", "country": "Venezuela"}
    first = read(write_jsonl(tmp_path / "a.jsonl", [row, row | {"chosen": "Otra cosa, pana."}]))
    again = read(write_jsonl(tmp_path / "b.jsonl", [row]))
    assert first["id"][0] == again["id"][0]
    assert first["id"][0] != first["id"][1]
    assert first["id"].str.len_chars().to_list() == [16, 16]


def test_trl_standard_format_from_parquet(tmp_path):
    file = tmp_path / "standard.parquet"
    pl.DataFrame({"prompt": ["¿Qué es el mate?"], "chosen": ["Una infusión que se comparte."],
                  "rejected": ["Un té."], "region": ["Cuyo"]}).write_parquet(file)
    records = read(file)
    assert records.row(0, named=True) | {"id": None} == {
        "id": None, "source": "standard.parquet:1", "system_prompt": None, "prompt": "¿Qué es el mate?",
        "chosen": "Una infusión que se comparte.", "rejected": "Un té.", "preference": "chosen-better",
        "country": None, "region": "Cuyo",
    }


def test_trl_conversational_format_with_system_and_turns(tmp_path):
    rows = [{
        "prompt": [{"role": "system", "content": "Eres porteña."}, {"role": "user", "content": "¿Che, qué onda?"}],
        "chosen": [{"role": "assistant", "content": "¡Todo bien, che! ¿Vos?"}],
        "rejected": [{"role": "assistant", "content": "Hola, ¿en qué puedo ayudarte?"}],
    }, {
        "prompt": [{"role": "user", "content": "Hola"}, {"role": "assistant", "content": "¿Qué tal?"},
                   {"role": "user", "content": "¿Vamos al cine?"}],
        "chosen": [{"role": "assistant", "content": "¡Dale!"}],
        "rejected": [{"role": "assistant", "content": "No."}],
    }]
    records = read(write_jsonl(tmp_path / "conv.jsonl", rows))
    assert records["system_prompt"].to_list() == ["Eres porteña.", None]
    assert records["prompt"].to_list() == ["¿Che, qué onda?", "user: Hola\n\nassistant: ¿Qué tal?\n\nuser: ¿Vamos al cine?"]
    assert records["chosen"].to_list() == ["¡Todo bien, che! ¿Vos?", "¡Dale!"]


def test_pairwise_shape_maps_winner_ties_and_both_bad(tmp_path):
    file = tmp_path / "pairwise.csv"
    pl.DataFrame({
        "prompt": ["p1", "p2", "p3", "p4"], "response_a": ["A1", "A2", "A3", "A4"], "response_b": ["B1", "B2", "B3", "B4"],
        "winner": ["model_a", "B", "tie", "tie (bothbad)"], "model_a": ["m1"] * 4, "model_b": ["m2"] * 4,
        "country": ["Chile"] * 4,
    }).write_csv(file)
    records = read(file)
    assert records["chosen"].to_list() == ["A1", "B2", "A3", "A4"]
    assert records["rejected"].to_list() == ["B1", "A2", "B3", "B4"]
    assert records["preference"].to_list() == ["chosen-better", "chosen-better", "both-good", "both-bad"]
    assert records["chosen_model"].to_list() == ["m1", "m2", "m1", "m1"]


def test_prompt_upload_csv_keeps_persona_columns(tmp_path):
    file = tmp_path / "prompts.csv"
    pl.DataFrame({"prompt": ["¿Cómo celebras San Juan en Asunción?"], "pais": ["Paraguay"], "edad": ["34"],
                  "genero": ["mujer"], "region": ["Central"], "modelo_gen": ["command-r7b-12-2024"]}).write_csv(file)
    records = read(file)
    row = records.row(0, named=True)
    assert (row["country"], row["chosen"], row["preference"]) == ("PY", None, None)
    assert [row[c] for c in ("edad", "genero", "region", "modelo_gen")] == ["34", "mujer", "Central", "command-r7b-12-2024"]


def test_column_mapping_from_the_config(tmp_path):
    file = tmp_path / "renamed.csv"
    pl.DataFrame({"pregunta": ["¿Qué es un asado?"], "mejor": ["Una juntada."], "peor": ["Carne."],
                  "Country": ["Uruguay"]}).write_csv(file)
    records = read(file, columns={"pregunta": "question", "mejor": "chosen", "peor": "rejected"})
    assert (records["prompt"][0], records["country"][0]) == ("¿Qué es un asado?", "UY")


def test_saved_dataset_dict_reads_every_split(tmp_path):
    rows = {"prompt": ["a?", "b?"], "chosen": ["sí", "no"], "rejected": ["no", "sí"]}
    datasets.DatasetDict({"train": datasets.Dataset.from_dict(rows),
                          "test": datasets.Dataset.from_dict(rows)}).save_to_disk(str(tmp_path / "saved"))
    records = read(tmp_path / "saved")
    assert records.height == 4
    assert records["source"].to_list() == ["saved[train]:1", "saved[train]:2", "saved[test]:1", "saved[test]:2"]


def test_hub_id_offline_is_a_clear_error():
    with pytest.raises(InputError, match="could not load it from the Hugging Face Hub"):
        read("somosnlp/dataset-that-is-not-here")


@pytest.mark.parametrize(("name", "code"), [("España", "ES"), ("espana", "ES"), ("Perú", "PE"), ("Peru", "PE"),
                                            ("México", "MX"), ("Brasil", "BR"), ("Espanha", "ES"), ("mx", "MX"),
                                            ("EE. UU.", "US"), (" Colombia ", "CO")])
def test_country_names_in_several_languages(name, code):
    assert to_iso(name) == code


def test_bom_blank_lines_and_json_arrays_are_read(tmp_path):
    csv_file = tmp_path / "bom.csv"
    csv_file.write_bytes(b"\xef\xbb\xbfquestion,chosen,rejected\n\xc2\xbfQu\xc3\xa9?,Algo bien largo.,Otra cosa.\n\n")
    assert read(csv_file)["prompt"].to_list() == ["¿Qué?"]
    array = tmp_path / "rows.json"
    array.write_text(json.dumps([{"prompt": "¿Y?", "chosen": "Sí.", "rejected": "No.", "extra": {"a": 1}}]))
    records = read(array)
    assert records["extra"].to_list() == ['{"a":1}']


def test_a_missing_file_path_is_not_taken_for_a_hub_id(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read("data/missing.csv")


def test_errors_in_a_saved_dataset_name_the_split_and_its_row(tmp_path):
    good = {"prompt": ["a?", "b?"], "chosen": ["sí", "no"], "rejected": ["no", "sí"], "country": ["Chile", "Chile"]}
    bad = good | {"country": ["Chile", "Atlántida"]}
    datasets.DatasetDict({"train": datasets.Dataset.from_dict(good),
                          "test": datasets.Dataset.from_dict(bad)}).save_to_disk(str(tmp_path / "dd"))
    with pytest.raises(InputError, match=r"dd\[test\], row 2, column 'country'"):
        read(tmp_path / "dd")


def test_input_columns_named_like_engine_columns_are_kept_renamed(tmp_path):
    from curation.config import RunConfig
    from curation.run import run

    file = tmp_path / "clash.jsonl"
    write_jsonl(file, [{"id": "q-1", "source": "foro", "split": "dev", "warnings": "x", "question": "¿Qué es el mate?",
                        "chosen": "Una infusión que se comparte en ronda.", "rejected": "Un té cualquiera."}])
    result = run(RunConfig(name="clash", input={"path": str(file)}, dedupe={"semantic": {"enabled": False}}),
                 tmp_path / "out")
    row = result.accepted.row(0, named=True)
    assert (row["input_id"], row["input_source"], row["input_split"], row["input_warnings"]) == ("q-1", "foro", "dev", "x")
    assert row["source"] == "clash.jsonl:1" and row["split"] in {"train", "test"}


def test_two_columns_that_mean_the_same_is_a_clear_error(tmp_path):
    file = tmp_path / "twice.csv"
    file.write_text("question, Question,chosen,rejected\n¿a?,¿b?,Sí señor.,No señor.\n")
    with pytest.raises(InputError, match="all mean 'question'"):
        read(file)


def test_a_hub_repository_folder_reads_its_splits_parquet_files(tmp_path):
    from curation.errors import InputError
    from curation.readers.files import hub_parquet_files, load_raw

    (tmp_path / "data").mkdir()
    rows = pl.DataFrame({"prompt": ["¿Qué es el mate?", "¿Y el tereré?", "¿Qué es una arepa?"]})
    rows.head(2).write_parquet(tmp_path / "data" / "train-00000-of-00001.parquet")
    rows.tail(1).write_parquet(tmp_path / "data" / "test-00000-of-00001.parquet")
    train = load_raw(str(tmp_path), "train")
    assert train.get_column("source").to_list() == ["train-00000-of-00001.parquet:1", "train-00000-of-00001.parquet:2"]
    assert load_raw(str(tmp_path)).height == 3
    with pytest.raises(InputError, match=r"no parquet file of split 'validation' in data/ \(splits there: \['test', 'train'\]\)"):
        load_raw(str(tmp_path), "validation")
    rows.write_parquet(tmp_path / "data" / "validation.parquet")  # a one-file split
    assert load_raw(str(tmp_path), "validation").get_column("source").to_list()[0] == "validation.parquet:1"
    rows.clear().write_parquet(tmp_path / "data" / "train-00001-of-00002.parquet")  # an empty shard holds nothing to read
    assert hub_parquet_files(tmp_path, "train") == [tmp_path / "data" / "train-00000-of-00001.parquet"]
    rows.clear().write_parquet(tmp_path / "data" / "extra.parquet")
    with pytest.raises(InputError, match="the data has no rows"):
        load_raw(str(tmp_path), "extra")

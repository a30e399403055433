"""Bad input: a clear error naming file, row and column; exit code 2; no partial output.

Also issue 12's red team on the CLI: huge or odd files and unreadable paths are clear errors (exit 2), fast.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from curation.cli import app
from curation.readers.files import MAX_COLUMNS, MAX_FIELD_BYTES

HEADER = "country,system_prompt,question,chosen,rejected\n"
GOOD = 'España,,¿Qué es una verbena?,"Una fiesta de barrio, con churros.",Una fiesta.\n'


def run_on(tmp_path, file_name: str, content: bytes | str | None = None, frame: pl.DataFrame | None = None):
    data = tmp_path / file_name
    if frame is not None:
        frame.write_parquet(data)
    else:
        data.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return fail_on(tmp_path, file_name)


def fail_on(tmp_path, input_path: str) -> str:
    """`curation run` on the input (a path relative to tmp_path, or absolute): exit 2, no output, the file named.

    Returns the error message, whitespace folded."""
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({"name": "bad", "input": {"path": input_path}, "output": {"dir": "out"}}))
    result = CliRunner().invoke(app, ["run", str(config), "--quiet"])
    message = " ".join(result.stderr.split())
    assert result.exit_code == 2, (result.exit_code, message, result.exception)
    assert not (tmp_path / "out").exists(), "no partial output"
    assert not list(tmp_path.glob(".out*")), "no leftover building folder"
    assert Path(input_path).name in message
    return message


def test_malformed_csv_row_with_too_few_fields(tmp_path):
    message = run_on(tmp_path, "few.csv", HEADER + GOOD + "Chile,,¿Qué es la once?,La merienda.\n")
    assert "row 2" in message and "column 'rejected'" in message and "4 fields where the header has 5" in message


def test_malformed_csv_unclosed_quote(tmp_path):
    message = run_on(tmp_path, "quote.csv", HEADER + GOOD + 'Chile,,"¿Qué es la once?,La merienda.,Comida.\n')
    assert "malformed CSV" in message


def test_missing_required_column(tmp_path):
    message = run_on(tmp_path, "nochosen.csv", "country,question,rejected\nEspaña,¿Qué?,Nada.\n")
    assert "cannot tell the data's shape" in message and "question" in message


def test_missing_required_column_with_format_forced(tmp_path):
    data = tmp_path / "nochosen.csv"
    data.write_text("country,question,rejected\nEspaña,¿Qué?,Nada.\n")
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({"name": "bad", "input": {"path": "nochosen.csv", "format": "arena"},
                                      "output": {"dir": "out"}}))
    result = CliRunner().invoke(app, ["run", str(config), "--quiet"])
    message = " ".join(result.stderr.split())
    assert result.exit_code == 2 and "column 'chosen'" in message and "missing ['chosen']" in message


def test_wrong_type_in_jsonl(tmp_path):
    rows = [{"question": "¿Qué es el gofio?", "chosen": "Harina de millo tostado, de Canarias.", "rejected": "Harina."},
            {"question": "¿Y el mojo?", "chosen": 42, "rejected": "Una salsa."}]
    message = run_on(tmp_path, "types.jsonl", "\n".join(json.dumps(r, ensure_ascii=False) for r in rows))
    assert "row 2" in message and "column 'chosen'" in message and "expected text" in message and "number" in message


def test_empty_file(tmp_path):
    message = run_on(tmp_path, "empty.csv", "")
    assert "the file is empty" in message


def test_header_only_file_has_no_rows(tmp_path):
    message = run_on(tmp_path, "header.csv", HEADER)
    assert "no rows" in message


def test_non_utf8_bytes(tmp_path):
    content = (HEADER + GOOD).encode("utf-8") + "Perú,,¿Qué es la chicha?,Una bebida de maíz morado.,Bebida.\n".encode("latin-1")
    message = run_on(tmp_path, "latin1.csv", content)
    assert "not UTF-8" in message and "line 3" in message


def test_jsonl_with_one_broken_line(tmp_path):
    good = json.dumps({"question": "¿Qué es el pan de muerto?", "chosen": "Un pan de Día de Muertos.", "rejected": "Pan."})
    message = run_on(tmp_path, "broken.jsonl", "\n".join([good, good, '{"question": "¿Y el mole?", "chosen": ', good]))
    assert "broken JSON on line 3" in message and "row 3" in message


def test_parquet_with_wrong_schema(tmp_path):
    frame = pl.DataFrame({"prompt": ["¿Qué es el tereré?", "¿Y el chipá?"], "chosen": [1, 2], "rejected": ["Mate frío.", "Pan."]})
    message = run_on(tmp_path, "wrong.parquet", frame=frame)
    assert "row 1" in message and "column 'chosen'" in message and "expected text, found Int64" in message


def test_unknown_country_name(tmp_path):
    message = run_on(tmp_path, "country.csv", HEADER + GOOD + "Atlántida,,¿Qué se come allí?,Pescado del bueno.,Comida.\n")
    assert "row 2" in message and "column 'country'" in message and "unknown country 'Atlántida'" in message


def test_unknown_vote_label(tmp_path):
    content = "question,chosen,rejected,preference\n¿Qué es un alfajor?,Un dulce con dulce de leche.,Galleta.,quizás\n"
    message = run_on(tmp_path, "vote.csv", content)
    assert "row 1" in message and "column 'preference'" in message and "unknown vote 'quizás'" in message


def test_invalid_config_is_a_clear_error(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({"name": "bad_dpo", "input": {"path": "x.csv"}, "filters": {"min_prompt_chars": -1}}))
    result = CliRunner().invoke(app, ["run", str(config)])
    message = " ".join(result.stderr.split())
    assert result.exit_code == 2
    assert "name:" in message and "leave out '_dpo'" in message and "filters.min_prompt_chars" in message


def test_an_earlier_good_output_survives_a_bad_run(tmp_path):
    data = tmp_path / "good.csv"
    data.write_text(HEADER + GOOD)
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({"name": "ok", "input": {"path": "good.csv"}, "output": {"dir": "out"}}))
    assert CliRunner().invoke(app, ["run", str(config), "--quiet"]).exit_code == 0
    before = sorted(path.name for path in (tmp_path / "out").iterdir())
    data.write_text(HEADER + "Atlántida,,¿Qué?,Algo largo de verdad.,Otra cosa.\n")
    assert CliRunner().invoke(app, ["run", str(config), "--quiet"]).exit_code == 2
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == before


ROW = {"question": "¿Qué es una verbena?", "chosen": "Una fiesta de barrio, con churros.", "rejected": "Una fiesta."}


def test_a_header_of_200k_columns_is_refused_at_its_first_64_kib(tmp_path):
    names = [f"c{number}" for number in range(200_000)]
    message = run_on(tmp_path, "wide.csv", ",".join(names) + "\n" + ",".join(names) + "\n")
    assert "the header line is longer than the limit of 65,536 bytes" in message


def test_a_csv_with_more_columns_than_the_limit(tmp_path):
    header = ",".join(f"c{number}" for number in range(MAX_COLUMNS + 1))
    message = run_on(tmp_path, "columns.csv", header + "\n" + "," * MAX_COLUMNS + "\n")
    assert "1,001 columns, more than the limit of 1,000 columns" in message


def test_a_jsonl_object_with_more_keys_than_the_limit_names_its_row(tmp_path):
    wide = {f"k{number}": "x" for number in range(200_000)}
    message = run_on(tmp_path, "keys.jsonl", json.dumps(ROW) + "\n" + json.dumps(wide) + "\n")
    assert "row 2" in message and "200,000 keys, more than the limit of 1,000 columns" in message


def test_jsonl_objects_whose_keys_together_are_over_the_limit(tmp_path):
    rows = [ROW | {f"k{number}": "x" for number in range(start, start + 600)} for start in (0, 600)]
    message = run_on(tmp_path, "union.jsonl", "\n".join(json.dumps(row) for row in rows))
    assert "1,203 different keys, more than the limit of 1,000 columns" in message


def test_a_parquet_file_with_more_columns_than_the_limit(tmp_path):
    frame = pl.DataFrame({f"c{number}": ["x"] for number in range(MAX_COLUMNS + 1)})
    message = run_on(tmp_path, "wide.parquet", frame=frame)
    assert "1,001 columns, more than the limit of 1,000 columns" in message


@pytest.mark.parametrize("kind", ["csv", "jsonl", "parquet"])
def test_a_field_over_the_size_limit_names_row_and_column(tmp_path, kind):
    rows = [ROW, ROW | {"chosen": "ñ" * (MAX_FIELD_BYTES // 2 + 1)}]  # two bytes a letter: 2 bytes over
    frame = pl.DataFrame(rows)
    if kind == "parquet":
        message = run_on(tmp_path, "big.parquet", frame=frame)
    else:
        content = frame.write_csv() if kind == "csv" else "\n".join(json.dumps(row, ensure_ascii=False) for row in rows)
        message = run_on(tmp_path, f"big.{kind}", content)
    assert "row 2" in message and "column 'chosen'" in message
    assert "a value longer than the limit of 1,048,576 bytes (1 MiB)" in message


def test_a_field_just_under_the_limit_is_read(tmp_path):
    # The csv module alone refuses fields over 128 KiB; the reader lifts that to MAX_FIELD_BYTES.
    data = tmp_path / "long.csv"
    pl.DataFrame([ROW | {"chosen": "a" * MAX_FIELD_BYTES}]).write_csv(data)
    result = CliRunner().invoke(app, ["ingest", str(data), "-o", str(tmp_path / "records.parquet")])
    assert result.exit_code == 0, result.stderr
    assert pl.read_parquet(tmp_path / "records.parquet")["chosen"].str.len_bytes().to_list() == [MAX_FIELD_BYTES]


def test_header_names_are_csv_fields_without_boms_or_spaces_around(tmp_path):
    data = tmp_path / "header.csv"
    data.write_text('question , chosen,\ufeffrejected,\ufeff system_prompt,"my ""quoted"" col"\n'
                    "¿Qué es una verbena?,Una fiesta de barrio.,Una fiesta.,Eres de Madrid.,v\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["ingest", str(data), "-o", str(tmp_path / "records.parquet")])
    assert result.exit_code == 0, result.stderr
    records = pl.read_parquet(tmp_path / "records.parquet")
    assert records["system_prompt"].to_list() == ["Eres de Madrid."]  # was silently empty
    assert records['my "quoted" col'].to_list() == ["v"]


def test_csv_errors_count_rows_in_records_and_say_the_line(tmp_path):
    multiline = 'España,,"¿Qué es\nuna\nverbena?","Una fiesta\nde barrio.",Fiesta.\n'  # record 2, lines 3-6
    message = run_on(tmp_path, "few.csv", HEADER + GOOD + multiline + "Chile,,¿Qué es la once?,La merienda.\n")
    assert "row 3 (line 7), column 'rejected'" in message and "4 fields where the header has 5" in message
    message = run_on(tmp_path, "quote.csv", HEADER + GOOD + multiline + '\nChile,,"¿Qué es la once?,La merienda.,Comida.\n')
    assert "row 3 (line 8)" in message and "malformed CSV" in message


def test_an_all_empty_record_is_read_as_a_row_and_quarantined(tmp_path):
    data = tmp_path / "empty_rows.csv"
    data.write_text(HEADER + GOOD + ",,,,\n\n" + '"","","","",""\n' + GOOD.replace("verbena", "romería"))
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({"name": "empty_rows", "input": {"path": data.name}, "output": {"dir": "out"}}))
    result = CliRunner().invoke(app, ["run", str(config), "--quiet"])
    assert result.exit_code == 0, (result.stderr, result.exception)
    ledger = pl.read_parquet(tmp_path / "out" / "ledger.parquet").sort("source")
    assert ledger["source"].to_list() == [f"empty_rows.csv:{row}" for row in (1, 2, 3, 4)]
    empty = ledger.filter(pl.col("source").is_in(["empty_rows.csv:2", "empty_rows.csv:3"]))
    assert empty["status"].to_list() == ["quarantined", "quarantined"]
    assert all("too_short_prompt" in reasons for reasons in empty["reasons"].to_list())


def test_a_folder_with_broken_dataset_metadata(tmp_path):
    folder = tmp_path / "saved"
    folder.mkdir()
    (folder / "dataset_dict.json").write_text("{}")  # datasets raised KeyError('splits')
    message = fail_on(tmp_path, "saved")
    assert "not a folder written by datasets.save_to_disk" in message


def test_a_fifo_is_refused_without_opening_it(tmp_path):
    os.mkfifo(tmp_path / "pipe.csv")
    message = fail_on(tmp_path, "pipe.csv")
    assert "not a regular file or folder" in message


def test_a_broken_symlink_names_its_target(tmp_path):
    (tmp_path / "link.csv").symlink_to(tmp_path / "gone.csv")
    # Absolute: the config resolves a relative path against its folder only when the target exists.
    message = fail_on(tmp_path, str(tmp_path / "link.csv"))
    assert "a broken symbolic link" in message and "gone.csv does not exist" in message


def test_a_file_that_vanishes_before_it_is_read(tmp_path, monkeypatch):
    (tmp_path / "vanishing.csv").write_text(HEADER + GOOD)
    read_bytes = Path.read_bytes

    def deleted_first(path: Path) -> bytes:
        if path.name == "vanishing.csv":
            path.unlink()
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", deleted_first)
    message = fail_on(tmp_path, "vanishing.csv")
    assert "cannot read it: No such file or directory" in message


def _without_read_override() -> list[str]:
    """A command prefix under which chmod 000 stops reading: nothing for a user, setpriv for root."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: chmod 000 does not stop root reading")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


@pytest.mark.parametrize("file_name", ["locked.csv", "locked.jsonl", "locked.parquet"])
def test_an_unreadable_file_is_a_clear_error(tmp_path, file_name):
    data = tmp_path / file_name
    if data.suffix == ".parquet":
        pl.DataFrame([ROW]).write_parquet(data)
    else:
        data.write_text(HEADER + GOOD if data.suffix == ".csv" else json.dumps(ROW))
    data.chmod(0)
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({"name": "locked", "input": {"path": file_name}, "output": {"dir": "out"}}))
    result = subprocess.run([*_without_read_override(), sys.executable, "-m", "curation", "run", str(config), "--quiet"],
                            check=False, capture_output=True, text=True, env=os.environ | {"COLUMNS": "200"})
    message = " ".join(result.stdout.split() + result.stderr.split())
    assert result.returncode == 2, message
    assert file_name in message and "Permission denied" in message and "Traceback" not in message
    assert not (tmp_path / "out").exists()

"""Bad input: a clear error naming file, row and column; exit code 2; no partial output."""

import json
from pathlib import Path

import polars as pl
import yaml
from typer.testing import CliRunner

from curation.cli import app

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

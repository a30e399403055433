import os
from pathlib import Path

import polars as pl
import pytest

for variable in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY"):
    os.environ[variable] = "1"

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
ARENA_SAMPLE = SHARED / "data" / "arena_v0_sample.csv"


@pytest.fixture(scope="session", autouse=True)
def embedding_cache(tmp_path_factory) -> Path:
    """One embedding cache for the session: the static model is distilled once (~35 s), then reused."""
    folder = Path(os.environ.get("CURATION_TEST_CACHE") or tmp_path_factory.mktemp("cache"))
    os.environ["CURATION_CACHE"] = str(folder)
    return folder


@pytest.fixture
def arena_sample() -> Path:
    if not ARENA_SAMPLE.is_file():
        pytest.skip(f"../shared/ is absent ({ARENA_SAMPLE} not found): the real-data tests need it")
    return ARENA_SAMPLE


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """`curation run --demo`, once for the session: the output folder and the CLI result."""
    from typer.testing import CliRunner

    from curation.cli import app

    out = tmp_path_factory.mktemp("demo") / "out"
    result = CliRunner().invoke(app, ["run", "--demo", "--out", str(out)])
    assert result.exit_code == 0, (result.stderr, result.exception)
    return out, result


@pytest.fixture
def emulator():
    """A Cohere- and OpenAI-compatible emulator on 127.0.0.1, for the real clients."""
    from curation.llms.cohere_emulator import CohereEmulator

    with CohereEmulator() as running:
        yield running


def pair(**fields) -> dict:
    """One clean canonical-looking row; override any field."""
    row = {
        "system_prompt": "Eres una abuela de Valparaíso que cuenta recetas.",
        "prompt": "¿Cómo preparas las sopaipillas pasadas cuando llueve en invierno?",
        "chosen": "Ay, mijo, con chancaca, cáscara de naranja y canela; las dejo remojar en el almíbar calentito.",
        "rejected": "Las sopaipillas son un alimento típico de Chile que se prepara con masa frita y azúcar.",
        "preference": "chosen-better",
        "country": "CL",
    }
    return row | fields


def frame_of(*rows: dict) -> pl.DataFrame:
    from curation.schema import conform

    records = [row | {"source": f"test:{number}"} for number, row in enumerate(rows, start=1)]
    return conform(pl.DataFrame(records, schema={key: pl.String for key in records[0]}))

import os
from pathlib import Path

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


@pytest.fixture(scope="session")
def argilla(tmp_path_factory):
    """A real Argilla server (argilla-server, SQLite, redis) on 127.0.0.1, one for the session's review tests."""
    from curation.review.server import LocalArgilla, free_port

    home = tmp_path_factory.mktemp("argilla")
    home.chmod(0o755)  # as `mkdir` leaves a folder: the server must close it
    with LocalArgilla(home, port=free_port()) as server:
        yield server


@pytest.fixture(autouse=True)
def unload_llms():
    """Every LLM a test loads (listed in curation.testing.LOADED_LLMS) is unloaded after it: its connections closed."""
    from curation.testing import LOADED_LLMS

    yield
    while LOADED_LLMS:
        LOADED_LLMS.pop().unload()


@pytest.fixture
def emulator():
    """A Cohere- and OpenAI-compatible emulator on 127.0.0.1, for the real clients."""
    from curation.llms.cohere_emulator import CohereEmulator

    with CohereEmulator() as running:
        yield running


# Spain, Portugal, Andorra and the 20 countries of Latin America where Spanish or Portuguese is official
# (Puerto Rico included), written out here to check reports/region.yaml against.
REGION = frozenset({"ES", "PT", "AD", "AR", "BO", "BR", "CL", "CO", "CR", "CU", "DO", "EC", "SV", "GT", "HN", "MX", "NI",
                    "PA", "PY", "PE", "PR", "UY", "VE"})


@pytest.fixture
def region() -> frozenset[str]:
    return REGION


@pytest.fixture(scope="session")
def seed_run(tmp_path_factory) -> Path:
    """The demo run without semantic dedupe, once for the session: the seed of the LLM commands' tests
    (extend, classify, the emulator), which are about generation, not embeddings."""
    from curation.config import demo_config
    from curation.run import run

    config = demo_config()
    config.dedupe.semantic.enabled = False
    return run(config, tmp_path_factory.mktemp("seed") / "demo").output_dir


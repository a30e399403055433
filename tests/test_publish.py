"""`curation publish` against a loopback Hub that speaks huggingface_hub's endpoints (curation/publish/loopback_hub.py):
the real client creates the repositories, uploads the parquet files through LFS and commits; what the Hub received is
loaded back with `datasets` and compared row by row. Also: the dataset folder's layout, the card's languages and
licence section."""

import json
import logging
import os
import subprocess
import sys
import warnings

import datasets
import polars as pl
import pytest
from huggingface_hub import DatasetCard, HfApi, constants
from typer.testing import CliRunner

import curation.cli.publish  # noqa: F401 (registers `publish` until curation/cli/__init__.py lists it)
from curation.cli import app
from curation.config import RunConfig
from curation.publish.layout import NOTEBOOKS
from curation.publish.loopback_hub import LoopbackHub
from curation.reports.dataset_card import languages_found, licence_section, model_licences
from curation.run import run
from curation.testing import frame_of, pair

ORG = "somosnlp-hackathon-test"
TOKEN = "hf_loopbackTestTokenNeverShown1234"
KINDS = ("dpo", "kto", "prompts")
runner = CliRunner()


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """The loopback Hub, and the client pointed at it as HF_ENDPOINT, HF_HUB_DISABLE_XET=1 and HF_HUB_OFFLINE=0 would
    (huggingface_hub reads them once, when imported, so in this process they are set where it keeps them)."""
    with LoopbackHub(tmp_path / "hub", token=TOKEN) as running:
        monkeypatch.setenv("HF_TOKEN", TOKEN)
        monkeypatch.setattr(constants, "ENDPOINT", running.endpoint)
        monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)  # LFS, not Xet's storage service
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # the tests' guard against the internet; this is 127.0.0.1
        yield running


def publish(*arguments):
    result = runner.invoke(app, ["publish", *map(str, arguments)])
    return result, " ".join(result.stderr.split())


def expected_files(run_dir, dataset) -> set[str]:
    data = {f"data/{file.name}" for file in (run_dir / dataset / "data").glob("*.parquet")}
    return {".gitattributes", "README.md", *data, "curation/config.yaml", "curation/ledger.json",
            *(f"notebooks/{notebook.name}" for notebook in NOTEBOOKS.glob("*.ipynb"))}


def received_rows(hub, repo_id) -> dict[str, list[dict]]:
    loaded = datasets.load_dataset(str(hub.folder(repo_id)))
    return {split: loaded[split].to_list() for split in loaded}


def published_rows(dataset_dir) -> dict[str, list[dict]]:
    saved = datasets.load_from_disk(str(dataset_dir))
    return {split: saved[split].to_list() for split in saved}


def test_each_dataset_becomes_a_hub_repository_that_datasets_loads_row_by_row(demo_run, hub):
    run_dir, _ = demo_run
    result, stderr = publish(run_dir, "--org", ORG)
    assert result.exit_code == 0, (stderr, result.exception)
    for kind in KINDS:
        dataset = f"demo_arena_{kind}"
        repo_id = f"{ORG}/{dataset}"
        assert f"published {hub.endpoint}/datasets/{repo_id}" in stderr
        repo = hub.repo(repo_id)
        assert set(repo.files) == expected_files(run_dir, dataset) and not repo.private
        # The parquet files came through LFS (batch, upload, verify), the card and notebooks inline in the commit.
        for file in (run_dir / dataset / "data").glob("*.parquet"):
            assert repo.files[f"data/{file.name}"] in hub.lfs_uploads
        assert received_rows(hub, repo_id) == published_rows(run_dir / dataset)
        card = DatasetCard.load(hub.folder(repo_id) / "README.md")
        assert card.data.pretty_name == dataset and f"# {repo_id}" in card.text
        assert card.data.configs[0]["data_files"][0] == {"split": "train", "path": "data/train-*"}
        assert hub.read(repo_id, "curation/config.yaml") == (run_dir / "config.yaml").read_bytes()
    # Every request carried the token, but the LFS uploads, which go to the URLs the batch calls granted (as to S3)
    assert hub.authorized == len(hub.requests) - len(hub.lfs_uploads)


def test_dry_run_lists_every_file_and_its_size_and_sends_nothing(demo_run, hub):
    run_dir, _ = demo_run
    result, _ = publish(run_dir, "--org", ORG, "--dry-run", "--no-notebooks")
    assert result.exit_code == 0, result.stderr
    listing = " ".join(result.stdout.split())
    for kind in KINDS:
        assert f"{ORG}/demo_arena_{kind}" in listing
        for file in (run_dir / f"demo_arena_{kind}" / "data").glob("*.parquet"):
            assert f"data/{file.name} │ {file.stat().st_size:,}" in listing
    assert f"curation/config.yaml │ {(run_dir / 'config.yaml').stat().st_size:,}" in listing
    assert "notebooks/" not in listing and "nothing was sent" in listing
    assert hub.requests == []


@pytest.fixture(scope="module")
def misnamed_run(tmp_path_factory):
    """A run whose name holds 'prompt': its DPO and KTO datasets would name two kinds at once."""
    folder = tmp_path_factory.mktemp("misnamed")
    source = folder / "pairs.jsonl"
    pl.DataFrame([pair(), pair(prompt="¿Qué se come en Oaxaca el Día de Muertos?", country="MX")]).write_ndjson(source)
    config = RunConfig(name="prompt_study", input={"path": str(source), "format": "trl"}, split={"test_fraction": 0.0},
                       tagging={"enabled": False}, dedupe={"near": {"enabled": False}, "semantic": {"enabled": False}})
    return run(config, folder / "out").output_dir


def test_a_name_that_breaks_the_convention_is_refused_before_anything_is_sent(misnamed_run, hub):
    result, stderr = publish(misnamed_run, "--org", ORG)
    assert result.exit_code == 2
    assert f"{ORG}/prompt_study_dpo: a dpo dataset's name also names ['prompt']" in stderr and "nothing was sent" in stderr
    result, stderr = publish(misnamed_run, "--org", "not a valid org!")
    assert result.exit_code == 2 and "not a valid Hub repository id" in stderr
    assert hub.requests == []


def title(run_dir) -> str:
    splits = json.loads((run_dir / "ledger.json").read_text(encoding="utf-8"))["outputs"]["demo_arena_dpo"]
    return f"curation publish: demo_arena_dpo ({', '.join(f'{split}: {rows:,}' for split, rows in splits.items())})"


def test_a_republish_is_a_new_commit_on_the_same_repository(demo_run, seed_run, hub):
    """The demo, then the demo run again without semantic dedupe (a steward changed a setting): one repository per
    dataset, whose history holds both publications; the data is now the second run's."""
    run_dir, _ = demo_run
    assert publish(run_dir, "--org", ORG)[0].exit_code == 0
    result, stderr = publish(seed_run, "--org", ORG, "--private")
    assert result.exit_code == 0, stderr
    repo_id = f"{ORG}/demo_arena_dpo"
    commits = HfApi().list_repo_commits(repo_id, repo_type="dataset")
    assert [commit.title for commit in commits] == [title(seed_run), title(run_dir), "initial commit"]
    assert [key for key in hub.repos if key[1] == repo_id] == [("dataset", repo_id)]
    assert not hub.repo(repo_id).private  # an existing repository keeps its visibility
    assert received_rows(hub, repo_id) == published_rows(seed_run / "demo_arena_dpo")
    assert hub.read(repo_id, "curation/config.yaml", commit=1) == (run_dir / "config.yaml").read_bytes()
    assert hub.read(repo_id, "curation/config.yaml") == (seed_run / "config.yaml").read_bytes()


def test_a_republish_of_an_unchanged_run_makes_no_commit(demo_run, hub):
    """The same run published twice: its cards are built again (the audit is deterministic), every file is what the Hub
    holds, so the second publish makes no empty commit and says so."""
    run_dir, _ = demo_run
    assert publish(run_dir, "--org", ORG)[0].exit_code == 0
    result, stderr = publish(run_dir, "--org", ORG)
    assert result.exit_code == 0, stderr
    assert stderr.count("(unchanged: the Hub holds these files already)") == len(KINDS) and "(commit " not in stderr
    for kind in KINDS:
        commits = HfApi().list_repo_commits(f"{ORG}/demo_arena_{kind}", repo_type="dataset")
        assert len(commits) == 2 and commits[0].title.startswith(f"curation publish: demo_arena_{kind} (")


def test_the_token_is_sent_but_never_printed_or_written(demo_run, tmp_path):
    """The real command in its own process, configured by environment variables alone (new repositories made private);
    then every byte it printed, and every file under its home, cache and the Hub's storage, is searched for the token."""
    run_dir, _ = demo_run
    home = tmp_path / "home"
    home.mkdir()
    environment = {**os.environ, "HF_TOKEN": TOKEN, "HOME": str(home), "HF_HOME": str(home / "hf"),
                   "CURATION_CACHE": str(home / "cache"), "HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_XET": "1"}
    command = [sys.executable, "-c", "import curation.cli.publish; from curation.cli import main; main()",
               "publish", str(run_dir), "--org", ORG, "--private"]
    with LoopbackHub(tmp_path / "hub", token=TOKEN) as hub:
        done = subprocess.run(command, env=environment | {"HF_ENDPOINT": hub.endpoint}, capture_output=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr.decode()
        assert hub.authorized == len(hub.requests) - len(hub.lfs_uploads) > 0
        assert len(hub.repos) == 3 and all(repo.private for repo in hub.repos.values())
    with LoopbackHub(tmp_path / "refusing", token="another-token") as refusing:
        refused = subprocess.run(command, env=environment | {"HF_ENDPOINT": refusing.endpoint}, capture_output=True,
                                 timeout=300, check=False)
        assert refused.returncode == 2 and b"401" in refused.stderr
    for output in (done.stdout, done.stderr, refused.stdout, refused.stderr):
        assert TOKEN.encode() not in output
    written = [path for folder in (tmp_path, run_dir) for path in folder.rglob("*") if path.is_file()]
    assert len(written) > 20 and not [path for path in written if TOKEN.encode() in path.read_bytes()]


def test_without_a_token_nothing_is_sent(demo_run, hub, monkeypatch, tmp_path):
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))  # no `hf auth login` either
    result, stderr = publish(demo_run[0], "--org", ORG)
    assert result.exit_code == 2 and "no Hugging Face token: set HF_TOKEN or run `hf auth login`" in stderr
    assert hub.requests == []


def test_a_dataset_folder_loads_with_load_from_disk_and_load_dataset_without_warnings(demo_run, caplog):
    """No warning, and none of the `datasets` logger (which does not propagate: its records are caught at it)."""
    folder = demo_run[0] / "demo_arena_kto"
    logger = logging.getLogger("datasets")
    logger.addHandler(caplog.handler)
    try:
        with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING, logger="datasets"):
            warnings.simplefilter("always")
            saved, loaded = datasets.load_from_disk(str(folder)), datasets.load_dataset(str(folder))
    finally:
        logger.removeHandler(caplog.handler)
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING] == []
    assert [str(warning.message) for warning in caught if not issubclass(warning.category, DeprecationWarning)] == []
    assert {split: saved[split].to_list() for split in saved} == {split: loaded[split].to_list() for split in loaded}
    assert set(saved) == {"train", "test"}


def test_the_card_lists_only_languages_with_real_support():
    """Three short prompts misidentified as it, fr and eu among 400 Spanish ones (as in the real sample)."""
    def tagged(prompt, language, variety="undetermined"):
        return pair(prompt=prompt, prompt_lang=language, prompt_variety=variety)

    spanish = [tagged(f"Pregunta {number}", "es") for number in range(397)]
    stray = [tagged(f"Ciao {code}", code) for code in ("it", "fr", "eu")]
    mexican = [tagged(f"¿Qué onda {number}?", "es", "es-MX") for number in range(20)]
    assert languages_found(frame_of(*spanish, *stray)) == ["es"]
    assert languages_found(frame_of(*spanish, *stray, *mexican)) == ["es", "es-MX"]
    portuguese = [tagged(f"Pergunta {number}", "pt") for number in range(40)]
    assert languages_found(frame_of(*spanish, *portuguese)) == ["es", "pt"]


def test_the_licence_section_names_the_generating_models_and_warns_on_forbidden_outputs(tmp_path):
    def written_by(prompt, modelo_gen=None, chosen_model=None, rejected_model=None):
        return pair(prompt=prompt, modelo_gen=modelo_gen, chosen_model=chosen_model, rejected_model=rejected_model)

    rows = frame_of(*[written_by(f"p{number}", model) for number, model in
                      enumerate(["gpt-4o-mini", "BSC-LT/salamandra-7b-instruct", "mystery-model", None])],
                    written_by("arena", chosen_model="google/gemma-2-9b-it", rejected_model="gpt-4o-mini"))
    section = licence_section(rows, "cc-by-sa-4.0")
    assert section.startswith("cc-by-sa-4.0")
    assert "gpt-4o-mini (2 rows): OpenAI's terms of use, training on its outputs **forbidden**" in section
    assert "BSC-LT/salamandra-7b-instruct (1 rows): apache-2.0, training on its outputs allowed" in section
    assert "google/gemma-2-9b-it (1 rows): Gemma Terms of Use, training on its outputs allowed under conditions" in section
    assert "mystery-model (1 rows): licence unknown" in section
    assert "> **Warning**: the terms of gpt-4o-mini forbid" in section and section.count("**Warning**") == 1
    assert "names no model" in licence_section(frame_of(pair()), "apache-2.0")
    steward = tmp_path / "licences.yaml"
    steward.write_text("models:\n  - match: mystery\n    licence: in-house\n    outputs: allowed\n", encoding="utf-8")
    assert [entry["licence"] for entry in model_licences(steward)] == ["in-house"]
    assert all(entry["outputs"] in ("allowed", "conditions", "forbidden") for entry in model_licences())

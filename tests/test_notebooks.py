"""The notebooks published with the model run as they are (nbclient, this environment's kernel): the curation
notebook on the demo data, then the training notebook on what it wrote, with a tiny model."""

import json
import sys
from pathlib import Path

import nbformat
import pytest
from huggingface_hub import ModelCard
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def execute(notebook: nbformat.NotebookNode, folder: Path) -> nbformat.NotebookNode:
    # "python3" with argv "python": jupyter_client starts it with sys.executable, this venv's Python.
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    return notebook


def outputs(notebook: nbformat.NotebookNode) -> str:
    return json.dumps([cell.get("outputs", []) for cell in notebook.cells])


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    folder = tmp_path_factory.mktemp("notebooks")
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("CURATION_NOTEBOOK_OUT", str(folder / "out"))
        curation = execute(nbformat.read(NOTEBOOKS / "01_curation.ipynb", as_version=4), folder)
        training = execute(nbformat.read(NOTEBOOKS / "02_training.ipynb", as_version=4), folder)
    return folder / "out", curation, training


def test_the_notebooks_are_stored_without_outputs_and_read_their_parameters():
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        code = [cell for cell in notebook.cells if cell.cell_type == "code"]
        assert all(not cell.outputs and cell.execution_count is None for cell in code), path.name
        assert "parameters" in code[0].metadata.get("tags", []) and "CURATION_NOTEBOOK_OUT" in code[0].source
    assert {path.name for path in NOTEBOOKS.glob("*.ipynb")} == {"01_curation.ipynb", "02_training.ipynb"}


def test_the_kernel_is_this_environments_python(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import sys; print(sys.executable)")])
    printed = execute(notebook, tmp_path).cells[0].outputs[0]["text"].strip()
    assert Path(printed).resolve() == Path(sys.executable).resolve()


def test_the_curation_notebook_runs_the_demo_and_writes_the_report(work):
    out, curation, _ = work
    run = out / "demo_arena"
    assert {"ledger.json", "report.html", "bias_audit.md"} <= {path.name for path in run.iterdir()}
    assert (run / "demo_arena_dpo" / "README.md").is_file()
    shown = outputs(curation)
    assert "Representation by country" in shown and "image/png" in shown


def test_the_training_notebook_trains_the_tiny_model_and_writes_the_card(work):
    out, _, training = work
    trained = out / "tiny-llama-demo-dpo"
    assert {"adapter_model.safetensors", "evaluation.json", "emissions.json", "README.md"} <= {
        path.name for path in trained.iterdir()}
    card = ModelCard.load(trained / "README.md")
    assert {"dpo", "trl"} <= set(card.data.tags) and card.data.co2_eq_emissions["source"] == "codecarbon"
    shown = outputs(training)
    assert "likelihood_accuracy" in shown and "emissions_kg" in shown and "image/png" in shown

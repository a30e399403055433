"""What `curation publish` sends: one Hub dataset repository per published dataset of a run, in the Hub's own
layout, checked before anything leaves the machine.

    README.md                                  the dataset card (`configs` pointing at data/, `dataset_info`)
    data/<split>-00000-of-00001.parquet        the dataset's splits, as the run wrote them
    curation/config.yaml, curation/ledger.json  the settings that made it, and where every input row went
    notebooks/*.ipynb                          the processing and training notebooks
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from curation.config import saved_config
from curation.errors import CurationError
from curation.reports.bias_audit import audit
from curation.reports.dataset_card import KINDS, dataset_card, dataset_name, published_kinds
from curation.rules.naming import name_problem
from curation.run_folder import RunFolder
from curation.writers import DATA_FOLDER

RUN_FILES = ("config.yaml", "ledger.json")  # beside the data, under curation/
# The checkout's notebooks (a wheel does not ship them: pass --notebooks).
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@dataclass(frozen=True)
class RepoFile:
    path_in_repo: str
    content: Path | bytes  # a file to send as it is, or bytes made here (the card)

    @property
    def size(self) -> int:
        return len(self.content) if isinstance(self.content, bytes) else self.content.stat().st_size


@dataclass(frozen=True)
class RepoPlan:
    """One dataset repository: its id, its files, and the rows per split it holds."""
    repo_id: str
    dataset: str
    splits: dict[str, int]
    files: tuple[RepoFile, ...]

    @property
    def size(self) -> int:
        return sum(file.size for file in self.files)


def unpublishable(run_dir: Path) -> list[str]:
    """The run's datasets `curation publish` leaves out, as it has no card for their kind."""
    name = saved_config(run_dir).name
    return sorted(set(RunFolder.read(run_dir).summary.get("outputs", {})) - {dataset_name(name, kind) for kind in KINDS})


def publish_plan(run_dir: Path, org: str, notebooks: Path | None = NOTEBOOKS, target: str = "uniform") -> list[RepoPlan]:
    """Every published dataset of the run (but the unpublishable ones) as the repository it becomes under `org`; a
    CurationError, before anything is sent, when a name breaks the naming convention or is not a valid repository
    id, or a file is missing."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    run = RunFolder.read(run_dir)
    name = saved_config(run_dir).name
    outputs = run.summary.get("outputs", {})
    kinds = {dataset_name(name, kind): kind for kind in published_kinds(run)}
    if not kinds:
        raise CurationError(f"{run_dir} published no dataset (its outputs: {sorted(outputs)}): nothing to publish")
    problems = []
    for dataset, kind in kinds.items():
        repo_id = f"{org}/{dataset}"
        try:
            validate_repo_id(repo_id)
        except HFValidationError as error:
            problems.append(f"{repo_id}: not a valid Hub repository id ({error})")
        problems += [f"{repo_id}: {problem}" for problem in [name_problem(repo_id, kind)] if problem]
    if problems:
        raise CurationError("nothing was sent; the naming convention (prompts / dpo / kto / images_dpo / images_kto) refuses: "
                            + "; ".join(problems))
    shared = [*_run_files(run_dir), *_notebook_files(notebooks)]
    audited = audit(run.accepted, target)
    return [_repo_plan(run, audited, f"{org}/{dataset}", dataset, kind, outputs[dataset], shared)
            for dataset, kind in kinds.items()]


def _repo_plan(run: RunFolder, audited: dict, repo_id: str, dataset: str, kind: str, splits: dict[str, int],
               shared: list[RepoFile]) -> RepoPlan:
    data = sorted((run.path / dataset / DATA_FOLDER).glob("*.parquet"))
    if not data:
        raise CurationError(f"{run.path / dataset} holds no {DATA_FOLDER}/*.parquet: the run's output.formats lacks "
                            "parquet, which the Hub reads; run it again with parquet")
    card, _ = dataset_card(run, audited, kind, repo_id)
    files = [RepoFile("README.md", card.encode()), *(RepoFile(f"{DATA_FOLDER}/{file.name}", file) for file in data), *shared]
    return RepoPlan(repo_id, dataset, splits, tuple(files))


def _run_files(run_dir: Path) -> list[RepoFile]:
    return [RepoFile(f"curation/{name}", run_dir / name) for name in RUN_FILES if (run_dir / name).is_file()]


def _notebook_files(folder: Path | None) -> list[RepoFile]:
    if folder is None:
        return []
    if not folder.is_dir():
        raise CurationError(f"notebooks folder {folder} not found (a checkout has notebooks/; pass --notebooks DIR or "
                            "--no-notebooks)")
    return [RepoFile(f"notebooks/{path.name}", path) for path in sorted(folder.glob("*.ipynb"))]

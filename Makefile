# The two commands of the README:
#   make report   create .venv if missing, install evalkit, run every evaluation, print the index
#   make test     create or refresh .venv, install evalkit with its dev extras, check style
#                 and types (ruff, mypy), run all tests
# and `make lab` to open the templates in JupyterLab.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check --quiet
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
LAB_STAMP := $(VENV)/.installed-lab
JOBS ?=

.PHONY: report test lab validate clean chromium

# Each step prints one line before it starts (the installs are quiet and take a while).
STEP = @printf '==> %s\n'

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "evalkit needs Python 3.11 or newer: run make with PYTHON=/path/to/python3.11")'
	$(STEP) "creating the virtual environment $(VENV) with $(PYTHON)"
	@$(PYTHON) -m venv $(VENV)
	$(STEP) "updating pip in $(VENV)"
	@$(PIP) install --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(STEP) "installing evalkit and its dependencies into $(VENV) (about a minute the first time)"
	@$(PIP) install -e .
	@touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(STEP) "installing evalkit with its test tools into $(VENV) (about a minute the first time)"
	@$(PIP) install -e '.[dev]'
	@touch $@ $(STAMP)

$(LAB_STAMP): pyproject.toml | $(BIN)/python
	$(STEP) "installing evalkit with JupyterLab into $(VENV) (a minute or two the first time)"
	@$(PIP) install -e '.[lab]'
	@touch $@ $(STAMP)

report: $(STAMP)
	$(STEP) "running every evaluation in evaluations/ (reports go to reports/)"
	@$(BIN)/evalkit run $(if $(JOBS),-j $(JOBS))

validate: $(STAMP)
	$(STEP) "checking every config in evaluations/ and its data"
	@$(BIN)/evalkit validate

# Browser and PDF tests need Chromium: installed from Debian's packages when make runs as root
# (as CI does); elsewhere those tests are skipped with the reason.
test: $(DEV_STAMP) chromium
	$(STEP) "checking style (ruff) and types (mypy)"
	$(BIN)/ruff check evalkit tests benchmarks setup.py
	$(BIN)/mypy
	$(STEP) "running the tests"
	$(BIN)/python -m pytest -n 2 --dist loadfile --nbval-lax tests templates

chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
	    >/dev/null 2>&1 && echo "installed chromium for the browser tests"; } || \
	  echo "note: chromium is not installed; browser and PDF tests will be skipped"

lab: $(LAB_STAMP)
	$(STEP) "opening the templates in JupyterLab"
	$(BIN)/jupyter lab templates/

clean:
	rm -rf reports .pytest_cache

# The two commands of the README:
#   make report   create .venv if missing, install evalkit, run every evaluation, print the index
#   make test     create or refresh .venv, install evalkit with its dev extras, run all tests
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

.PHONY: report test lab validate clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "evalkit needs Python 3.11 or newer: run make with PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(PIP) install -e .
	@touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[dev]'
	@touch $@ $(STAMP)

$(LAB_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[lab]'
	@touch $@ $(STAMP)

report: $(STAMP)
	$(BIN)/evalkit run $(if $(JOBS),-j $(JOBS))

validate: $(STAMP)
	$(BIN)/evalkit validate

test: $(DEV_STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile --nbval-lax tests templates

lab: $(LAB_STAMP)
	$(BIN)/jupyter lab templates/

clean:
	rm -rf reports .pytest_cache

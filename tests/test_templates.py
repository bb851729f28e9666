"""Templates: one source each, in agreement with the registry, stored clean, hidden from funders.

The notebooks in ``templates/`` are the only source of the templates (edited in JupyterLab; no
generator). These tests fail when they drift: from the registry that types their parameters,
from each other where they share parameters and report sections, or from the column checks the
runner makes.
"""

from __future__ import annotations

import re

import nbformat
import papermill
import pytest
import yaml
from conftest import ROOT

from evalkit import privacy
from evalkit.run.config import DEFAULT_POPULATION, _check_param, load_config
from evalkit.run.templates import (
    COMMON_PARAMS,
    TEMPLATES,
    columns,
    notebook_parameters,
    templates_dir,
)

NOTEBOOKS = sorted((ROOT / "templates").glob("*.ipynb"))
NAMES = [p.stem for p in NOTEBOOKS]
#: The standard report sections every template shows, in order.
SECTIONS = ["At a glance", "The program and the question", "The data",
            "How it was evaluated", "Findings", "Checks", "Limitations"]


def _cells(name: str) -> list:
    return nbformat.read(ROOT / "templates" / f"{name}.ipynb", as_version=4).cells


def test_every_template_is_registered_and_every_registration_has_a_notebook():
    assert set(NAMES) == set(TEMPLATES)


def test_the_repository_templates_are_the_ones_found_from_the_source_tree():
    assert templates_dir() == ROOT / "templates"


@pytest.mark.parametrize("name", NAMES)
def test_parameters_cell_declares_the_registry_parameters_in_order(name):
    declared = list(notebook_parameters(name))
    # papermill reads the same names from the cell it replaces
    assert declared == list(papermill.inspect_notebook(str(ROOT / "templates" / f"{name}.ipynb")))
    assert declared == [*COMMON_PARAMS, *(p.name for p in TEMPLATES[name].params)]


@pytest.mark.parametrize("name", NAMES)
def test_every_sample_value_is_one_the_config_schema_accepts(name):
    values = notebook_parameters(name)
    for p in TEMPLATES[name].params:
        problems: list[str] = []
        _check_param(p, values[p.name], problems)
        assert not problems, problems
        if p.kind == "choice":
            assert values[p.name] in p.choices


@pytest.mark.parametrize("name", NAMES)
def test_a_config_made_of_the_notebook_defaults_validates_and_reads_the_sample(name, tmp_path):
    """The notebook's own values, as a config, pass the schema and the runner's data checks,
    and reach the notebook unchanged."""
    values = notebook_parameters(name)
    top = {k: values[k] for k in ("title", "program", "description", "question", "id_column",
                                  "privacy_threshold", "population_label", "labels",
                                  "outcome_scale")}
    params = {p.name: values[p.name] for p in TEMPLATES[name].params}
    data = (ROOT / "templates" / values["data_path"]).resolve()
    raw = {**top, "template": name, "data": str(data), "parameters": params}
    path = tmp_path / "defaults.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    cfg = load_config(path)
    assert cfg.parameters == params
    injected = cfg.notebook_parameters(None)
    assert set(injected) <= set(values)
    assert {k: v for k, v in injected.items() if k != "data_path"} == {
        k: values[k] for k in injected if k != "data_path"}
    assert len(cfg.load_data()) > 0


def test_shared_parameters_are_declared_alike_in_every_template():
    """The parameters every template receives from a config's top level read the same."""
    shared = ("design", "population_label", "labels", "outcome_scale", "data_sheet",
              "validated_data", "results_path", "privacy_threshold")
    blocks = {}
    for name in NAMES:
        source = _cells(name)[0].source.splitlines()
        blocks[name] = [line for line in source if line.split(" = ")[0] in shared]
        values = notebook_parameters(name)
        assert values["privacy_threshold"] == privacy.DEFAULT_THRESHOLD
        assert values["population_label"] == DEFAULT_POPULATION
        assert values["outcome_scale"] == "linear" and values["question"] == ""
        assert all(values[k] is None for k in ("design", "data_sheet", "validated_data",
                                               "results_path"))
    assert len(blocks[NAMES[0]]) == len(shared)
    assert all(b == blocks[NAMES[0]] for b in blocks.values()), blocks


def _report_cells(name: str) -> list[tuple[str, str, tuple[str, ...]]]:
    cells = _cells(name)
    start = next(i for i, c in enumerate(cells) if c.source.startswith("# Title"))
    end = next(i for i, c in enumerate(cells) if c.source == "## Technical appendix")
    return [(c.cell_type, c.source, tuple(c.metadata.get("tags", [])))
            for c in cells[start:end + 1]]


def test_every_template_shows_the_standard_sections_with_the_same_cells():
    first = _report_cells(NAMES[0])
    headings = [s.removeprefix("## ") for kind, s, _ in first if kind == "markdown"]
    assert headings == [*SECTIONS, "Technical appendix"]
    for name in NAMES[1:]:
        assert _report_cells(name) == first, name


@pytest.mark.parametrize("name", ["prepost", "survival", "did"])
def test_load_cell_checks_the_columns_the_registry_lists(name, monkeypatch):
    """The notebook's load cell, run on its own parameters, asks evalkit.data.load for exactly
    the columns the runner checks (the registry), from the method's own column function."""
    import evalkit

    cells = _cells(name)
    load = next(c.source for c in cells if c.source.startswith("# Load"))
    assert "Column(" not in load  # no second, hand-written list
    asked = {}

    def capture(path, columns=None, **kwargs):
        asked["columns"] = columns
        raise StopIteration  # the data are not needed

    monkeypatch.setattr(evalkit.data, "load", capture)
    namespace: dict = {}
    exec(cells[0].source, namespace)  # the parameters cell
    exec(next(c.source for c in cells if c.source.startswith("# Set up")), namespace)
    with pytest.raises(StopIteration):
        exec(load, namespace)
    values = notebook_parameters(name)
    assert asked["columns"] == columns(name, values, values["id_column"])
    assert len(asked["columns"]) >= 3


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_templates_are_committed_clean_and_tagged(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), (
        f"{path.name} was saved with outputs: clear them (JupyterLab: Edit > Clear Outputs of "
        f"All Cells, or `jupyter nbconvert --clear-output --inplace {path}`) and save again")
    assert "parameters" in code[0].metadata.get("tags", [])
    # every code cell is hidden from funders and starts with a comment naming it (used when
    # reporting which cell failed)
    for c in code:
        assert "remove_input" in c.metadata.get("tags", []), c.source[:40]
        assert c.source.startswith("# "), c.source[:40]
    assert len({c.get("id") for c in nb.cells}) == len(nb.cells)


def test_notebook_parameters_reads_a_custom_templates_folder_and_refuses_code(
        tmp_path, monkeypatch):
    import shutil

    tdir = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", tdir)
    monkeypatch.setenv("EVALKIT_TEMPLATES", str(tdir))
    nb = nbformat.read(tdir / "prepost.ipynb", as_version=4)
    cell = nb.cells[0]
    cell.source = cell.source.replace('pre = "ts_intake"', 'pre = "score_before"')
    nbformat.write(nb, tdir / "prepost.ipynb")
    assert notebook_parameters("prepost")["pre"] == "score_before"
    cell.source = re.sub(r"^alpha = 0\.05", "alpha = 1 / 20", cell.source, flags=re.M)
    nbformat.write(nb, tdir / "prepost.ipynb")
    with pytest.raises(ValueError, match="'alpha' is not a literal value"):
        notebook_parameters("prepost")
    cell.metadata["tags"] = ["remove_input"]
    nbformat.write(nb, tdir / "prepost.ipynb")
    with pytest.raises(ValueError, match="no cell is tagged 'parameters'"):
        notebook_parameters("prepost")

"""Templates: parameters match the registry, no outputs in git, code hidden from funders."""

from __future__ import annotations

import nbformat
import papermill
import pytest

from evalkit.run.templates import COMMON_PARAMS, TEMPLATES

from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "templates").glob("*.ipynb"))


def test_every_template_is_registered_and_every_registration_has_a_notebook():
    assert {p.stem for p in NOTEBOOKS} == set(TEMPLATES)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_cell_matches_the_registry(path):
    declared = set(papermill.inspect_notebook(str(path)))
    spec = TEMPLATES[path.stem]
    assert declared == set(COMMON_PARAMS) | {p.name for p in spec.params}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_templates_are_committed_clean_and_tagged(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert "parameters" in code[0].metadata.get("tags", [])
    # every code cell is hidden from funders and starts with a comment naming it (used when
    # reporting which cell failed)
    for c in code:
        assert "remove_input" in c.metadata.get("tags", []), c.source[:40]
        assert c.source.startswith("# "), c.source[:40]

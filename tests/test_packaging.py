"""Packaging: pyproject.toml and environment.yml list the same dependencies; the contract holds."""

from __future__ import annotations

import re
import tomllib

import yaml
from conftest import ROOT

_SPEC = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$")


def _norm(req: str) -> tuple[str, str]:
    name, spec = _SPEC.match(req).groups()
    # conda packages have no extras: psycopg[binary] on PyPI is conda-forge's psycopg
    spec = re.sub(r"^\[[^\]]*\]", "", spec.replace(" ", ""))
    return re.sub(r"[-_.]+", "-", name).lower(), spec


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = dict(_norm(r) for r in project["dependencies"])
    for extra in ("dev", "lab"):
        wanted.update(_norm(r) for r in project["optional-dependencies"][extra])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    listed = dict(_norm(d) for d in env["dependencies"] if isinstance(d, str) and d != "pip")
    py = listed.pop("python")
    assert py == ">=" + project["requires-python"].removeprefix(">=")
    assert listed == wanted


def test_no_dependency_pins_pandas_below_3_and_lifelines_is_absent():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = dict(_norm(r) for r in project["dependencies"])
    assert "lifelines" not in names
    assert "<3" not in names["pandas"]


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make report" in readme
    commands = [line.strip() for line in ci.splitlines()
                if line.strip() and not line.startswith(("#", "set ", "cd "))]
    assert commands == ["make test"]


def test_py_typed_is_shipped():
    assert (ROOT / "evalkit" / "py.typed").is_file()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "py.typed" in project["tool"]["setuptools"]["package-data"]["evalkit"]

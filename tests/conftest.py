"""Shared fixtures: paths of the repository, sample data and their documented true values."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
EVALUATIONS = ROOT / "evaluations"
REFERENCE = Path(__file__).resolve().parent / "reference"


@pytest.fixture(scope="session")
def truth() -> dict:
    """True values built into the sample data (written by data/sample/generate.py)."""
    return json.loads((SAMPLE / "truth.json").read_text())


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A project-like folder: evaluations/ with copies of the sample configs, and data/."""
    (tmp_path / "evaluations").mkdir()
    (tmp_path / "data").mkdir()
    for f in SAMPLE.glob("*.csv"):
        shutil.copy(f, tmp_path / "data" / f.name)
    for cfg in EVALUATIONS.glob("*.yaml"):
        raw = yaml.safe_load(cfg.read_text())
        raw["data"] = "../data/" + Path(raw["data"]).name
        (tmp_path / "evaluations" / cfg.name).write_text(yaml.safe_dump(raw, sort_keys=False))
    return tmp_path


def write_config(folder: Path, slug: str, **changes) -> Path:
    """Write a copy of the site A config with top-level ``changes`` (None deletes a key)."""
    raw = yaml.safe_load((EVALUATIONS / "mentoring-site-a.yaml").read_text())
    raw["data"] = str((SAMPLE / "mentoring_site_a.csv").resolve())
    for k, v in changes.items():
        if v is None:
            raw.pop(k, None)
        else:
            raw[k] = v
    path = folder / f"{slug}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    return path


def r_reference(file: str, section: str | None = None) -> dict[str, float]:
    """Numbers printed by an R script under tests/reference/ (``name value`` lines; sections
    start with ``[name]``)."""
    out: dict[str, float] = {}
    current = None
    for line in (REFERENCE / file).read_text().splitlines():
        if line.startswith("["):
            current = line.strip().strip("[]")
            continue
        parts = line.split()
        if len(parts) == 2 and current == section:
            try:
                out[parts[0]] = float(parts[1])
            except ValueError:
                pass
    return out


def sample_config(folder: Path, name: str, slug: str | None = None, *,
                  data: Path | None = None, drop: tuple[str, ...] = (), **params) -> Path:
    """Write a copy of the sample config ``name`` into ``folder`` (as ``slug``.yaml).

    Its data path is made absolute (or replaced by ``data``); top-level keys in ``drop`` are
    removed; each keyword changes a template parameter (``None`` deletes it), or, prefixed with
    ``top_``, a top-level key.
    """
    raw = yaml.safe_load((EVALUATIONS / f"{name}.yaml").read_text())
    raw["data"] = str(data or (EVALUATIONS / raw["data"]).resolve())
    for k in drop:
        raw.pop(k, None)
    for k, v in params.items():
        if k.startswith("top_"):
            raw[k[4:]] = v
        elif v is None:
            raw["parameters"].pop(k, None)
        else:
            raw["parameters"][k] = v
    path = folder / f"{slug or name}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    return path


def custom_template(folder: Path, extra_cell: str, monkeypatch) -> Path:
    """A copy of the templates folder whose prepost template has one more cell (the fifth),
    used for the rest of the test through ``EVALKIT_TEMPLATES``."""
    import nbformat

    from evalkit.run.templates import templates_dir

    tdir = folder / "templates"
    shutil.copytree(templates_dir(), tdir)
    nb = nbformat.read(tdir / "prepost.ipynb", as_version=4)
    nb.cells.insert(4, nbformat.v4.new_code_cell(extra_cell))
    nbformat.write(nb, tdir / "prepost.ipynb")
    monkeypatch.setenv("EVALKIT_TEMPLATES", str(tdir))
    return tdir

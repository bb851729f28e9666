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

"""The built package works outside the repository.

A wheel is built the way a release is (a source distribution first, then the wheel from it) and
installed into a fresh virtual environment in a temporary folder; there ``evalkit new`` writes
a config and ``evalkit run`` renders its report from a copy of a sample CSV. The templates must
come from the wheel: the repository is not on the new environment's path.

To stay fast and offline, the new environment borrows the test environment's installed
dependencies through a ``.pth`` file (a folder named there is searched, but the ``.pth`` files in
it are not run, so the editable evalkit installed in the test environment is not importable)
and a link to nbconvert's templates, and the wheel is installed with ``--no-deps``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLE

#: What a source distribution is built from (MANIFEST.in and pyproject.toml choose within it).
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "evalkit", "templates")
TEMPLATES = sorted(p.name for p in (ROOT / "templates").glob("*.ipynb"))


def _env() -> dict[str, str]:
    """The environment of a user's shell: nothing points at the repository or its templates."""
    drop = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "EVALKIT_TEMPLATES", "VIRTUAL_ENV",
            "PIP_REQUIRE_VIRTUALENV")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PYTHONNOUSERSITE"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _run(cmd: list[str | Path], cwd: Path, timeout: float = 120) -> str:
    r = subprocess.run([str(c) for c in cmd], cwd=cwd, env=_env(), capture_output=True,
                       text=True, timeout=timeout)
    assert r.returncode == 0, f"{cmd} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    return r.stdout


def _setuptools_version() -> tuple[int, ...]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return tuple(int(x) for x in version("setuptools").split(".")[:2])
    except (PackageNotFoundError, ValueError):
        return (0,)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a source distribution of a copy of the working tree."""
    if _setuptools_version() < (77,):
        pytest.fail("building the wheel needs setuptools>=77 in the test environment (a dev "
                    "extra: pip install -e '.[dev]')")
    work = tmp_path_factory.mktemp("build")
    src = work / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, src / name)
    dist = work / "dist"
    _run([sys.executable, "-c", "import sys; from setuptools import build_meta as b; "
          "print(b.build_sdist(sys.argv[1]))", dist], cwd=src)
    (sdist,) = dist.glob("*.tar.gz")
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
          "--no-index", "--wheel-dir", dist, sdist], cwd=work)
    (whl,) = dist.glob("*.whl")
    return whl


def test_the_sdist_and_the_wheel_carry_the_notebooks_of_templates(wheel):
    (sdist,) = wheel.parent.glob("*.tar.gz")
    with tarfile.open(sdist) as tar:
        in_sdist = sorted(Path(n).name for n in tar.getnames()
                          if Path(n).parent.name == "templates" and n.endswith(".ipynb"))
    assert in_sdist == TEMPLATES
    with zipfile.ZipFile(wheel) as z:
        shipped = {Path(n).name: z.read(n) for n in z.namelist()
                   if n.startswith("evalkit/templates/")}
        names = z.namelist()
    assert sorted(shipped) == TEMPLATES
    for name, content in shipped.items():  # a copy of the one source, byte for byte
        assert content == (ROOT / "templates" / name).read_bytes(), name
    assert "evalkit/py.typed" in names and "evalkit/report/assets/report.css" in names
    assert not any(n.startswith(("templates/", "tests/")) for n in names)


def test_an_installed_wheel_writes_and_runs_an_evaluation_outside_the_repository(
        wheel, tmp_path):
    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / ("python.exe" if os.name == "nt" else "python")
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                     cwd=tmp_path).strip())
    # the dependencies (and pip) installed in the test environment, but not its evalkit
    here = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (site / "_test_dependencies.pth").write_text("\n".join(sorted(here)) + "\n")
    # ... and the data files their installation put beside them (nbconvert's templates)
    (env_dir / "share" / "jupyter").mkdir(parents=True)
    (env_dir / "share" / "jupyter" / "nbconvert").symlink_to(
        Path(sys.prefix, "share", "jupyter", "nbconvert"), target_is_directory=True)
    _run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
          "--ignore-installed", wheel], cwd=tmp_path)

    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    shutil.copy(SAMPLE / "mentoring_site_a.csv", project / "data")
    where = _run([python, "-c", "import evalkit, evalkit.run.templates as t; "
                  "print(evalkit.__file__); print(t.templates_dir())"], cwd=project).split()
    assert Path(where[0]).is_relative_to(site), where  # the wheel's evalkit, not the repo's
    assert Path(where[1]) == site / "evalkit" / "templates"

    evalkit = bin_dir / "evalkit"
    for template in ("did", "survival"):  # each reads its notebook's sample values
        _run([evalkit, "new", f"try-{template}", "--template", template], cwd=project)
        assert (project / "evaluations" / f"try-{template}.yaml").is_file()
        (project / "evaluations" / f"try-{template}.yaml").unlink()
    out = _run([evalkit, "new", "site-a", "--template", "prepost"], cwd=project)
    assert "Wrote evaluations/site-a.yaml" in out
    config = project / "evaluations" / "site-a.yaml"
    text = config.read_text()
    assert "pre: ts_intake  # CHANGE ME" in text  # the prepost notebook's sample value
    config.write_text(text.replace("../data/CHANGE_ME.csv", "../data/mentoring_site_a.csv")
                      .replace("CHANGE ME", "Mentoring outside the repository"))

    out = _run([evalkit, "run", "-j", "1"], cwd=project, timeout=300)
    assert "1 succeeded, 0 failed" in out, out
    report = project / "reports" / "site-a" / "report.html"
    assert report.is_file()
    html = report.read_text(encoding="utf-8")
    assert "Mentoring outside the repository" in html and "trauma symptom score" in html
    manifest = json.loads((report.parent / "manifest.json").read_text())
    assert manifest["inputs"]["template"]["path"] == str(site / "evalkit" / "templates"
                                                         / "prepost.ipynb")

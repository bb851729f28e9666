"""The evalkit command as a user runs it: exit codes and readable messages."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import SAMPLE

from evalkit.cli import main, new_config_text
from evalkit.run.templates import TEMPLATES


def evalkit(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "evalkit", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_run_renders_good_evaluations_and_fails_on_bad_ones(workspace):
    ev = workspace / "evaluations"
    bad = yaml.safe_load((ev / "mentoring-site-b.yaml").read_text())
    bad["parameters"]["post"] = "ts_12mo"
    (ev / "site-b-wrong-column.yaml").write_text(yaml.safe_dump(bad))
    (ev / "broken.yaml").write_text("title: x\nunknown_key: 1\n")
    r = evalkit("run", "-j", "2", cwd=workspace)
    assert r.returncode == 1, r.stdout + r.stderr
    out = r.stdout
    assert "Running 12 evaluation(s) with 2 worker(s)" in out
    assert "10 succeeded, 2 failed" in out
    assert "FAILED site-b-wrong-column" in out
    assert "column 'ts_12mo': required column is missing" in out
    assert "unknown key 'unknown_key'" in out and "broken.yaml" in out
    assert "Traceback" not in out + r.stderr
    assert "Portfolio index: " + str((workspace / "reports" / "index.html").resolve()) in out
    for slug in ("mentoring-site-a", "mentoring-site-b"):
        assert (workspace / "reports" / slug / "report.html").is_file()


def test_only_selects_and_unknown_slug_is_an_error(workspace):
    r = evalkit("run", "--only", "mentoring-site-b", "-j", "1", cwd=workspace)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 succeeded, 0 failed" in r.stdout
    assert not (workspace / "reports" / "mentoring-site-a").exists()
    r = evalkit("run", "--only", "nope", cwd=workspace)
    assert r.returncode == 1 and "no evaluation named nope" in r.stderr


def test_validate_checks_configs_and_data_without_running(workspace):
    assert evalkit("validate", cwd=workspace).returncode == 0
    data = workspace / "data" / "mentoring_site_a.csv"
    data.write_text(data.read_text().replace(",2024,", ",2024,x", 1))
    r = evalkit("validate", cwd=workspace)
    assert r.returncode == 1
    assert "FAILED  evaluations/mentoring-site-a.yaml" in r.stdout
    assert "9 valid, 1 with problems" in r.stdout
    assert not (workspace / "reports").exists()


def test_list_shows_each_evaluation(workspace):
    r = evalkit("list", cwd=workspace)
    assert r.returncode == 0
    assert "mentoring-site-a" in r.stdout and "not run" in r.stdout


def test_new_writes_a_commented_config_that_names_every_parameter(tmp_path):
    assert main(["new", "street-outreach", "--template", "prepost", "--dir",
                 str(tmp_path)]) == 0
    path = tmp_path / "street-outreach.yaml"
    raw = yaml.safe_load(path.read_text())
    assert set(raw["parameters"]) == {p.name for p in TEMPLATES["prepost"].params}
    assert raw["template"] == "prepost" and raw["privacy_threshold"] == 11
    assert path.read_text().count("#") > 10
    # refuses to overwrite, and to use a bad slug or template
    assert main(["new", "street-outreach", "--template", "prepost", "--dir",
                 str(tmp_path)]) == 1
    assert main(["new", "Bad Slug", "--template", "prepost", "--dir", str(tmp_path)]) == 2
    assert main(["new", "x", "--template", "rct", "--dir", str(tmp_path)]) == 2


def test_new_config_validates_once_filled_in(tmp_path):
    from evalkit.run.config import load_config

    raw = yaml.safe_load(new_config_text("filled", "prepost").replace("CHANGE ME", "Filled in"))
    raw["data"] = str(SAMPLE / "mentoring_site_a.csv")
    p = tmp_path / "filled.yaml"
    p.write_text(yaml.safe_dump(raw))
    cfg = load_config(p)
    assert cfg.parameters["pre"] == "ts_intake" and cfg.question == ""


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_new_writes_a_config_for_every_template(tmp_path, template):
    from evalkit.run.config import load_config

    raw = yaml.safe_load(new_config_text("x", template).replace("CHANGE ME", "Filled in"))
    assert raw["template"] == template
    assert set(raw["parameters"]) == {p.name for p in TEMPLATES[template].params}
    sample = {"prepost": "mentoring_site_a.csv", "survival": "placement_runaway.csv",
              "did": "safe_harbor_panel.csv", "its": "county_identifications.csv"}[template]
    raw["data"] = str(SAMPLE / sample)
    raw["id_column"] = "state" if template == "did" else "case_id"
    p = tmp_path / "x.yaml"
    p.write_text(yaml.safe_dump(raw))
    cfg = load_config(p)  # the examples in the written config are valid values
    cfg.load_data()  # ... and name columns the sample data have


def test_new_lists_and_writes_the_design_population_labels_and_scale_keys(tmp_path, capsys):
    from evalkit.cli import keys_text
    from evalkit.run.config import load_config

    for template in TEMPLATES:
        text = keys_text(template)
        for key in ("design", "population_label", "labels", "outcome_scale"):
            assert re.search(rf"^\s+{key}\s+optional\s+\S", text, re.M), key
    assert main(["new", "aid-trial", "--template", "survival", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "population_label" in out and "outcome_scale" in out
    raw = yaml.safe_load((tmp_path / "aid-trial.yaml").read_text())
    assert raw["design"] is None and raw["outcome_scale"] == "linear"
    assert raw["population_label"] == {"singular": "youth", "plural": "youth"}
    assert "randomized, comparison group" in (tmp_path / "aid-trial.yaml").read_text()
    raw = {k: (v.replace("CHANGE ME", "x") if isinstance(v, str) else v) for k, v in raw.items()}
    raw["data"] = str(SAMPLE / "placement_runaway.csv")
    raw["parameters"] = {k: v for k, v in raw["parameters"].items()}
    raw["parameters"].update(duration="days", event="ran_away", group="specialized",
                             event_label="ran away")
    raw["design"] = "randomized"
    p = tmp_path / "aid-trial.yaml"
    p.write_text(yaml.safe_dump(raw))
    assert load_config(p).design == "randomized"


def test_new_takes_the_examples_from_the_notebook_a_run_would_use(tmp_path, monkeypatch, capsys):
    """`evalkit new` writes a required parameter's example from the template notebook that
    `evalkit run` will execute: here a project's own templates/ beside evaluations/."""
    import nbformat

    from evalkit.run.templates import templates_dir

    monkeypatch.delenv("EVALKIT_TEMPLATES", raising=False)
    tdir = tmp_path / "templates"
    tdir.mkdir()
    for nb_path in templates_dir().glob("*.ipynb"):
        nb = nbformat.read(nb_path, as_version=4)
        nb.cells[0].source = nb.cells[0].source.replace('"ts_intake"', '"score_before"')
        nbformat.write(nb, tdir / nb_path.name)
    assert main(["new", "own", "--template", "prepost", "--dir",
                 str(tmp_path / "evaluations")]) == 0
    text = (tmp_path / "evaluations" / "own.yaml").read_text()
    assert "  pre: score_before  # CHANGE ME" in text
    assert "  post: ts_6mo  # CHANGE ME" in text
    # without any notebook to read, the command says so instead of failing with a traceback
    monkeypatch.setenv("EVALKIT_TEMPLATES", str(tmp_path / "nowhere"))
    (tdir / "prepost.ipynb").unlink()
    monkeypatch.setattr("evalkit.run.templates.PROJECT_TEMPLATES", tmp_path / "nowhere")
    assert main(["new", "other", "--template", "prepost", "--dir",
                 str(tmp_path / "evaluations")]) == 1
    assert "cannot read the 'prepost' template" in capsys.readouterr().err
    assert not (tmp_path / "evaluations" / "other.yaml").exists()

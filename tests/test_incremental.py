"""Incremental runs, the reports folder's lock and the findings export.

An evaluation whose last good report was made from the same inputs (config, data bytes,
template, evalkit's code, Python and package versions) is not run again; exactly the
evaluations whose inputs changed are.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil

import pandas as pd
import pytest
from conftest import SAMPLE, sample_config

from evalkit.cli import main
from evalkit.export import COLUMNS, export_rows, rows_of, write_export
from evalkit.report import resultsdoc
from evalkit.run.batch import LOCK_FILE, ReportsLocked, format_outcome, run_all
from evalkit.run.incremental import KEY_FIELD, run_key


@pytest.fixture()
def portfolio(tmp_path):
    """Two pre-post evaluations, each on its own copy of the site A data."""
    configs = []
    for slug in ("alpha", "beta"):
        data = tmp_path / f"{slug}.csv"
        shutil.copyfile(SAMPLE / "mentoring_site_a.csv", data)
        configs.append(sample_config(tmp_path, "mentoring-site-a", slug, data=data))
    return tmp_path, configs


def _ran(outcomes) -> dict[str, bool]:
    assert all(o.ok for o in outcomes), [o.message for o in outcomes]
    return {o.slug: not o.skipped for o in outcomes}


def test_only_what_changed_runs_again(portfolio):
    folder, configs = portfolio
    reports = folder / "reports"
    assert _ran(run_all(configs, reports, jobs=1)) == {"alpha": True, "beta": True}
    # only the runner's own kernels are asked to note figure times; this process is not
    assert "EVALKIT_FIGURE_TIMES" not in os.environ
    manifest = json.loads((reports / "alpha" / "manifest.json").read_text())
    from evalkit.run.config import load_config

    assert manifest[KEY_FIELD] == run_key(load_config(configs[0]))["sha256"]
    index_built = (reports / "index.html").stat().st_mtime_ns
    lines: list[str] = []
    assert _ran(run_all(configs, reports, jobs=1, echo=lines.append)) == {
        "alpha": False, "beta": False}
    assert all("up to date" in line for line in lines)
    assert (reports / "index.html").stat().st_mtime_ns == index_built  # nothing to redraw
    # a changed data file re-runs the one evaluation that reads it
    data = pd.read_csv(folder / "beta.csv")
    data.loc[0, "ts_6mo"] = data.loc[0, "ts_6mo"] + 1
    data.to_csv(folder / "beta.csv", index=False)
    assert _ran(run_all(configs, reports, jobs=1)) == {"alpha": False, "beta": True}
    # a changed parameter likewise; --force runs everything
    text = configs[0].read_text().replace("units: points", "units: score points")
    assert text != configs[0].read_text()
    configs[0].write_text(text)
    assert _ran(run_all(configs, reports, jobs=1)) == {"alpha": True, "beta": False}
    assert _ran(run_all(configs, reports, jobs=1, force=True)) == {"alpha": True,
                                                                   "beta": True}
    assert (reports / "index.html").stat().st_mtime_ns != index_built


def test_the_key_follows_every_input(portfolio, monkeypatch):
    from evalkit.run import incremental
    from evalkit.run.config import load_config

    _, configs = portfolio
    cfg = load_config(configs[0])
    base = run_key(cfg)
    assert run_key(cfg) == base and run_key(cfg, pdf=True)["sha256"] != base["sha256"]
    assert run_key(cfg.with_parameters(alpha=0.1))["sha256"] != base["sha256"]
    monkeypatch.setattr(incremental, "code_digest", lambda: "other code")
    assert run_key(cfg)["sha256"] != base["sha256"]
    monkeypatch.undo()
    monkeypatch.setattr(incremental, "_versions", lambda: {"python": "3.99"})
    assert run_key(cfg)["sha256"] != base["sha256"]


def test_a_changed_template_reruns_its_evaluations(portfolio, monkeypatch):
    from evalkit.run.templates import templates_dir

    folder, configs = portfolio
    reports = folder / "reports"
    run_all(configs[:1], reports, jobs=1)
    mine = folder / "templates"
    shutil.copytree(templates_dir(), mine)
    nb = json.loads((mine / "prepost.ipynb").read_text())
    nb["cells"][1]["source"] = "".join(nb["cells"][1]["source"]) + "\n# a note"
    (mine / "prepost.ipynb").write_text(json.dumps(nb))
    monkeypatch.setenv("EVALKIT_TEMPLATES", str(mine))
    assert _ran(run_all(configs[:1], reports, jobs=1)) == {"alpha": True}


def test_a_report_left_by_a_failed_run_is_not_up_to_date(portfolio):
    folder, configs = portfolio
    reports = folder / "reports"
    run_all(configs[:1], reports, jobs=1)
    (reports / "alpha" / "results.json").unlink()  # e.g. removed by hand
    assert _ran(run_all(configs[:1], reports, jobs=1)) == {"alpha": True}


def test_a_second_run_on_the_same_folder_is_refused(portfolio, capsys):
    from filelock import FileLock

    folder, configs = portfolio
    reports = folder / "reports"
    reports.mkdir()
    with FileLock(str(reports / LOCK_FILE)):
        with pytest.raises(ReportsLocked, match=r"in use by another evalkit run.*Not run: "
                                                r"alpha, beta"):
            run_all(configs, reports, jobs=1)
        assert main(["run", *map(str, configs), "--reports", str(reports)]) == 3
    assert "Not run: alpha, beta" in capsys.readouterr().err
    assert not (reports / "alpha").exists()
    assert _ran(run_all(configs[:1], reports, jobs=1)) == {"alpha": True}  # lock released


def test_the_up_to_date_line_names_the_report():
    from evalkit.run.execute import RunOutcome

    o = RunOutcome("alpha", "a.yaml", "ok", 0.01, report="r/alpha/report.html", skipped=True)
    assert format_outcome(o, 3, 12) == "[ 3/12] up to date alpha" + " " * 23 + \
        "  r/alpha/report.html"
    assert o.to_dict()["skipped"] is True


def test_live_progress_on_a_terminal_and_plain_lines_otherwise(monkeypatch, capsys):
    import sys

    from evalkit.cli import _live_progress
    from evalkit.run.execute import RunOutcome

    outcomes = [RunOutcome("a", "a.yaml", "ok", 1.0, report="x"),
                RunOutcome("b", "b.yaml", "failed", 1.0, stage="data", message="bad")]
    with _live_progress(2) as (echo, progress):
        assert progress is None  # not a terminal: plain lines
        echo("line one")
    assert capsys.readouterr().out == "line one\n"
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    with _live_progress(2) as (echo, progress):
        for i, o in enumerate(outcomes, 1):
            echo(f"done {o.slug}")
            progress(o, i, 2)
    out = capsys.readouterr().out
    assert "done a" in out and "done b" in out


# -- export ------------------------------------------------------------------------------------

def test_export_has_one_row_per_estimand_headline_first(portfolio, tmp_path):
    folder, configs = portfolio
    reports = folder / "reports"
    run_all(configs, reports, jobs=1)
    result = export_rows(reports)
    assert result.left_out == {}
    doc = resultsdoc.read(reports / "alpha" / "results.json")
    alpha = [r for r in result.rows if r["slug"] == "alpha"]
    assert len(alpha) == 1 + len(doc["estimates"])
    head = alpha[0]
    assert head["role"] == "headline" and {r["role"] for r in alpha[1:]} == {"estimate"}
    assert head["estimate"] == doc["headline"]["estimate"]
    assert head["effect_size"] == doc["headline"]["effect_size"]["estimate"]
    assert head["rating"] == doc["evidence"]["rating"]
    assert head["outcome_domain"] == doc["outcome"]["domain"]
    assert head["n"] == doc["headline"]["n"] and head["n_unit"] == "youth"
    text = write_export(result, "csv", tmp_path / "f.csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == list(COLUMNS) and len(rows) == len(result.rows)
    assert (tmp_path / "f.csv").read_text() == text
    js = json.loads(write_export(result, "json"))
    assert js["schema"]["columns"] == list(COLUMNS) and js["rows"] == result.rows


def test_export_leaves_out_what_the_leak_check_refuses(portfolio):
    folder, configs = portfolio
    reports = folder / "reports"
    run_all(configs, reports, jobs=1)
    an_id = str(pd.read_csv(folder / "alpha.csv")["case_id"].iloc[0])
    doc = json.loads((reports / "alpha" / "results.json").read_text())
    doc["estimates"][0]["term"] = f"youth {an_id}"
    (reports / "alpha" / "results.json").write_text(json.dumps(doc))
    (folder / "beta.csv").unlink()  # its identifiers can no longer be read
    result = export_rows(reports)
    assert set(result.left_out) == {"alpha", "beta"} and result.rows == []
    assert an_id not in result.left_out["alpha"]
    assert "cannot be read" in result.left_out["beta"]


def test_export_command(portfolio, capsys):
    folder, configs = portfolio
    reports = folder / "reports"
    run_all(configs, reports, jobs=1)
    out = folder / "findings.json"
    assert main(["export", "--format", "json", "--reports", str(reports), "-o", str(out)]) == 0
    assert {r["slug"] for r in json.loads(out.read_text())["rows"]} == {"alpha", "beta"}
    assert "Exported" in capsys.readouterr().err


def test_rows_of_a_withheld_headline_are_null():
    doc = {"slug": "s", "headline": {"estimand": "x", "estimate": None, "ci_low": None,
                                     "ci_high": None, "n": None, "suppressed": True,
                                     "effect_size": None}, "estimates": []}
    (row,) = rows_of(doc)
    assert row["estimate"] is None and row["n"] is None and row["suppressed"] is True

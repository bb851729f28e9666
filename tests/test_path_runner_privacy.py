"""The runner's privacy on the evaluator's path (issue 10): failed notebooks pass the leak check
or keep no outputs, crashes leave no executed notebook under reports/, ids are text, and
without an id column the text columns are searched."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pandas as pd
from conftest import SAMPLE, custom_template, write_config

from evalkit.run import run_evaluation
from evalkit.run.execute import clean_stale

FIRST_ID = pd.read_csv(SAMPLE / "mentoring_site_a.csv")["case_id"].iloc[0]


def _all_text(folder: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file())


def test_a_failed_notebook_showing_ids_keeps_neither_outputs_nor_parameters(tmp_path,
                                                                            monkeypatch):
    custom_template(tmp_path, "# Peek and fail\nprint(data[id_column].head(4).tolist())\n"
                     "raise KeyError(data[id_column].iloc[0])", monkeypatch)
    reports = tmp_path / "reports"
    cfg = write_config(tmp_path, "peek", title=f"Review of case {FIRST_ID}")
    o = run_evaluation(cfg, reports)
    assert o.stage == "execute"
    # the error names the cell, not the id
    assert o.message.startswith("cell 5 ('Peek and fail') raised KeyError: '[identifier]'")
    assert FIRST_ID not in o.message
    assert "its outputs and parameters, which showed identifier values, were removed" in \
        o.message
    kept = reports / "_failed" / "peek.ipynb"
    nb = nbformat.read(kept, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    # nothing under reports/ shows an id of the data
    ids = pd.read_csv(SAMPLE / "mentoring_site_a.csv")["case_id"]
    text = _all_text(reports)
    assert not [i for i in ids if i in text]
    assert not list(reports.glob(".tmp-*"))


def test_a_failed_notebook_without_ids_is_kept_with_its_outputs(tmp_path, monkeypatch):
    custom_template(tmp_path, "# Fail\nprint('rows:', len(data))\nraise ValueError('odd')",
                     monkeypatch)
    o = run_evaluation(write_config(tmp_path, "plain"), tmp_path / "reports")
    assert o.stage == "execute" and "were removed" not in o.message
    nb = nbformat.read(tmp_path / "reports" / "_failed" / "plain.ipynb", as_version=4)
    assert any("rows: 160" in json.dumps(c.get("outputs", [])) for c in nb.cells
               if c.cell_type == "code")


def test_leading_zero_ids_are_searched_as_text(tmp_path, monkeypatch):
    # ids 00001 ... 00160: read as numbers they would be 1 ... 160, too short to search
    df = pd.read_csv(SAMPLE / "mentoring_site_a.csv")
    df["case_id"] = [f"{i:05d}" for i in range(1, len(df) + 1)]
    data = tmp_path / "zeros.csv"
    df.to_csv(data, index=False)
    custom_template(tmp_path, "# Peek\nprint(data[id_column].head(3).tolist())", monkeypatch)
    o = run_evaluation(write_config(tmp_path, "zeros", data=str(data)), tmp_path / "reports")
    assert o.stage == "privacy", o.message
    assert "3 identifier value(s) of column 'case_id'" in o.message
    assert not (tmp_path / "reports" / "zeros").exists()


def test_without_an_id_column_text_columns_are_checked(tmp_path, monkeypatch):
    reports = tmp_path / "reports"
    ok = run_evaluation(write_config(tmp_path, "noid", id_column=None), reports)
    assert ok.ok, ok.message
    m = json.loads((reports / "noid" / "manifest.json").read_text())
    assert m["privacy"]["id_column"] is None
    assert m["privacy"]["text_values_checked"] == {"case_id": 160}
    custom_template(tmp_path, "# Peek\nprint(data['case_id'].head(2).tolist())", monkeypatch)
    o = run_evaluation(write_config(tmp_path, "noid-leak", id_column=None), reports)
    assert o.stage == "privacy" and "2 identifier value(s) of column 'case_id'" in o.message


def test_stale_folders_of_crashed_runs_are_removed_and_live_ones_kept(tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = [reports / f".tmp-site-{dead}-ab12cd34", reports / ".tmp-site-1a2b3c4d",
             reports / ".old-site-1a2b3c4d"]
    live = reports / f".tmp-site-{os.getpid()}-ab12cd34"
    private = Path(tempfile.gettempdir()) / f".tmp-site-{dead}-x1y2z3"
    for d in (*stale, live, private):
        d.mkdir()
        (d / "report.ipynb").write_text("{}")
    removed = clean_stale(reports)
    assert set(stale) | {private} <= set(removed)
    assert live.is_dir() and not any(d.exists() for d in (*stale, private))


def test_a_terminated_run_leaves_no_working_folder(tmp_path, monkeypatch):
    tdir = custom_template(tmp_path, "# Wait\nimport time\ntime.sleep(120)", monkeypatch)
    reports = tmp_path / "reports"
    cfg = write_config(tmp_path, "killed")
    code = ("import sys; from evalkit.run import run_evaluation; "
            f"run_evaluation({str(cfg)!r}, {str(reports)!r})")
    proc = subprocess.Popen([sys.executable, "-c", code],
                            env={**os.environ, "EVALKIT_TEMPLATES": str(tdir)})
    pattern = f".tmp-killed-{proc.pid}-*"
    work = []
    deadline = time.time() + 90
    while time.time() < deadline and not work:
        work = [p for p in Path(tempfile.gettempdir()).glob(pattern)
                if (p / "kernel.log").exists()]
        time.sleep(0.2)
    assert work, "the run never started its notebook"
    time.sleep(3)  # inside the notebook by now
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    assert not work[0].exists()
    assert not list(reports.glob(".tmp-*"))


def test_a_policy_panels_units_are_places_and_are_not_searched():
    """The did template's id column names states: the report may print them (a synthetic
    control's weights); the id column of a template about people is searched in full."""
    import pandas as pd

    from evalkit.run.checks import identifier_columns
    from evalkit.run.templates import get_template

    panel = pd.DataFrame({"state": ["Minnesota", "Delaware"] * 12, "note": ["ok"] * 24})
    assert get_template("did").units_are_places
    assert not get_template("prepost").units_are_places
    assert "state" not in identifier_columns(panel, "state", 11, places=True)
    assert identifier_columns(panel, "state", 11)["state"] is not None

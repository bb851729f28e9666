"""The runner end to end on the sample data: reports, results, manifest, failures, privacy."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from conftest import ROOT, SAMPLE, custom_template, write_config

from evalkit.report import resultsdoc
from evalkit.run import run_all, run_evaluation

SLUGS = ["advocacy-referrals", "county-identifications", "lifeskills-waitlist",
         "mentoring-site-a", "mentoring-site-b", "navigator-law", "placement-runaway",
         "runaway-episodes", "safe-harbor-arrests", "safe-harbor-reports"]


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    reports = tmp_path_factory.mktemp("reports")
    configs = sorted((ROOT / "evaluations").glob("*.yaml"))
    lines: list[str] = []
    outcomes = run_all(configs, reports, jobs=2, echo=lines.append)
    return reports, outcomes, lines


def test_every_sample_evaluation_renders(sample_run):
    reports, outcomes, lines = sample_run
    assert sorted(o.slug for o in outcomes) == SLUGS
    assert all(o.ok for o in outcomes), [o.message for o in outcomes]
    for slug in SLUGS:
        assert {p.name for p in (reports / slug).iterdir()} == {
            "report.html", "report.ipynb", "results.json", "manifest.json"}
    assert len(lines) == 10 and all(re.match(r"\[\s*\d+/10\] ok\s", line) for line in lines)
    assert not list(reports.glob(".tmp-*"))


@pytest.mark.parametrize("site", ["a", "b"])
def test_results_recover_the_documented_true_effects(sample_run, truth, site):
    reports, _, _ = sample_run
    doc = resultsdoc.read(reports / f"mentoring-site-{site}" / "results.json")
    assert resultsdoc.problems(doc) == []
    t = truth["mentoring"][site]
    h = doc["headline"]
    # the completers' mean change is what a pre-post analysis of completers estimates
    assert h["ci_low"] <= t["true_mean_change_completers"] <= h["ci_high"]
    es = h["effect_size"]
    assert es["ci_low"] <= t["true_d_av_completers"] <= es["ci_high"]
    assert doc["evidence"]["rating"] == "descriptive"
    n_enrolled = doc["sample"]["enrolled"]
    assert n_enrolled == t["n_enrolled"]
    assert doc["sample"]["lost_to_follow_up"] / n_enrolled == pytest.approx(
        t["observed_attrition"], abs=1e-3)
    assert "cannot be attributed to the program" in doc["finding"]
    # school enrolment: fewer than 11 youth left school at both sites (2x2 cells of 4 and 2),
    # so the paired yes/no result, whose odds ratio and test statistic would give that cell
    # away, is withheld everywhere and listed as suppressed
    assert not any(e["term"].startswith("enrolled in school") for e in doc["estimates"])
    assert "enrolled in school (change)" in doc["suppressed"]
    assert doc["checks"]["attrition"]["overall"] == pytest.approx(t["observed_attrition"],
                                                                  abs=1e-3)


def test_comparison_group_evaluation_recovers_the_true_program_effect(sample_run, truth):
    reports, _, _ = sample_run
    doc = resultsdoc.read(reports / "lifeskills-waitlist" / "results.json")
    t = truth["lifeskills"]
    h = doc["headline"]
    assert doc["design"]["code"] == "comparison_group_prepost"
    assert h["ci_low"] <= t["true_program_effect"] <= h["ci_high"]
    es = h["effect_size"]
    assert es["name"] == "hedges_g_wwc"
    assert es["ci_low"] <= t["true_g_completers"] <= es["ci_high"]
    assert h["improvement_index"] > 0  # lower is better and the effect is negative
    base = doc["checks"]["baseline_equivalence"]
    assert base["status"] in ("satisfied", "satisfied with adjustment")
    assert doc["evidence"]["rating"] == "meets_with_reservations"
    att = doc["checks"]["attrition"]
    assert att["differential"] == pytest.approx(
        abs(t["observed_attrition_program"] - t["observed_attrition_waitlist"]), abs=2e-3)
    assert isinstance(att["low"], bool)
    html = (reports / "lifeskills-waitlist" / "report.html").read_text()
    assert "Were the groups alike at intake?" in html and "waiting list" in html
    assert "Cox index" in html
    est = {e["term"]: e for e in doc["estimates"]}
    cox = est["enrolled in school (program vs comparison): cox_index"]
    assert cox["ci_low"] <= t["true_school_cox_index"] <= cox["ci_high"]
    diff = est["enrolled in school (program vs comparison): difference in proportion"]
    assert diff["ci_low"] <= t["true_school_difference"] <= diff["ci_high"]


@pytest.mark.parametrize("slug, data", [
    ("mentoring-site-a", "mentoring_site_a.csv"), ("mentoring-site-b", "mentoring_site_b.csv"),
    ("lifeskills-waitlist", "lifeskills_waitlist.csv"),
    ("placement-runaway", "placement_runaway.csv"),
    ("runaway-episodes", "runaway_episodes.csv"),
    ("safe-harbor-arrests", None), ("safe-harbor-reports", None),  # state rates: no ids
    ("navigator-law", None), ("county-identifications", None)])
def test_html_has_no_code_no_ids_and_no_network(sample_run, slug, data):
    reports, _, _ = sample_run
    html = (reports / slug / "report.html").read_text()
    if data is not None:
        frame = pd.read_csv(SAMPLE / data)
        ids = frame["case_id" if "case_id" in frame else "youth_id"]
        assert not any(i in html for i in ids)
    for code in ("import evalkit", "paired_change(", "rep.glance", "jp-InputArea-editor",
                 "results_path"):
        assert code not in html
    assert not re.search(r"<script[^>]*\bsrc=", html)
    assert not re.search(r"""(?:src|href)=["']https?://""", html)
    for section in ("At a glance", "The program and the question", "The data",
                    "How it was evaluated", "Findings", "Checks", "Limitations",
                    "Technical appendix"):
        assert f">{section}<" in html, section
    imgs = re.findall(r"<img\b[^>]*>", html)
    assert imgs and all(re.search(r"""src=["']data:image/png;base64,""", i) for i in imgs)
    assert all(re.search(r"""alt=["'][^"']{40,}["']""", i) for i in imgs)


def test_survival_evaluation_recovers_the_true_hazard_ratio(sample_run, truth):
    reports, _, _ = sample_run
    doc = resultsdoc.read(reports / "placement-runaway" / "results.json")
    t = truth["placement"]
    h = doc["headline"]
    assert doc["design"]["code"] == "time_to_event_comparison"
    assert doc["checks"]["proportional_hazards"]["holds"] is True
    assert h["units"] == "hazard ratio"
    assert h["ci_low"] <= t["true_hazard_ratio"] <= h["ci_high"]
    est = {e["term"]: e for e in doc["estimates"]}
    for day in (30, 90, 180):
        for label, key in (("specialized placement", "specialized"), ("usual care", "usual_care")):
            e = est[f"survival at {day} ({label})"]
            assert e["ci_low"] <= t[f"{key}_runaway_free_net_day{day}"] <= e["ci_high"]
    diff = next(e for k, e in est.items() if k.startswith("difference"))
    assert diff["ci_low"] <= t["rmst_net_180_difference"] <= diff["ci_high"]
    for day in (30, 90, 180):
        for label, key in (("specialized placement", "specialized"), ("usual care", "usual_care")):
            e = est[f"cumulative incidence at {day} ({label})"]
            assert e["ci_low"] <= t[f"{key}_ran_by_day{day}_crude"] <= e["ci_high"]


def test_policy_evaluation_recovers_the_true_average_effect(sample_run, truth):
    reports, _, _ = sample_run
    doc = resultsdoc.read(reports / "safe-harbor-arrests" / "results.json")
    t = truth["safe_harbor"]["arrests"]
    h = doc["headline"]
    assert doc["design"]["code"] == "staggered_did"
    assert h["ci_low"] <= t["true_simple_att"] <= h["ci_high"]
    dyn = {e["term"]: e for e in doc["estimates"] if e["term"].startswith("dynamic")}
    for e in range(0, 6):
        cell = dyn[f"dynamic {e}"]
        assert cell["ci_low"] <= t["true_dynamic"][str(e)] <= cell["ci_high"]
    assert doc["checks"]["parallel_trends"]["holds"] is True
    # no sign of diverging trends before adoption, but the average effect does not survive a
    # divergence after adoption as large as the largest before it (HonestDiD, M̄ = 1)
    sens = doc["checks"]["sensitivity"]["average"]
    assert sens["significant"] and sens["holds_up_to"] < 1
    assert doc["evidence"]["rating"] == "limited"
    assert doc["evidence"]["reasons"][0].startswith("The finding does not survive trends")
    # effects grow with time since adoption, so TWFE (weighting in forbidden comparisons)
    # lies outside the Callaway-Sant'Anna interval here
    assert not h["ci_low"] <= doc["checks"]["twfe"] <= h["ci_high"]
    reports_doc = resultsdoc.read(reports / "safe-harbor-reports" / "results.json")
    t2 = truth["safe_harbor"]["reports"]
    h2 = reports_doc["headline"]
    assert h2["ci_low"] <= t2["true_simple_att"] <= h2["ci_high"]
    assert reports_doc["outcome"]["domain"] == "identification of exploited youth"


def test_manifest_records_inputs_parameters_versions_and_timings(sample_run):
    reports, _, _ = sample_run
    m = json.loads((reports / "mentoring-site-a" / "manifest.json").read_text())
    data = SAMPLE / "mentoring_site_a.csv"
    assert m["inputs"]["data"]["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert m["inputs"]["template"]["sha256"] == hashlib.sha256(
        (ROOT / "templates" / "prepost.ipynb").read_bytes()).hexdigest()
    assert m["parameters"]["pre"] == "ts_intake" and m["parameters"]["results_path"] is None
    assert {"pandas", "numpy", "scipy", "papermill", "nbconvert", "python"} <= set(m["packages"])
    assert set(m["git"]) == {"commit", "dirty"}
    t = m["timings_seconds"]
    phases = {"validate", "execute", "kernel", "imports", "cells", "figures", "html",
              "leak_check", "render", "total"}
    assert phases <= set(t) and all(v >= 0 for v in t.values())
    # the phases of the notebook's run add up to it, and the figures are part of the cells
    assert t["kernel"] + t["imports"] + t["cells"] == pytest.approx(t["execute"], abs=0.01)
    assert 0 < t["figures"] <= t["cells"]
    assert "Set up" in m["cell_seconds"] and "Findings" in m["cell_seconds"]
    assert len(m["run_key"]) == 64 and m["run_key_inputs"]["data_sha256"] == \
        m["inputs"]["data"]["sha256"]
    assert m["privacy"]["identifiers_checked"] == 160


def test_index_lists_every_evaluation_with_a_link(sample_run):
    reports, _, _ = sample_run
    index = (reports / "index.html").read_text()
    for slug in SLUGS:
        assert f"href='{slug}/report.html'" in index
    assert "Descriptive — cannot show a program effect" in index
    assert "<script src" not in index


def test_executed_notebook_keeps_code_for_evaluators(sample_run):
    reports, _, _ = sample_run
    nb = nbformat.read(reports / "mentoring-site-a" / "report.ipynb", as_version=4)
    assert any("paired_change" in c.source for c in nb.cells if c.cell_type == "code")
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)


def _bad_data(folder: Path) -> Path:
    df = pd.read_csv(SAMPLE / "mentoring_site_a.csv", dtype=str)
    df.loc[3, "ts_6mo"] = "unknown"
    df.loc[7, "case_id"] = df.loc[8, "case_id"]
    p = folder / "bad.csv"
    df.to_csv(p, index=False)
    return p


def test_one_bad_evaluation_does_not_stop_the_others(tmp_path):
    reports = tmp_path / "reports"
    good = write_config(tmp_path, "good")
    bad_data = write_config(tmp_path, "bad-data", data=str(_bad_data(tmp_path)))
    bad_config = write_config(tmp_path, "bad-config", privacy_threshold=3)
    lines: list[str] = []
    outcomes = {o.slug: o for o in run_all([good, bad_data, bad_config], reports, jobs=2,
                                            echo=lines.append)}
    assert outcomes["good"].ok and (reports / "good" / "report.html").is_file()
    d = outcomes["bad-data"]
    assert d.stage == "data" and "bad.csv" in d.message
    assert "column 'ts_6mo': values are not numbers in 1 line (line 5)" in d.message
    assert "column 'case_id'" in d.message and "lines 9, 10" in d.message
    c = outcomes["bad-config"]
    assert c.stage == "config" and "privacy_threshold" in c.message
    assert not (reports / "bad-data").exists() and not (reports / "bad-config").exists()
    text = "\n".join(lines)
    assert "Traceback" not in text and "FAILED bad-data" in text
    runs = json.loads((reports / "runs.json").read_text())
    assert runs["bad-data"]["status"] == "failed" and runs["good"]["status"] == "ok"
    index = (reports / "index.html").read_text()
    assert "failed — no report yet" in index


def test_a_failed_rerun_keeps_the_last_good_report(tmp_path):
    reports = tmp_path / "reports"
    data = tmp_path / "site.csv"
    shutil.copy(SAMPLE / "mentoring_site_a.csv", data)
    cfg = write_config(tmp_path, "site", data=str(data))
    assert run_evaluation(cfg, reports).ok
    before = {p.name: p.read_bytes() for p in (reports / "site").iterdir()}
    shutil.copy(_bad_data(tmp_path), data)
    lines: list[str] = []
    (o,) = run_all([cfg], reports, jobs=1, echo=lines.append)
    assert not o.ok and o.stage == "data"
    after = {p.name: p.read_bytes() for p in (reports / "site").iterdir()}
    assert after == before
    assert "latest run failed — showing the report of" in (reports / "index.html").read_text()


def test_a_cell_error_names_the_cell_and_the_error_in_one_paragraph(tmp_path, monkeypatch):
    custom_template(tmp_path, "# Check the scores\nraise ValueError('scores look odd')",
                     monkeypatch)
    o = run_evaluation(write_config(tmp_path, "cellerr"), tmp_path / "reports")
    assert o.stage == "execute"
    assert o.message.startswith("cell 5 ('Check the scores') raised ValueError: scores look odd")
    assert "Traceback" not in o.message and "\x1b[" not in o.message
    assert (tmp_path / "reports" / "_failed" / "cellerr.ipynb").is_file()


def test_a_cell_that_runs_too_long_is_stopped(tmp_path, monkeypatch):
    custom_template(tmp_path, "# Wait\nimport time\ntime.sleep(30)", monkeypatch)
    o = run_evaluation(write_config(tmp_path, "slow", timeout=2), tmp_path / "reports")
    assert not o.ok and o.stage == "execute" and o.seconds < 25
    # the cell is named ('Wait', or under heavy load an earlier cell that imports for 2 s)
    assert re.match(r"cell \d+ \('[A-Z][^']+'\) ran longer than the timeout of 2 seconds",
                    o.message), o.message


def test_a_report_showing_identifiers_is_refused(tmp_path, monkeypatch):
    custom_template(tmp_path, "# Peek at the data\ndata[id_column].head(3).tolist()",
                     monkeypatch)
    o = run_evaluation(write_config(tmp_path, "leaky"), tmp_path / "reports")
    assert o.stage == "privacy"
    assert "3 identifier value(s) of column 'case_id'" in o.message
    assert "MLM-" not in o.message
    assert not (tmp_path / "reports" / "leaky").exists()


def test_a_spare_kernel_is_used_once_with_a_clean_namespace(tmp_path, monkeypatch):
    from evalkit.run import engine

    # spares are how kernels start fast where they are not forked
    monkeypatch.setenv(engine.FORK_ENV, "0")

    custom_template(
        tmp_path,
        "# Check the kernel\nimport os, sys\n"
        "assert not [n for n in dir() if n.startswith('_ek')], dir()\n"
        "assert os.path.basename(os.getcwd()).startswith('.tmp-spare-'), os.getcwd()\n"
        "assert 'evalkit.report' in sys.modules",
        monkeypatch,
    )
    engine.prestart("python3")
    assert "python3" in engine._SPARES
    o = run_evaluation(write_config(tmp_path, "spare"), tmp_path / "reports")
    assert o.ok, o.message
    assert engine._SPARES == {}
    nb = nbformat.read(tmp_path / "reports" / "spare" / "report.ipynb", as_version=4)
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
    assert counts == list(range(1, len(counts) + 1))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="kernels are forked on Linux")
def test_prestart_starts_the_kernel_forker_and_the_run_uses_it(tmp_path, monkeypatch):
    from evalkit.run import engine

    custom_template(tmp_path, "# Check the kernel\nimport os\nparent = os.getppid()\nparent",
                    monkeypatch)
    engine.stop_forkers()
    engine.prestart("python3")
    assert engine._SPARES == {}
    forker = engine._FORKERS[sys.executable].proc
    o = run_evaluation(write_config(tmp_path, "forked"), tmp_path / "reports")
    assert o.ok, o.message
    nb = nbformat.read(tmp_path / "reports" / "forked" / "report.ipynb", as_version=4)
    shown = [c.outputs[0]["data"]["text/plain"] for c in nb.cells
             if c.cell_type == "code" and c.source.endswith("parent")]
    assert shown == [str(forker.pid)]

"""A design the data cannot support: the estimator refuses, the report says why and what fits."""

from __future__ import annotations

import json
import pickle

import pandas as pd
import pytest
import yaml
from conftest import EVALUATIONS, SAMPLE

import evalkit
from evalkit.exceptions import DesignRefused, EvalDataError
from evalkit.report import resultsdoc
from evalkit.run import run_all


def _few_adopters(folder, n_adopting: int):
    panel = pd.read_csv(SAMPLE / "safe_harbor_panel.csv")
    first = panel.groupby("state")["first_law_year"].first()
    keep = list(first[first == 0].index) + list(first[first > 0].index[:n_adopting])
    path = folder / "few_adopters.csv"
    panel[panel["state"].isin(keep)].to_csv(path, index=False)
    return path


def test_staggered_refuses_too_few_adopting_units_and_says_what_fits(tmp_path):
    df = pd.read_csv(_few_adopters(tmp_path, 4))
    with pytest.raises(DesignRefused) as info:
        evalkit.did.staggered(df, "arrests_per_100k", "state", "year", "first_law_year")
    err = info.value
    assert isinstance(err, EvalDataError)  # callers catching data errors still catch it
    assert "only 4 treated unit(s)" in str(err) and "first_law_year" in str(err)
    assert err.reason.startswith("Only 4 units adopted") and "synthetic control" in err.alternative
    back = pickle.loads(pickle.dumps(err))  # crosses worker processes intact
    assert (back.reason, back.alternative, str(back)) == (err.reason, err.alternative, str(err))
    # the reason a report prints names no unit
    states = set(df["state"])
    assert not any(s in err.reason.split() for s in states)


def test_a_refused_policy_evaluation_renders_a_report_without_an_estimate(tmp_path):
    cfg = yaml.safe_load((EVALUATIONS / "safe-harbor-arrests.yaml").read_text())
    cfg["data"] = str(_few_adopters(tmp_path, 4))
    path = tmp_path / "few-adopters.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    reports = tmp_path / "reports"
    (outcome,) = run_all([path], reports, jobs=1, echo=lambda _: None)
    assert outcome.ok, outcome.message
    doc = resultsdoc.read(reports / "few-adopters" / "results.json")
    assert resultsdoc.problems(doc) == []
    assert doc["headline"]["estimate"] is None and doc["headline"]["not_estimated"] is True
    assert doc["evidence"]["rating"] == "not_estimated"
    assert "synthetic control" in doc["finding"] and doc["estimates"] == []
    assert doc["sample"] == {"states": 20, "adopting_states": 4}
    html = (reports / "few-adopters" / "report.html").read_text()
    assert "No estimate is given. Only 4 states adopted" in html
    assert "Not estimated — the data cannot support" in html
    assert "<img" not in html.split("Technical appendix")[0].split("The data")[0]
    index = (reports / "index.html").read_text()
    assert "not estimated" in index
    json.dumps(doc, allow_nan=False)


def test_a_program_at_too_few_sites_renders_a_report_without_an_estimate(tmp_path):
    d = pd.read_csv(SAMPLE / "lifeskills_waitlist.csv")
    # the program at two sites, the waiting list at the others: assignment by site
    sites = sorted(d["site"].unique())
    d["in_program"] = d["site"].isin(sites[:2]).astype(int)
    d["group"] = d["in_program"].map({1: "program", 0: "waitlist"})
    data = tmp_path / "by_site.csv"
    d.to_csv(data, index=False)
    cfg = yaml.safe_load((EVALUATIONS / "lifeskills-waitlist.yaml").read_text())
    cfg["data"] = str(data)
    cfg["parameters"]["cluster"] = "site"
    path = tmp_path / "by-site.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    (outcome,) = run_all([path], tmp_path / "reports", jobs=1, echo=lambda _: None)
    assert outcome.ok, outcome.message
    doc = resultsdoc.read(tmp_path / "reports" / "by-site" / "results.json")
    assert doc["evidence"]["rating"] == "not_estimated" and doc["estimates"] == []
    assert doc["design"]["code"] == "comparison_group_prepost"
    html = (tmp_path / "reports" / "by-site" / "report.html").read_text()
    assert "only 2 sites held program youth" in html and "within the same sites" in html

"""The did template's sensitivity check, weights and count outcomes (issue: R did's full scope).

The Checks section shows Rambachan & Roth's sensitivity (R HonestDiD) and the rating reads it;
``weights:`` reaches the staggered estimator and two-way fixed effects; ``family: poisson``
adds fixest's ``fepois`` rate ratio. Each is checked against the estimators called directly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import EVALUATIONS, REFERENCE, SAMPLE

from evalkit import did
from evalkit.report import resultsdoc
from evalkit.report.evidence import rate
from evalkit.run import run_all


def _checks(holds_up_to, significant=True):
    return {"pretest_p": 0.6, "unit_label": "state", "policy_label": "the law",
            "sensitivity": {"average": {"significant": significant,
                                        "holds_up_to": holds_up_to}}}


def test_the_rating_reads_the_breakdown_value():
    assert rate("staggered_did", _checks(1.5))["rating"] == "meets_with_reservations"
    assert "survives trends diverging after adoption by up to 1.50 times" in " ".join(
        rate("staggered_did", _checks(1.5))["reasons"])
    low = rate("staggered_did", _checks(0.5))
    assert low["rating"] == "limited"
    assert low["reasons"][0].startswith("The finding does not survive trends diverging")
    assert rate("staggered_did", _checks(None))["rating"] == "limited"
    # no finding to overturn: the sensitivity does not lower the rating
    assert rate("staggered_did", _checks(None, significant=False))["rating"] == (
        "meets_with_reservations")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("didopts")
    arrests = yaml.safe_load((EVALUATIONS / "safe-harbor-arrests.yaml").read_text())
    arrests["data"] = str(SAMPLE / "safe_harbor_panel.csv")
    panel = pd.read_csv(SAMPLE / "safe_harbor_panel.csv")
    # a population weight per state, the same every year
    codes = {s: 1.0 + (i % 5) / 2 for i, s in enumerate(sorted(panel["state"].unique()))}
    panel["youth_pop"] = panel["state"].map(codes)
    panel.to_csv(tmp / "weighted.csv", index=False)
    weighted = {**arrests, "data": str(tmp / "weighted.csv"),
                "parameters": {**arrests["parameters"], "weights": "youth_pop"}}
    counts = {
        "title": "Counts", "program": "A law (synthetic)", "description": "Counts by unit.",
        "template": "did", "data": str(REFERENCE / "poisson_panel.csv"), "id_column": "unit",
        "parameters": {"outcome": "arrests", "outcome_label": "arrests", "units": "arrests",
                       "time": "period", "first_treated": "first_treated",
                       "treatment": "treated", "policy_label": "the law", "unit_label": "unit",
                       "lower_is_better": True, "event_window": [-3, 3], "family": "poisson",
                       "offset": "log_pop"}}
    paths = []
    for slug, raw in (("arrests", arrests), ("weighted", weighted), ("counts", counts)):
        p = tmp / f"{slug}.yaml"
        p.write_text(yaml.safe_dump(raw))
        paths.append(p)
    reports = tmp / "reports"
    outcomes = {o.slug: o for o in run_all(paths, reports, jobs=2, echo=lambda _: None)}
    return reports, outcomes, panel


def _doc(reports, slug):
    return resultsdoc.read(reports / slug / "results.json")


def test_the_checks_show_the_sensitivity_of_the_finding(runs):
    reports, outcomes, _ = runs
    assert outcomes["arrests"].ok, outcomes["arrests"].message
    doc = _doc(reports, "arrests")
    sens = doc["checks"]["sensitivity"]
    sh = pd.read_csv(SAMPLE / "safe_harbor_panel.csv")
    u = did.staggered(sh, "arrests_per_100k", "state", "year", "first_law_year",
                      base_period="universal")
    first, avg = did.sensitivity_pair(u.aggregate("dynamic", min_e=-5, max_e=5, na_rm=True),
                                      m=[0.25 * k for k in range(9)])
    assert sens["average"]["breakdown"] == avg.breakdown
    assert sens["first_period"]["breakdown"] == first.breakdown
    table = pd.DataFrame(sens["average"]["table"])
    assert np.allclose(table[["lb", "ub"]], avg.table[["lb", "ub"]], rtol=1e-12)
    html = (reports / "arrests" / "report.html").read_text()
    assert "Following Rambachan and Roth (2023)" in html
    assert "The finding for the average effect after adoption holds unless trends diverged" in (
        html)
    rated = doc["evidence"]
    up = sens["average"]["holds_up_to"]
    assert (rated["rating"] == "limited") == (up is None or up < 1.0)


def test_weights_reach_the_staggered_and_fixed_effects_estimates(runs):
    reports, outcomes, panel = runs
    assert outcomes["weighted"].ok, outcomes["weighted"].message
    doc = _doc(reports, "weighted")
    cs = did.staggered(panel, "arrests_per_100k", "state", "year", "first_law_year",
                       weights="youth_pop")
    simple = cs.aggregate("simple", na_rm=True)
    assert doc["headline"]["estimate"] == pytest.approx(simple.estimate, rel=1e-12)
    unweighted = _doc(reports, "arrests")["headline"]["estimate"]
    assert doc["headline"]["estimate"] != pytest.approx(unweighted, rel=1e-6)
    tw = did.twfe(panel, "arrests_per_100k", "state", "year", "safe_harbor", weights="youth_pop")
    assert doc["checks"]["twfe"] == pytest.approx(float(tw.coef[0]), rel=1e-12)


def test_a_count_outcome_adds_the_poisson_rate_ratio(runs):
    reports, outcomes, _ = runs
    assert outcomes["counts"].ok, outcomes["counts"].message
    doc = _doc(reports, "counts")
    data = pd.read_csv(REFERENCE / "poisson_panel.csv")
    ref = did.poisson_twfe(data, "arrests", "unit", "period", "treated", offset="log_pop")
    got = doc["checks"]["poisson"]
    assert got["rate_ratio"] == pytest.approx(ref.rate_ratio, rel=1e-12)
    assert (got["n_units_dropped"], got["n_periods_dropped"]) == (ref.n_units_dropped,
                                                                 ref.n_periods_dropped)
    html = (reports / "counts" / "report.html").read_text()
    assert "Poisson two-way fixed effects" in html and "as R fixest::fepois" in html


def test_an_offset_without_the_poisson_family_is_named(tmp_path):
    from evalkit.exceptions import ConfigError
    from evalkit.run.config import load_config

    raw = yaml.safe_load((EVALUATIONS / "safe-harbor-arrests.yaml").read_text())
    raw["data"] = str(SAMPLE / "safe_harbor_panel.csv")
    raw["parameters"]["offset"] = "reports_per_100k"
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == ["'parameters.offset' is used only with 'family: poisson' "
                                   "(the log population of a count outcome)"]


def _survey(folder):
    """Respondents (different people each year) in 30 states; 15 states adopt in 3 cohorts."""
    rng = np.random.default_rng(5)
    rows, k = [], 0
    for i in range(30):
        g = (2014, 2016, 2018)[i % 3] if i < 15 else 0
        for y in range(2010, 2021):
            for _ in range(25):
                k += 1
                rows.append((f"R{k:06d}", f"State {i:02d}", y, g, int(g > 0 and y >= g),
                             rng.normal(10 + i / 10 + 0.2 * (y - 2010))
                             - (1.0 if g and y >= g else 0.0)))
    d = pd.DataFrame(rows, columns=["respondent", "state", "year", "first_law_year", "law",
                                    "score"])
    path = folder / "survey.csv"
    d.to_csv(path, index=False)
    return d, path


def _survey_config(folder, path, **params):
    raw = {"title": "A survey", "program": "A law (synthetic)", "description": "Surveys.",
           "template": "did", "data": str(path), "id_column": "respondent",
           "parameters": {"outcome": "score", "outcome_label": "risk score", "units": "points",
                          "time": "year", "first_treated": "first_law_year",
                          "treatment": "law", "policy_label": "the law",
                          "lower_is_better": True, "event_window": [-3, 3], "panel": False,
                          "cluster": "state", **params}}
    p = folder / "survey.yaml"
    p.write_text(yaml.safe_dump(raw))
    return p


def test_repeated_cross_sections_run_the_survey_estimators_clustered_by_state(tmp_path):
    data, path = _survey(tmp_path)
    (outcome,) = run_all([_survey_config(tmp_path, path)], tmp_path / "r", jobs=1,
                         echo=lambda _: None)
    assert outcome.ok, outcome.message
    doc = _doc(tmp_path / "r", "survey")
    assert resultsdoc.problems(doc) == []
    ref = did.staggered(data, "score", None, "year", "first_law_year", panel=False,
                        cluster="state").aggregate("simple", na_rm=True)
    assert doc["headline"]["estimate"] == pytest.approx(ref.estimate, rel=1e-12)
    assert doc["headline"]["ci_low"] == pytest.approx(ref.ci_low, rel=1e-12)
    assert doc["headline"]["ci_low"] <= -1.0 <= doc["headline"]["ci_high"]
    assert doc["checks"]["twfe"] is None and doc["checks"]["bacon"] is None
    assert doc["sample"] == {"states": 30, "adopting_states": 15}
    html = (tmp_path / "r" / "survey" / "report.html").read_text()
    assert "Repeated surveys in 30 states" in html and "different people each year" in html
    assert "Two-way fixed effects" not in html.split("Technical appendix")[0]
    assert "R000001" not in html  # respondents are people: their ids are searched


def test_repeated_cross_sections_need_a_cluster_and_no_poisson(tmp_path):
    from evalkit.exceptions import ConfigError
    from evalkit.run.config import load_config

    _, path = _survey(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_config(_survey_config(tmp_path, path, cluster=None, family="poisson"))
    text = "\n".join(info.value.problems)
    assert "'parameters.panel': false (repeated cross-sections) needs 'parameters.cluster'" in (
        text)
    assert "'parameters.family': poisson needs a panel of units" in text
    from evalkit.run.templates import get_template

    cfg = load_config(_survey_config(tmp_path, path))
    assert not get_template("did").ids_are_places(cfg.parameters)

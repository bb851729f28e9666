"""The survival ``adjust:`` block: weighted hazard ratio, weighted curves, balance and rating.

With ``adjust``, the time-to-event report leads with the Cox hazard ratio of the group alone
weighted by propensity (or matching) weights with robust standard errors (R
``coxph(weights = w, robust = TRUE)``), beside the unadjusted one; the Kaplan–Meier curves and
shares are weighted, numbers at risk stay counts of youth, and baseline equivalence is rated on
every covariate with the WWC bands (the weighted hazard ratio adjusts for none by regression).
"""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, SAMPLE

from evalkit import survival
from evalkit.methods.adjustment import Balanced
from evalkit.report.evidence import rate
from evalkit.report.survival import SurvivalReport, _youth_at_risk
from evalkit.report.weighting import balance_section
from evalkit.run import run_all
from evalkit.weighting import adjust_survival, match, propensity

CONFIG = ROOT / "tests" / "configs" / "placement-adjusted.yaml"
DATA = SAMPLE / "placement_runaway.csv"
COVS = ["prior_runaways", "prior_placements", "age"]
ARGS = ("days", "ran_away")


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return pd.read_csv(DATA)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("survival-adjust")
    outcomes = run_all([CONFIG], out, jobs=1, echo=lambda _: None)
    assert [o.status for o in outcomes] == ["ok"], [o.message for o in outcomes]
    return out / "placement-adjusted"


def _text(page: str) -> str:
    page = re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=\s]+", " ", page)
    page = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", page)))


def test_rendered_headline_is_the_weighted_robust_cox_hazard_ratio(rendered, data):
    w = propensity(data, "specialized", COVS).weights
    ref = survival.cox(data.assign(w=w), *ARGS, ["specialized"], weights="w",
                       robust=True).to_frame().iloc[0]
    doc = json.loads((rendered / "results.json").read_text())
    head = doc["headline"]
    assert head["estimate"] == pytest.approx(ref["hazard_ratio"], rel=1e-10)
    assert head["ci_low"] == pytest.approx(ref["hr_ci_low"], rel=1e-10)
    assert head["ci_high"] == pytest.approx(ref["hr_ci_high"], rel=1e-10)
    # robust (sandwich) standard error, not the model one
    assert ref["robust_se"] != pytest.approx(ref["model_se"], rel=1e-4)
    assert "adjusted by weighting (ATT)" in head["estimand"]
    bal = doc["checks"]["covariate_balance"]
    assert [r["covariate"] for r in bal["covariates"]] == COVS
    assert bal["ess"]["treated"] == pytest.approx(250.0)
    assert doc["evidence"]["rating"] == "meets_with_reservations"
    text = _text((rendered / "report.html").read_text())
    hr = f"{ref['hazard_ratio']:.2f} times that of usual care (weighted hazard ratio"
    assert hr in text
    assert "the numbers at risk are youth, unweighted" in text
    assert "Share of youth who ran away from placement (weighted, 95% CI)" in text
    assert "Balance of the groups before and after weighting" in text


def test_rendered_report_discloses_no_small_counts(rendered):
    from test_disclosure import scan_outputs

    assert scan_outputs(rendered) == []


def test_shares_in_text_and_table_are_one_minus_the_weighted_curve(rendered, data):
    w = propensity(data, "specialized", COVS).weights
    km = survival.kaplan_meier(data, *ARGS, group="specialized", weights=w).at([90])
    share = {str(g): f"{100 * (1 - s):.0f}%" for g, s in zip(km["group"], km["surv"],
                                                              strict=True)}
    text = _text((rendered / "report.html").read_text())
    assert (f"Within 90 days, {share['1']} of youth in specialized placement ran away from "
            f"placement, compared with {share['0']} in usual care, once youth in usual care "
            "are weighted") in text
    row = re.search(r"By 90 days (\d+%) \(\S+\) (\d+%)", text)
    assert row is not None and row.groups() == (share["1"], share["0"])


def _report(data: pd.DataFrame, adjusted) -> SurvivalReport:
    km = survival.kaplan_meier(data, *ARGS, group="specialized")
    fit = survival.cox(data, *ARGS, ["specialized", *COVS])
    return SurvivalReport(
        data, km, survival.logrank(data, *ARGS, "specialized"), fit, survival.ph_test(fit),
        survival.rmst(data, *ARGS, "specialized", tau=180, order=(0, 1)), duration="days",
        event="ran_away", group="specialized", comparison_label="usual care",
        event_label="ran away", adjusted=adjusted)


def test_matching_weights_are_case_weights_of_the_hazard_ratio(data):
    adj = adjust_survival(data, *ARGS, "specialized", {"covariates": COVS,
                                                      "method": "matching"})
    m = match(data, "specialized", COVS)
    ref = survival.cox(data.assign(w=m.weights), *ARGS, ["specialized"], weights="w",
                       robust=True).to_frame().iloc[0]
    assert adj.cox.to_frame().iloc[0]["hazard_ratio"] == pytest.approx(ref["hazard_ratio"])
    assert adj.estimand == "ATT" and adj.method == "matching"
    rep = _report(data, adj)
    assert rep.results_document()["headline"]["estimate"] == pytest.approx(ref["hazard_ratio"])
    assert "among youth in usual care matched to youth in program" in rep.headline()
    assert "(hazard ratio of the matched youth, 95% CI" in rep.headline()


def test_curves_stop_by_youth_at_risk_not_weighted_sums(data):
    w = propensity(data, "specialized", COVS, estimand="ATE").weights
    weighted = survival.kaplan_meier(data, *ARGS, group="specialized", weights=w).table
    plain = survival.kaplan_meier(data, *ARGS, group="specialized").table
    shown = _youth_at_risk(weighted, plain)
    assert len(shown) == len(weighted)
    assert not np.allclose(weighted["n_risk"], plain["n_risk"])  # ATE weights both groups
    np.testing.assert_array_equal(shown["n_risk"].to_numpy(), plain["n_risk"].to_numpy())
    np.testing.assert_array_equal(shown["surv"].to_numpy(), weighted["surv"].to_numpy())


def test_without_adjust_the_report_is_the_regression_adjusted_one(data):
    rep = _report(data, None)
    assert rep.headline_result() is rep.cox
    assert "covariate_balance" not in rep.results_document()["checks"]
    assert rep.evidence()["rating"] == "comparison_unverified"


@pytest.mark.parametrize(("smd", "rating"), [
    (0.03, "meets_with_reservations"),
    (0.10, "flagged"),   # satisfied only with regression adjustment, which the HR lacks
    (0.30, "flagged"),
])
def test_survival_balance_bands(smd, rating):
    checks = {"ph_holds": True, "balance": {"age": smd, "prior runaways": 0.01}}
    got = rate("time_to_event_comparison", checks, ())
    assert got["rating"] == rating
    if smd > 0.05:
        assert any("age (SMD " in r for r in got["reasons"])
    # the pre-post effect adjusts by regression, so 0.10 is satisfied there
    prepost = rate("comparison_group_prepost", {"balance": {"age": smd}}, ())
    assert (prepost["rating"] == "flagged") == (smd > 0.25)


def test_balance_table_band_follows_the_regression(data):
    fit = propensity(data, "specialized", COVS)
    fake = fit.balance.assign(smd_adjusted=[0.01, 0.1, 0.3])
    bal = Balanced(method="weighting", estimand="ATT", missing="complete-case",
                   covariates=tuple(COVS), fit=type("F", (), {"balance": fake})(),
                   ess=fit.ess, ps=fit.ps, treated=data["specialized"], n_incomplete=0)
    kw = {"threshold": 11, "labels": {}, "program_label": "Program",
          "comparison_label": "usual care"}
    with_reg = _text(balance_section(bal, **kw))
    without = _text(balance_section(bal, regression=False, **kw))
    assert "satisfied with adjustment" in with_reg
    assert "not satisfied (no regression adjustment)" in without
    assert "satisfied with adjustment" not in without

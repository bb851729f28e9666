"""One state adopts a law: the did template switches to synthetic difference-in-differences.

The sample panel (data/sample/navigator_law_panel.csv) has a documented true effect of −4.0 per
1,000 in the one adopting state and non-parallel trends, so the plain difference-in-differences
misses it; synthetic DiD must cover it. The switch, the report's sections, the evidence rule and
results.json are checked end to end through the runner.
"""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from conftest import EVALUATIONS, SAMPLE

from evalkit import policy
from evalkit.methods.did.staggered import MIN_TREATED_UNITS
from evalkit.report import resultsdoc
from evalkit.report.evidence import rate
from evalkit.run import run_all

PANEL = SAMPLE / "navigator_law_panel.csv"
ARGS = ("runaways_per_1k", "state", "year", "navigator_law")


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return pd.read_csv(PANEL)


@pytest.fixture(scope="module")
def fit(panel):
    return policy.single_unit_did(panel, *ARGS, reps=200, seed=1)


def test_synthetic_did_covers_the_truth_where_plain_did_misses_it(fit, truth):
    true = truth["navigator"]["true_att"]
    s, d = fit.sdid, fit.did
    assert s.ci_low <= true <= s.ci_high
    assert abs(s.estimate - true) < 1.0 < abs(d.estimate - true)
    assert s.n_treated == 1 and s.n_control == truth["navigator"]["n_states"] - 1
    assert (s.n_pre, s.n_post) == (truth["navigator"]["n_pre_years"],
                                   truth["navigator"]["n_post_years"])


def test_the_three_estimators_share_the_placebo_draws_and_the_seed(panel, fit):
    again = policy.single_unit_did(panel, *ARGS, reps=200, seed=1)
    assert again.sdid.se == fit.sdid.se and again.sc.se == fit.sc.se
    assert [r.seed for r in (fit.sdid, fit.sc, fit.did)] == [1, 1, 1]
    frame = fit.to_frame()
    assert list(frame["term"]) == ["synthetic difference-in-differences", "synthetic control",
                                   "difference-in-differences (unweighted)"]
    # the unweighted DiD is the 2x2 difference of means (closed form)
    post = panel["year"] >= 2015
    adopter = panel["state"] == "MN"
    m = panel.groupby([adopter, post])["runaways_per_1k"].mean()
    assert fit.did.estimate == pytest.approx(
        (m[True, True] - m[True, False]) - (m[False, True] - m[False, False]), rel=1e-10)


def test_pre_fit_ratio_is_zero_for_a_parallel_path_and_grows_with_misfit(fit):
    tr = fit.sdid.trajectories.copy()
    pre = ~tr["post"].astype(bool)
    shifted = tr.assign(synthetic=tr["treated"] - 1.5)  # parallel: a constant gap
    assert policy.pre_fit_ratio(_with(fit.sdid, shifted))[1] == pytest.approx(0, abs=1e-12)
    wobble = tr["treated"].where(~pre, tr["treated"] + [(-1) ** i for i in range(len(tr))])
    bent = tr.assign(synthetic=wobble)
    ratio, rmse = policy.pre_fit_ratio(_with(fit.sdid, bent))
    n_pre = int(pre.sum())
    dev = pd.Series([(-1) ** i for i in range(n_pre)], dtype=float)
    assert rmse == pytest.approx(float(((dev - dev.mean()) ** 2).mean() ** 0.5), rel=1e-12)
    assert ratio == pytest.approx(rmse / tr.loc[pre, "treated"].diff().std(), rel=1e-12)


def _with(result, trajectories):
    import dataclasses

    return dataclasses.replace(result, trajectories=trajectories)


def test_the_evidence_rule_flags_a_comparison_that_did_not_track_the_adopter():
    good = rate("single_unit_did", {"pre_fit_ratio": 0.5, "unit_label": "state",
                                    "policy_label": "the law", "n_adopting": 1})
    bad = rate("single_unit_did", {"pre_fit_ratio": 1.8, "unit_label": "state",
                                   "policy_label": "the law", "n_adopting": 1})
    assert good["rating"] == "meets_with_reservations"
    assert bad["rating"] == "flagged"
    assert bad["reasons"][0].startswith("Before adoption, the weighted comparison did not "
                                        "track the adopting state closely (its misfit was 1.80")


def test_the_navigator_evaluation_switches_design_and_says_why(tmp_path, truth):
    cfg = EVALUATIONS / "navigator-law.yaml"
    reports = tmp_path / "reports"
    (outcome,) = run_all([cfg], reports, jobs=1, echo=lambda _: None)
    assert outcome.ok, outcome.message
    doc = resultsdoc.read(reports / "navigator-law" / "results.json")
    assert resultsdoc.problems(doc) == []
    assert doc["design"]["code"] == "single_unit_did"
    h = doc["headline"]
    assert h["ci_low"] <= truth["navigator"]["true_att"] <= h["ci_high"]
    switch = doc["checks"]["design_switch"]
    assert switch["min_adopting"] == MIN_TREATED_UNITS and switch["n_adopting"] == 1
    assert doc["evidence"]["rating"] == "meets_with_reservations"
    assert doc["checks"]["pre_fit"]["holds"] is True
    assert sum(doc["checks"]["unit_weights"].values()) == pytest.approx(1.0, abs=1e-9)
    html = (reports / "navigator-law" / "report.html").read_text()
    assert "Why this design: Only 1 state adopted the navigator law" in html
    assert "non-adopting states carry a weight of 0.005 or more" in html
    assert "Placebo effects: non-adopting states treated as if they had adopted" in html
    assert "One adoption cannot rule out" in html
    raw = yaml.safe_load(cfg.read_text())
    assert raw["template"] == "did"  # the same template, the design chosen by the data


def test_a_dated_panel_gives_json_ready_results(panel):
    import json

    dated = panel.assign(year=pd.to_datetime(panel["year"].astype(str) + "-07-01"))
    res = policy.synthetic_did(dated, *ARGS, reps=10, seed=1)
    doc = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert doc["start"] == "2015-07-01T00:00:00"
    assert res.estimate == pytest.approx(policy.synthetic_did(panel, *ARGS, reps=10,
                                                              seed=1).estimate, rel=1e-12)


def test_validate_says_the_design_will_switch():
    from evalkit.run.checks import preflight
    from evalkit.run.config import load_config

    cfg = load_config(EVALUATIONS / "navigator-law.yaml")
    found = preflight(cfg, cfg.load_data())
    assert [f.level for f in found] == ["warning"]
    assert "only 1 state adopts within the data" in found[0].message
    assert "switches to synthetic difference-in-differences" in found[0].message

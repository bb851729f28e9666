"""``adjust: {missing: impute}``: covariates imputed, the adjusted effect pooled by Rubin's rules.

The pooled effect must follow Rubin's rules with the Barnard–Rubin degrees of freedom (R
``mice::pool``; :func:`evalkit.missing.pool` is tested against it in ``test_missing.py``) over
the per-imputation doubly robust effects, be reproducible from its seed, reduce to the
complete-case analysis when nothing is missing, and stay unbiased where the complete-case
analysis is not (covariates missing more often for youth with high follow-up scores).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLE

from evalkit.exceptions import EvalDataError
from evalkit.missing import pool
from evalkit.weighting import adjust_comparison

COVS = ["age", "prior_runaways", "prior_placements", "justice_involved", "ts_intake"]
POST, GROUP = "ts_6mo", "in_program"
IMPUTE = {"covariates": COVS, "missing": "impute", "imputations": 10, "seed": 7}


@pytest.fixture(scope="module")
def advocacy() -> pd.DataFrame:
    return pd.read_csv(SAMPLE / "advocacy_referrals.csv")


@pytest.fixture(scope="module")
def holed(advocacy) -> pd.DataFrame:
    """Prior runaways and age missing more often for youth with high six-month scores."""
    rng = np.random.default_rng(11)
    df = advocacy.copy()
    z = (df[POST] - df[POST].mean()) / df[POST].std()
    p = 1 / (1 + np.exp(-(-1.6 + 1.4 * z.fillna(0))))
    for c in ("prior_runaways", "age"):
        df.loc[(rng.random(len(df)) < p) & df[POST].notna(), c] = np.nan
    return df


@pytest.fixture(scope="module")
def imputed(holed):
    return adjust_comparison(holed, POST, GROUP, IMPUTE, lower_is_better=True)


def test_pooled_effect_follows_rubins_rules(imputed):
    imp = imputed.imputation
    q, se = np.array(imp.estimates), np.array(imp.ses)
    m = len(q)
    assert m == 10
    assert imputed.effect.estimate == pytest.approx(q.mean(), rel=1e-12)
    total = (se ** 2).mean() + (1 + 1 / m) * q.var(ddof=1)
    assert imputed.effect.se == pytest.approx(np.sqrt(total), rel=1e-12)
    # complete-data df: the doubly robust regression's n − k (intercept, group, 5 covariates)
    ref = pool(q, se, df_complete=imputed.effect.n - 7)
    assert imputed.effect.df == pytest.approx(ref.df, rel=1e-12)
    assert (imputed.effect.ci_low, imputed.effect.ci_high) == pytest.approx(
        (ref.ci_low, ref.ci_high), rel=1e-12)
    assert imputed.effect.imputations == 10
    assert "pooled over 10 imputations" in imputed.effect.to_frame()["term"].iloc[0]


def test_every_youth_with_a_follow_up_is_analysed(holed, imputed):
    measured = holed[POST].notna()
    assert imputed.effect.n == int(measured.sum())
    assert imputed.n_incomplete == 0
    gaps = holed.loc[measured, ["prior_runaways", "age"]].isna()
    assert imputed.imputation.missing == {c: int(gaps[c].sum()) for c in ("age", "prior_runaways")}
    assert imputed.imputation.n_imputed == int(gaps.any(axis=1).sum())
    # the balance, ESS and scores are averages over the imputed data sets, for every youth
    assert imputed.ps.notna().sum() == int(measured.sum())
    assert list(imputed.balance["covariate"]) == COVS


def test_the_seed_reproduces_the_imputations(holed, imputed):
    again = adjust_comparison(holed, POST, GROUP, IMPUTE, lower_is_better=True)
    assert again.imputation.estimates == imputed.imputation.estimates
    other = adjust_comparison(holed, POST, GROUP, {**IMPUTE, "seed": 8}, lower_is_better=True)
    assert other.imputation.estimates != imputed.imputation.estimates


def test_complete_cases_are_shown_beside_and_equal_the_complete_case_run(holed, imputed):
    cc = adjust_comparison(holed, POST, GROUP, {"covariates": COVS}, lower_is_better=True)
    beside = imputed.imputation.complete_case
    assert beside.estimate == pytest.approx(cc.effect.estimate, rel=1e-12)
    assert beside.se == pytest.approx(cc.effect.se, rel=1e-12)
    assert cc.n_incomplete == imputed.imputation.n_imputed


def test_nothing_missing_means_nothing_imputed(advocacy):
    plain = adjust_comparison(advocacy, POST, GROUP, {"covariates": COVS})
    asked = adjust_comparison(advocacy, POST, GROUP, IMPUTE)
    assert asked.imputation is None
    assert asked.effect.estimate == pytest.approx(plain.effect.estimate, rel=1e-12)


def test_imputation_covers_the_truth_where_complete_cases_drift(holed, imputed, truth):
    true_att = truth["advocacy"]["true_att_completers"]
    e, cc = imputed.effect, imputed.imputation.complete_case
    assert e.ci_low <= true_att <= e.ci_high
    # missingness rises with the outcome: the complete cases drift further from the truth
    assert abs(e.estimate - true_att) < abs(cc.estimate - true_att)


def test_a_covariate_missing_for_everyone_is_named(advocacy):
    df = advocacy.assign(age=np.nan)
    with pytest.raises(EvalDataError, match="age.*every value is missing"):
        adjust_comparison(df, POST, GROUP, IMPUTE)


# -- time to event ---------------------------------------------------------------------------
SURV_COVS = ["prior_runaways", "prior_placements", "age"]


@pytest.fixture(scope="module")
def placement_holed() -> pd.DataFrame:
    df = pd.read_csv(SAMPLE / "placement_runaway.csv")
    rng = np.random.default_rng(2)
    df.loc[rng.random(len(df)) < 0.2, "prior_placements"] = np.nan
    return df


@pytest.fixture(scope="module")
def survival_imputed(placement_holed):
    from evalkit.weighting import adjust_survival

    return adjust_survival(placement_holed, "days", "ran_away", "specialized",
                           {"covariates": SURV_COVS, "missing": "impute", "imputations": 10,
                            "seed": 1})


def test_nelson_aalen_at_each_time_is_the_cumulative_hazard():
    from evalkit.methods.adjustment_survival import nelson_aalen_at

    df = pd.DataFrame({"t": [2.0, 1.0, 2.0, 3.0, 2.0], "d": [1, 1, 0, 1, 1]})
    # at risk 5, 4, 1 at t = 1, 2, 3; events 1, 2, 1
    h1, h2, h3 = 1 / 5, 1 / 5 + 2 / 4, 1 / 5 + 2 / 4 + 1 / 1
    assert nelson_aalen_at(df, "t", "d") == pytest.approx([h2, h1, h2, h3, h2], rel=1e-15)


def test_pooled_hazard_ratio_follows_rubins_rules(survival_imputed):
    a = survival_imputed
    imp = a.imputation
    q, se = np.array(imp.estimates), np.array(imp.ses)
    m = len(q)
    row = a.cox.to_frame().iloc[0]
    assert row["estimate"] == pytest.approx(q.mean(), rel=1e-12)
    b, u = q.var(ddof=1), (se ** 2).mean()
    total = u + (1 + 1 / m) * b
    assert row["se"] == pytest.approx(np.sqrt(total), rel=1e-12)
    lam = (1 + 1 / m) * b / total  # large-sample df, as mice::pool for coxph
    assert row["df"] == pytest.approx((m - 1) / max(lam, 1e-4) ** 2, rel=1e-12)
    assert row["hazard_ratio"] == pytest.approx(np.exp(row["estimate"]), rel=1e-15)
    assert a.cox.n == 500 and a.n_incomplete == 0
    assert imp.missing == {"prior_placements": imp.n_imputed}


def test_survival_complete_cases_are_beside_and_equal_the_complete_case_run(
        placement_holed, survival_imputed):
    from evalkit.weighting import adjust_survival

    cc = adjust_survival(placement_holed, "days", "ran_away", "specialized",
                         {"covariates": SURV_COVS})
    got = survival_imputed.imputation.complete_case.to_frame().iloc[0]
    want = cc.cox.to_frame().iloc[0]
    assert got["estimate"] == pytest.approx(want["estimate"], rel=1e-12)
    assert got["se"] == pytest.approx(want["se"], rel=1e-12)
    # the curves weight every youth, by the weight averaged over the imputations
    assert survival_imputed.data[survival_imputed.weight].notna().all()
    assert len(survival_imputed.data) == len(placement_holed)


def test_a_survival_evaluation_with_imputed_characteristics_runs(tmp_path, placement_holed):
    import yaml
    from conftest import ROOT

    from evalkit.report import resultsdoc
    from evalkit.run import run_evaluation

    placement_holed.to_csv(tmp_path / "holed.csv", index=False)
    raw = yaml.safe_load((ROOT / "tests" / "configs" / "placement-adjusted.yaml").read_text())
    raw["data"] = str(tmp_path / "holed.csv")
    raw["parameters"]["adjust"].update(missing="impute", imputations=5, seed=2)
    # the unweighted Cox model beside it adjusts by regression, on recorded covariates only
    raw["parameters"]["covariates"] = ["prior_runaways", "age"]
    path = tmp_path / "holed.yaml"
    path.write_text(yaml.safe_dump(raw))
    outcome = run_evaluation(path, tmp_path / "out")
    assert outcome.ok, outcome.message
    doc = resultsdoc.read(tmp_path / "out" / "holed" / "results.json")
    assert resultsdoc.problems(doc) == []
    imp = doc["checks"]["covariate_balance"]["imputation"]
    assert imp["m"] == 5 and imp["imputed"] == ["prior_placements"]
    html = (tmp_path / "out" / "holed" / "report.html").read_text()
    assert "complete cases only" in html and "missing characteristics imputed" in html

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

"""The advocacy sample (selection on observables): the naive comparison misses the documented
true effect and the ATT-weighted comparison recovers it, in the file and over replications of
the same data-generating process (data/sample/generate.py)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLE

from evalkit import weighting

COVS = ["age", "prior_runaways", "prior_placements", "justice_involved", "ts_intake"]
OUTCOME, TREAT = "ts_6mo", "in_program"


@pytest.fixture(scope="module")
def advocacy() -> pd.DataFrame:
    return pd.read_csv(SAMPLE / "advocacy_referrals.csv")


@pytest.fixture(scope="module")
def generator():
    spec = importlib.util.spec_from_file_location("sample_generate", SAMPLE / "generate.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _naive(df: pd.DataFrame):
    return weighting.effect(df, OUTCOME, TREAT, weights=pd.Series(1.0, index=df.index))


def test_the_file_is_what_the_readme_describes(advocacy, truth):
    t = truth["advocacy"]
    assert len(advocacy) == t["n_enrolled"] == 520
    assert advocacy["case_id"].is_unique
    assert set(advocacy["site"]) == {"North", "Central", "South", "Coast"}
    # program youth are the higher-risk youth on every referral covariate
    means = advocacy.groupby(TREAT)[COVS].mean()
    assert (means.loc[1] > means.loc[0]).all()
    for grp, g in (("program", 1), ("comparison", 0)):
        lost = advocacy.loc[advocacy[TREAT] == g, OUTCOME].isna().mean()
        assert lost == pytest.approx(t[f"observed_attrition_{grp}"], abs=5e-4)
        assert 0.1 < lost < 0.4


def test_naive_difference_misses_the_truth_and_att_weighting_covers_it(advocacy, truth):
    true_att = truth["advocacy"]["true_att_completers"]
    naive = _naive(advocacy)
    assert not naive.ci_low <= true_att <= naive.ci_high
    assert naive.ci_low > true_att  # biased upwards: program youth were worse off at intake
    for method in ("logit", "entropy"):
        w = weighting.propensity(advocacy, TREAT, COVS, estimand="ATT", method=method)
        res = weighting.effect(advocacy, OUTCOME, TREAT, weights=w.weights)
        assert res.ci_low <= true_att <= res.ci_high, method
        assert abs(res.estimate - true_att) < abs(naive.estimate - true_att), method
        # the doubly robust regression covers it too
        dr = weighting.effect(advocacy, OUTCOME, TREAT, weights=w.weights, covariates=COVS)
        assert dr.ci_low <= true_att <= dr.ci_high, method


@pytest.mark.parametrize(("method", "bound"), [("entropy", 0.05), ("logit", 0.1)])
def test_balance_after_weighting(advocacy, method, bound):
    w = weighting.propensity(advocacy, TREAT, COVS, estimand="ATT", method=method)
    bal = w.balance
    assert list(bal["covariate"]) == COVS
    assert (bal["smd_adjusted"].abs() <= bound).all(), bal
    # the raw groups are far from balanced (the WWC's 0.25 is exceeded)
    assert (bal["smd_raw"].abs() > 0.25).sum() >= 3


def test_logit_recovers_the_referral_model(advocacy, truth):
    w = weighting.propensity(advocacy, TREAT, COVS, estimand="ATT")
    z = (w.coef - pd.Series(truth["advocacy"]["propensity_model"])) / w.coef_se
    assert (z.abs() < 3.5).all(), z


def test_weighting_removes_the_bias_over_replications(generator, truth):
    """50 seeded samples of the same design: the ATT-weighted difference is nearly unbiased
    and covers the truth about 95% of the time; the naive difference is biased by about the
    documented amount and almost never covers it."""
    t = truth["advocacy"]
    true_att = t["true_att_completers"]
    rng = np.random.default_rng(4_2026)
    naive, weighted, covered = [], [], []
    for _ in range(50):
        d = generator._advocacy_draw(rng, t["n_enrolled"])
        df = pd.DataFrame({
            TREAT: d["program"], "age": d["age"], "prior_runaways": d["prior_run"],
            "prior_placements": d["prior_pl"], "justice_involved": d["justice"],
            "ts_intake": d["pre"],
            OUTCOME: np.where(d["drop"], np.nan, np.where(d["program"] == 1, d["post1"],
                                                          d["post0"]))})
        naive.append(_naive(df).estimate)
        w = weighting.propensity(df, TREAT, COVS, estimand="ATT")
        res = weighting.effect(df, OUTCOME, TREAT, weights=w.weights)
        weighted.append(res.estimate)
        covered.append(res.ci_low <= true_att <= res.ci_high)
    bias_naive = np.mean(naive) - true_att
    bias_weighted = np.mean(weighted) - true_att
    expected_naive_bias = t["expected_naive_difference_completers"] - true_att
    assert bias_naive == pytest.approx(expected_naive_bias, abs=1.0)
    assert abs(bias_weighted) < 0.15 * abs(bias_naive)
    assert np.mean(covered) >= 0.85

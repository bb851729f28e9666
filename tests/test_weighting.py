"""evalkit.weighting against R: glm propensity scores and WeightIt's weight formulas, cobalt's
balance statistics, nearest-neighbour matching by MatchIt's rule, survey::svyglm and
sandwich::vcovCL standard errors (tests/reference/weighting_reference.R on MatchIt's Lalonde
data); entropy balancing against its defining conditions; bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit import weighting
from evalkit.exceptions import EvalDataError, EvalOptionError
from evalkit.results import FRAME_COLUMNS

REF = Path(__file__).parent / "reference"
COVS = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]


@pytest.fixture(scope="module")
def ref() -> dict:
    return json.loads((REF / "weighting_reference.json").read_text())


@pytest.fixture(scope="module")
def lalonde() -> pd.DataFrame:
    return pd.read_csv(REF / "lalonde.csv")


@pytest.fixture(scope="module")
def weights(lalonde) -> dict:
    return {e: weighting.propensity(lalonde, "treat", COVS, estimand=e)
            for e in ("ATT", "ATE", "ATO")}


def _r_term(term: str) -> str:
    return term.replace("race[", "race").rstrip("]") if term.startswith("race[") else term


# -- propensity ------------------------------------------------------------------------------


def test_logit_equals_glm(weights, ref):
    w = weights["ATT"]
    assert list(w.coef.index) == ["(Intercept)", "age", "educ", "race[hispan]", "race[white]",
                                  "married", "nodegree", "re74", "re75"]
    r = ref["propensity"]["coef"]
    np.testing.assert_allclose(w.coef.to_numpy(), [r[_r_term(t)] for t in w.coef.index],
                               rtol=1e-6)
    np.testing.assert_allclose(w.ps.to_numpy(), ref["propensity"]["ps"], rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("estimand", ["ATT", "ATE", "ATO"])
def test_weights_and_ess_equal_weightit_formulas(weights, ref, estimand):
    w = weights[estimand]
    np.testing.assert_allclose(w.weights.to_numpy(), ref["propensity"]["weights"][estimand],
                               rtol=1e-6)
    r = ref["propensity"]["ess"][estimand]
    assert w.ess["treated"] == pytest.approx(r["treated"], rel=1e-7)
    assert w.ess["control"] == pytest.approx(r["control"], rel=1e-7)
    assert w.weights.index.equals(pd.RangeIndex(614))


@pytest.mark.parametrize("estimand", ["ATT", "ATE", "ATO"])
def test_balance_equals_cobalt_formulas(weights, ref, estimand):
    b = weights[estimand].balance
    assert tuple(b.columns[:6]) == weighting.BALANCE_COLUMNS
    r = pd.DataFrame(ref["balance"][estimand])
    assert list(b["covariate"]) == list(r["covariate"])
    assert list(b["type"] == "binary") == list(r["binary"])
    for c in ("smd_raw", "smd_adjusted", "mean_treated", "mean_control", "variance_ratio"):
        np.testing.assert_allclose(b[c].to_numpy(float), pd.to_numeric(r[c]).to_numpy(float),
                                   rtol=1e-6, atol=1e-8, err_msg=c)


def test_balance_table_unweighted_and_by_column(lalonde, ref):
    raw = weighting.balance_table(lalonde, "treat", COVS)
    r = pd.DataFrame(ref["balance"]["ATT"])
    np.testing.assert_allclose(raw["smd_raw"], r["smd_raw"], rtol=1e-10)
    np.testing.assert_allclose(raw["smd_adjusted"], r["smd_raw"], rtol=1e-10)
    d = lalonde.assign(w=ref["propensity"]["weights"]["ATE"])
    b = weighting.balance_table(d, "treat", COVS, "w", estimand="ATE")
    np.testing.assert_allclose(b["smd_adjusted"], pd.DataFrame(ref["balance"]["ATE"])
                               ["smd_adjusted"], rtol=1e-8, atol=1e-12)


def test_weights_result_conventions(weights):
    w = weights["ATT"]
    frame = w.to_frame()
    assert tuple(frame.columns[:6]) == FRAME_COLUMNS
    assert "effective sample sizes" in w.summary()
    assert w.to_dict()["estimand"] == "ATT"


def test_trim_caps_comparison_weights(lalonde):
    w = weighting.propensity(lalonde, "treat", COVS, estimand="ATT", trim=0.9)
    ctrl = w.weights[lalonde.treat == 0]
    full = weighting.propensity(lalonde, "treat", COVS).weights[lalonde.treat == 0]
    assert ctrl.max() == pytest.approx(np.quantile(full, 0.9))
    assert (w.weights[lalonde.treat == 1] == 1).all()


# -- entropy balancing ------------------------------------------------------------------------


@pytest.mark.parametrize("estimand", ["ATT", "ATE"])
def test_entropy_balancing_is_exact_and_maximum_entropy(lalonde, estimand):
    e = weighting.propensity(lalonde, "treat", COVS, estimand=estimand, method="entropy")
    X = pd.get_dummies(lalonde[COVS], columns=["race"], dtype=float).drop(columns="race_black")
    t = lalonde.treat.to_numpy()
    w = e.weights.to_numpy()
    target = X[t == 1].mean() if estimand == "ATT" else X.mean()
    groups = (0,) if estimand == "ATT" else (0, 1)
    for g in groups:
        Xg, wg = X[t == g].to_numpy(), w[t == g]
        mean = wg @ Xg / wg.sum()
        # the constraints: weighted means equal the target to 1e-8 (in SDs of each covariate)
        np.testing.assert_array_less(np.abs(mean - target) / X.std().to_numpy(), 1e-8)
        # the dual's stationarity: log w is affine in the covariates (w_i ∝ exp(λ'x_i)),
        # which with the constraints is the KKT system of the maximum-entropy problem
        A = np.column_stack([np.ones(len(wg)), Xg])
        coef, *_ = np.linalg.lstsq(A, np.log(wg), rcond=None)
        assert np.max(np.abs(A @ coef - np.log(wg))) < 1e-8
        assert wg.sum() == pytest.approx(len(wg))
    b = e.balance
    assert b["smd_adjusted"].abs().max() < 1e-8


def test_entropy_weights_beat_other_balancing_weights_on_entropy(lalonde):
    # any other weights with the same means have larger KL divergence from uniform
    e = weighting.propensity(lalonde, "treat", ["age", "educ", "re74"], method="entropy")
    t = lalonde.treat.to_numpy()
    w = e.weights.to_numpy()[t == 0]
    X = lalonde.loc[t == 0, ["age", "educ", "re74"]].to_numpy()
    p = w / w.sum()
    rng = np.random.default_rng(0)
    A = np.column_stack([np.ones(len(p)), X]).T
    for _ in range(5):  # perturb within the null space of the constraints
        d = rng.normal(size=len(p))
        d -= A.T @ np.linalg.lstsq(A.T, d, rcond=None)[0]
        q = p + 0.5 * p.min() * d / np.abs(d).max()
        assert np.allclose(A @ q, A @ p)
        assert np.sum(q * np.log(q)) > np.sum(p * np.log(p))


def test_entropy_without_solution_names_covariate(lalonde):
    d = lalonde.copy()
    treated = np.flatnonzero(d.treat == 1)
    d.loc[treated[10:], "age"] = 80  # the program mean lies above every comparison youth's age
    with pytest.raises(EvalDataError, match="age"):
        weighting.propensity(d, "treat", ["age", "educ"], method="entropy")


# -- matching ---------------------------------------------------------------------------------


CASES = {"r1": {}, "r2": {"ratio": 2}, "r1_replace": {"replace": True},
         "r2_replace": {"ratio": 2, "replace": True}, "r1_caliper": {"caliper": 0.1},
         "r2_caliper": {"ratio": 2, "caliper": 0.2},
         "r1_replace_caliper": {"replace": True, "caliper": 0.05},
         "r2_caliper_tight": {"ratio": 2, "caliper": 0.02},
         "r1_linear": {"distance": "linear.logit"},
         "r1_linear_caliper": {"distance": "linear.logit", "caliper": 0.1}}


@pytest.mark.parametrize("case", list(CASES))
def test_matching_equals_matchit_rule(lalonde, ref, case):
    m = weighting.match(lalonde, "treat", COVS, **CASES[case])
    r = ref["match"][case]
    np.testing.assert_allclose(m.distance, r["distance"], rtol=1e-6)
    got = m.match_matrix.map(lambda v: -1 if pd.isna(v) else int(v)).to_numpy()
    want = np.array([[-1 if v is None else v - 1 for v in row] for row in r["match_matrix"]])
    np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(m.weights, r["weights"], rtol=1e-12)
    assert m.n_matched == {"treated": r["n_matched_treated"],
                           "control": r["n_matched_control"]}
    if "subclass" in r:
        sub = m.subclass.to_numpy(dtype=float, na_value=np.nan)
        want_sub = np.array([np.nan if v is None else v for v in r["subclass"]], float)
        np.testing.assert_array_equal(np.isnan(sub), np.isnan(want_sub))
        # the same partition into matched sets
        pairs = pd.crosstab(sub[~np.isnan(sub)], want_sub[~np.isnan(want_sub)])
        assert ((pairs > 0).sum(axis=1) == 1).all() and ((pairs > 0).sum(axis=0) == 1).all()
    else:
        assert m.subclass.isna().all()


def test_matched_balance_and_caution(lalonde):
    m = weighting.match(lalonde, "treat", COVS, caliper=0.1)
    assert "74 of 185 program youth found no comparison youth" in " ".join(m.cautions)
    b = m.balance
    assert b.loc[b.covariate == "race[black]", "smd_adjusted"].abs().item() < \
        b.loc[b.covariate == "race[black]", "smd_raw"].abs().item()
    assert tuple(m.to_frame().columns[:6]) == FRAME_COLUMNS


def test_caliper_below_threshold_refused():
    d = _toy()
    with pytest.raises(EvalDataError, match="only [0-9] program youth found a match within"):
        weighting.match(d, "t", ["x", "z"], caliper=1e-5)


# -- effects ----------------------------------------------------------------------------------


def _check(res, r, *, logor=False, rtol=1e-6):
    if logor:
        got = {"estimate": np.log(res.odds_ratio), "se": res.log_odds_ratio_se,
               "p_value": res.odds_ratio_p_value, "ci_low": np.log(res.odds_ratio_ci_low),
               "ci_high": np.log(res.odds_ratio_ci_high), "df": res.odds_ratio_df}
    else:
        got = {k: getattr(res, k) for k in ("estimate", "se", "p_value", "ci_low", "ci_high",
                                             "df")}
    for k, v in r.items():
        assert got[k] == pytest.approx(v, rel=rtol), k


def test_effect_equals_svyglm(lalonde, weights, ref):
    R = ref["effect"]
    _check(weighting.effect(lalonde, "re78", "treat", weights=weights["ATT"]), R["att_diff"])
    _check(weighting.effect(lalonde, "re78", "treat", weights=weights["ATT"].weights,
                            covariates=COVS), R["att_dr"])
    _check(weighting.effect(lalonde, "re78", "treat", weights=weights["ATE"].weights),
           R["ate_diff"])


def test_effect_clustered_equals_svyglm_ids_cluster(lalonde, weights, ref):
    R = ref["effect"]
    res = weighting.effect(lalonde, "re78", "treat", weights=weights["ATE"].weights,
                           covariates=COVS, cluster="site")
    _check(res, R["ate_dr_site"])
    assert res.n_clusters == 25 and res.df == 15
    _check(weighting.effect(lalonde, "re78", "treat", weights=weights["ATT"].weights,
                            cluster=lalonde["site"]), R["att_diff_site"])


def test_binary_outcome_risk_difference_and_odds_ratio(lalonde, weights, ref):
    R = ref["effect"]
    res = weighting.effect(lalonde, "employed78", "treat", weights=weights["ATT"].weights)
    assert res.outcome_type == "binary"
    _check(res, R["att_rd"])
    _check(res, R["att_logor"], logor=True)
    dr = weighting.effect(lalonde, "employed78", "treat", weights=weights["ATT"].weights,
                          covariates=COVS)
    _check(dr, R["att_rd_dr"])
    # the odds ratio is svyglm(y ~ treat) whatever the covariates of the risk difference: its
    # t has that model's n - 2 df, not the n - k of the doubly robust regression
    _check(dr, R["att_logor"], logor=True)
    assert dr.odds_ratio_df == dr.df + len(dr.terms) - 2
    res = weighting.effect(lalonde, "employed78", "treat", weights=weights["ATE"].weights,
                           cluster="site")
    _check(res, R["ate_logor_site"], logor=True, rtol=1e-5)
    assert list(res.to_frame()["term"]) == ["program effect (risk difference)", "odds ratio"]


def _edge_ref() -> dict:
    return json.loads((REF / "weighting_edge_reference.json").read_text())


@pytest.mark.parametrize("case", ["vcovcl_site", "vcovcl_hc1"])
def test_odds_ratio_with_vcovcl_is_coeftest_z_on_the_glm(lalonde, case):
    r = _edge_ref()[case]
    assert r["z_test"] == 1  # lmtest::coeftest on a glm: a z test
    d = lalonde.assign(w=1 + (np.arange(len(lalonde)) % 3) / 2)
    res = weighting.effect(d, "employed78", "treat", weights="w", vcov="vcovCL",
                           cluster="site" if case == "vcovcl_site" else None)
    assert res.odds_ratio_df == np.inf
    assert np.log(res.odds_ratio) == pytest.approx(r["log_or"], rel=1e-7)
    assert res.log_odds_ratio_se == pytest.approx(r["se"], rel=1e-6)
    assert res.odds_ratio_p_value == pytest.approx(r["p_value"], rel=1e-6)
    assert np.log(res.odds_ratio_ci_low) == pytest.approx(r["ci_low"], rel=1e-6)
    assert np.log(res.odds_ratio_ci_high) == pytest.approx(r["ci_high"], rel=1e-6)
    assert "a normal (z) test" in res.summary()


def test_odds_ratio_of_an_outcome_constant_in_one_group_is_not_given():
    """All 0 among comparison youth: the logistic fit has no finite maximum (R's glm stops
    wherever its iterations do, an OR of about 6e8); the risk difference stays."""
    d = pd.DataFrame({"t": [1] * 6 + [0] * 6, "y": [1, 0, 1, 1, 0, 1] + [0] * 6})
    res = weighting.effect(d, "y", "t", weights=pd.Series(1.0, index=d.index))
    assert np.isnan(res.odds_ratio) and np.isnan(res.odds_ratio_p_value)
    assert res.estimate == pytest.approx(4 / 6)
    # the comparison mean 0 has no spread: HC standard error sqrt(s1^2/n1 * n/(n-1)) of the
    # program mean alone, the svyglm closed form
    assert res.se == pytest.approx(np.sqrt((4 / 6) * (2 / 6) / 6 * 12 / 11))
    assert any("same for every comparison youth" in c and "odds ratio" in c
               for c in res.cautions)
    both = d.assign(y=[1] * 6 + [0] * 6)
    res = weighting.effect(both, "y", "t", weights=pd.Series(1.0, index=d.index))
    assert any("every program youth and every comparison youth" in c for c in res.cautions)


@pytest.mark.parametrize("post", [[2.0] * 12, [5.0] * 6 + [3.0] * 6])
def test_an_exactly_fitted_outcome_has_no_standard_error(post):
    """svyglm prints SE 1e-16 here and p = 1 or 1e-135: rounding noise, not a number."""
    d = pd.DataFrame({"t": [1] * 6 + [0] * 6, "post": post,
                      "x": [0.3, -1.2, 0.5, 0.1, 2.0, -0.4, 0.8, -0.7, 1.1, 0.0, -1.5, 0.6]})
    for covs in ((), ("x",)):
        res = weighting.effect(d, "post", "t", weights=pd.Series(1.0, index=d.index),
                               covariates=covs)
        assert res.estimate == pytest.approx(post[0] - post[-1], abs=1e-12)
        assert np.isnan(res.se) and np.isnan(res.p_value) and np.isnan(res.ci_low)
        assert any("reproduces every outcome exactly" in c for c in res.cautions)


@pytest.mark.parametrize("case", ["r1", "r2", "r1_caliper", "r2_caliper_tight"])
def test_matched_effect_equals_lm_vcovcl(lalonde, ref, case):
    m = weighting.match(lalonde, "treat", COVS, **CASES[case])
    r = ref["match"][case]["effect"]
    res = weighting.effect(lalonde, "re78", "treat", weights=m)
    assert res.vcov == "vcovCL"
    _check(res, r["diff"], rtol=1e-9)
    res = weighting.effect(lalonde, "re78", "treat", weights=m.weights, cluster=m.subclass,
                           covariates=COVS)
    _check(res, r["dr"], rtol=1e-9)


def test_effect_on_matchit_own_pairs(lalonde, ref):
    o = ref["matchit_own_r1"]
    d = lalonde.assign(mw=o["weights"], sc=o["subclass"])
    res = weighting.effect(d, "re78", "treat", weights="mw", cluster="sc", vcov="vcovCL")
    _check(res, o["effect"]["diff"], rtol=1e-9)
    _check(weighting.effect(d, "re78", "treat", weights="mw", cluster="sc", vcov="vcovCL",
                            covariates=COVS), o["effect"]["dr"], rtol=1e-9)


def test_effect_carries_the_weights_cautions(lalonde, weights):
    res = weighting.effect(lalonde, "re78", "treat", weights=weights["ATO"])
    assert set(weights["ATO"].cautions) <= set(res.cautions) and res.cautions


def test_effect_missing_outcome_is_cautioned(lalonde, weights):
    d = lalonde.copy()
    d.loc[[0, 5, 9], "re78"] = np.nan
    res = weighting.effect(d, "re78", "treat", weights=weights["ATT"].weights)
    assert res.n_dropped == 3 and res.n == 611
    assert any("3 youth with a positive weight have no 're78'" in c for c in res.cautions)


# -- bad input --------------------------------------------------------------------------------


def _toy(n=200, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t = (rng.random(n) < 1 / (1 + np.exp(-x))).astype(int)
    return pd.DataFrame({"t": t, "x": x, "z": rng.normal(size=n), "y": x + t + rng.normal(size=n)})


def test_covariate_constant_within_group_is_cautioned():
    d = _toy()
    d["flag"] = np.where(d.t == 1, 1.0, (np.arange(len(d)) % 2).astype(float))
    w = weighting.propensity(d, "t", ["x", "flag"])
    assert any("flag is the same for every program youth" in c for c in w.cautions)


def test_constant_covariate_refused():
    d = _toy().assign(c=3.0)
    with pytest.raises(EvalDataError, match="'c'.*same value for every youth"):
        weighting.propensity(d, "t", ["x", "c"])


def test_perfect_separation_refused_naming_covariate():
    d = _toy()
    d["sep"] = d.t * 2.0 + np.random.default_rng(2).random(len(d)) * 0.5
    with pytest.raises(EvalDataError, match="separate.*sep"):
        weighting.propensity(d, "t", ["x", "sep"])


def test_no_overlap_refused():
    d = _toy()
    d["x"] = np.where(d.t == 1, d.x.abs() + 5, -d.x.abs() - 5)
    # near-separation drives the model to non-convergence or to scores that do not overlap
    with pytest.raises(EvalDataError, match="overlap|separate"):
        weighting.propensity(d, "t", ["x"])


def test_low_ess_cautioned():
    rng = np.random.default_rng(4)
    n = 300
    x = rng.normal(size=n)
    t = (rng.random(n) < 1 / (1 + np.exp(-(3 * x - 2)))).astype(int)
    d = pd.DataFrame({"t": t, "x": x})
    w = weighting.propensity(d, "t", ["x"], estimand="ATE", threshold=200)
    assert any("effective sample size" in c and "privacy threshold of 200" in c
               for c in w.cautions)


def test_bad_inputs_named():
    d = _toy()
    with pytest.raises(EvalDataError, match="'nope'.*not found"):
        weighting.propensity(d, "t", ["x", "nope"])
    d2 = d.copy()
    d2.loc[3, "x"] = np.nan
    with pytest.raises(EvalDataError, match="'x'.*missing values.*row 4"):
        weighting.propensity(d2, "t", ["x"])
    d3 = d.assign(t=d.t * 2)
    with pytest.raises(EvalDataError, match="not 0 or 1"):
        weighting.propensity(d3, "t", ["x"])
    with pytest.raises(EvalOptionError, match="estimand"):
        weighting.propensity(d, "t", ["x"], estimand="ATC")
    with pytest.raises(EvalDataError, match="negative"):
        weighting.effect(d, "y", "t", weights=-np.ones(len(d)))
    with pytest.raises(EvalDataError, match="only one cluster"):
        weighting.effect(d, "y", "t", weights=np.ones(len(d)), cluster=pd.Series(1, d.index))


def test_categorical_levels_named_column_level():
    d = _toy()
    d["site"] = np.where(np.arange(len(d)) % 3 == 0, "north", "south")
    w = weighting.propensity(d, "t", ["x", "site"])
    assert list(w.coef.index) == ["(Intercept)", "x", "site[south]"]
    assert list(w.balance.covariate) == ["x", "site[north]", "site[south]"]


# -- adjusted comparison on small shapes ---------------------------------------------------------


def _balanced() -> pd.DataFrame:
    r = _edge_ref()["balanced"]
    return pd.DataFrame({"g": [1] * 10 + [0] * 10, "female": [1, 0] * 10, "post": r["post"]})


def test_a_covariate_balanced_by_design_is_overlap_not_its_absence():
    """Every youth gets the score 0.5 (R's glm): identical scores overlap; the adjusted effect
    is svyglm(post ~ g + female) on weights of 1."""
    from evalkit.methods.adjustment import adjust_comparison

    r = _edge_ref()["balanced"]
    a = adjust_comparison(_balanced(), "post", "g", {"covariates": ["female"]}, threshold=1)
    np.testing.assert_allclose(a.ps.to_numpy(), r["ps"], rtol=1e-9)
    for k in ("estimate", "se", "p_value", "df", "ci_low", "ci_high"):
        assert getattr(a.effect, k) == pytest.approx(r[k], rel=1e-9), k


def test_adjusted_comparison_reads_group_labels_written_as_text():
    from evalkit.methods.adjustment import adjust_comparison

    num = adjust_comparison(_balanced(), "post", "g", {"covariates": ["female"]}, threshold=1)
    text = _balanced().assign(g=lambda d: d.g.astype(str))
    got = adjust_comparison(text, "post", "g", {"covariates": ["female"]}, threshold=1)
    assert (got.effect.estimate, got.effect.se, got.g) == (num.effect.estimate, num.effect.se,
                                                           num.g)
    assert np.isfinite(got.g)


def test_adjusted_comparison_refuses_a_score_without_spread_in_either_group():
    from evalkit.methods.adjustment import adjust_comparison

    d = _balanced().assign(post=[5.0] * 10 + [3.0] * 10)
    with pytest.raises(EvalDataError, match="'post'.*does not vary within either group"):
        adjust_comparison(d, "post", "g", {"covariates": ["female"]}, threshold=1)

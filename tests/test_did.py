"""evalkit.did against Wooldridge (JTRAIN), Stata, and R's did package on mpdta."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE

import evalkit
from evalkit.did import staggered, twfe
from evalkit.exceptions import EvalDataError


@pytest.fixture(scope="module")
def jtrain() -> pd.DataFrame:
    from linearmodels.datasets import jobtraining

    # Wooldridge Example 14.1 uses the 54 firms x 3 years with lscrap present
    return jobtraining.load().dropna(subset=["lscrap"])


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "mpdta.csv")


def test_jtrain_example_14_1_conventional_ses(jtrain):
    # Wooldridge, Introductory Econometrics, Example 14.1: grant -.2523149 (.150629),
    # grant_1 -.4215895 (.2102), within R² .2010 (year dummies d88, d89 are the period effects)
    res = twfe(jtrain, "lscrap", "fcode", "year", ["grant", "grant_1"], vcov="iid")
    tab = res.to_frame().set_index("term")
    assert tab.loc["grant", "estimate"] == pytest.approx(-0.2523149, abs=5e-8)
    assert tab.loc["grant", "se"] == pytest.approx(0.150629, abs=5e-7)
    assert tab.loc["grant_1", "estimate"] == pytest.approx(-0.4215895, abs=5e-8)
    assert tab.loc["grant_1", "se"] == pytest.approx(0.2102, abs=5e-5)
    assert res.r2_within == pytest.approx(0.2010, abs=5e-5)
    assert res.df == 162 - 2 - (54 + 3 - 1) and res.n_obs == 162 and res.n_units == 54


def test_jtrain_clustered_ses_equal_stata(jtrain):
    # Stata xtreg lscrap d88 d89 grant grant_1, fe cluster(fcode): grant .1434399,
    # grant_1 .2824604
    res = twfe(jtrain, "lscrap", "fcode", "year", ["grant", "grant_1"])
    tab = res.to_frame().set_index("term")
    assert res.vcov == "CRV1" and res.n_clusters == 54 and res.df == 53
    assert tab.loc["grant", "se"] == pytest.approx(0.1434399, abs=5e-8)
    assert tab.loc["grant_1", "se"] == pytest.approx(0.2824604, abs=5e-8)


def test_twfe_demeaning_equals_dummy_regression_on_an_unbalanced_panel():
    rng = np.random.default_rng(3)
    rows = [(u, t) for u in range(30) for t in range(6) if rng.random() > 0.25]
    d = pd.DataFrame(rows, columns=["u", "t"])
    d["x"] = rng.normal(size=len(d)) + d["u"] * 0.1
    d["y"] = 2 * d["x"] + d["u"] * 0.5 + d["t"] + rng.normal(size=len(d))
    res = twfe(d, "y", "u", "t", "x", vcov="iid")
    dummies = pd.get_dummies(d[["u", "t"]].astype(str), drop_first=True).astype(float)
    X = np.column_stack([np.ones(len(d)), d["x"], dummies])
    beta, *_ = np.linalg.lstsq(X, d["y"], rcond=None)
    resid = d["y"] - X @ beta
    se = np.sqrt(resid @ resid / (len(d) - X.shape[1]) * np.linalg.inv(X.T @ X)[1, 1])
    assert res.coef[0] == pytest.approx(beta[1], rel=1e-9)
    assert res.se[0] == pytest.approx(se, rel=1e-9)


def test_twfe_input_errors(jtrain):
    with pytest.raises(EvalDataError, match="repeat a unit and period"):
        twfe(pd.concat([jtrain, jtrain.head(2)]), "lscrap", "fcode", "year", "grant")
    with pytest.raises(EvalDataError, match="collinear"):
        twfe(jtrain, "lscrap", "fcode", "year", ["grant", "d88", "d89"])
    with pytest.raises(ValueError, match="vcov"):
        twfe(jtrain, "lscrap", "fcode", "year", "grant", vcov="HC3")


def test_mpdta_att_gt_and_analytic_ses_equal_r_did(mpdta):
    # R did 2.5.0 att_gt(..., control_group = "nevertreated", bstrap = FALSE)
    r = pd.read_csv(REFERENCE / "mpdta_attgt_nevertreated_R.csv")
    res = staggered(mpdta, "lemp", "countyreal", "year", "first.treat")
    m = res.att_gt.merge(r, on=["group", "time"], suffixes=("", "_r"))
    assert len(m) == 12
    np.testing.assert_allclose(m["att"], m["att_r"], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(m["se"], m["se_r"], rtol=1e-9)
    simple = res.aggregate("simple")
    # aggte(type = "simple"): -0.0399512751551763 (SE 0.0120340127701854)
    assert simple.estimate == pytest.approx(-0.0399512751551763, rel=1e-10)
    assert simple.se == pytest.approx(0.0120340127701854, rel=1e-9)
    # summary(att_gt): "P-value for pre-test of parallel trends assumption: 0.16812"
    assert res.pretest.p_value == pytest.approx(0.16812, abs=5e-6)
    assert res.pretest.df == 5


def test_aggregations_are_the_documented_weighted_means(mpdta):
    res = staggered(mpdta, "lemp", "countyreal", "year", "first.treat")
    a = res.att_gt
    units = mpdta.groupby("countyreal")["first.treat"].first()
    size = units.value_counts()
    post = a[a["time"] >= a["group"]]
    w = post["group"].map(size)
    assert res.aggregate("simple").estimate == pytest.approx((post["att"] * w).sum() / w.sum())
    dyn = res.aggregate("dynamic")
    a = a.assign(e=a["time"] - a["group"])
    for _, row in dyn.table.iterrows():
        cells = a[a["e"] == row["key"]]
        ww = cells["group"].map(size)
        assert row["estimate"] == pytest.approx((cells["att"] * ww).sum() / ww.sum())
    assert dyn.estimate == pytest.approx(dyn.table[dyn.table["key"] >= 0]["estimate"].mean())
    grp = res.aggregate("group")
    per_group = post.groupby("group")["att"].mean()
    assert grp.table.set_index("key")["estimate"].to_dict() == pytest.approx(per_group.to_dict())
    gw = size.reindex(per_group.index)
    assert grp.estimate == pytest.approx((per_group * gw).sum() / gw.sum())
    cal = res.aggregate("calendar")
    for _, row in cal.table.iterrows():
        cells = post[post["time"] == row["key"]]
        ww = cells["group"].map(size)
        assert row["estimate"] == pytest.approx((cells["att"] * ww).sum() / ww.sum())
    assert all(x > 0 for x in (dyn.se, grp.se, cal.se))
    bal = res.aggregate("dynamic", balance_e=1)
    assert set(bal.table["key"]) <= {-3, -2, -1, 0, 1}


def test_not_yet_treated_comparison_is_the_documented_difference_in_means(mpdta):
    res = staggered(mpdta, "lemp", "countyreal", "year", "first.treat",
                    control_group="notyettreated")
    wide = mpdta.pivot(index="countyreal", columns="year", values="lemp")
    g = mpdta.groupby("countyreal")["first.treat"].first()
    # ATT(2004, 2005): change 2003 -> 2005; comparison: never treated or first treated after 2005
    dy = wide[2005] - wide[2003]
    expected = dy[g == 2004].mean() - dy[(g == 0) | (g > 2005)].mean()
    cell = res.att_gt.set_index(["group", "time"]).loc[(2004, 2005)]
    assert cell["att"] == pytest.approx(expected, rel=1e-12)


def test_staggered_input_errors(mpdta):
    bad = mpdta.copy()
    bad.loc[bad.index[0], "first.treat"] = 2006
    with pytest.raises(EvalDataError, match="changes within 1 unit"):
        staggered(bad, "lemp", "countyreal", "year", "first.treat")
    with pytest.raises(EvalDataError, match="unbalanced"):
        staggered(mpdta.iloc[1:], "lemp", "countyreal", "year", "first.treat")
    with pytest.raises(EvalDataError, match="no never-treated units"):
        staggered(mpdta[mpdta["first.treat"] > 0], "lemp", "countyreal", "year", "first.treat")
    assert evalkit.did.staggered is staggered


def _with_treatment(mpdta: pd.DataFrame) -> pd.DataFrame:
    d = mpdta.copy()
    d["D"] = ((d["first.treat"] > 0) & (d["year"] >= d["first.treat"])).astype(int)
    return d


def test_bacon_weights_sum_to_one_and_reproduce_twfe(mpdta):
    from evalkit.did import bacon_decomposition

    d = _with_treatment(mpdta)
    b = bacon_decomposition(d, "lemp", "countyreal", "year", "D")
    assert b.table["weight"].sum() == pytest.approx(1.0, abs=1e-12)
    assert (b.table["weight"] * b.table["estimate"]).sum() == pytest.approx(b.twfe, abs=1e-12)
    assert b.twfe == pytest.approx(twfe(d, "lemp", "countyreal", "year", "D").coef[0], rel=1e-12)
    assert set(b.table["type"]) == {"treated vs never treated", "earlier vs later treated",
                                    "later vs earlier treated"}
    # each 2×2 is a difference of mean changes: 2004 cohort vs never treated, all periods
    wide = d.pivot(index="countyreal", columns="year", values="lemp")
    g = d.groupby("countyreal")["first.treat"].first()
    chg = wide[[2004, 2005, 2006, 2007]].mean(axis=1) - wide[2003]
    expected = chg[g == 2004].mean() - chg[g == 0].mean()
    row = b.table[(b.table["treated"] == 2004) & (b.table["control"] == "never")].iloc[0]
    assert row["estimate"] == pytest.approx(expected, rel=1e-12)


def test_bacon_refuses_a_treatment_that_switches_off(mpdta):
    from evalkit.did import bacon_decomposition

    d = _with_treatment(mpdta)
    unit = d.loc[d["first.treat"] == 2004, "countyreal"].iloc[0]
    d.loc[(d["countyreal"] == unit) & (d["year"] == 2006), "D"] = 0
    with pytest.raises(EvalDataError, match=f"switches off in 1 unit.*{unit}"):
        bacon_decomposition(d, "lemp", "countyreal", "year", "D")


def test_event_study_equals_twfe_on_event_time_dummies(mpdta):
    from evalkit.did import event_study

    es = event_study(mpdta, "lemp", "countyreal", "year", "first.treat", window=(-4, 3))
    d = mpdta.copy()
    rel = np.clip(d["year"] - d["first.treat"], -4, 3)
    names = []
    for k in (-4, -3, -2, 0, 1, 2, 3):
        d[f"r{k}"] = ((d["first.treat"] > 0) & (rel == k)).astype(float)
        names.append(f"r{k}")
    direct = twfe(d, "lemp", "countyreal", "year", names)
    est = es.table.set_index("rel_time")
    for k, b, se in zip((-4, -3, -2, 0, 1, 2, 3), direct.coef, direct.se, strict=True):
        assert est.loc[k, "estimate"] == pytest.approx(b, rel=1e-10)
        assert est.loc[k, "se"] == pytest.approx(se, rel=1e-10)
    assert est.loc[-1, "estimate"] == 0 and np.isnan(est.loc[-1, "se"])
    assert est.loc[0, "n_units"] == 191 and est.loc[3, "n_units"] == 20  # 2004 cohort only
    assert es.pretest.df == 3 and 0 < es.pretest.p_value < 1


def test_two_by_two_is_the_difference_of_mean_changes(mpdta):
    from evalkit.did import two_by_two

    d = mpdta[mpdta["first.treat"].isin([0, 2006]) & mpdta["year"].isin([2005, 2006])].copy()
    d["treated"] = (d["first.treat"] == 2006).astype(int)
    d["post"] = (d["year"] == 2006).astype(int)
    res = two_by_two(d, "lemp", "treated", "post", cluster="countyreal")
    m = d.groupby(["treated", "post"])["lemp"].mean()
    assert res.estimate == pytest.approx((m[1, 1] - m[1, 0]) - (m[0, 1] - m[0, 0]), rel=1e-10)
    assert res.vcov == "CR1" and res.means.loc[1, 1] == pytest.approx(m[1, 1])
    # the same cell from the staggered estimator (never-treated comparison, base 2005)
    cs = staggered(mpdta, "lemp", "countyreal", "year", "first.treat")
    assert res.estimate == pytest.approx(
        cs.att_gt.set_index(["group", "time"]).loc[(2006, 2006), "att"], rel=1e-10)


def test_multiplier_bootstrap_is_seeded_and_agrees_with_analytic_ses(mpdta):
    a = staggered(mpdta, "lemp", "countyreal", "year", "first.treat")
    b = staggered(mpdta, "lemp", "countyreal", "year", "first.treat", bootstrap=4000, seed=7)
    again = staggered(mpdta, "lemp", "countyreal", "year", "first.treat", bootstrap=4000, seed=7)
    pd.testing.assert_frame_equal(b.att_gt, again.att_gt)
    ratio = b.att_gt["se"] / a.att_gt["se"]
    assert ratio.between(0.85, 1.15).all(), ratio.tolist()
    # a simultaneous band over 12 effects is wider than the pointwise 95% interval
    assert 1.96 < b.crit_value < 3.5
    assert (b.att_gt["band_low"] < b.att_gt["ci_low"]).all()
    dyn = b.aggregate("dynamic")
    assert dyn.crit_value is not None and "band_low" in dyn.table
    assert dyn.se == pytest.approx(a.aggregate("dynamic").se, rel=0.15)
    other = staggered(mpdta, "lemp", "countyreal", "year", "first.treat", bootstrap=4000, seed=8)
    assert not other.att_gt["se"].equals(b.att_gt["se"])
    with pytest.raises(ValueError, match="at least 100"):
        staggered(mpdta, "lemp", "countyreal", "year", "first.treat", bootstrap=10)


def test_wild_cluster_bootstrap_agrees_with_crv1_when_clusters_are_many(jtrain):
    res = twfe(jtrain, "lscrap", "fcode", "year", ["grant", "grant_1"], wild_bootstrap=1999,
               seed=3)
    again = twfe(jtrain, "lscrap", "fcode", "year", ["grant", "grant_1"], wild_bootstrap=1999,
                 seed=3)
    assert res.wild.to_dict() == again.wild.to_dict()  # seeded
    row = res.to_frame().iloc[0]
    assert res.wild.clusters == 54
    assert res.wild.p_value == pytest.approx(row["p_value"], abs=0.03)
    assert res.wild.ci_low == pytest.approx(row["ci_low"], rel=0.1)
    assert res.wild.ci_high < 0.1 and res.wild.ci_low < res.coef[0] < res.wild.ci_high
    webb = twfe(jtrain, "lscrap", "fcode", "year", ["grant", "grant_1"], wild_bootstrap=1999,
                seed=3, bootstrap_weights="webb")
    assert webb.wild.weights == "webb"
    assert webb.wild.p_value == pytest.approx(row["p_value"], abs=0.03)


def test_wild_bootstrap_ci_is_the_set_of_nulls_it_does_not_reject():
    from evalkit.did import wild_cluster_bootstrap

    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(8), 25)  # few clusters: where the wild bootstrap matters
    x = rng.normal(size=200) + rng.normal(size=8)[g]
    y = 0.4 * x + rng.normal(size=8)[g] + rng.normal(size=200)
    X = np.column_stack([np.ones(200), x])
    out = wild_cluster_bootstrap(X, y, g, 1, draws=999, weights="webb", seed=1)
    assert out.ci_low < 0.4 < out.ci_high or out.p_value < 0.05
    shifted = wild_cluster_bootstrap(X, y - out.ci_high * x, g, 1, draws=999,
                                     weights="webb", seed=1)
    # testing zero on y − c·x is testing c on y: at the upper bound the p-value is alpha
    assert shifted.p_value == pytest.approx(0.05, abs=0.02)
    with pytest.raises(ValueError, match="rademacher"):
        wild_cluster_bootstrap(X, y, g, 1, draws=999, weights="mammen")


def test_two_by_two_wild_bootstrap_needs_clusters(mpdta):
    from evalkit.did import two_by_two

    d = mpdta[mpdta["first.treat"].isin([0, 2006]) & mpdta["year"].isin([2005, 2006])].copy()
    d["treated"] = (d["first.treat"] == 2006).astype(int)
    d["post"] = (d["year"] == 2006).astype(int)
    with pytest.raises(ValueError, match="needs cluster"):
        two_by_two(d, "lemp", "treated", "post", wild_bootstrap=199)
    res = two_by_two(d, "lemp", "treated", "post", cluster="countyreal", wild_bootstrap=999,
                     seed=2)
    assert res.wild.p_value == pytest.approx(res.p_value, abs=0.05)


@pytest.mark.parametrize("control", ["nevertreated", "notyettreated"])
@pytest.mark.parametrize("covariates, method", [((), "dr"), (("lpop",), "dr"),
                                                (("lpop",), "reg"), (("lpop",), "ipw")])
def test_att_gt_equals_csdid_for_every_comparison_and_method(mpdta, control, covariates, method):
    # csdid (Python port of R's did), bstrap = False: tests/reference/mpdta_csdid_reference.py
    ref = pd.read_csv(REFERENCE / "mpdta_csdid_reference.csv")
    label = "lpop" if covariates else "none"
    ref = ref[(ref["control_group"] == control) & (ref["covariates"] == label)
              & (ref["est_method"] == method)]
    res = staggered(mpdta, "lemp", "countyreal", "year", "first.treat", control_group=control,
                    covariates=covariates, est_method=method)
    m = res.att_gt.merge(ref, on=["group", "time"], suffixes=("", "_ref"))
    assert len(m) == 12
    np.testing.assert_allclose(m["att"], m["att_ref"], rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(m["se"], m["se_ref"], rtol=1e-6)


def test_covariate_estimates_match_r_did_readme(mpdta):
    # R did README: att_gt(..., xformla = ~lpop, est_method = "dr"): cohort 2004 in 2004-2007
    # -0.0145, -0.0764, -0.1404, -0.1069
    res = staggered(mpdta, "lemp", "countyreal", "year", "first.treat", covariates=["lpop"])
    cells = res.att_gt[res.att_gt["group"] == 2004].sort_values("time")["att"].round(4)
    assert cells.tolist() == [-0.0145, -0.0764, -0.1404, -0.1069]


def test_universal_base_period_compares_every_period_with_the_year_before_adoption(mpdta):
    res = staggered(mpdta, "lemp", "countyreal", "year", "first.treat", base_period="universal")
    cells = res.att_gt.set_index(["group", "time"])
    # the base period itself is kept as R's att_gt keeps it: a zero reference row without an SE
    assert cells.loc[(2007, 2006), "att"] == 0 and np.isnan(cells.loc[(2007, 2006), "se"])
    wide = mpdta.pivot(index="countyreal", columns="year", values="lemp")
    g = mpdta.groupby("countyreal")["first.treat"].first()
    dy = wide[2004] - wide[2006]  # 2007 cohort, 2004 against its base year 2006
    expected = dy[g == 2007].mean() - dy[g == 0].mean()
    assert cells.loc[(2007, 2004), "att"] == pytest.approx(expected, rel=1e-12)
    # post-adoption cells do not depend on the base-period rule
    varying = staggered(mpdta, "lemp", "countyreal", "year", "first.treat").att_gt
    post = varying[varying["time"] >= varying["group"]].set_index(["group", "time"])["att"]
    assert cells.loc[post.index, "att"].to_numpy() == pytest.approx(post.to_numpy())

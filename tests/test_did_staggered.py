"""Staggered DiD (Callaway & Sant'Anna) on the messy shapes real evaluations have.

Every rule tested here is R ``did`` 2.5's (``pre_process_did.R``, ``compute.att_gt.R``,
``att_gt.R``, ``compute.aggte.R``); the expected numbers are hand-computed 2×2 differences of
mean changes (closed forms) from the data, and the reference file
``did_staggered_reference.R`` / ``.txt`` recomputes the same differences in base R.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE, SAMPLE

from evalkit.did import staggered
from evalkit.exceptions import EvalDataError
from evalkit.methods.did.staggered import MIN_TREATED_UNITS
from evalkit.results import limiting

ARGS = ("lemp", "countyreal", "year", "first.treat")


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "mpdta.csv")


@pytest.fixture(scope="module")
def wide(mpdta) -> pd.DataFrame:
    return mpdta.pivot(index="countyreal", columns="year", values="lemp")


@pytest.fixture(scope="module")
def cohort(mpdta) -> pd.Series:
    return mpdta.groupby("countyreal")["first.treat"].first()


@pytest.fixture(scope="module")
def rref() -> dict[str, float]:
    """Values computed in base R by tests/reference/did_staggered_reference.R."""
    out = {}
    for line in (REFERENCE / "did_staggered_reference.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            k, v = line.split()
            out[k] = float(v)
    return out


def did(wide, cohort, g, t, base, control):
    dy = wide[t] - wide[base]
    return dy[cohort == g].mean() - dy[control].mean()


def cell(res, g, t):
    return res.att_gt.set_index(["group", "time"]).loc[(g, t)]


def uneven_panel(seed: int = 3) -> pd.DataFrame:
    """Biennial panel 2000-2010: cohorts 2004 (12 units), 2005 (11, not a survey year) and 2008
    (10), 20 never treated; unit and year effects, effect 1 after adoption."""
    rng = np.random.default_rng(seed)
    years = np.arange(2000, 2011, 2)
    first = np.r_[np.full(12, 2004), np.full(11, 2005), np.full(10, 2008), np.zeros(20)]
    rows = []
    for u, f in enumerate(first):
        a = rng.normal()
        for y in years:
            rows.append((f"u{u}", y, int(f), a + 0.1 * (y - 2000) + (f > 0 and y >= f)
                         + rng.normal()))
    return pd.DataFrame(rows, columns=["id", "year", "first", "y"])


# -- 1. a cohort adopting after the data end ----------------------------------------------------

def test_a_cohort_adopting_after_the_last_period_is_never_treated(mpdta, wide, cohort, rref):
    late = mpdta.copy()
    late.loc[late["first.treat"] == 2007, "first.treat"] = 2009  # data end in 2007
    res = staggered(late, *ARGS)
    assert sorted(res.att_gt["group"].unique()) == [2004, 2006]
    # the 2009 cohort is in the comparison group: never treated ∪ old 2007 cohort
    control = (cohort == 0) | (cohort == 2007)
    expected = did(wide, cohort, 2006, 2007, 2005, control)
    assert cell(res, 2006, 2007)["att"] == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(rref["late_att_2006_2007"], rel=1e-10)
    recoded = late.assign(**{"first.treat": late["first.treat"].replace(2009, 0)})
    same = staggered(recoded, *ARGS)
    pd.testing.assert_frame_equal(res.att_gt, same.att_gt)
    text = " ".join(res.cautions)
    assert "2009 (131 units)" in text and "never treated" in text
    assert res.aggregate("simple").cautions[: len(res.cautions)] == res.cautions
    # with anticipation the cut-off moves: 2008 + 0 > 2007 but not > 2007 + 1
    ant = mpdta.copy()
    ant.loc[ant["first.treat"] == 2007, "first.treat"] = 2008
    assert 2008 in staggered(ant, *ARGS, anticipation=1).att_gt["group"].values
    assert 2008 not in staggered(ant, *ARGS).att_gt["group"].values


# -- 2. unevenly spaced periods -----------------------------------------------------------------

def test_biennial_periods_use_the_previous_observed_period_as_base():
    df = uneven_panel()
    res = staggered(df, "y", "id", "year", "first")
    w = df.pivot(index="id", columns="year", values="y")
    g = df.groupby("id")["first"].first()
    never = g == 0
    # post-adoption cells compare with the last period before adoption (2002 for 2004)
    for t in (2004, 2006, 2008, 2010):
        assert cell(res, 2004, t)["att"] == pytest.approx(did(w, g, 2004, t, 2002, never))
    # an adoption year that is not a survey year (2005): base 2004, first post cell 2006
    assert (2005, 2005) not in res.att_gt.set_index(["group", "time"]).index
    assert cell(res, 2005, 2006)["att"] == pytest.approx(did(w, g, 2005, 2006, 2004, never))
    assert cell(res, 2005, 2004)["att"] == pytest.approx(did(w, g, 2005, 2004, 2002, never))
    # pre-adoption cells compare adjacent observed periods
    assert cell(res, 2008, 2006)["att"] == pytest.approx(did(w, g, 2008, 2006, 2004, never))
    assert cell(res, 2008, 2002)["att"] == pytest.approx(did(w, g, 2008, 2002, 2000, never))
    assert len(res.att_gt) == 3 * 5
    assert res.att_gt["se"].notna().all()
    # aggregations work; simple = cohort-size weighted mean of the post cells
    a = res.att_gt
    post = a[a["time"] >= a["group"]]
    size = post["group"].map(g.value_counts())
    simple = res.aggregate("simple")
    assert simple.estimate == pytest.approx((post["att"] * size).sum() / size.sum())
    assert 0.5 < simple.estimate < 1.5 and simple.se > 0
    # event times are differences of years (as R's aggte): 2005 cohort at e = 1, 3, 5
    dyn = res.aggregate("dynamic")
    keys = set(dyn.table["key"])
    assert {0, 1, 2, 3, 4, 5, 6} <= keys and -1 in keys
    e1 = dyn.table.set_index("key").loc[1, "estimate"]
    assert e1 == pytest.approx(cell(res, 2005, 2006)["att"])
    for kind in ("group", "calendar"):
        assert np.isfinite(res.aggregate(kind).se)


def test_uneven_periods_max_e_counts_positions_in_simple_as_r_does():
    res = staggered(uneven_panel(), "y", "id", "year", "first")
    a = res.att_gt
    # positions: 2000 2002 2004 2005 2006 2008 2010 → max_e = 1 keeps one position after g
    s = res.aggregate("simple", max_e=1)
    keep = {(2004, 2004), (2005, 2006), (2008, 2008), (2008, 2010)}
    sizes = {2004: 12, 2005: 11, 2008: 10}
    rows = a[[(g, t) in keep for g, t in zip(a["group"], a["time"], strict=True)]]
    w = rows["group"].map(sizes)
    assert s.estimate == pytest.approx((rows["att"] * w).sum() / w.sum())


# -- 3. anticipation ----------------------------------------------------------------------------

def test_anticipation_keeps_the_varying_base_for_pre_cells(mpdta, wide, cohort, rref):
    res = staggered(mpdta, *ARGS, anticipation=2)
    never = cohort == 0
    # R: a cell is post-treatment when g <= t, so ATT(2007, 2006) is a pre cell, base 2005
    expected = did(wide, cohort, 2007, 2006, 2005, never)
    assert cell(res, 2007, 2006)["att"] == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(rref["antic2_att_2007_2006"], rel=1e-10)
    assert cell(res, 2007, 2006)["att"] != pytest.approx(-0.03381, abs=1e-5)
    # post cells use the period before g - anticipation
    assert cell(res, 2007, 2007)["att"] == pytest.approx(did(wide, cohort, 2007, 2007, 2004,
                                                             never), rel=1e-12)
    assert cell(res, 2006, 2007)["att"] == pytest.approx(did(wide, cohort, 2006, 2007, 2003,
                                                             never), rel=1e-12)
    # the 2004 cohort is treated in the first period once anticipation is allowed for
    assert 2004 not in res.att_gt["group"].values
    assert any("cohort(s) 2004 (20 units)" in c for c in res.cautions)
    # the pre-trend test uses exactly the cells with g > t
    pre = res.att_gt[res.att_gt["group"] > res.att_gt["time"]]
    assert res.pretest.df == len(pre) == 5
    assert 0 <= res.pretest.p_value <= 1


# -- 4. universal base period -------------------------------------------------------------------

def test_universal_base_keeps_the_first_period_and_the_reference_row(mpdta, wide, cohort, rref):
    res = staggered(mpdta, *ARGS, base_period="universal")
    never = cohort == 0
    assert len(res.att_gt) == 3 * 5  # every cohort in every period, as R
    first = cell(res, 2007, 2003)
    expected = did(wide, cohort, 2007, 2003, 2006, never)
    assert first["att"] == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(rref["universal_att_2007_2003"], rel=1e-10)
    # SE of a difference of mean changes (n-denominator variances, as the influence function)
    dy = wide[2003] - wide[2006]
    se = math.sqrt(dy[cohort == 2007].var(ddof=0) / (cohort == 2007).sum()
                   + dy[never].var(ddof=0) / never.sum())
    assert first["se"] == pytest.approx(se, rel=1e-10)
    for g in (2004, 2006, 2007):  # the reference row: 0, no standard error
        if g - 1 >= 2003:
            ref = cell(res, g, g - 1)
            assert ref["att"] == 0 and math.isnan(ref["se"])
    assert any("0 by construction" in c for c in res.cautions)
    dyn = res.aggregate("dynamic")
    t = dyn.table.set_index("key")
    assert list(t.index) == [-4, -3, -2, -1, 0, 1, 2, 3]
    assert t.loc[-4, "estimate"] == pytest.approx(expected, rel=1e-12)
    assert t.loc[-1, "estimate"] == 0 and math.isnan(t.loc[-1, "se"])
    assert np.isfinite(dyn.se) and np.isfinite(dyn.pretest.statistic)
    assert dyn.pretest.df == 3  # e = -4, -3, -2; the reference e = -1 has no variance
    ref = [c for c in dyn.cautions if "reference period" in c]
    assert len(ref) == 1 and "-1" in ref[0] and not limiting(ref)


# -- 5. units treated in the first period ------------------------------------------------------

def test_units_treated_in_the_first_period_are_dropped_with_a_caution(mpdta):
    extra = mpdta[mpdta["first.treat"] == 2004].copy()
    extra["countyreal"] += 100000
    extra["first.treat"] = 2003
    res = staggered(pd.concat([mpdta, extra]), *ARGS)
    base = staggered(mpdta, *ARGS)
    # R drops those units entirely: every number equals the run without them (so, R's)
    pd.testing.assert_frame_equal(res.att_gt, base.att_gt)
    assert res.n_units == base.n_units == 500
    assert res.aggregate("simple").se == pytest.approx(base.aggregate("simple").se, rel=1e-12)
    assert any("20 units already treated in the first period" in c
               and "2003 (20 units)" in c for c in res.cautions)


# -- 6 and 9. too few treated units -------------------------------------------------------------

def test_too_few_treated_units_are_refused_with_the_design_that_fits(mpdta):
    one = mpdta[(mpdta["first.treat"] == 0) | (mpdta["countyreal"] == 8001)]
    assert one.groupby("countyreal")["first.treat"].first().gt(0).sum() == 1
    with pytest.raises(EvalDataError) as err:
        staggered(one, *ARGS)
    msg = str(err.value)
    assert "only 1 treated unit" in msg and f"at least {MIN_TREATED_UNITS}" in msg
    assert "synthetic control" in msg and "8001" in msg
    # two units, one treated: refused rather than an SE of 3e-16
    two = mpdta[mpdta["countyreal"].isin([8001, 13011])]
    with pytest.raises(EvalDataError, match="only 1 treated unit"):
        staggered(two, *ARGS)
    keep = mpdta.groupby("countyreal")["first.treat"].first()
    ids = list(keep[keep == 0].index) + list(keep[keep > 0].index[:MIN_TREATED_UNITS])
    ok = staggered(mpdta[mpdta["countyreal"].isin(ids)], *ARGS)
    assert ok.n_treated == MIN_TREATED_UNITS
    few = [c for c in ok.cautions if f"Only {MIN_TREATED_UNITS} treated units" in c]
    assert len(few) == 1 and limiting(few)  # the headline interval may be too narrow
    assert few[0] in ok.aggregate("simple").cautions
    assert not any("treated units:" in c for c in staggered(mpdta, *ARGS).cautions)


def test_small_cohorts_are_cautioned_and_the_sample_panel_runs():
    df = pd.read_csv(SAMPLE / "safe_harbor_panel.csv")
    res = staggered(df, "reports_per_100k", "state", "year", "first_law_year")
    assert res.n_treated == 35
    small = [c for c in res.cautions if "fewer than 5 units" in c]
    assert len(small) == 1 and "2008 (2 units)" in small[0] and "2017 (2 units)" in small[0]
    assert not limiting(small)  # about the cohort cells, not the pooled headline
    simple = res.aggregate("simple")
    assert np.isfinite(simple.se) and simple.se > 0
    assert small[0] in simple.cautions


# -- 7. clusters --------------------------------------------------------------------------------

def test_cluster_errors_name_the_units(mpdta):
    d = mpdta.assign(state=mpdta["countyreal"] // 1000)
    moving = d.copy()
    moving.loc[(moving["countyreal"] == 8001) & (moving["year"] == 2005), "state"] = 99
    with pytest.raises(EvalDataError, match=r"'state'.*changes within 1 unit.*8001"):
        staggered(moving, *ARGS, cluster="state")
    missing = d.copy()
    missing["state"] = missing["state"].astype(float)
    missing.loc[missing["countyreal"] == 8019, "state"] = np.nan
    with pytest.raises(EvalDataError, match=r"'state'.*missing cluster.*8019"):
        staggered(missing, *ARGS, cluster="state")


def test_cluster_without_bootstrap_gives_cluster_robust_ses(mpdta, wide, cohort, rref):
    d = mpdta.assign(state=mpdta["countyreal"] // 1000)
    res = staggered(d, *ARGS, cluster="state")
    assert res.cluster == "state" and res.bootstrap is None
    # closed form: cluster sums of the difference-in-means influence function (R did 2.5)
    state = (cohort.index // 1000).to_series(index=cohort.index)
    dy = wide[2006] - wide[2005]
    tr, co = cohort == 2006, cohort == 0
    contrib = pd.Series(0.0, index=cohort.index)
    contrib[tr] = (dy[tr] - dy[tr].mean()) / tr.sum()
    contrib[co] = -(dy[co] - dy[co].mean()) / co.sum()
    se = math.sqrt((contrib.groupby(state).sum() ** 2).sum())
    assert cell(res, 2006, 2006)["se"] == pytest.approx(se, rel=1e-10)
    assert se == pytest.approx(rref["cluster_se_2006_2006"], rel=1e-8)
    assert not np.allclose(res.att_gt["se"], staggered(mpdta, *ARGS).att_gt["se"])
    assert np.isfinite(res.pretest.statistic)
    assert np.isfinite(res.aggregate("dynamic").se)
    # one cluster per unit is the unit-level SE; clustering on the unit is the default
    own = staggered(d.assign(c=d["countyreal"] * 7), *ARGS, cluster="c")
    np.testing.assert_allclose(own.att_gt["se"], staggered(mpdta, *ARGS).att_gt["se"],
                               rtol=1e-12)
    assert staggered(mpdta, *ARGS, cluster="countyreal").cluster is None
    few = res.cautions
    assert any("clusters" in c for c in few)
    boot = staggered(d, *ARGS, cluster="state", bootstrap=199, seed=1)
    assert math.isnan(boot.pretest.statistic)
    assert any("bootstrap bands" in c for c in boot.cautions)


# -- 8. a covariate that separates a cohort -----------------------------------------------------

def test_separating_covariate_gives_nan_cells_and_aggte_rules(mpdta):
    rng = np.random.default_rng(5)
    units = mpdta["countyreal"].unique()
    x = pd.Series(rng.normal(size=units.size), index=units)
    g = mpdta.groupby("countyreal")["first.treat"].first()
    x[g == 2004] += 100  # separates the 2004 cohort from every comparison unit
    d = mpdta.assign(x=mpdta["countyreal"].map(x))
    res = staggered(d, *ARGS, covariates=["x"], est_method="ipw")
    a = res.att_gt
    assert a.loc[a["group"] == 2004, "att"].isna().all()
    assert a.loc[a["group"] != 2004, "att"].notna().all()
    assert any("could not be estimated" in c and "ATT(2004, 2004)" in c for c in res.cautions)
    # R's aggte: NA cells stop the aggregation unless na.rm = TRUE
    with pytest.raises(EvalDataError, match="na_rm=True"):
        res.aggregate("simple")
    simple = res.aggregate("simple", na_rm=True)
    post = a[(a["time"] >= a["group"]) & a["att"].notna()]
    w = post["group"].map(g.value_counts())
    assert simple.estimate == pytest.approx((post["att"] * w).sum() / w.sum())
    assert any("leaves out 4 group-time effect(s)" in c for c in simple.cautions)
    grp = res.aggregate("group", na_rm=True)
    assert list(grp.table["key"]) == [2006, 2007]
    assert any("2004" in c and "left out of the group" in c for c in grp.cautions)
    for m in ("dr", "reg"):  # the other estimators: R's guards, never a raw LinAlgError
        out = staggered(d, *ARGS, covariates=["x"], est_method=m)
        assert out.att_gt.loc[out.att_gt["group"] != 2004, "att"].notna().all()


# -- 10. constant outcome -----------------------------------------------------------------------

def test_constant_outcome_gives_nan_ses_and_pretest_with_reasons(mpdta):
    flat = mpdta.assign(lemp=5.0)
    res = staggered(flat, *ARGS)
    assert (res.att_gt["att"] == 0).all() and res.att_gt["se"].isna().all()
    assert math.isnan(res.pretest.p_value)
    assert any("pre-trend test cannot be computed" in c and "does not change" in c
               for c in res.cautions)
    assert any("sampling variance of zero" in c for c in res.cautions)
    simple = res.aggregate("simple")
    assert simple.estimate == 0 and math.isnan(simple.se) and math.isnan(simple.ci_low)
    assert any("overall simple effect has no standard error" in c for c in simple.cautions)
    dyn = res.aggregate("dynamic")
    assert math.isnan(dyn.pretest.p_value)


def test_no_result_shows_a_zero_se_beside_a_finite_estimate(mpdta):
    rng = np.random.default_rng(2)
    d = mpdta.copy()
    # the 2006 cohort's outcome changes exactly as the never-treated mean does: tiny variance
    d.loc[d["first.treat"] == 2007, "lemp"] = 3.0 + rng.normal(size=(d["first.treat"] ==
                                                                     2007).sum()) * 1e-13
    d.loc[d["first.treat"] == 0, "lemp"] = 1.0
    d = d[d["first.treat"].isin([0, 2007])]
    res = staggered(d, *ARGS)
    for r in [res] + [res.aggregate(k) for k in ("simple", "group", "dynamic", "calendar")]:
        f = r.to_frame()
        finite = np.isfinite(f["estimate"])
        assert not ((f["se"] <= 1e-7) & finite).any()
        if f["se"].isna().any():
            assert r.cautions


# -- other odd panels ---------------------------------------------------------------------------

def test_odd_panels_raise_eval_data_errors_naming_the_problem(mpdta):
    with pytest.raises(EvalDataError, match="only one period"):
        staggered(mpdta[mpdta["year"] == 2004], *ARGS)
    gap = mpdta.copy()
    gap.loc[gap.index[3], "lemp"] = np.nan
    with pytest.raises(EvalDataError, match="lemp"):
        staggered(gap, *ARGS)
    with pytest.raises(EvalDataError, match=r"unbalanced.*8001"):
        staggered(mpdta.iloc[1:], *ARGS)
    dup = pd.concat([mpdta, mpdta.iloc[:1]])
    with pytest.raises(EvalDataError, match=r"repeats a unit and period.*8001"):
        staggered(dup, *ARGS)
    same = mpdta[mpdta["first.treat"] == 2006]
    with pytest.raises(EvalDataError, match="no never-treated units"):
        staggered(same, *ARGS)
    with pytest.raises(EvalDataError):
        staggered(same, *ARGS, control_group="notyettreated")
    few_never = mpdta[(mpdta["first.treat"] > 0) | mpdta["countyreal"].isin([13011, 13013])]
    with pytest.raises(EvalDataError, match="only 2 never-treated"):
        staggered(few_never, *ARGS)
    neg = mpdta.assign(**{"first.treat": mpdta["first.treat"].replace(2004, -3)})
    with pytest.raises(EvalDataError, match="negative"):
        staggered(neg, *ARGS)


def test_not_yet_treated_without_never_treated_follows_r(mpdta, wide, cohort):
    d = mpdta[mpdta["first.treat"] > 0]
    res = staggered(d, *ARGS, control_group="notyettreated")
    # R: the last cohort (2007) is only a comparison; periods from 2007 on are left out
    assert set(res.att_gt["group"]) == {2004, 2006}
    assert res.att_gt["time"].max() == 2006
    control = cohort > 2005  # not yet treated by 2005: cohorts 2006 and 2007
    ww = wide.loc[cohort.index[cohort > 0]]
    cc = cohort[cohort > 0]
    assert cell(res, 2004, 2005)["att"] == pytest.approx(
        did(ww, cc, 2004, 2005, 2003, control[cohort > 0]), rel=1e-12)
    assert any("last cohort (2007)" in c for c in res.cautions)

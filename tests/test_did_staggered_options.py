"""staggered(panel=False / allow_unbalanced_panel / weights / cluster) against R's did 2.5.1.

Reference values: ``tests/reference/staggered_options_R.csv``, written by
``tests/reference/staggered_options_R.R`` (R did 2.5.1 and DRDID 1.2.3 installed from their
sources) on mpdta with a deterministic weight, a state cluster and a deterministic unbalanced
panel, built identically below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from evalkit.exceptions import EvalDataError
from evalkit.methods.did import drdid_rc
from evalkit.methods.did.drdid_rc import did_rc
from evalkit.methods.did.staggered import staggered

REF = Path(__file__).parent / "reference"


def _mpdta() -> tuple[pd.DataFrame, pd.DataFrame]:
    mp = pd.read_csv(REF / "mpdta.csv")
    mp["w"] = 1 + (mp.countyreal % 7) / 4
    mp["state"] = mp.countyreal // 1000
    drop = (mp.countyreal % 6 == 0) & (mp.year == 2003 + (mp.countyreal // 6) % 5)
    mpu = mp[~drop].reset_index(drop=True)
    mp["wrc"] = 1 + ((mp.countyreal + mp.year) % 5) / 3
    return mp, mpu


MP, MPU = _mpdta()
R = pd.read_csv(REF / "staggered_options_R.csv", na_values=["NA"])
R["estimate"] = pd.to_numeric(R["estimate"], errors="coerce")
R["se"] = pd.to_numeric(R["se"], errors="coerce")

RC: dict[str, Any] = {"panel": False}
UB: dict[str, Any] = {"allow_unbalanced_panel": True}
X = {"covariates": ["lpop"]}
CASES: dict[str, tuple[pd.DataFrame, dict[str, Any]]] = {
    "rc_dr": (MP, {**RC, "est_method": "dr"}),
    "rc_ipw": (MP, {**RC, "est_method": "ipw"}),
    "rc_reg": (MP, {**RC, "est_method": "reg"}),
    "rc_dr_x": (MP, {**RC, **X, "est_method": "dr"}),
    "rc_ipw_x": (MP, {**RC, **X, "est_method": "ipw"}),
    "rc_reg_x": (MP, {**RC, **X, "est_method": "reg"}),
    "rc_dr_x_nyt": (MP, {**RC, **X, "control_group": "notyettreated"}),
    "rc_dr_x_w": (MP, {**RC, **X, "weights": "wrc"}),
    "rc_reg_w": (MP, {**RC, "est_method": "reg", "weights": "wrc"}),
    "rc_dr_x_cl": (MP, {**RC, **X, "cluster": "state"}),
    "rc_dr_univ": (MP, {**RC, **X, "base_period": "universal"}),
    "ub_dr": (MPU, {**UB}),
    "ub_dr_x": (MPU, {**UB, **X}),
    "ub_ipw_x": (MPU, {**UB, **X, "est_method": "ipw"}),
    "ub_reg_x": (MPU, {**UB, **X, "est_method": "reg"}),
    "ub_dr_x_nyt": (MPU, {**UB, **X, "control_group": "notyettreated"}),
    "ub_dr_x_w": (MPU, {**UB, **X, "weights": "w"}),
    "ub_dr_x_cl": (MPU, {**UB, **X, "cluster": ("countyreal", "state")}),
    "bal_unb_flag": (MP, {**UB, **X}),
    "p_dr_w": (MP, {"weights": "w"}),
    "p_dr_x_w": (MP, {**X, "weights": "w"}),
    "p_ipw_x_w": (MP, {**X, "weights": "w", "est_method": "ipw"}),
    "p_reg_x_w": (MP, {**X, "weights": "w", "est_method": "reg"}),
    "p_nyt_w": (MP, {"weights": "w", "control_group": "notyettreated"}),
    "p_dr_x_cl": (MP, {**X, "cluster": "state"}),
    "p_dr_x_w_cl": (MP, {**X, "weights": "w", "cluster": "state"}),
    "p_dr_x_wtv": (MP, {**X, "weights": "wrc"}),
    "rc_ipw_x_w_nyt": (MP, {**RC, **X, "est_method": "ipw", "weights": "wrc",
                            "control_group": "notyettreated"}),
    "ub_reg_w_cl": (MPU, {**UB, "est_method": "reg", "weights": "w", "cluster": "state"}),
}


def _fit(data: pd.DataFrame, **kw: Any) -> Any:
    return staggered(data, "lemp", "countyreal", "year", "first.treat", **kw)


@pytest.mark.parametrize("case", list(CASES))
def test_matches_r_did(case: str) -> None:
    data, kw = CASES[case]
    ref = R[R.case == case]
    res = _fit(data, **kw)
    cells = ref[ref.kind == "attgt"]
    np.testing.assert_allclose(res.att_gt[["group", "time"]].to_numpy(float),
                               cells[["key1", "key2"]].to_numpy(float))
    # covariate fits stop on a convergence tolerance (R's fastglm, our Newton): 1e-8
    np.testing.assert_allclose(res.att_gt["att"], cells["estimate"], rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(res.att_gt["se"], cells["se"], rtol=1e-7)
    assert res.n_units == int(ref[ref.kind == "n"].estimate.iloc[0])
    wald = ref[ref.kind == "wald"]
    assert len(wald) == 1
    assert res.pretest.statistic == pytest.approx(wald.estimate.iloc[0], rel=1e-8)
    simple = res.aggregate("simple")
    rs = ref[ref.kind == "simple"].iloc[0]
    assert simple.estimate == pytest.approx(rs.estimate, rel=1e-8, abs=1e-10)
    assert simple.se == pytest.approx(rs.se, rel=1e-7)
    dyn = res.aggregate("dynamic")
    rd = ref[ref.kind == "dynamic"].iloc[0]
    assert dyn.estimate == pytest.approx(rd.estimate, rel=1e-8, abs=1e-10)
    assert dyn.se == pytest.approx(rd.se, rel=1e-7)
    re_ = ref[ref.kind == "dynamic_e"]
    np.testing.assert_allclose(dyn.table["key"], re_["key1"])
    np.testing.assert_allclose(dyn.table["estimate"], re_["estimate"], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(dyn.table["se"], re_["se"], rtol=1e-7)


def test_options_recorded_and_counts() -> None:
    rc = _fit(MP, panel=False, weights="wrc", cluster="state")
    assert (rc.panel, rc.weights, rc.cluster) == (False, "wrc", "state")
    assert rc.n_units == len(MP)
    ub = _fit(MPU, allow_unbalanced_panel=True)
    assert ub.allow_unbalanced_panel and ub.n_units == MPU.countyreal.nunique()
    frame = rc.to_frame()
    assert list(frame.columns[:6]) == ["term", "estimate", "se", "ci_low", "ci_high", "p_value"]


def test_unit_weights_reproduce_unweighted_panel() -> None:
    """Equal weights give the unweighted estimates (the weighted code path agrees)."""
    ones = MP.assign(one=2.5)
    for kw in ({}, {"covariates": ["lpop"]}, {"covariates": ["lpop"], "est_method": "ipw"}):
        a = _fit(MP, **kw)
        b = _fit(ones, weights="one", **kw)
        np.testing.assert_allclose(b.att_gt["att"], a.att_gt["att"], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(b.att_gt["se"], a.att_gt["se"], rtol=1e-8)
        assert b.aggregate("dynamic").se == pytest.approx(a.aggregate("dynamic").se, rel=1e-8)


def test_repeated_cross_section_estimators_agree_without_covariates() -> None:
    """Without covariates DRDID's dr, ipw and reg formulas (run in full here) are the same
    difference of weighted means, which ``did_rc`` computes directly."""
    rng = np.random.default_rng(3)
    n = 400
    d = (rng.random(n) < 0.4).astype(float)
    post = (rng.random(n) < 0.5).astype(float)
    y = 1 + d + post + 0.7 * d * post + rng.normal(size=n)
    w = rng.uniform(0.5, 2, n)
    w = w / w.mean()
    X = np.ones((n, 1))

    def wm(mask: np.ndarray) -> float:
        return float(np.sum(w * y * mask) / np.sum(w * mask))

    closed = (wm((d == 1) & (post == 1)) - wm((d == 1) & (post == 0))
              - wm((d == 0) & (post == 1)) + wm((d == 0) & (post == 0)))
    att, inf = did_rc(y, post, d, X, w, "dr")
    assert att == pytest.approx(closed, rel=1e-12)
    assert abs(inf.mean()) < 1e-12
    ps = np.full(n, np.sum(w * d) / n)
    trim = np.ones(n, dtype=bool)
    lin_ps = drdid_rc._ps_linrep(X, d, w, ps)
    full = {"reg": drdid_rc._reg_rc(y, post, d, X, w),
            "ipw": drdid_rc._ipw_rc(y, post, d, X, w, ps, trim, lin_ps),
            "dr": drdid_rc._dr_rc(y, post, d, X, w, ps, trim, lin_ps)}
    for a, f in full.values():
        assert a == pytest.approx(att, rel=1e-12)
        np.testing.assert_allclose(f, inf, atol=1e-10)


def test_bootstrap_on_repeated_cross_sections() -> None:
    res = _fit(MP, panel=False, bootstrap=499, seed=1)
    analytic = _fit(MP, panel=False)
    ratio = res.att_gt["se"] / analytic.att_gt["se"]
    assert ratio.between(0.8, 1.2).all()
    assert {"band_low", "band_high"} <= set(res.att_gt.columns)


# -- bad input ----------------------------------------------------------------------------------


def test_repeated_cross_section_cohort_absent_in_a_period() -> None:
    bad = MP[~((MP["first.treat"] == 2006) & (MP.year == 2005))]
    with pytest.raises(EvalDataError, match=r"cohort 2006 has no observations in period\(s\) "
                                            r"2005"):
        _fit(bad, panel=False)


def test_unbalanced_cohort_absent_gives_missing_cell() -> None:
    bad = MPU[~((MPU["first.treat"] == 2006) & (MPU.year == 2005))]
    res = _fit(bad, allow_unbalanced_panel=True)
    row = res.att_gt[(res.att_gt.group == 2006) & (res.att_gt.time == 2005)]
    assert np.isnan(row["att"].iloc[0])
    assert any("cohort 2006 is not observed in 2005" in str(c) for c in res.cautions)


@pytest.mark.parametrize("value", [0.0, -1.0, np.nan])
@pytest.mark.parametrize("kw", [{}, {"panel": False}, {"allow_unbalanced_panel": True}])
def test_bad_weights(value: float, kw: dict[str, Any]) -> None:
    data = (MPU if kw.get("allow_unbalanced_panel") else MP).copy()
    data.loc[data.countyreal == 8001, "w"] = value
    with pytest.raises(EvalDataError, match="w") as err:
        _fit(data, weights="w", **kw)
    assert "zero, negative or missing" in str(err.value)
    # panels name the unit; a repeated cross-section names the rows (mpdta's first five)
    assert ("8001" in str(err.value)) if kw.get("panel", True) else ("1, 2, 3, 4, 5" in
                                                                      str(err.value))


@pytest.mark.parametrize("kw", [{}, {"allow_unbalanced_panel": True}])
def test_cluster_varying_within_unit(kw: dict[str, Any]) -> None:
    data = (MPU if kw else MP).copy()
    data.loc[(data.countyreal == 8001) & (data.year == 2005), "state"] = 99
    with pytest.raises(EvalDataError, match="8001"):
        _fit(data, cluster="state", **kw)
    # repeated cross-sections have no units to vary within
    assert _fit(MP.assign(state=np.where(MP.year == 2005, 99, MP.state)), panel=False,
                cluster="state").cluster == "state"


def test_at_most_one_cluster_besides_the_unit() -> None:
    with pytest.raises(ValueError, match="at most one cluster variable"):
        _fit(MP, cluster=("state", "treat"))
    res = _fit(MP, cluster=("countyreal",))
    assert res.cluster is None


def test_unbalanced_panel_refused_without_the_option() -> None:
    with pytest.raises(EvalDataError, match="unbalanced"):
        _fit(MPU)


def _survey(n_adopting: int) -> pd.DataFrame:
    """Respondents in 30 states, 40 a year; ``n_adopting`` states adopt in 2015."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(30):
        g = 2015 if i < n_adopting else 0
        for y in range(2010, 2020):
            for _ in range(40):
                rows.append((f"S{i:02d}", y, g, rng.normal() + (0.5 if g and y >= g else 0)))
    return pd.DataFrame(rows, columns=["state", "year", "g", "y"])


def test_cross_sections_need_enough_treated_clusters_not_respondents():
    from evalkit.exceptions import DesignRefused

    with pytest.raises(DesignRefused, match="only 2 treated clusters"):
        staggered(_survey(2), "y", None, "year", "g", panel=False, cluster="state")
    res = staggered(_survey(12), "y", None, "year", "g", panel=False, cluster="state")
    assert np.isfinite(res.aggregate("simple").se)
    unclustered = staggered(_survey(12), "y", None, "year", "g", panel=False)
    assert any("not clustered" in c and getattr(c, "limits", True)
               for c in unclustered.cautions)
    assert not any("not clustered" in c for c in res.cautions)

"""Survival estimators on the shapes that break naive code: heavy ties, log-likelihood plateaus
at rounding level, one cluster, groups without events, tiny samples.

Reference values: tests/reference/cox_reference.R (R survival 3.5-3 coxph on data rebuilt here
bit for bit) and tests/reference/survival_edge_reference.R (what R does on degenerate inputs).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE, r_reference

import evalkit.methods.cox_fit as coxmod
from evalkit.exceptions import EvalDataError
from evalkit.results import Result
from evalkit.survival import (
    cox,
    cumulative_incidence,
    kaplan_meier,
    logrank,
    ph_test,
    rmst,
)

COVS5 = [f"x{j}" for j in range(5)]


def cref(section: str) -> dict[str, float]:
    return r_reference("cox_reference.txt", section)


def eref(section: str) -> dict[str, float]:
    return r_reference("survival_edge_reference.txt", section)


def lcg(n: int, seed: int) -> np.ndarray:
    """Park–Miller minimal standard generator, as tests/reference/cox_reference.R."""
    out = np.empty(n)
    x = seed
    for i in range(n):
        x = x * 48271 % 2147483647
        out[i] = x
    return out / 2147483647


def heavy_ties(n: int = 40_000, seed: int = 20261128) -> pd.DataFrame:
    """The data of cox_reference.R's [cox_heavy_ties_*] sections (see the script)."""
    u = lcg(8 * n, seed).reshape(n, 8)
    r = [np.sqrt(-2 * np.log(u[:, k])) for k in (0, 2, 4)]
    z = np.column_stack([r[0] * np.cos(2 * np.pi * u[:, 1]), r[0] * np.sin(2 * np.pi * u[:, 1]),
                         r[1] * np.cos(2 * np.pi * u[:, 3]), r[1] * np.sin(2 * np.pi * u[:, 3]),
                         r[2] * np.cos(2 * np.pi * u[:, 5])])
    beta = np.array([-0.5, 0.3, 0.2, -0.1, 0.05])
    t_ev = -np.log(u[:, 6]) / (0.02 * np.exp(z @ beta))
    t_c = 50 * u[:, 7]
    d = pd.DataFrame(z, columns=COVS5)
    d["time"] = np.minimum(np.ceil(np.minimum(t_ev, t_c)), 50)
    d["event"] = (t_ev <= t_c).astype(int)
    return d


@pytest.fixture(scope="module")
def heavy() -> pd.DataFrame:
    d = heavy_ties()
    r = cref("cox_heavy_ties_data")
    # the same data as R's, or the comparison below means nothing
    assert len(d) == r["n"] and d["time"].sum() == r["sum_time"]
    assert d["event"].sum() == r["sum_event"] and d["time"].nunique() == r["distinct_times"]
    assert d[COVS5].to_numpy().sum() == pytest.approx(r["sum_x"], abs=1e-9)
    return d


@pytest.fixture(scope="module")
def plateau() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "cox_plateau.csv")


def assert_equals_r(fit, r: dict[str, float], terms, rel: float = 1e-8) -> None:
    tab = fit.to_frame().set_index("term")
    for term in terms:
        assert tab.loc[term, "estimate"] == pytest.approx(r[f"{term}_coef"], rel=rel, abs=1e-6)
        assert tab.loc[term, "estimate"] == pytest.approx(r[f"{term}_coef"], rel=rel)
        assert tab.loc[term, "se"] == pytest.approx(r[f"{term}_se"], rel=rel)
    assert fit.loglik == pytest.approx(r["loglik"], rel=1e-12)
    assert fit.loglik_null == pytest.approx(r["loglik_null"], rel=1e-12)
    assert fit.score == pytest.approx(r["score_stat"], rel=1e-8)
    assert fit.iterations == r["iter"]


# -- heavy ties and log-likelihood plateaus ----------------------------------------------------

@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_cox_heavy_ties_equals_coxph(heavy, ties):
    # 40,000 subjects on 50 whole days (about 310 tied events a day), as the million-row case
    fit = cox(heavy, "time", "event", COVS5, ties=ties)
    assert_equals_r(fit, cref(f"cox_heavy_ties_{ties}"), COVS5)


@pytest.mark.parametrize("case", ["seed2", "seed5"])
@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_cox_converges_where_the_loglik_plateaus_at_rounding_level(plateau, case, ties):
    # Before the fix, seed2/efron and seed5/breslow ended in "no convergence after 20
    # Newton-Raphson iterations": the last step's log-likelihood came out one rounding error
    # lower than the previous one and started 30 step halvings on noise, every iteration.
    d = plateau[plateau["case"] == case]
    fit = cox(d, "time", "event", ["a", "b", "c"], ties=ties)
    assert_equals_r(fit, cref(f"cox_plateau_{case}_{ties}"), ["a", "b", "c"])


def _noisy(monkeypatch, noise):
    """Make every log-likelihood evaluation carry ``noise(k, ll)`` (k counts evaluations)."""
    calls = []
    real = coxmod._fit_terms

    def fake(strata, beta, efron, need_info=True, need_resid=False):
        ll, U, I, R = real(strata, beta, efron, need_info, need_resid)
        calls.append(np.array(beta))
        return ll + noise(len(calls), ll), U, I, R

    monkeypatch.setattr(coxmod, "_fit_terms", fake)
    return calls


def test_a_loglik_drop_inside_the_tolerance_ends_the_fit(monkeypatch, plateau):
    # The mechanism of the million-row failure, forced on a fit that converges cleanly
    # (seed2, Breslow; its last step gains 6.3e-10 of the log-likelihood): from the third
    # evaluation on, every log-likelihood comes out 8e-10 (relative) lower than it should,
    # so the last step looks like a small *loss* — as rounding in sums over a million rows
    # made it look on the data. Inside R's eps = 1e-9 that is convergence; a strict
    # "new < old" test instead halves the step 30 times per iteration and never stops (the
    # code before this test reported "no convergence after 20 Newton-Raphson iterations").
    d = plateau[plateau["case"] == "seed2"]
    exact = cox(d, "time", "event", ["a", "b", "c"], ties="breslow")
    calls = _noisy(monkeypatch, lambda k, ll: -(k - 2) * 8e-10 * abs(ll) if k > 2 else 0.0)
    fit = cox(d, "time", "event", ["a", "b", "c"], ties="breslow")
    assert fit.iterations == exact.iterations and len(calls) == fit.iterations + 1
    np.testing.assert_allclose(fit.coef, exact.coef, rtol=1e-12)
    np.testing.assert_allclose(fit.se, exact.se, rtol=1e-12)


def test_a_real_drop_in_the_loglik_still_halves_the_step(monkeypatch, plateau):
    # R's step halving must survive: a non-finite or clearly worse log-likelihood at the first
    # Newton step sends the fit back towards the last point, and it still converges to R's answer.
    d = plateau[plateau["case"] == "seed5"]
    calls = _noisy(monkeypatch, lambda k, ll: -math.inf if k == 2 else 0.0)
    fit = cox(d, "time", "event", ["a", "b", "c"], ties="breslow")
    r = cref("cox_plateau_seed5_breslow")
    np.testing.assert_allclose(fit.coef, [r["a_coef"], r["b_coef"], r["c_coef"]], rtol=1e-8)
    # the second evaluation was refused: the third is halfway between 0 and the Newton step
    np.testing.assert_allclose(calls[2], calls[1] / 2)
    assert fit.iterations == r["iter"] + 1


def test_cox_frame_leads_with_the_shared_columns(plateau):
    fit = cox(plateau[plateau["case"] == "seed2"], "time", "event", ["a", "b", "c"])
    tab = fit.to_frame()
    assert list(tab.columns[:6]) == ["term", "estimate", "se", "ci_low", "ci_high", "p_value"]
    np.testing.assert_allclose(tab["hr_ci_low"], np.exp(tab["ci_low"]))
    np.testing.assert_allclose(tab["estimate"], fit.coef)


# -- clusters ----------------------------------------------------------------------------------

CLUSTERED = pd.DataFrame({"t": np.arange(1, 13.0), "e": [1, 1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1],
                          "x": [0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0], "cl": 1})


def test_cox_one_cluster_is_refused():
    # R's coxph prints robust SE 1.6e-11 and p = 0 here: a number that cannot be right
    assert eref("cox_one_cluster")["robust_se"] < 1e-10
    with pytest.raises(EvalDataError, match="'cl'.*single cluster"):
        cox(CLUSTERED, "t", "e", ["x"], cluster="cl")


def test_cox_two_clusters_equal_r_with_a_caution():
    r = eref("cox_two_clusters")
    fit = cox(CLUSTERED.assign(cl=[0, 1] * 6), "t", "e", ["x"], cluster="cl")
    assert fit.coef[0] == pytest.approx(r["coef"], rel=1e-8)
    assert fit.robust_se[0] == pytest.approx(r["robust_se"], rel=1e-8)
    assert fit.n_clusters == 2
    assert any("Only 2 clusters in 'cl'" in c for c in fit.cautions)


def test_cox_fewer_clusters_than_coefficients_is_cautioned(plateau):
    d = plateau[plateau["case"] == "seed2"].assign(site=lambda x: np.arange(len(x)) % 3)
    fit = cox(d, "time", "event", ["a", "b", "c"], cluster="site")
    assert any("Only 3 clusters in 'site' for 3 coefficients" in c for c in fit.cautions)
    many = cox(d.assign(site=np.arange(len(d)) % 40), "time", "event", ["a", "b", "c"],
               cluster="site")
    assert not any("clusters" in c for c in many.cautions)


# -- monotone likelihood, no information, tiny samples ------------------------------------------

def test_cox_group_without_events_is_refused_naming_the_group():
    # R: "Loglik converged before variable 1; coefficient may be infinite", coef -21.2
    assert eref("cox_group_all_censored")["coef"] < -20
    d = pd.DataFrame({"t": np.arange(1, 13.0), "e": [1, 0] * 6, "x": [0, 1] * 6})
    with pytest.raises(EvalDataError, match=r"column 'x'.*monotone.*no events among the rows "
                                            r"where x = 1"):
        cox(d, "t", "e", ["x"])


def test_cox_covariate_constant_within_the_events_is_refused():
    assert eref("cox_covariate_constant_within_events")["coef"] > 20
    d = pd.DataFrame({"t": np.arange(1, 9.0), "e": [1, 1, 1, 0, 0, 0, 0, 0],
                      "x": [1, 1, 1, 0, 0, 1, 0, 0]})
    with pytest.raises(EvalDataError, match="column 'x'.*infinite or zero"):
        cox(d, "t", "e", ["x"])


def test_cox_covariate_without_information_is_refused():
    # x varies only among people censored before the first event: R reports coef NA
    text = (REFERENCE / "survival_edge_reference.txt").read_text()
    assert "[cox_covariate_without_information]\ncoef NA" in text
    d = pd.DataFrame({"t": np.arange(1, 7.0), "e": [0, 0, 1, 1, 0, 1], "x": [1, 2, 0, 0, 0, 0]})
    with pytest.raises(EvalDataError, match="column 'x'.*does not vary among the people still "
                                            "at risk"):
        cox(d, "t", "e", ["x"])


@pytest.mark.parametrize("frame, match", [
    (pd.DataFrame({"t": [1.0], "e": [1], "x": [1.0]}), "constant"),
    (pd.DataFrame({"t": [1.0, 2], "e": [1, 1], "x": [0.0, 1]}), "monotone"),
    (pd.DataFrame({"t": np.arange(1, 6.0), "e": 0, "x": [0, 1, 0, 1, 1.0]}), "no events"),
    (pd.DataFrame({"t": np.arange(1, 6.0), "e": 1, "x": 1.0}), "constant"),
])
def test_cox_tiny_inputs_are_refused(frame, match):
    with pytest.raises(EvalDataError, match=match):
        cox(frame, "t", "e", ["x"])


def test_cox_few_events_are_cautioned():
    d = pd.DataFrame({"t": np.arange(1, 13.0), "e": [1, 1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1],
                      "x": [0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0]})
    fit = cox(d, "t", "e", ["x"])
    assert any("Only 9 events for 1 covariate" in c for c in fit.cautions)


# -- proportional-hazards test ---------------------------------------------------------------

def test_ph_test_with_every_time_tied_is_refused():
    # R's cox.zph stops: "system is exactly singular"; the Cox fit itself is fine
    r = eref("coxzph_all_times_tied")
    d = pd.DataFrame({"t": 5.0, "e": [1, 0] * 10, "x": np.arange(1, 21) % 3})
    fit = cox(d, "t", "e", ["x"])
    assert fit.coef[0] == pytest.approx(r["coef"], rel=1e-8)
    with pytest.raises(EvalDataError, match="every event happens at the same time"):
        ph_test(fit)


# -- log-rank ----------------------------------------------------------------------------------

def test_logrank_without_events_says_so():
    # R's survdiff: chi-squared 0 on -1 df, p NA ("NaNs produced")
    assert eref("logrank_no_events")["chisq"] == 0
    d = pd.DataFrame({"t": np.arange(1, 11.0), "e": 0, "g": [0, 1] * 5})
    with pytest.raises(EvalDataError, match="column 'e'.*no events were observed"):
        logrank(d, "t", "e", "g")


def test_logrank_with_one_group_without_events_equals_survdiff():
    r = eref("logrank_one_group_without_events")
    d = pd.DataFrame({"t": np.arange(1, 11.0), "e": [1, 0] * 5, "g": [0, 1] * 5})
    lr = logrank(d, "t", "e", "g")
    assert lr.statistic == pytest.approx(r["chisq"], rel=1e-12)
    assert lr.p_value == pytest.approx(r["p"], rel=1e-10)
    assert lr.table["expected"].tolist() == pytest.approx([r["exp_g0"], r["exp_g1"]])
    assert any("No events in group g = 1" in c for c in lr.cautions)


def test_logrank_without_overlap_at_any_event_is_refused():
    # every event happens when only one group is still followed
    d = pd.DataFrame({"t": [1.0, 2, 3, 4], "e": [0, 0, 1, 1], "g": [1, 1, 0, 0]})
    with pytest.raises(EvalDataError, match="column 'g'.*no information"):
        logrank(d, "t", "e", "g")


# -- Kaplan–Meier, RMST, cumulative incidence ------------------------------------------------

def test_km_all_censored_equals_survfit_with_a_caution():
    r = eref("km_all_censored")
    km = kaplan_meier(pd.DataFrame({"t": [1.0, 2, 3], "e": 0}), "t", "e")
    assert km.table["surv"].iloc[-1] == r["surv_last"]
    assert km.table["std_err"].iloc[-1] == r["std_err_last"]
    assert any("No events" in c for c in km.cautions)


def test_km_single_event_has_an_undefined_se_explained():
    r = eref("km_single_event")
    km = kaplan_meier(pd.DataFrame({"t": [3.0], "e": [1]}), "t", "e")
    assert km.table["surv"].iloc[0] == r["surv"] and math.isnan(r["std_err"])
    assert math.isnan(km.table["std_err"].iloc[0])
    assert any("undefined" in c for c in km.cautions)


RMST_DATA = pd.DataFrame({"t": [1.0, 2, 3, 4, 1, 2, 3, 4], "e": [0, 0, 0, 0, 1, 0, 1, 0],
                          "g": [0] * 4 + [1] * 4})


def test_rmst_group_all_censored_shows_no_zero_se():
    r = eref("rmst_group_all_censored")
    res = rmst(RMST_DATA, "t", "e", "g", tau=3)
    t = res.table.set_index("group")
    assert t.loc["0", "rmst"] == r["rmean_g0"] and r["se_g0"] == 0
    assert math.isnan(t.loc["0", "se"]) and math.isnan(t.loc["0", "ci_low"])
    assert t.loc["1", "rmst"] == pytest.approx(r["rmean_g1"])
    assert t.loc["1", "se"] == pytest.approx(r["se_g1"], rel=1e-12)
    # survRM2's rule: the difference's variance adds the groups' (one of them zero)
    assert res.diff_se == pytest.approx(r["se_g1"], rel=1e-12)
    assert any("Group g = 0" in c and "too narrow" in c for c in res.cautions)


def test_rmst_with_no_events_at_all_has_no_interval():
    res = rmst(RMST_DATA.assign(e=0), "t", "e", "g", tau=3)
    assert res.diff == 0 and math.isnan(res.diff_se) and math.isnan(res.diff_p_value)
    assert any("no confidence interval" in c for c in res.cautions)


def test_cumulative_incidence_frames_and_cautions():
    one = cumulative_incidence(pd.DataFrame({"t": [1.0, 2], "c": [1, 2]}), "t", "c")
    assert list(one.to_frame().columns[:6]) == ["term", "estimate", "se", "ci_low", "ci_high",
                                                "p_value"]
    d = pd.DataFrame({"t": [1.0, 2, 3, 4], "c": [1, 2, 0, 0], "g": [1, 1, 0, 0]})
    res = cumulative_incidence(d, "t", "c", group="g")
    assert any("No events of cause 1 in group g = 0" in c for c in res.cautions)
    single = cumulative_incidence(d.assign(g=1), "t", "c", group="g")
    assert single.gray.empty and any("Only one group" in c for c in single.cautions)


# -- every estimator on many tiny samples ------------------------------------------------------

def _check(res: Result, pairs) -> None:
    assert isinstance(res, Result)
    for est, se in pairs:
        e = np.atleast_1d(np.asarray(getattr(res, est), float))
        s = np.atleast_1d(np.asarray(getattr(res, se), float))
        ok = np.isfinite(e) & np.isfinite(s)
        assert not np.any(ok & (s <= 1e-10 * np.maximum(1, np.abs(e)))), (est, s)
        if np.isnan(s).any() or np.isnan(e).any():
            assert res.cautions, f"NaN {se} without a caution"
    frame = res.to_frame()
    assert list(frame.columns[:2]) == ["term", "estimate"]


@pytest.mark.parametrize("seed", range(60))
def test_tiny_samples_give_an_answer_or_an_eval_data_error(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 9))
    d = pd.DataFrame({"t": rng.integers(1, 4, n).astype(float),
                      "e": (rng.random(n) < rng.choice([0.0, 0.5, 1.0])).astype(int),
                      "g": rng.integers(0, 2, n) if seed % 3 else np.zeros(n, int),
                      "x": rng.normal(size=n).round(1) if seed % 4 else np.ones(n),
                      "cl": rng.integers(0, 1 + seed % 3, n)})
    d["c"] = np.where(d["e"] == 1, 1 + (seed % 2) * rng.integers(0, 2, n), 0)
    calls = [
        (lambda: kaplan_meier(d, "t", "e", group="g"), []),
        (lambda: logrank(d, "t", "e", "g"), []),
        (lambda: rmst(d, "t", "e", "g", tau=1.0), [("diff", "diff_se")]),
        (lambda: cox(d, "t", "e", ["g", "x"]), [("coef", "se")]),
        (lambda: cox(d, "t", "e", ["g"], cluster="cl"), [("coef", "se"), ("coef", "robust_se")]),
        (lambda: cox(d, "t", "e", ["x"], ties="breslow", robust=True),
         [("coef", "se"), ("coef", "robust_se")]),
        (lambda: cumulative_incidence(d, "t", "c", group="g"), []),
    ]
    for call, pairs in calls:
        try:
            res = call()
        except EvalDataError as err:
            assert str(err)
            continue
        _check(res, pairs)
        if type(res).__name__ == "CoxResult":
            try:
                _check(ph_test(res), [])
            except EvalDataError:
                pass


# -- times that differ only by rounding ----------------------------------------------------------

def test_times_equal_up_to_rounding_are_tied_as_in_r(plateau):
    # R's coxph, survfit and survdiff merge times closer than sqrt(machine epsilon) (aeqSurv,
    # timefix = TRUE): 0.1 + 0.2 is the same time as 0.3
    d = plateau[plateau["case"] == "seed2"].copy()
    d["time"] = d["time"] / 10.0
    nudged = d.assign(time=np.where(np.arange(len(d)) % 2 == 0,
                                    d["time"] * (1 + 4e-15), d["time"]))
    assert (nudged["time"] != d["time"]).any()
    a = cox(d, "time", "event", ["a", "b", "c"])
    b = cox(nudged, "time", "event", ["a", "b", "c"])
    np.testing.assert_allclose(b.coef, a.coef, rtol=1e-13)
    assert b.loglik == pytest.approx(a.loglik, rel=1e-14)
    km_a = kaplan_meier(d, "time", "event").table
    km_b = kaplan_meier(nudged, "time", "event").table
    assert len(km_b) == len(km_a)
    np.testing.assert_allclose(km_b["surv"], km_a["surv"], rtol=1e-14)
    g = d.assign(g=(d["a"] > 0).astype(int))
    lr_a = logrank(g, "time", "event", "g").statistic
    lr_b = logrank(g.assign(time=nudged["time"]), "time", "event", "g").statistic
    assert lr_b == pytest.approx(lr_a, rel=1e-12)


def test_km_median_not_reached_is_explained():
    # R survfit on the Rossi data: median NA (fewer than half re-arrested within a year)
    assert "median NA" in (REFERENCE / "survival_reference.txt").read_text()
    km = kaplan_meier(pd.read_csv(REFERENCE / "rossi.csv"), "week", "arrest")
    assert math.isnan(km.median["median"].iloc[0])
    assert any("median time is not reached" in c for c in km.cautions)
    # the flat-half example of survival_reference.R: median 2.5, upper limit NA
    flat = kaplan_meier(pd.DataFrame({"t": [1, 2, 3, 4], "e": 1}), "t", "e")
    assert any("open-ended" in c for c in flat.cautions)


def test_zero_or_negative_case_weights_are_refused_as_r_does():
    # R: coxph(..., weights = w) with a zero weight stops: "Invalid weights, must be >0"
    d = pd.read_csv(REFERENCE / "rossi.csv").assign(w=1.0)
    d.loc[3, "w"] = 0.0
    with pytest.raises(EvalDataError, match="column 'w': has weights that are zero or negative"):
        cox(d, "week", "arrest", ["fin", "age"], weights="w")


# -- information that is zero up to rounding ------------------------------------------------------


def _r_error(section: str) -> str:
    """The ``# error:`` line R printed under ``section`` of survival_edge_reference.txt."""
    text = (REFERENCE / "survival_edge_reference.txt").read_text()
    block = text.split(f"[{section}]", 1)[1].split("\n[", 1)[0]
    return next(line for line in block.splitlines() if line.startswith("# error:"))


def test_a_covariate_without_information_is_refused_where_r_reports_na():
    """Every risk set holds x = 1 alone: x's information is 0 exactly, 1.4e-17 in arithmetic.
    Judged on its own scale that noise passed as real: estimate 0, SE 2.7e8, p = 1."""
    assert eref("cox_no_information")["coef_is_na"] == 1
    d = pd.DataFrame({"t": range(1, 8), "e": [0, 0, 1, 1, 1, 1, 1], "x": [0] + [1] * 6})
    with pytest.raises(EvalDataError, match="'x'.*does not vary among the people still at risk"):
        cox(d, "t", "e", ["x"])
    # the same inside strata: x constant within the only stratum with events
    d2 = pd.concat([d.assign(s=1), pd.DataFrame({"t": [3, 4], "e": [0, 0], "x": [0, 1],
                                                 "s": [2, 2]})], ignore_index=True)
    with pytest.raises(EvalDataError, match="'x'.*does not vary"):
        cox(d2, "t", "e", ["x"], strata="s")


def test_ph_test_refuses_a_change_over_time_without_information():
    """x varies only at time 0, where the km transform is 0; R's cox.zph stops there."""
    assert "computationally singular" in _r_error("zph_no_information")
    d = pd.DataFrame({"t": [0, 0, 4, 5, 2], "e": [1] * 5, "x": [1, 0, 1, 1, 1],
                      "z": [1.27, -0.45, 0.46, 1.64, 0.16]})
    with pytest.raises(EvalDataError, match="'x': cannot be tested for a change"):
        ph_test(cox(d, "t", "e", ["x", "z"]))


def _wald_data() -> pd.DataFrame:
    return pd.DataFrame({"t": [2, 3, 3, 5, 6, 7, 8, 9, 10, 12],
                         "e": [1, 1, 0, 1, 1, 0, 1, 1, 1, 0],
                         "x": [1, 0, 1, 1, 0, 0, 1, 0, 0, 1],
                         "z": [0.3, -1.1, 0.8, 1.9, -0.4, 0.2, -2.0, 0.7, 1.2, -0.6],
                         "site": [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]})


def test_robust_wald_test_uses_the_robust_variance_as_coxph():
    r = eref("cox_robust_wald")
    d = _wald_data()
    fit = cox(d, "t", "e", ["x"], robust=True)
    assert fit.robust_se[0] == pytest.approx(r["robust_se_x"], rel=1e-7)
    assert fit.wald == pytest.approx(r["wald_x"], rel=1e-6)
    assert fit.wald == pytest.approx((fit.coef[0] / fit.robust_se[0]) ** 2, rel=1e-12)
    # chi-squared on 1 df: P(X > w) = erfc(sqrt(w / 2))
    assert fit.wald_p == pytest.approx(math.erfc(math.sqrt(fit.wald / 2)), rel=1e-9)
    assert cox(d, "t", "e", ["x", "z"], robust=True).wald == pytest.approx(r["wald_xz"],
                                                                           rel=1e-6)
    assert cox(d, "t", "e", ["x", "z"], cluster="site").wald == pytest.approx(
        r["wald_xz_site"], rel=1e-6)
    assert "Wald (robust)" in fit.summary()


def test_concordance_ties_every_pair_when_the_coefficient_is_zero_up_to_rounding():
    r = eref("cox_concordance_zero_coef")
    d = pd.DataFrame({"t": [0, 0, 0, 5, 3], "e": [1] * 5, "x": [0, 0, 0, 0, 1],
                      "s": [1, 0, 1, 1, 1]})
    fit = cox(d, "t", "e", ["x"], strata="s", ties="breslow")
    assert fit.coef[0] == pytest.approx(r["coef"], abs=1e-12)
    assert fit.concordance == r["concordance"]


def test_km_median_on_a_curve_that_stays_at_one_half_is_rs_table_median():
    r = eref("km_median_plateau_to_end")
    assert (r["table_median"], r["quantile_median"]) == (2, 4)
    km = kaplan_meier(pd.DataFrame({"t": [1, 2, 4, 6], "e": [1, 1, 0, 0]}), "t", "e")
    assert km.median["median"].iloc[0] == r["table_median"]

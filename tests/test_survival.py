"""evalkit.survival against R survival 3.5-3 (tests/reference/survival_reference.R) and the
published Rossi recidivism results."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE, r_reference

from evalkit.exceptions import EvalDataError
from evalkit.survival import concordance, cox, kaplan_meier, logrank, rmst

COVS = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]


def ref(section: str) -> dict[str, float]:
    return r_reference("survival_reference.txt", section)


@pytest.fixture(scope="module")
def rossi() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "rossi.csv")


@pytest.fixture(scope="module")
def ties() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "surv_ties.csv")


# -- Kaplan–Meier ------------------------------------------------------------------------------

@pytest.mark.parametrize("conf_type, file", [("log", "km_rossi_R.csv"),
                                             ("log-log", "km_rossi_loglog_R.csv"),
                                             ("plain", "km_rossi_plain_R.csv")])
def test_km_table_equals_survfit(rossi, conf_type, file):
    r = pd.read_csv(REFERENCE / file)
    km = kaplan_meier(rossi, "week", "arrest", conf_type=conf_type).table
    assert len(km) == len(r)
    for ours, theirs in (("time", "time"), ("n_risk", "n_risk"), ("n_event", "n_event"),
                         ("n_censor", "n_censor"), ("surv", "surv"), ("std_err", "std_err"),
                         ("ci_low", "lower"), ("ci_high", "upper")):
        np.testing.assert_allclose(km[ours], r[theirs], rtol=1e-10, err_msg=ours)


def test_km_by_group_medians_and_times_equal_survfit(ties):
    r = ref("km_ties_by_x1")
    km = kaplan_meier(ties, "time", "status", group="x1")
    R = pd.read_csv(REFERENCE / "km_ties_x1_R.csv")
    np.testing.assert_allclose(km.table["surv"], R["surv"], rtol=1e-10)
    np.testing.assert_allclose(km.table["ci_low"], R["lower"], rtol=1e-10)
    med = km.median.set_index("group")
    for g in (0, 1):
        row = med.loc[str(g)] if str(g) in med.index else med.loc[g]
        assert (row["median"], row["ci_low"], row["ci_high"]) == (
            r[f"group{g}_median"], r[f"group{g}_median_lower"], r[f"group{g}_median_upper"])
    at = km.at([30, 60, 90])
    for g in (0, 1):
        sub = at[at["group"].astype(str) == str(g)].set_index("time")
        for t in (30, 60, 90):
            assert sub.loc[t, "surv"] == pytest.approx(r[f"group{g}_t{t}_surv"], rel=1e-10)
            assert sub.loc[t, "ci_high"] == pytest.approx(r[f"group{g}_t{t}_upper"], rel=1e-10)
            assert sub.loc[t, "std_err"] == pytest.approx(r[f"group{g}_t{t}_std_err"], rel=1e-10)
            assert sub.loc[t, "n_risk"] == r[f"group{g}_t{t}_n_risk"]


def test_median_on_a_flat_half_is_the_midpoint():
    # R: survfit on times 1..4, all events: median 2.5, CI lower 1, upper NA
    km = kaplan_meier(pd.DataFrame({"t": [1, 2, 3, 4], "e": [1, 1, 1, 1]}), "t", "e")
    m = km.median.iloc[0]
    assert m["median"] == 2.5 and m["ci_low"] == 1 and np.isnan(m["ci_high"])


def test_km_without_censoring_is_one_minus_the_empirical_cdf():
    t = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3], float)
    km = kaplan_meier(pd.DataFrame({"t": t, "e": 1}), "t", "e").table
    ecdf = np.array([(t <= x).mean() for x in km["time"]])
    np.testing.assert_allclose(km["surv"], 1 - ecdf, atol=1e-15)


# -- log-rank ----------------------------------------------------------------------------------

def test_logrank_rossi_published(rossi):
    # Rossi et al.: log-rank test by fin, chi-square 3.837570 (R survdiff)
    r = ref("logrank_rossi")
    lr = logrank(rossi, "week", "arrest", "fin")
    assert lr.statistic == pytest.approx(3.837570, abs=5e-7)
    assert lr.p_value == pytest.approx(r["p"], rel=1e-9)
    assert lr.table["expected"].tolist() == pytest.approx([r["exp_fin0"], r["exp_fin1"]])
    assert lr.variance[0, 0] == pytest.approx(r["var_11"], rel=1e-10)


def test_logrank_k_groups_rho_and_strata_equal_survdiff(ties):
    r = ref("logrank_ties")
    lr = logrank(ties, "time", "status", "x3")
    assert lr.df == 3 and lr.statistic == pytest.approx(r["chisq"], rel=1e-10)
    assert lr.table["expected"].tolist() == pytest.approx(
        [r[f"exp_x3_{k}"] for k in range(4)], rel=1e-10)
    pp = logrank(ties, "time", "status", "x3", rho=1)
    assert pp.statistic == pytest.approx(r["chisq_rho1"], rel=1e-10)
    assert pp.table["observed"].tolist() == pytest.approx(
        [r[f"obs_rho1_x3_{k}"] for k in range(4)], rel=1e-10)
    st = logrank(ties, "time", "status", "x1", strata="stratum")
    assert st.statistic == pytest.approx(r["chisq_strata"], rel=1e-10)
    assert st.table["expected"].tolist() == pytest.approx(
        [r["exp_strata_x1_0"], r["exp_strata_x1_1"]], rel=1e-10)


def test_logrank_equals_cox_score_test_with_breslow_ties():
    # Without tied event times the log-rank statistic is the Cox score test of one binary
    # covariate (with ties the two variances differ by the hypergeometric factor)
    rng = np.random.default_rng(5)
    d = pd.DataFrame({"t": rng.exponential(10, 80), "e": rng.integers(0, 2, 80),
                      "g": np.repeat([0, 1], 40)})
    lr = logrank(d, "t", "e", "g")
    fit = cox(d, "t", "e", ["g"], ties="breslow")
    assert fit.score == pytest.approx(lr.statistic, rel=1e-10)


# -- Cox ---------------------------------------------------------------------------------------

def test_cox_rossi_efron_published_and_r(rossi):
    # R survival 3.5 coxph, ties = "efron" (shared/reference/README.md and survival_reference)
    published = {"fin": (-0.37942220, 0.19137950), "age": (-0.05743774, 0.02199947),
                 "race": (0.31389980, 0.30799280), "wexp": (-0.14979570, 0.21222430),
                 "mar": (-0.43370390, 0.38186810), "paro": (-0.08487108, 0.19575670),
                 "prio": (0.09149708, 0.02864855)}
    fit = cox(rossi, "week", "arrest", COVS)
    tab = fit.to_frame().set_index("term")
    for term, (b, se) in published.items():
        assert tab.loc[term, "estimate"] == pytest.approx(b, abs=5e-8)
        assert tab.loc[term, "se"] == pytest.approx(se, abs=5e-8)
    assert fit.loglik_null == pytest.approx(-675.380632, abs=5e-7)
    assert fit.loglik == pytest.approx(-658.747659, abs=5e-7)
    assert fit.lr == pytest.approx(33.265946, abs=5e-7)
    assert fit.score == pytest.approx(33.528689, abs=5e-7)
    assert fit.concordance == pytest.approx(0.640329, abs=5e-7)
    r = ref("cox_rossi_efron")
    assert fit.wald == pytest.approx(r["wald_stat"], rel=1e-8)
    for term in COVS:
        assert tab.loc[term, "estimate"] == pytest.approx(r[f"{term}_coef"], rel=1e-8)
        assert tab.loc[term, "p_value"] == pytest.approx(r[f"{term}_p"], rel=1e-6)
    assert fit.iterations == r["iter"]


def test_cox_rossi_breslow(rossi):
    fit = cox(rossi, "week", "arrest", COVS, ties="breslow")
    tab = fit.to_frame().set_index("term")
    assert tab.loc["fin", "estimate"] == pytest.approx(-0.37902190, abs=5e-8)
    assert tab.loc["fin", "se"] == pytest.approx(0.19136440, abs=5e-8)
    assert tab.loc["prio", "estimate"] == pytest.approx(0.09111154, abs=5e-8)
    assert tab.loc["prio", "se"] == pytest.approx(0.02863125, abs=5e-8)
    assert fit.lr == pytest.approx(33.125567, abs=5e-7)
    r = ref("cox_rossi_breslow")
    assert fit.concordance == pytest.approx(r["concordance"], rel=1e-10)
    assert fit.wald == pytest.approx(r["wald_stat"], rel=1e-8)


def test_cox_robust_se_equals_r_with_efron_ties(rossi):
    r = ref("cox_rossi_efron_robust")
    tab = cox(rossi, "week", "arrest", COVS, robust=True).to_frame().set_index("term")
    for term in COVS:
        assert tab.loc[term, "robust_se"] == pytest.approx(r[f"{term}_robust_se"], rel=1e-8)
        assert tab.loc[term, "p_value"] == pytest.approx(r[f"{term}_p"], rel=1e-6)


@pytest.mark.parametrize("ties_method", ["efron", "breslow"])
def test_cox_with_many_ties_equals_r(ties, ties_method):
    r = ref(f"cox_ties_{ties_method}")
    fit = cox(ties, "time", "status", ["x1", "x2", "x3"], ties=ties_method)
    tab = fit.to_frame().set_index("term")
    for term in ("x1", "x2", "x3"):
        assert tab.loc[term, "estimate"] == pytest.approx(r[f"{term}_coef"], rel=1e-8)
        assert tab.loc[term, "se"] == pytest.approx(r[f"{term}_se"], rel=1e-8)
    assert fit.loglik == pytest.approx(r["loglik"], rel=1e-10)
    assert fit.score == pytest.approx(r["score_stat"], rel=1e-8)
    assert fit.concordance == pytest.approx(r["concordance"], rel=1e-10)


def test_cox_clustered_stratified_and_weighted_equal_r(ties):
    covs = ["x1", "x2", "x3"]
    r = ref("cox_ties_efron_cluster")
    tab = cox(ties, "time", "status", covs, cluster="site").to_frame().set_index("term")
    for term in covs:
        assert tab.loc[term, "robust_se"] == pytest.approx(r[f"{term}_robust_se"], rel=1e-8)
    r = ref("cox_ties_efron_strata")
    fit = cox(ties, "time", "status", covs, strata="stratum")
    assert fit.loglik == pytest.approx(r["loglik"], rel=1e-10)
    assert fit.concordance == pytest.approx(r["concordance"], rel=1e-10)
    for term, row in fit.to_frame().set_index("term").iterrows():
        assert row["estimate"] == pytest.approx(r[f"{term}_coef"], rel=1e-8)
        assert row["se"] == pytest.approx(r[f"{term}_se"], rel=1e-8)
    r = ref("cox_ties_efron_weights")
    fit = cox(ties, "time", "status", covs, weights="w")
    assert fit.loglik == pytest.approx(r["loglik"], rel=1e-10)
    assert fit.concordance == pytest.approx(r["concordance"], rel=1e-10)
    for term, row in fit.to_frame().set_index("term").iterrows():
        assert row["estimate"] == pytest.approx(r[f"{term}_coef"], rel=1e-8)
        assert row["se"] == pytest.approx(r[f"{term}_se"], rel=1e-8)
    r = ref("cox_ties_efron_weights_robust")
    tab = cox(ties, "time", "status", covs, weights="w", robust=True).to_frame().set_index("term")
    for term in covs:
        assert tab.loc[term, "robust_se"] == pytest.approx(r[f"{term}_robust_se"], rel=1e-8)


def test_cox_input_errors(rossi):
    with pytest.raises(EvalDataError, match="is constant"):
        cox(rossi.assign(k=1), "week", "arrest", ["fin", "k"])
    with pytest.raises(EvalDataError, match="collinear"):
        cox(rossi.assign(fin2=rossi.fin * 2), "week", "arrest", ["fin", "fin2"])
    with pytest.raises(EvalDataError, match="below 0"):
        cox(rossi.assign(week=-rossi.week), "week", "arrest", ["fin"])
    with pytest.raises(EvalDataError, match="not 0 or 1"):
        cox(rossi.assign(arrest=rossi.arrest * 2), "week", "arrest", ["fin"])
    with pytest.raises(EvalDataError, match="has no events"):
        cox(rossi.assign(arrest=0), "week", "arrest", ["fin"])
    # every event in one group: the hazard ratio is infinite (monotone likelihood)
    mono = pd.DataFrame({"t": np.arange(1, 21), "e": [1] * 10 + [0] * 10,
                         "g": [1] * 10 + [0] * 10})
    with pytest.raises(EvalDataError, match="monotone"):
        cox(mono, "t", "e", ["g"])


def test_concordance_counts_equal_r(rossi):
    r = ref("cox_rossi_efron")
    fit = cox(rossi, "week", "arrest", COVS)
    eta = rossi[COVS].to_numpy(float) @ fit.coef
    c = concordance(rossi["week"], rossi["arrest"], eta)
    assert (c["concordant"], c["discordant"], c["tied_risk"]) == (
        r["concordant"], r["discordant"], r["tied_x"])


# -- RMST --------------------------------------------------------------------------------------

def test_rmst_equals_survfit_and_rmst2(ties):
    r = ref("rmst_ties")
    res = rmst(ties, "time", "status", "x1", tau=120)
    t = res.table.set_index("group")
    assert t.loc["0", "rmst"] == pytest.approx(r["rm2_rmst_group0"], rel=1e-10)
    assert t.loc["1", "se"] == pytest.approx(r["rm2_se_group1"], rel=1e-10)
    assert res.diff == pytest.approx(r["rm2_diff"], rel=1e-10)
    assert (res.diff_ci_low, res.diff_ci_high) == pytest.approx(
        (r["rm2_diff_lower"], r["rm2_diff_upper"]), rel=1e-9)
    assert res.diff_p_value == pytest.approx(r["rm2_diff_p"], rel=1e-6)
    assert res.ratio == pytest.approx(r["rm2_ratio"], rel=1e-10)
    assert (res.ratio_ci_low, res.ratio_ci_high) == pytest.approx(
        (r["rm2_ratio_lower"], r["rm2_ratio_upper"]), rel=1e-9)
    with pytest.raises(EvalDataError, match="short of tau"):
        rmst(ties, "time", "status", "x1", tau=1000)


def test_rmst_without_censoring_is_the_mean_of_truncated_times():
    t = np.array([3.0, 8, 2, 12, 7, 5, 1, 9])
    d = pd.DataFrame({"t": np.concatenate([t, t + 1]), "e": 1, "g": [0] * 8 + [1] * 8})
    res = rmst(d, "t", "e", "g", tau=6)
    assert res.table.set_index("group").loc["0", "rmst"] == pytest.approx(np.minimum(t, 6).mean())


@pytest.mark.parametrize("transform", ["km", "rank", "identity"])
def test_ph_test_equals_cox_zph(rossi, transform):
    from evalkit.survival import ph_test

    r = ref(f"coxzph_rossi_{transform}")
    res = ph_test(cox(rossi, "week", "arrest", COVS), transform=transform)
    tab = res.table.set_index("term")
    for term in COVS + ["GLOBAL"]:
        assert tab.loc[term, "chisq"] == pytest.approx(r[f"{term}_chisq"], rel=1e-6), term
        assert tab.loc[term, "df"] == r[f"{term}_df"]
        assert tab.loc[term, "p_value"] == pytest.approx(r[f"{term}_p"], rel=1e-6)
    assert res.global_p == pytest.approx(r["GLOBAL_p"], rel=1e-6)


# -- competing risks ---------------------------------------------------------------------------

def test_cumulative_incidence_and_gray_test_equal_cmprsk(ties):
    from evalkit.survival import cumulative_incidence

    r = ref("cuminc_ties")
    ci = cumulative_incidence(ties, "time", "cause", group="x1")
    at = ci.at([30, 60, 90, 120])
    for _, row in at.iterrows():
        key = f"group{row['group']}_cause{row['cause']}_t{int(row['time'])}"
        assert row["estimate"] == pytest.approx(r[f"{key}_est"], rel=1e-9)
        assert row["variance"] == pytest.approx(r[f"{key}_var"], rel=1e-9)
    gray = ci.gray.set_index("cause")
    for cause in ("1", "2"):
        assert gray.loc[cause, "statistic"] == pytest.approx(r[f"gray_cause{cause}_stat"],
                                                             rel=1e-9)
        assert gray.loc[cause, "p_value"] == pytest.approx(r[f"gray_cause{cause}_p"], rel=1e-8)
    # every jump of the full curves (cmprsk's step layout: the last row at a time is the value)
    R = pd.read_csv(REFERENCE / "cuminc_ties_R.csv")
    R = R[R["time"] > 0].groupby(["group", "cause", "time"], as_index=False).last()
    ours = ci.table.assign(group=ci.table["group"].astype(int),
                           cause=ci.table["cause"].astype(int))
    merged = R.merge(ours, on=["group", "cause", "time"], how="inner")
    assert len(merged) == len(ours)
    np.testing.assert_allclose(merged["estimate"], merged["est"], rtol=1e-10)
    np.testing.assert_allclose(merged["variance"], merged["var"], rtol=1e-9)


def test_cumulative_incidence_without_competing_events_is_one_minus_km(ties):
    from evalkit.survival import cumulative_incidence

    ci = cumulative_incidence(ties, "time", "status").table
    km = kaplan_meier(ties, "time", "status").table
    km = km[km["n_event"] > 0]
    np.testing.assert_allclose(ci["estimate"].to_numpy(), 1 - km["surv"].to_numpy(),
                               atol=1e-14)


@pytest.mark.parametrize("seed", range(4))
def test_concordance_equals_brute_force_pair_counting(seed):
    rng = np.random.default_rng(seed)
    n = 60
    t = rng.integers(1, 15, n).astype(float)  # many tied times
    e = rng.integers(0, 2, n).astype(float)
    x = rng.integers(0, 6, n).astype(float)  # many tied scores
    w = rng.choice([0.5, 1.0, 2.0], n)
    conc = disc = tied = 0.0
    for i in range(n):
        if not e[i]:
            continue
        for j in range(n):
            if t[j] > t[i] or (t[j] == t[i] and not e[j]):
                pair = w[i] * w[j]
                if x[i] > x[j]:
                    conc += pair
                elif x[i] < x[j]:
                    disc += pair
                else:
                    tied += pair
    c = concordance(t, e, x, weights=w)
    assert (c["concordant"], c["discordant"], c["tied_risk"]) == pytest.approx((conc, disc, tied))

"""The pre-post and comparison-group estimators on tiny and degenerate data (issue 9).

Each case either reproduces R (tests/reference/prepost_edge_reference.R, run with R 4.2.2,
estimatr 1.0.0, sandwich 3.0-2, metafor 3.8-1) with cautions where a number is limited, or
raises an EvalDataError that names the column. A sweep over tiny inputs checks that no other
exception escapes and that no headline number is NaN or a zero standard error without a caution.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from conftest import r_reference

from evalkit import prepost as pp
from evalkit.exceptions import DesignRefused, EvalDataError
from evalkit.methods.groups import FEW_CLUSTERS, robust_ols
from evalkit.methods.meta import meta_analysis
from evalkit.results import Result


def ref(section: str) -> dict[str, float]:
    return r_reference("prepost_edge_reference.txt", section)


def r_signif2(x: float) -> float:
    """R's signif(x, 2) for the values used here (round half to even on the decimal digit)."""
    return float(f"{x:.2g}")


D_ALL = [1.5, -0.5, 2.5, 3.5, 0.7, -2.25]


# -- 1. signed-rank: the achieved confidence level ------------------------------------------------

@pytest.mark.parametrize("n", range(1, 7))
def test_exact_signed_rank_states_the_achieved_level_as_r(n):
    r = ref(f"signed_rank_n{n}")
    df = pd.DataFrame({"pre": [10.0] * n, "post": [10.0 + d for d in D_ALL[:n]]})
    res = pp.signed_rank(df, "pre", "post")
    assert res.method == "exact"
    assert res.V == r["V"]
    assert res.p_value == pytest.approx(r["p_value"], rel=1e-12)
    assert res.estimate == pytest.approx(r["estimate"], rel=1e-12)
    # the exact coverage of the interval is 1 − R's achieved.alpha
    assert res.achieved_confidence == pytest.approx(1 - r["achieved_alpha"], rel=1e-12)
    if r["warned_not_achievable"]:
        # R labels the interval 1 − signif(achieved.alpha, 2)
        assert r["conf_level"] == pytest.approx(1 - r_signif2(r["achieved_alpha"]))
    if r["conf_level"] == 0:
        # R's zero-width interval at 0% confidence is not shown
        assert math.isnan(res.ci_low) and math.isnan(res.ci_high)
        assert any("No confidence interval" in c for c in res.cautions)
    else:
        assert (res.ci_low, res.ci_high) == (r["ci_low"], r["ci_high"])
    short = res.achieved_confidence < 0.95
    assert short == (n <= 5)
    assert any("cannot reach the requested 95%" in c or "No confidence interval" in c
               for c in res.cautions) == short
    frame = res.to_frame()
    assert frame["conf_level"].iloc[0] == pytest.approx(min(0.95, res.achieved_confidence))
    assert res.confidence == pytest.approx(min(0.95, res.achieved_confidence))
    if 2 <= n <= 5:
        level = f"{100 * res.achieved_confidence:.4g}%"
        assert f"a {level} confidence interval (95% requested" in res.summary()


def test_signed_rank_levels_with_two_to_five_changes():
    # 1 − 2 / 2^n: 50%, 75%, 87.5%, 93.75% (closed form: the only achievable interval drops the
    # smallest and largest Walsh averages)
    for n, level in zip(range(2, 6), (0.5, 0.75, 0.875, 0.9375), strict=True):
        df = pd.DataFrame({"pre": [0.0] * n, "post": D_ALL[:n]})
        assert pp.signed_rank(df, "pre", "post").achieved_confidence == level


@pytest.mark.parametrize("alt,n", list(itertools.product(["greater", "less"], [2, 3, 4])))
def test_one_sided_exact_levels_equal_r(alt, n):
    r = ref(f"signed_rank_{alt}_n{n}")
    df = pd.DataFrame({"pre": [0.0] * n, "post": D_ALL[:n]})
    res = pp.signed_rank(df, "pre", "post", alternative=alt)
    assert res.p_value == pytest.approx(r["p_value"], rel=1e-12)
    assert (res.ci_low, res.ci_high) == (r["ci_low"], r["ci_high"])
    assert res.achieved_confidence == pytest.approx(1 - r["achieved_alpha"], rel=1e-12)
    assert bool(res.cautions) == (res.achieved_confidence < 0.95)


APPROX = {"ties4": [1, 1, 2, 3], "ties_neg": [-1, 1, 2, 2], "zero4": [0, 1, 2, 3],
          "ties5": [1, 2, 2, 3, 3], "all_same": [2, 2, 2], "zero_one": [0, 3], "ties3": [1, 1, 2]}


@pytest.mark.parametrize("case", sorted(APPROX))
def test_normal_approximation_widened_interval_equals_r(case):
    r = ref(f"signed_rank_approx_{case}")
    d = APPROX[case]
    res = pp.signed_rank(pd.DataFrame({"pre": [0.0] * len(d), "post": d}), "pre", "post")
    assert res.method.startswith("normal approximation")
    assert res.V == r["V"]
    assert res.p_value == pytest.approx(r["p_value"], rel=1e-9)
    # R finds the roots with uniroot's tolerance 1e-4
    assert res.estimate == pytest.approx(r["estimate"], abs=2e-4)
    assert res.achieved_confidence == pytest.approx(r["conf_level"])
    if r["conf_level"] == 0:
        assert math.isnan(res.ci_low) and math.isnan(res.ci_high)
        assert any("No confidence interval" in c for c in res.cautions)
    else:
        assert res.ci_low == pytest.approx(r["ci_low"], abs=2e-4)
        assert res.ci_high == pytest.approx(r["ci_high"], abs=2e-4)
        assert any(f"is {100 * r['conf_level']:.4g}%" in c for c in res.cautions)
    assert any("normal approximation" in c for c in res.cautions)


ONESIDE = {"a": ([1, 2, 0.5, 2, 0.5], False, 0.05), "b": ([-1.808, 2.521, -0.601], True, 0.1),
           "c": ([1, 1, 2, 3], True, 0.05), "d": ([-3, 0.5, 1, 1, 2, 4, 4.5], True, 0.05)}


@pytest.mark.parametrize("alternative", ["greater", "less"])
@pytest.mark.parametrize("case", sorted(ONESIDE))
def test_one_sided_normal_approximation_interval_and_level_equal_r(case, alternative):
    """R's "less" widens alpha on qnorm(alpha / 2), "greater" on qnorm(alpha): in case a the
    mirror images get 90% and 80%; evalkit states R's level either way."""
    r = ref(f"signed_rank_oneside_{case}_{alternative}")
    d, correct, alpha = ONESIDE[case]
    res = pp.signed_rank(pd.DataFrame({"pre": [0.0] * len(d), "post": d}), "pre", "post",
                         alternative=alternative, exact=False, correct=correct, alpha=alpha)
    assert res.V == r["V"]
    assert res.p_value == pytest.approx(r["p_value"], rel=1e-9)
    assert res.estimate == pytest.approx(r["estimate"], abs=2e-4)
    assert res.achieved_confidence == pytest.approx(r["conf_level"])
    assert res.ci_low == pytest.approx(r["ci_low"], abs=2e-4)
    assert res.ci_high == pytest.approx(r["ci_high"], abs=2e-4)
    short = r["conf_level"] < 1 - alpha
    assert any(f"is {100 * r['conf_level']:.4g}%" in c for c in res.cautions) == short


# -- 4. paired change ---------------------------------------------------------------------------

def test_paired_change_two_pairs_equals_r_and_explains_missing_g_av():
    r = ref("paired_n2")
    res = pp.paired_change(pd.DataFrame({"pre": [1.0, 2.0], "post": [2.0, 5.0]}), "pre", "post")
    assert res.t == pytest.approx(r["t"], rel=1e-12)
    assert res.df == r["df"]
    assert res.p_value == pytest.approx(r["p_value"], rel=1e-10)
    assert (res.ci_low, res.ci_high) == pytest.approx((r["ci_low"], r["ci_high"]), rel=1e-10)
    # metafor's escalc("SMCR") gives NA: the correction J(1) is undefined
    assert math.isnan(r["g_av"])
    assert math.isnan(res.g_av) and math.isnan(res.g_av_ci_low) and math.isnan(res.d_rm)
    assert any("2 pairs" in c and "g_av" in c for c in res.cautions)


def test_paired_change_three_pairs_g_av_equals_metafor():
    r = ref("paired_n3")
    res = pp.paired_change(pd.DataFrame({"pre": [1.0, 2, 4], "post": [2.0, 5, 6]}), "pre", "post")
    assert res.t == pytest.approx(r["t"], rel=1e-10)
    assert res.g_av == pytest.approx(r["g_av"], rel=1e-10)
    assert res.g_av_ci_low == pytest.approx(r["g_av_ci_low"], rel=1e-9)
    assert res.g_av_ci_high == pytest.approx(r["g_av_ci_high"], rel=1e-9)


def test_paired_change_refuses_essentially_constant_changes_as_r():
    assert ref("paired_constant")["t_test_error_essentially_constant"] == 1
    # 0.3 − 0.2, 1.3 − 1.2, 2.3 − 2.2 differ in the last bits: the SD of the change is not 0
    df = pd.DataFrame({"pre": [0.2, 1.2, 2.2], "post": [0.3, 1.3, 2.3]})
    assert np.std(df.post - df.pre) > 0
    with pytest.raises(EvalDataError, match="column 'post'.*essentially constant"):
        pp.paired_change(df, "pre", "post")


def test_paired_change_one_pair_and_all_missing_post_name_the_column():
    with pytest.raises(EvalDataError, match="column 'post': only 1 complete pair"):
        pp.paired_change(pd.DataFrame({"pre": [1.0, 2.0], "post": [3.0, np.nan]}), "pre", "post")
    with pytest.raises(EvalDataError, match="column 'post': every value is missing"):
        pp.paired_change(pd.DataFrame({"pre": [1.0, 2.0, 3.0], "post": [np.nan] * 3}),
                         "pre", "post")
    with pytest.raises(EvalDataError, match="column 'pre': every value is missing"):
        pp.signed_rank(pd.DataFrame({"pre": [np.nan] * 3, "post": [1.0, 2, 3]}), "pre", "post")
    # scores at both times, but never for the same youth
    with pytest.raises(EvalDataError, match="only 0 complete pair.*1 have 'post'"):
        pp.paired_change(pd.DataFrame({"pre": [1.0, np.nan], "post": [np.nan, 2.0]}),
                         "pre", "post")


def test_constant_pre_leaves_r_undefined_and_says_so():
    df = pd.DataFrame({"pre": [5.0] * 4, "post": [6.0, 8, 7, 9]})
    res = pp.paired_change(df, "pre", "post")
    assert math.isnan(res.r) and math.isnan(res.d_rm)
    # metafor's variance needs r: no interval rather than one computed with r = 0
    assert math.isnan(res.g_av_ci_low) and math.isfinite(res.g_av)
    assert any("correlation" in c and "'pre'" in c for c in res.cautions)


# -- 2 and 5. comparison groups and robust OLS ----------------------------------------------------

SMALL = pd.DataFrame({
    "pre": [10, 12, 9, 14, 11, 13, 8, 15, 12, 10],
    "post": [12, 15, 9, 17, 10, 16, 9, 18, 15, 11],
    "group": [0, 0, 0, 0, 0, 1, 1, 1, 1, 1],
    "cl2": list("ababababab"),
    "cl3": list("abcabcabca"),
})


@pytest.mark.parametrize("cluster", ["cl2", "cl3", None])
def test_few_clusters_equal_estimatr_with_a_caution(cluster):
    r = ref(f"ancova_{cluster or 'hc2'}")
    res = pp.compare_groups(SMALL, "pre", "post", "group", cluster=cluster)
    assert res.estimate == pytest.approx(r["estimate"], rel=1e-10)
    assert res.se == pytest.approx(r["se"], rel=1e-10)
    assert (res.ci_low, res.ci_high) == pytest.approx((r["ci_low"], r["ci_high"]), rel=1e-10)
    assert res.p_value == pytest.approx(r["p_value"], rel=1e-10)
    assert res.df == r["df"]
    few = [c for c in res.cautions if "clusters" in c]
    if cluster is None:
        assert not few
    else:
        assert res.change_diff_se == pytest.approx(r["change_diff_se"], rel=1e-10)
        g = 2 if cluster == "cl2" else 3
        assert few and f"Only {g} clusters in '{cluster}'" in few[0]
        assert "Cameron & Miller 2015" in few[0]
        assert getattr(few[0], "limits", True)


def test_many_clusters_carry_no_few_clusters_caution():
    rng = np.random.default_rng(3)
    n = 4 * FEW_CLUSTERS
    df = pd.DataFrame({"pre": rng.normal(size=n), "group": np.arange(n) % 2,
                       "site": np.arange(n) // 4})
    df["post"] = df.pre + 0.3 * df.group + rng.normal(size=n)
    res = pp.compare_groups(df, "pre", "post", "group", cluster="site")
    assert res.n_clusters == FEW_CLUSTERS and not res.cautions


def test_groups_that_are_whole_clusters():
    # two clusters, each one group: the effect cannot be told from the sites' own difference
    # (CR1 covered the truth 47% of the time with one site per group): refused, with the design
    # that fits instead
    with pytest.raises(DesignRefused, match="column 'site': the program runs at some") as info:
        pp.compare_groups(SMALL.assign(site=SMALL.group), "pre", "post", "group",
                          cluster="site")
    assert "within the same sites" in info.value.alternative
    # program at 3 sites of 30, comparison at the others: refused too (fewer than 4 per group)
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"pre": rng.normal(size=120), "site": np.arange(120) // 4})
    df["group"] = (df.site < 3).astype(int)
    df["post"] = df.pre + 0.3 * df.group + rng.normal(size=120)
    with pytest.raises(DesignRefused, match="only 3 cluster"):
        pp.compare_groups(df, "pre", "post", "group", cluster="site")
    # program youth in only 3 of 30 sites that also hold comparison youth: estimated, cautioned
    df["group"] = ((df.site < 3) & (np.arange(120) % 2 == 0)).astype(int)
    res = pp.compare_groups(df, "pre", "post", "group", cluster="site")
    (caution,) = res.cautions
    assert "Only 3 clusters in 'site' (of 30 clusters in all) hold program youth" in caution


def test_constant_post_score_is_an_error_naming_the_column():
    # estimatr returns an estimate of 3e-16 with an SE of 2e-15: noise shown as exact
    r = ref("ancova_constant_post")
    assert abs(r["estimate"]) < 1e-12 and r["se"] < 1e-12
    with pytest.raises(EvalDataError, match="column 'post': every youth analysed has the same"):
        pp.compare_groups(SMALL.assign(post=5.0), "pre", "post", "group")
    # constant within each group: the within-group SD of the effect size is zero
    with pytest.raises(EvalDataError, match="column 'post': the score does not vary within"):
        pp.compare_groups(SMALL.assign(post=SMALL.group * 3.0), "pre", "post", "group")
    with pytest.raises(EvalDataError, match="column 'pre': every youth analysed"):
        pp.compare_groups(SMALL.assign(pre=1.0), "pre", "post", "group")


def test_hc2_with_leverage_one_gives_nan_for_that_coefficient_only():
    r = ref("hc2_leverage_one")
    assert r["hat_6"] == 1 and math.isnan(r["sandwich_se_g"])
    y = np.array([1, 2, 3, 4, 5, 9.0])
    X = np.column_stack([np.ones(6), [0, 0, 0, 0, 0, 1.0], [3, 1, 4, 1, 5, 9.0]])
    terms, df = robust_ols(y, X, ["(intercept)", "g", "x"], None, 0.05)
    assert df == 3
    assert terms.estimate[1] == pytest.approx(r["estimate_g"], rel=1e-12)
    # estimatr's 3.05 leaves the single youth's variance out; sandwich gives NaN
    assert np.isnan(terms.se[1]) and np.isnan(terms.p_value[1]) and np.isnan(terms.ci_low[1])
    assert terms.se[0] == pytest.approx(r["estimatr_se_intercept"], rel=1e-10)
    assert terms.se[2] == pytest.approx(r["estimatr_se_x"], rel=1e-10)
    (caution,) = terms.attrs["cautions"]
    assert "fitted exactly" in caution and "'g'" in caution


def test_robust_ols_one_cluster_and_perfect_fit():
    y = np.array([1.0, 2, 4, 3, 5, 7])
    X = np.column_stack([np.ones(6), [0, 0, 0, 1, 1, 1.0]])
    with pytest.raises(EvalDataError, match="column 'site': only one cluster"):
        robust_ols(y, X, ["(intercept)", "g"], np.zeros(6, int), 0.05, cluster_name="site")
    terms, _ = robust_ols(2 + 3 * X[:, 1], X, ["(intercept)", "g"], None, 0.05)
    assert terms.se.isna().all()
    assert "reproduces every outcome exactly" in terms.attrs["cautions"][0]


def test_two_by_two_with_one_cluster_is_an_eval_data_error():
    from evalkit.did import two_by_two

    df = pd.DataFrame({"y": [1.0, 2, 3, 4, 2, 3, 5, 6], "d": [0, 0, 1, 1] * 2,
                       "t": [0, 1] * 4, "c": ["x"] * 8})
    with pytest.raises(EvalDataError, match="column 'c'.*one cluster"):
        two_by_two(df, "y", "d", "t", cluster="c")


# -- 3. reliable change -------------------------------------------------------------------------

def test_reliable_change_constant_pre_names_the_column_and_the_way_out():
    df = pd.DataFrame({"pre": [3.0, 3, 3], "post": [1.0, 2, 5]})
    with pytest.raises(EvalDataError, match=r"column 'pre':.*standard deviation is zero.*sd="):
        pp.reliable_change(df, "pre", "post", reliability=0.8)
    res = pp.reliable_change(df, "pre", "post", reliability=0.8, sd=2.0)
    # Jacobson & Truax: S_diff = sqrt(2) · sd · sqrt(1 − r)
    assert res.s_diff == pytest.approx(math.sqrt(2) * 2 * math.sqrt(0.2))
    with pytest.raises(EvalDataError, match="column 'pre'.*dysfunctional_sd"):
        pp.reliable_change(df, "pre", "post", reliability=0.8, sd=2.0, criterion="a")
    with pytest.raises(EvalDataError, match="column 'pre': only 1 youth"):
        pp.reliable_change(df.iloc[:1], "pre", "post", reliability=0.8)
    with pytest.raises(ValueError, match="sd must be a positive number"):
        pp.reliable_change(df, "pre", "post", reliability=0.8, sd=0.0)


def test_reliable_change_small_sample_sd_is_cautioned():
    df = pd.DataFrame({"pre": [10.0, 14, 12, 9], "post": [4.0, 13, 12, 15]})
    res = pp.reliable_change(df, "pre", "post", reliability=0.8)
    assert any("normative standard deviation" in c for c in res.cautions)
    assert sum(res.counts.values()) == 4


# -- 6. binary outcomes, attrition, meta-analysis, descriptive tables ------------------------------

def test_mcnemar_without_discordant_pairs_names_the_column():
    r = ref("mcnemar_no_change")
    assert math.isnan(r["statistic"]) and math.isnan(r["p_value"])
    with pytest.raises(EvalDataError, match="column 'b': no pair changed"):
        pp.mcnemar(pd.DataFrame({"a": [0, 1, 1], "b": [0, 1, 1]}), pre="a", post="b")


def test_mcnemar_few_discordant_pairs_are_cautioned():
    res = pp.mcnemar(pd.DataFrame({"a": [0, 1, 1, 0], "b": [1, 1, 0, 1]}), "a", "b")
    assert any("exact test" in c for c in res.cautions)
    exact = pp.mcnemar(pd.DataFrame({"a": [0, 1, 1, 0], "b": [1, 1, 0, 1]}), "a", "b",
                       exact=True)
    assert not any("exact test" in c for c in exact.cautions)
    # and with fewer than 30 pairs, Newcombe's interval is conservative (an informative note)
    (wide,) = [c for c in exact.cautions if "wider than it needs to be" in c]
    assert wide.limits is False
    big = pd.DataFrame({"a": [0, 1] * 20, "b": [1, 1, 0, 0] * 10})
    assert not any("wider than it needs" in c for c in pp.mcnemar(big, "a", "b").cautions)


def test_proportions_of_zero_or_one_name_the_outcome():
    df = pd.DataFrame({"g": [1] * 5 + [0] * 5, "y": [1] * 5 + [0, 1, 0, 1, 0]})
    with pytest.raises(EvalDataError, match="column 'y'.*proportion of 0 or 1"):
        pp.compare_proportions(df, "y", "g")
    with pytest.raises(EvalDataError, match="column 'g': the comparison \\(0\\) group"):
        pp.compare_proportions(df.assign(g=1), "y", "g")


def test_attrition_everyone_lost_and_constant_intake():
    with pytest.raises(EvalDataError, match="column 'post': every value is missing"):
        pp.attrition(pd.DataFrame({"pre": [1.0, 2, 3, 4], "post": [np.nan] * 4}), "pre", "post")
    # second scores exist, but only for youth without a first score
    lost_all = pd.DataFrame({"pre": [1.0, 2, 3, np.nan], "post": [np.nan] * 3 + [5.0]})
    res = pp.attrition(lost_all, "pre", "post")
    assert res.overall == 1.0 and math.isnan(res.pre_g)
    assert any("every youth enrolled was lost" in c for c in res.cautions)
    flat = pd.DataFrame({"pre": [5.0] * 6, "post": [1.0, 2, 3, np.nan, np.nan, np.nan]})
    res = pp.attrition(flat, "pre", "post")  # pooled SD of 0 used to divide by zero
    assert math.isnan(res.pre_g) and any("effect size" in c for c in res.cautions)


def test_meta_analysis_identical_effects_refuses_a_zero_se():
    r = ref("meta_identical_knha")
    assert r["se"] == 0 and r["ci_low"] == r["ci_high"]  # metafor's zero-width interval
    res = meta_analysis([0.3, 0.3, 0.3], [0.01, 0.02, 0.03])
    assert res.estimate == pytest.approx(r["estimate"], rel=1e-12)
    assert math.isnan(res.se) and math.isnan(res.ci_low) and math.isnan(res.p_value)
    assert any("identical" in c and "hartung_knapp=False" in c for c in res.cautions)
    z = ref("meta_identical_z")
    res = meta_analysis([0.3, 0.3, 0.3], [0.01, 0.02, 0.03], hartung_knapp=False)
    assert res.se == pytest.approx(z["se"], rel=1e-9)
    assert (res.ci_low, res.ci_high) == pytest.approx((z["ci_low"], z["ci_high"]), rel=1e-9)
    assert res.p_value == pytest.approx(z["p_value"], rel=1e-8)


def test_meta_analysis_bad_input_is_an_eval_data_error():
    with pytest.raises(EvalDataError, match="column 'effects': only 1 effect"):
        meta_analysis([0.1], [0.01])
    with pytest.raises(EvalDataError, match="column 'variances'.*programs 2, 3"):
        meta_analysis([0.1, 0.2, 0.3], [0.01, 0.0, -1.0])
    with pytest.raises(EvalDataError, match="column 'effects'.*program 2"):
        meta_analysis([0.1, np.nan], [0.01, 0.02])
    with pytest.raises(EvalDataError, match="known without error"):
        meta_analysis([0.1, 0.2], [0.01, 1e-300])
    res = meta_analysis([0.1, 0.5], [0.01, 0.02])
    assert any("Only 2 programs" in c for c in res.cautions)


def test_describe_tables_explain_missing_numbers():
    d = pp.describe(pd.DataFrame({"pre": [1.0, 2.0], "post": [3.0, np.nan]}), "pre", "post")
    assert d.n.tolist() == [2, 1, 1]
    assert len(d.attrs["cautions"]) == 2 and "Only one youth" in d.attrs["cautions"][0]
    g = pp.describe_groups(pd.DataFrame({"pre": [1.0, 2, 3], "post": [2.0, 2, 4],
                                         "group": [1, 1, 1]}), "pre", "post", "group")
    assert g.n.tolist() == [3, 3, 0, 0]
    assert any("comparison group" in c and "No youth" in c for c in g.attrs["cautions"])


# -- 6. the sweep: every public function on tiny and odd inputs ------------------------------------

HEADLINE = ("estimate", "se", "ci_low", "ci_high", "p_value", "diff", "diff_ci_low",
            "diff_ci_high", "mean_diff", "overall", "s_diff")
SE_PAIRS = (("estimate", "se"), ("mean_diff", "se"), ("change_diff", "change_diff_se"))


def check(res: Result) -> None:
    """No NaN headline without a caution; no zero SE beside a finite estimate."""
    for f in HEADLINE:
        v = getattr(res, f, None)
        if isinstance(v, float) and math.isnan(v):
            assert res.cautions, f"{type(res).__name__}.{f} is NaN and no caution says why"
    for est, se in SE_PAIRS:
        e, s = getattr(res, est, None), getattr(res, se, None)
        if isinstance(e, float) and isinstance(s, float) and math.isfinite(e):
            assert not s <= 1e-10 * max(1.0, abs(e)), f"{type(res).__name__}.{se} = {s}"


def frames():
    """Tiny and odd frames: n = 1..5, missing values, ties, constant columns, one group,
    all-missing post, proportions 0 or 1."""
    rng = np.random.default_rng(20261128)
    for n in range(1, 6):
        base = rng.normal(20, 5, n).round(1)
        change = rng.normal(-2, 3, n).round(1)
        variants = {
            "plain": (base, base + change),
            "ties": (np.round(base / 5), np.round((base + change) / 5)),
            "constant_pre": (np.full(n, 7.0), base + change),
            "constant_post": (base, np.full(n, 7.0)),
            "constant_change": (base, base + 3.0),
            "no_change": (base, base.copy()),
            "missing_post": (base, np.where(np.arange(n) % 2 == 1, np.nan, base + change)),
            "all_missing_post": (base, np.full(n, np.nan)),
        }
        for name, (pre, post) in variants.items():
            for groups in ("two", "one"):
                g = (np.arange(n) % 2) if groups == "two" else np.ones(n, int)
                yes_pre = (np.arange(n) % 3 == 0).astype(float)
                yes_post = {"plain": yes_pre[::-1], "ties": yes_pre,
                            "constant_pre": np.ones(n)}.get(name, np.zeros(n))
                yield f"{name}-n{n}-{groups}", pd.DataFrame({
                    "pre": pre, "post": post, "group": g, "site": np.arange(n) % 2,
                    "yes_pre": yes_pre, "yes_post": yes_post, "age": np.arange(n) * 1.0,
                })


CALLS = {
    "paired_change": lambda d: pp.paired_change(d, "pre", "post"),
    "signed_rank": lambda d: pp.signed_rank(d, "pre", "post"),
    "signed_rank_less": lambda d: pp.signed_rank(d, "pre", "post", alternative="less"),
    "mcnemar": lambda d: pp.mcnemar(d, "yes_pre", "yes_post"),
    "mcnemar_exact": lambda d: pp.mcnemar(d, "yes_pre", "yes_post", exact=True),
    "reliable_change": lambda d: pp.reliable_change(d, "pre", "post", reliability=0.8),
    "reliable_change_sd": lambda d: pp.reliable_change(d, "pre", "post", reliability=0.8,
                                                       sd=5.0, functional_mean=15.0,
                                                       functional_sd=4.0),
    "attrition": lambda d: pp.attrition(d, "pre", "post"),
    "attrition_groups": lambda d: pp.attrition(d, "pre", "post", group="group"),
    "compare_groups": lambda d: pp.compare_groups(d, "pre", "post", "group"),
    "compare_groups_cluster": lambda d: pp.compare_groups(d, "pre", "post", "group",
                                                          covariates=["age"], cluster="site"),
    "compare_proportions": lambda d: pp.compare_proportions(d, "yes_post", "group"),
    "describe": lambda d: pp.describe(d, "pre", "post"),
    "describe_groups": lambda d: pp.describe_groups(d, "pre", "post", "group"),
}


def test_sweep_every_public_function_on_tiny_and_odd_frames():
    outcomes = {"result": 0, "refused": 0}
    for label, df in frames():
        for name, call in CALLS.items():
            try:
                res = call(df)
            except EvalDataError as err:
                assert "column '" in str(err) or "table" in str(err), (label, name, str(err))
                outcomes["refused"] += 1
                continue
            except Exception as err:  # pragma: no cover - the failure being tested for
                raise AssertionError(f"{name} on {label}: {type(err).__name__}: {err}") from err
            outcomes["result"] += 1
            if isinstance(res, pd.DataFrame):
                # one caution per row whose mean or interval is missing or has no width
                unclear = res[["mean", "ci_low"]].isna().any(axis=1) | (res.sd == 0)
                assert len(res.attrs["cautions"]) == int(unclear.sum()), (label, name)
                continue
            check(res)
    # both kinds of answer occur: the sweep reaches the estimators, not only the checks
    assert outcomes["result"] > 100 and outcomes["refused"] > 100


@pytest.mark.parametrize("k", [2, 3, 5])
def test_sweep_meta_analysis(k):
    rng = np.random.default_rng(k)
    cases = [rng.normal(0.2, 0.2, k), np.full(k, 0.25), np.r_[np.full(k - 1, 0.1), 0.1 + 1e-15]]
    for effects in cases:
        for variances in (rng.uniform(0.005, 0.05, k), np.full(k, 0.02), np.geomspace(1e-8, 1, k)):
            for method, hk in itertools.product(("REML", "DL"), (True, False)):
                res = meta_analysis(effects, variances, method=method, hartung_knapp=hk)
                check(res)

"""Signed-rank, McNemar, Newcombe, reliable change: against R and published values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE, r_reference

import evalkit
from evalkit.exceptions import EvalDataError
from evalkit.methods.binary import mcnemar, newcombe_paired_interval
from evalkit.methods.prepost import signed_rank
from evalkit.methods.reliable_change import reliable_change


def ref(section: str) -> dict[str, float]:
    # R 4.2.2 output of tests/reference/prepost_more_reference.R
    return r_reference("prepost_more_reference.txt", section)


def data(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / name)


# -- signed rank -------------------------------------------------------------------------------

def test_signed_rank_exact_equals_r():
    r = ref("signed_rank_small")
    res = signed_rank(data("paired_small.csv"), pre="pre", post="post")
    assert res.method == "exact"
    assert res.V == r["V"]
    assert res.p_value == pytest.approx(r["p_value"], rel=1e-12)
    assert (res.estimate, res.ci_low, res.ci_high) == pytest.approx(
        (r["estimate"], r["ci_low"], r["ci_high"]), abs=1e-12)
    for alt in ("greater", "less"):
        one = signed_rank(data("paired_small.csv"), pre="pre", post="post", alternative=alt)
        assert one.p_value == pytest.approx(r[f"p_value_{alt}"], rel=1e-12)


def test_signed_rank_normal_approximation_with_ties_and_zeros_equals_r():
    # estimate and CI are roots that R finds with uniroot(tol = 1e-4): compare at 1e-3
    r = ref("signed_rank_ties")
    res = signed_rank(data("paired_ties.csv"), pre="pre", post="post")
    assert res.method == "normal approximation with continuity correction"
    assert res.V == r["V"] and res.n_zero == r["n_zero"] and res.n == r["n_nonzero"]
    assert res.p_value == pytest.approx(r["p_value"], rel=1e-9)
    assert res.estimate == pytest.approx(r["estimate"], abs=1e-3)
    assert res.ci_low == pytest.approx(r["ci_low"], abs=1e-3)
    assert res.ci_high == pytest.approx(r["ci_high"], abs=1e-3)
    # the same roots found by R with uniroot(tol.root = 1e-12)
    assert (res.estimate, res.ci_low, res.ci_high) == pytest.approx(
        (r["estimate_tight"], r["ci_low_tight"], r["ci_high_tight"]), abs=1e-8)
    nc = signed_rank(data("paired_ties.csv"), pre="pre", post="post", correct=False)
    assert nc.p_value == pytest.approx(r["p_value_nocorrect"], rel=1e-9)
    assert nc.ci_low == pytest.approx(r["ci_low_nocorrect"], abs=1e-3)
    assert nc.ci_high == pytest.approx(r["ci_high_nocorrect"], abs=1e-3)


def test_signed_rank_forced_approximation_equals_r():
    r = ref("signed_rank_small_approx")
    res = signed_rank(data("paired_small.csv"), pre="pre", post="post", exact=False)
    assert res.p_value == pytest.approx(r["p_value"], rel=1e-9)
    assert (res.estimate, res.ci_low, res.ci_high) == pytest.approx(
        (r["estimate"], r["ci_low"], r["ci_high"]), abs=1e-3)
    assert (res.estimate, res.ci_low, res.ci_high) == pytest.approx(
        (r["estimate_tight"], r["ci_low_tight"], r["ci_high_tight"]), abs=1e-8)


def test_signed_rank_published_examples():
    # R ?wilcox.test: sleep data V = 0, p-value = 0.009091 (normal approximation: a zero)
    res = signed_rank(data("sleep.csv"), pre="extra_drug2", post="extra_drug1")
    assert res.V == 0 and res.p_value == pytest.approx(0.009091, abs=5e-7) and res.n_zero == 1
    # Hollander & Wolfe (1973, p. 29): V = 40, p-value = 0.01953 (exact, one-sided)
    hw = pd.DataFrame({"x": [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30],
                       "y": [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29]})
    res = signed_rank(hw, pre="y", post="x", alternative="greater")
    assert res.V == 40 and res.p_value == pytest.approx(0.01953, abs=5e-6)
    r = ref("hollander_wolfe")
    two = signed_rank(hw, pre="y", post="x")
    assert (two.estimate, two.ci_low, two.ci_high) == pytest.approx(
        (r["estimate"], r["ci_low"], r["ci_high"]), abs=1e-12)


def test_signed_rank_swap_flips_and_zero_change_is_an_error():
    d = data("paired_ties.csv")
    a, b = signed_rank(d, pre="pre", post="post"), signed_rank(d, pre="post", post="pre")
    assert a.p_value == pytest.approx(b.p_value) and a.estimate == pytest.approx(-b.estimate, abs=2e-4)
    assert a.V + b.V == a.n * (a.n + 1) / 2
    with pytest.raises(EvalDataError, match="unchanged"):
        signed_rank(pd.DataFrame({"a": [1, 2, 3], "b": [1, 2, 3]}), pre="a", post="b")
    with pytest.raises(ValueError, match="alternative"):
        signed_rank(d, pre="pre", post="post", alternative="bigger")


# -- McNemar and Newcombe ----------------------------------------------------------------------

AGRESTI = pd.DataFrame([(1, 1)] * 794 + [(1, 0)] * 150 + [(0, 1)] * 86 + [(0, 0)] * 570,
                       columns=["first", "second"])


def test_mcnemar_agresti_presidential_approval():
    # R ?mcnemar.test: McNemar's chi-squared = 16.818, df = 1, p-value = 4.115e-05
    res = mcnemar(AGRESTI, pre="first", post="second")
    assert res.statistic == pytest.approx(16.818, abs=5e-4)
    assert res.p_value == pytest.approx(4.115e-05, abs=5e-9)
    assert (res.b, res.c) == (150, 86) and res.odds_ratio == pytest.approx(150 / 86)
    r = ref("mcnemar_agresti")
    assert mcnemar(AGRESTI, pre="first", post="second", correct=False).statistic == \
        pytest.approx(r["statistic_nocorrect"], rel=1e-10)
    assert mcnemar(AGRESTI, pre="first", post="second", exact=True).p_value == \
        pytest.approx(r["p_value_exact"], rel=1e-8)


def test_mcnemar_and_newcombe_equal_r_on_test_data():
    r, n = ref("mcnemar_binary"), ref("newcombe")
    res = mcnemar(data("paired_binary.csv"), pre="pre", post="post")
    assert (res.b, res.c) == (r["b_pre1_post0"], r["c_pre0_post1"])
    assert res.statistic == pytest.approx(r["statistic"], rel=1e-10)
    assert res.p_value == pytest.approx(r["p_value"], rel=1e-9)
    assert res.diff == pytest.approx(n["diff"], rel=1e-12)
    assert res.prop_post == pytest.approx(n["prop_post"]) and res.prop_pre == pytest.approx(n["prop_pre"])
    assert res.diff_ci_low == pytest.approx(n["ci_low"], rel=1e-9)
    assert res.diff_ci_high == pytest.approx(n["ci_high"], rel=1e-9)


@pytest.mark.parametrize("table, low, high", [
    # Newcombe (1998) Table III, method 10 (as transcribed in tests/reference/prepost_more_reference.R)
    ((36, 12, 2, 0), 0.0569, 0.3404), ((20, 12, 2, 16), 0.0562, 0.3292),
    ((18, 12, 2, 18), 0.0562, 0.3290), ((36, 14, 0, 0), 0.1528, 0.4167),
    ((35, 14, 0, 1), 0.1461, 0.4175), ((18, 14, 0, 18), 0.1441, 0.3963),
    ((2, 97, 1, 0), 0.8721, 0.9854), ((1, 97, 1, 1), 0.8736, 0.9850),
    ((0, 29, 1, 0), 0.6666, 0.9882), ((2, 98, 0, 0), 0.9178, 0.9945),
    ((0, 30, 0, 0), 0.8395, 1.0000), ((54, 0, 0, 0), -0.0664, 0.0664),
    ((53, 0, 0, 1), -0.0729, 0.0729), ((30, 0, 0, 24), -0.0358, 0.0358),
    ((27, 0, 0, 27), -0.0351, 0.0351),
])
def test_newcombe_published_intervals(table, low, high):
    # Newcombe (1998) Table III, method 10, as transcribed in tests/reference/
    # wwc_attrition_README.md; printed to 4 decimals (one row's last digit is off by one in
    # the transcriptions, hence 1e-4)
    a, b, c, d = table  # Newcombe's difference is (b - c)/n, first minus second
    diff, lo, hi = newcombe_paired_interval(a, c, b, d)
    assert diff == pytest.approx((b - c) / sum(table))
    assert lo == pytest.approx(low, abs=1e-4) and hi == pytest.approx(high, abs=1e-4)


def test_newcombe_contingencytables_example():
    # R contingencytables tests/testthat/test-ch8.R: rbind(c(59, 6), c(16, 80)) gives
    # -0.0621 (-0.1186 to -0.0046) for first minus second; ours is second minus first
    diff, lo, hi = newcombe_paired_interval(59, 6, 16, 80)
    assert (round(diff, 4), round(lo, 4), round(hi, 4)) == (0.0621, 0.0046, 0.1186)


def test_mcnemar_input_checks():
    with pytest.raises(EvalDataError, match="not 0 or 1"):
        mcnemar(pd.DataFrame({"a": [0, 2, 1], "b": [1, 1, 0]}), pre="a", post="b")
    with pytest.raises(EvalDataError, match="no pair changed"):
        mcnemar(pd.DataFrame({"a": [0, 1, 1], "b": [0, 1, 1]}), pre="a", post="b")


# -- reliable change ---------------------------------------------------------------------------

def test_jacobson_truax_worked_case():
    # Jacobson & Truax (1991): s1 = 7.5, r_xx = .88, pre 30, post 18 -> S_E 2.598,
    # S_diff 3.674, RC -3.27, minimum reliable change 7.20 points
    df = pd.DataFrame({"pre": [30.0], "post": [18.0]})
    res = reliable_change(df, "pre", "post", reliability=0.88, sd=7.5)
    assert res.s_e == pytest.approx(2.598, abs=5e-4)
    assert res.s_diff == pytest.approx(3.674, abs=5e-4)
    assert res.rci(df).iloc[0] == pytest.approx(-3.27, abs=5e-3)
    assert res.threshold == pytest.approx(7.20, abs=5e-3)
    assert res.categories(df).tolist() == ["improved"]  # no norms: nobody "recovered"


def test_cutoff_criteria_are_jacobson_truax_formulas():
    df = pd.DataFrame({"pre": [30.0, 40, 20, 35, 33], "post": [18.0, 41, 30, 33, 20]})
    kw = dict(reliability=0.88, sd=7.5, functional_mean=15.0, functional_sd=6.0,
              dysfunctional_mean=35.0, dysfunctional_sd=8.0)
    assert reliable_change(df, "pre", "post", criterion="a", **kw).cutoff == 35 - 2 * 8
    assert reliable_change(df, "pre", "post", criterion="b", **kw).cutoff == 15 + 2 * 6
    c = reliable_change(df, "pre", "post", **kw)
    assert c.criterion == "c" and c.cutoff == pytest.approx((6 * 35 + 8 * 15) / (6 + 8))
    assert c.categories(df).tolist() == ["recovered", "unchanged", "deteriorated", "unchanged",
                                         "recovered"]
    assert c.counts == {"recovered": 2, "improved": 0, "unchanged": 2, "deteriorated": 1}
    assert sum(c.proportions.values()) == pytest.approx(1.0)
    up = reliable_change(-df, "pre", "post", higher_is_better=True, reliability=0.88, sd=7.5)
    assert up.categories(-df).tolist() == ["improved", "unchanged", "deteriorated", "unchanged",
                                            "improved"]


def test_reliable_change_input_checks():
    df = pd.DataFrame({"pre": [1.0, 2.0], "post": [2.0, 1.0]})
    with pytest.raises(ValueError, match="reliability"):
        reliable_change(df, "pre", "post", reliability=1.2)
    with pytest.raises(ValueError, match="criterion"):
        reliable_change(df, "pre", "post", reliability=0.8, criterion="d")
    with pytest.raises(ValueError, match="functional_mean"):
        reliable_change(df, "pre", "post", reliability=0.8, criterion="b")


def test_public_names():
    for name in ("paired_change", "signed_rank", "mcnemar", "reliable_change", "describe"):
        assert callable(getattr(evalkit.prepost, name)), name


# -- comparison group --------------------------------------------------------------------------

def test_ancova_hc2_equals_estimatr():
    from evalkit.methods.groups import compare_groups

    r = ref("ancova_hc2")
    res = compare_groups(data("groups.csv"), "pre", "post", "group", covariates=["age"])
    assert res.vcov == "HC2" and res.df == r["group_df"]
    for term, name in (("group", "group"), ("pre", "pre"), ("age", "age")):
        row = res.terms.set_index("term").loc[term]
        assert row["estimate"] == pytest.approx(r[f"{name}_coef"], rel=1e-9)
        assert row["se"] == pytest.approx(r[f"{name}_se"], rel=1e-9)
        assert row["p_value"] == pytest.approx(r[f"{name}_p_value"], rel=1e-6)
        assert row["ci_low"] == pytest.approx(r[f"{name}_ci_low"], rel=1e-9)
        assert row["ci_high"] == pytest.approx(r[f"{name}_ci_high"], rel=1e-9)
    c = ref("change_score")
    assert res.change_diff == pytest.approx(c["group_coef"], rel=1e-9)
    assert res.change_diff_se == pytest.approx(c["group_se"], rel=1e-9)
    assert res.change_diff_ci_low == pytest.approx(c["group_ci_low"], rel=1e-9)


def test_ancova_clustered_cr1_equals_estimatr_stata():
    from evalkit.methods.groups import compare_groups

    r = ref("ancova_cr1")
    res = compare_groups(data("groups.csv"), "pre", "post", "group", covariates=["age"],
                         cluster="site")
    assert res.vcov == "CR1" and res.n_clusters == r["n_clusters"] and res.df == r["group_df"]
    assert res.estimate == pytest.approx(r["group_coef"], rel=1e-9)
    assert res.se == pytest.approx(r["group_se"], rel=1e-9)
    assert res.p_value == pytest.approx(r["group_p_value"], rel=1e-6)
    assert (res.ci_low, res.ci_high) == pytest.approx((r["group_ci_low"], r["group_ci_high"]),
                                                      rel=1e-9)


def test_wwc_effect_size_improvement_index_and_baseline():
    from evalkit.methods.effect_sizes import hedges_g_wwc, improvement_index, wwc_omega
    from evalkit.methods.groups import baseline_equivalence, compare_groups

    d = data("groups.csv")
    res = compare_groups(d, "pre", "post", "group", covariates=["age"], lower_is_better=True)
    p, c = d[d.group == 1], d[d.group == 0]
    n1, n0 = len(p), len(c)
    sp = math.sqrt(((n1 - 1) * p.post.var() + (n0 - 1) * c.post.var()) / (n1 + n0 - 2))
    # WWC Handbook 4.1, Appendix E: g = (1 - 3/(4N - 9)) * diff / pooled SD
    assert res.g == pytest.approx((1 - 3 / (4 * (n1 + n0) - 9)) * res.estimate / sp, rel=1e-12)
    assert wwc_omega(100) == pytest.approx(1 - 3 / 391)
    # improvement index: Phi(g) - 0.5 in percentile points, positive = better
    assert improvement_index(0.25) == pytest.approx(9.87, abs=0.005)  # WWC: g 0.25 -> +10
    assert res.improvement_index > 0 and res.g < 0
    assert baseline_equivalence(0.05) == "satisfied"
    assert baseline_equivalence(-0.2) == "satisfied with adjustment"
    assert baseline_equivalence(0.26) == "not satisfied"
    assert res.baseline_g == pytest.approx(
        hedges_g_wwc(p.pre.mean() - c.pre.mean(), p.pre.std(), n1, c.pre.std(), n0))


def test_compare_groups_checks_its_input():
    from evalkit.methods.groups import compare_groups

    d = data("groups.csv")
    with pytest.raises(EvalDataError, match="not 0 or 1"):
        compare_groups(d.assign(group=d.group + 1), "pre", "post", "group")
    with pytest.raises(EvalDataError, match="collinear"):
        compare_groups(d.assign(age2=d.pre * 2), "pre", "post", "group", covariates=["age2"])
    with pytest.raises(EvalDataError, match="only one cluster"):
        compare_groups(d.assign(site=1), "pre", "post", "group", cluster="site")


# -- attrition ---------------------------------------------------------------------------------

def test_wwc_boundary_table_points():
    from evalkit.methods.attrition import max_differential, wwc_boundary

    t = wwc_boundary().set_index("overall")
    # WWC Handbook 4.1 Table II.1 as pinned by the R package baselinr's tests:
    # 0% overall -> 5.7 (cautious) / 10.0 (optimistic); 30% -> 4.1 / 8.2; 58%+ always high
    assert (t.loc[0, "cautious"], t.loc[0, "optimistic"]) == (5.7, 10.0)
    assert (t.loc[30, "cautious"], t.loc[30, "optimistic"]) == (4.1, 8.2)
    assert math.isnan(max_differential(0.58, "cautious"))
    assert max_differential(0.65, "optimistic") == 0.3
    assert math.isnan(max_differential(0.70, "optimistic"))
    # between two rows the stricter limit applies
    assert max_differential(0.105, "cautious") == min(t.loc[10, "cautious"], t.loc[11, "cautious"])
    assert max_differential(0.30) == 4.1
    with pytest.raises(ValueError):
        max_differential(0.3, "pessimistic")


def _attrition_data(n_prog, lost_prog, n_comp, lost_comp):
    rows = []
    for g, n, lost in (("program", n_prog, lost_prog), ("comparison", n_comp, lost_comp)):
        for i in range(n):
            rows.append({"g": g, "pre": 40.0 + (i % 7), "post": np.nan if i < lost else 30.0})
    return pd.DataFrame(rows)


def test_attrition_low_and_high_under_the_boundary():
    from evalkit.methods.attrition import attrition

    # 100 + 100 youth, 15 and 12 lost: overall 13.5%, differential 3 points -> low (cautious)
    a = attrition(_attrition_data(100, 15, 100, 12), "pre", "post", group="g")
    assert a.overall == pytest.approx(0.135) and a.differential == pytest.approx(0.03)
    assert a.by_group == {"comparison": pytest.approx(0.12), "program": pytest.approx(0.15)}
    assert a.max_differential == 6.0 and a.low is True
    # 30 and 20 lost: overall 25%, differential 10 points -> high even when optimistic (9.2)
    b = attrition(_attrition_data(100, 30, 100, 20), "pre", "post", group="g",
                  boundary="optimistic")
    assert b.max_differential == 9.2 and b.low is False
    one = attrition(_attrition_data(50, 10, 0, 0), "pre", "post")
    assert one.low is None and one.overall == pytest.approx(0.2)


def test_attrition_compares_completers_with_those_lost():
    from evalkit.methods.attrition import attrition

    d = pd.DataFrame({"pre": [10.0, 12, 14, 30, 32, 34], "post": [1, 1, 1, np.nan, np.nan, np.nan]})
    a = attrition(d, "pre", "post")
    assert a.mean_pre_completers == 12 and a.mean_pre_lost == 32
    # WWC g: omega * (12 - 32) / pooled SD (2); omega = 1 - 3/(4*6 - 9)
    assert a.pre_g == pytest.approx((1 - 3 / 15) * -20 / 2)
    with pytest.raises(EvalDataError, match="exactly two groups"):
        attrition(d.assign(g=["a", "b", "c", "a", "b", "c"]), "pre", "post", group="g")


def test_cox_index_closed_form():
    from evalkit.methods.effect_sizes import cox_index

    # ln(OR) / 1.65: 60% vs 50% -> ln(1.5) / 1.65
    assert cox_index(0.6, 0.5) == pytest.approx(math.log(1.5) / 1.65, rel=1e-15)
    assert cox_index(0.5, 0.6) == pytest.approx(-cox_index(0.6, 0.5))
    with pytest.raises(ValueError, match="strictly between"):
        cox_index(1.0, 0.5)


@pytest.mark.parametrize("counts, low, high", [
    # Newcombe (1998), Statistics in Medicine 17:873, Table II, method 10
    ((56, 70, 48, 80), 0.0524, 0.3339), ((9, 10, 3, 10), 0.1705, 0.8090),
    ((6, 7, 2, 7), 0.0582, 0.8062),
])
def test_newcombe_independent_interval_published(counts, low, high):
    from evalkit.methods.binary import newcombe_independent_interval

    diff, lo, hi = newcombe_independent_interval(*counts)
    assert diff == pytest.approx(counts[0] / counts[1] - counts[2] / counts[3])
    assert (round(lo, 4), round(hi, 4)) == (low, high)


def test_compare_proportions_cox_index():
    from evalkit.methods.binary import compare_proportions

    d = pd.DataFrame({"g": [1] * 70 + [0] * 80,
                      "y": [1] * 56 + [0] * 14 + [1] * 48 + [0] * 32})
    res = compare_proportions(d, "y", "g")
    assert (res.diff_ci_low, res.diff_ci_high) == pytest.approx((0.0524, 0.3339), abs=5e-5)
    log_or = math.log((56 * 32) / (14 * 48))
    assert res.cox_index == pytest.approx(log_or / 1.65)
    se = math.sqrt(1 / 56 + 1 / 14 + 1 / 48 + 1 / 32)
    assert res.cox_ci_high == pytest.approx((log_or + 1.959963984540054 * se) / 1.65)
    with pytest.raises(EvalDataError, match="infinite"):
        compare_proportions(d.assign(y=d["g"]), "y", "g")

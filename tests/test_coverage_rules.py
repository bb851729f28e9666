"""Designs the coverage self-check (benchmarks/coverage.py) found outside 93–97% are refused or
cautioned: clustered yes/no outcomes, programs assigned by site, skewed small samples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE, r_reference

import evalkit.prepost as pp
from evalkit.exceptions import DesignRefused
from evalkit.methods.prepost import SMALL_PAIRED_N


@pytest.mark.parametrize("name", ["proportions_clustered", "proportions_clustered_mixed"])
def test_clustered_difference_in_proportions_equals_estimatr_cr1(name):
    # R estimatr 1.0.0: lm_robust(school ~ in_program, clusters = site, se_type = "stata")
    r = r_reference("proportions_clustered.txt", name)
    d = pd.read_csv(REFERENCE / f"{name}.csv")
    res = pp.compare_proportions(d, "school", "in_program", cluster="site")
    assert res.diff == pytest.approx(r["estimate"], abs=1e-12)
    assert res.diff == pytest.approx(res.prop_program - res.prop_comparison, abs=1e-12)
    assert res.diff_ci_low == pytest.approx(r["ci_low"], abs=1e-10)
    assert res.diff_ci_high == pytest.approx(r["ci_high"], abs=1e-10)
    assert res.p_value == pytest.approx(r["p_value"], abs=1e-10)
    assert np.isnan(res.cox_ci_low) and np.isfinite(res.cox_index)
    assert any("Cox index's interval" in c and not c.limits for c in res.cautions)
    # without the clusters, Newcombe's interval for independent proportions is used
    plain = pp.compare_proportions(d, "school", "in_program")
    assert plain.diff == pytest.approx(res.diff, abs=1e-12)
    assert (plain.diff_ci_low, plain.diff_ci_high) != pytest.approx((res.diff_ci_low,
                                                                     res.diff_ci_high))


def test_a_program_at_too_few_sites_is_refused_for_yes_no_outcomes_too():
    d = pd.read_csv(REFERENCE / "proportions_clustered.csv")
    few = d[d["site"].isin(["S00", "S01", "S05", "S06", "S07", "S08"])]  # 2 program sites
    with pytest.raises(DesignRefused, match="only 2 cluster"):
        pp.compare_proportions(few, "school", "in_program", cluster="site")


def _changes(diffs: np.ndarray) -> pd.DataFrame:
    pre = np.full(diffs.size, 40.0) + np.arange(diffs.size) % 3
    return pd.DataFrame({"pre": pre, "post": pre + diffs})


def test_small_paired_samples_carry_a_limiting_caution_that_points_to_the_signed_rank():
    rng = np.random.default_rng(4)
    small = -np.round(rng.exponential(5.0, SMALL_PAIRED_N - 1), 1)
    (c,) = [c for c in pp.paired_change(_changes(small), pre="pre", post="post").cautions
            if "bell-shaped" in c]
    assert c.limits and f"{SMALL_PAIRED_N - 1} youth" in c and "signed-rank" in c
    big = -np.round(rng.exponential(5.0, SMALL_PAIRED_N), 1)
    assert not any("bell-shaped" in c for c in pp.paired_change(
        _changes(big), pre="pre", post="post").cautions)


def _w_ranked(x, d, correct, alternative):
    """R's wdiff as written: rank every shifted change (scipy's midranks), table the ranks."""
    from scipy.stats import rankdata

    xd = x - d
    xd = xd[xd != 0]
    nx = xd.size
    dr = rankdata(np.abs(xd))
    zd = dr[xd > 0].sum() - nx * (nx + 1) / 4
    _, ties = np.unique(dr, return_counts=True)
    var = nx * (nx + 1) * (2 * nx + 1) / 24 - (ties.astype(float) ** 3 - ties).sum() / 48
    corr = 0.0
    if correct:
        corr = {"two-sided": np.sign(zd) * 0.5, "greater": 0.5, "less": -0.5}[alternative]
    return (zd - corr) / np.sqrt(var)


@pytest.mark.parametrize("seed", range(6))
def test_signed_rank_statistic_on_distinct_values_equals_ranking_every_change(seed):
    from evalkit.methods.signed_rank import _w_stat

    rng = np.random.default_rng(seed)
    x = rng.integers(-6, 9, 400).astype(float) / (2 if seed % 2 else 1)  # heavy ties
    values, counts = np.unique(x, return_counts=True)
    for d in np.r_[rng.uniform(-5, 7, 8), values[:4], (values[1:4] + values[2:5]) / 2]:
        for alternative in ("two-sided", "greater", "less"):
            want = _w_ranked(x, d, True, alternative)
            assert _w_stat(values, d, True, alternative, counts) == pytest.approx(want,
                                                                                  rel=1e-12)
            assert _w_stat(x, d, True, alternative) == pytest.approx(want, rel=1e-12)

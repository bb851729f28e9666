"""evalkit.prepost.paired_change against R and published values, plus properties."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE, r_reference

import evalkit
from evalkit.exceptions import EvalDataError
from evalkit.methods.prepost import describe, hedges_j, paired_change


def _r_values(section: str | None = None) -> dict[str, float]:
    return r_reference("prepost_reference.txt", section)


@pytest.fixture(scope="module")
def sleep() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "sleep.csv")


LAKENS = pd.DataFrame({"movie1": [9, 7, 8, 9, 8, 9, 9, 10, 9, 9],
                       "movie2": [9, 6, 7, 8, 7, 9, 8, 8, 8, 7]})


def test_sleep_paired_t_test_equals_r(sleep):
    # R: t.test(extra ~ group, data = sleep, paired = TRUE): t = -4.0621, df = 9,
    # p-value = 0.002833, 95% CI -2.4598858 -0.7001142, mean of the differences -1.58
    res = paired_change(sleep, pre="extra_drug2", post="extra_drug1")
    assert res.t == pytest.approx(-4.0621, abs=5e-5)
    assert res.df == 9
    assert res.p_value == pytest.approx(0.002833, abs=5e-7)
    assert res.ci_low == pytest.approx(-2.4598858, abs=5e-8)
    assert res.ci_high == pytest.approx(-0.7001142, abs=5e-8)
    assert res.mean_diff == pytest.approx(-1.58, abs=1e-12)
    r = _r_values()
    assert res.t == pytest.approx(r["sleep_t"], rel=1e-9)
    assert res.p_value == pytest.approx(r["sleep_p"], rel=1e-8)


def test_sleep_g_av_and_ci_equal_metafor(sleep):
    # metafor 3.8-1 escalc("SMCR") with the standardizer set to the mean of the two SDs
    res = paired_change(sleep, pre="extra_drug2", post="extra_drug1")
    r = _r_values("sleep")
    assert res.g_av == pytest.approx(r["g_av"], rel=1e-9)
    assert res.g_av_ci_low == pytest.approx(r["ci_low"], rel=1e-8)
    assert res.g_av_ci_high == pytest.approx(r["ci_high"], rel=1e-8)


def test_lakens_2013_movie_ratings():
    # Lakens (2013) Front. Psychol. 4:863: t(9) = 4.74, r = .726, d_z = 1.50, d_av = 1.1287
    res = paired_change(LAKENS, pre="movie2", post="movie1")
    assert res.t == pytest.approx(4.74, abs=0.005)
    assert res.r == pytest.approx(0.726, abs=0.0005)
    assert res.d_z == pytest.approx(1.50, abs=0.005)
    assert res.d_av == pytest.approx(1.1287, abs=0.00005)
    r = _r_values("lakens")
    assert res.g_av == pytest.approx(r["g_av"], rel=1e-9)
    assert res.g_av_ci_low == pytest.approx(r["ci_low"], rel=1e-8)
    assert res.g_av_ci_high == pytest.approx(r["ci_high"], rel=1e-8)
    # d_rm (Lakens eq. 9) = d_z * sqrt(2 (1 - r))
    assert res.d_rm == pytest.approx(res.d_z * math.sqrt(2 * (1 - res.r)), rel=1e-12)


def test_hedges_j_closed_forms():
    # J(2) = Γ(1) / (1 · Γ(1/2)) = 1/√π ;  J(3) = Γ(3/2) / (√(3/2) Γ(1)) = (√π / 2) / √1.5
    assert hedges_j(2) == pytest.approx(1 / math.sqrt(math.pi), rel=1e-14)
    assert hedges_j(3) == pytest.approx(math.sqrt(math.pi) / 2 / math.sqrt(1.5), rel=1e-14)
    # Hedges (1981) approximation 1 - 3/(4 df - 1) is accurate to O(df^-2)
    assert hedges_j(100) == pytest.approx(1 - 3 / 399, abs=2e-5)
    assert math.isnan(hedges_j(1))


def test_missing_scores_are_dropped_and_counted(sleep):
    full = paired_change(sleep, pre="extra_drug2", post="extra_drug1")
    extra = pd.DataFrame({"id": [11, 12, 13], "extra_drug1": [np.nan, 1.0, np.nan],
                          "extra_drug2": [2.0, np.nan, np.nan]})
    res = paired_change(pd.concat([sleep, extra]), pre="extra_drug2", post="extra_drug1")
    assert res.n == 10 and res.n_dropped == 3
    assert res.t == full.t and res.ci_low == full.ci_low


@pytest.mark.parametrize("seed", range(5))
def test_swapping_pre_and_post_flips_every_sign(seed):
    rng = np.random.default_rng(seed)
    pre = rng.normal(40, 10, 30)
    df = pd.DataFrame({"a": pre, "b": pre + rng.normal(-3, 6, 30)})
    ab, ba = paired_change(df, pre="a", post="b"), paired_change(df, pre="b", post="a")
    for f in ("mean_diff", "t", "d_z", "d_av", "g_av", "d_rm"):
        assert getattr(ab, f) == pytest.approx(-getattr(ba, f), rel=1e-12), f
    assert ab.ci_low == pytest.approx(-ba.ci_high, rel=1e-12)
    assert ab.g_av_ci_low == pytest.approx(-ba.g_av_ci_high, rel=1e-12)
    assert ab.p_value == pytest.approx(ba.p_value, rel=1e-12)
    assert ab.se == pytest.approx(ba.se, rel=1e-12)


@pytest.mark.parametrize("shift", [-100.0, 7.5, 1e4])
def test_adding_a_constant_to_both_changes_nothing(shift):
    rng = np.random.default_rng(1)
    pre = rng.normal(40, 10, 25)
    df = pd.DataFrame({"a": pre, "b": pre + rng.normal(2, 5, 25)})
    moved = df + shift
    x, y = paired_change(df, pre="a", post="b"), paired_change(moved, pre="a", post="b")
    for f in ("mean_diff", "sd_diff", "t", "p_value", "ci_low", "ci_high", "d_z", "d_av",
              "g_av", "g_av_ci_low", "g_av_ci_high", "r"):
        assert getattr(x, f) == pytest.approx(getattr(y, f), rel=1e-7, abs=1e-9), f


def test_a_single_pair_or_constant_change_is_a_clear_error():
    with pytest.raises(EvalDataError, match="only 1 complete pair"):
        paired_change(pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, np.nan]}), pre="a", post="b")
    with pytest.raises(EvalDataError, match="changes by exactly 2"):
        paired_change(pd.DataFrame({"a": [1.0, 2.0, 5.0], "b": [3.0, 4.0, 7.0]}), pre="a",
                      post="b")


def test_bad_arguments():
    df = pd.DataFrame({"a": [1.0, 2.0, 4.0], "b": [3.0, 3.0, 5.0], "t": ["x", "y", "z"]})
    with pytest.raises(EvalDataError, match="column 'c': required column is missing"):
        paired_change(df, pre="a", post="c")
    with pytest.raises(EvalDataError, match="not numbers"):
        paired_change(df, pre="a", post="t")
    with pytest.raises(ValueError, match="same column"):
        paired_change(df, pre="a", post="a")
    with pytest.raises(ValueError, match="alpha"):
        paired_change(df, pre="a", post="b", alpha=1.5)


def test_alpha_sets_the_interval_width(sleep):
    wide = paired_change(sleep, pre="extra_drug2", post="extra_drug1", alpha=0.01)
    narrow = paired_change(sleep, pre="extra_drug2", post="extra_drug1")
    assert wide.ci_low < narrow.ci_low and wide.ci_high > narrow.ci_high
    assert wide.alpha == 0.01 and wide.confidence == pytest.approx(0.99)


def test_result_conventions(sleep):
    res = evalkit.prepost.paired_change(sleep, pre="extra_drug2", post="extra_drug1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.n = 3  # type: ignore[misc]
    frame = res.to_frame()
    assert list(frame.columns[:7]) == ["term", "estimate", "se", "ci_low", "ci_high", "p_value",
                                      "statistic"]
    assert frame.loc[0, "term"] == "mean change" and frame.loc[0, "estimate"] == res.estimate
    text = res.summary()
    assert "Paired change" in text and "-1.58" in text and "alpha=0.05" in text
    assert "<table>" in res._repr_html_()
    d = res.to_dict()
    assert d["n"] == 10 and isinstance(d["p_value"], float)


def test_describe_separates_everyone_from_completers():
    df = pd.DataFrame({"a": [10.0, 20.0, 30.0, 40.0], "b": [8.0, 18.0, np.nan, np.nan]})
    d = describe(df, "a", "b").set_index("sample")
    assert d.loc["all_pre", "n"] == 4 and d.loc["all_pre", "mean"] == 25
    assert d.loc["complete_pre", "n"] == 2 and d.loc["complete_pre", "mean"] == 15
    assert d.loc["complete_post", "mean"] == 13
    # t-based CI: mean ± t(0.975, n-1) * sd / sqrt(n); for 10, 20, 30, 40: sd = 12.9099
    half = 3.182446305284263 * 12.909944487358056 / 2
    assert d.loc["all_pre", "ci_low"] == pytest.approx(25 - half, rel=1e-12)

"""Interrupted time series (segmented regression) against R and the Lopez Bernal et al. tutorial.

Reference values: tests/reference/its_reference.R (R glm poisson / quasipoisson with offsets
and tsModel-style harmonic terms, lm, sandwich::NeweyWest(prewhite = FALSE) with lmtest),
written to tests/reference/its_reference.csv; see tests/reference/its_README.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.exceptions import EvalDataError, EvalOptionError
from evalkit.methods.policy.its import interrupted_time_series as its
from evalkit.methods.policy.its import placebo_its

REF = Path(__file__).parent / "reference"
RTOL = 1e-6
COLS = ["estimate", "se", "p_value", "ci_low", "ci_high"]


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return pd.read_csv(REF / "its_data.csv")


@pytest.fixture(scope="module")
def ref() -> pd.DataFrame:
    return pd.read_csv(REF / "its_reference.csv", comment="#", skipinitialspace=True)


def r_rows(ref: pd.DataFrame, model: str) -> pd.DataFrame:
    return ref[ref["model"] == model].set_index("term")


def r_values(ref: pd.DataFrame, model: str) -> np.ndarray:
    return r_rows(ref, model)["estimate"].to_numpy(float)


def match_r(res, ref: pd.DataFrame, model: str, rename: dict[str, str] | None = None,
            terms: list[str] | None = None) -> None:
    ours = res.coefficients.set_index("term").rename(index={"(intercept)": "(Intercept)",
                                                            **(rename or {})})
    r = r_rows(ref, model)
    terms = terms or list(r.index)
    assert len(terms) >= 2
    for col in COLS:
        np.testing.assert_allclose(ours.loc[terms, col].to_numpy(float),
                                   r.loc[terms, col].to_numpy(float), rtol=RTOL, atol=1e-300,
                                   err_msg=f"{model}: {col}")


COUNT = {"offset": "log_pop", "harmonics": 2}


# -- against R ---------------------------------------------------------------------------------

def test_poisson_matches_r_glm(data, ref):
    res = its(data, "count", "month", "2018-01-01", family="poisson", **COUNT)
    match_r(res, ref, "poisson")
    assert res.inference == "normal" and res.df_residual == 64
    assert res.dispersion == pytest.approx(r_values(ref, "poisson_fit")[0], rel=RTOL)
    # the counts are overdispersed (negative binomial): the poisson fit says so
    assert any("quasipoisson" in c for c in res.cautions)
    assert res.rate_ratio is not None
    assert res.rate_ratio.estimate == pytest.approx(np.exp(res.level.estimate))


def test_quasipoisson_matches_r_glm(data, ref):
    res = its(data, "count", "t", 36, family="quasipoisson", **COUNT)
    match_r(res, ref, "quasipoisson")
    assert res.inference == "t"
    assert res.dispersion == pytest.approx(r_values(ref, "quasipoisson_fit")[0], rel=RTOL)
    assert (res.n, res.n_pre, res.n_post) == (72, 36, 36)
    lvl, slope = res.level, res.slope
    assert slope is not None and res.rate_ratio is not None and res.slope_rate_ratio is not None
    np.testing.assert_allclose([res.rate_ratio.ci_low, res.rate_ratio.ci_high],
                               np.exp([lvl.ci_low, lvl.ci_high]), rtol=1e-12)
    assert res.slope_rate_ratio.estimate == pytest.approx(np.exp(slope.estimate))
    # fitted and counterfactual series (counterfactual = level and slope terms set to zero)
    np.testing.assert_allclose(res.series["fitted"], r_values(ref, "quasipoisson_fitted"),
                               rtol=RTOL)
    np.testing.assert_allclose(res.series["counterfactual"],
                               r_values(ref, "quasipoisson_counterfactual"), rtol=RTOL)
    # deviance-residual ACF (R acf) and Ljung-Box (R Box.test)
    auto = res.autocorrelation
    assert auto.residuals == "deviance"
    np.testing.assert_allclose(auto.acf.to_numpy(), r_values(ref, "quasipoisson_deviance_acf"),
                               rtol=RTOL)
    q, df, p = r_values(ref, "quasipoisson_deviance_ljungbox")
    assert (auto.ljung_box.statistic, auto.ljung_box.df, auto.ljung_box.p_value) == \
        pytest.approx((q, df, p), rel=RTOL)
    assert not any("autocorrelated" in c for c in res.cautions)


def test_lm_matches_r_and_flags_autocorrelation(data, ref):
    res = its(data, "y", "t", 36, harmonics=1)
    match_r(res, ref, "lm")
    assert res.rate_ratio is None and res.dispersion is None
    np.testing.assert_allclose(res.autocorrelation.acf.to_numpy(),
                               r_values(ref, "lm_residual_acf"), rtol=RTOL)
    q, _, p = r_values(ref, "lm_residual_ljungbox")
    assert res.autocorrelation.ljung_box.statistic == pytest.approx(q, rel=RTOL)
    assert res.autocorrelation.ljung_box.p_value == pytest.approx(p, rel=RTOL)
    assert p < 0.05 and any("hac_lags" in c for c in res.cautions)


def test_newey_west_matches_sandwich(data, ref):
    res = its(data, "y", "t", 36, harmonics=1, hac_lags=3)
    match_r(res, ref, "lm_neweywest3")
    assert res.hac_lags == 3 and res.inference == "t"
    assert not any("hac_lags" in c for c in res.cautions)
    plain = its(data, "y", "t", 36, harmonics=1)
    assert res.level.estimate == plain.level.estimate
    assert res.level.se != pytest.approx(plain.level.se, rel=1e-3)


def test_level_only_matches_r(data, ref):
    res = its(data, "y", "t", 36, slope_change=False)
    match_r(res, ref, "lm_level_only")
    assert res.slope is None and res.slope_rate_ratio is None
    assert list(res.to_frame()["term"]) == ["level", "trend"]


def test_placebo_matches_r(data, ref):
    res = placebo_its(data, "count", "t", 36, family="quasipoisson", **COUNT)
    match_r(res, ref, "placebo_quasipoisson")
    assert res.placebo and res.intervention == 18 and res.n == 36
    assert "placebo" in res.summary()
    explicit = placebo_its(data, "count", "t", 36, placebo=18, family="quasipoisson", **COUNT)
    assert explicit.level == res.level


def test_sicily_smoking_ban_published(ref):
    """Lopez Bernal et al. (2017) model 3: rate ratio 0.885 for the smoking ban."""
    s = pd.read_csv(REF / "its_sicily.csv")
    s["log_stdpop"] = np.log(s["stdpop"])
    res = its(s, "aces", "time", 37, family="quasipoisson", offset="log_stdpop", harmonics=2,
              slope_change=False)
    match_r(res, ref, "sicily_quasipoisson", {"level": "smokban", "trend": "time"},
            terms=["smokban", "time"])
    assert res.rate_ratio is not None
    assert round(res.rate_ratio.estimate, 3) == 0.885
    # harmonics of the calendar month (the tutorial's) span the same functions
    month_fit = r_values(ref, "sicily_month_harmonics")
    np.testing.assert_allclose([res.level.estimate, res.trend.estimate], month_fit, rtol=1e-6)
    # the tutorial's CI uses the normal quantile (Epi::ci.lin): 0.839 to 0.933 with R's SE
    z = 1.959963984540054
    lo, hi = np.exp(res.level.estimate + np.array([-z, z]) * res.level.se)
    assert (round(lo, 3), round(hi, 3)) == (0.839, 0.933)


def test_ljung_box_equals_statsmodels(data):
    diag = pytest.importorskip("statsmodels.stats.diagnostic")
    res = its(data, "count", "t", 36, family="poisson", **COUNT)
    lb = res.autocorrelation.ljung_box
    resid = res.series["observed"].to_numpy()
    fitted = res.series["fitted"].to_numpy()
    dev = np.sign(resid - fitted) * np.sqrt(2 * (resid * np.log(resid / fitted)
                                                 - (resid - fitted)))
    sm = diag.acorr_ljungbox(dev, lags=[int(lb.df)])
    assert lb.statistic == pytest.approx(float(sm["lb_stat"].iloc[0]), rel=1e-10)


# -- properties --------------------------------------------------------------------------------

def test_counterfactual_equals_fitted_before_the_intervention(data):
    res = its(data, "count", "t", 36, family="quasipoisson", **COUNT)
    ser = res.series
    pre, post = ser[~ser["post"]], ser[ser["post"]]
    np.testing.assert_allclose(pre["fitted"], pre["counterfactual"], rtol=1e-12)
    # a falling level and slope: the counterfactual lies above the fit after the intervention
    assert (post["counterfactual"] > post["fitted"]).all()
    assert list(ser.columns[:6]) == ["time", "index", "post", "observed", "fitted",
                                     "counterfactual"]


def test_time_as_dates_periods_and_shuffled_rows(data):
    base = its(data, "count", "t", 36, family="quasipoisson", **COUNT)
    dates = data.assign(month=pd.to_datetime(data["month"]))
    periods = data.assign(month=pd.PeriodIndex(data["month"], freq="M"))
    shuffled = dates.sample(frac=1, random_state=3)
    for frame, when in ((dates, pd.Timestamp("2018-01-01")), (periods, "2018-01"),
                        (shuffled, "2018-01-01"), (data.assign(t=data["t"] * 5 + 100), 280)):
        col = "t" if "t" in frame and when == 280 else "month"
        res = its(frame, "count", col, when, family="quasipoisson", **COUNT)
        assert res.level.estimate == pytest.approx(base.level.estimate, rel=1e-10)
        assert res.slope is not None and base.slope is not None
        assert (res.slope.estimate, res.slope.se) == pytest.approx(
            (base.slope.estimate, base.slope.se), rel=1e-10)
    weekly = data.assign(week=pd.date_range("2020-01-06", periods=72, freq="7D"))
    res = its(weekly, "count", "week", weekly["week"][36], family="quasipoisson", **COUNT)
    assert res.level.estimate == pytest.approx(base.level.estimate, rel=1e-10)


def test_result_contract(data):
    res = its(data, "count", "month", "2018-01-01", family="quasipoisson", **COUNT)
    frame = res.to_frame()
    assert list(frame.columns[:6]) == ["term", "estimate", "se", "ci_low", "ci_high", "p_value"]
    assert list(frame["term"]) == ["level", "slope", "trend"]
    out = json.loads(json.dumps(res.to_dict()))
    assert out["intervention"] == "2018-01-01" and out["family"] == "quasipoisson"
    assert out["level"]["estimate"] == pytest.approx(res.level.estimate)
    assert "Rate ratio, level" in res.summary() and "<table>" in res._repr_html_()


def test_cautions_few_periods_and_overdispersion(data):
    short = data.iloc[30:48]  # 6 before, 12 from the intervention
    res = its(short, "y", "t", 36)
    assert any("Only 6 periods before" in c for c in res.cautions)
    calm = data.assign(count=np.round(np.exp(data["log_pop"] - 7.8 + 0.01 * data["t"])))
    res = its(calm, "count", "t", 36, family="poisson", offset="log_pop")
    assert not any("quasipoisson" in c for c in res.cautions)
    assert not any("Only" in c for c in res.cautions)


# -- bad input ---------------------------------------------------------------------------------

def test_gap_and_duplicate_periods_are_named(data):
    gap = data.drop(index=[10, 11])
    with pytest.raises(EvalDataError, match="between 9 and 12"):
        its(gap, "y", "t", 36)
    with pytest.raises(EvalDataError, match="between 2015-10-01 and 2016-01-01"):
        its(gap, "y", "month", "2018-01-01")
    dup = pd.concat([data, data.iloc[[5]]])
    with pytest.raises(EvalDataError, match="more than once: 5"):
        its(dup, "y", "t", 36)


@pytest.mark.parametrize("when, message", [(0, "first period"), (71, "last period"),
                                           (99, "does not contain"), ("2019-13", "does not")])
def test_intervention_position(data, when, message):
    with pytest.raises(EvalDataError, match=message):
        its(data, "y", "t", when)


def test_bad_values_name_the_periods(data):
    miss = data.assign(y=data["y"].where(data["t"] != 7))
    with pytest.raises(EvalDataError, match="periods 2015-08-01"):
        its(miss, "y", "month", "2018-01-01")
    neg = data.assign(count=data["count"].where(data["t"] != 3, -1))
    with pytest.raises(EvalDataError, match="negative counts in periods 3"):
        its(neg, "count", "t", 36, family="quasipoisson")
    frac = data.assign(count=data["count"] + 0.5)
    with pytest.raises(EvalDataError, match="not whole numbers"):
        its(frac, "count", "t", 36, family="poisson")
    assert np.isfinite(its(frac, "count", "t", 36, family="quasipoisson").level.estimate)
    off = data.assign(log_pop=data["log_pop"].where(data["t"] != 40, np.inf))
    with pytest.raises(EvalDataError, match="log_pop.*not finite in periods 40"):
        its(off, "count", "t", 36, family="poisson", offset="log_pop")
    with pytest.raises(EvalDataError, match="missing"):
        its(data, "nope", "t", 36)


def test_series_too_short_for_harmonics_or_lags(data):
    short = data.iloc[31:41]  # 10 periods
    with pytest.raises(EvalDataError, match="10 periods for 10 coefficients"):
        its(short, "y", "t", 36, harmonics=3, period=12)
    with pytest.raises(EvalDataError, match="Newey–West lag 6"):
        its(short, "y", "t", 36, hac_lags=6)
    with pytest.raises(EvalDataError, match="too few periods on one side"):
        its(data.iloc[34:48], "y", "t", 35)  # one period before the intervention


def test_option_errors(data):
    with pytest.raises(EvalOptionError, match="family"):
        its(data, "y", "t", 36, family="negbin")
    with pytest.raises(EvalOptionError, match="hac_lags"):
        its(data, "count", "t", 36, family="poisson", hac_lags=2)
    with pytest.raises(ValueError, match="below period / 2"):
        its(data, "y", "t", 36, harmonics=6)


def test_degenerate_fits_are_cautioned(data):
    zero_after = data.assign(count=data["count"].where(data["t"] < 36, 0))
    res = its(zero_after, "count", "t", 36, family="quasipoisson")
    assert any("practically zero" in c for c in res.cautions)
    exact = its(data.assign(y=3 + 0.5 * data["t"]), "y", "t", 36)
    assert any("fits the series exactly" in c for c in exact.cautions)
    assert not any("exactly" in c for c in its(data, "y", "t", 36).cautions)


def test_newey_west_with_two_pre_periods_gives_no_rounding_noise_as_a_standard_error():
    """Two pre-periods are fitted exactly: the intercept's and trend's Newey-West variances are
    zero in exact arithmetic, and R prints noise for them (NaN, an SE of 7e-8 with p = 1e-9).
    The level and slope changes are R's (tests/reference/its_edge_reference.R)."""
    from conftest import r_reference

    r = r_reference("its_edge_reference.txt")
    assert np.isnan(r["trend_se"]) and r["intercept_se"] < 1e-6  # R's noise, both ways
    d = pd.DataFrame({"t": range(5), "y": [7.4, 7.6, 7.44, 11.93, 9.28]})
    fit = its(d, "y", "t", 2, hac_lags=0)
    for term, name in (("level", "post"), ("slope", "slope")):
        got = getattr(fit, term)
        assert got.estimate == pytest.approx(r[f"{name}_estimate"], rel=1e-9)
        assert got.se == pytest.approx(r[f"{name}_se"], rel=1e-9)
        assert got.p_value == pytest.approx(r[f"{name}_p"], rel=1e-9)
    assert np.isnan(fit.trend.se) and np.isnan(fit.trend.p_value)
    assert np.isnan(fit.coefficients.loc[0, "se"])
    assert any("the starting level and the trend before are zero up to rounding" in c
               for c in fit.cautions)
    # with three periods before, the pre-period residuals are real and nothing is withheld
    three = its(d, "y", "t", 3, hac_lags=0)
    assert np.isfinite(three.coefficients["se"]).all()

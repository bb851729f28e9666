"""Interrupted time series: segmented regression for one jurisdiction's series.

The model of Lopez Bernal, Cummins & Gasparrini (2017) and Wagner et al. (2002), for periods
``t = 0, 1, ..., n - 1`` in time order and the first intervention period ``t0``::

    g(E[y_t]) = b0 + trend * t + level * post_t + slope * (t - t0) * post_t
                + sum_k (s_k sin(2 pi k t / period) + c_k cos(2 pi k t / period)) [+ offset_t]

with ``post_t = 1`` from ``t0`` on. ``level`` is the step at the intervention, ``slope`` the
change of the trend per period after it (measured from ``t0``), ``trend`` the pre-period trend
per period. ``g`` is the identity (``family="gaussian"``, least squares) or the log
(``"poisson"``, ``"quasipoisson"``: a GLM for counts, with the log population or exposure as
offset, as R ``glm(..., offset = )``). The Fourier terms are those of
``tsModel::harmonic(t, harmonics, period)``: the columns ``sin(k * 2 pi t / period)`` for
``k = 1..harmonics``, then the cosines, of the 0-based period index ``t`` (a calendar-month
index spans the same functions, so level, slope and trend are unchanged).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from scipy import stats

from evalkit.data import source_of
from evalkit.exceptions import DataProblem, EvalDataError, EvalOptionError
from evalkit.methods.inference import fit_scale, join_names, zero_se
from evalkit.results import (
    Caution,
    Result,
    TestResult,
    check_alpha,
    check_option,
    fmt_num,
    jsonable,
)

__all__ = ["ItsTerm", "ResidualAutocorrelation", "InterruptedTimeSeries",
           "interrupted_time_series", "placebo_its"]

Family = Literal["gaussian", "poisson", "quasipoisson"]
FAMILIES = ("gaussian", "poisson", "quasipoisson")
#: Fewest periods on either side of the intervention before a caution (Cochrane EPOC; Lopez
#: Bernal et al. 2017 discuss the power of short series).
MIN_SIDE = 8


@dataclass(frozen=True)
class ItsTerm:
    """One coefficient on the model's scale (outcome units for gaussian, log rate for counts).

    For a rate ratio: the exponentiated estimate and interval, ``se`` NaN, the log-scale p-value.
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float


@dataclass(frozen=True)
class ResidualAutocorrelation:
    """Autocorrelation of the residuals (``"response"`` or, for counts, ``"deviance"``).

    ``acf``: sample autocorrelations at lags ``1..min(24, n // 4)``, as R ``acf``;
    ``ljung_box``: the Ljung–Box test at lag ``min(10, n // 5)``, as R ``Box.test(r, type =
    "Ljung-Box")`` and statsmodels ``acorr_ljungbox`` (no df removed for the model).
    """

    acf: pd.Series
    ljung_box: TestResult
    residuals: str


@dataclass(frozen=True)
class InterruptedTimeSeries(Result):
    """Result of :func:`interrupted_time_series` (and :func:`placebo_its`).

    Attributes
    ----------
    level, slope, trend
        The step at the intervention, the change in trend after it (``None`` with
        ``slope_change=False``) and the pre-intervention trend per period.
    rate_ratio, slope_rate_ratio
        Count families: ``exp(level)`` and ``exp(slope)`` (per period) with their intervals.
    coefficients
        Every term (intercept, trend, level, slope, ``sin1..``, ``cos1..``) as a tidy frame.
    series
        ``time, index, post, observed, fitted, counterfactual``: the counterfactual is the
        fitted model with the level and slope terms set to zero (response scale, with the
        offset and seasonality), the pre-period trend continued.
    autocorrelation
        :class:`ResidualAutocorrelation` of the residuals.
    dispersion
        Count families: Pearson chi-squared over residual df (used for the quasipoisson SEs,
        reported only for poisson); ``None`` for gaussian.
    n, n_pre, n_post, df_residual
        Periods in all, before and from the intervention; residual degrees of freedom.
    intervention
        The first intervention period, as given (placebo: the placebo period).
    inference
        ``"t"`` (t with ``df_residual``) or ``"normal"`` for the p-values and intervals.
    placebo
        Whether this is a placebo refit on the pre-intervention periods.
    """

    _title: ClassVar[str] = "Interrupted time series (segmented regression)"
    _options: ClassVar[tuple[str, ...]] = ("family", "offset", "harmonics", "period",
                                           "slope_change", "hac_lags", "alpha")

    level: ItsTerm
    slope: ItsTerm | None
    trend: ItsTerm
    rate_ratio: ItsTerm | None
    slope_rate_ratio: ItsTerm | None
    coefficients: pd.DataFrame
    series: pd.DataFrame
    autocorrelation: ResidualAutocorrelation
    dispersion: float | None
    n: int
    n_pre: int
    n_post: int
    df_residual: int
    intervention: Any
    inference: str
    family: str = "gaussian"
    offset: str | None = None
    harmonics: int = 0
    period: float = 12
    slope_change: bool = True
    hac_lags: int | None = None
    alpha: float = 0.05
    placebo: bool = False

    def _terms(self) -> list[dict[str, Any]]:
        rows = []
        for name in ("level", "slope", "trend"):
            t = getattr(self, name)
            if t is not None:
                rows.append({"term": name, "estimate": t.estimate, "se": t.se,
                             "ci_low": t.ci_low, "ci_high": t.ci_high, "p_value": t.p_value})
        return rows

    def to_dict(self) -> dict[str, Any]:
        """All fields as JSON-ready Python values; dates and Periods become ISO text."""
        out = super().to_dict()
        for name in ("level", "slope", "trend", "rate_ratio", "slope_rate_ratio"):
            term = getattr(self, name)
            out[name] = None if term is None else jsonable(dataclasses.asdict(term))
        lb = self.autocorrelation.ljung_box
        out["autocorrelation"] = {
            "acf": jsonable(self.autocorrelation.acf), "residuals": self.autocorrelation.residuals,
            "ljung_box": {"statistic": jsonable(lb.statistic), "df": jsonable(lb.df),
                          "p_value": jsonable(lb.p_value)}}

        def plain(v: Any) -> Any:
            return v if v is None or isinstance(v, (int, float, str)) else str(v)

        out["intervention"] = plain(out["intervention"])
        for row in out["series"]:
            row["time"] = plain(row["time"])
        return out

    def _details(self) -> list[str]:
        lines = [f"{self.n} periods: {self.n_pre} before and {self.n_post} from the "
                 f"{'placebo ' if self.placebo else ''}intervention ({self.intervention})."]
        pct = f"{100 * self.confidence:g}%"
        for name, rr in (("level", self.rate_ratio), ("slope (per period)",
                                                      self.slope_rate_ratio)):
            if rr is not None:
                lines.append(f"Rate ratio, {name}: {fmt_num(rr.estimate)} ({pct} CI "
                             f"{fmt_num(rr.ci_low)} to {fmt_num(rr.ci_high)}).")
        lb = self.autocorrelation.ljung_box
        lines.append(f"Ljung–Box test of {self.autocorrelation.residuals} residuals, lag "
                     f"{lb.df:g}: Q = {fmt_num(lb.statistic)}, p = {fmt_num(lb.p_value)}.")
        if self.dispersion is not None:
            lines.append(f"Pearson dispersion: {fmt_num(self.dispersion)}.")
        return lines


# -- the period index --------------------------------------------------------------------------

def _fail(column: str | None, message: str, expected: str, source: str,
          examples: tuple[str, ...] = ()) -> EvalDataError:
    return EvalDataError([DataProblem(column, message, expected, examples=examples)],
                         source=source)


def _period_index(s: pd.Series, time: str, source: str) -> tuple[np.ndarray, str, pd.Series]:
    """Integer period numbers of a time column, the unit they count, and the values parsed.

    Numbers must be whole; dates are counted in months when every date falls on the same day
    of its month, else in days (weekly data: steps of 7 days); pandas Periods by their ordinal.
    """
    what = "whole numbers or dates of ordered periods"
    if isinstance(s.dtype, pd.PeriodDtype):
        return np.asarray([p.ordinal for p in s], dtype=np.int64), "period", s
    if s.dtype == object or pd.api.types.is_string_dtype(s):
        try:
            s = pd.to_datetime(s)
        except (ValueError, TypeError):
            raise _fail(time, "values are neither numbers nor dates", what, source,
                        tuple(map(str, s.head(3)))) from None
    if pd.api.types.is_datetime64_any_dtype(s):
        d = pd.DatetimeIndex(s)
        if d.normalize().equals(d) and len(set(d.day)) == 1:
            return np.asarray(d.year * 12 + d.month - 1, dtype=np.int64), "month", s
        return (np.asarray((d - d.min()) // pd.Timedelta(days=1), dtype=np.int64), "day", s)
    if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
        raise _fail(time, "values are not period numbers or dates", what, source)
    x = s.to_numpy(float)
    bad = ~np.isfinite(x) | (x != np.round(x))
    if bad.any():
        raise _fail(time, "values are not whole numbers", what, source,
                    tuple(map(str, s[bad].head(3))))
    return x.astype(np.int64), "period", pd.Series(x)


def _matches(parsed: pd.Series, value: Any) -> np.ndarray:
    """Positions of ``parsed`` (numbers, dates or Periods) equal to ``value``."""
    try:
        if isinstance(parsed.dtype, pd.PeriodDtype):
            key: Any = pd.Period(value, freq=parsed.dtype.freq)
        elif pd.api.types.is_datetime64_any_dtype(parsed):
            key = pd.Timestamp(value)
            if parsed.dt.tz is not None and key.tz is None:
                key = key.tz_localize(parsed.dt.tz)
        else:
            key = float(value)
        return np.flatnonzero((parsed == key).to_numpy())
    except (ValueError, TypeError):
        return np.array([], dtype=int)


def _listed(periods: np.ndarray, k: int = 8) -> str:
    """The first ``k`` periods, and how many more."""
    more = len(periods) - k
    return ", ".join(map(str, periods[:k])) + (f" and {more} more" if more > 0 else "")


@dataclass(frozen=True)
class _Series:
    """A checked series in time order (``t``: 0-based index; ``t0``: the intervention's)."""

    times: pd.Series
    t: np.ndarray
    y: np.ndarray
    offset: np.ndarray
    t0: int


def _prepare(data: pd.DataFrame, outcome: str, time: str, intervention: Any, family: str,
             offset: str | None) -> _Series:
    """Check the columns, sort by time, index the periods and locate the intervention."""
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, not {type(data).__name__}")
    source = source_of(data)
    missing = [c for c in (outcome, time, offset) if c is not None and c not in data.columns]
    if missing:
        raise EvalDataError([DataProblem(c, "required column is missing") for c in missing],
                            source=source)
    if data[time].isna().any():
        raise _fail(time, f"is empty in {int(data[time].isna().sum())} rows",
                    "a period in every row", source)
    codes, unit, parsed = _period_index(data[time], time, source)
    order = np.argsort(codes, kind="stable")
    codes, parsed = codes[order], parsed.iloc[order].reset_index(drop=True)
    frame = data.iloc[order].reset_index(drop=True)
    shown = frame[time].astype(str).to_numpy()
    dup = pd.Series(codes).duplicated(keep=False).to_numpy()
    if dup.any():
        raise _fail(time, "has periods that appear more than once: "
                    + _listed(np.array(list(dict.fromkeys(shown[dup])))), "one row per period",
                    source)
    if len(codes) < 3:
        raise _fail(None, f"has {len(codes)} periods", "a series of at least 3 periods", source)
    gaps = np.diff(codes)
    step = int(np.gcd.reduce(gaps))
    unit = "week" if unit == "day" and step % 7 == 0 else unit
    if (gaps != step).any():
        at = np.flatnonzero(gaps != step)
        text = ", ".join(f"between {shown[i]} and {shown[i + 1]}" for i in at[:5])
        raise _fail(time, f"is not regularly spaced: periods are missing {text} ({len(at)} "
                    f"gap{'s' * (len(at) > 1)}; one period is {step} {unit}"
                    f"{'s' * (step > 1)})", "one row for every period, evenly spaced", source)
    hit = _matches(parsed, intervention)
    if not len(hit):
        raise _fail(time, f"does not contain the intervention period {intervention!r}",
                    f"a period from {shown[0]} to {shown[-1]}", source)
    t0 = int(hit[0])
    if t0 in (0, len(codes) - 1):
        raise _fail(time, f"the intervention {intervention!r} is the "
                    f"{'first' if t0 == 0 else 'last'} period of the series",
                    "periods both before and after the intervention", source)
    problems = []
    y = pd.to_numeric(frame[outcome], errors="coerce").to_numpy(float)
    bad = ~np.isfinite(y)
    if bad.any():
        problems.append(DataProblem(outcome, "is missing or not a number in periods "
                                    + _listed(shown[bad]), "a number in every period"))
    if family != "gaussian":
        neg = np.isfinite(y) & (y < 0)
        if neg.any():
            problems.append(DataProblem(outcome, "has negative counts in periods "
                                        + _listed(shown[neg]), "counts of 0 or more"))
        frac = np.isfinite(y) & (y != np.round(y))
        if family == "poisson" and frac.any():
            problems.append(DataProblem(
                outcome, "has counts that are not whole numbers in periods "
                + _listed(shown[frac]), "whole-number counts for family='poisson' "
                "(family='quasipoisson' accepts non-integer values, as R does)"))
        elif not bad.any() and not neg.any() and not (y > 0).any():
            problems.append(DataProblem(outcome, "is zero in every period",
                                        "some positive counts"))
    off = np.zeros(len(y))
    if offset is not None:
        off = pd.to_numeric(frame[offset], errors="coerce").to_numpy(float)
        nf = ~np.isfinite(off)
        if nf.any():
            problems.append(DataProblem(offset, "is missing or not finite in periods "
                                        + _listed(shown[nf]),
                                        "a finite log population or exposure in every period"))
    if problems:
        raise EvalDataError(problems, source=source)
    t = ((codes - codes[0]) // step).astype(float)
    return _Series(times=frame[time], t=t, y=y, offset=off, t0=t0)


# -- fitting -----------------------------------------------------------------------------------

def _design(t: np.ndarray, t0: int, slope_change: bool, harmonics: int,
            period: float) -> tuple[np.ndarray, list[str]]:
    post = (t >= t0).astype(float)
    cols = [np.ones_like(t), t, post]
    names = ["(intercept)", "trend", "level"]
    if slope_change:
        cols.append((t - t0) * post)
        names.append("slope")
    if harmonics:
        m = np.outer(t, np.arange(1, harmonics + 1) * 2 * math.pi / period)
        cols += list(np.sin(m).T) + list(np.cos(m).T)
        names += [f"sin{k}" for k in range(1, harmonics + 1)]
        names += [f"cos{k}" for k in range(1, harmonics + 1)]
    return np.column_stack(cols), names


def _poisson_irls(X: np.ndarray, y: np.ndarray, off: np.ndarray) -> tuple[np.ndarray, bool]:
    """Poisson log-link MLE by IRLS, started as R's ``glm.fit`` (``mu = y + 0.1``)."""
    mu = y + 0.1
    eta = np.log(mu)
    beta = np.zeros(X.shape[1])
    dev_old = np.inf
    for _ in range(100):
        z = eta - off + (y - mu) / mu
        w = np.sqrt(mu)
        beta = np.linalg.lstsq(X * w[:, None], z * w, rcond=None)[0]
        eta = X @ beta + off
        mu = np.exp(eta)
        dev = 2 * np.sum(np.where(y > 0, y * np.log(np.where(y > 0, y, 1) / mu), 0) - (y - mu))
        if abs(dev - dev_old) <= 1e-11 * (abs(dev) + 0.1):
            return beta, bool(np.isfinite(beta).all())
        dev_old = dev
    return beta, False


def _newey_west(X: np.ndarray, u: np.ndarray, bread: np.ndarray, lags: int) -> np.ndarray:
    """``sandwich::NeweyWest(fit, lag, prewhite = FALSE)``: weights ``1 - l / (lag + 1)``.

    As sandwich's default ``adjust = FALSE``: no small-sample factor.
    """
    s = X * u[:, None]
    meat = s.T @ s
    for lag in range(1, min(lags, len(u) - 1) + 1):
        g = s[lag:].T @ s[:-lag]
        meat += (1 - lag / (lags + 1)) * (g + g.T)
    return bread @ meat @ bread


def _autocorrelation(r: np.ndarray, kind: str) -> ResidualAutocorrelation:
    n = len(r)
    nlags = max(1, min(24, n // 4))
    e = r - r.mean()
    c0 = float(e @ e)
    acf = np.array([float(e[k:] @ e[:-k]) / c0 if c0 > 0 else np.nan
                    for k in range(1, nlags + 1)])
    h = max(1, min(10, n // 5))
    q = float(n * (n + 2) * np.sum(acf[:h] ** 2 / (n - np.arange(1, h + 1))))
    lb = TestResult(statistic=q, df=float(h), p_value=float(stats.chi2.sf(q, h)),
                    method="Ljung–Box test", null="the residuals are not autocorrelated up to "
                    f"lag {h}")
    return ResidualAutocorrelation(acf=pd.Series(acf, index=pd.RangeIndex(1, nlags + 1,
                                                                          name="lag")),
                                   ljung_box=lb, residuals=kind)


def interrupted_time_series(
    data: pd.DataFrame,
    outcome: str,
    time: str,
    intervention: Any,
    *,
    family: Family = "gaussian",
    offset: str | None = None,
    harmonics: int = 0,
    period: float = 12,
    slope_change: bool = True,
    hac_lags: int | None = None,
    alpha: float = 0.05,
) -> InterruptedTimeSeries:
    """Segmented regression of one series before and after an intervention.

    The model is in the module docstring. Inference follows R:

    * ``"gaussian"``: ``lm``; OLS standard errors, or with ``hac_lags`` the Newey–West
      covariance ``sandwich::NeweyWest(fit, lag = hac_lags, prewhite = FALSE)`` (Bartlett
      weights, ``adjust = FALSE``); p-values and intervals from t with the residual df, as
      ``confint(lm)`` and ``lmtest::coeftest`` / ``coefci`` (whose default for ``lm`` keeps the
      t reference even with a HAC covariance).
    * ``"poisson"``: ``glm(family = poisson)``; model-based SEs, Wald z, as ``summary.glm``
      and ``confint.default``.
    * ``"quasipoisson"``: the same coefficients, SEs scaled by the Pearson dispersion, t with
      the residual df, as ``summary.glm``; the intervals use the same t quantile
      (``lmtest::coefci(fit, df = df.residual(fit))``) so they agree with the p-values.

    Residual autocorrelation: ACF and Ljung–Box of the residuals (deviance residuals for counts,
    as Lopez Bernal et al.); a Ljung–Box p-value below ``alpha`` without ``hac_lags`` gives a
    caution. Poisson fits whose Pearson chi-squared exceeds its residual df beyond chance
    (upper tail below ``alpha``) give a caution recommending ``"quasipoisson"``. Fewer than 8
    periods on either side of the intervention give a caution.

    Parameters
    ----------
    data
        One row per period.
    outcome
        The outcome column (counts for the count families).
    time
        Ordered periods: whole numbers, dates (monthly data: the same day of each month;
        otherwise counted in days, e.g. weekly) or pandas Periods. They must be evenly spaced
        (the greatest common step); a gap raises :class:`EvalDataError` naming where periods
        are missing.
    intervention
        The first period with the intervention, a value of ``time``.
    family
        ``"gaussian"``, ``"poisson"`` or ``"quasipoisson"``. Poisson counts must be whole
        numbers; quasipoisson accepts non-integer values, as R.
    offset
        A column holding the log population or exposure (count families), as R's ``offset``.
    harmonics, period
        Number of sine/cosine pairs and their period, as ``tsModel::harmonic``; ``harmonics``
        must be below ``period / 2``.
    slope_change
        Whether to estimate a change in slope (else a level change only).
    hac_lags
        Newey–West lag (gaussian only); it must be below the residual df.
    alpha
        1 − confidence level.

    Returns
    -------
    InterruptedTimeSeries

    Raises
    ------
    EvalDataError
        Missing columns, periods or outcomes (naming the periods); duplicated or unevenly
        spaced periods; an intervention not in the series or at its first or last period;
        negative or (poisson) non-integer counts; a non-finite offset; a series too short for
        the parameters and ``hac_lags``. :class:`EvalOptionError`: an unknown ``family``,
        ``hac_lags`` with a count family.

    References
    ----------
    Lopez Bernal, J., Cummins, S., & Gasparrini, A. (2017). Interrupted time series regression
    for the evaluation of public health interventions: a tutorial. *International Journal of
    Epidemiology*, 46(1), 348–355.

    Wagner, A. K., Soumerai, S. B., Zhang, F., & Ross-Degnan, D. (2002). Segmented regression
    analysis of interrupted time series studies in medication use research. *Journal of
    Clinical Pharmacy and Therapeutics*, 27, 299–309.

    Newey, W. K., & West, K. D. (1987). A simple, positive semi-definite, heteroskedasticity
    and autocorrelation consistent covariance matrix. *Econometrica*, 55, 703–708; R sandwich
    ``NeweyWest``; R tsModel ``harmonic``; R stats ``glm``, ``Box.test``.
    """
    alpha = check_alpha(alpha)
    check_option("family", family, FAMILIES)
    if hac_lags is not None and family != "gaussian":
        err = EvalOptionError("hac_lags", hac_lags, (None,))
        err.args = (f"{err} with family={family!r} (Newey–West standard errors are for "
                    "family='gaussian')",)
        raise err
    for name, v in (("harmonics", harmonics), ("hac_lags", hac_lags or 0)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"{name} must be a whole number of 0 or more, not {v!r}")
    if not (isinstance(period, (int, float, np.number)) and period > 0):
        raise ValueError(f"period must be a positive number, not {period!r}")
    if harmonics and not harmonics < period / 2:
        raise ValueError(f"harmonics must be below period / 2 ({period / 2:g}): "
                         f"{harmonics} pairs of period {period:g} repeat or vanish")
    s = _prepare(data, outcome, time, intervention, family, offset)
    X, names = _design(s.t, s.t0, slope_change, int(harmonics), float(period))
    n, k = X.shape
    need = k + 1 + (hac_lags or 0)
    if n < need:
        why = f"{k} coefficients" + (f" and Newey–West lag {hac_lags}" if hac_lags else "")
        raise _fail(None, f"has {n} periods for {why}",
                    f"at least {need} periods (fewer harmonics or lags)", source_of(data))
    if np.linalg.matrix_rank(X) < k:
        raise _fail(time, f"too few periods on one side of the intervention ({s.t0} before, "
                    f"{n - s.t0} from it) to separate the terms " + ", ".join(names[1:]),
                    "at least 2 periods on each side (8 or more advised)", source_of(data))
    df = n - k
    y = s.y
    cautions: list[Caution] = []
    dispersion: float | None = None
    if family == "gaussian":
        beta = np.linalg.lstsq(X, y, rcond=None)[0]
        fitted = X @ beta
        resid = y - fitted
        bread = np.linalg.inv(X.T @ X)
        vcov = (_newey_west(X, resid, bread, int(hac_lags)) if hac_lags is not None
                else bread * float(resid @ resid) / df)
        cf = X.copy()
        r_kind = "response"
    else:
        beta, converged = _poisson_irls(X, y, s.offset)
        fitted = np.exp(X @ beta + s.offset)
        if not converged or fitted.min() < 1e-8 * fitted.max():
            cautions.append(Caution(
                "The count model did not converge or fits rates of practically zero (no counts "
                "on one side of the intervention?): its estimates and standard errors are "
                "unreliable, as R's glm warns.", limits=True))
        bread = np.linalg.inv(X.T @ (X * fitted[:, None]))
        dispersion = float(np.sum((y - fitted) ** 2 / fitted) / df)
        vcov = bread * (dispersion if family == "quasipoisson" else 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            unit = 2 * (np.where(y > 0, y * np.log(y / fitted), 0.0) - (y - fitted))
        resid = np.sign(y - fitted) * np.sqrt(np.maximum(unit, 0))
        cf = X.copy()
        r_kind = "deviance"
        if family == "poisson":
            p_over = float(stats.chi2.sf(dispersion * df, df))
            if p_over < alpha:
                cautions.append(Caution(
                    f"The counts vary more than a Poisson model allows (Pearson dispersion "
                    f"{dispersion:.2f}, p = {p_over:.2g}): its standard errors are too small. "
                    "Use family='quasipoisson'.", limits=True))
    cf[:, names.index("level")] = 0.0
    if slope_change:
        cf[:, names.index("slope")] = 0.0
    counterfactual = cf @ beta if family == "gaussian" else np.exp(cf @ beta + s.offset)
    with np.errstate(invalid="ignore"):
        se = np.sqrt(np.diag(vcov))
    if family == "gaussian":
        # a variance that is zero in exact arithmetic comes out as rounding noise of either
        # sign: NaN (as R's NeweyWest then gives) or a tiny "significant" SE. Two periods
        # before the intervention are fitted exactly, so with Newey-West the intercept and
        # pre-period trend have no spread to be measured from: every period that moves them
        # has a zero residual. An exact fit leaves no spread for any term
        spread = float(np.sqrt(np.sum((y - y.mean()) ** 2)))
        _, unit = fit_scale(X, y, resid)
        exact = bool(resid @ resid <= 1e-20 * spread ** 2)
        q_, r_ = np.linalg.qr(X)
        moves = np.abs(np.linalg.solve(r_, q_.T))  # d beta_j / d y_i, one row per term
        moves = moves > 1e-8 * moves.max(axis=1, keepdims=True)
        fitted_exactly = np.abs(resid) <= 1e-10 * max(spread, float(np.abs(y).max()))
        unmeasured = (~moves | fitted_exactly[None, :]).all(axis=1) & (hac_lags is not None)
        zero = zero_se(se, beta, unit) | exact | unmeasured
        if exact:
            cautions.append(Caution("The model fits the series exactly: no standard error, "
                                    "interval or p-value can be estimated and none is given.",
                                    limits=True))
        elif zero.any():
            words = {"(intercept)": "the starting level", "trend": "the trend before",
                     "level": "the change in level", "slope": "the change in trend"}
            hit = [words.get(names[j], repr(names[j])) for j in np.flatnonzero(zero)]
            one = len(hit) == 1
            cautions.append(Caution(
                f"The standard error{'' if one else 's'} of {join_names(hit)} "
                f"{'is' if one else 'are'} zero up to rounding: the residuals leave no spread "
                "to measure them from (with Newey-West standard errors, two periods on one "
                "side of the intervention are fitted exactly), so they are not given, nor "
                "their intervals and p-values.", limits=True))
        se = np.where(zero, np.nan, se)
    t_ref = family != "poisson"
    stat = beta / se
    if t_ref:
        p = 2 * stats.t.sf(np.abs(stat), df)
        q = float(stats.t.ppf(1 - alpha / 2, df))
    else:
        p = 2 * stats.norm.sf(np.abs(stat))
        q = float(stats.norm.ppf(1 - alpha / 2))
    coef = pd.DataFrame({"term": names, "estimate": beta, "se": se, "ci_low": beta - q * se,
                         "ci_high": beta + q * se, "p_value": p, "statistic": stat})
    terms = {nm: ItsTerm(*(float(coef.loc[i, c]) for c in
                           ("estimate", "se", "ci_low", "ci_high", "p_value")))
             for i, nm in enumerate(names)}

    def ratio(term: ItsTerm | None) -> ItsTerm | None:
        if term is None or family == "gaussian":
            return None
        with np.errstate(over="ignore"):
            e = np.exp([term.estimate, term.ci_low, term.ci_high])
        return ItsTerm(float(e[0]), math.nan, float(e[1]), float(e[2]), term.p_value)

    auto = _autocorrelation(resid, r_kind)
    lb = auto.ljung_box
    if lb.p_value < alpha and hac_lags is None:
        fix = ("refit with Newey–West standard errors (hac_lags, e.g. "
               f"{max(1, int(4 * (n / 100) ** (2 / 9)))})" if family == "gaussian" else
               "add seasonal terms (harmonics) or model the autocorrelation")
        cautions.append(Caution(
            f"The residuals are autocorrelated (Ljung–Box p = {lb.p_value:.2g} at lag "
            f"{lb.df:g}): the standard errors assume independent periods and may be too small; "
            f"{fix}.", limits=True))
    n_pre, n_post = s.t0, n - s.t0
    if min(n_pre, n_post) < MIN_SIDE:
        cautions.append(Caution(
            f"Only {n_pre} periods before and {n_post} from the intervention: interrupted time "
            f"series need at least {MIN_SIDE} on each side (Cochrane EPOC) to separate a change "
            "from the series' own trend and noise.", limits=True))
    series = pd.DataFrame({"time": s.times.to_numpy(), "index": s.t.astype(int),
                           "post": s.t >= s.t0, "observed": y, "fitted": fitted,
                           "counterfactual": counterfactual})
    slope = terms.get("slope")
    return InterruptedTimeSeries(
        level=terms["level"], slope=slope, trend=terms["trend"],
        rate_ratio=ratio(terms["level"]), slope_rate_ratio=ratio(slope), coefficients=coef,
        series=series, autocorrelation=auto, dispersion=dispersion, n=n, n_pre=n_pre,
        n_post=n_post, df_residual=df, intervention=intervention,
        inference="t" if t_ref else "normal", family=family, offset=offset,
        harmonics=int(harmonics), period=period, slope_change=bool(slope_change),
        hac_lags=None if hac_lags is None else int(hac_lags), alpha=alpha,
        cautions=tuple(cautions))


def placebo_its(
    data: pd.DataFrame,
    outcome: str,
    time: str,
    intervention: Any,
    *,
    placebo: Any = None,
    **options: Any,
) -> InterruptedTimeSeries:
    """A placebo check: the same model on the pre-intervention periods, at a placebo date.

    The periods from ``intervention`` on are dropped; the placebo intervention is ``placebo``
    (a value of ``time`` inside the pre-period) or, by default, the pre-period's middle period
    (index ``n_pre // 2``). Level and slope changes there should be near zero; clear ones
    suggest the model's trend or seasonality does not fit the series (or that something else
    changed). The result is an :class:`InterruptedTimeSeries` with ``placebo=True``.

    Parameters
    ----------
    data, outcome, time, intervention
        As :func:`interrupted_time_series`.
    placebo
        The placebo period (default: the middle of the pre-period).
    **options
        The other keywords of :func:`interrupted_time_series` (family, offset, harmonics, ...).

    Returns
    -------
    InterruptedTimeSeries

    References
    ----------
    Lopez Bernal, J., Cummins, S., & Gasparrini, A. (2018). The use of controls in interrupted
    time series studies of public health interventions. *Int J Epidemiol*, 47, 2082–2093.
    """
    s = _prepare(data, outcome, time, intervention, options.get("family", "gaussian"),
                 options.get("offset"))
    pre = data[data[time].isin(s.times.iloc[:s.t0])]
    if placebo is None:
        placebo = s.times.iloc[s.t0 // 2]
    res = interrupted_time_series(pre, outcome, time, placebo, **options)
    return dataclasses.replace(res, placebo=True)

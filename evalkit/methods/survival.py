"""Time-to-event outcomes: Kaplan–Meier, log-rank tests and restricted mean survival time.

Days until a youth runs from placement, is re-exploited or re-arrested are mostly censored:
the follow-up ends before the event. Every function here agrees with R's ``survival`` package
(``survfit``, ``survdiff``, ``print(survfit, rmean = tau)``), implemented on numpy so that no
dependency pins pandas. Cox regression lives in :mod:`evalkit.methods.cox`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Sequence, get_args

import numpy as np
import pandas as pd
from scipy import special

from evalkit.data import Column, source_of, validate
from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.results import Caution, Result, check_alpha, check_option

__all__ = [
    "kaplan_meier",
    "KaplanMeier",
    "logrank",
    "LogRank",
    "rmst",
    "RMST",
    "survival_columns",
    "cumulative_incidence",
    "CumulativeIncidence",
    "CONF_TYPES",
    "timefix",
]

#: Transformations of the survival curve for its confidence interval (as R's survfit).
ConfType = Literal["log", "log-log", "plain"]
CONF_TYPES: tuple[str, ...] = get_args(ConfType)
_TOL = math.sqrt(np.finfo(float).eps)
_FRAME_COLUMNS = ["term", "estimate", "se", "ci_low", "ci_high", "p_value"]


def _group_name(g: Any, column: str | None) -> str:
    return f"group {column} = {g}" if column else "the sample"


def timefix(time: np.ndarray, tolerance: float = math.sqrt(np.finfo(float).eps)
            ) -> np.ndarray:
    """Times that differ only by rounding made equal, as R survival's ``aeqSurv``.

    R's ``coxph``, ``survfit`` and ``survdiff`` (``timefix = TRUE``) treat two distinct times
    as tied when they differ by at most ``tolerance``, absolutely or relative to the mean of
    the distinct times; each is then replaced by the smallest time of its run. Times such as
    ``0.1 + 0.2`` and ``0.3`` count as the same day, as in R. The map keeps the order of the
    times, so a sorting permutation of the input also sorts the output.
    """
    time = np.asarray(time, dtype=float)
    y = np.unique(time)
    y = y[np.isfinite(y)]
    if y.size < 2:
        return time
    dy = np.diff(y)
    tied = (dy <= tolerance) | (dy / np.mean(np.abs(y)) <= tolerance)
    if not tied.any():
        return time
    # each distinct time maps to the first time of its run of near-equal ones
    first = y[np.concatenate([[True], ~tied])][np.cumsum(np.concatenate([[True], ~tied])) - 1]
    out = time.copy()
    ok = np.isfinite(time)
    inv = np.unique(time[ok], return_inverse=True)[1]
    out[ok] = first[inv.reshape(-1)]
    return out


def survival_columns(duration: str, event: str, *, extra: Sequence[str] = (),
                     group: str | None = None) -> list[Column]:
    """Column specs of a survival analysis: non-negative durations, 0/1 events."""
    cols = [Column(duration, min=0, allow_missing=False, label="time to event or censoring"),
            Column(event, kind="binary", allow_missing=False, label="1 = event, 0 = censored")]
    if group is not None:
        cols.append(Column(group, kind="string", allow_missing=False, label="group"))
    cols += [Column(c) for c in extra]
    return cols


def _group_text(values: pd.Series) -> pd.Series:
    """Group values as text; whole numbers lose their ``.0`` (1.0 and 1 are the same group)."""
    num = pd.to_numeric(values, errors="coerce")
    if num.notna().all() and (num == np.floor(num)).all():
        return num.astype("int64").astype(str)
    return values.astype(str)


def _check(data: pd.DataFrame, duration: str, event: str, extra: Sequence[str] = ()
           ) -> pd.DataFrame:
    clean = validate(data, survival_columns(duration, event, extra=extra))
    if len(clean) == 0:
        raise EvalDataError("no rows to analyse", source=source_of(data))
    return clean


def _groups(data: pd.DataFrame, group: str) -> tuple[np.ndarray, list[str]]:
    """Integer codes of a group column and the groups' labels, in sorted order."""
    if group not in data.columns or data[group].isna().any():
        # the full check, for its message naming the rows at fault
        validate(data, [Column(group, kind="string", allow_missing=False, label="group")])
    codes, uniques = pd.factorize(data[group], sort=True)
    return codes, list(_group_text(pd.Series(uniques)))


def _step_at(table: pd.DataFrame, keys: list[str], times: Sequence[float],
             columns: list[str], start: dict[str, float]) -> pd.DataFrame:
    """Values of right-continuous step functions at ``times``, one function per ``keys``
    group of ``table`` (which has a sorted ``time`` column); ``start`` before the first step."""
    rows = []
    for key, tab in table.groupby(keys, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        idx = np.searchsorted(tab["time"].to_numpy(), times, side="right") - 1
        for t, i in zip(times, idx):
            vals = start if i < 0 else {c: tab[c].iloc[i] for c in columns}
            rows.append({**dict(zip(keys, key)), "time": t, **vals})
    return pd.DataFrame(rows)


# -- Kaplan–Meier ------------------------------------------------------------------------------

def _km_arrays(time: np.ndarray, event: np.ndarray) -> dict[str, np.ndarray]:
    """KM estimate at every distinct time (events and censorings), as R's survfit object."""
    ut, inv = np.unique(time, return_inverse=True)
    total = np.bincount(inv, minlength=ut.size).astype(float)
    d = np.bincount(inv, weights=event, minlength=ut.size)
    n_risk = total[::-1].cumsum()[::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(1.0 - d / n_risk)
        inc = np.where(d > 0, d / (n_risk * (n_risk - d)), 0.0)
    green = np.cumsum(inc)  # variance of the cumulative hazard (Greenwood)
    return {"time": ut, "n_risk": n_risk, "n_event": d, "n_censor": total - d, "surv": surv,
            "se_cumhaz": np.sqrt(green)}


def _confint(surv: np.ndarray, se: np.ndarray, conf_type: str, z: float):
    """R survival's survfit_confint (``se`` is the SE of the cumulative hazard)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "log":
            xx = np.where(surv == 0, np.nan, surv)
            lo = np.exp(np.log(xx) - z * se)
            hi = np.minimum(np.exp(np.log(xx) + z * se), 1.0)
        elif conf_type == "log-log":
            xx = np.where((surv == 0) | (surv == 1), np.nan, surv)
            t3 = np.log(-np.log(xx))
            lo = np.exp(-np.exp(t3 - z * se / np.log(xx)))
            hi = np.exp(-np.exp(t3 + z * se / np.log(xx)))
        elif conf_type == "plain":
            lo = np.maximum(surv - z * se * surv, 0.0)
            hi = np.minimum(surv + z * se * surv, 1.0)
        else:
            check_option("conf_type", conf_type, CONF_TYPES)
    return lo, hi


def _quantile(time: np.ndarray, curve: np.ndarray, p: float) -> float:
    """First time the curve reaches ``p``; the midpoint to the next drop when it sits exactly on
    ``p`` (R survival's quantile.survfit rule)."""
    ok = ~np.isnan(curve)
    x, y = time[ok], curve[ok]
    if y.size == 0:
        return float("nan")
    keep = np.concatenate([[True], np.diff(y) != 0])
    x, y = x[keep], y[keep]
    hit = np.flatnonzero(y <= p + _TOL)
    if hit.size == 0:
        return float("nan")
    i = hit[0]
    if abs(y[i] - p) < _TOL and i + 1 < y.size:
        return float((x[i] + x[i + 1]) / 2)
    return float(x[i])


@dataclass(frozen=True)
class KaplanMeier(Result):
    """Result of :func:`kaplan_meier`.

    Attributes
    ----------
    table
        One row per group and distinct time (events and censorings): ``group, time, n_risk,
        n_event, n_censor, surv, std_err, ci_low, ci_high`` — ``std_err`` is the standard
        error of the survival probability (Greenwood), as ``summary(survfit)`` prints it.
    median
        Per group: ``group, n, events, median, ci_low, ci_high`` (R's rule for medians).
    """

    _title: ClassVar[str] = "Kaplan–Meier estimate"
    _options: ClassVar[tuple[str, ...]] = ("conf_type", "alpha")

    table: pd.DataFrame
    median: pd.DataFrame
    group: str | None = None
    conf_type: ConfType = "log"
    alpha: float = 0.05

    def at(self, times: Sequence[float]) -> pd.DataFrame:
        """Survival (with CI and number at risk) at the given times, per group.

        Between event times the curve is flat: the estimate at ``t`` is that of the last
        time at or before ``t``; the number at risk counts those with a time of ``t`` or later.
        """
        out = _step_at(self.table, ["group"], times, ["surv", "std_err", "ci_low", "ci_high"],
                       {"surv": 1.0, "std_err": 0.0, "ci_low": 1.0, "ci_high": 1.0})
        n_risk = []
        for g, t in zip(out["group"], out["time"]):
            tab = self.table[self.table["group"] == g]
            later = tab[tab["time"] >= t]
            n_risk.append(float(later["n_risk"].iloc[0]) if len(later) else 0.0)
        out.insert(2, "n_risk", n_risk)
        return out

    def _terms(self) -> list[dict[str, Any]]:
        nan = float("nan")
        return [{"term": f"median ({g})" if self.group else "median", "estimate": r["median"],
                 "se": nan, "ci_low": r["ci_low"], "ci_high": r["ci_high"], "p_value": nan}
                for g, r in self.median.set_index("group").iterrows()]

    def _details(self) -> list[str]:
        return [f"{int(r['n'])} subjects, {int(r['events'])} events"
                + (f" in group {g}" if self.group else "")
                for g, r in self.median.set_index("group").iterrows()]


def kaplan_meier(
    data: pd.DataFrame,
    duration: str,
    event: str,
    *,
    group: str | None = None,
    conf_type: ConfType = "log",
    alpha: float = 0.05,
) -> KaplanMeier:
    """Kaplan–Meier survival curves with Greenwood standard errors.

    Parameters
    ----------
    data
        One row per person.
    duration
        Time to the event or to censoring (non-negative).
    event
        1 if the event happened at ``duration``, 0 if the follow-up ended then (censored).
    group
        Column splitting the sample into curves.
    conf_type
        ``"log"`` (R's default), ``"log-log"`` or ``"plain"`` confidence intervals.
    alpha
        1 − confidence level.

    Notes
    -----
    Equal to R's ``survfit(Surv(duration, event) ~ group, conf.type = conf_type)``; medians
    and their CIs follow ``quantile.survfit``.

    References
    ----------
    Kaplan, E. L., & Meier, P. (1958). Nonparametric estimation from incomplete observations.
    *JASA*, 53, 457–481.

    Therneau, T. M. (2024). *A Package for Survival Analysis in R*, ``survfit`` and
    ``quantile.survfit``.
    """
    alpha = check_alpha(alpha)
    check_option("conf_type", conf_type, CONF_TYPES)
    clean = _check(data, duration, event)
    z = float(special.ndtri(1 - alpha / 2))
    time_all = timefix(clean[duration].to_numpy(dtype=float))
    event_all = clean[event].to_numpy(dtype=float)
    if group is None:
        codes, labels = np.zeros(len(clean), dtype=int), [None]
    else:
        codes, labels = _groups(data, group)
    tables, medians, cautions = [], [], []
    for k, g in enumerate(labels):
        m = codes == k
        t, e = time_all[m], event_all[m]
        if not (e > 0).any():
            cautions.append(Caution(
                f"No events in {_group_name(g, group)}: its survival curve stays at 1 with a "
                "standard error of zero, which only says that nobody in it was seen to have "
                "the event during follow-up, not that the chance is certainly zero."))
        elif e[t == t.max()].sum() == (t == t.max()).sum():
            cautions.append(Caution(
                f"In {_group_name(g, group)} everyone still followed at the last time had the "
                "event, so the curve drops to 0 there and its standard error and confidence "
                "interval at that time are undefined (shown as missing, as R does).",
                limits=False))
        km = _km_arrays(t, e)
        lo, hi = _confint(km["surv"], km["se_cumhaz"], conf_type, z)
        with np.errstate(invalid="ignore"):
            std_err = km["surv"] * km["se_cumhaz"]
        tab = pd.DataFrame({"group": g if g is not None else "all", "time": km["time"],
                            "n_risk": km["n_risk"], "n_event": km["n_event"],
                            "n_censor": km["n_censor"], "surv": km["surv"],
                            "std_err": std_err, "ci_low": lo,
                            "ci_high": hi})
        tables.append(tab)
        medians.append({
            "group": g if g is not None else "all", "n": int(t.size), "events": int(e.sum()),
            "median": _quantile(km["time"], km["surv"], 0.5),
            "ci_low": _quantile(km["time"], lo, 0.5),
            "ci_high": _quantile(km["time"], hi, 0.5),
        })
        med = medians[-1]
        if math.isnan(med["median"]) and (e > 0).any():
            cautions.append(Caution(
                f"The median time is not reached in {_group_name(g, group)}: fewer than half "
                "had the event during follow-up, so the median is shown as missing (as R "
                "shows NA).", limits=False))
        elif not math.isnan(med["median"]) and (math.isnan(med["ci_low"])
                                                or math.isnan(med["ci_high"])):
            cautions.append(Caution(
                f"The confidence interval of the median time in {_group_name(g, group)} is "
                "open-ended: the curve's confidence band does not cross one half within "
                "follow-up, so that limit is shown as missing (as R shows NA).",
                limits=False))
    return KaplanMeier(table=pd.concat(tables, ignore_index=True),
                       median=pd.DataFrame(medians), group=group, conf_type=conf_type,
                       alpha=alpha, cautions=tuple(cautions))


# -- log-rank ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class LogRank(Result):
    """Result of :func:`logrank`.

    Attributes
    ----------
    statistic, df, p_value
        Chi-squared statistic, degrees of freedom (groups − 1) and p-value.
    table
        Per group: ``group, n, observed, expected`` (weighted by ``S(t−)^rho``, as R).
    variance
        The variance matrix of observed − expected.
    """

    _title: ClassVar[str] = "Log-rank test"
    _options: ClassVar[tuple[str, ...]] = ("rho",)

    statistic: float
    df: int
    p_value: float
    table: pd.DataFrame
    variance: np.ndarray = field(repr=False)
    rho: float = 0.0

    def _terms(self) -> list[dict[str, Any]]:
        nan = float("nan")
        return [{"term": "log-rank chi-squared" if self.rho == 0 else
                 f"G-rho (rho = {self.rho:g}) chi-squared", "estimate": self.statistic,
                 "se": nan, "ci_low": nan, "ci_high": nan, "df": float(self.df),
                 "p_value": self.p_value}]

    def _details(self) -> list[str]:
        return [f"{r['group']}: observed {r['observed']:.4g}, expected {r['expected']:.4g}"
                for _, r in self.table.iterrows()]


def logrank(
    data: pd.DataFrame,
    duration: str,
    event: str,
    group: str,
    *,
    strata: str | None = None,
    rho: float = 0.0,
) -> LogRank:
    """Log-rank (``rho = 0``) or Harrington–Fleming G-rho test of equal survival across groups.

    Parameters
    ----------
    data, duration, event
        As :func:`kaplan_meier`.
    group
        Groups to compare (two or more).
    strata
        Column of strata: the test sums within-stratum comparisons.
    rho
        Weight ``S(t−)^rho`` on each event time, ``S`` the pooled Kaplan–Meier estimate of the
        stratum; ``rho = 1`` is the Peto–Peto modification of the Gehan–Wilcoxon test.

    Notes
    -----
    Equal to R's ``survdiff(Surv(duration, event) ~ group + strata(strata), rho = rho)``.

    References
    ----------
    Harrington, D. P., & Fleming, T. R. (1982). A class of rank test procedures for censored
    survival data. *Biometrika*, 69, 553–566.
    """
    clean = _check(data, duration, event)
    gidx, levels = _groups(data, group)
    k = len(levels)
    if k < 2:
        raise EvalDataError([DataProblem(group, "has only one group", "two or more groups")],
                            source=source_of(data))
    if not (clean[event].to_numpy(dtype=float) > 0).any():
        # R's survdiff answers chi-squared 0 on -1 df with p NA: there is nothing to compare
        raise EvalDataError([DataProblem(
            event, "has no events: every row is censored, so no events were observed and the "
            "groups' survival cannot be compared", "at least one event")],
            source=source_of(data))
    obs = np.zeros(k)
    exp_ = np.zeros(k)
    var = np.zeros((k, k))
    strata_codes = (np.zeros(len(clean), dtype=int) if strata is None
                    else _groups(data, strata)[0])
    time = timefix(clean[duration].to_numpy(dtype=float))
    ev = clean[event].to_numpy(dtype=float)
    for s in np.unique(strata_codes):
        m = strata_codes == s
        t, e, g = time[m], ev[m], gidx[m]
        ut, inv = np.unique(t, return_inverse=True)
        cell = inv * k + g
        n_at = np.bincount(cell, minlength=ut.size * k).reshape(ut.size, k).astype(float)
        d_at = np.bincount(cell, weights=e, minlength=ut.size * k).reshape(ut.size, k)
        risk = n_at[::-1].cumsum(axis=0)[::-1]  # at risk in each group at each time
        n = risk.sum(axis=1)
        d = d_at.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            km = np.cumprod(1 - d / n)
        km_left = np.concatenate([[1.0], km[:-1]])
        w = km_left**rho if rho != 0 else np.ones_like(n)
        has = d > 0
        w, n, d, risk, d_at = w[has], n[has], d[has], risk[has], d_at[has]
        obs += (w[:, None] * d_at).sum(axis=0)
        exp_ += (w[:, None] * risk * (d / n)[:, None]).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            c = np.where(n > 1, w**2 * d * (n - d) / (n - 1) / n**2, 0.0)
        var += np.einsum("t,tj,jk->jk", c * n, risk, np.eye(k)) - np.einsum("t,tj,tk->jk", c,
                                                                             risk, risk)
    diff = obs - exp_
    df = int(np.linalg.matrix_rank(var[:-1, :-1]))
    if df == 0:
        raise EvalDataError([DataProblem(
            group, "never has two groups at risk at the same event time (or only at times "
            "when everyone at risk had the event), so the log-rank test has no information",
            "events at times when more than one group is still followed")],
            source=source_of(data))
    stat = float(diff[:-1] @ np.linalg.pinv(var[:-1, :-1]) @ diff[:-1])
    p = float(special.chdtrc(df, stat))
    n_per = np.bincount(gidx, minlength=k)
    cautions = []
    if df < k - 1:
        cautions.append(Caution(
            f"The comparison has {df} degrees of freedom instead of {k - 1}: some groups never "
            "overlap in time with the others at an event, so they add nothing to the test."))
    d_per = np.bincount(gidx, weights=clean[event].to_numpy(dtype=float), minlength=k)
    for g, d in zip(levels, d_per):
        if d == 0:
            cautions.append(Caution(
                f"No events in group {group} = {g}: the test compares the other groups' events "
                "with none in this group.", limits=False))
    table = pd.DataFrame({"group": levels, "n": n_per, "observed": obs, "expected": exp_})
    return LogRank(statistic=stat, df=df, p_value=p, table=table, variance=var, rho=float(rho),
                   cautions=tuple(cautions))


# -- restricted mean survival time -------------------------------------------------------------

def _rmst_one(time: np.ndarray, event: np.ndarray, tau: float) -> tuple[float, float]:
    """Area under the KM curve up to ``tau`` and its variance (Greenwood-type, as survRM2)."""
    km = _km_arrays(time, event)
    t, s, d, n = km["time"], km["surv"], km["n_event"], km["n_risk"]
    keep = t <= tau
    t, s, d, n = t[keep], s[keep], d[keep], n[keep]
    grid = np.concatenate([[0.0], t, [tau]])
    heights = np.concatenate([[1.0], s])
    widths = np.diff(grid)
    area = float((heights * widths).sum())
    # area from each event time to tau
    pieces = heights[1:] * widths[1:]
    tail = pieces[::-1].cumsum()[::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where((d > 0) & (n > d), tail**2 * d / (n * (n - d)), 0.0)
    return area, float(terms.sum())


@dataclass(frozen=True)
class RMST(Result):
    """Result of :func:`rmst`.

    Attributes
    ----------
    tau
        Horizon.
    table
        Per group: ``group, rmst, se, ci_low, ci_high``.
    diff, diff_se, diff_ci_low, diff_ci_high, diff_p_value
        Difference of the second group minus the first (in sorted order, or as ``order``).
    ratio, ratio_ci_low, ratio_ci_high, ratio_p_value
        Ratio second / first with a CI on the log scale.
    """

    _title: ClassVar[str] = "Restricted mean survival time"
    _options: ClassVar[tuple[str, ...]] = ("tau", "alpha")

    tau: float
    table: pd.DataFrame
    diff: float
    diff_se: float
    diff_ci_low: float
    diff_ci_high: float
    diff_p_value: float
    ratio: float
    ratio_ci_low: float
    ratio_ci_high: float
    ratio_p_value: float
    groups: tuple[str, str] = ("", "")
    alpha: float = 0.05

    @property
    def estimate(self) -> float:
        """The headline estimate: the RMST difference."""
        return self.diff

    def _terms(self) -> list[dict[str, Any]]:
        nan = float("nan")
        rows = [{"term": f"rmst ({r['group']})", "estimate": r["rmst"], "se": r["se"],
                 "ci_low": r["ci_low"], "ci_high": r["ci_high"], "p_value": nan}
                for _, r in self.table.iterrows()]
        rows.append({"term": f"difference ({self.groups[1]} − {self.groups[0]})",
                     "estimate": self.diff, "se": self.diff_se, "ci_low": self.diff_ci_low,
                     "ci_high": self.diff_ci_high, "p_value": self.diff_p_value})
        rows.append({"term": f"ratio ({self.groups[1]} / {self.groups[0]})",
                     "estimate": self.ratio, "se": nan, "ci_low": self.ratio_ci_low,
                     "ci_high": self.ratio_ci_high, "p_value": self.ratio_p_value})
        return rows


def rmst(
    data: pd.DataFrame,
    duration: str,
    event: str,
    group: str,
    *,
    tau: float,
    order: Sequence[Any] | None = None,
    alpha: float = 0.05,
) -> RMST:
    """Restricted mean survival time to ``tau`` per group, their difference and ratio.

    The average event-free time over the first ``tau`` days: a summary that stays meaningful
    when hazards are not proportional.

    Parameters
    ----------
    data, duration, event
        As :func:`kaplan_meier`.
    group
        Two groups.
    tau
        Horizon; must not exceed the largest time observed in either group.
    order
        ``(reference, comparison)``: the difference is comparison − reference. Default: the
        two group values in sorted order.
    alpha
        1 − confidence level.

    Notes
    -----
    Per-group RMST and SE equal R's ``print(survfit(...), rmean = tau)`` and
    ``survRM2::rmst2``; differences and ratios follow ``rmst2`` (normal approximation, ratio
    on the log scale).

    References
    ----------
    Uno, H., et al. (2014). Moving beyond the hazard ratio in quantifying the between-group
    difference in survival analysis. *Journal of Clinical Oncology*, 32, 2380–2385.
    """
    alpha = check_alpha(alpha)
    clean = _check(data, duration, event)
    codes, present = _groups(data, group)
    levels = present if order is None else list(_group_text(pd.Series(list(order))))
    if len(levels) != 2 or not set(levels) <= set(present):
        raise EvalDataError([DataProblem(group, "needs exactly two groups present in the data",
                                         "two groups")], source=source_of(data))
    if not (isinstance(tau, (int, float)) and tau > 0):
        raise ValueError(f"tau must be a positive number, not {tau!r}")
    z = float(special.ndtri(1 - alpha / 2))
    rows, cautions = [], []
    t_all = timefix(clean[duration].to_numpy(dtype=float))
    for lev in levels:
        m = codes == present.index(lev)
        sub = clean[m]
        t = t_all[m]
        if tau > t.max():
            raise EvalDataError(
                [DataProblem(duration, f"group {lev!r} is followed only to {t.max():g}, "
                             f"short of tau = {tau:g}", "tau within every group's follow-up")],
                source=source_of(data))
        e = sub[event].to_numpy(dtype=float)
        area, var = _rmst_one(t, e, float(tau))
        rows.append({"group": str(lev), "rmst": area, "var": var})
    nan = float("nan")
    a, b = rows
    diff = b["rmst"] - a["rmst"]
    variances = [a["var"], b["var"]]
    dvar = sum(variances)  # survRM2 adds the groups' variances, a zero one included
    for r in rows:
        if r["var"] <= (1e-10 * max(1.0, r["rmst"])) ** 2:
            cautions.append(Caution(
                f"Group {group} = {r['group']} has no usable events before tau = {tau:g} (all "
                "censored, or everyone had the event at once), so its restricted mean has a "
                "standard error of zero: it is shown as missing, and the comparison counts "
                "this group's uncertainty as zero (as R's survRM2 does), so its interval is "
                "too narrow."))
            r["se"] = nan
        else:
            r["se"] = math.sqrt(r["var"])
        r["ci_low"], r["ci_high"] = r["rmst"] - z * r["se"], r["rmst"] + z * r["se"]
        del r["var"]
    dse = math.sqrt(dvar)
    if dse <= 1e-10 * max(1.0, abs(diff)):
        dse = nan
        cautions.append(Caution(
            "Neither group has events before tau that carry uncertainty, so the standard "
            "error of the difference is zero: no confidence interval or p-value can be given."))
    if a["rmst"] > 0 and b["rmst"] > 0:
        lr = math.log(b["rmst"] / a["rmst"])
        lse = math.sqrt(sum(v / r["rmst"] ** 2 for v, r in zip(variances, rows)))
        if lse <= 1e-10 * max(1.0, abs(lr)):
            lse = nan
        ratio = math.exp(lr)
    else:
        lr = lse = ratio = nan
        cautions.append(Caution(
            "A group's restricted mean is zero (everyone had the event at time 0), so the "
            "ratio of restricted means is undefined and shown as missing.", limits=False))
    return RMST(
        tau=float(tau), table=pd.DataFrame(rows), diff=diff, diff_se=dse,
        diff_ci_low=diff - z * dse, diff_ci_high=diff + z * dse,
        diff_p_value=float(2 * special.ndtr(-abs(diff / dse))), ratio=ratio,
        ratio_ci_low=math.exp(lr - z * lse), ratio_ci_high=math.exp(lr + z * lse),
        ratio_p_value=float(2 * special.ndtr(-abs(lr / lse))),
        groups=(str(levels[0]), str(levels[1])), alpha=alpha, cautions=tuple(cautions),
    )


# -- competing risks ---------------------------------------------------------------------------

def _cuminc_one(time: np.ndarray, status: np.ndarray, cause: Any, censor: Any):
    """Aalen–Johansen cumulative incidence of ``cause`` and its variance (Gray's estimator,
    as cmprsk::cuminc), at each distinct time where that cause occurs."""
    order = np.argsort(time, kind="stable")
    t, st = time[order], status[order]
    ut, inv = np.unique(t, return_inverse=True)
    n_at = np.bincount(inv, minlength=ut.size).astype(float)
    d1 = np.bincount(inv, weights=(st == cause).astype(float), minlength=ut.size)
    dall = np.bincount(inv, weights=(st != censor).astype(float), minlength=ut.size)
    d2 = dall - d1
    rs = n_at[::-1].cumsum()[::-1]
    fkn = np.cumprod((rs - dall) / rs)  # overall KM just after each time
    fk = np.concatenate([[1.0], fkn[:-1]])  # ... and just before
    F = np.cumsum(fk * d1 / rs)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_fkn = np.where(fkn > 0, 1 / fkn, 0.0)
        t5a = np.where(d2 > 1, 1 - (d2 - 1) / (rs - 1), 1.0)
        t5b = np.where(d1 > 1, 1 - (d1 - 1) / (rs - 1), 1.0)
    m2 = (d2 > 0) & (fkn > 0)
    t6a = np.where(m2, fk**2 * t5a * d2 / rs**2, 0.0)
    t4a = F * inv_fkn
    m1 = d1 > 0
    t6b = np.where(m1, fk**2 * t5b * d1 / rs**2, 0.0)
    t4b = 1 + inv_fkn * F
    v1 = np.cumsum(t4a**2 * t6a + t4b**2 * t6b)
    v2 = np.cumsum(inv_fkn * t4a * t6a + inv_fkn * t4b * t6b)
    v3 = np.cumsum(inv_fkn**2 * t6a + inv_fkn**2 * t6b)
    var = v1 + F**2 * v3 - 2 * F * v2
    jumps = np.flatnonzero(m1)
    return ut[jumps], F[jumps], var[jumps]


def _gray_test(time: np.ndarray, status: np.ndarray, group: np.ndarray, cause: Any,
               censor: Any, rho: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Score vector and variance of Gray's (1988) K-sample test for one cause, one stratum."""
    levels = np.unique(group)
    ng = levels.size
    gi = np.searchsorted(levels, group)
    order = np.argsort(time, kind="stable")
    t, st, g = time[order], status[order], gi[order]
    kind = np.where(st == cause, 1, np.where(st == censor, 0, 2))
    rs = np.bincount(g, minlength=ng).astype(float)
    f1m = np.zeros(ng)
    skmm = np.ones(ng)
    fm = 0.0
    s = np.zeros(ng - 1)
    v = np.zeros((ng - 1, ng - 1))
    c = np.zeros((ng, ng))
    v3 = np.zeros(ng)
    v2 = np.zeros((ng - 1, ng))
    ut, start = np.unique(t, return_index=True)
    bounds = np.append(start, t.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        _gray_pass(ut, bounds, kind, g, ng, rs, f1m, skmm, fm, s, v, c, v3, v2, rho)
    cc = c[:-1]
    v += (cc * v3) @ cc.T + cc @ v2.T + v2 @ cc.T
    return s, v


def _gray_pass(ut, bounds, kind, g, ng, rs, f1m, skmm, fm, s, v, c, v3, v2, rho):
    """The pass over distinct times of :func:`_gray_test` (updates its arrays in place)."""
    for k in range(ut.size):
        sl = slice(bounds[k], bounds[k + 1])
        d = np.zeros((3, ng))
        np.add.at(d, (kind[sl], g[sl]), 1.0)
        nd1, nd2 = d[1].sum(), d[2].sum()
        if nd1 > 0 or nd2 > 0:
            live = rs > 0
            skm = np.where(live, skmm * (rs - d[1] - d[2]) / rs, skmm)
            f1 = np.where(live, f1m + skmm * d[1] / rs, f1m)
            h = np.where(live, rs / skmm, 0.0)
            tr = h.sum()
            tq = (np.where(live, rs * (1 - f1m) / skmm, 0.0)).sum()
            f = fm + nd1 / tr
            fb = (1 - fm) ** rho
            a = -fb * np.outer(h, h) / tr
            np.fill_diagonal(a, fb * h * (1 - h / tr))
            a[~live, :] = 0
            a[:, ~live] = 0
            c += a * nd1 / (tr * (1 - fm))
            s += np.where(live[:-1], fb * (d[1, :-1] - nd1 * rs[:-1] * (1 - f1m[:-1])
                                           / (skmm[:-1] * tq)), 0.0)
            if nd1 > 0:
                for kk in np.flatnonzero(live):
                    t4 = 1 - (1 - f) / skm[kk] if skm[kk] > 0 else 1.0
                    t5 = 1 - (nd1 - 1) / (tr * skmm[kk] - 1) if nd1 > 1 else 1.0
                    t3 = t5 * skmm[kk] * nd1 / (tr * rs[kk])
                    v3[kk] += t4 * t4 * t3
                    t1 = a[:-1, kk] - t4 * c[:-1, kk]
                    v2[:, kk] += t1 * t4 * t3
                    v += np.outer(t1, t1) * t3
            if nd2 > 0:
                for kk in np.flatnonzero((skm > 0) & (d[2] > 0)):
                    t4 = (1 - f) / skm[kk]
                    t5 = 1 - (d[2, kk] - 1) / (rs[kk] - 1) if d[2, kk] > 1 else 1.0
                    t3 = t5 * skmm[kk] ** 2 * d[2, kk] / rs[kk] ** 2
                    v3[kk] += t4 * t4 * t3
                    t1 = t4 * c[:-1, kk]
                    v2[:, kk] -= t1 * t4 * t3
                    v += np.outer(t1, t1) * t3
            fm = f
            f1m[:] = f1
            skmm[:] = skm
        rs -= np.bincount(g[sl], minlength=ng)


@dataclass(frozen=True)
class CumulativeIncidence(Result):
    """Result of :func:`cumulative_incidence`.

    Attributes
    ----------
    table
        ``group, cause, time, estimate, variance, ci_low, ci_high`` at every time the cause
        occurs (a step function, right-continuous).
    gray
        Gray's test per cause across groups: ``cause, statistic, df, p_value`` (empty without
        groups).
    """

    _title: ClassVar[str] = "Cumulative incidence (competing risks)"
    _options: ClassVar[tuple[str, ...]] = ("alpha",)

    table: pd.DataFrame
    gray: pd.DataFrame
    causes: tuple[Any, ...] = ()
    group: str | None = None
    alpha: float = 0.05

    def at(self, times: Sequence[float]) -> pd.DataFrame:
        """Cumulative incidence of each cause (and group) at the given times."""
        cols = ["estimate", "variance", "ci_low", "ci_high"]
        return _step_at(self.table, ["group", "cause"], times, cols, dict.fromkeys(cols, 0.0))

    def _terms(self) -> list[dict[str, Any]]:
        nan = float("nan")
        return [{"term": f"Gray's test, cause {r['cause']}", "estimate": r["statistic"],
                 "se": nan, "ci_low": nan, "ci_high": nan, "df": float(r["df"]),
                 "p_value": r["p_value"]} for _, r in self.gray.iterrows()]

    def to_frame(self) -> pd.DataFrame:
        """Gray's test per cause (no rows without groups): ``term, estimate`` (the
        statistic), ``se, ci_low, ci_high`` (empty), ``p_value, df``."""
        return pd.DataFrame(self._terms(), columns=_FRAME_COLUMNS + ["df"])


def cumulative_incidence(
    data: pd.DataFrame,
    duration: str,
    event_type: str,
    *,
    group: str | None = None,
    censor_value: Any = 0,
    rho: float = 0.0,
    alpha: float = 0.05,
) -> CumulativeIncidence:
    """Cumulative incidence of each cause in the presence of competing events, and Gray's test.

    When youth can leave a program for other reasons (reunification, aging out), one minus
    the Kaplan–Meier estimate overstates how many had the event; the Aalen–Johansen
    cumulative incidence counts only those who actually had it.

    Parameters
    ----------
    data
        One row per person.
    duration
        Time to the first event of any kind, or to censoring.
    event_type
        Which event ended follow-up: ``censor_value`` for none (censored), otherwise the
        cause (e.g. 1 runaway, 2 reunification).
    group
        Groups to estimate and compare (Gray's test per cause).
    censor_value
        The value of ``event_type`` that means censored.
    rho
        Power of the weight ``(1 − F(t−))^rho`` in Gray's test (cmprsk's default 0).
    alpha
        1 − confidence level of the pointwise intervals (estimate ± z·SE, clipped to [0, 1]).

    Notes
    -----
    Estimates, variances and Gray's test equal R's ``cmprsk::cuminc(ftime, fstatus, group,
    cencode = censor_value)``; tied times are handled exactly, not by jittering.

    References
    ----------
    Gray, R. J. (1988). A class of K-sample tests for comparing the cumulative incidence of a
    competing risk. *Annals of Statistics*, 16, 1141–1154.
    """
    alpha = check_alpha(alpha)
    cols = [Column(duration, min=0, allow_missing=False, label="time to first event"),
            Column(event_type, kind="string", allow_missing=False, label="event type")]
    clean = validate(data, cols)
    status = _group_text(clean[event_type])
    censor = _group_text(pd.Series([censor_value])).iloc[0]
    causes = tuple(sorted(set(status) - {censor}, key=str))
    if not causes:
        raise EvalDataError([DataProblem(event_type, "has no events of any cause",
                                         "at least one event")], source=source_of(data))
    time = clean[duration].to_numpy(dtype=float)
    st = status.to_numpy()
    if group is None:
        gvals = np.full(len(clean), "all", dtype=object)
    else:
        gcodes, glabels = _groups(data, group)
        gvals = np.asarray(glabels, dtype=object)[gcodes]
    z = float(special.ndtri(1 - alpha / 2))
    rows, cautions = [], []
    for g in sorted(set(gvals), key=str):
        m = gvals == g
        for c in causes:
            tt, est, var = _cuminc_one(time[m], st[m], c, censor)
            if tt.size == 0 and group is not None:
                cautions.append(Caution(
                    f"No events of cause {c} in group {group} = {g}: its cumulative incidence "
                    "of that cause stays at zero during follow-up.", limits=False))
            se = np.sqrt(np.maximum(var, 0))
            rows.append(pd.DataFrame({"group": g, "cause": c, "time": tt, "estimate": est,
                                      "variance": var,
                                      "ci_low": np.clip(est - z * se, 0, 1),
                                      "ci_high": np.clip(est + z * se, 0, 1)}))
    table = pd.concat(rows, ignore_index=True)
    gray_rows = []
    if group is not None and len(set(gvals)) < 2:
        cautions.append(Caution(
            f"Only one group in '{group}': Gray's test, which compares groups, is not done.",
            limits=False))
    if group is not None and len(set(gvals)) > 1:
        for c in causes:
            s, v = _gray_test(time, st, gvals, c, censor, rho)
            ok = bool(np.all(np.isfinite(v)) and np.all(np.isfinite(s)))
            df = int(np.linalg.matrix_rank(v)) if ok else 0
            if df == 0:
                cautions.append(Caution(
                    f"Gray's test for cause {c} has no information (no event of that cause "
                    "while more than one group was followed), so it is shown as missing."))
                gray_rows.append({"cause": c, "statistic": float("nan"), "df": 0,
                                  "p_value": float("nan")})
                continue
            stat = float(s @ np.linalg.pinv(v) @ s)
            gray_rows.append({"cause": c, "statistic": stat, "df": df,
                              "p_value": float(special.chdtrc(df, stat))})
    gray = pd.DataFrame(gray_rows, columns=["cause", "statistic", "df", "p_value"])
    return CumulativeIncidence(table=table, gray=gray, causes=causes,
                               group=group, alpha=alpha, cautions=tuple(cautions))

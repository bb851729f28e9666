"""Time-to-event outcomes: Kaplan–Meier and log-rank tests.

Days until a youth runs from placement, is re-exploited or re-arrested are mostly censored:
the follow-up ends before the event. Every function here agrees with R's ``survival`` package
(``survfit``, ``survdiff``, ``print(survfit, rmean = tau)``), implemented on numpy so that no
dependency pins pandas. Restricted mean survival time lives in :mod:`evalkit.methods.rmst`,
cumulative incidence with competing risks in :mod:`evalkit.methods.competing` and Cox
regression in :mod:`evalkit.methods.cox`.

The module runs past 600 lines because the case-weighted Kaplan–Meier (its robust variance
and the checks of the weights) sits beside the unweighted one it must agree with.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast, get_args

import numpy as np
import pandas as pd
from scipy import special

from evalkit.data import Column, _origin, source_of, validate
from evalkit.exceptions import DataProblem, EvalDataError, EvalOptionError
from evalkit.results import Caution, Result, check_alpha, check_option

if TYPE_CHECKING:
    from evalkit.methods.matching import Matched
    from evalkit.methods.propensity import Weights

__all__ = [
    "kaplan_meier",
    "KaplanMeier",
    "logrank",
    "LogRank",
    "survival_columns",
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


def columns(duration: str, event: str, *, group: str, id: str | None = None,
            covariates: Sequence[str] = (), event_type: str | None = None) -> list[Column]:
    """The column specs of a two-group survival evaluation (for :func:`evalkit.data.load`).

    Parameters
    ----------
    duration, event
        Time from entry to the event or the end of follow-up, and 1 for the event, 0 for
        censoring.
    group
        0/1 column: 1 for the program group, 0 for the comparison group.
    id
        Case-identifier column, checked for uniqueness.
    covariates
        Numeric baseline covariates of the Cox model.
    event_type
        Column naming how follow-up ended, for the cumulative incidence of competing exits.

    Returns
    -------
    list of evalkit.data.Column
        The specs ``evalkit run`` checks before the analysis and the template loads with.
    """
    cols = [*([Column(id, kind="id", label="case identifier")] if id else []),
            *survival_columns(duration, event, extra=covariates),
            Column(group, kind="binary", allow_missing=False,
                   label="1 for the program group, 0 for the comparison group")]
    if event_type:
        cols.append(Column(event_type, kind="string", allow_missing=False,
                           label="how follow-up ended"))
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
    """Values of right-continuous step functions at ``times``, one function per ``keys`` group.

    The groups are those of ``table``, which has a sorted ``time`` column; the value before
    the first step is ``start``.
    """
    rows = []
    for key, tab in table.groupby(keys, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        idx = np.searchsorted(tab["time"].to_numpy(), times, side="right") - 1
        for t, i in zip(times, idx, strict=True):
            vals = start if i < 0 else {c: tab[c].iloc[i] for c in columns}
            rows.append({**dict(zip(keys, key, strict=True)), "time": t, **vals})
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


def _km_weighted(time: np.ndarray, event: np.ndarray, w: np.ndarray, robust: bool
                 ) -> dict[str, np.ndarray]:
    """Weighted KM at every distinct time, as R's ``survfitkm`` with case weights.

    Counts are sums of weights. With ``robust`` the standard error of the survival is the
    infinitesimal jackknife one (R's default for non-integer weights, one cluster per row),
    else Greenwood's formula on the weighted counts. ``se_log`` is the standard error on the
    log scale that the confidence intervals use, ``std_err`` that of the survival itself.
    """
    ut, inv = np.unique(time, return_inverse=True)
    inv = inv.reshape(-1)
    wt = np.bincount(inv, weights=w, minlength=ut.size)
    d = np.bincount(inv, weights=w * event, minlength=ut.size)
    n_risk = wt[::-1].cumsum()[::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        has = d > 0
        surv = np.cumprod(np.where(has, 1.0 - d / n_risk, 1.0))
        green = np.cumsum(np.where(has, d / (n_risk * (n_risk - d)), 0.0))
        if not robust:
            se_log = np.sqrt(green)
            std_err = surv * se_log
        else:
            # Influence of row k on S(t), divided by S(t): w_k * (A(min(t, T_k)) - 1{event of
            # k at T_k <= t} / (n(T_k) - d(T_k))), A the Greenwood sum; the variance sums its
            # square over rows: rows still at risk share A(t), the others are fixed.
            c = np.where(w > 0, w * (green[inv] - event / (n_risk - d)[inv]), 0.0)
            done = np.bincount(inv, weights=c * c, minlength=ut.size).cumsum()
            w2 = np.bincount(inv, weights=w * w, minlength=ut.size)
            later = w2[::-1].cumsum()[::-1] - w2
            std_err = np.sqrt(surv**2 * (green**2 * later + done))
            std_err[surv == 0] = 0.0  # as R: nobody left, no influence
            se_log = np.where(std_err == 0, 0.0, std_err / surv)
    return {"time": ut, "n_risk": n_risk, "n_event": d, "n_censor": wt - d, "surv": surv,
            "std_err": std_err, "se_log": se_log}


def _case_weights(data: pd.DataFrame, weights: Any) -> tuple[np.ndarray, str]:
    """Case weights as an array in the data's row order, and their name for messages.

    ``weights`` is a column name, a Series aligned with the data's index (by label), an
    array of one weight per row, or a result with a ``weights`` attribute (such as
    :class:`evalkit.weighting.Weights`). They must be finite, non-negative and not all zero.
    """
    origin = _origin(data, None)

    def fail(problems: list[DataProblem]) -> EvalDataError:
        return EvalDataError(problems, source=origin.source, row_word=origin.row_word)

    def rows(mask: np.ndarray) -> dict[str, Any]:
        idx = np.flatnonzero(mask)
        return {"rows": tuple(int(i) + origin.offset for i in idx[:8]), "n_rows": int(idx.size)}

    if not isinstance(weights, (str, pd.Series, np.ndarray, list, tuple)) and hasattr(
            weights, "weights"):
        weights = weights.weights
    if isinstance(weights, str):
        if weights not in data.columns:
            raise fail([DataProblem(weights, "weights column is missing", "case weights")])
        name, raw = weights, data[weights]
    elif isinstance(weights, pd.Series):
        name = str(weights.name) if weights.name is not None else "weights"
        if weights.index.has_duplicates:
            raise fail([DataProblem(name, "the weights' index has duplicate labels, so they "
                                    "cannot be matched to the data's rows",
                                    "a Series indexed like the data (one weight per row)")])
        absent = ~data.index.isin(weights.index)
        if absent.any():
            raise fail([DataProblem(name, "no weight for these rows: the weights' index does "
                                    "not contain their labels (are the weights aligned with "
                                    "the data's index?)", "a weight for every row of the data",
                                    **rows(absent))])
        raw = weights.reindex(data.index)
    else:
        arr = np.asarray(weights)
        name = "weights"
        if arr.ndim != 1 or len(arr) != len(data):
            raise fail([DataProblem(name, f"{arr.size} weights for {len(data)} rows",
                                    "one weight per row of the data")])
        raw = pd.Series(arr, index=data.index)
    w = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    missing = raw.isna().to_numpy()
    problems = [DataProblem(name, message, "finite weights of 0 or more", **rows(mask))
                for message, mask in (
                    ("weights are missing", missing),
                    ("weights are not numbers", np.isnan(w) & ~missing),
                    ("weights are infinite", np.isinf(w)),
                    ("weights are negative", w < 0)) if mask.any()]
    if problems:
        raise fail(problems)
    if not (w > 0).any():
        raise fail([DataProblem(name, "every weight is zero", "some positive weights")])
    return w, name


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
    """First time the curve reaches ``p``, as R survival's ``summary(fit)$table``.

    As ``print(fit)`` also. When the curve sits exactly on ``p``, the midpoint to the next
    drop is returned; when it stays on ``p`` to the end of follow-up, the time it reached
    ``p`` (R's table; R's ``quantile(fit)`` instead gives the midpoint to the last time
    listed, 4 for times 1, 2, 4, 6 with events at 1 and 2).
    """
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
        error of the survival probability (Greenwood, or the robust one), as
        ``summary(survfit)`` prints it. With case weights the counts are sums of weights.
    median
        Per group: ``group, n, events, median, ci_low, ci_high`` (R's rule for medians); with
        case weights ``n`` counts the rows with a positive weight, ``n_weighted`` sums their
        weights and ``events`` is the weighted number of events.
    weights
        Name of the case weights (``None`` without them).
    robust
        Whether ``std_err`` is the robust (infinitesimal jackknife) standard error.
    """

    _title: ClassVar[str] = "Kaplan–Meier estimate"
    _options: ClassVar[tuple[str, ...]] = ("conf_type", "alpha")

    table: pd.DataFrame
    median: pd.DataFrame
    group: str | None = None
    conf_type: ConfType = "log"
    alpha: float = 0.05
    weights: str | None = None
    robust: bool = False
    start: str | None = None

    def at(self, times: Sequence[float]) -> pd.DataFrame:
        """Survival (with CI and number at risk) at the given times, per group.

        Between event times the curve is flat: the estimate at ``t`` is that of the last
        time at or before ``t``; the number at risk is that of the first listed time at or
        after ``t`` (with delayed entry too, as R's ``summary(survfit, times = )``).
        """
        out = _step_at(self.table, ["group"], times, ["surv", "std_err", "ci_low", "ci_high"],
                       {"surv": 1.0, "std_err": 0.0, "ci_low": 1.0, "ci_high": 1.0})
        n_risk = []
        for g, t in zip(out["group"], out["time"], strict=True):
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
        if self.weights is not None:
            return [f"{int(r['n'])} subjects (weighted {r['n_weighted']:.4g}), "
                    f"{r['events']:.4g} weighted events"
                    + (f" in group {g}" if self.group else "")
                    for g, r in self.median.set_index("group").iterrows()]
        return [f"{int(r['n'])} subjects, {int(r['events'])} events"
                + (f" in group {g}" if self.group else "")
                for g, r in self.median.set_index("group").iterrows()]

    def _options_text(self) -> str:
        text = super()._options_text()
        if self.weights is not None:
            text += f", weights={self.weights!r}"
        if self.robust:
            text += ", robust=True"
        if self.start is not None:
            text += f", start={self.start!r}"
        return text


def kaplan_meier(
    data: pd.DataFrame,
    duration: str,
    event: str,
    *,
    group: str | None = None,
    conf_type: ConfType = "log",
    alpha: float = 0.05,
    weights: str | pd.Series | np.ndarray | Weights | Matched | None = None,
    robust: bool | None = None,
    start: str | None = None,
) -> KaplanMeier:
    """Kaplan–Meier survival curves with Greenwood (or robust) standard errors.

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
    weights
        Case weights: a column name, a Series aligned with the data's index (such as
        ``evalkit.weighting.propensity(...).weights``), an array of one weight per row, or a
        :class:`~evalkit.weighting.Weights` or :class:`~evalkit.weighting.Matched` result (its
        ``weights``). Finite and non-negative; a row with a weight of zero counts for nothing
        (its time is still listed, as in R). The curve, the numbers at risk, of events and of
        censorings, the medians and :meth:`KaplanMeier.at` are then weighted.
    robust
        Robust (infinitesimal jackknife) standard errors, one cluster per row. ``None`` (the
        default) follows R: robust when some weight is not a whole number, Greenwood's
        formula on the weighted counts otherwise (whole-number weights count copies of a row).
    start
        Column of entry times, for delayed entry (left truncation): a row is at risk at
        ``t`` when ``start < t <= duration``, so a youth who entered the program on day 30
        after being identified counts from day 30 on. ``duration`` is then the time of the
        event or censoring on the same scale (not the time since entry). Not with
        ``weights``.

    Returns
    -------
    KaplanMeier
        The curves (``table``), the medians (``median``) and the cautions.

    Raises
    ------
    EvalDataError
        Durations or events out of range; weights that are missing, not numbers, infinite,
        negative, all zero, zero throughout a group, or a Series not aligned with the data's
        index (the message names the rows); with ``start``, an entry time that is missing or
        not before ``duration``.

    Notes
    -----
    Equal to R's ``survfit(Surv(duration, event) ~ group, conf.type = conf_type,
    weights = weights, robust = robust)``, and with ``start`` to ``survfit(Surv(start,
    duration, event) ~ group)`` (numbers at risk, Greenwood standard errors, intervals);
    medians and their CIs equal
    ``summary(fit)$table`` (and ``print(fit)``; see :func:`_quantile` for the one shape where
    ``quantile(fit)`` differs). Rows with a weight of zero are kept, as R keeps them: they add
    nothing to the counts, and their times are listed (with zero counts where nothing else
    happens then).

    References
    ----------
    Kaplan, E. L., & Meier, P. (1958). Nonparametric estimation from incomplete observations.
    *JASA*, 53, 457–481.

    Therneau, T. M. (2024). *A Package for Survival Analysis in R*, ``survfit`` and
    ``quantile.survfit``.
    """
    alpha = check_alpha(alpha)
    check_option("conf_type", conf_type, CONF_TYPES)
    if start is not None:
        from evalkit.methods.recurrent import km_entry

        if weights is not None or robust:
            raise EvalOptionError("weights and robust", (weights, robust),
                                  ["None with start= (delayed entry)"])
        return km_entry(data, start, duration, event, group=group, conf_type=conf_type,
                        alpha=alpha)
    clean = _check(data, duration, event)
    z = float(special.ndtri(1 - alpha / 2))
    time_all = timefix(clean[duration].to_numpy(dtype=float))
    event_all = clean[event].to_numpy(dtype=float)
    if group is None:
        codes, labels = np.zeros(len(clean), dtype=int), [cast(Any, None)]
    else:
        codes, labels = _groups(data, group)
    w_all, w_name = (None, None) if weights is None else _case_weights(data, weights)
    if robust is None:
        robust = w_all is not None and bool((w_all != np.floor(w_all)).any())
    robust = bool(robust)
    tables: list[pd.DataFrame] = []
    medians: list[dict[str, Any]] = []
    cautions: list[Caution] = []
    for k, g in enumerate(labels):
        m = codes == k
        if w_all is not None:
            if not (w_all[m] > 0).any():
                raise EvalDataError([DataProblem(
                    w_name, f"every weight is zero in {_group_name(g, group)}",
                    "some positive weights in every group")], source=source_of(data))
        t, e = time_all[m], event_all[m]
        w = w_all[m] if w_all is not None else np.ones(t.size) if robust else None
        if not (e > 0).any():
            cautions.append(Caution(
                f"No events in {_group_name(g, group)}: its survival curve stays at 1 with a "
                "standard error of zero, which only says that nobody in it was seen to have "
                "the event during follow-up, not that the chance is certainly zero."))
        elif e[t == t.max()].sum() == (t == t.max()).sum():
            cautions.append(Caution(
                f"In {_group_name(g, group)} everyone still followed at the last time had the "
                "event, so the curve drops to 0 there and its "
                + ("confidence interval at that time is undefined (shown as missing, with a "
                   "robust standard error of 0, as R does)." if robust else
                   "standard error and confidence interval at that time are undefined (shown "
                   "as missing, as R does)."),
                limits=False))
        if w is not None:
            km = _km_weighted(t, e, w, robust)
            lo, hi = _confint(km["surv"], km["se_log"], conf_type, z)
            std_err = km["std_err"]
        else:
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
            "group": g if g is not None else "all",
            "n": int((w > 0).sum()) if w is not None and w_all is not None else int(t.size),
            **({"n_weighted": float(w.sum()), "events": float(w @ e)}
               if w is not None and w_all is not None else {"events": int(e.sum())}),
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
                       alpha=alpha, weights=w_name, robust=robust, cautions=tuple(cautions))


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
    for g, d in zip(levels, d_per, strict=True):
        if d == 0:
            cautions.append(Caution(
                f"No events in group {group} = {g}: the test compares the other groups' events "
                "with none in this group.", limits=False))
    table = pd.DataFrame({"group": levels, "n": n_per, "observed": obs, "expected": exp_})
    return LogRank(statistic=stat, df=df, p_value=p, table=table, variance=var, rho=float(rho),
                   cautions=tuple(cautions))


# -- restricted mean survival time -------------------------------------------------------------


def __getattr__(name: str) -> Any:
    # RMST and cumulative incidence live in their own modules; their public names stay
    # importable from here, where they were first published.
    if name in ("RMST", "rmst"):
        from evalkit.methods import rmst as _rmst

        return getattr(_rmst, name)
    if name in ("CumulativeIncidence", "cumulative_incidence"):
        from evalkit.methods import competing as _competing

        return getattr(_competing, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Recurrent episodes and delayed entry: counting-process survival data.

Youth run away more than once, and they enter a program at different times after they were
first identified. Their follow-up is a set of ``(start, stop]`` intervals: a youth is at risk at
time ``t`` when ``start < t <= stop`` for one of their intervals. This module holds

* :func:`mean_cumulative_function`: the Nelson–Aalen mean number of episodes per youth, as
  R's ``survfit(Surv(start, stop, event) ~ group, id = id, ctype = 1)``;
* :func:`split_episodes`: one row per episode turned into ``(start, stop]`` rows;
* the delayed-entry Kaplan–Meier arrays that :func:`evalkit.methods.survival.kaplan_meier`
  uses when given ``start=``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, get_args

import numpy as np
import pandas as pd
from scipy import special

from evalkit.data import Column, _origin, validate
from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.methods.survival import (
    KaplanMeier,
    _confint,
    _group_name,
    _groups,
    _quantile,
    _step_at,
    timefix,
)
from evalkit.results import Caution, Result, check_alpha, check_option

__all__ = ["MeanCumulative", "mean_cumulative_function", "split_episodes", "MCF_CONF_TYPES"]

#: Confidence intervals of a cumulative hazard, as R's ``plot.survfit(cumhaz = TRUE)``.
McfConfType = Literal["plain", "log"]
MCF_CONF_TYPES: tuple[str, ...] = get_args(McfConfType)
#: Largest number of cells (youth × event times) the robust variance holds at once.
_CHUNK_CELLS = 4_000_000


# -- shared helpers ----------------------------------------------------------------------------

def _rows_of(mask: np.ndarray, offset: int) -> dict[str, Any]:
    idx = np.flatnonzero(mask)
    return {"rows": tuple(int(i) + offset for i in idx[:8]), "n_rows": int(idx.size)}


def _youth_text(ids: Any) -> str:
    """How many youth a problem concerns (their rows name them).

    An id is never printed, so a message copied into a ticket or a log carries none.
    """
    return f"{pd.Series(ids).astype(str).nunique()} youth"


def at_risk(entry: np.ndarray, exit: np.ndarray, times: Any) -> np.ndarray:
    """How many intervals are at risk at each of ``times``: ``entry < t <= exit``.

    ``entry`` and ``exit`` must be sorted (each on its own); this is R survival's count of
    the risk set for ``Surv(entry, exit, event)`` data.
    """
    t = np.asarray(times, dtype=float)
    return (np.searchsorted(entry, t, side="left")
            - np.searchsorted(exit, t, side="left")).astype(float)


def km_entry_arrays(entry: np.ndarray, exit: np.ndarray, event: np.ndarray
                    ) -> dict[str, np.ndarray]:
    """Kaplan–Meier with delayed entry at every distinct exit time, as R's survfit.

    A row is at risk at ``t`` when ``entry < t <= exit``; the variance of the cumulative
    hazard is Greenwood's sum ``d / (n (n - d))``. Times are the distinct exit times (events
    and censorings), as ``summary(survfit(Surv(entry, exit, event)), censored = TRUE)``.
    """
    ut, inv = np.unique(exit, return_inverse=True)
    inv = inv.reshape(-1)
    total = np.bincount(inv, minlength=ut.size).astype(float)
    d = np.bincount(inv, weights=event, minlength=ut.size)
    n_risk = at_risk(np.sort(entry), np.sort(exit), ut)
    with np.errstate(divide="ignore", invalid="ignore"):
        has = d > 0
        surv = np.cumprod(np.where(has, 1.0 - d / n_risk, 1.0))
        green = np.cumsum(np.where(has, d / (n_risk * (n_risk - d)), 0.0))
    return {"time": ut, "n_risk": n_risk, "n_event": d, "n_censor": total - d, "surv": surv,
            "se_cumhaz": np.sqrt(green)}


def interval_problems(start: np.ndarray, stop: np.ndarray, ids: np.ndarray | None,
                      start_name: str, stop_name: str, offset: int) -> list[DataProblem]:
    """Intervals that end at or before they start, and intervals of one youth that overlap.

    Row numbers count from ``offset``; the messages name the youth.
    """
    problems: list[DataProblem] = []
    bad = ~(stop > start)
    if bad.any():
        who = f" ({_youth_text(ids[bad])})" if ids is not None else ""
        problems.append(DataProblem(
            stop_name, f"the interval ends at or before it starts{who}",
            f"{stop_name} later than {start_name}", **_rows_of(bad, offset)))
    if ids is not None:
        order = np.lexsort((stop, start, ids))
        same = ids[order][1:] == ids[order][:-1]
        over = same & (start[order][1:] < stop[order][:-1])
        if over.any():
            mask = np.zeros(start.size, dtype=bool)
            mask[order[1:][over]] = True
            mask[order[:-1][over]] = True
            problems.append(DataProblem(
                start_name, f"intervals of the same youth overlap ({_youth_text(ids[mask])})",
                f"each youth's intervals one after another: a {start_name} at or after the "
                f"{stop_name} of that youth's previous interval", **_rows_of(mask, offset)))
    return problems


def km_entry(data: pd.DataFrame, start: str, duration: str, event: str, *,
             group: str | None, conf_type: str, alpha: float) -> KaplanMeier:
    """Kaplan–Meier with delayed entry (``kaplan_meier`` with ``start``).

    Equal to R's ``survfit(Surv(start, duration, event) ~ group, conf.type = conf_type)``.

    References
    ----------
    Therneau, T. M. (2024). *A Package for Survival Analysis in R*, ``survfit``.
    """
    origin = _origin(data, None)
    clean = validate(data, [
        Column(start, allow_missing=False, label="time of entry"),
        Column(duration, allow_missing=False, label="time of the event or censoring"),
        Column(event, kind="binary", allow_missing=False, label="1 = event, 0 = censored")])
    if len(clean) == 0:
        raise EvalDataError("no rows to analyse", source=origin.source)
    n = len(clean)
    times = timefix(np.concatenate([clean[start].to_numpy(dtype=float),
                                    clean[duration].to_numpy(dtype=float)]))
    entry_all, exit_all = times[:n], times[n:]
    event_all = clean[event].to_numpy(dtype=float)
    problems = interval_problems(entry_all, exit_all, None, start, duration, origin.offset)
    if problems:
        raise EvalDataError(problems, source=origin.source, row_word=origin.row_word)
    if group is None:
        codes, labels = np.zeros(n, dtype=int), ["all"]
    else:
        codes, labels = _groups(data, group)
    z = float(special.ndtri(1 - alpha / 2))
    tables: list[pd.DataFrame] = []
    medians: list[dict[str, Any]] = []
    cautions: list[Caution] = []
    for k, g in enumerate(labels):
        m = codes == k
        a, b, e = entry_all[m], exit_all[m], event_all[m]
        where = _group_name(g if group else None, group)
        km = km_entry_arrays(a, b, e)
        lo, hi = _confint(km["surv"], km["se_cumhaz"], conf_type, z)
        with np.errstate(invalid="ignore"):
            std_err = km["surv"] * km["se_cumhaz"]
        tables.append(pd.DataFrame({
            "group": g, "time": km["time"], "n_risk": km["n_risk"], "n_event": km["n_event"],
            "n_censor": km["n_censor"], "surv": km["surv"], "std_err": std_err,
            "ci_low": lo, "ci_high": hi}))
        med: dict[str, Any] = {"group": g, "n": int(m.sum()), "events": int(e.sum()),
               "median": _quantile(km["time"], km["surv"], 0.5),
               "ci_low": _quantile(km["time"], lo, 0.5),
               "ci_high": _quantile(km["time"], hi, 0.5)}
        medians.append(med)
        has = km["n_event"] > 0
        if not has.any():
            cautions.append(Caution(
                f"No events in {where}: its survival curve stays at 1 with a standard error "
                "of zero, which only says that nobody in it was seen to have the event during "
                "follow-up, not that the chance is certainly zero."))
            continue
        peak = int(np.argmax(km["n_risk"]))
        few = has & (km["n_risk"] < 5) & (np.arange(has.size) < peak)
        if few.any():
            cautions.append(Caution(
                f"In {where} an early event happened when fewer than 5 youth had entered "
                "follow-up: with delayed entry the curve's early drops rest on those few, "
                "and every later value carries them."))
        if e[b == b.max()].sum() == (b == b.max()).sum():
            cautions.append(Caution(
                f"In {where} everyone still followed at the last time had the event, so the "
                "curve drops to 0 there and its standard error and confidence interval at "
                "that time are undefined (shown as missing, as R does).", limits=False))
        if np.isnan(med["median"]):
            cautions.append(Caution(
                f"The median time is not reached in {where}: fewer than half had the event "
                "during follow-up, so the median is shown as missing (as R shows NA).",
                limits=False))
        elif np.isnan(med["ci_low"]) or np.isnan(med["ci_high"]):
            cautions.append(Caution(
                f"The confidence interval of the median time in {where} is open-ended: the "
                "curve's confidence band does not cross one half within follow-up, so that "
                "limit is shown as missing (as R shows NA).", limits=False))
    return KaplanMeier(table=pd.concat(tables, ignore_index=True),
                       median=pd.DataFrame(medians), group=group,
                       conf_type=conf_type,  # type: ignore[arg-type]
                       alpha=alpha, start=start, cautions=tuple(cautions))


# -- mean cumulative function ------------------------------------------------------------------

@dataclass(frozen=True)
class MeanCumulative(Result):
    """Result of :func:`mean_cumulative_function`.

    Attributes
    ----------
    table
        One row per group and distinct stop time: ``group, time, mcf, se, ci_low, ci_high,
        n_risk, n_event, n_censor``. ``mcf`` is the Nelson–Aalen estimate of the mean number
        of episodes per youth by ``time`` (R's ``cumhaz``), ``se`` its standard error (R's
        ``std.chaz``), ``n_risk`` the intervals at risk (``start < time <= stop``),
        ``n_censor`` the youth whose follow-up ends at ``time`` without an episode.
    group
        The group column (``None`` for one curve).
    conf_type
        ``"plain"`` (R's default for a cumulative hazard) or ``"log"``.
    robust
        Whether ``se`` is the robust (infinitesimal jackknife, clustered by youth) standard
        error; otherwise the Nelson–Aalen variance ``sum d / n^2``.
    alpha
        1 − confidence level.
    """

    _title: ClassVar[str] = "Mean cumulative number of episodes (Nelson–Aalen)"
    _options: ClassVar[tuple[str, ...]] = ("conf_type", "robust", "alpha")

    table: pd.DataFrame
    group: str | None = None
    conf_type: McfConfType = "plain"
    robust: bool = True
    alpha: float = 0.05
    n_youth: dict[str, int] = field(default_factory=dict)

    def at(self, times: Sequence[float]) -> pd.DataFrame:
        """The mean cumulative number of episodes (with SE, CI and number at risk) at ``times``.

        Parameters
        ----------
        times
            Times on the scale of ``start`` and ``stop``.

        Returns
        -------
        pandas.DataFrame
            ``group, time, n_risk, mcf, se, ci_low, ci_high``, per group and time. The
            function is a right-continuous step: at ``t`` it has the value of the last stop
            time at or before ``t`` (0 before the first). ``n_risk`` is that of the first
            listed time at or after ``t`` (0 after the last), as R's
            ``summary(survfit, times = )``.

        References
        ----------
        R survival's ``summary(survfit(...), times = times)``.
        """
        cols = ["mcf", "se", "ci_low", "ci_high"]
        out = _step_at(self.table, ["group"], list(times), cols,
                       {"mcf": 0.0, "se": 0.0, "ci_low": 0.0, "ci_high": 0.0})
        n_risk = []
        for g, t in zip(out["group"], out["time"], strict=True):
            tab = self.table[self.table["group"] == g]
            later = tab["n_risk"].to_numpy()[tab["time"].to_numpy() >= t]
            n_risk.append(float(later[0]) if later.size else 0.0)
        out.insert(2, "n_risk", n_risk)
        return out[["group", "time", "n_risk", *cols]]

    def _terms(self) -> list[dict[str, Any]]:
        rows = []
        for g, tab in self.table.groupby("group", sort=False):
            last = tab.iloc[-1]
            rows.append({"term": f"mean episodes by {last['time']:g}"
                         + (f" ({g})" if self.group else ""), "estimate": last["mcf"],
                         "se": last["se"], "ci_low": last["ci_low"],
                         "ci_high": last["ci_high"], "p_value": float("nan")})
        return rows

    def _details(self) -> list[str]:
        return [f"{n} youth, {int(self.table.loc[self.table['group'] == g, 'n_event'].sum())} "
                f"episodes" + (f" in group {g}" if self.group else "")
                for g, n in self.n_youth.items()]


def _nelson_aalen(start: np.ndarray, stop: np.ndarray, event: np.ndarray,
                  cluster: np.ndarray, robust: bool) -> dict[str, np.ndarray]:
    """Nelson–Aalen cumulative hazard of ``(start, stop]`` data and its standard error.

    With ``robust``, the infinitesimal jackknife: the influence of cluster ``i`` on ``H(t)``
    is ``sum_{s <= t} (dN_i(s) - Y_i(s) dH(s)) / n(s)``, and the variance is the sum of the
    squared influences (R's ``survfitkm`` with ``id``).
    """
    ut, inv = np.unique(stop, return_inverse=True)
    inv = inv.reshape(-1)
    d = np.bincount(inv, weights=event, minlength=ut.size)
    n_risk = at_risk(np.sort(start), np.sort(stop), ut)
    with np.errstate(divide="ignore", invalid="ignore"):
        dh = np.where(d > 0, d / n_risk, 0.0)
    cumhaz = np.cumsum(dh)
    # a censoring is the end of a youth's follow-up: no interval of theirs starts there
    key = pd.MultiIndex.from_arrays([cluster, start])
    cont = pd.MultiIndex.from_arrays([cluster, stop]).isin(key)
    n_censor = np.bincount(inv, weights=((event == 0) & ~cont).astype(float),
                           minlength=ut.size)
    if not robust:
        with np.errstate(divide="ignore", invalid="ignore"):
            var = np.cumsum(np.where(d > 0, d / n_risk**2, 0.0))
        se = np.sqrt(var)
    else:
        ev = np.flatnonzero(d > 0)
        te, ne, de = ut[ev], n_risk[ev], d[ev]
        # per row: first event-time index at risk (start < t) and last (t <= stop)
        lo = np.searchsorted(te, start, side="right")
        hi = np.searchsorted(te, stop, side="right")  # exclusive
        pos = np.searchsorted(te, stop, side="left")  # index of the row's own event time
        ncl = int(cluster.max()) + 1 if cluster.size else 0
        var_e = np.zeros(te.size)
        step = max(1, _CHUNK_CELLS // max(te.size, 1))
        order = np.argsort(cluster, kind="stable")
        bounds = np.searchsorted(cluster[order], np.arange(0, ncl + step, step))
        for a, b in zip(bounds[:-1], bounds[1:], strict=False):
            rows = order[a:b]
            if rows.size == 0:
                continue
            c = cluster[rows] - cluster[rows].min()
            m = int(c.max()) + 1
            # increments of each cluster's influence at each event time
            y = np.zeros((m, te.size + 1))
            np.add.at(y, (c, lo[rows]), 1.0)
            np.add.at(y, (c, hi[rows]), -1.0)
            inc = -np.cumsum(y, axis=1)[:, :-1] * (de / ne**2)
            e_rows = rows[event[rows] > 0]
            np.add.at(inc, (cluster[e_rows] - cluster[rows].min(), pos[e_rows]),
                      1.0 / ne[pos[e_rows]])
            u = np.cumsum(inc, axis=1)
            var_e += (u * u).sum(axis=0)
        idx = np.searchsorted(te, ut, side="right") - 1
        se = np.where(idx >= 0, np.sqrt(var_e[np.maximum(idx, 0)]), 0.0)
    return {"time": ut, "n_risk": n_risk, "n_event": d, "n_censor": n_censor,
            "cumhaz": cumhaz, "se": se}


def _mcf_confint(h: np.ndarray, se: np.ndarray, conf_type: str, z: float):
    """R survival's ``survfit_confint(cumhaz, std.chaz, logse = FALSE, ulimit = FALSE)``."""
    if conf_type == "plain":
        return np.maximum(h - z * se, 0.0), h + z * se
    with np.errstate(divide="ignore", invalid="ignore"):
        xx = np.where(h == 0, np.nan, h)
        s = np.where(se == 0, 0.0, se / xx)
        return np.exp(np.log(xx) - z * s), np.exp(np.log(xx) + z * s)


def mean_cumulative_function(
    data: pd.DataFrame,
    start: str,
    stop: str,
    event: str,
    id: str,
    *,
    group: str | None = None,
    conf_type: McfConfType = "plain",
    robust: bool | None = None,
    alpha: float = 0.05,
) -> MeanCumulative:
    """Mean cumulative number of episodes per youth (Nelson–Aalen), with confidence intervals.

    Parameters
    ----------
    data
        One row per ``(start, stop]`` interval of follow-up (see :func:`split_episodes`).
    start, stop
        The interval: the youth is at risk of an episode at ``t`` when ``start < t <= stop``.
        A first interval starting after 0 is delayed entry.
    event
        1 if an episode happened at ``stop``, else 0.
    id
        The youth: intervals of one youth must not overlap.
    group
        Column splitting the youth into curves.
    conf_type
        ``"plain"`` (``mcf ± z se``, floored at 0: R's default for a cumulative hazard in
        ``plot.survfit(fit, cumhaz = TRUE)``) or ``"log"`` (``mcf · exp(± z se / mcf)``,
        Nelson's choice for a mean cumulative function).
    robust
        Robust (infinitesimal jackknife) standard errors clustered by youth. ``None`` (the
        default) follows R's ``survfit``: robust when some youth has more than one episode,
        the Nelson–Aalen variance ``sum d / n^2`` otherwise.
    alpha
        1 − confidence level.

    Returns
    -------
    MeanCumulative
        The curves (``table``), :meth:`MeanCumulative.at` and the cautions.

    Raises
    ------
    EvalDataError
        Missing or non-numeric times, events not 0/1, intervals that end at or before they
        start, or overlapping intervals of one youth (the message names the youth and rows).

    Notes
    -----
    Equal to R's ``survfit(Surv(start, stop, event) ~ group, id = id, ctype = 1)``:
    ``mcf`` is its ``cumhaz``, ``se`` its ``std.chaz`` (the robust one when an id has more than
    one event, as there), ``n_risk``, ``n_event`` and ``n_censor`` its counts, and the
    interval that of ``plot(fit, cumhaz = TRUE, conf.type = conf_type)``. Times that differ
    by rounding only are made equal first, as R's ``timefix``.

    References
    ----------
    Nelson, W. (1995). Confidence limits for recurrence data — applied to cost or number of
    product repairs. *Technometrics*, 37, 147–157.

    Lawless, J. F., & Nadeau, C. (1995). Some simple robust methods for the analysis of
    recurrent events. *Technometrics*, 37, 158–168.

    Therneau, T. M. (2024). *A Package for Survival Analysis in R*, ``survfit``.
    """
    alpha = check_alpha(alpha)
    check_option("conf_type", conf_type, MCF_CONF_TYPES)
    origin = _origin(data, None)
    clean = validate(data, [
        Column(start, allow_missing=False, label="start of the interval"),
        Column(stop, allow_missing=False, label="end of the interval"),
        Column(event, kind="binary", allow_missing=False, label="1 = episode at the end"),
        Column(id, kind="string", allow_missing=False, label="youth identifier")])
    ids = clean[id].astype(str).to_numpy()
    times = timefix(np.concatenate([clean[start].to_numpy(dtype=float),
                                    clean[stop].to_numpy(dtype=float)]))
    s_all, e_all = times[:len(clean)], times[len(clean):]
    ev_all = clean[event].to_numpy(dtype=float)
    problems = interval_problems(s_all, e_all, ids, start, stop, origin.offset)
    if problems:
        raise EvalDataError(problems, source=origin.source, row_word=origin.row_word)
    cl_all = pd.factorize(ids)[0]
    if robust is None:
        per = np.bincount(cl_all, weights=ev_all)
        robust = bool((per > 1).any())
    if group is None:
        codes, labels = np.zeros(len(clean), dtype=int), ["all"]
    else:
        codes, labels = _groups(data, group)
    z = float(special.ndtri(1 - alpha / 2))
    tables, n_youth, cautions = [], {}, []
    for k, g in enumerate(labels):
        m = codes == k
        cl = pd.factorize(cl_all[m])[0]
        na = _nelson_aalen(s_all[m], e_all[m], ev_all[m], cl, bool(robust))
        lo, hi = _mcf_confint(na["cumhaz"], na["se"], conf_type, z)
        tables.append(pd.DataFrame({
            "group": g, "time": na["time"], "mcf": na["cumhaz"], "se": na["se"],
            "ci_low": lo, "ci_high": hi, "n_risk": na["n_risk"], "n_event": na["n_event"],
            "n_censor": na["n_censor"]}))
        n_youth[g] = int(cl.max()) + 1
        if not (ev_all[m] > 0).any():
            cautions.append(Caution(
                f"No episodes in {_group_name(g, group)}: its mean number of episodes stays "
                "at 0, which only says none was seen during follow-up.", limits=False))
    return MeanCumulative(table=pd.concat(tables, ignore_index=True), group=group,
                          conf_type=conf_type, robust=bool(robust), alpha=alpha,
                          n_youth=n_youth, cautions=tuple(cautions))


# -- episodes to (start, stop] rows ------------------------------------------------------------

def _as_time(col: pd.Series) -> tuple[pd.Series, bool]:
    """A column as numbers, or as dates when it holds dates (parsed text included)."""
    if pd.api.types.is_datetime64_any_dtype(col):
        return col, True
    num = pd.to_numeric(col, errors="coerce")
    if col.isna().all() or num.notna().sum() == col.notna().sum():
        return num.astype(float), False
    with warnings.catch_warnings():  # text that is no date: said once, by the caller's check
        warnings.filterwarnings("ignore", "Could not infer format", UserWarning)
        dates = pd.to_datetime(col, errors="coerce")
    if dates.notna().sum() == col.notna().sum():
        return dates, True
    return num.astype(float), False


def split_episodes(
    data: pd.DataFrame,
    id: str,
    entry: str,
    exit: str,
    episodes: str,
    *,
    episode_end: str | None = None,
    number: str | None = None,
    origin: str | float | None = None,
    keep: Sequence[str] = (),
    switches: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Turn one row per episode into ``(start, stop]`` rows of follow-up.

    Parameters
    ----------
    data
        One row per episode: the youth (``id``), the youth's entry and end of follow-up
        (``entry``, ``exit``, the same on every row of a youth) and the time the episode
        began (``episodes``). A youth without episodes has one row with ``episodes``
        empty. Times are numbers or dates (all of the same kind).
    id
        The youth identifier.
    entry, exit
        Start and end of the youth's follow-up: the youth is at risk from just after
        ``entry`` to ``exit``.
    episodes
        When the episode began (a runaway, a re-exploitation): the event time.
    episode_end
        When the episode ended (the youth returned), if recorded: the youth is not at risk of
        a new episode while away, and the next interval starts at this time. Empty on the last
        episode means still away at the end of follow-up. Without it, the next interval starts
        at the episode itself.
    number
        Episode numbers (1, 2, ...) as recorded; when given they must follow the order of
        the episode times.
    origin
        Time zero: ``None`` (each youth's ``entry``, so the first interval starts at 0), a
        column (such as the date first identified: a later ``entry`` is delayed entry) or a
        number (for numeric times; ``0`` keeps them as given). Dates become days since the
        origin.
    keep
        Columns constant within a youth (group, baseline covariates) copied to every row.
    switches
        Time-varying 0/1 covariates: output column name → column holding the time a condition
        begins for the youth (a placement change), the same on every row of the youth and
        empty when it never does. An interval that spans the time is cut there; the new column
        is 0 up to it and 1 after, so an episode on that very day still counts under 0. A time
        at or before the start of follow-up gives 1 throughout, one after its end 0
        throughout; as R's ``tmerge(..., name = tdc(time))``.

    Returns
    -------
    pandas.DataFrame
        One row per interval, in the order the youth first appear: ``id, start, stop,
        event, episode`` and the ``keep`` columns. ``event`` is 1 when an episode began at
        ``stop``; ``episode`` is the number of the episode the interval is at risk of (1 for
        the first), the stratum of the Prentice–Williams–Peterson model. The rows are the
        input of ``mean_cumulative_function`` and ``cox(..., start="start")``. Each
        ``switches`` name is a further 0/1 column.

    Raises
    ------
    EvalDataError
        Naming the youth and the rows: missing or unreadable times; entry, end of follow-up,
        origin or ``keep`` values that differ between rows of one youth; follow-up that ends
        at or before it starts; an episode at or before entry or after the end of follow-up;
        an episode that ends before it begins; overlapping episodes (one begins before the
        previous one ended, or two at the same time); episode numbers out of order; a
        ``switches`` time that is not a time or differs between rows of one youth.

    References
    ----------
    Therneau, T. M., & Grambsch, P. M. (2000). *Modeling Survival Data: Extending the Cox
    Model*, ch. 8 (multiple events per subject; counting-process data).
    """
    src = _origin(data, None)
    off = src.offset
    switches = dict(switches or {})
    clash = [n for n in switches if n in (id, "start", "stop", "event", "episode", *keep)]
    if clash:
        raise ValueError(f"switches: the name(s) {', '.join(map(repr, clash))} are already "
                         "columns of the output; choose others")
    need = [id, entry, exit, episodes, *([episode_end] if episode_end else []),
            *([number] if number else []), *([origin] if isinstance(origin, str) else []),
            *keep, *switches.values()]
    missing = [c for c in need if c not in data.columns]
    if missing:
        raise EvalDataError([DataProblem(c, "column is missing", "a column of that name")
                             for c in missing], source=src.source, row_word=src.row_word)
    problems: list[DataProblem] = []

    def add(column: str | None, message: str, expected: str, mask: np.ndarray,
            ids: np.ndarray) -> None:
        if mask.any():
            problems.append(DataProblem(column, f"{message} ({_youth_text(ids[mask])})",
                                        expected, **_rows_of(mask, off)))

    raw_id = data[id]
    if raw_id.isna().any():
        problems.append(DataProblem(id, "youth identifier is missing", "an identifier on "
                                    "every row", **_rows_of(raw_id.isna().to_numpy(), off)))
        raise EvalDataError(problems, source=src.source, row_word=src.row_word)
    ids = raw_id.astype(str).to_numpy()
    time_cols = [entry, exit, episodes, *([episode_end] if episode_end else []),
                 *([origin] if isinstance(origin, str) else []), *switches.values()]
    conv = {c: _as_time(data[c]) for c in time_cols}
    # a column with no time at all (no youth ever switched) is neither dates nor numbers
    kinds = {is_date for c, (_, is_date) in conv.items() if data[c].notna().any()}
    if len(kinds) > 1:
        raise EvalDataError([DataProblem(
            c, "mixes dates and numbers with the other time columns",
            "all time columns dates, or all numbers") for c, (_, d) in conv.items() if d],
            source=src.source, row_word=src.row_word)
    dated = kinds == {True}
    zero: Any
    if isinstance(origin, str):
        zero = conv[origin][0]
    elif origin is None:
        zero = conv[entry][0]
    else:
        if dated:
            raise EvalDataError([DataProblem(None, "origin is a number but the times are dates",
                                             "origin=None or a column of dates")],
                                source=src.source)
        zero = float(origin)

    def days(c: str) -> np.ndarray:
        if not conv[c][0].notna().any():  # nothing recorded: neither dates nor numbers
            return np.full(len(data), np.nan)
        v = conv[c][0] - zero
        if dated:
            return (v / pd.Timedelta(days=1)).to_numpy(dtype=float)
        return np.asarray(v, dtype=float)

    for c in [entry, exit, *([origin] if isinstance(origin, str) else [])]:
        bad = conv[c][0].isna().to_numpy()
        add(c, "time is missing or not a " + ("date" if dated else "number"),
            "a time on every row", bad, ids)
    ep_raw = data[episodes]
    ep_bad = (conv[episodes][0].isna() & ep_raw.notna()).to_numpy()
    add(episodes, "episode time is not a " + ("date" if dated else "number"),
        "a time, or empty for a youth without episodes", ep_bad, ids)
    for c in dict.fromkeys(switches.values()):
        add(c, "time is not a " + ("date" if dated else "number"),
            "a time, or empty when it never happened",
            (conv[c][0].isna() & data[c].notna()).to_numpy(), ids)
    if problems:
        raise EvalDataError(problems, source=src.source, row_word=src.row_word)
    a, b, s = days(entry), days(exit), days(episodes)
    e = days(episode_end) if episode_end else s.copy()
    codes = pd.factorize(ids)[0]
    for c, v in [(entry, a), (exit, b), *([(origin, days(origin))]
                                          if isinstance(origin, str) else []),
                 *[(k, data[k].astype("string").fillna("").to_numpy(object)) for k in keep],
                 *[(c, np.nan_to_num(days(c), nan=-np.inf))
                   for c in dict.fromkeys(switches.values())]]:
        first = pd.Series(v).groupby(codes).transform("first").to_numpy()
        add(c, "differs between rows of the same youth", "one value per youth",
            first != v, ids)
    add(exit, "follow-up ends at or before entry", f"{exit} later than {entry}", ~(b > a), ids)
    has = ~np.isnan(s)
    add(episodes, "an episode at or before entry", f"episodes after {entry}",
        has & (s <= a), ids)
    add(episodes, "an episode after the end of follow-up", f"episodes at or before {exit}",
        has & (s > b), ids)
    if episode_end:
        add(episode_end, "the episode ends before it begins", f"{episode_end} at or after "
            f"{episodes}", has & ~np.isnan(e) & (e < s), ids)
        add(episode_end, "an end without an episode", f"{episodes} given with {episode_end}",
            ~has & ~np.isnan(e), ids)
    with_ep = np.zeros(codes.max() + 1, dtype=int)
    np.add.at(with_ep, codes[has], 1)
    add(episodes, "a row without an episode for a youth with episodes", "one row per "
        "episode (an empty row only for a youth without any)", ~has & (with_ep[codes] > 0),
        ids)
    idx = np.flatnonzero(has)
    order = idx[np.lexsort((s[idx], codes[idx]))]
    same = codes[order][1:] == codes[order][:-1]
    if episode_end:
        prev_end = e[order][:-1]
        still_away = same & np.isnan(prev_end)
        over = same & ~np.isnan(prev_end) & (s[order][1:] <= prev_end)
        m = np.zeros(s.size, dtype=bool)
        m[order[1:][still_away]] = True
        add(episode_end, "an episode with no end is followed by another", "an end on every "
            "episode but the last", m, ids)
    else:
        over = same & (s[order][1:] <= s[order][:-1])
    m = np.zeros(s.size, dtype=bool)
    m[order[1:][over]] = True
    m[order[:-1][over]] = True
    add(episodes, "episodes of the same youth overlap (one begins before the previous one "
        "ended, or two begin at the same time)", "episodes one after another", m, ids)
    if number:
        num = pd.to_numeric(data[number], errors="coerce").to_numpy(dtype=float)
        rank = pd.Series(np.arange(order.size) + 1.0).groupby(codes[order]).cumcount() + 1
        want = np.full(s.size, np.nan)
        want[order] = rank.to_numpy(dtype=float)
        add(number, "episodes out of order: the numbers do not follow the order of the "
            "episode times", "episode numbers 1, 2, ... in the order of the episode times",
            has & (num != want), ids)
    if problems:
        raise EvalDataError(problems, source=src.source, row_word=src.row_word)
    # the intervals at risk of each episode, then the last (censored) one
    k = pd.Series(codes[order]).groupby(codes[order]).cumcount().to_numpy() + 1
    begin = np.where(k == 1, a[order], np.r_[np.nan, e[order][:-1]])
    ev_rows = pd.DataFrame({"_c": codes[order], "start": begin, "stop": s[order],
                            "event": 1, "episode": k, "_r": order})
    last = np.full(codes.max() + 1, -1)
    last[codes[order]] = order
    first_row = pd.Series(np.arange(codes.size)).groupby(codes).first().to_numpy()
    youth = np.arange(codes.max() + 1)
    n_ep = np.bincount(codes[order], minlength=youth.size)
    tail_start = np.where(last >= 0, e[np.maximum(last, 0)], a[first_row])
    tail_start = np.where(np.isnan(tail_start), np.inf, tail_start)  # still away at the end
    stop_y = b[first_row]
    ok = tail_start < stop_y
    tail = pd.DataFrame({"_c": youth[ok], "start": tail_start[ok], "stop": stop_y[ok],
                         "event": 0, "episode": n_ep[ok] + 1, "_r": first_row[ok]})
    out = pd.concat([ev_rows, tail], ignore_index=True).sort_values(
        ["_c", "start"], kind="stable")
    res = pd.DataFrame({id: raw_id.to_numpy()[out["_r"].to_numpy()]})
    for c in ["start", "stop", "event", "episode"]:
        res[c] = out[c].to_numpy()
    for c in keep:
        res[c] = data[c].to_numpy()[out["_r"].to_numpy()]
    for name, c in switches.items():
        res = _switch(res, name, days(c)[out["_r"].to_numpy()])
    return res


def _switch(rows: pd.DataFrame, name: str, at: np.ndarray) -> pd.DataFrame:
    """Cut each ``(start, stop]`` row at its youth's time ``at`` and add the 0/1 column ``name``.

    The part up to ``at`` keeps 0 and no event; the part after it gets 1 and the row's event.
    ``at`` is NaN for a youth who never switched. The rows' order is kept (a cut row becomes
    its two parts, in time order).
    """
    start = rows["start"].to_numpy(dtype=float)
    stop = rows["stop"].to_numpy(dtype=float)
    cut = (start < at) & (at < stop)
    pos = np.arange(len(rows)) + np.cumsum(cut) - cut  # where each row lands
    idx = np.repeat(np.arange(len(rows)), 1 + cut)
    out = rows.iloc[idx].reset_index(drop=True)
    before = pos[cut]  # the first part of each cut row
    s_out = out["start"].to_numpy(dtype=float).copy()
    e_out = out["stop"].to_numpy(dtype=float).copy()
    ev = out["event"].to_numpy().copy()
    e_out[before] = at[cut]
    ev[before] = 0
    s_out[before + 1] = at[cut]
    out["start"], out["stop"], out["event"] = s_out, e_out, ev
    at_out = at[idx]
    out[name] = (~np.isnan(at_out) & (s_out >= at_out)).astype(int)
    return out

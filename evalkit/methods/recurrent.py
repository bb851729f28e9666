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

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, get_args

import numpy as np
import pandas as pd
from scipy import special

from evalkit.data import Column, _origin, validate
from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.methods.survival import _group_name, _groups, _step_at, timefix
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


def _youth_text(ids: Any, n_show: int = 5) -> str:
    uniq = list(pd.unique(pd.Series(ids).astype(str)))
    shown = ", ".join(repr(u) for u in uniq[:n_show])
    more = f" and {len(uniq) - n_show} more" if len(uniq) > n_show else ""
    return f"{len(uniq)} youth ({shown}{more})"


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
    _risk: Any = field(default=None, repr=False, compare=False)

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
            time at or before ``t`` (0 before the first). ``n_risk`` counts the intervals with
            ``start < t <= stop``.

        References
        ----------
        R survival's ``summary(survfit(...), times = times)``.
        """
        cols = ["mcf", "se", "ci_low", "ci_high"]
        out = _step_at(self.table, ["group"], list(times), cols,
                       {"mcf": 0.0, "se": 0.0, "ci_low": 0.0, "ci_high": 0.0})
        n_risk = [float(at_risk(*self._risk[g], [t])[0]) if self._risk else float("nan")
                  for g, t in zip(out["group"], out["time"], strict=True)]
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
    tables, risk, n_youth, cautions = [], {}, {}, []
    for k, g in enumerate(labels):
        m = codes == k
        cl = pd.factorize(cl_all[m])[0]
        na = _nelson_aalen(s_all[m], e_all[m], ev_all[m], cl, bool(robust))
        lo, hi = _mcf_confint(na["cumhaz"], na["se"], conf_type, z)
        tables.append(pd.DataFrame({
            "group": g, "time": na["time"], "mcf": na["cumhaz"], "se": na["se"],
            "ci_low": lo, "ci_high": hi, "n_risk": na["n_risk"], "n_event": na["n_event"],
            "n_censor": na["n_censor"]}))
        risk[g] = (np.sort(s_all[m]), np.sort(e_all[m]))
        n_youth[g] = int(cl.max()) + 1
        if not (ev_all[m] > 0).any():
            cautions.append(Caution(
                f"No episodes in {_group_name(g, group)}: its mean number of episodes stays "
                "at 0, which only says none was seen during follow-up.", limits=False))
    return MeanCumulative(table=pd.concat(tables, ignore_index=True), group=group,
                          conf_type=conf_type, robust=bool(robust), alpha=alpha,
                          n_youth=n_youth, _risk=risk, cautions=tuple(cautions))

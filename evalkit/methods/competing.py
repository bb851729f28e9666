"""Competing risks: cumulative incidence of each cause and Gray's test.

Both are computed as R's ``cmprsk::cuminc`` computes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import special

from evalkit.data import Column, source_of, validate
from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.methods.survival import (
    _FRAME_COLUMNS,
    _group_text,
    _groups,
    _step_at,
)
from evalkit.results import Caution, Result, check_alpha

__all__ = ["CumulativeIncidence", "cumulative_incidence"]


def _cuminc_one(time: np.ndarray, status: np.ndarray, cause: Any, censor: Any):
    """Aalen–Johansen cumulative incidence of ``cause`` and its variance.

    Both are given at each distinct time where that cause occurs; the variance is Gray's
    estimator, as in cmprsk::cuminc.
    """
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
        """Gray's test per cause (no rows without groups).

        Columns: ``term, estimate`` (the statistic), ``se, ci_low, ci_high`` (empty),
        ``p_value, df``.
        """
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

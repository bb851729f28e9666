"""Restricted mean survival time: the area under the Kaplan–Meier curve up to ``tau``.

The module also gives the difference and ratio between two groups, as R's
``survRM2::rmst2``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import special

from evalkit.data import source_of
from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.methods.survival import (
    _check,
    _group_text,
    _groups,
    _km_arrays,
    timefix,
)
from evalkit.results import Caution, Result, check_alpha

__all__ = ["RMST", "rmst"]


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
    rows: list[dict[str, Any]] = []
    cautions: list[Caution] = []
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
        lse = math.sqrt(sum(v / r["rmst"] ** 2 for v, r in zip(variances, rows, strict=True)))
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

"""Wilcoxon signed-rank test of a pre-post change with the Hodges–Lehmann pseudo-median.

The pseudo-median comes with its confidence interval, as R's
``wilcox.test(paired = TRUE, conf.int = TRUE)``.

A robustness check of :func:`evalkit.methods.prepost.paired_change` that does not assume the
changes are roughly normal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, get_args

import numpy as np
import pandas as pd
from scipy import special

from evalkit.data import source_of
from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.methods.prepost import Alternative, _paired
from evalkit.results import Caution, Result, check_alpha, check_option

__all__ = ["SignedRank", "signed_rank"]

_EPS = np.finfo(float).eps


def _signrank_counts(n: int) -> np.ndarray:
    """Number of subsets of {1..n} with each possible rank sum 0..n(n+1)/2."""
    top = n * (n + 1) // 2
    counts = np.zeros(top + 1)
    counts[0] = 1.0
    for k in range(1, n + 1):
        counts[k:] = counts[k:] + counts[:-k].copy()
    return counts


def _psignrank(q: float, n: int, *, lower: bool = True) -> float:
    """P(V <= q) (``lower``) or P(V > q) for the signed-rank statistic, as R's psignrank."""
    c = _signrank_counts(n)
    total = 2.0**n
    q = math.floor(q + 1e-7)
    if lower:
        return float(c[: max(q + 1, 0)].sum() / total) if q >= 0 else 0.0
    return float(c[max(q + 1, 0):].sum() / total)


def _qsignrank(p: float, n: int) -> int:
    """Smallest q with P(V <= q) >= p, computed the way R's qsignrank does."""
    c = _signrank_counts(n) / 2.0**n
    top = n * (n + 1) // 2
    cum = 0.0
    if p <= 0.5:
        x = p - 10 * _EPS
        for q in range(top + 1):
            cum += c[q]
            if cum >= x:
                return q
        return top
    x = 1 - p + 10 * _EPS
    for q in range(top + 1):
        cum += c[q]
        if cum > x:
            return top - q
    return 0


def _signed_rank_sums(x: np.ndarray) -> tuple[float, np.ndarray]:
    """R's signed-rank statistic V and the sizes of the groups of tied ``|x|``.

    V is the sum of the midranks of ``|x|`` over positive ``x``.

    Computed on the distinct absolute changes: a midrank is the same for every change in a
    group of ties, so millions of whole-number changes with a few hundred distinct values
    need no rank per change (as ``rank(abs(x))`` in R, in a fraction of the memory).
    """
    a = np.abs(x)
    values, counts = np.unique(a, return_counts=True)
    midranks = np.cumsum(counts) - (counts - 1) / 2.0
    positive = a[x > 0]
    V = float(midranks[np.searchsorted(values, positive)].sum())
    return V, counts


def _w_stat(x: np.ndarray, d: float, correct: bool, alternative: str,
            counts: np.ndarray | None = None) -> float:
    """R's W(d): the standardized signed-rank statistic of ``x − d`` (for the CI and estimate).

    ``x`` may be the distinct changes with their ``counts``: the statistic is then computed on
    the groups of tied values, exactly as R's ``rank`` (midranks) and ``table`` of the ranks
    give it on every change, in time that grows with the number of distinct values. Whole-
    number scores of millions of youth have a few hundred; R's ``wdiff`` re-ranks them all
    at every step of the root search.

    NaN when every shifted change is zero (R: "cannot compute confidence interval when all
    observations are zero or tied").
    """
    c = np.ones(x.size) if counts is None else np.asarray(counts, dtype=float)
    xd = x - d
    keep = xd != 0
    xd, c = xd[keep], c[keep]
    nx = float(c.sum())
    a = np.abs(xd)
    order = np.argsort(a, kind="stable")
    a, c, pos = a[order], c[order], xd[order] > 0
    # groups of equal |x − d|: the ranks first+1 .. last share their midrank
    starts = np.r_[0, np.flatnonzero(np.diff(a) != 0) + 1] if a.size else np.zeros(0, int)
    size = np.add.reduceat(c, starts) if a.size else np.zeros(0)
    npos = np.add.reduceat(c * pos, starts) if a.size else np.zeros(0)
    last = np.cumsum(size)
    mid = (last - size + 1 + last) / 2
    zd = float((mid * npos).sum()) - nx * (nx + 1) / 4
    var = nx * (nx + 1) * (2 * nx + 1) / 24 - float((size**3 - size).sum()) / 48
    if not var > 0:
        return float("nan")
    corr = 0.0
    if correct:
        corr = {"two-sided": math.copysign(0.5, zd) if zd != 0 else 0.0, "greater": 0.5,
                "less": -0.5}[alternative]
    return (zd - corr) / math.sqrt(var)


@dataclass(frozen=True)
class SignedRank(Result):
    """Result of :func:`signed_rank`.

    Attributes
    ----------
    V
        Sum of the ranks of the positive changes (post − pre), as R reports it.
    p_value
        p-value for ``alternative``.
    method
        ``"exact"`` or ``"normal approximation"`` (with continuity correction when ``correct``).
    n, n_zero, n_dropped
        Non-zero changes used; zero changes dropped (as R does); rows dropped for a missing
        score.
    estimate, ci_low, ci_high
        Hodges–Lehmann pseudo-median of the change and its CI (R's ``conf.int = TRUE``).
    achieved_confidence
        The confidence level the interval actually has. The signed-rank distribution is
        discrete, so the exact interval's level is ``1 − achieved α`` (R's ``achieved.alpha``):
        below the requested ``1 − alpha`` with 5 or fewer non-zero changes (50% with 2, 75%
        with 3, 87.5% with 4, 93.75% with 5), at or above it otherwise. In the normal
        approximation it is the level R reports after widening ``alpha`` (``attr(conf.int,
        "conf.level")``). 0 when no interval exists (``ci_low``/``ci_high`` are then NaN).
        :attr:`confidence` (the level ``summary()`` and ``to_frame()`` state) is the smaller
        of this and the requested level.
    """

    _title: ClassVar[str] = "Wilcoxon signed-rank test (post − pre)"
    _options: ClassVar[tuple[str, ...]] = ("alternative", "exact", "correct", "alpha")

    V: float
    p_value: float
    method: str
    n: int
    n_zero: int
    n_dropped: int
    estimate: float
    ci_low: float
    ci_high: float
    achieved_confidence: float = float("nan")
    alternative: Alternative = "two-sided"
    exact: bool | None = None
    correct: bool = True
    alpha: float = 0.05

    @property
    def confidence(self) -> float:
        """Confidence level of the interval, achieved or requested.

        It is the achieved level where that falls short of the requested ``1 − alpha``, else
        the requested level.
        """
        asked = 1.0 - self.alpha
        if math.isnan(self.achieved_confidence):
            return asked
        return min(asked, self.achieved_confidence)

    def _terms(self) -> list[dict[str, Any]]:
        return [{"term": "pseudo-median change", "estimate": self.estimate, "se": float("nan"),
                 "ci_low": self.ci_low, "ci_high": self.ci_high, "statistic": self.V,
                 "p_value": self.p_value, "conf_level": self.confidence}]

    def _details(self) -> list[str]:
        lines = [f"{self.method}; V = {self.V:g}; {self.n} non-zero changes, {self.n_zero} zero "
                 f"changes dropped, {self.n_dropped} rows missing a score."]
        asked = 1.0 - self.alpha
        if self.confidence < asked - 1e-12:
            lines.append(f"The interval is a {100 * self.confidence:.4g}% confidence interval "
                         f"({100 * asked:.4g}% requested, not achievable with these data).")
        else:
            lines.append(f"The interval is a {100 * asked:.4g}% confidence interval.")
        return lines


def signed_rank(
    data: pd.DataFrame,
    pre: str,
    post: str,
    *,
    alternative: Alternative = "two-sided",
    exact: bool | None = None,
    correct: bool = True,
    alpha: float = 0.05,
) -> SignedRank:
    """Wilcoxon signed-rank test of the change, with the Hodges–Lehmann pseudo-median and CI.

    A robustness check of :func:`paired_change` that does not assume the changes are roughly
    normal. Zero changes are dropped, as R does.

    Parameters
    ----------
    data
        One row per person.
    pre, post
        Score columns; the change is ``post − pre``.
    alternative
        ``"two-sided"``, ``"greater"`` (the change tends to be positive) or ``"less"``.
    exact
        Exact p-value and CI from the signed-rank distribution. ``None`` (R's default) uses the
        exact method when fewer than 50 non-zero changes remain and there are no ties and no
        zero changes, otherwise the normal approximation.
    correct
        Continuity correction in the normal approximation.
    alpha
        1 − confidence level of the CI.

    Returns
    -------
    SignedRank

    Raises
    ------
    EvalDataError
        If a column is missing or not numeric, or no non-zero change remains.

    Notes
    -----
    Equal to R's ``wilcox.test(post, pre, paired = TRUE, conf.int = TRUE)`` with the same
    ``alternative``, ``exact`` and ``correct``; in the normal approximation the CI limits and
    estimate are roots found to R's tolerance (1e-4).

    Where the requested level cannot be reached, R warns "requested conf.level not achievable"
    and labels the interval with the level it has; here ``achieved_confidence`` holds that
    level, :attr:`SignedRank.confidence`, ``summary()`` and ``to_frame()`` (column
    ``conf_level``) state it, and a caution says so. R labels an exact interval with the
    requested level when it falls short by less than ``alpha / 2`` (93.75% with 5 changes is
    labelled 95%); evalkit states the achieved level whenever it is below the requested one.
    With ``alternative="less"`` in the normal approximation R decides whether to widen by
    testing ``qnorm(alpha / 2)`` where its ``"greater"`` branch tests ``qnorm(alpha)``, so it may
    settle on a lower level than it needs (80% where 90% was reachable); evalkit follows R,
    and states that level.
    Where R's interval has 0% confidence (one non-zero change; all changes tied in the normal
    approximation, where R gives NaN and a "midrange" estimate) ``ci_low`` and ``ci_high`` are
    NaN, with a caution.

    References
    ----------
    Hollander, M., Wolfe, D. A. & Chicken, E. (2014). *Nonparametric Statistical Methods*, 3rd
    ed., Wiley, §3.1–3.2.

    Bauer, D. F. (1972). Constructing confidence sets using rank statistics. *JASA*, 67(339),
    687–690.
    """
    from scipy.optimize import brentq

    alpha = check_alpha(alpha)
    check_option("alternative", alternative, get_args(Alternative))
    x0, y0, n_dropped = _paired(data, pre, post)
    x = y0 - x0
    zeros = x == 0
    n_zero = int(zeros.sum())
    x = x[~zeros]
    n = x.size
    if n == 0:
        raise EvalDataError(
            [DataProblem(post, f"every one of the {n_zero} complete pairs is unchanged from "
                         f"'{pre}' to '{post}', so there is no change to rank (R's wilcox.test "
                         "gives NaN)", "at least one youth whose score changed")],
            source=source_of(data))
    use_exact = (n < 50) if exact is None else bool(exact)
    V, tie_sizes = _signed_rank_sums(x)
    ties = tie_sizes.size != n
    top = n * (n + 1) / 2
    cautions: list[str] = []
    asked = 1.0 - alpha
    if use_exact and not ties and n_zero == 0:
        method = "exact"
        if alternative == "two-sided":
            p1 = (_psignrank(V - 1, n, lower=False) if V > n * (n + 1) / 4
                  else _psignrank(V, n))
            p = min(2 * p1, 1.0)
        elif alternative == "greater":
            p = _psignrank(V - 1, n, lower=False)
        else:
            p = _psignrank(V, n)
        i, j = np.triu_indices(n)
        walsh = np.sort((x[i] + x[j]) / 2)
        qu = _qsignrank(alpha / 2 if alternative == "two-sided" else alpha, n) or 1
        ql = int(top - qu)
        # R's achieved.alpha: the exact tail probability outside the interval
        achieved_alpha = _psignrank(qu - 1, n) * (2 if alternative == "two-sided" else 1)
        achieved = 1.0 - min(achieved_alpha, 1.0)
        if alternative == "two-sided":
            lo, hi = walsh[qu - 1], walsh[ql]
        elif alternative == "greater":
            lo, hi = walsh[qu - 1], math.inf
        else:
            lo, hi = -math.inf, walsh[ql]
        est = float(np.median(walsh))
    else:
        method = "normal approximation" + (" with continuity correction" if correct else "")
        if use_exact:
            why = "tied" if ties and not n_zero else "zero" if not ties else "tied or zero"
            cautions.append(Caution(
                f"Some changes are {why}, so the exact signed-rank test cannot be used: the "
                "p-value and interval use the normal approximation, as R does.",
                limits=False))
        nties = tie_sizes.astype(float)  # a tie of millions cubed overflows 64-bit integers
        z = V - n * (n + 1) / 4
        sigma = math.sqrt(n * (n + 1) * (2 * n + 1) / 24 - (nties**3 - nties).sum() / 48)
        corr = 0.0
        if correct:
            corr = {"two-sided": math.copysign(0.5, z) if z != 0 else 0.0, "greater": 0.5,
                    "less": -0.5}[alternative]
        zz = (z - corr) / sigma
        if alternative == "less":
            p = float(special.ndtr(zz))
        elif alternative == "greater":
            p = float(special.ndtr(-zz))
        else:
            p = float(2 * min(special.ndtr(zz), special.ndtr(-zz)))
        lo, hi, est, achieved = _approx_ci(x, alpha, correct, alternative, brentq)
    if achieved <= 0:
        lo, hi = math.nan, math.nan
        reason = ("there is only one non-zero change" if n == 1 else
                  "every non-zero change is the same" if np.unique(x).size == 1 else
                  "too few changes differ from each other")
        cautions.append(Caution(
            f"No confidence interval can be given for the typical change (the pseudo-median) "
            f"because {reason}: any interval here would have 0% confidence (R's too).",
            limits=True))
    elif achieved < asked - 1e-12:
        cautions.append(Caution(
            f"With {n} youth whose score changed, the signed-rank interval cannot reach the "
            f"requested {100 * asked:.4g}% confidence: its confidence level is "
            f"{100 * achieved:.4g}%, so it is less likely to contain the true typical change "
            "than the level asked for.", limits=True))
    return SignedRank(
        V=V, p_value=p, method=method, n=int(n), n_zero=n_zero, n_dropped=n_dropped,
        estimate=float(est), ci_low=float(lo), ci_high=float(hi),
        achieved_confidence=float(achieved), alternative=alternative,
        exact=exact, correct=correct, alpha=alpha, cautions=tuple(cautions),
    )


def _approx_ci(x, alpha, correct, alternative, brentq):
    """R's asymptotic CI, estimate of the pseudo-median and the CI's confidence level.

    They are those of ``wilcox.test`` with ``conf.int = TRUE``.
    """
    mumin, mumax = float(x.min()), float(x.max())
    values, counts = np.unique(x, return_counts=True)

    def w(d: float, corr: bool = correct) -> float:
        return _w_stat(values, d, corr, alternative, counts)

    w_min = w(mumin)
    w_max = w(mumax) if math.isfinite(w_min) else math.nan
    if not math.isfinite(w_max):
        # R: "cannot compute confidence interval when all observations are zero or tied";
        # the interval is NaN at 0% confidence and the estimate is the midrange
        return math.nan, math.nan, (mumin + mumax) / 2, 0.0

    def root(zq: float) -> float:
        if w_min - zq <= 0:
            return mumin
        if w_max - zq >= 0:
            return mumax
        return brentq(lambda d: w(d) - zq, mumin, mumax, xtol=1e-10)

    a = alpha
    if alternative == "two-sided":
        while a < 1 and (w_min - special.ndtri(1 - a / 2) < 0 or w_max - special.ndtri(a / 2) > 0):
            a *= 2
        if a < 1:
            lo, hi = root(float(special.ndtri(1 - a / 2))), root(float(special.ndtri(a / 2)))
        else:
            lo = hi = float(np.median(x))
    elif alternative == "greater":
        while a < 1 and w_min - special.ndtri(1 - a) < 0:
            a *= 2
        lo = root(float(special.ndtri(1 - a))) if a < 1 else float(np.median(x))
        hi = math.inf
    else:
        # R widens a one-sided "less" alpha while the statistic at the largest change is above
        # qnorm(alpha / 2), not qnorm(alpha) as its "greater" branch tests: the level can end
        # lower than needed. Kept, so the interval and its stated level are R's
        while a < 1 and w_max - special.ndtri(a / 2) > 0:
            a *= 2
        lo = -math.inf
        hi = root(float(special.ndtri(a))) if a < 1 else float(np.median(x))
    # R: conf.level <- 1 - pmin(1, alpha) once alpha has been widened
    level = 1.0 - min(1.0, a) if (a >= 1 or alpha < a * 0.75) else 1.0 - alpha
    f_lo, f_hi = w(mumin, False), w(mumax, False)
    if f_lo <= 0:
        est = mumin
    elif f_hi >= 0:
        est = mumax
    else:
        est = brentq(lambda d: w(d, False), mumin, mumax, xtol=1e-10)
    return lo, hi, est, level

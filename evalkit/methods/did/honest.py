"""Honest sensitivity of an event study to violations of parallel trends (Rambachan & Roth).

:func:`honest_did` asks how large a violation of parallel trends would overturn an event-study
finding, as R ``HonestDiD`` does:

* ``method="relative_magnitude"`` bounds each post-adoption change in the violation by ``m``
  (R's ``Mbar``) times the largest pre-adoption change (ΔRM), with the
  conditional-least-favorable hybrid confidence set
  (``createSensitivityResults_relativeMagnitudes(..., method = "C-LF")``);
* ``method="smoothness"`` bounds the change in the violation's slope between consecutive
  periods by ``m`` (R's ``M``) (ΔSD), with the optimal fixed-length confidence interval
  (``createSensitivityResults(..., method = "FLCI")``).

The computations live in :mod:`.honest_rm` and :mod:`.honest_sd`; R's random draws are
reproduced by :mod:`.honest_common`, so the intervals equal R's rather than differing from
them by simulation noise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, get_args

import numpy as np
import pandas as pd
from scipy import special

from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.methods.did.honest_rm import rm_confidence_set
from evalkit.methods.did.honest_sd import MAX_ENUMERATED, flci, sd_upper_bound_mpre
from evalkit.results import Caution, Result, check_alpha, check_option, fmt_num, merge_cautions

__all__ = ["HonestDiD", "HonestMethod", "honest_did", "sensitivity_pair"]

#: The restrictions on the violation of parallel trends.
HonestMethod = Literal["relative_magnitude", "smoothness"]

_M_NAME = {"relative_magnitude": "Mbar", "smoothness": "M"}
_CI_NAME = {"relative_magnitude": "C-LF", "smoothness": "FLCI"}


@dataclass(frozen=True)
class HonestDiD(Result):
    """Result of :func:`honest_did`.

    Attributes
    ----------
    table
        One row per value of ``m``: ``m, lb, ub, method`` (``method`` is R's ``"C-LF"`` or
        ``"FLCI"``). ``m`` is R's ``Mbar`` for relative magnitudes and ``M`` for smoothness.
        ``lb`` and ``ub`` are NaN (with a caution) where the robust confidence set is empty.
    estimate
        The point estimate of the parameter, ``l_vec'β_post``.
    original
        The usual confidence interval for it, ``(lb, ub)`` (R's ``constructOriginalCS``).
    breakdown
        The smallest ``m`` of the grid whose robust interval includes zero; ``None`` when no
        interval of the grid does (the finding survives every ``m`` tried). It is read off the
        grid, not refined between its points: the finding holds for every ``m`` below it in
        the grid. It is the grid's first ``m`` when the original interval already includes
        zero. R's ``HonestDiD`` has no breakdown function; this is the rule of its README
        ("the breakdown value for a significant effect").
    method, alpha, num_pre, num_post, l_vec, grid_points, seed
        The options that produced the numbers, named as R names them.
    """

    _title: ClassVar[str] = "Sensitivity to violations of parallel trends (HonestDiD)"
    _options: ClassVar[tuple[str, ...]] = ("method", "num_pre", "num_post", "l_vec", "alpha")

    table: pd.DataFrame
    estimate: float
    se: float
    original: tuple[float, float]
    breakdown: float | None
    method: HonestMethod = "relative_magnitude"
    alpha: float = 0.05
    num_pre: int = 0
    num_post: int = 0
    l_vec: tuple[float, ...] = ()
    grid_points: int = 1000
    seed: int = 0

    def _terms(self) -> list[dict[str, Any]]:
        nan = float("nan")
        name = _M_NAME[self.method]
        rows = [{"term": "original", "estimate": self.estimate, "se": self.se,
                 "ci_low": self.original[0], "ci_high": self.original[1], "p_value": nan,
                 "m": nan, "ci_method": "Original"}]
        rows += [{"term": f"{name}={fmt_num(r['m'])}", "estimate": self.estimate, "se": nan,
                  "ci_low": r["lb"], "ci_high": r["ub"], "p_value": nan, "m": r["m"],
                  "ci_method": r["method"]} for _, r in self.table.iterrows()]
        return rows

    def _details(self) -> list[str]:
        name = _M_NAME[self.method]
        if self.breakdown is None:
            top = fmt_num(float(self.table["m"].max())) if len(self.table) else "—"
            return [f"Breakdown: every robust interval up to {name} = {top} excludes zero."]
        return [f"Breakdown: the robust interval first includes zero at {name} = "
                f"{fmt_num(self.breakdown)}."]


def _problem(what: str, expected: str = "") -> EvalDataError:
    return EvalDataError([DataProblem(None, what, expected)], source="honest_did")


def _from_result(res: Any) -> tuple[np.ndarray, np.ndarray, int, int, list[str]]:
    """``betahat, sigma, num_pre, num_post`` of an event study, without its reference period."""
    table = getattr(res, "table", None)
    cov = getattr(res, "cov", None)
    if cov is not None and hasattr(type(res), "sigma"):
        cov = res.sigma  # an event study's covariance also holds its covariates
    if table is None or not isinstance(table, pd.DataFrame):
        raise _problem(f"a {type(res).__name__} is not an event study",
                       "event-study coefficients and their covariance, an event_study result "
                       "or staggered(...).aggregate('dynamic')")
    cautions: list[str] = []
    if "rel_time" in table.columns:  # event_study
        times = table["rel_time"].to_numpy(float)
        reference = float(getattr(res, "reference", -1))
        window = getattr(res, "window", None)
        if window is not None:
            cautions.append(Caution(
                f"The event study pools event times beyond its window {tuple(window)} into "
                "its end points, so the first and last coefficients average several event "
                "times.", limits=False))
    elif "key" in table.columns and getattr(res, "kind", None) == "dynamic":
        times = table["key"].to_numpy(float)
        reference = -1.0
        if not np.any(times == reference):
            raise _problem("the dynamic aggregation has no row at event time -1",
                           "staggered(..., base_period='universal'), as R's honest_did "
                           "requires (it normalizes event time -1 to zero)")
    else:
        raise _problem(f"a {type(res).__name__} is not an event study",
                       "an event_study result or staggered(...).aggregate('dynamic')")
    if cov is None:
        raise _problem(f"the {type(res).__name__} result does not carry the covariance of its "
                       "event-time estimates",
                       "a result with a 'cov' attribute, or pass betahat and sigma")
    if reference != -1:
        raise _problem(f"the reference period is event time {reference:g}",
                       "event time -1 as the reference, as HonestDiD assumes")
    keep = times != reference
    times = times[keep]
    beta = table["estimate"].to_numpy(float)[keep]
    sigma = np.asarray(cov, float)
    if sigma.shape == (keep.size, keep.size):
        sigma = sigma[np.ix_(keep, keep)]
    if sigma.shape != (times.size, times.size):
        raise _problem(f"the covariance is {sigma.shape[0]} by {sigma.shape[1]} for "
                       f"{times.size} event-time estimates",
                       "one row and column per estimate other than the reference")
    gaps = np.diff(np.sort(np.append(times, reference)))
    if np.any(gaps != 1):
        raise _problem("the event times are not consecutive "
                       f"({', '.join(f'{t:g}' for t in np.sort(times))})",
                       "consecutive event times around the reference period -1")
    order = np.argsort(times)
    times, beta, sigma = times[order], beta[order], sigma[np.ix_(order, order)]
    num_pre = int((times < reference).sum())
    return beta, sigma, num_pre, times.size - num_pre, cautions


def _validate(betahat: Any, sigma: Any, num_pre: int, num_post: int, l_vec: Any,
              m: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    b = np.asarray(betahat, float).ravel()
    s = np.asarray(sigma, float)
    problems: list[str] = []
    if not np.all(np.isfinite(b)):
        problems.append("betahat has missing or infinite values")
    if s.ndim != 2 or s.shape[0] != s.shape[1]:
        raise _problem(f"sigma is not a square matrix (shape {s.shape})",
                       "the covariance matrix of betahat")
    if s.shape[0] != b.size:
        raise _problem(f"betahat has {b.size} coefficients but sigma is {s.shape[0]} by "
                       f"{s.shape[1]}", "one row and column of sigma per coefficient")
    if int(num_pre) != num_pre or int(num_post) != num_post or num_pre < 1 or num_post < 1:
        raise _problem(f"num_pre={num_pre!r} and num_post={num_post!r}",
                       "whole numbers of at least 1")
    if num_pre + num_post != b.size:
        raise _problem(f"num_pre + num_post = {num_pre} + {num_post} = {num_pre + num_post} "
                       f"does not match the {b.size} event-study coefficients",
                       "num_pre pre-adoption and num_post post-adoption coefficients, the "
                       "reference period excluded")
    if not np.all(np.isfinite(s)):
        problems.append("sigma has missing or infinite values")
    else:
        scale = float(np.abs(s).max()) or 1.0
        asym = float(np.abs(s - s.T).max())
        if asym > 1e-8 * scale:
            problems.append(f"sigma is not symmetric (largest asymmetry {asym:.3g})")
        else:
            s = (s + s.T) / 2
            ev = np.linalg.eigvalsh(s)
            if ev.min() < -1e-10 * max(ev.max(), 0.0) or ev.max() <= 0:
                problems.append("sigma is not positive semi-definite (smallest eigenvalue "
                                f"{ev.min():.3g})")
            elif np.any(np.diag(s) <= 0):
                problems.append("sigma has a zero variance on its diagonal")
    lv = (np.eye(num_post)[0] if l_vec is None else np.asarray(l_vec, float).ravel())
    if lv.size != num_post:
        problems.append(f"l_vec has {lv.size} weights for {num_post} post-adoption periods")
    elif not np.all(np.isfinite(lv)) or not np.any(lv != 0):
        problems.append("l_vec must be finite and not all zero")
    mv = None
    if m is not None:
        mv = np.atleast_1d(np.asarray(m, float))
        if mv.size == 0 or not np.all(np.isfinite(mv)) or np.any(mv < 0):
            problems.append(f"m must be finite numbers of at least 0, not {m!r}")
    if problems:
        raise EvalDataError([DataProblem(None, p) for p in problems], source="honest_did")
    return b, s, lv, mv


def honest_did(
    betahat: Any,
    sigma: Any = None,
    *,
    num_pre: int | None = None,
    num_post: int | None = None,
    method: HonestMethod = "relative_magnitude",
    m: Sequence[float] | None = None,
    l_vec: Sequence[float] | None = None,
    alpha: float = 0.05,
    grid_points: int = 1000,
    seed: int = 0,
) -> HonestDiD:
    """Confidence intervals robust to bounded violations of parallel trends.

    Parameters
    ----------
    betahat
        The event-study coefficients, pre-adoption periods first, the reference period (event
        time −1, normalized to zero) left out; or an :func:`event_study` result or a
        ``staggered(...).aggregate("dynamic")`` result carrying the covariance of its
        estimates in a ``cov`` attribute (then ``sigma`` is not given and ``num_pre`` and
        ``num_post``, if given, must match it).
    sigma
        Their covariance matrix.
    num_pre, num_post
        How many of the coefficients are before and after adoption (R's ``numPrePeriods``,
        ``numPostPeriods``).
    method
        ``"relative_magnitude"`` (ΔRM, conditional-least-favorable hybrid) or
        ``"smoothness"`` (ΔSD, optimal FLCI).
    m
        The bounds to try (R's ``Mbarvec`` or ``Mvec``). By default R's grids: 10 values from 0
        to 2 for relative magnitudes; for smoothness 10 values from 0 to the largest upper
        one-sided 95% bound of the pre-period second differences (R's
        ``DeltaSD_upperBound_Mpre``), or to the first coefficient's SE with one pre-period.
    l_vec
        Weights of the parameter ``l_vec'τ_post`` (default the first post-adoption effect).
    alpha
        One minus the confidence level.
    grid_points
        For relative magnitudes, the number of evenly spaced values between ±20 standard errors
        of ``l_vec'β_post`` that are tested (R's ``gridPoints``); the interval's ends are grid
        points, as in R.
    seed
        R's ``seed`` (``set.seed``) for the simulated least-favorable critical value (one
        post-period) and the folded-normal quantile of the FLCI.

    Returns
    -------
    HonestDiD
        The table of robust intervals, the original interval and the breakdown value.

    Raises
    ------
    EvalDataError
        For coefficients and covariance that do not conform to each other or to ``num_pre`` and
        ``num_post``, a covariance that is not symmetric positive semi-definite, an ``l_vec``
        of the wrong length, a negative ``m``, or an event-study result that lacks the
        covariance or a reference period at −1.

    Notes
    -----
    Relative magnitudes are computed as R does, on a grid of ``grid_points`` values, and equal
    R's to the last digit on the README's Medicaid example; the least-favorable critical value
    uses R's 1,000 draws. The FLCI's worst-case bias is computed exactly (R uses a numerical
    conic solver); the intervals equal R's to about 1e-10 for ``M > 0``. At ``M = 0`` R's
    interval is its solver's approximation of the least-variance estimator and differs from the
    exact one here by about 1e-5 on the README example (0.03% of its width).

    References
    ----------
    Rambachan, A., & Roth, J. (2023). A more credible approach to parallel trends. *Review of
    Economic Studies*, 90(5), 2555–2591. R package ``HonestDiD`` 0.2.8:
    ``createSensitivityResults_relativeMagnitudes``, ``createSensitivityResults``,
    ``constructOriginalCS``.
    """
    check_option("method", method, get_args(HonestMethod))
    alpha = check_alpha(alpha)
    cautions: list[str] = []
    if not isinstance(betahat, (np.ndarray, list, tuple, pd.Series)) and sigma is None:
        b_r, s_r, pre_r, post_r, extra = _from_result(betahat)
        for given, have, name in ((num_pre, pre_r, "num_pre"), (num_post, post_r, "num_post")):
            if given is not None and given != have:
                raise _problem(f"{name}={given} does not match the event study, which has "
                               f"{have} {'pre' if name == 'num_pre' else 'post'}-adoption "
                               "estimates besides the reference period",
                               f"{name}={have} or leave it out")
        betahat, sigma, num_pre, num_post = b_r, s_r, pre_r, post_r
        cautions += extra
    if sigma is None or num_pre is None or num_post is None:
        raise _problem("betahat, sigma, num_pre and num_post are all needed",
                       "the event-study coefficients, their covariance and the numbers of "
                       "pre- and post-adoption coefficients")
    b, s, lv, mv = _validate(betahat, sigma, num_pre, num_post, l_vec, m)
    num_pre, num_post = int(num_pre), int(num_post)
    if int(grid_points) < 2:
        raise _problem(f"grid_points={grid_points!r}", "at least 2")
    post = slice(num_pre, num_pre + num_post)
    estimate = float(lv @ b[post])
    se = math.sqrt(float(lv @ s[post, post] @ lv))
    z = float(special.ndtri(1 - alpha / 2))
    original = (estimate - z * se, estimate + z * se)
    name = _M_NAME[method]
    if mv is None:
        if method == "relative_magnitude":
            mv = np.linspace(0.0, 2.0, 10)
        elif num_pre == 1:
            mv = np.linspace(0.0, math.sqrt(s[0, 0]), 10)
        else:
            mv = np.linspace(0.0, sd_upper_bound_mpre(b, s, num_pre, 0.05), 10)
    rows = []
    if method == "relative_magnitude":
        opened = []
        for mm in mv:
            lb, ub, open_end = rm_confidence_set(b, s, num_pre, num_post, lv, float(mm),
                                                 alpha=alpha, grid_points=int(grid_points),
                                                 seed=int(seed))
            rows.append((float(mm), lb, ub))
            if open_end:
                opened.append(fmt_num(float(mm)))
        if opened:
            cautions.append(Caution(
                f"At {name} = {', '.join(opened)} the robust interval reaches an end of the "
                "grid of tested values (±20 standard errors), so it may be longer than shown.",
                limits=True))
    else:
        res = flci(b, s, num_pre, num_post, lv, mv, alpha=alpha, seed=int(seed))
        rows = [(float(mm), lb, ub) for mm, (lb, ub, _) in zip(mv, res, strict=True)]
        if num_pre - 1 > MAX_ENUMERATED:
            cautions.append(Caution(
                f"With {num_pre} pre-adoption periods the FLCI's worst-case bias was found by "
                "a general-purpose optimizer rather than exactly; its intervals may differ "
                "from R's in the last digits.", limits=False))
    table = pd.DataFrame(rows, columns=["m", "lb", "ub"])
    table["method"] = _CI_NAME[method]
    empty = table.loc[table["lb"].isna(), "m"].tolist()
    if empty:
        cautions.append(Caution(
            f"At {name} = {', '.join(fmt_num(x) for x in empty)} no tested value is accepted: "
            "the robust confidence set is empty, which signals that the restriction is "
            "rejected by the pre-adoption estimates.", limits=True))
    breakdown = _breakdown(table, original)
    return HonestDiD(table=table, estimate=estimate, se=se, original=original,
                     breakdown=breakdown, method=method, alpha=alpha, num_pre=num_pre,
                     num_post=num_post, l_vec=tuple(float(x) for x in lv),
                     grid_points=int(grid_points), seed=int(seed),
                     cautions=merge_cautions(cautions))


def _breakdown(table: pd.DataFrame, original: tuple[float, float]) -> float | None:
    """The smallest m of the grid whose interval includes zero (None if none does)."""
    ordered = table.sort_values("m")
    if len(ordered) and original[0] <= 0 <= original[1]:
        return float(ordered["m"].iloc[0])
    for _, r in ordered.iterrows():
        if np.isfinite(r["lb"]) and r["lb"] <= 0 <= r["ub"]:
            return float(r["m"])
    return None


def sensitivity_pair(result: Any, *, m: Sequence[float] | None = None,
                     alpha: float = 0.05) -> tuple[HonestDiD, HonestDiD]:
    """Relative-magnitude sensitivity of the first post-adoption effect and of their average.

    What a report shows (HonestDiD's README does the same two): the effect in the first
    period after adoption (R's default ``l_vec``) and the average over every post-adoption
    period of the event study (``l_vec`` = 1/``num_post`` each).

    Parameters
    ----------
    result
        An :func:`event_study` result or a ``staggered(...).aggregate("dynamic")`` result
        with a universal base period (see :func:`honest_did`).
    m
        The ``Mbar`` grid (R's default when ``None``).
    alpha
        One minus the confidence level.

    Returns
    -------
    (HonestDiD, HonestDiD)
        The first period's and the average's sensitivity.

    Raises
    ------
    EvalDataError
        As :func:`honest_did` (for example no period before adoption besides the reference).
    """
    first = honest_did(result, m=m, alpha=alpha)
    k = first.num_post
    average = honest_did(result, m=m, alpha=alpha, l_vec=[1.0 / k] * k)
    return first, average

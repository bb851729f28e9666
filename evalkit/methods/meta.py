"""Random-effects meta-analysis of effect sizes from several programs, as R's ``metafor::rma``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, get_args

import numpy as np
from scipy import special

from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.results import Caution, Result, check_alpha, check_option

__all__ = ["meta_analysis", "MetaAnalysis"]

#: Sampling variances below this (times the squared largest effect, at least 1) are refused.
_TINY = 1e-16

#: Estimators of the between-program variance.
Method = Literal["REML", "DL"]


@dataclass(frozen=True)
class MetaAnalysis(Result):
    """Result of :func:`meta_analysis`.

    Attributes
    ----------
    estimate, se, ci_low, ci_high, p_value
        Pooled effect with its standard error, CI and test.
    pi_low, pi_high
        Prediction interval: where the effect of a new, similar program would fall.
    tau2, i2
        Between-program variance and the share of total variability it accounts for (%).
    q, q_p_value, k
        Cochran's Q heterogeneity test and the number of programs.
    """

    _title: ClassVar[str] = "Random-effects meta-analysis"
    _options: ClassVar[tuple[str, ...]] = ("method", "hartung_knapp", "alpha")

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    pi_low: float
    pi_high: float
    tau2: float
    i2: float
    q: float
    q_p_value: float
    k: int
    method: Method = "REML"
    hartung_knapp: bool = True
    alpha: float = 0.05

    def _terms(self) -> list[dict[str, Any]]:
        nan = float("nan")
        return [{"term": "pooled effect", "estimate": self.estimate, "se": self.se,
                 "ci_low": self.ci_low, "ci_high": self.ci_high, "p_value": self.p_value},
                {"term": "prediction interval", "estimate": self.estimate, "se": nan,
                 "ci_low": self.pi_low, "ci_high": self.pi_high, "p_value": nan},
                {"term": "tau2", "estimate": self.tau2, "se": nan, "ci_low": nan,
                 "ci_high": nan, "p_value": nan},
                {"term": "I2 (%)", "estimate": self.i2, "se": nan, "ci_low": nan,
                 "ci_high": nan, "p_value": self.q_p_value}]


def meta_analysis(
    effects: Sequence[float],
    variances: Sequence[float],
    *,
    method: Method = "REML",
    hartung_knapp: bool = True,
    alpha: float = 0.05,
    tol: float = 1e-10,
    max_iter: int = 1000,
) -> MetaAnalysis:
    """Pool effect sizes across programs with a random-effects model.

    Parameters
    ----------
    effects, variances
        Each program's effect size (e.g. Hedges' g) and its sampling variance.
    method
        ``"REML"`` (restricted maximum likelihood, by Fisher scoring) or ``"DL"``
        (DerSimonian–Laird) estimate of the between-program variance.
    hartung_knapp
        Hartung–Knapp adjustment: the SE rescaled by the weighted residual variance and
        t-based intervals with ``k − 1`` df (metafor's ``test = "knha"``), recommended when
        programs are few.
    alpha
        1 − confidence level of the CI and the prediction interval.

    Raises
    ------
    EvalDataError
        Fewer than two effects, sequences of different lengths, a missing or infinite effect,
        or a variance that is not positive and finite (naming the positions).

    Notes
    -----
    Equal to R's ``metafor::rma(yi, vi, method = method, test = "knha" or "z")`` and
    ``predict()`` for the prediction interval; I² uses metafor's typical within-study
    variance. Where every effect is the same, metafor's Hartung–Knapp standard error is 0
    (an interval of zero width); here it is NaN with a caution. Two programs, and a REML fit
    that does not converge, carry a caution.

    References
    ----------
    Viechtbauer, W. (2005). Bias and efficiency of meta-analytic variance estimators in the
    random-effects model. *Journal of Educational and Behavioral Statistics*, 30, 261–293.

    Hartung, J., & Knapp, G. (2001). On tests of the overall treatment effect in meta-analysis
    with normally distributed responses. *Statistics in Medicine*, 20, 1771–1782.
    """
    alpha = check_alpha(alpha)
    check_option("method", method, get_args(Method))
    try:
        y = np.asarray(effects, dtype=float)
        v = np.asarray(variances, dtype=float)
    except (TypeError, ValueError):
        raise EvalDataError([DataProblem("effects", "effects and variances must be numbers",
                                         "two sequences of numbers")]) from None
    if y.shape != v.shape or y.ndim != 1:
        raise EvalDataError([DataProblem("variances", f"{v.size} variances for {y.size} "
                                         "effects", "two sequences of the same length")])
    k = y.size
    if k < 2:
        raise EvalDataError([DataProblem("effects", f"only {k} effect size(s): a meta-analysis "
                                         "needs at least two", "at least two programs")])
    problems = []
    bad_y = np.flatnonzero(~np.isfinite(y))
    if bad_y.size:
        problems.append(DataProblem("effects", "missing or infinite effect sizes",
                                    "finite numbers", rows=tuple(int(i) + 1 for i in bad_y),
                                    n_rows=int(bad_y.size)))
    bad_v = np.flatnonzero(~(np.isfinite(v) & (v > 0)))
    if bad_v.size:
        problems.append(DataProblem("variances", "variances that are missing, zero, negative "
                                    "or infinite", "positive finite sampling variances",
                                    rows=tuple(int(i) + 1 for i in bad_v),
                                    n_rows=int(bad_v.size)))
    if not problems:
        # a sampling variance this small says the effect is known exactly: it is not a variance
        # of an estimated effect (often a standard error squared twice, or a unit mix-up)
        floor = _TINY * max(1.0, float(np.abs(y).max())) ** 2
        tiny = np.flatnonzero(v < floor)
        if tiny.size:
            problems.append(DataProblem("variances", f"sampling variances below {floor:.0e}, "
                                        "which would mean an effect known without error",
                                        "the variance of each program's estimated effect",
                                        rows=tuple(int(i) + 1 for i in tiny),
                                        n_rows=int(tiny.size)))
    if problems:
        raise EvalDataError(problems, source="meta-analysis input", row_word="program")
    cautions: list[str] = []
    w0 = 1 / v
    sw0 = float(w0.sum())
    mu0 = float(w0 @ y / sw0)
    q = float(w0 @ (y - mu0) ** 2)
    # sum_i w_i (sum w − w_i) = (sum w)² − sum w², without the cancellation when one weight
    # dominates
    cross = float(w0 @ (sw0 - w0))
    c = cross / sw0
    tau2 = max(0.0, (q - (k - 1)) / c)  # DerSimonian–Laird (also REML's start)
    if method == "REML":
        converged = False
        for _ in range(max_iter):
            w = 1 / (v + tau2)
            P = np.diag(w) - np.outer(w, w) / w.sum()
            Py = P @ y
            step = float((Py @ Py - np.trace(P)) / np.trace(P @ P))
            new = max(0.0, tau2 + step)
            if abs(new - tau2) < tol:
                tau2 = new
                converged = True
                break
            tau2 = new
        if not converged:
            cautions.append(Caution(
                f"The REML estimate of how much effects vary between programs did not settle "
                f"within {max_iter} iterations, so the pooled effect and its interval may be "
                "off; method='DL' needs no iterations.", limits=True))
    w = 1 / (v + tau2)
    mu = float(w @ y / w.sum())
    se_z = math.sqrt(1 / w.sum())
    se = se_z
    if hartung_knapp:
        se = math.sqrt(float(w @ (y - mu) ** 2) / ((k - 1) * w.sum()))
        crit = float(special.stdtrit(k - 1, 1 - alpha / 2))
        if se <= 1e-8 * se_z:
            # identical effects leave no residual variance: metafor reports SE 0 and an
            # interval of zero width, which no real data support
            se = float("nan")
            cautions.append(Caution(
                "The programs' effects are identical, so the Hartung–Knapp standard error is "
                "zero and no interval or p-value can be given; rerun without the adjustment "
                "(hartung_knapp=False) for an interval from the programs' own variances.",
                limits=True))
        p = float(2 * special.stdtr(k - 1, -abs(mu / se)))
    else:
        crit = float(special.ndtri(1 - alpha / 2))
        p = float(2 * special.ndtr(-abs(mu / se)))
    if k == 2:
        cautions.append(Caution(
            "Only 2 programs are pooled: how much effects vary between programs rests on two "
            "numbers, and the interval " + ("has 1 degree of freedom, so it is very wide."
                                            if hartung_knapp else
                                            "does not reflect how uncertain that spread is, so "
                                            "it may be too narrow."),
            limits=True))
    s2 = (k - 1) * sw0 / cross
    half_pi = crit * math.sqrt(tau2 + se**2)
    return MetaAnalysis(
        estimate=mu, se=se, ci_low=mu - crit * se, ci_high=mu + crit * se, p_value=p,
        pi_low=mu - half_pi, pi_high=mu + half_pi, tau2=tau2, i2=100 * tau2 / (tau2 + s2),
        q=q, q_p_value=float(special.chdtrc(k - 1, q)), k=int(k), method=method,
        hartung_knapp=hartung_knapp, alpha=alpha, cautions=tuple(cautions),
    )

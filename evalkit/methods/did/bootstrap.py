"""Wild cluster and multiplier bootstraps for the DiD estimators (R did's ``mboot.R``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal, get_args

import numpy as np
import pandas as pd
from scipy import special

from evalkit.methods.inference import zero_se
from evalkit.results import Caution, TestResult, check_option

#: Relative tolerance within which a bootstrap t statistic ties the data's (``|t*| = |t|``).
TIE_RTOL = 1e-9

#: Weights of the wild cluster bootstrap.
BootstrapWeights = Literal["rademacher", "webb"]


# -- wild cluster bootstrap -------------------------------------------------------------------


@dataclass(frozen=True)
class WildBootstrap(TestResult):
    """Result of :func:`wild_cluster_bootstrap`: a test of ``β_j = 0`` and its interval.

    The interval holds every ``β_j`` the test does not reject.

    Attributes
    ----------
    statistic, df, p_value, method
        The data's cluster-robust t statistic (NaN when its standard error is zero up to
        rounding), no degrees of freedom (NaN: the reference distribution is the bootstrap's),
        the p-value with ties counted, and the method in words.
    p_value_strict
        The p-value with ties not counted (the convention of boottest and fwildclusterboot,
        which with full enumeration can fall to 0 with two clusters).
    ci_low, ci_high
        The confidence interval (``±inf`` where it is unbounded).
    draws, weights, clusters, enumerated
        Draws used (``2**G`` under full enumeration), the weights, the number of clusters and
        whether every sign pattern was enumerated.
    min_p_value
        The smallest p-value the weights allow with these clusters.
    alpha
        1 − confidence level of the interval.
    """

    _title: ClassVar[str] = "Wild cluster bootstrap test"
    _options: ClassVar[tuple[str, ...]] = ("weights", "draws", "alpha")

    p_value_strict: float = float("nan")
    ci_low: float = float("nan")
    ci_high: float = float("nan")
    draws: int = 0
    weights: str = "rademacher"
    clusters: int = 0
    enumerated: bool = False
    min_p_value: float = float("nan")
    alpha: float = 0.05

    def _terms(self) -> list[dict[str, Any]]:
        nan = float("nan")
        return [{"term": self.method, "estimate": nan, "se": nan, "ci_low": self.ci_low,
                 "ci_high": self.ci_high, "p_value": self.p_value,
                 "statistic": self.statistic, "p_value_strict": self.p_value_strict}]

_WEBB = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])


def wild_cluster_bootstrap(
    X: np.ndarray, y: np.ndarray, clusters: np.ndarray, j: int, *, draws: int,
    weights: BootstrapWeights = "rademacher", seed: int | None = None, alpha: float = 0.05,
) -> WildBootstrap:
    """Restricted wild cluster bootstrap (WCR) p-value and CI for coefficient ``j``.

    Under the null ``β_j = r`` the restricted model's fitted values and residuals are formed;
    each draw flips the residuals of whole clusters with Rademacher (±1) or Webb six-point
    weights, refits, and recomputes the cluster-robust t statistic. The p-value is the share
    of draws whose absolute t is at least the data's (equal within :data:`TIE_RTOL` counts,
    so the draws that reproduce the data's own t are never lost to rounding); the CI collects
    every ``r`` not rejected at ``alpha``, found by bisection with the same draws. All work
    after one pass over the rows is done on per-cluster sums, so a draw costs O(G·k), not
    O(N).

    With Rademacher weights and ``2**G <= draws`` every one of the ``2**G`` sign patterns is
    used once instead of random draws (full enumeration, the rule of boottest and
    fwildclusterboot), so the p-value is exact and does not depend on ``seed``. A pattern and
    its negation give the same ``|t*|``, and the unflipped pattern and its negation reproduce
    the data's ``|t|``: the p-value takes at most ``2**(G−1)`` distinct values and is at
    least ``2 / 2**G`` (0.5 with 2 clusters, 0.0625 with 5). When that floor is above
    ``alpha`` the test cannot reject and the confidence interval is the whole line.

    Returns
    -------
    WildBootstrap
        ``p_value`` (ties counted), ``p_value_strict`` (ties not counted: the convention of
        boottest and fwildclusterboot, which with full enumeration can fall to 0 with two
        clusters), ``ci_low``, ``ci_high`` (``±inf`` where the interval is unbounded),
        ``statistic`` (the data's t), ``draws`` (the number used: ``2**G`` under full
        enumeration), ``weights``, ``clusters``, ``enumerated``, ``min_p_value`` (the
        smallest p-value the weights allow with these clusters) and ``cautions``
        (plain-language notes). When the data's cluster-robust standard error is zero up to
        rounding the t statistics are undefined and the p-value and CI are NaN, with a
        caution.

    Raises
    ------
    EvalDataError
        If all rows are in one cluster.

    References
    ----------
    Cameron, A. C., Gelbach, J. B., & Miller, D. L. (2008). Bootstrap-based improvements for
    inference with clustered errors. *Review of Economics and Statistics*, 90, 414–427.

    Roodman, D., MacKinnon, J. G., Nielsen, M. Ø., & Webb, M. D. (2019). Fast and wild:
    bootstrap inference in Stata using boottest. *Stata Journal*, 19, 4–60.

    Webb, M. D. (2023). Reworking wild bootstrap-based inference for clustered errors.
    *Canadian Journal of Economics*, 56, 839–858.

    Fischer, A., & Roodman, D. (2021). fwildclusterboot: fast wild cluster bootstrap
    inference for linear regression models (R package; full enumeration when ``2^G <= B``).
    """
    from evalkit.exceptions import EvalDataError

    check_option("weights", weights, get_args(BootstrapWeights))
    if not isinstance(draws, (int, np.integer)) or draws < 99:
        raise ValueError("the wild bootstrap needs a whole number of at least 99 draws")
    codes = pd.factorize(clusters)[0]
    G, k = int(codes.max()) + 1, X.shape[1]
    if G < 2:
        raise EvalDataError("the wild cluster bootstrap needs at least 2 clusters; every row "
                            "is in one cluster")
    H = np.zeros((G, k, k))
    np.add.at(H, codes, X[:, :, None] * X[:, None, :])
    Xy = np.zeros((G, k))
    np.add.at(Xy, codes, X * y[:, None])
    XtX = H.sum(axis=0)
    W = np.linalg.inv(XtX)
    q = W[j]  # row of (X'X)^-1 for coefficient j
    Hq = H @ q  # G × k
    others = [i for i in range(k) if i != j]
    Wr = np.linalg.inv(XtX[np.ix_(others, others)])
    n_support = 2 if weights == "rademacher" else 6
    enumerated = weights == "rademacher" and G < 60 and 2**G <= draws
    if enumerated:  # every sign pattern once: column b holds the binary digits of b as ±1
        B = 2**G
        V = ((np.arange(B)[None, :] >> np.arange(G)[:, None]) & 1) * 2.0 - 1.0
    else:
        rng = np.random.default_rng(seed)
        support = np.array([-1.0, 1.0]) if weights == "rademacher" else _WEBB
        V = rng.choice(support, size=(G, draws))
        B = int(draws)
    # the unflipped pattern and its negation always reproduce |t|: the p-value's floor
    min_p = float(np.exp(np.log(2.0) - G * np.log(n_support)))

    beta = W @ Xy.sum(axis=0)
    s_obs = q @ (Xy - H @ beta).T  # q' X_g' û_g
    se = float(np.sqrt(s_obs @ s_obs))
    method = ("wild cluster bootstrap (WCR, " + weights + " weights"
              + (", every sign pattern)" if enumerated else ")"))
    out: dict[str, Any] = {"statistic": float("nan"), "df": float("nan"),
                           "p_value": float("nan"), "method": method,
                           "p_value_strict": float("nan"),
                           "ci_low": float("nan"), "ci_high": float("nan"), "draws": B,
                           "weights": weights, "clusters": G, "enumerated": bool(enumerated),
                           "min_p_value": min_p, "alpha": alpha}
    cautions: list[str] = []
    scale = float(np.linalg.norm(y)) / float(np.linalg.norm(X[:, j]))
    if zero_se(np.array([se]), beta[j:j + 1], np.array([scale]))[0]:
        cautions.append(Caution(
            f"The wild cluster bootstrap cannot test this effect: with these {G} clusters its "
            "cluster-robust standard error is zero up to rounding (the other terms of the "
            "model absorb all the variation between clusters), so its p-value and confidence "
            "interval cannot be computed and are not reported.", limits=True))
        return WildBootstrap(**out, cautions=tuple(cautions))

    def t_stats(r: float) -> tuple[float, np.ndarray]:
        # restricted fit: regress y − r·x_j on the other columns (all from cluster sums)
        rhs = Xy.sum(axis=0)[others] - r * XtX[others, j]
        br = np.zeros(k)
        br[others] = Wr @ rhs
        br[j] = r
        A = H @ br  # X_g' ŷr_g
        B_ = Xy - A  # X_g' ũ_g
        t_obs = (beta[j] - r) / se  # the data's own t statistic for β_j = r
        # every draw at once: X'y* = Σ A_g + B' v
        beta_b = (W @ (A.sum(axis=0)[:, None] + B_.T @ V))  # k × draws
        s_b = (A @ q)[:, None] + (B_ @ q)[:, None] * V - Hq @ beta_b  # G × draws
        with np.errstate(divide="ignore", invalid="ignore"):
            t_b = (beta_b[j] - r) / np.sqrt((s_b**2).sum(axis=0))
        return float(t_obs), t_b

    def p_values(r: float) -> tuple[float, float]:
        t_obs, t_b = t_stats(r)
        t_b = np.abs(t_b[~np.isnan(t_b)])  # infeasible draws are left out, as boottest does
        if t_b.size == 0:
            return float("nan"), float("nan")
        a = abs(t_obs)
        return (float(np.mean(t_b >= a * (1 - TIE_RTOL))),
                float(np.mean(t_b > a * (1 + TIE_RTOL))))

    def bound(direction: float) -> float:
        if min_p > alpha:
            return direction * float("inf")
        inside, step = beta[j], se
        outside = beta[j] + direction * step
        while p_values(outside)[0] > alpha:
            if step > 1e6 * se:
                return direction * float("inf")
            inside, step = outside, step * 2
            outside = beta[j] + direction * step
        for _ in range(60):
            mid = (inside + outside) / 2
            if p_values(mid)[0] > alpha:
                inside = mid
            else:
                outside = mid
            if abs(outside - inside) <= 1e-12 * max(abs(mid), se):
                break
        return float((inside + outside) / 2)

    p, p_strict = p_values(0.0)
    lo, hi = bound(-1.0), bound(1.0)
    out.update(p_value=p, p_value_strict=p_strict, ci_low=lo, ci_high=hi)
    distinct = f"{2 ** (G - 1):,}" if n_support == 2 else f"{6 ** G // 2:,}"
    if min_p > alpha:
        cautions.append(Caution(
            f"With only {G} clusters the wild cluster bootstrap ({weights} weights) has "
            f"{n_support ** G} possible sign patterns, so its p-value takes at most "
            f"{distinct} distinct values and can never fall below {min_p:.3g}: this test "
            f"cannot find an effect statistically significant at the {alpha:g} level "
            f"whatever the data, and its {1 - alpha:.0%} confidence interval is unbounded.",
            limits=True))
    elif min_p > alpha / 2:
        cautions.append(Caution(
            f"With only {G} clusters the wild cluster bootstrap ({weights} weights) has "
            f"{n_support ** G} possible sign patterns, so its p-value takes at most "
            f"{distinct} distinct values and can be no smaller than {min_p:.3g}: only the "
            "most extreme patterns can make it significant, so a non-significant result "
            "says little.", limits=True))
    elif np.isinf(lo) or np.isinf(hi):
        side = "in both directions" if np.isinf(lo) and np.isinf(hi) else \
            ("below" if np.isinf(lo) else "above")
        cautions.append(Caution(
            f"The wild cluster bootstrap {1 - alpha:.0%} confidence interval is unbounded "
            f"{side}: no value of the effect on that side, however far from the estimate, can "
            f"be ruled out at the {alpha:g} level, as can happen with few clusters.",
            limits=True))
    out["statistic"] = float(beta[j] / se)
    return WildBootstrap(**out, cautions=tuple(cautions))


def multiplier_bootstrap(inf: np.ndarray, draws: int, *, seed: int | None, alpha: float = 0.05,
                         clusters: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Bootstrap SEs and the uniform critical value from influence functions.

    Each draw multiplies the ``n × k`` influence functions by Rademacher weights (one per
    unit, or per cluster) and averages; the SE of each column is the interquartile range of
    the draws over that of the standard normal, and the critical value is the ``1 − alpha``
    quantile of the largest absolute standardized draw, which makes the bands simultaneous.

    References
    ----------
    Callaway, B., & Sant'Anna, P. H. C. (2021), §4.1 and R ``did``'s ``mboot``.
    """
    if not isinstance(draws, (int, np.integer)) or draws < 100:
        raise ValueError("bootstrap needs a whole number of at least 100 draws")
    n = inf.shape[0]
    if clusters is not None:
        codes = pd.factorize(clusters)[0]
        g = int(codes.max()) + 1
        summed = np.zeros((g, inf.shape[1]))
        np.add.at(summed, codes, inf)
        inf, m = summed, g
    else:
        m = n
    rng = np.random.default_rng(seed)
    v = rng.choice(np.array([-1.0, 1.0]), size=(draws, m))
    boot = np.sqrt(n) * (v @ inf) / n  # draws × k, on the sqrt(n) scale
    q75, q25 = np.quantile(boot, 0.75, axis=0), np.quantile(boot, 0.25, axis=0)
    sigma = (q75 - q25) / (special.ndtri(0.75) - special.ndtri(0.25))
    keep = sigma > np.sqrt(np.finfo(float).eps) * 10
    crit = float(np.quantile(np.max(np.abs(boot[:, keep] / sigma[keep]), axis=1), 1 - alpha))
    return sigma / np.sqrt(n), crit

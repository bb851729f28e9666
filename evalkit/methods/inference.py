"""Shared inference for the regression estimators.

It covers variances, degenerate standard errors and the cautions about few clusters.

One home for the sandwich variances used across :mod:`evalkit.methods`: classical (iid),
HC1 and cluster-robust CRV1 for the two-way fixed-effects regression (:mod:`.did.twfe`), and
the HC2 / CR1 regression of :func:`robust_ols` (as R's ``estimatr::lm_robust``) behind the
comparison-group ANCOVA, the comparison of proportions and the 2×2 difference-in-differences.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import special

from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.results import Caution

__all__ = ["FEW_CLUSTERS", "FEW_TREATED_CLUSTERS", "FEW_UNTREATED_CLUSTERS", "SE_RTOL",
           "cluster_cautions", "cluster_scores", "crv1_vcov", "hc1_vcov", "iid_vcov",
           "fit_scale", "join_names", "robust_ols", "zero_se"]

#: Fewer clusters than this and cluster-robust inference is flagged as unreliable. Cameron &
#: Miller (2015, §VI) put "few" anywhere from fewer than 20 to fewer than 50 clusters,
#: depending on the design; the caution uses the lower end. CR1 with G − 1 degrees of freedom
#: still over-rejects there.
FEW_CLUSTERS = 20

#: Fewer treated (or untreated) clusters than this and the result says that cluster-robust
#: standard errors understate the uncertainty whatever the total number of clusters
#: (MacKinnon & Webb 2017; Conley & Taber 2011). Coverage of the 95% CRV1 interval in
#: ``benchmarks/coverage.py`` (50 states clustered by state, 15 years): 21% with 1 treated
#: state, 68% with 2, 79% with 3, 89.5% with 5, 92.8% with 10 and 94.0% with 20.
FEW_TREATED_CLUSTERS = 20
#: The same for clusters with no treated observation: 15 untreated of 50 still covered 94.7%
#: there, so the judgement of MacKinnon & Webb's few-control-cluster cases is kept at 10.
FEW_UNTREATED_CLUSTERS = 10

#: A standard error at or below this share of its coefficient's scale (the larger of the
#: coefficient and ``‖ỹ‖ / ‖x̃‖``, the variation of the outcome per unit of the regressor) is
#: rounding noise, not a number: it is reported as NaN with a caution.
SE_RTOL = 1e-9



def zero_se(se: np.ndarray, coef: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Which standard errors are zero up to rounding (or not finite).

    A standard error counts as zero when it is at most :data:`SE_RTOL` times the larger of
    ``|coef|`` and ``scale`` (the size of coefficient the data could produce, e.g.
    ``‖ỹ‖ / ‖x̃‖``). Rounding noise in a standard error that is zero in exact arithmetic is
    about 1e-16 of that scale; a real standard error is many orders of magnitude above it.
    """
    se, coef, scale = (np.asarray(a, float) for a in (se, coef, scale))
    ref = np.maximum(np.abs(coef), np.where(np.isfinite(scale), scale, 0.0))
    return ~(se > SE_RTOL * ref) | ~np.isfinite(se)


def fit_scale(X: np.ndarray, y: np.ndarray, resid: np.ndarray,
              w: np.ndarray | None = None) -> tuple[bool, np.ndarray]:
    """Whether a regression fits every outcome exactly, and each coefficient's scale.

    The scale of column ``j`` is ``‖ỹ‖ / ‖x̃_j‖`` (``‖ỹ‖ / √n`` for a constant column), the
    size of coefficient the data could produce, against which :func:`zero_se` judges a
    standard error. The fit is exact when ``‖e‖ ≤ 1e-10 · max(‖ỹ‖, max |y|)``. Tildes are
    deviations from the (weighted) mean; with weights ``w`` every norm is weighted and
    ``resid`` is the unweighted residual.
    """
    w = np.ones(len(y)) if w is None else np.asarray(w, float)
    sw = np.sqrt(w)
    spread = float(np.linalg.norm(sw * (y - np.average(y, weights=w))))
    xs = np.linalg.norm(sw[:, None] * (X - np.average(X, axis=0, weights=w)), axis=0)
    unit = np.where(xs > 0, spread / np.where(xs > 0, xs, 1.0), spread / math.sqrt(len(y)))
    exact = float(np.linalg.norm(sw * resid)) <= 1e-10 * max(spread, float(np.abs(y).max()),
                                                              1e-300)
    return exact, unit


# -- sandwich variances -------------------------------------------------------------------------


def cluster_scores(X: np.ndarray, resid: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Per-cluster sums of the scores ``x_i e_i``: a ``G × k`` array (clusters coded 0..G−1)."""
    G = int(codes.max() + 1)
    xe = X * resid[:, None]
    return np.column_stack([np.bincount(codes, weights=xe[:, j], minlength=G)
                            for j in range(X.shape[1])]) if X.shape[1] else np.zeros((G, 0))


def iid_vcov(bread: np.ndarray, rss: float, df: float) -> np.ndarray:
    """Classical variance ``(X'X)⁻¹ · RSS / df``."""
    return bread * rss / df


def hc1_vcov(bread: np.ndarray, X: np.ndarray, resid: np.ndarray, n: int,
             df: float) -> np.ndarray:
    """Heteroskedasticity-robust HC1 variance: ``(X'X)⁻¹ X' diag(e²) X (X'X)⁻¹ · n / df``.

    References
    ----------
    MacKinnon, J. G., & White, H. (1985). *Journal of Econometrics*, 29, 305–325.
    """
    meat = (X * resid[:, None] ** 2).T @ X
    return bread @ meat @ bread * n / df


def crv1_vcov(bread: np.ndarray, X: np.ndarray, resid: np.ndarray, codes: np.ndarray, n: int,
              K: int) -> np.ndarray:
    """Cluster-robust CRV1 variance with Stata's small-sample factor ``G/(G−1) · (N−1)/(N−K)``.

    ``K`` is the number of parameters that count towards the factor.

    References
    ----------
    Cameron, A. C., & Miller, D. L. (2015). A practitioner's guide to cluster-robust
    inference. *Journal of Human Resources*, 50, 317–372.
    """
    scores = cluster_scores(X, resid, codes)
    G = scores.shape[0]
    meat = scores.T @ scores
    return bread @ meat @ bread * (G / (G - 1)) * ((n - 1) / (n - K))


def robust_ols(y: np.ndarray, X: np.ndarray, names: list[str], groups: np.ndarray | None,
               alpha: float, *, cluster_name: str = "cluster") -> tuple[pd.DataFrame, float]:
    """OLS with HC2 standard errors, or CR1 when ``groups`` gives clusters; t-based inference.

    CR1 uses Stata's small-sample factor and ``G − 1`` df. Returns the coefficient table and
    its df (as R's ``estimatr::lm_robust``, ``se_type = "HC2"`` or ``"stata"``).

    The table's ``attrs["cautions"]`` holds plain-language cautions:

    * observations with leverage 1 (a group or cell of one): their squared residual would be
      divided by ``1 − h = 0``. The standard errors of the coefficients such an observation
      determines are NaN (as ``sandwich::vcovHC(type = "HC2")``; estimatr instead leaves the
      observation out, which hides that its variance cannot be estimated); the others use the
      remaining observations, as estimatr does;
    * fewer than :data:`FEW_CLUSTERS` clusters (Cameron & Miller 2015, §VI);
    * a model that fits every outcome exactly, or any standard error that is numerically zero:
      NaN instead of a zero shown as exact.

    Raises
    ------
    EvalDataError
        With one cluster (CR1 divides by ``G − 1``), no residual degrees of freedom, or
        collinear regressors; the message names ``cluster_name`` or the terms.

    References
    ----------
    Cameron, A. C., & Miller, D. L. (2015). A practitioner's guide to cluster-robust inference.
    *Journal of Human Resources*, 50(2), 317–372.

    MacKinnon, J. G., & White, H. (1985). *Journal of Econometrics*, 29, 305–325 (HC2).
    """
    from scipy.linalg import solve_triangular

    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    n, k = X.shape
    cautions: list[str] = []
    if np.linalg.matrix_rank(X) < k:
        raise EvalDataError(
            [DataProblem(None, "the regressors " + ", ".join(repr(t) for t in names[1:])
                         + " are collinear (one is a linear combination of the others)",
                         "columns that are not linear combinations of each other")])
    if n <= k:
        raise EvalDataError(
            [DataProblem(None, f"{n} observations for {k} coefficients leave no residual "
                         "degrees of freedom", f"more than {k} observations")])
    Q, R = np.linalg.qr(X)
    Rinv = solve_triangular(R, np.eye(k))
    beta = Rinv @ (Q.T @ y)
    bread = Rinv @ Rinv.T
    e = y - X @ beta
    h = np.clip((Q**2).sum(axis=1), 0.0, 1.0)
    influence = bread @ X.T  # d beta / d y_i, one column per observation
    affected = np.zeros(k, dtype=bool)
    if groups is None:
        dfree = float(n - k)
        lev1 = h > 1 - 1e-8
        omega = np.where(lev1, 0.0, e**2 / np.where(lev1, 1.0, 1 - h))
        V = bread @ ((X.T * omega) @ X) @ bread
        if lev1.any():
            scale = np.abs(influence).max(axis=1)
            affected = (np.abs(influence[:, lev1]) > 1e-8 * scale[:, None]).any(axis=1)
            m = int(lev1.sum())
            hit = [t for t, a in zip(names, affected, strict=True) if a]
            cautions.append(Caution(
                f"The model leaves no residual for {m} observation(s): they are fitted exactly "
                "(for example a group or cell with a single youth), so the spread of their "
                "outcome cannot be estimated and the "
                f"standard error of {', '.join(repr(t) for t in hit)} is not given, nor its "
                "interval and p-value.", limits=True))
    else:
        codes = pd.factorize(np.asarray(groups))[0]
        G = int(codes.max() + 1) if codes.size else 0
        if G < 2:
            raise EvalDataError(
                [DataProblem(cluster_name, "only one cluster: cluster-robust standard errors "
                             "need the variation between clusters",
                             "at least 2 clusters (and many more for reliable intervals)")])
        scores = cluster_scores(X, e, codes)
        c = G / (G - 1) * (n - 1) / (n - k)
        V = c * bread @ (scores.T @ scores) @ bread
        dfree = float(G - 1)
        if G < FEW_CLUSTERS:
            cautions.append(Caution(
                f"Only {G} clusters in '{cluster_name}': with fewer than {FEW_CLUSTERS} "
                "clusters, cluster-robust standard errors tend to be too small (Cameron & "
                "Miller 2015), so the interval may be too narrow and the p-value too small: "
                "the result looks more certain than it is.", limits=True))
    se = np.sqrt(np.clip(np.diag(V), 0.0, None))
    # "numerically zero": below 1e-10 of the coefficient or of the outcome's spread per unit
    # of the regressor's spread
    perfect, unit = fit_scale(X, y, e)
    zero = perfect | (se <= 1e-10 * np.maximum(np.abs(beta), unit)) | (se == 0)
    if perfect:
        cautions.append(Caution(
            "The model reproduces every outcome exactly (no variation is left over), so no "
            "standard error, interval or p-value can be estimated and none is given.",
            limits=True))
    elif (zero & ~affected).any():
        hit = [t for t, z, a in zip(names, zero, affected, strict=True) if z and not a]
        cautions.append(Caution(
            f"The standard error of {', '.join(repr(t) for t in hit)} is zero up to "
            "rounding, which would mean the number is known exactly; no real data support "
            "that, so it is not given, nor its interval and p-value.", limits=True))
    se = np.where(zero | affected, np.nan, se)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = beta / se
    q = float(special.stdtrit(dfree, 1 - alpha / 2))
    frame = pd.DataFrame({
        "term": names, "estimate": beta, "se": se, "t": t,
        "p_value": 2 * special.stdtr(dfree, -np.abs(t)),
        "ci_low": beta - q * se, "ci_high": beta + q * se,
    })
    frame.attrs["cautions"] = tuple(cautions)
    return frame, dfree


# -- cautions -----------------------------------------------------------------------------------


def join_names(names: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def cluster_cautions(codes: np.ndarray, cluster: str, *, treated: np.ndarray | None = None,
                     remedy: str = "") -> list[Caution]:
    """Plain-language cautions on cluster-robust inference with few (treated) clusters.

    Parameters
    ----------
    codes
        Cluster code of every row (0, 1, ..., G − 1).
    cluster
        The cluster column's name.
    treated
        Whether each row is treated; adds a caution when few clusters hold treated rows, or
        few hold none.
    remedy
        A sentence on what to do instead, appended to the few-clusters caution.

    References
    ----------
    Cameron, A. C., & Miller, D. L. (2015). A practitioner's guide to cluster-robust
    inference. *Journal of Human Resources*, 50, 317–372, §VI.

    MacKinnon, J. G., & Webb, M. D. (2017). Wild bootstrap inference for wildly different
    cluster sizes. *Journal of Applied Econometrics*, 32, 233–254.

    Conley, T. G., & Taber, C. R. (2011). Inference with "difference in differences" with a
    small number of policy changes. *Review of Economics and Statistics*, 93, 113–125.
    """
    out = []
    G = int(codes.max()) + 1
    if G < FEW_CLUSTERS:
        out.append(Caution(
            f"Only {G} clusters ('{cluster}'): with fewer than {FEW_CLUSTERS} clusters, "
            "cluster-robust standard errors are too small, so the confidence interval is too "
            "narrow and the p-value too small: the estimate looks more precise than it is "
            "(Cameron & Miller 2015)." + (f" {remedy}" if remedy else ""), limits=True))
    if treated is not None:
        with_t = np.zeros(G, bool)
        with_t[codes[np.asarray(treated, bool)]] = True
        g1, g0 = int(with_t.sum()), int(G - with_t.sum())
        few = [(c, w) for c, w, limit in ((g1, "contains treated observations",
                                           FEW_TREATED_CLUSTERS),
                                          (g0, "contains no treated observations",
                                           FEW_UNTREATED_CLUSTERS)) if 0 < c < limit]
        count, what = min(few, key=lambda c: c[0]) if few else (0, "")
        if 0 < count and (count == 1 or G >= FEW_CLUSTERS):
            verb = what if count == 1 else what.replace("contains", "contain")
            text = (f"Only {count} of the {G} clusters ('{cluster}') {verb}: with so few, "
                    "cluster-robust standard errors understate the uncertainty even when there "
                    "are many clusters in all (MacKinnon & Webb 2017), so the interval may be "
                    "too narrow.")
            if count == 1:
                text += (" With a single one, neither cluster-robust standard errors nor the "
                         "wild cluster bootstrap give reliable inference; a design for a "
                         "single treated unit (such as a synthetic control) fits better "
                         "(Conley & Taber 2011).")
            out.append(Caution(text, limits=True))
    return out

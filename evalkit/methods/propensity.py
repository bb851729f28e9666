"""Propensity scores and balancing weights.

The module holds the logit model (as R's ``glm``), inverse probability weights for the ATT,
ATE and overlap (ATO) estimands (WeightIt's formulas), and entropy balancing (Hainmueller
2012). The public entry point is :func:`evalkit.weighting.propensity`; the shared
design-matrix and checking helpers live here too.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from scipy import special, stats

from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.methods.balance import balance_frame, covariate_matrix, design, max_abs_smd
from evalkit.methods.inference import join_names
from evalkit.privacy import DEFAULT_THRESHOLD
from evalkit.results import Caution, Result, check_option

__all__ = [
    "Weights",
    "ess",
    "fit_logit",
    "model_matrix",
    "overlap_cautions",
    "propensity",
    "treatment_vector",
]

Estimand = Literal["ATT", "ATE", "ATO"]

#: Iterations of Newton's method for the logit (R's ``glm`` stops at 25; a model that has not
#: converged by then is separated).
LOGIT_MAXIT = 50
#: A fitted probability this close to 0 or 1 counts as "numerically 0 or 1" (R's glm warns at
#: ``10 * .Machine$double.eps``; a looser bound also catches near-separation).
PS_EPS = 1e-8


def treatment_vector(data: pd.DataFrame, treatment: str, source: str | None = None
                     ) -> np.ndarray:
    """The 0/1 treatment column as a float array, or an :class:`EvalDataError` naming it."""
    if treatment not in data.columns:
        raise EvalDataError([DataProblem(treatment, "column not found",
                                         "a 0/1 treatment column")], source=source)
    t = data[treatment]
    bad = t.isna().to_numpy().copy()
    vals = pd.to_numeric(t, errors="coerce") if t.dtype != bool else t.astype(float)
    bad |= ~vals.isin([0, 1]).to_numpy()
    if bad.any():
        rows = tuple(int(i) + 1 for i in np.flatnonzero(bad)[:8])
        raise EvalDataError([DataProblem(treatment, "values are not 0 or 1", "1 for program "
                                         "youth and 0 for comparison youth", rows=rows,
                                         n_rows=int(bad.sum()))], source=source)
    out = vals.to_numpy(float)
    for g, name in ((1, "program (1)"), (0, "comparison (0)")):
        if not (out == g).any():
            raise EvalDataError([DataProblem(treatment, f"no {name} youth",
                                             "youth in both groups")], source=source)
    return out


def model_matrix(data: pd.DataFrame, covariates: Sequence[str], source: str | None = None,
                 *, intercept: bool = False) -> tuple[np.ndarray, list[str]]:
    """Covariates as a column-major float matrix, led by an ``(Intercept)`` column if asked.

    Categorical columns are expanded to ``column[level]`` indicators (every level but the
    first, as R's treatment contrasts).
    """
    if not intercept:
        return covariate_matrix(data, covariates, source)
    X, names, ref = model_design(data, covariates, source)
    if any(ref):
        keep = [j for j, r in enumerate(ref) if not r]
        X, names = X[:, keep], [names[j] for j in keep]
    return X, names


def model_design(data: pd.DataFrame, covariates: Sequence[str], source: str | None = None
                 ) -> tuple[np.ndarray, list[str], list[bool]]:
    """The intercept and every covariate column (all levels of categorical ones), column-major.

    Also returns the names and which columns are reference levels (see
    :func:`evalkit.methods.balance.design`).
    """
    return design(data, covariates, source, lead=[("(Intercept)", np.ones(len(data)))])


def fit_logit(y: np.ndarray, X: np.ndarray, *, weights: np.ndarray | None = None,
              maxit: int = LOGIT_MAXIT, tol: float = 1e-8
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Logistic regression by iteratively reweighted least squares, as R's ``glm.fit``.

    ``X`` includes the intercept column. Starts where ``glm`` starts (``mustart =
    (w y + 0.5) / (w + 1)``), takes the same Newton steps, and stops when the deviance
    changes by less than ``tol`` relative (``glm.control(epsilon = 1e-8)``), so it stops at
    the iterate ``glm`` stops at. The covariance is ``(X'WX)⁻¹`` with the working weights of
    the last iteration, as ``summary.glm``.

    Returns
    -------
    (coefficients, fitted probabilities, covariance ``(X'WX)⁻¹``, converged)
    """
    w = None if weights is None else np.asarray(weights, float)
    mu = (y + 0.5) / 2.0 if w is None else (w * y + 0.5) / (w + 1.0)
    eta = np.log(mu / (1.0 - mu))
    is1 = y == 1
    beta = np.zeros(X.shape[1])
    H = np.eye(X.shape[1])
    dev_old = math.inf
    converged = False
    for _ in range(maxit):
        v = mu * (1.0 - mu)
        z = eta + (y - mu) / np.maximum(v, 1e-300)
        if w is not None:
            v = v * w
        sv = np.sqrt(v)
        Xs = X * sv[:, None]
        H = Xs.T @ Xs  # a symmetric rank-k product
        rhs = Xs.T @ (z * sv)
        del Xs
        try:
            beta_new = np.linalg.solve(H, rhs)
        except np.linalg.LinAlgError:
            beta_new = np.linalg.lstsq(H, rhs, rcond=None)[0]
        eta = X @ beta_new
        mu = special.expit(eta)
        mu = np.clip(mu, 1e-300, 1.0 - 2.220446e-16)
        ll = np.log(np.where(is1, mu, 1.0 - mu))
        dev = -2.0 * float(ll.sum() if w is None else w @ ll)
        beta = beta_new
        if abs(dev - dev_old) / (abs(dev) + 0.1) < tol:
            converged = True
            break
        dev_old = dev
    try:
        cov = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        cov = np.full_like(H, np.nan)
    return beta, special.expit(eta), cov, converged


def ess(w: np.ndarray) -> float:
    """Kish's effective sample size ``(Σw)² / Σw²``."""
    s2 = float(np.dot(w, w))
    return float(w.sum() ** 2 / s2) if s2 > 0 else 0.0


def _ipw(ps: np.ndarray, t: np.ndarray, estimand: str) -> np.ndarray:
    if estimand == "ATT":
        return np.where(t == 1, 1.0, ps / (1.0 - ps))
    if estimand == "ATE":
        return np.where(t == 1, 1.0 / ps, 1.0 / (1.0 - ps))
    return np.where(t == 1, 1.0 - ps, ps)  # ATO: overlap weights (Li, Morgan & Zaslavsky 2018)


def entropy_weights(Z: np.ndarray, target: np.ndarray, names: Sequence[str], *,
                    base: np.ndarray | None = None, tol: float = 1e-12, maxit: int = 200,
                    source: str | None = None) -> np.ndarray:
    """Entropy-balancing weights: weights whose weighted means of ``Z`` equal ``target``.

    Of all such weights, these are the closest to ``base`` in Kullback–Leibler divergence
    (maximum entropy).

    Solved through the convex dual ``min_λ log Σ q_i exp((z_i − target)'λ)`` by Newton's
    method with a backtracking line search; the weights are ``q_i exp(z_i'λ)``, normalised to
    sum to the number of units. Columns are scaled to unit SD first (a reparametrisation of λ
    that leaves the solution unchanged).

    Raises
    ------
    EvalDataError
        When no such weights exist (a target mean outside the range the units span), naming
        the covariates left unbalanced.

    References
    ----------
    Hainmueller, J. (2012). Entropy balancing for causal effects. *Political Analysis*, 20,
    25–46.
    """
    n, k = Z.shape
    q = np.full(n, 1.0 / n) if base is None else np.asarray(base, float) / np.sum(base)
    logq = np.log(q)
    sd = Z.std(axis=0)
    sd[sd == 0] = 1.0
    C = (Z - target) / sd
    lam = np.zeros(k)

    def dual(lam: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        a = logq + C @ lam
        amax = a.max()
        e = np.exp(a - amax)
        s = e.sum()
        return float(amax + np.log(s)), e / s, a

    f, p, _ = dual(lam)
    for _ in range(maxit):
        g = C.T @ p
        if np.max(np.abs(g)) < tol:
            break
        H = (C.T * p) @ C - np.outer(g, g)
        try:
            step = -np.linalg.solve(H + 1e-14 * np.eye(k), g)
        except np.linalg.LinAlgError:
            step = -np.linalg.lstsq(H, g, rcond=None)[0]
        t = 1.0
        while True:
            f_new, p_new, _ = dual(lam + t * step)
            if f_new <= f + 1e-4 * t * float(g @ step) or t < 1e-12:
                break
            t *= 0.5
        lam, f, p = lam + t * step, f_new, p_new
    g = C.T @ p
    if not np.max(np.abs(g)) < 1e-8:
        worst = [names[i] for i in np.argsort(-np.abs(g))[:3] if abs(g[i]) >= 1e-8]
        raise EvalDataError([DataProblem(None, "entropy balancing found no weights that "
                                         f"balance {join_names(worst)}: the program group's "
                                         "mean lies outside the range the comparison group "
                                         "spans", "covariates whose program-group means the "
                                         "comparison group can reach")], source=source)
    return p * n



def logit_terms(coef: pd.Series, coef_se: pd.Series, label: str,
                alpha: float = 0.05) -> list[dict[str, Any]]:
    """Rows of a logit's coefficients for ``to_frame()``: Wald intervals and p-values.

    Parameters
    ----------
    coef, coef_se
        The coefficients and their standard errors, indexed by term.
    label
        What the logit models, prefixed to each term (``"logit: age"``).
    alpha
        1 − confidence level of the intervals.

    Returns
    -------
    list of dict
        One row per term; the p-value is NaN where the standard error is not positive.
    """
    z = float(stats.norm.ppf(1 - alpha / 2))
    rows = []
    for term, b in coef.items():
        se = float(coef_se[term])
        rows.append({"term": f"{label}: {term}", "estimate": float(b), "se": se,
                     "ci_low": b - z * se, "ci_high": b + z * se,
                     "p_value": float(2 * stats.norm.sf(abs(b / se))) if se > 0 else
                     float("nan")})
    return rows

@dataclasses.dataclass(frozen=True)
class Weights(Result):
    """Result of :func:`evalkit.weighting.propensity`.

    Attributes
    ----------
    weights
        The balancing weights, a Series aligned with the data's index.
    ps
        Propensity scores from the logit model (a Series aligned with the data's index).
    coef
        The logit's coefficients, indexed ``(Intercept)`` and the covariate terms
        (categorical covariates as ``column[level]``).
    coef_se
        Their model-based standard errors (as ``summary(glm(...))``).
    ess
        Effective sample size per group, ``{"treated": ..., "control": ...}``.
    balance
        The balance table (see :func:`evalkit.weighting.balance_table`).
    estimand, method, trim
        The options used.
    n_treated, n_control
        Units in each group.
    """

    _title: ClassVar[str] = "Propensity score weights"
    _options: ClassVar[tuple[str, ...]] = ("estimand", "method", "trim")

    weights: pd.Series
    ps: pd.Series
    coef: pd.Series
    coef_se: pd.Series
    ess: Mapping[str, float]
    balance: pd.DataFrame
    estimand: str
    method: str
    n_treated: int
    n_control: int
    trim: float | None = None
    alpha: float = 0.05

    def _terms(self) -> list[dict[str, Any]]:
        return logit_terms(self.coef, self.coef_se, "logit", self.alpha)

    def _details(self) -> list[str]:
        return [f"{self.n_treated} program and {self.n_control} comparison youth; effective "
                f"sample sizes {self.ess['treated']:.1f} and {self.ess['control']:.1f}; "
                f"largest |SMD| {max_abs_smd(self.balance, 'smd_raw'):.3f} before and "
                f"{max_abs_smd(self.balance, 'smd_adjusted'):.3f} after weighting."]


def overlap_cautions(ps: np.ndarray, t: np.ndarray, estimand: str,
                     source: str | None = None) -> list[Caution]:
    """Refuse propensity scores without overlap; caution on units outside common support."""
    p1, p0 = ps[t == 1], ps[t == 0]
    # ranges that meet share youth of equal score (a covariate balanced by design gives every
    # youth the same score): that is overlap
    if p1.min() > p0.max() or p0.min() > p1.max():
        raise EvalDataError([DataProblem(None, "the propensity scores of the two groups do not "
                                         f"overlap (program {p1.min():.3f} to {p1.max():.3f}, "
                                         f"comparison {p0.min():.3f} to {p0.max():.3f}): no "
                                         "comparison youth resemble the program youth on these "
                                         "covariates", "groups that overlap on the covariates")],
                             source=source)
    out = []
    above = int((p1 > p0.max()).sum())
    if above:
        out.append(Caution(f"{above} program youth have a propensity score above every "
                           "comparison youth's: no comparison youth resemble them, so their "
                           "effect rests on extrapolation.", limits=True))
    if estimand != "ATT":
        below = int((p0 < p1.min()).sum())
        if below:
            out.append(Caution(f"{below} comparison youth have a propensity score below every "
                               "program youth's: no program youth resemble them.",
                               limits=estimand == "ATE"))
    return out


def _check_constant(X: np.ndarray, names: list[str], t: np.ndarray,
                    source: str | None) -> list[Caution]:
    const_all = [n for j, n in enumerate(names) if X[:, j].min() == X[:, j].max()]
    if const_all:
        raise EvalDataError([DataProblem(n, "the covariate has the same value for every youth",
                                         "a covariate that varies") for n in const_all],
                            source=source)
    out = []
    for g, who in ((1, "program"), (0, "comparison")):
        idx = np.flatnonzero(t == g)
        bad = [n for j, n in enumerate(names) if np.ptp(X[:, j].take(idx)) == 0]
        if bad:
            out.append(Caution(f"{join_names(bad)} {'is' if len(bad) == 1 else 'are'} the same "
                               f"for every {who} youth: the groups cannot be compared on "
                               f"{'it' if len(bad) == 1 else 'them'} and the propensity model "
                               "may separate the groups.", limits=True))
    return out


def separation_check(beta: np.ndarray, ps: np.ndarray, converged: bool, X: np.ndarray,
                     names: list[str], source: str | None,
                     y: np.ndarray | None = None) -> list[Caution]:
    """Refuse a logit that did not converge or that separates the two outcomes ``y`` perfectly.

    Perfect separation: the fitted probabilities split the two outcomes ``y`` completely.
    Fitted probabilities numerically 0 or 1 give a caution instead. Messages name the
    covariates with the largest standardized coefficients.
    """
    extreme = int(((ps < PS_EPS) | (ps > 1 - PS_EPS)).sum())
    if converged and not extreme:
        return []
    scaled = np.abs(beta[1:]) * X[:, 1:].std(axis=0)
    order = [names[i] for i in np.argsort(-scaled)[:3]]
    split = (y is not None and extreme > 0
             and ps[y == 1].min() >= ps[y == 0].max())
    if not converged or split:
        raise EvalDataError([DataProblem(None, "the propensity model did not converge: the "
                                         "covariates separate program and comparison youth "
                                         f"perfectly ({extreme} youth have a propensity score "
                                         f"of 0 or 1; look at {join_names(order)})",
                                         "covariates that do not decide group membership")],
                            source=source)
    if extreme:
        return [Caution(f"{extreme} youth have a propensity score of 0 or 1 (perfect "
                        f"separation, driven by {join_names(order)}): their group is decided "
                        "by the covariates and no comparison is possible for them.",
                        limits=True)]
    return []


def ess_cautions(ess_: Mapping[str, float], threshold: int) -> list[Caution]:
    """Caution when a group's effective sample size is below the privacy threshold."""
    out = []
    for g, who in (("treated", "program"), ("control", "comparison")):
        if ess_[g] < threshold:
            out.append(Caution(f"After weighting, the {who} group counts as only "
                               f"{ess_[g]:.1f} youth (effective sample size), below the "
                               f"privacy threshold of {threshold}: a few youth carry the "
                               "comparison.", limits=True))
    return out


def propensity(
    data: pd.DataFrame,
    treatment: str,
    covariates: Sequence[str],
    *,
    estimand: Estimand = "ATT",
    method: Literal["logit", "entropy"] = "logit",
    trim: float | None = None,
    threshold: int = DEFAULT_THRESHOLD,
) -> Weights:
    """Propensity scores and balancing weights for a comparison-group design.

    Parameters
    ----------
    data
        One row per youth, no missing values in ``treatment`` or ``covariates`` (see
        :mod:`evalkit.missing`).
    treatment
        0/1 column: 1 for program youth.
    covariates
        Baseline covariates. Numeric columns enter as they are; text, categorical and boolean
        columns are expanded to indicators named ``column[level]`` (the first level is the
        reference in the logit).
    estimand
        ``"ATT"`` (program youth: treated weight 1, comparison ``ps / (1 − ps)``), ``"ATE"``
        (``1/ps`` and ``1/(1 − ps)``) or ``"ATO"`` (overlap weights ``1 − ps`` and ``ps``).
    method
        ``"logit"`` (inverse probability weights from the logistic regression) or
        ``"entropy"`` (entropy balancing on the covariate means: for the ATT the comparison
        group is weighted to the program group's means; for the ATE both groups to the whole
        sample's means). The logit's scores are reported either way.
    trim
        With a number between 0.5 and 1, weights above that quantile (among the comparison
        weights for the ATT, all weights otherwise) are set to it, as WeightIt's ``trim()``
        does at a quantile (the quantile here is R's type 7, numpy's default; not checked
        against WeightIt, which is not installed here).
    threshold
        Privacy threshold: an effective sample size below it draws a caution.

    Returns
    -------
    Weights

    Raises
    ------
    EvalDataError
        A covariate that does not vary, a treatment column that is not 0/1, missing values,
        perfect separation, propensity scores of the groups that do not overlap, entropy
        balancing without a solution.

    Notes
    -----
    The logit, its scores and the weights equal R ``glm(treat ~ ..., family = binomial)``
    and WeightIt's ``weightit(method = "glm")``; the balance table follows cobalt's defaults.
    Cautions name covariates that are constant within a group, units with scores of 0 or 1,
    units outside common support and effective sample sizes below ``threshold``.

    References
    ----------
    Rosenbaum, P. R., & Rubin, D. B. (1983). The central role of the propensity score in
    observational studies for causal effects. *Biometrika*, 70, 41–55.

    Li, F., Morgan, K. L., & Zaslavsky, A. M. (2018). Balancing covariates via propensity
    score weighting. *JASA*, 113, 390–400.

    Hainmueller, J. (2012). Entropy balancing for causal effects. *Political Analysis*, 20,
    25–46.
    """
    estimand = check_option("estimand", estimand, ("ATT", "ATE", "ATO"))
    method = check_option("method", method, ("logit", "entropy"))
    if method == "entropy" and estimand == "ATO":
        from evalkit.exceptions import EvalOptionError
        raise EvalOptionError("estimand (with method='entropy')", estimand, ("ATT", "ATE"))
    if trim is not None and not 0.5 < float(trim) < 1.0:
        raise ValueError(f"trim must lie between 0.5 and 1 (a quantile), not {trim!r}")
    source = "data frame"
    t = treatment_vector(data, treatment, source)
    Xi, names, is_ref = model_design(data, covariates, source)
    full = (Xi[:, 1:], names[1:])
    if any(is_ref):
        keep = [j for j, r in enumerate(is_ref) if not r]
        Xi, names = Xi[:, keep], [names[j] for j in keep]
    names = names[1:]
    X = Xi[:, 1:]
    cautions: list[Caution] = _check_constant(X, names, t, source)
    beta, ps, cov, converged = fit_logit(t, Xi)
    cautions += separation_check(beta, ps, converged, Xi, names, source, t)
    cautions += overlap_cautions(ps, t, estimand, source)
    if method == "logit":
        w = _ipw(ps, t, estimand)
    else:
        w = np.ones(len(t))
        if estimand == "ATT":
            m1 = X[t == 1].mean(axis=0)
            w[t == 0] = entropy_weights(X[t == 0], m1, names, source=source)
        else:
            m = X.mean(axis=0)
            for g in (1, 0):
                w[t == g] = entropy_weights(X[t == g], m, names, source=source)
    if trim is not None:
        pool = (t == 0) if estimand == "ATT" else np.ones(len(t), bool)
        cap = float(np.quantile(w[pool], float(trim)))
        w = np.where(pool & (w > cap), cap, w)
    index = data.index
    ess_ = {"treated": ess(w[t == 1]), "control": ess(w[t == 0])}
    cautions += ess_cautions(ess_, threshold)
    bal = balance_frame(data, t, covariates, w, estimand, source, full=full)
    terms = ["(Intercept)", *names]
    return Weights(
        weights=pd.Series(w, index=index, name="weights"),
        ps=pd.Series(ps, index=index, name="ps"),
        coef=pd.Series(beta, index=terms, name="coef"),
        coef_se=pd.Series(np.sqrt(np.diag(cov)), index=terms, name="se"),
        ess=ess_, balance=bal, estimand=estimand, method=method,
        n_treated=int((t == 1).sum()), n_control=int((t == 0).sum()),
        trim=None if trim is None else float(trim), cautions=tuple(cautions))

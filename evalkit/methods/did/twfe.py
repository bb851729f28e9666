"""Two-way fixed-effects regression and exact / iterative two-way demeaning."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Sequence

import numpy as np
import pandas as pd
from scipy import special

from evalkit.data import Column, source_of, validate
from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.methods.did.bootstrap import wild_cluster_bootstrap
from evalkit.results import Result, check_alpha

VCOV_TYPES = ("iid", "hetero", "CRV1")


def demean(values: np.ndarray, codes: Sequence[np.ndarray], *, weights: np.ndarray | None = None,
           tol: float = 1e-13, max_iter: int = 10_000) -> np.ndarray:
    """Sweep out several sets of fixed effects by alternating projections.

    All columns of ``values`` are demeaned within the groups of each factor in ``codes`` in
    turn (one sparse matrix product per factor), until the largest group mean removed falls
    below ``tol``; one pass is exact for a single factor or a balanced two-way panel.

    References
    ----------
    Gaure, S. (2013). OLS with multiple high dimensional category variables. *Computational
    Statistics & Data Analysis*, 66, 8–18.
    """
    from scipy import sparse

    x = np.array(values, dtype=float, copy=True)
    if x.ndim == 1:
        x = x[:, None]
    n = x.shape[0]
    w = np.ones(n) if weights is None else np.asarray(weights, float)
    if len(codes) == 2:
        small, big = sorted(codes, key=lambda c: int(c.max()))
        if int(small.max()) + 1 <= 2000:
            return _two_way_exact(x, big, small, w)
    mats = []
    for c in codes:
        levels = int(c.max()) + 1
        ind = sparse.csr_matrix((w, (c, np.arange(n))), shape=(levels, n))
        size = np.asarray(ind.sum(axis=1)).ravel()
        mats.append((c, ind, size))
    for _ in range(max_iter):
        biggest = 0.0
        for c, ind, size in mats:
            means = (ind @ x) / size[:, None]
            x -= means[c]
            biggest = max(biggest, float(np.abs(means).max()))
        if biggest < tol or len(codes) == 1:
            break
    return x


def _two_way_exact(x: np.ndarray, big: np.ndarray, small: np.ndarray,
                   w: np.ndarray) -> np.ndarray:
    """Two-way demeaning solved exactly when one factor has few levels (e.g. periods).

    Concentrating out the many-level factor leaves a small linear system for the few-level
    effects: ``C γ = r`` with ``C = diag(W_t) − S' diag(1/W_u) S``, ``S`` the weight of each
    (unit, period) cell. One pass, no iteration, for balanced and unbalanced panels alike.
    """
    from scipy import sparse

    n = x.shape[0]
    nb, ns = int(big.max()) + 1, int(small.max()) + 1
    Db = sparse.csr_matrix((w, (big, np.arange(n))), shape=(nb, n))  # weighted unit sums
    Ds = sparse.csr_matrix((w, (small, np.arange(n))), shape=(ns, n))  # weighted period sums
    Wb = np.asarray(Db.sum(axis=1)).ravel()
    Ws = np.asarray(Ds.sum(axis=1)).ravel()
    S = (Db @ sparse.csr_matrix((np.ones(n), (np.arange(n), small)), shape=(n, ns))).toarray() \
        if nb * ns <= 5e7 else None
    if S is None:  # too many cells for a dense S: fall back to sparse products
        S = Db @ sparse.csr_matrix((np.ones(n), (np.arange(n), small)), shape=(n, ns))
        C = np.diag(Ws) - (S.T @ sparse.diags(1 / Wb) @ S).toarray()
    else:
        C = np.diag(Ws) - (S.T / Wb) @ S
    zb = Db @ x  # nb × k weighted unit sums
    r = Ds @ x - S.T @ (zb / Wb[:, None])
    gamma = np.linalg.lstsq(C, r, rcond=None)[0]  # C is singular by one (a constant)
    x -= gamma[small]
    x -= ((Db @ x) / Wb[:, None])[big]
    return x


@dataclass(frozen=True)
class TWFE(Result):
    """Result of :func:`twfe`.

    Attributes
    ----------
    terms, coef, se
        Regressors, coefficients and standard errors.
    df
        Degrees of freedom of the t distribution used for p-values and CIs.
    n_obs, n_units, r2_within
        Observations, panel units and the within R².
    vcov
        ``"iid"``, ``"hetero"`` or ``"CRV1"``; ``n_clusters`` with CRV1.
    """

    _title: ClassVar[str] = "Two-way fixed effects"
    _options: ClassVar[tuple[str, ...]] = ("vcov", "alpha")

    terms: tuple[str, ...]
    coef: np.ndarray = field(repr=False)
    se: np.ndarray = field(repr=False)
    df: float
    n_obs: int
    n_units: int
    r2_within: float
    vcov: str = "CRV1"
    n_clusters: int | None = None
    alpha: float = 0.05
    cov: np.ndarray = field(default=None, repr=False, compare=False)  # type: ignore[assignment]
    wild: dict[str, float] | None = None

    @property
    def estimate(self) -> float:
        """The first regressor's coefficient (the treatment effect)."""
        return float(self.coef[0])

    def to_frame(self) -> pd.DataFrame:
        """One row per regressor: ``term, estimate, se, t, p_value, ci_low, ci_high``."""
        t = self.coef / self.se
        q = float(special.stdtrit(self.df, 1 - self.alpha / 2))
        return pd.DataFrame({
            "term": list(self.terms), "estimate": self.coef, "se": self.se, "t": t,
            "p_value": 2 * special.stdtr(self.df, -np.abs(t)),
            "ci_low": self.coef - q * self.se, "ci_high": self.coef + q * self.se,
        })

    def _terms(self) -> list[dict[str, Any]]:
        return self.to_frame().to_dict("records")

    def _details(self) -> list[str]:
        cl = f", {self.n_clusters} clusters" if self.n_clusters else ""
        return [f"{self.n_obs} observations, {self.n_units} units{cl}; within R² = "
                f"{self.r2_within:.4f}; {self.vcov} standard errors, {self.df:g} df."]


def twfe(
    data: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    treatment: str | Sequence[str],
    *,
    covariates: Sequence[str] = (),
    vcov: str = "CRV1",
    cluster: str | None = None,
    weights: str | None = None,
    alpha: float = 0.05,
    wild_bootstrap: int | None = None,
    bootstrap_weights: str = "rademacher",
    seed: int | None = None,
) -> TWFE:
    """Two-way fixed-effects regression: outcome on treatment with unit and time effects.

    Parameters
    ----------
    data
        A panel: one row per unit and period (unbalanced panels are fine).
    outcome, unit, time
        Column names.
    treatment
        The treatment regressor, or a list of regressors (e.g. a treatment and its lag).
    covariates
        Further time-varying regressors.
    vcov
        ``"iid"`` (conventional), ``"hetero"`` (HC1) or ``"CRV1"`` (clustered by ``cluster``,
        default the unit, with the small-sample factor of Stata's ``xtreg, fe vce(cluster)``:
        ``G/(G−1) · (N−1)/(N−K)`` with ``K`` the regressors, the constant and the fixed
        effects not nested in the clusters, and ``G − 1`` df).
    cluster
        Cluster column for CRV1 (default ``unit``).
    weights
        Regression-weight column.
    alpha
        1 − confidence level.
    wild_bootstrap, bootstrap_weights, seed
        Draws of the restricted wild cluster bootstrap for the first regressor (recommended
        when clusters are few), its weights (``"rademacher"`` or ``"webb"``) and seed; the
        result's ``wild`` holds the p-value and CI (see :func:`wild_cluster_bootstrap`).

    Notes
    -----
    With ``vcov="iid"`` the degrees of freedom are ``N − K − (units + periods − 1)``, as in
    Wooldridge's Example 14.1 and R's ``plm``/``fixest`` with ``vcov = "iid"``.

    References
    ----------
    Wooldridge, J. M. (2020). *Introductory Econometrics*, 7th ed., ch. 14.

    Cameron, A. C., & Miller, D. L. (2015). A practitioner's guide to cluster-robust
    inference. *Journal of Human Resources*, 50, 317–372.
    """
    alpha = check_alpha(alpha)
    if vcov not in VCOV_TYPES:
        raise ValueError(f"vcov must be one of {VCOV_TYPES}, not {vcov!r}")
    regs = [treatment] if isinstance(treatment, str) else list(treatment)
    regs += list(covariates)
    if len(set(regs)) != len(regs):
        raise ValueError("a regressor is listed twice")
    cols = [Column(outcome, allow_missing=False), Column(unit, kind="string", allow_missing=False),
            Column(time, allow_missing=False)]
    cols += [Column(r, allow_missing=False) for r in regs]
    cl = cluster or unit
    if cl not in (unit, time):
        cols.append(Column(cl, kind="string", allow_missing=False))
    if weights is not None:
        cols.append(Column(weights, min=0, allow_missing=False))
    clean = validate(data, cols)
    source = source_of(data)
    dup = clean.duplicated([unit, time], keep=False).to_numpy()
    if dup.any():
        raise EvalDataError([DataProblem(unit, f"{int(dup.sum())} rows repeat a unit and period",
                                         "one row per unit and period",
                                         tuple(np.flatnonzero(dup)[:20] + 1), int(dup.sum()))],
                            source=source)
    uc = pd.factorize(clean[unit])[0]
    tc = pd.factorize(clean[time])[0]
    n = len(clean)
    w = clean[weights].to_numpy(float) if weights is not None else None
    y = clean[outcome].to_numpy(float)
    X = clean[regs].to_numpy(float)
    Z = demean(np.column_stack([y, X]), [uc, tc], weights=w)
    yd, Xd = Z[:, 0], Z[:, 1:]
    sw = np.sqrt(w) if w is not None else np.ones(n)
    Xw, yw = Xd * sw[:, None], yd * sw
    k = X.shape[1]
    if np.linalg.matrix_rank(Xw) < k:
        raise EvalDataError([DataProblem(None, "the regressors " + ", ".join(regs) + " are "
                                         "collinear with the unit and period effects",
                                         "regressors that vary within units and periods")],
                            source=source)
    XtX_inv = np.linalg.inv(Xw.T @ Xw)
    beta = XtX_inv @ (Xw.T @ yw)
    resid = yw - Xw @ beta
    n_units, n_times = uc.max() + 1, tc.max() + 1
    # within R² as xtreg, fe reports it: period effects count as explained variation
    y_within = demean(y, [uc], weights=w)[:, 0] * sw
    sst = float(y_within @ y_within)
    r2 = 1 - float(resid @ resid) / sst if sst > 0 else float("nan")
    n_clusters = None
    if vcov == "iid":
        df = n - k - (n_units + n_times - 1)
        V = XtX_inv * (resid @ resid) / df
    elif vcov == "hetero":
        df = n - k - (n_units + n_times - 1)
        meat = (Xw * resid[:, None] ** 2).T @ Xw
        V = XtX_inv @ meat @ XtX_inv * n / df
    else:
        gc = pd.factorize(clean[cl])[0]
        G = int(gc.max() + 1)
        if G < 2:
            raise EvalDataError([DataProblem(cl, "has one cluster", "at least 2 clusters")],
                                source=source)
        scores = np.zeros((G, k))
        np.add.at(scores, gc, Xw * resid[:, None])
        meat = scores.T @ scores
        # K counts the regressors, the constant and every fixed effect not nested in the
        # clusters (Stata's xtreg, fe vce(cluster)): unit effects drop out when units sit
        # inside clusters, period effects count T − 1.
        K = k + 1
        for codes, levels in ((uc, n_units), (tc, n_times)):
            nested = pd.Series(gc).groupby(codes).nunique().max() == 1
            if not nested:
                K += levels - 1
        V = XtX_inv @ meat @ XtX_inv * (G / (G - 1)) * ((n - 1) / (n - K))
        df = G - 1
        n_clusters = G
    wild = None
    if wild_bootstrap is not None:
        wild = wild_cluster_bootstrap(Xw, yw, clean[cl].to_numpy(), 0, draws=wild_bootstrap,
                                      weights=bootstrap_weights, seed=seed, alpha=alpha)
    return TWFE(terms=tuple(regs), coef=beta, se=np.sqrt(np.diag(V)), df=float(df), n_obs=n,
                n_units=int(n_units), r2_within=float(r2), vcov=vcov, n_clusters=n_clusters,
                alpha=alpha, cov=V, wild=wild)

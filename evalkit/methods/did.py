"""Difference-in-differences: two-way fixed effects and staggered adoption.

State laws and policies (e.g. safe-harbor laws) start in different years in different states.
This module estimates their effects with two-way fixed-effects regression and, where adoption
is staggered, with Callaway & Sant'Anna's group-time average treatment effects, which stay
unbiased when effects differ between adoption cohorts and grow over time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Sequence

import numpy as np
import pandas as pd
from scipy import special

from evalkit.data import Column, source_of, validate
from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.results import Result, check_alpha

__all__ = ["twfe", "TWFE", "demean", "staggered", "Staggered", "Aggregate", "event_study",
           "multiplier_bootstrap", "wild_cluster_bootstrap",
           "EventStudy", "two_by_two", "TwoByTwo", "bacon_decomposition", "Bacon"]

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


# -- wild cluster bootstrap -------------------------------------------------------------------

_WEBB = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])


def wild_cluster_bootstrap(
    X: np.ndarray, y: np.ndarray, clusters: np.ndarray, j: int, *, draws: int,
    weights: str = "rademacher", seed: int | None = None, alpha: float = 0.05,
) -> dict[str, float]:
    """Restricted wild cluster bootstrap (WCR) p-value and CI for coefficient ``j``.

    Under the null ``β_j = r`` the restricted model's fitted values and residuals are formed;
    each draw flips the residuals of whole clusters with Rademacher (±1) or Webb six-point
    weights, refits, and recomputes the cluster-robust t statistic. The p-value is the share
    of draws with a larger absolute t than the data's; the CI collects every ``r`` not
    rejected at ``alpha``, found by bisection with the same draws. All work after one pass
    over the rows is done on per-cluster sums, so a draw costs O(G·k), not O(N).

    References
    ----------
    Cameron, A. C., Gelbach, J. B., & Miller, D. L. (2008). Bootstrap-based improvements for
    inference with clustered errors. *Review of Economics and Statistics*, 90, 414–427.

    Roodman, D., MacKinnon, J. G., Nielsen, M. Ø., & Webb, M. D. (2019). Fast and wild:
    bootstrap inference in Stata using boottest. *Stata Journal*, 19, 4–60.

    Webb, M. D. (2023). Reworking wild bootstrap-based inference for clustered errors.
    *Canadian Journal of Economics*, 56, 839–858.
    """
    if weights not in ("rademacher", "webb"):
        raise ValueError(f"weights must be 'rademacher' or 'webb', not {weights!r}")
    if not isinstance(draws, (int, np.integer)) or draws < 99:
        raise ValueError("the wild bootstrap needs a whole number of at least 99 draws")
    codes = pd.factorize(clusters)[0]
    G, k = int(codes.max()) + 1, X.shape[1]
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
    rng = np.random.default_rng(seed)
    support = np.array([-1.0, 1.0]) if weights == "rademacher" else _WEBB
    V = rng.choice(support, size=(G, draws))

    def t_stats(r: float) -> tuple[float, np.ndarray]:
        # restricted fit: regress y − r·x_j on the other columns (all from cluster sums)
        rhs = Xy.sum(axis=0)[others] - r * XtX[others, j]
        br = np.zeros(k)
        br[others] = Wr @ rhs
        br[j] = r
        A = H @ br  # X_g' ŷr_g
        B = Xy - A  # X_g' ũ_g
        # the data's own t statistic for β_j = r
        beta = W @ Xy.sum(axis=0)
        s_obs = q @ (Xy - H @ beta).T  # q' X_g' û_g
        t_obs = (beta[j] - r) / np.sqrt(s_obs @ s_obs)
        # every draw at once: X'y* = Σ A_g + B' v
        beta_b = (W @ (A.sum(axis=0)[:, None] + B.T @ V))  # k × draws
        s_b = (A @ q)[:, None] + (B @ q)[:, None] * V - Hq @ beta_b  # G × draws
        t_b = (beta_b[j] - r) / np.sqrt((s_b**2).sum(axis=0))
        return float(t_obs), t_b

    def p_value(r: float) -> float:
        t_obs, t_b = t_stats(r)
        return float(np.mean(np.abs(t_b) >= abs(t_obs)))

    beta = W @ Xy.sum(axis=0)
    s_obs = q @ (Xy - H @ beta).T
    se = float(np.sqrt(s_obs @ s_obs))

    def bound(direction: float) -> float:
        inside, step = beta[j], se
        outside = beta[j] + direction * step
        while p_value(outside) > alpha and step < 1e6 * max(se, 1e-12):
            inside, step = outside, step * 2
            outside = beta[j] + direction * step
        for _ in range(40):
            mid = (inside + outside) / 2
            if p_value(mid) > alpha:
                inside = mid
            else:
                outside = mid
        return float((inside + outside) / 2)

    return {"p_value": p_value(0.0), "ci_low": bound(-1.0), "ci_high": bound(1.0),
            "draws": int(draws), "weights": weights, "clusters": G}


# -- staggered adoption: Callaway & Sant'Anna (2021) ---------------------------------------------

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


@dataclass(frozen=True)
class Aggregate(Result):
    """An aggregation of group-time effects (:meth:`Staggered.aggregate`).

    Attributes
    ----------
    kind
        ``"simple"``, ``"group"``, ``"dynamic"`` or ``"calendar"``.
    estimate, se, ci_low, ci_high
        The overall average effect.
    table
        The per-group, per-event-time or per-period effects (``key, att, se, ci_low,
        ci_high``); empty for ``"simple"``.
    """

    _title: ClassVar[str] = "Aggregated treatment effect"
    _options: ClassVar[tuple[str, ...]] = ("kind", "alpha")

    kind: str
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    table: pd.DataFrame
    alpha: float = 0.05
    pretest: dict[str, float] | None = None
    crit_value: float | None = None

    def _terms(self) -> list[dict[str, Any]]:
        rows = [{"term": f"overall ({self.kind})", "estimate": self.estimate, "se": self.se,
                 "ci_low": self.ci_low, "ci_high": self.ci_high}]
        rows += [{"term": f"{self.kind} {r['key']}", "estimate": r["att"], "se": r["se"],
                  "ci_low": r["ci_low"], "ci_high": r["ci_high"]}
                 for _, r in self.table.iterrows()]
        return rows


@dataclass(frozen=True)
class Staggered(Result):
    """Result of :func:`staggered`.

    Attributes
    ----------
    att_gt
        ``group, time, att, se, ci_low, ci_high`` for every cohort and period.
    pretest
        Wald test that every pre-treatment ATT(g, t) is zero: ``statistic, df, p_value``.
    n_units
        Units in the panel.
    """

    _title: ClassVar[str] = "Group-time average treatment effects (Callaway & Sant'Anna)"
    _options: ClassVar[tuple[str, ...]] = ("control_group", "base_period", "anticipation",
                                           "est_method", "alpha")

    att_gt: pd.DataFrame
    pretest: dict[str, float]
    n_units: int
    control_group: str = "nevertreated"
    base_period: str = "varying"
    anticipation: int = 0
    est_method: str = "dr"
    alpha: float = 0.05
    bootstrap: int | None = None
    seed: int | None = None
    crit_value: float | None = None
    _inf: np.ndarray = field(default=None, repr=False, compare=False)  # type: ignore[assignment]
    _cohort: np.ndarray = field(default=None, repr=False, compare=False)  # type: ignore[assignment]

    def _terms(self) -> list[dict[str, Any]]:
        return [{"term": f"ATT({int(r['group'])}, {int(r['time'])})", "estimate": r["att"],
                 "se": r["se"], "ci_low": r["ci_low"], "ci_high": r["ci_high"]}
                for _, r in self.att_gt.iterrows()]

    def _details(self) -> list[str]:
        p = self.pretest
        return [f"{self.n_units} units. Pre-trend test: chi-squared {p['statistic']:.3f} on "
                f"{p['df']:g} df, p = {p['p_value']:.3g}."]

    def _se(self, inf: np.ndarray) -> float:
        n = self._inf.shape[0]
        return float(np.sqrt(np.mean(inf**2) / n))

    def _boot_se(self, inf: np.ndarray) -> tuple[np.ndarray, float]:
        return multiplier_bootstrap(inf, int(self.bootstrap), seed=self.seed, alpha=self.alpha)

    def aggregate(self, kind: str = "simple", *, balance_e: int | None = None,
                  min_e: float = -math.inf, max_e: float = math.inf) -> Aggregate:
        """Average the ATT(g, t) into one effect, as R ``did::aggte``.

        ``"simple"`` weights every post-treatment ATT(g, t) by its cohort's size;
        ``"group"`` averages each cohort's post-treatment effects, then across cohorts;
        ``"dynamic"`` averages by time since adoption (an event study; ``balance_e`` keeps
        only cohorts observed for that many periods after adoption; ``min_e`` and ``max_e``
        bound the event times; its ``pretest`` is the joint Wald test that every
        pre-adoption event-time effect is zero); ``"calendar"`` by period. Standard errors
        include the estimation of the cohort-size weights.
        """
        if kind not in ("simple", "group", "dynamic", "calendar"):
            raise ValueError(f"kind must be simple, group, dynamic or calendar, not {kind!r}")
        g = self.att_gt["group"].to_numpy(float)
        t = self.att_gt["time"].to_numpy(float)
        att = self.att_gt["att"].to_numpy(float)
        inf = self._inf
        cohort = self._cohort
        n = inf.shape[0]
        groups = np.unique(g)
        pg_group = np.array([np.mean(cohort == gg) for gg in groups])
        pg = pg_group[np.searchsorted(groups, g)]
        e = t - g
        z = float(special.ndtri(1 - self.alpha / 2))

        def combine(keep: np.ndarray, weights_by_pg: bool = True):
            idx = np.flatnonzero(keep)
            if weights_by_pg:
                wsum = pg[idx].sum()
                wts = pg[idx] / wsum
                if1 = np.column_stack([((cohort == g[k]).astype(float) - pg[k]) / wsum
                                       for k in idx])
                if2 = np.outer(np.column_stack([(cohort == g[k]).astype(float) - pg[k]
                                                for k in idx]).sum(axis=1), pg[idx] / wsum**2)
                wif = if1 - if2
                this = inf[:, idx] @ wts + wif @ att[idx]
            else:
                wts = np.full(idx.size, 1 / idx.size)
                this = inf[:, idx] @ wts
            return float(att[idx] @ wts), this

        rows = []
        if kind == "simple":
            est, this = combine((g <= t) & (e <= max_e))
            se = self._boot_se(this[:, None])[0][0] if self.bootstrap else self._se(this)
            return Aggregate("simple", est, se, est - z * se, est + z * se, pd.DataFrame(),
                             alpha=self.alpha)
        pieces = []
        if kind == "group":
            for gg in groups:
                est, this = combine((g == gg) & (g <= t) & (e <= max_e), weights_by_pg=False)
                pieces.append((gg, est, this))
            wts = pg_group / pg_group.sum()
            ests = np.array([p[1] for p in pieces])
            infs = np.column_stack([p[2] for p in pieces])
            if1 = np.column_stack([((cohort == gg).astype(float) - pgv) / pg_group.sum()
                                   for gg, pgv in zip(groups, pg_group)])
            if2 = np.outer(np.column_stack([(cohort == gg).astype(float) - pgv
                                            for gg, pgv in zip(groups, pg_group)]).sum(axis=1),
                           pg_group / pg_group.sum() ** 2)
            overall_inf = infs @ wts + (if1 - if2) @ ests
            overall = float(ests @ wts)
        elif kind == "dynamic":
            keep_all = (e >= min_e) & (e <= max_e)
            if balance_e is not None:
                ok_groups = [gg for gg in groups if t.max() - gg >= balance_e]
                keep_all &= np.isin(g, ok_groups) & (e <= balance_e)
            for ee in np.unique(e[keep_all]):
                est, this = combine(keep_all & (e == ee))
                pieces.append((ee, est, this))
            post = [p for p in pieces if p[0] >= 0]
            overall = float(np.mean([p[1] for p in post]))
            overall_inf = np.column_stack([p[2] for p in post]).mean(axis=1)
        else:  # calendar
            for tt in np.unique(t[(g <= t)]):
                est, this = combine((t == tt) & (g <= t) & (e <= max_e))
                pieces.append((tt, est, this))
            overall = float(np.mean([p[1] for p in pieces]))
            overall_inf = np.column_stack([p[2] for p in pieces]).mean(axis=1)
        crit = None
        if self.bootstrap:
            ses, crit = self._boot_se(np.column_stack([p[2] for p in pieces]))
        else:
            ses = [self._se(p[2]) for p in pieces]
        for (key, est, this), se in zip(pieces, ses):
            row = {"key": key, "att": est, "se": se, "ci_low": est - z * se,
                   "ci_high": est + z * se}
            if crit is not None:
                row.update(band_low=est - crit * se, band_high=est + crit * se)
            rows.append(row)
        se = (self._boot_se(overall_inf[:, None])[0][0] if self.bootstrap
              else self._se(overall_inf))
        pretest = None
        if kind == "dynamic":
            pre = [p for p in pieces if p[0] < -self.anticipation]
            if pre:
                b = np.array([p[1] for p in pre])
                F = np.column_stack([p[2] for p in pre])
                V = F.T @ F / n / n
                stat = float(b @ np.linalg.pinv(V) @ b)
                dfree = int(np.linalg.matrix_rank(V))
                pretest = {"statistic": stat, "df": float(dfree),
                           "p_value": float(special.chdtrc(dfree, stat))}
        return Aggregate(kind, overall, se, overall - z * se, overall + z * se,
                         pd.DataFrame(rows), alpha=self.alpha, pretest=pretest,
                         crit_value=crit)


def _logit(X: np.ndarray, d: np.ndarray, source: str) -> np.ndarray:
    """Logistic-regression propensity scores by Newton–Raphson (as R's glm)."""
    beta = np.zeros(X.shape[1])
    for _ in range(50):
        p = special.expit(X @ beta)
        W = p * (1 - p)
        step = np.linalg.solve((X * W[:, None]).T @ X, X.T @ (d - p))
        beta += step
        if np.max(np.abs(step)) < 1e-12:
            break
    else:
        raise EvalDataError("the propensity score model did not converge: the covariates may "
                            "separate treated and comparison units", source=source)
    return np.minimum(special.expit(X @ beta), 1 - 1e-6)


def _did_2x2(dy: np.ndarray, d: np.ndarray, X: np.ndarray, method: str, source: str
             ) -> tuple[float, np.ndarray]:
    """ATT of one 2×2 comparison with covariates and its influence function (per unit of the
    comparison), as DRDID's ``drdid_panel``, ``reg_did_panel`` and ``std_ipw_did_panel``."""
    n = dy.size
    ctrl = 1 - d
    beta = np.linalg.lstsq(X[ctrl == 1], dy[ctrl == 1], rcond=None)[0]
    fitted = X @ beta
    # OLS on the comparison units: asymptotic linear representation
    XpX_inv = np.linalg.inv((X * ctrl[:, None]).T @ X / n)
    lin_ols = (ctrl * (dy - fitted))[:, None] * X @ XpX_inv
    if method == "reg":
        eta_t = np.mean(d * dy) / d.mean()
        eta_c = np.mean(d * fitted) / d.mean()
        inf_t = (d * dy - d * eta_t) / d.mean()
        inf_c = ((d * fitted - d * eta_c) + lin_ols @ (d[:, None] * X).mean(axis=0)) / d.mean()
        return float(eta_t - eta_c), inf_t - inf_c
    ps = _logit(X, d, source)
    W = ps * (1 - ps)
    lin_ps = ((d - ps)[:, None] * X) @ np.linalg.inv((X * W[:, None]).T @ X / n)
    w_t = d
    w_c = ps * ctrl / (1 - ps)
    if method == "ipw":
        eta_t = np.mean(w_t * dy) / w_t.mean()
        eta_c = np.mean(w_c * dy) / w_c.mean()
        inf_t = (w_t * dy - w_t * eta_t) / w_t.mean()
        m2 = (w_c * (dy - eta_c))[:, None] * X
        inf_c = ((w_c * dy - w_c * eta_c) + lin_ps @ m2.mean(axis=0)) / w_c.mean()
        return float(eta_t - eta_c), inf_t - inf_c
    r = dy - fitted
    eta_t = np.mean(w_t * r) / w_t.mean()
    eta_c = np.mean(w_c * r) / w_c.mean()
    inf_t = ((w_t * r - w_t * eta_t) - lin_ols @ (w_t[:, None] * X).mean(axis=0)) / w_t.mean()
    m2 = ((w_c * (r - eta_c))[:, None] * X).mean(axis=0)
    m3 = (w_c[:, None] * X).mean(axis=0)
    inf_c = ((w_c * r - w_c * eta_c) + lin_ps @ m2 - lin_ols @ m3) / w_c.mean()
    return float(eta_t - eta_c), inf_t - inf_c


def staggered(
    data: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    first_treated: str,
    *,
    control_group: str = "nevertreated",
    anticipation: int = 0,
    base_period: str = "varying",
    covariates: Sequence[str] = (),
    est_method: str = "dr",
    never_treated: float = 0,
    cluster: str | None = None,
    alpha: float = 0.05,
    bootstrap: int | None = None,
    seed: int | None = None,
) -> Staggered:
    """Callaway & Sant'Anna (2021) group-time average treatment effects, without covariates.

    Parameters
    ----------
    data
        A balanced panel, one row per unit and period.
    outcome, unit, time
        Column names.
    first_treated
        The period each unit is first treated; ``never_treated`` (default 0) for units never
        treated. Must be constant within a unit.
    control_group
        ``"nevertreated"`` or ``"notyettreated"`` (never treated plus units not yet treated
        by the period and the base period, allowing for anticipation).
    anticipation
        Periods before adoption in which units may already react.
    base_period
        ``"varying"`` (pre-treatment effects compare adjacent periods, as R's default) or
        ``"universal"`` (always the period before adoption).
    covariates
        Unit characteristics the comparison conditions on, taken from the base period of
        each comparison (as R's ``did``); an intercept is always included.
    est_method
        ``"dr"`` (doubly robust: outcome regression and inverse propensity weighting,
        Sant'Anna & Zhao 2020), ``"reg"`` (outcome regression) or ``"ipw"`` (normalized
        inverse propensity weighting, propensity by logistic regression). Without covariates
        all three reduce to the same difference in mean changes.
    cluster
        Column to cluster the bootstrap on (constant within unit; needs ``bootstrap``).
    alpha
        1 − confidence level.
    bootstrap, seed
        Number of multiplier-bootstrap draws and the random seed. With ``bootstrap``, the
        standard errors come from the bootstrap and ``att_gt`` gains simultaneous bands
        (``band_low``, ``band_high``) that cover every ATT(g, t) at once, as R's
        ``att_gt(bstrap = TRUE, cband = TRUE)``; draws differ from R's, so bootstrap numbers
        agree with R's in distribution, not digit for digit.

    Notes
    -----
    ATT(g, t) and analytic standard errors equal R's ``did::att_gt(..., xformla = ~1,
    bstrap = FALSE, cband = FALSE)``; aggregations equal ``did::aggte``.

    References
    ----------
    Callaway, B., & Sant'Anna, P. H. C. (2021). Difference-in-differences with multiple time
    periods. *Journal of Econometrics*, 225, 200–230.
    """
    alpha = check_alpha(alpha)
    if control_group not in ("nevertreated", "notyettreated"):
        raise ValueError("control_group must be 'nevertreated' or 'notyettreated'")
    if base_period not in ("varying", "universal"):
        raise ValueError("base_period must be 'varying' or 'universal'")
    if est_method not in ("dr", "reg", "ipw"):
        raise ValueError("est_method must be 'dr', 'reg' or 'ipw'")
    covariates = list(covariates)
    needed = [c for c in dict.fromkeys([outcome, unit, time, first_treated, cluster,
                                        *covariates]) if c]
    subset = data[[c for c in needed if c in data.columns]]  # validate copies what it checks
    subset.attrs = dict(data.attrs)
    clean = validate(subset, [Column(outcome, allow_missing=False),
                              Column(unit, kind="string", allow_missing=False),
                              Column(time, kind="integer", allow_missing=False),
                              Column(first_treated, kind="integer", allow_missing=False),
                              *[Column(c, allow_missing=False) for c in covariates]])
    source = source_of(data)
    uc, unit_values = pd.factorize(clean[unit])
    tc, period_values = pd.factorize(clean[time], sort=True)
    n, n_t = len(unit_values), len(period_values)
    ft = clean[first_treated].to_numpy(float)
    cohort = np.empty(n)
    cohort[uc] = ft  # the last row of each unit wins; any disagreement is caught next
    varies = cohort[uc] != ft
    if varies.any():
        bad = pd.unique(unit_values[uc[varies]])
        raise EvalDataError([DataProblem(first_treated, f"changes within {len(bad)} unit(s) "
                                         f"(e.g. {', '.join(map(str, bad[:5]))})",
                                         "one adoption period per unit")], source=source)
    counts = np.bincount(uc * n_t + tc, minlength=n * n_t)
    if len(clean) != n * n_t or (counts != 1).any():
        raise EvalDataError([DataProblem(unit, "the panel is unbalanced or repeats a unit and "
                                         "period", "every unit observed once in every period")],
                            source=source)
    Y = np.empty((n, n_t))
    Y[uc, tc] = clean[outcome].to_numpy(float)
    Xcov = np.empty((len(covariates), n, n_t))
    for k, c in enumerate(covariates):
        Xcov[k][uc, tc] = clean[c].to_numpy(float)
    periods = np.asarray(period_values, dtype=float)
    never = cohort == never_treated
    cohorts = np.unique(cohort[~never & (cohort > periods.min())])
    if control_group == "nevertreated" and not never.any():
        raise EvalDataError([DataProblem(first_treated, "no never-treated units",
                                         "never-treated units, or control_group="
                                         "'notyettreated'")], source=source)
    rows, infs = [], []
    z = float(special.ndtri(1 - alpha / 2))
    for g in cohorts:
        for ti, t in enumerate(periods):
            if ti == 0:
                continue
            pre = t < g - anticipation
            if base_period == "universal" or not pre:
                base = g - 1 - anticipation
            else:
                base = periods[ti - 1]
            if base not in periods or base == t:
                continue
            bi = int(np.searchsorted(periods, base))
            treated = cohort == g
            if control_group == "nevertreated":
                control = never
            else:
                control = never | ((cohort > max(t, base) + anticipation) & (cohort != g))
            if not control.any():
                raise EvalDataError([DataProblem(first_treated, f"cohort {g:g} has no "
                                                 f"comparison units in period {t:g}",
                                                 "comparison units for every cohort")],
                                    source=source)
            sub = treated | control
            dy = Y[:, ti] - Y[:, bi]
            d = treated[sub].astype(float)
            y = dy[sub]
            if covariates:
                Xs = np.column_stack([np.ones(int(sub.sum())), *[Xcov[k][sub, bi] for k in
                                                                  range(len(covariates))]])
                att, inf_sub = _did_2x2(y, d, Xs, est_method, source)
            else:
                p1 = d.mean()
                m1, m0 = y[d == 1].mean(), y[d == 0].mean()
                att = m1 - m0
                inf_sub = d * (y - m1) / p1 - (1 - d) * (y - m0) / (1 - p1)
            inf = np.zeros(n)
            inf[sub] = inf_sub * n / sub.sum()
            infs.append(inf)
            se = float(np.sqrt(np.mean(inf**2) / n))
            rows.append({"group": g, "time": t, "att": att, "se": se, "ci_low": att - z * se,
                         "ci_high": att + z * se})
    table = pd.DataFrame(rows)
    inf_mat = np.column_stack(infs)
    crit = None
    if cluster is not None and bootstrap is None:
        raise ValueError("cluster needs bootstrap (analytic SEs are per unit)")
    if bootstrap is not None:
        clusters = None
        if cluster is not None:
            cl = clean.groupby(unit)[cluster].first().reindex(unit_values)
            clusters = cl.to_numpy()
        se_b, crit = multiplier_bootstrap(inf_mat, bootstrap, seed=seed, alpha=alpha,
                                          clusters=clusters)
        table["se"] = se_b
        table["ci_low"] = table["att"] - z * se_b
        table["ci_high"] = table["att"] + z * se_b
        table["band_low"] = table["att"] - crit * se_b
        table["band_high"] = table["att"] + crit * se_b
    pre_idx = np.flatnonzero((table["time"] < table["group"] - anticipation).to_numpy())
    pretest = {"statistic": float("nan"), "df": 0.0, "p_value": float("nan")}
    if pre_idx.size:
        V = inf_mat[:, pre_idx].T @ inf_mat[:, pre_idx] / n / n
        a = table["att"].to_numpy()[pre_idx]
        stat = float(a @ np.linalg.pinv(V) @ a)
        dfree = int(np.linalg.matrix_rank(V))
        pretest = {"statistic": stat, "df": float(dfree),
                   "p_value": float(special.chdtrc(dfree, stat))}
    return Staggered(att_gt=table, pretest=pretest, n_units=n, control_group=control_group,
                     base_period=base_period, anticipation=anticipation, est_method=est_method,
                     alpha=alpha, bootstrap=bootstrap, seed=seed, crit_value=crit,
                     _inf=inf_mat, _cohort=cohort)


# -- event study -------------------------------------------------------------------------------

@dataclass(frozen=True)
class EventStudy(Result):
    """Result of :func:`event_study`.

    Attributes
    ----------
    table
        ``rel_time, estimate, se, ci_low, ci_high, n_units`` (the reference period has
        estimate 0 and no SE); ``n_units`` counts treated units observed at that relative time.
    pretest
        Wald test that every pre-period coefficient is zero: ``statistic, df, p_value``.
    """

    _title: ClassVar[str] = "Event study (two-way fixed effects)"
    _options: ClassVar[tuple[str, ...]] = ("window", "reference", "alpha")

    table: pd.DataFrame
    pretest: dict[str, float]
    window: tuple[int, int] = (-5, 5)
    reference: int = -1
    alpha: float = 0.05

    def _terms(self) -> list[dict[str, Any]]:
        return [{"term": f"rel {int(r['rel_time'])}", "estimate": r["estimate"], "se": r["se"],
                 "ci_low": r["ci_low"], "ci_high": r["ci_high"]}
                for _, r in self.table.iterrows()]


def event_study(
    data: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    first_treated: str,
    *,
    window: tuple[int, int] = (-5, 5),
    reference: int = -1,
    never_treated: float = 0,
    cluster: str | None = None,
    alpha: float = 0.05,
) -> EventStudy:
    """Dynamic two-way fixed-effects regression on event-time indicators.

    Each treated unit's periods are counted from adoption (``time − first_treated``);
    relative times outside ``window`` are pooled into its end points, and ``reference`` is
    left out. Never-treated units have no indicators. Standard errors are CRV1 by ``cluster``
    (default the unit).

    References
    ----------
    Sun, L., & Abraham, S. (2021). Estimating dynamic treatment effects in event studies with
    heterogeneous treatment effects. *Journal of Econometrics*, 225, 175–199 (on the
    limits of this regression under heterogeneous effects; compare :func:`staggered`).
    """
    lo, hi = window
    if not lo <= reference <= hi or lo >= hi:
        raise ValueError("window must be (low, high) with low < high and contain reference")
    clean = validate(data, [Column(time, kind="integer", allow_missing=False),
                            Column(first_treated, kind="integer", allow_missing=False)])
    ft = clean[first_treated].to_numpy(float)
    treated = ft != never_treated
    rel = np.clip(clean[time].to_numpy(float) - ft, lo, hi)
    work = data.copy()
    names, counts, rels = [], [], []
    units = data[unit].to_numpy()
    for k in range(lo, hi + 1):
        if k == reference:
            continue
        col = f"_rel_{k}"
        ind = (treated & (rel == k)).astype(float)
        if ind.sum() == 0:
            continue
        work[col] = ind
        names.append(col)
        rels.append(k)
        counts.append(int(pd.unique(units[ind > 0]).size))
    fit = twfe(work, outcome, unit, time, names, vcov="CRV1", cluster=cluster, alpha=alpha)
    z_rows = fit.to_frame()
    table = pd.DataFrame({"rel_time": rels, "estimate": fit.coef, "se": fit.se,
                          "ci_low": z_rows["ci_low"], "ci_high": z_rows["ci_high"],
                          "n_units": counts})
    ref_row = pd.DataFrame([{"rel_time": reference, "estimate": 0.0, "se": float("nan"),
                             "ci_low": float("nan"), "ci_high": float("nan"),
                             "n_units": int(pd.unique(units[treated & (rel == reference)]).size)}])
    table = pd.concat([table, ref_row]).sort_values("rel_time").reset_index(drop=True)
    pre = [i for i, k in enumerate(rels) if k < 0]
    pretest = {"statistic": float("nan"), "df": 0.0, "p_value": float("nan")}
    if pre:
        b = fit.coef[pre]
        V = fit.cov[np.ix_(pre, pre)]
        stat = float(b @ np.linalg.solve(V, b))
        pretest = {"statistic": stat, "df": float(len(pre)),
                   "p_value": float(special.chdtrc(len(pre), stat))}
    return EventStudy(table=table, pretest=pretest, window=(lo, hi), reference=reference,
                      alpha=fit.alpha)


# -- the 2×2 -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class TwoByTwo(Result):
    """Result of :func:`two_by_two`.

    Attributes
    ----------
    estimate, se, ci_low, ci_high, p_value, n
        The difference-in-differences (coefficient of treated × post).
    means
        The 2×2 table of mean outcomes: rows treated (0/1), columns post (0/1).
    vcov
        ``"HC2"`` or ``"CR1"`` (clustered).
    """

    _title: ClassVar[str] = "Difference-in-differences (2×2)"
    _options: ClassVar[tuple[str, ...]] = ("vcov", "alpha")

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    means: pd.DataFrame
    vcov: str = "HC2"
    alpha: float = 0.05
    wild: dict[str, float] | None = None

    def _terms(self) -> list[dict[str, Any]]:
        return [{"term": "treated × post", "estimate": self.estimate, "se": self.se,
                 "ci_low": self.ci_low, "ci_high": self.ci_high, "p_value": self.p_value}]


def two_by_two(
    data: pd.DataFrame,
    outcome: str,
    treated: str,
    post: str,
    *,
    covariates: Sequence[str] = (),
    cluster: str | None = None,
    alpha: float = 0.05,
    wild_bootstrap: int | None = None,
    bootstrap_weights: str = "rademacher",
    seed: int | None = None,
) -> TwoByTwo:
    """The canonical difference-in-differences: ``outcome ~ treated + post + treated:post``.

    HC2 standard errors, or CR1 (Stata's small-sample factor, ``G − 1`` df) with ``cluster``.
    Without covariates the estimate equals the difference of the two groups' mean changes.
    With ``cluster`` and ``wild_bootstrap`` draws, ``wild`` adds the restricted wild cluster
    bootstrap p-value and CI (:func:`wild_cluster_bootstrap`).
    """
    from evalkit.methods.groups import robust_ols

    alpha = check_alpha(alpha)
    cols = [Column(outcome, allow_missing=False), Column(treated, kind="binary",
                                                         allow_missing=False),
            Column(post, kind="binary", allow_missing=False)]
    cols += [Column(c, allow_missing=False) for c in covariates]
    if cluster is not None:
        cols.append(Column(cluster, kind="string", allow_missing=False))
    clean = validate(data, cols)
    d, p = clean[treated].to_numpy(float), clean[post].to_numpy(float)
    cells = pd.crosstab(d, p)
    if cells.shape != (2, 2) or (cells.to_numpy() == 0).any():
        raise EvalDataError([DataProblem(None, "a treated × post cell is empty",
                                         "observations in all four cells")],
                            source=source_of(data))
    X = np.column_stack([np.ones(len(clean)), d, p, d * p]
                        + [clean[c].to_numpy(float) for c in covariates])
    groups = None if cluster is None else pd.factorize(clean[cluster])[0]
    terms, _ = robust_ols(clean[outcome].to_numpy(float), X,
                    ["(intercept)", treated, post, "treated × post", *covariates], groups, alpha)
    row = terms.iloc[3]
    means = clean.groupby([treated, post])[outcome].mean().unstack()
    wild = None
    if wild_bootstrap is not None:
        if cluster is None:
            raise ValueError("the wild cluster bootstrap needs cluster")
        wild = wild_cluster_bootstrap(X, clean[outcome].to_numpy(float), groups, 3,
                                      draws=wild_bootstrap, weights=bootstrap_weights,
                                      seed=seed, alpha=alpha)
    return TwoByTwo(estimate=float(row["estimate"]), se=float(row["se"]),
                    ci_low=float(row["ci_low"]), ci_high=float(row["ci_high"]),
                    p_value=float(row["p_value"]), n=len(clean), means=means,
                    vcov="HC2" if cluster is None else "CR1", alpha=alpha, wild=wild)


# -- Goodman-Bacon decomposition ---------------------------------------------------------------

@dataclass(frozen=True)
class Bacon(Result):
    """Result of :func:`bacon_decomposition`.

    Attributes
    ----------
    table
        One row per 2×2 comparison: ``treated, control, type, estimate, weight``.
    twfe
        The two-way fixed-effects coefficient (the weighted sum of the estimates).
    """

    _title: ClassVar[str] = "Goodman-Bacon decomposition of the TWFE estimate"

    table: pd.DataFrame
    twfe: float

    def by_type(self) -> pd.DataFrame:
        """Total weight and weighted average estimate of each comparison type."""
        t = self.table
        out = t.groupby("type").apply(
            lambda g: pd.Series({"weight": g["weight"].sum(),
                                 "estimate": (g["weight"] * g["estimate"]).sum()
                                 / g["weight"].sum()}), include_groups=False)
        return out.reset_index()

    def _terms(self) -> list[dict[str, Any]]:
        nan = float("nan")
        rows = [{"term": r["type"], "estimate": r["estimate"], "se": nan, "ci_low": nan,
                 "ci_high": nan, "weight": r["weight"]} for _, r in self.by_type().iterrows()]
        rows.append({"term": "TWFE", "estimate": self.twfe, "se": nan, "ci_low": nan,
                     "ci_high": nan, "weight": 1.0})
        return rows


def bacon_decomposition(data: pd.DataFrame, outcome: str, unit: str, time: str,
                        treatment: str) -> Bacon:
    """Decompose the TWFE estimate into every 2×2 comparison and its weight.

    Requires a balanced panel and a 0/1 treatment that never switches off. Comparisons are
    "treated vs never treated", "earlier vs later treated" (the later group not yet treated)
    and "later vs earlier treated" (the earlier, already-treated group as the control — the
    comparison that biases TWFE when effects grow over time).

    References
    ----------
    Goodman-Bacon, A. (2021). Difference-in-differences with variation in treatment timing.
    *Journal of Econometrics*, 225, 254–277, Theorem 1.
    """
    clean = validate(data, [Column(outcome, allow_missing=False),
                            Column(unit, kind="string", allow_missing=False),
                            Column(time, allow_missing=False),
                            Column(treatment, kind="binary", allow_missing=False)])
    source = source_of(data)
    wide_y = clean.pivot_table(index=unit, columns=time, values=outcome, aggfunc="first")
    wide_d = clean.pivot_table(index=unit, columns=time, values=treatment, aggfunc="first")
    if wide_y.isna().any().any() or clean.duplicated([unit, time]).any():
        raise EvalDataError([DataProblem(unit, "the panel is unbalanced or repeats a unit and "
                                         "period", "every unit observed once in every period")],
                            source=source)
    D = wide_d.to_numpy(float)
    switched_off = (np.diff(D, axis=1) < 0).any(axis=1)
    if switched_off.any():
        bad = wide_d.index[switched_off][:5].tolist()
        raise EvalDataError([DataProblem(treatment, f"switches off in {int(switched_off.sum())}"
                                         f" unit(s) (e.g. {', '.join(map(str, bad))})",
                                         "a treatment that stays on once it starts")],
                            source=source)
    Y = wide_y.to_numpy(float)
    T = D.shape[1]
    first = np.where(D.any(axis=1), D.argmax(axis=1), T)  # index of the first treated period
    timings = np.unique(first)
    share = {k: np.mean(first == k) for k in timings}
    dbar = {k: (T - k) / T for k in timings}
    ybar = {k: Y[first == k].mean(axis=0) for k in timings}

    def dd(a: int, b: int, pre: slice, post: slice) -> float:
        return float((ybar[a][post].mean() - ybar[a][pre].mean())
                     - (ybar[b][post].mean() - ybar[b][pre].mean()))

    rows = []
    never = T in timings
    treated_timings = [k for k in timings if k < T]
    if never:
        for k in treated_timings:
            if k == 0:
                continue  # always treated: no pre-period against the never treated
            nku = share[k] / (share[k] + share[T])
            w = (share[k] + share[T]) ** 2 * nku * (1 - nku) * dbar[k] * (1 - dbar[k])
            rows.append({"treated": k, "control": "never", "type": "treated vs never treated",
                         "estimate": dd(k, T, slice(0, k), slice(k, T)), "raw": w})
    for i, k in enumerate(treated_timings):
        for l in treated_timings[i + 1:]:
            nkl = share[k] / (share[k] + share[l])
            if k > 0:  # k treated, l not yet treated: periods before l
                w = (((share[k] + share[l]) * (1 - dbar[l])) ** 2 * nkl * (1 - nkl)
                     * ((dbar[k] - dbar[l]) / (1 - dbar[l])) * ((1 - dbar[k]) / (1 - dbar[l])))
                rows.append({"treated": k, "control": l, "type": "earlier vs later treated",
                             "estimate": dd(k, l, slice(0, k), slice(k, l)), "raw": w})
            # l treated, k already treated: periods from k on
            w = (((share[k] + share[l]) * dbar[k]) ** 2 * nkl * (1 - nkl)
                 * (dbar[l] / dbar[k]) * ((dbar[k] - dbar[l]) / dbar[k]))
            rows.append({"treated": l, "control": k, "type": "later vs earlier treated",
                         "estimate": dd(l, k, slice(k, l), slice(l, T)), "raw": w})
    table = pd.DataFrame(rows)
    if table.empty:
        raise EvalDataError("no 2×2 comparison can be formed: treatment timing does not vary",
                            source=source)
    table["weight"] = table["raw"] / table["raw"].sum()
    periods = wide_y.columns.to_numpy()
    to_time = lambda k: periods[k] if k < T else "never"  # noqa: E731
    table["treated"] = table["treated"].map(to_time)
    table["control"] = table["control"].map(lambda c: c if c == "never" else to_time(c))
    fit = twfe(clean, outcome, unit, time, treatment, vcov="iid")
    return Bacon(table=table.drop(columns="raw"), twfe=float(fit.coef[0]))

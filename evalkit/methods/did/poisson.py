"""Poisson pseudo-maximum likelihood with unit and period fixed effects (counts and rates).

The fit follows R ``fixest::fepois``: iteratively reweighted least squares in which every
weighted least-squares step sweeps out the unit and period effects, step halving when the
deviance rises, fixest's convergence rule and its default small-sample correction
``ssc(adj = TRUE, fixef.K = "nested", cluster.adj = TRUE)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal, get_args

import numpy as np
import pandas as pd
from scipy import special

from evalkit.data import Column, source_of, validate
from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.methods.did.demeaning import demean
from evalkit.methods.did.twfe import row_labels
from evalkit.methods.inference import cluster_cautions
from evalkit.results import Caution, Result, check_alpha, check_option, merge_cautions

__all__ = ["PoissonTWFE", "PoissonVcov", "POISSON_VCOV_TYPES", "poisson_twfe",
           "weighted_two_way_demean"]

#: Variance estimators of :func:`poisson_twfe` (fixest's names).
PoissonVcov = Literal["CRV1", "iid", "hetero"]
POISSON_VCOV_TYPES: tuple[str, ...] = get_args(PoissonVcov)

#: Largest number of unit × period cells for which the weighted two-way sweep is solved
#: exactly with a dense cell-weight table; larger panels use alternating projections.
_DENSE_CELLS = 20_000_000


@dataclass(frozen=True)
class PoissonTWFE(Result):
    """Result of :func:`poisson_twfe`.

    Attributes
    ----------
    term
        The treatment column.
    estimate, se, ci_low, ci_high, p_value
        The treatment coefficient (a log rate ratio), its standard error, normal-based
        confidence interval and p-value (z, as ``fixest``'s coefficient table for ``fepois``).
    rate_ratio, rate_ratio_ci_low, rate_ratio_ci_high
        ``exp`` of the coefficient and of its interval limits.
    n
        Observations used in the fit (after dropping all-zero units and periods).
    n_dropped, n_units_dropped, n_periods_dropped
        Observations, units and periods dropped because their outcome is zero throughout.
    n_units, n_periods
        Units and periods kept.
    n_clusters
        Clusters (with ``vcov="CRV1"``).
    iterations, converged, deviance
        IRLS iterations, whether the deviance criterion was met, and the final deviance.
    vcov, offset, glm_tol, glm_iter, alpha
        The options used.
    """

    _title: ClassVar[str] = "Poisson regression with unit and period fixed effects"
    _options: ClassVar[tuple[str, ...]] = ("vcov", "offset", "alpha")

    term: str
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    rate_ratio: float
    rate_ratio_ci_low: float
    rate_ratio_ci_high: float
    n: int
    n_dropped: int
    n_units_dropped: int
    n_periods_dropped: int
    n_units: int
    n_periods: int
    n_clusters: int | None
    iterations: int
    converged: bool
    deviance: float
    vcov: PoissonVcov = "CRV1"
    offset: str | None = None
    glm_tol: float = 1e-8
    glm_iter: int = 25
    alpha: float = 0.05

    @property
    def coefficient(self) -> float:
        """The treatment coefficient (log rate ratio); the same as :attr:`estimate`."""
        return self.estimate

    @property
    def ci(self) -> tuple[float, float]:
        """The confidence interval of the coefficient, ``(ci_low, ci_high)``."""
        return (self.ci_low, self.ci_high)

    @property
    def rate_ratio_ci(self) -> tuple[float, float]:
        """The confidence interval of the rate ratio."""
        return (self.rate_ratio_ci_low, self.rate_ratio_ci_high)

    def _terms(self) -> list[dict[str, Any]]:
        return [{"term": self.term, "estimate": self.estimate, "se": self.se,
                 "ci_low": self.ci_low, "ci_high": self.ci_high, "p_value": self.p_value,
                 "rate_ratio": self.rate_ratio, "rate_ratio_ci_low": self.rate_ratio_ci_low,
                 "rate_ratio_ci_high": self.rate_ratio_ci_high}]

    def _details(self) -> list[str]:
        cl = f", {self.n_clusters} clusters" if self.n_clusters else ""
        drop = (f"; {self.n_dropped} observations dropped ({self.n_units_dropped} units and "
                f"{self.n_periods_dropped} periods with only zero outcomes)"
                if self.n_dropped else "")
        return [f"{self.n} observations, {self.n_units} units, {self.n_periods} periods{cl}"
                f"{drop}; {self.vcov} standard errors; deviance {self.deviance:.6g} after "
                f"{self.iterations} iterations."]


def weighted_two_way_demean(values: np.ndarray, uc: np.ndarray, tc: np.ndarray,
                            w: np.ndarray) -> np.ndarray:
    """Residuals of ``values`` after weighted least squares on unit and period effects.

    Solved exactly: the unit effects are concentrated out, leaving the small system
    ``(diag(W_t) − S' diag(1/W_u) S) γ = r`` for the period effects (``S`` the weight of each
    unit × period cell), solved by least squares because it is singular by the constant.
    Panels with more than :data:`_DENSE_CELLS` cells fall back to
    :func:`~evalkit.methods.did.demeaning.demean` (alternating projections).

    Parameters
    ----------
    values
        ``n × k`` array (or a vector) of columns to sweep.
    uc, tc
        Unit and period codes ``0..U−1`` and ``0..T−1``.
    w
        Positive weights.

    Returns
    -------
    numpy.ndarray
        The swept ``n × k`` array.

    References
    ----------
    Gaure, S. (2013). OLS with multiple high dimensional category variables. *Computational
    Statistics & Data Analysis*, 66, 8–18.
    """
    return _TwoWay(uc, tc).sweep(values, w)


class _TwoWay:
    """Unit and period codes, with what the weighted sweep reuses from call to call."""

    def __init__(self, uc: np.ndarray, tc: np.ndarray) -> None:
        self.uc, self.tc = uc, tc
        self.nu, self.nt = int(uc.max()) + 1, int(tc.max()) + 1
        self.dense = self.nu * self.nt <= _DENSE_CELLS
        self.cell = uc * self.nt + tc if self.dense else None

    def sweep(self, values: np.ndarray, w: np.ndarray) -> np.ndarray:
        x = np.asarray(values, float)
        if x.ndim == 1:
            x = x[:, None]
        uc, tc, nu, nt = self.uc, self.tc, self.nu, self.nt
        if self.cell is None:
            return demean(x, [uc, tc], weights=w, tol=1e-12)
        Wu = np.bincount(uc, w, minlength=nu)
        Wt = np.bincount(tc, w, minlength=nt)
        S = np.bincount(self.cell, w, minlength=nu * nt).reshape(nu, nt)
        Sw = S / np.sqrt(Wu)[:, None]
        C = np.diag(Wt) - _gram(Sw)
        out = np.empty_like(x)
        for j in range(x.shape[1]):
            wx = w * x[:, j]
            zu = np.bincount(uc, wx, minlength=nu)
            r = np.bincount(tc, wx, minlength=nt) - np.einsum("ut,u->t", S, zu / Wu)
            gamma = np.linalg.lstsq(C, r, rcond=None)[0]
            xj = x[:, j] - gamma[tc]
            xj -= (np.bincount(uc, w * xj, minlength=nu) / Wu)[uc]
            out[:, j] = xj
        return out


def _gram(A: np.ndarray, block: int = 128) -> np.ndarray:
    """``A'A`` for a tall ``A``, summed over blocks of rows.

    Small products stay on one thread: a multithreaded BLAS product of a tall matrix can be
    a hundred times slower when the cores are shared with other work.
    """
    out = np.zeros((A.shape[1], A.shape[1]))
    for i in range(0, A.shape[0], block):
        blk = A[i:i + block]
        out += blk.T @ blk
    return out


def _nested(codes: np.ndarray, gc: np.ndarray) -> bool:
    """Whether every level of ``codes`` lies inside a single cluster of ``gc``."""
    levels = int(codes.max()) + 1
    first = np.empty(levels, np.intp)
    first[codes[::-1]] = np.arange(codes.size - 1, -1, -1)  # first row of each level
    return bool((gc == gc[first][codes]).all())


class _Deviance:
    """Poisson deviance ``2 Σ [y log(y/μ) − (y − μ)]`` (``y log y = 0`` at ``y = 0``).

    The terms in ``y`` alone are summed once; each evaluation is then one dot product and one
    sum over the linear predictor ``η = log μ``.
    """

    def __init__(self, y: np.ndarray) -> None:
        pos = y > 0
        self.y = y
        self.const = float(np.sum(y[pos] * np.log(y[pos]))) - float(y.sum())

    def __call__(self, eta: np.ndarray, mu: np.ndarray) -> float:
        return 2 * (self.const - float(np.dot(self.y, eta)) + float(mu.sum()))


def _label(v: Any) -> str:
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _shown(items: Any, limit: int = 8) -> str:
    items = [_label(i) for i in items]
    return ", ".join(items[:limit]) + (", ..." if len(items) > limit else "")


def poisson_twfe(
    data: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    treatment: str,
    *,
    offset: str | None = None,
    vcov: PoissonVcov = "CRV1",
    cluster: str | None = None,
    alpha: float = 0.05,
    glm_tol: float = 1e-8,
    glm_iter: int = 25,
) -> PoissonTWFE:
    """Poisson pseudo-maximum likelihood with unit and period fixed effects.

    The model is ``E[y | d] = exp(α_unit + γ_period + β·d + offset)``; ``exp(β)`` is the rate
    ratio of the treatment. It is the same fit as R
    ``fixest::fepois(y ~ d | unit + time, offset = ~log_pop, cluster = ~unit)`` and pyfixest's
    ``fepois``, and its point estimate is that of ``glm(y ~ d + factor(unit) + factor(time),
    family = poisson, offset = log_pop)``. Only the mean needs to be right (pseudo-maximum
    likelihood): counts need not be Poisson-distributed, and rates are allowed.

    Parameters
    ----------
    data
        A panel: one row per unit and period (unbalanced panels are fine).
    outcome
        Count (or non-negative rate) column.
    unit, time
        Unit and period columns.
    treatment
        The treatment regressor (usually 0/1).
    offset
        Column holding the log exposure, e.g. the log population when the outcome counts
        arrests: the coefficient then compares rates per head. It must be finite (a zero
        population, whose log is −∞, is an error). ``None``: no offset.
    vcov
        ``"CRV1"`` (clustered by ``cluster``, default the unit), ``"iid"`` or ``"hetero"``
        (fixest's names). The small-sample factor is fixest's default:
        ``(n − 1)/(n − K)`` with ``K`` the coefficient plus the unit and period effects
        (``U + T − 1``), less the effects nested in the clusters (with clustering by unit
        ``K = 1 + T``); times ``G/(G − 1)`` with CRV1 and ``n/(n − 1)`` with ``"hetero"``.
    cluster
        Cluster column for CRV1 (default ``unit``).
    alpha
        1 − confidence level; intervals and p-values use the normal distribution.
    glm_tol, glm_iter
        fixest's ``glm.tol`` and ``glm.iter``: IRLS stops when the deviance changes by less
        than ``glm_tol · (0.1 + deviance)``, or after ``glm_iter`` iterations (then a caution
        says it did not converge).

    Returns
    -------
    PoissonTWFE
        Coefficient, rate ratio, their intervals, counts of what was dropped, and cautions.

    Raises
    ------
    EvalDataError
        For missing or non-numeric values, negative outcomes (naming the rows and units), a
        non-finite offset, a unit observed twice in a period, an outcome that is zero
        everywhere, a treatment that does not vary within units and periods, and a
        cluster-robust variance asked of a single cluster.

    Notes
    -----
    Units and periods whose outcome is zero in every row carry no information on the
    treatment (their fixed effect goes to −∞); as fixest does (``fixef.rm = "perfect"``),
    they are dropped, in one round, and a caution says how many. Non-integer outcomes (rates)
    are accepted, with a caution, as ``fepois`` accepts them. The unit and period effects of
    each IRLS step are swept out exactly (not by iterating to a tolerance), so the estimates
    are those of the ``glm`` with dummies up to the IRLS tolerance.

    References
    ----------
    Santos Silva, J. M. C., & Tenreyro, S. (2006). The log of gravity. *Review of Economics
    and Statistics*, 88, 641–658.

    Wooldridge, J. M. (1999). Distribution-free estimation of some nonlinear panel data
    models. *Journal of Econometrics*, 90, 77–97.

    Bergé, L. (2018). Efficient estimation of maximum likelihood models with multiple
    fixed-effects: the R package FENmlm. CREA Discussion Papers 13 (R ``fixest::fepois``).
    """
    alpha = check_alpha(alpha)
    check_option("vcov", vcov, POISSON_VCOV_TYPES)
    if not (glm_tol > 0 and int(glm_iter) >= 1):
        raise ValueError("glm_tol must be positive and glm_iter at least 1")
    source = source_of(data)
    cl = cluster or unit
    if offset is not None and offset in data.columns:
        off_raw = pd.to_numeric(data[offset], errors="coerce").to_numpy(float)
        inf = np.isinf(off_raw)
        if inf.any():
            rows, count = row_labels(data, inf)
            raise EvalDataError([DataProblem(
                offset, f"the offset (log exposure) is infinite in {count} rows, e.g. the log "
                "of a zero population", "a finite log exposure in every row (leave out rows "
                "with no exposure)", rows, count)], source=source)
    cols = [Column(outcome, allow_missing=False), Column(unit, kind="string", allow_missing=False),
            Column(time, allow_missing=False), Column(treatment, allow_missing=False)]
    if offset is not None:
        cols.append(Column(offset, allow_missing=False, label="log exposure"))
    if cl not in (unit, time, treatment, outcome, offset):
        cols.append(Column(cl, kind="string", allow_missing=False))
    clean = validate(data, cols)
    y_all = clean[outcome].to_numpy(float)
    neg = y_all < 0
    if neg.any():
        rows, count = row_labels(data, neg)
        units = pd.unique(clean[unit].to_numpy()[neg])
        raise EvalDataError([DataProblem(
            outcome, f"is negative in {count} rows (units {_shown(units)})",
            "counts or rates of zero or more", rows, count)], source=source)
    if len(clean) and clean.duplicated([unit, time]).any():
        dup = clean.duplicated([unit, time], keep=False).to_numpy()
        rows, count = row_labels(data, dup)
        raise EvalDataError([DataProblem(unit, f"{count} rows repeat a unit and period",
                                         "one row per unit and period", rows, count)],
                            source=source)
    cautions: list[Caution] = []
    frac = y_all != np.round(y_all)
    if frac.any():
        cautions.append(Caution(
            f"The outcome '{outcome}' is not a whole number in {int(frac.sum())} rows: it is "
            "treated as a rate, which Poisson pseudo-maximum likelihood allows (as fixest's "
            "fepois does); the estimate is still a ratio of means.", limits=False))
    # -- drop units and periods whose outcome is zero throughout (fixest: one round) ----------
    u_all, u_levels = pd.factorize(clean[unit])
    t_all, t_levels = pd.factorize(clean[time])
    zero_u = np.bincount(u_all, y_all, minlength=len(u_levels)) == 0
    zero_t = np.bincount(t_all, y_all, minlength=len(t_levels)) == 0
    if zero_u.all():
        raise EvalDataError([DataProblem(outcome, "is zero in every row",
                                         "some positive counts")], source=source)
    drop = zero_u[u_all] | zero_t[t_all]
    n_drop_u, n_drop_t = int(zero_u.sum()), int(zero_t.sum())
    if drop.any():
        parts = []
        if n_drop_u:
            parts.append(f"{n_drop_u} unit{'s' if n_drop_u > 1 else ''} "
                         f"({_shown(u_levels[zero_u])})")
        if n_drop_t:
            parts.append(f"{n_drop_t} period{'s' if n_drop_t > 1 else ''} "
                         f"({_shown(t_levels[zero_t])})")
        cautions.append(Caution(
            " and ".join(parts) + f" with an outcome of zero in every row "
            f"{'were' if n_drop_u + n_drop_t > 1 else 'was'} dropped ({int(drop.sum())} "
            "observations), as fixest's fepois drops them: they carry no information on the "
            "treatment. The estimate describes the remaining units and periods.",
            limits=False))
        keep = ~drop
        clean = clean.loc[keep]
        y = y_all[keep]
        uc = pd.factorize(u_all[keep])[0]
        tc = pd.factorize(t_all[keep])[0]
    else:
        y, uc, tc = y_all, u_all, t_all
    n = y.size
    nu, nt = int(uc.max()) + 1, int(tc.max()) + 1
    x = clean[treatment].to_numpy(float)
    off = clean[offset].to_numpy(float) if offset is not None else None
    # -- IRLS (fixest's feglm.fit) ------------------------------------------------------------
    mu = y + 0.1  # poisson()$initialize: mustart = y + 0.1
    eta = np.log(mu)
    deviance = _Deviance(y)
    dev_old = deviance(np.full(n, 1e-5), np.full(n, np.exp(1e-5)))
    fit_old = np.full(n, 1e-5)  # linear predictor without the offset
    converged = False
    dev = dev_old
    it = 0
    beta = 0.0
    xd = resid = w = np.zeros(n)
    hess = 0.0
    x_scale = float(np.linalg.norm(x))
    fe = _TwoWay(uc, tc)
    for it in range(1, int(glm_iter) + 1):
        w = mu
        z = (eta - off if off is not None else eta) + (y - mu) / mu
        Z = fe.sweep(np.column_stack([z, x]), w)
        zd, xd = Z[:, 0], Z[:, 1]
        hess = float(np.dot(w * xd, xd))
        if it == 1 and not float(np.linalg.norm(xd)) > 1e-9 * x_scale:
            raise EvalDataError([DataProblem(
                treatment, "is collinear with the unit and period effects (it does not vary "
                "within units and periods among the rows analysed)",
                "a treatment that switches on in some units and not others")], source=source)
        beta = float(np.dot(w * xd, zd)) / hess
        resid = zd - beta * xd
        fit = z - resid
        eta = fit + off if off is not None else fit
        mu = np.exp(eta)
        dev = deviance(eta, mu)
        evol = dev - dev_old
        near = np.isfinite(dev) and (abs(evol) < glm_tol or abs(evol) / (0.1 + abs(dev)) < glm_tol)
        if not near and (not np.isfinite(dev) or evol > 0):
            halvings = 0
            while not np.isfinite(dev) or evol > 0:
                if it == 1 and np.isfinite(dev) and halvings >= 2:
                    break
                if halvings == glm_iter:
                    break
                halvings += 1
                fit = (fit_old + fit) / 2
                eta = fit + off if off is not None else fit
                mu = np.exp(eta)
                dev = deviance(eta, mu)
                evol = dev - dev_old
            evol = np.inf  # never stop on a halved step: a proper WLS step must follow
        if abs(evol) / (0.1 + abs(dev)) < glm_tol:
            converged = True
            break
        dev_old, fit_old = dev, fit
    if not converged:
        cautions.append(Caution(
            f"The Poisson fit did not converge in {glm_iter} iterations (deviance "
            f"{dev:.6g}): the estimate may be unreliable, e.g. because the outcome is zero in "
            "every treated (or untreated) row of some units.", limits=True))
    # -- variance (fixest's vcov with ssc(adj = TRUE, fixef.K = "nested")) ---------------------
    # fixest's convention: the Hessian and scores of the last weighted least-squares step
    # (its IRLS weights and working residuals), as R's glm reports its variance too.
    scores = w * resid * xd
    k = 1
    K = k + nu + nt - 1
    bread = 1.0 / hess
    n_clusters = None
    if vcov == "iid":
        var = bread * (n - 1) / (n - K)
    elif vcov == "hetero":
        var = bread * float(scores @ scores) * bread * n / (n - 1) * (n - 1) / (n - K)
    else:
        gc = pd.factorize(clean[cl])[0]
        G = int(gc.max()) + 1
        if G < 2:
            raise EvalDataError([DataProblem(cl, f"puts all {n} rows in one cluster",
                                             "at least 2 clusters for cluster-robust standard "
                                             "errors (or vcov='iid' / 'hetero')")],
                                source=source)
        nested = [codes for codes in (uc, tc) if _nested(codes, gc)]
        sizes = [int(c.max()) + 1 for c in nested]
        if len(nested) == 2:
            K = k + 1
        else:
            K -= sum(s - 1 for s in sizes)
        K = max(K, k + 1)
        sg = np.bincount(gc, scores, minlength=G)
        var = bread * float(sg @ sg) * bread * G / (G - 1) * (n - 1) / (n - K)
        n_clusters = G
        binary = bool(np.isin(x, (0.0, 1.0)).all())
        cautions += cluster_cautions(gc, cl, treated=(x != 0) if binary else None)
    se = float(np.sqrt(var)) if n - K > 0 and var >= 0 else float("nan")
    if not np.isfinite(se):
        cautions.append(Caution(
            f"The fit has {n} observations and {K} parameters that count towards the "
            "small-sample correction, so the standard error cannot be computed: it is not "
            "reported, nor the p-value and confidence interval.", limits=True))
    q = float(special.ndtri(1 - alpha / 2))
    lo, hi = beta - q * se, beta + q * se
    p = float(2 * special.ndtr(-abs(beta / se))) if se > 0 else float("nan")
    return PoissonTWFE(
        term=treatment, estimate=beta, se=se, ci_low=lo, ci_high=hi, p_value=p,
        rate_ratio=float(np.exp(beta)), rate_ratio_ci_low=float(np.exp(lo)),
        rate_ratio_ci_high=float(np.exp(hi)), n=n, n_dropped=int(drop.sum()),
        n_units_dropped=n_drop_u, n_periods_dropped=n_drop_t, n_units=nu, n_periods=nt,
        n_clusters=n_clusters, iterations=it, converged=converged, deviance=dev, vcov=vcov,
        offset=offset, glm_tol=float(glm_tol), glm_iter=int(glm_iter), alpha=alpha,
        cautions=merge_cautions(cautions))

"""Fine–Gray subdistribution hazard regression, equal to R's ``cmprsk::crr``.

When youth leave follow-up for competing reasons (reunification, aging out), the Fine–Gray
model relates covariates to the cumulative incidence of one cause: a youth who had a competing
event stays in the risk set, weighted by the Kaplan–Meier estimate of the censoring
distribution. Everything follows Gray's Fortran in ``cmprsk`` (``crrfsv``, ``crrf``, ``crrvv``):

* the censoring weights are the Kaplan–Meier estimate of the censoring times just before each
  time, ``G(t−)`` (an event of any cause at a censoring time counts as still at risk of
  censoring), and a youth with a competing event at ``s`` carries the weight
  ``G(t−) / G(s−)`` in the risk set at ``t > s``;
* tied event times are handled as Breslow does;
* Newton–Raphson starts at zero, halves steps that do not decrease the objective enough, and
  stops when ``max |score| · max(|b|, 1) < max(|loglik|, 1) · gtol``;
* the variance is crr's sandwich, whose middle includes the term for the estimated censoring
  weights (Fine & Gray 1999, section 3).

All sums over risk sets are cumulative sums over the data sorted by time, so a fit costs a few
passes over the rows per Newton step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import special

from evalkit.data import Column, source_of, validate
from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.methods.survival import _group_text
from evalkit.results import Caution, Result, check_alpha

__all__ = ["FineGray", "fine_gray"]

_EPS = np.finfo(float).eps


@dataclass(frozen=True)
class FineGray(Result):
    """Result of :func:`fine_gray`.

    Attributes
    ----------
    terms
        Covariate names, in the order given.
    coef, se, var
        Coefficients (log subdistribution hazard ratios), their standard errors and covariance
        (crr's sandwich, with the term for the estimated censoring weights).
    ci_low, ci_high, p_value
        Wald (normal) confidence interval and two-sided p-value of each coefficient.
    shr, shr_ci_low, shr_ci_high
        Subdistribution hazard ratios ``exp(coef)`` and their confidence intervals.
    n, n_events, n_censored
        Rows used, events of each cause (keyed by the cause's value as text) and censored rows.
    converged, iterations
        Whether crr's convergence rule was met, and the Newton–Raphson steps taken.
    loglik, loglik_null
        crr's pseudo log partial likelihood at the estimate and at zero.
    cause, censored
        The value of the event type modelled and the value meaning censored.
    alpha, gtol, max_iter
        Options (crr's ``gtol`` and ``maxiter``).

    References
    ----------
    Fine, J. P., & Gray, R. J. (1999). A proportional hazards model for the subdistribution
    of a competing risk. *JASA*, 94, 496–509. R: ``cmprsk::crr``.
    """

    _title: ClassVar[str] = "Fine–Gray subdistribution hazard model"
    _options: ClassVar[tuple[str, ...]] = ("cause", "censored", "alpha")

    terms: tuple[str, ...]
    coef: np.ndarray = field(repr=False)
    se: np.ndarray = field(repr=False)
    var: np.ndarray = field(repr=False)
    ci_low: np.ndarray = field(repr=False)
    ci_high: np.ndarray = field(repr=False)
    p_value: np.ndarray = field(repr=False)
    shr: np.ndarray = field(repr=False)
    shr_ci_low: np.ndarray = field(repr=False)
    shr_ci_high: np.ndarray = field(repr=False)
    n: int
    n_events: dict[str, int]
    n_censored: int
    converged: bool
    iterations: int
    loglik: float
    loglik_null: float
    cause: str = "1"
    censored: str = "0"
    alpha: float = 0.05
    gtol: float = 1e-6
    max_iter: int = 10

    @property
    def ci(self) -> np.ndarray:
        """Wald confidence intervals of the coefficients, one row ``(low, high)`` per term.

        Returns
        -------
        numpy.ndarray
            Shape ``(len(terms), 2)``.
        """
        return np.column_stack([self.ci_low, self.ci_high])

    def _terms(self) -> list[dict[str, Any]]:
        return [{"term": t, "estimate": float(self.coef[j]), "se": float(self.se[j]),
                 "ci_low": float(self.ci_low[j]), "ci_high": float(self.ci_high[j]),
                 "p_value": float(self.p_value[j]), "shr": float(self.shr[j]),
                 "shr_ci_low": float(self.shr_ci_low[j]),
                 "shr_ci_high": float(self.shr_ci_high[j])}
                for j, t in enumerate(self.terms)]

    def to_frame(self) -> pd.DataFrame:
        """One row per covariate.

        Returns
        -------
        pandas.DataFrame
            ``term, estimate`` (the coefficient), ``se, ci_low, ci_high, p_value`` on the log
            scale, then ``shr, shr_ci_low, shr_ci_high`` (subdistribution hazard ratio and its
            interval).
        """
        return super().to_frame()

    def _details(self) -> list[str]:
        ev = ", ".join(f"cause {k}: {v}" for k, v in self.n_events.items())
        return [f"n = {self.n} ({ev}; censored: {self.n_censored}); modelled cause: "
                f"{self.cause}.",
                f"Pseudo log-likelihood {self.loglik:.4f} (at zero {self.loglik_null:.4f}); "
                f"{'converged' if self.converged else 'did not converge'} after "
                f"{self.iterations} Newton-Raphson steps."]


# -- the engine -------------------------------------------------------------------------------

def _censoring_weights(t: np.ndarray, censored: np.ndarray) -> np.ndarray:
    """KM of the censoring times just before each (sorted) time, as crr evaluates it.

    crr takes ``survfit(Surv(ftime, cenind) ~ 1)`` and reads it with ``approx(...,
    method = "constant")`` at ``ftime * (1 - 100 * .Machine$double.eps)``.
    """
    ut, first = np.unique(t, return_index=True)
    n_at = (t.size - first).astype(float)
    dc = np.add.reduceat(censored.astype(float), first)
    surv = np.concatenate([[1.0], np.cumprod(1.0 - dc / n_at)])
    return surv[np.searchsorted(ut, t * (1 - 100 * _EPS), side="right")]


@dataclass
class _Data:
    """Sorted data and the fixed pieces of the risk sets of the modelled cause."""

    X: np.ndarray  # centred covariates, sorted by time
    t: np.ndarray
    fail: np.ndarray  # the modelled cause
    comp: np.ndarray  # a competing cause
    cens: np.ndarray
    G: np.ndarray  # censoring KM at t-
    pos: np.ndarray  # first row of each distinct failure time
    d: np.ndarray  # failures at each distinct failure time
    Gk: np.ndarray  # censoring KM just before each failure time
    xfail: np.ndarray  # sum of covariates of the failures


def _prepare(X: np.ndarray, t: np.ndarray, kind: np.ndarray) -> _Data:
    order = np.argsort(t, kind="stable")
    X, t, kind = X[order], t[order], kind[order]
    fail, comp, cens = kind == 1, kind == 2, kind == 0
    G = _censoring_weights(t, cens)
    tau, d = np.unique(t[fail], return_counts=True)
    pos = np.searchsorted(t, tau, side="left")
    return _Data(X=X, t=t, fail=fail, comp=comp, cens=cens, G=G, pos=pos, d=d.astype(float),
                 Gk=G[pos], xfail=X[fail].sum(axis=0))


def _suffix(a: np.ndarray) -> np.ndarray:
    """Sums from each row to the end, with a final 0 (length ``len(a) + 1``)."""
    out = np.zeros((a.shape[0] + 1,) + a.shape[1:])
    out[:-1] = np.cumsum(a[::-1], axis=0)[::-1]
    return out


def _prefix(a: np.ndarray) -> np.ndarray:
    """Sums of the rows before each row, with a leading 0 (length ``len(a) + 1``)."""
    out = np.zeros((a.shape[0] + 1,) + a.shape[1:])
    out[1:] = np.cumsum(a, axis=0)
    return out


def _risk_sums(D: _Data, b: np.ndarray, order: int):
    """Weighted risk-set sums S0, S1 (and S2) at each failure time, with the scale used.

    The risk set at ``τ`` holds everyone with ``t ≥ τ`` (weight ``exp(xb)``) and everyone with
    a competing event before ``τ`` (weight ``exp(xb) G(τ−) / G(t−)``). The linear predictor is
    shifted by its maximum, returned as ``shift``.
    """
    lp = D.X @ b
    shift = float(lp.max())
    e = np.exp(lp - shift)
    ce = np.where(D.comp, e / D.G, 0.0)
    S0 = _suffix(e)[D.pos] + D.Gk * _prefix(ce)[D.pos]
    S1 = _suffix(e[:, None] * D.X)[D.pos] + D.Gk[:, None] * _prefix(ce[:, None] * D.X)[D.pos]
    S2 = None
    if order > 1:
        xx = D.X[:, :, None] * D.X[:, None, :]
        S2 = (_suffix(e[:, None, None] * xx)[D.pos]
              + D.Gk[:, None, None] * _prefix(ce[:, None, None] * xx)[D.pos])
    return lp, e, shift, S0, S1, S2


def _objective(D: _Data, b: np.ndarray) -> float:
    """The objective of crr (``crrf``): minus the pseudo log partial likelihood."""
    lp, _, shift, S0, _, _ = _risk_sums(D, b, 1)
    return float(-(lp[D.fail].sum()) + (D.d * (np.log(S0) + shift)).sum())


def _fit_parts(D: _Data, b: np.ndarray):
    """As crr's ``crrfsv``: objective, its gradient and Hessian (minus score and information)."""
    lp, _, shift, S0, S1, S2 = _risk_sums(D, b, 2)
    assert S2 is not None
    f = float(-(lp[D.fail].sum()) + (D.d * (np.log(S0) + shift)).sum())
    xbar = S1 / S0[:, None]
    g = -D.xfail + (D.d[:, None] * xbar).sum(axis=0)
    H = np.einsum("k,kij->ij", D.d / S0, S2) - np.einsum("k,ki,kj->ij", D.d, xbar, xbar)
    return f, g, (H + H.T) / 2


def _newton(D: _Data, p: int, gtol: float, max_iter: int):
    """Newton–Raphson with step halving, exactly as ``crr``'s loop."""
    b = np.zeros(p)
    converged = False
    steps = 0
    f, g, H = _fit_parts(D, b)
    for ll in range(max_iter + 1):
        if ll > 0:
            f, g, H = _fit_parts(D, b)
        steps = ll
        if np.max(np.abs(g) * np.maximum(np.abs(b), 1.0)) < max(abs(f), 1.0) * gtol:
            converged = True
            break
        if ll == max_iter:
            break
        try:
            sc = -np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            break
        bn = b + sc
        fbn = _objective(D, bn)
        halvings = 0
        while math.isnan(fbn) or fbn > f + 1e-4 * float(sc @ g):
            halvings += 1
            sc = sc * 0.5
            bn = b + sc
            fbn = _objective(D, bn)
            if halvings > 20:
                break
        if halvings > 20:
            break
        b = bn
    return b, f, g, H, converged, steps


def _sandwich_middle(D: _Data, b: np.ndarray) -> np.ndarray:
    """The middle of crr's sandwich (``crrvv``): the sum over rows of ``(η_i + ψ_i)(η_i + ψ_i)'``.

    ``η_i`` is the score residual of row ``i`` for the modelled cause; ``ψ_i`` accounts for
    the censoring weights being estimated (Fine & Gray 1999, eq. 3.2–3.3).
    """
    _, e, _, S0, S1, _ = _risk_sums(D, b, 1)
    X, t = D.X, D.t
    xbar = S1 / S0[:, None]
    a = D.d / S0  # dΛ at each failure time (on the shifted scale)
    c = a[:, None] * xbar
    tau = t[D.pos]
    k_le = np.searchsorted(tau, t, side="right")  # failure times at or before t_i
    Acum, Ccum = _prefix(a), _prefix(c)
    GAcum, GCcum = _prefix(D.Gk * a), _prefix(D.Gk[:, None] * c)
    inv_g = np.where(D.comp, 1.0 / D.G, 0.0)
    A = Acum[k_le] + inv_g * (GAcum[-1] - GAcum[k_le])
    C = Ccum[k_le] + inv_g[:, None] * (GCcum[-1] - GCcum[k_le])
    eta = -e[:, None] * (X * A[:, None] - C)
    own = np.maximum(k_le - 1, 0)
    eta += np.where(D.fail[:, None], X - xbar[own], 0.0)
    # censoring part, at each distinct censoring time u
    ct, dc = np.unique(t[D.cens], return_counts=True)
    psi = np.zeros_like(X)
    if ct.size:
        first = np.searchsorted(t, ct, side="left")
        n_at = (t.size - first).astype(float)
        k_ge = np.searchsorted(tau, ct, side="left")  # first failure time at or after u
        R0 = GAcum[-1] - GAcum[k_ge]
        R1 = GCcum[-1] - GCcum[k_ge]
        ce = np.where(D.comp, e / D.G, 0.0)
        B0 = _prefix(ce)[first]
        B1 = _prefix(ce[:, None] * X)[first]
        q = B1 * R0[:, None] - B0[:, None] * R1
        cum = np.cumsum(dc[:, None] * q / n_at[:, None] ** 2, axis=0)
        m = np.searchsorted(ct, t, side="right")  # censoring times at or before t_i
        psi = -np.vstack([np.zeros((1, X.shape[1])), cum])[m]
        ci = np.flatnonzero(D.cens)
        mc = np.searchsorted(ct, t[ci], side="left")
        psi[ci] += q[mc] / n_at[mc, None]
    r = eta + psi
    return r.T @ r


# -- the public function ----------------------------------------------------------------------

def fine_gray(
    data: pd.DataFrame,
    duration: str,
    event_type: str,
    covariates: Sequence[str],
    *,
    cause: Any = 1,
    censored: Any = 0,
    alpha: float = 0.05,
    gtol: float = 1e-6,
    max_iter: int = 10,
) -> FineGray:
    """Fine–Gray regression of the subdistribution hazard of one cause.

    Answers: how do the covariates shift the share of youth who *actually* have the event
    (its cumulative incidence), when competing exits also end follow-up? A subdistribution
    hazard ratio above 1 means a higher cumulative incidence of ``cause``.

    Parameters
    ----------
    data
        One row per person.
    duration
        Time to the first event of any cause, or to censoring (non-negative).
    event_type
        Which event ended follow-up: ``censored`` for none, ``cause`` for the modelled cause,
        any other value for a competing cause.
    covariates
        Numeric columns (0/1 for a group).
    cause
        The value of ``event_type`` modelled (crr's ``failcode``).
    censored
        The value of ``event_type`` that means censored (crr's ``cencode``).
    alpha
        1 − confidence level of the Wald intervals.
    gtol, max_iter
        crr's convergence tolerance (``gtol = 1e-6``) and Newton–Raphson limit
        (``maxiter = 10``).

    Returns
    -------
    FineGray
        Coefficients, crr's sandwich SEs, Wald intervals and p-values, subdistribution
        hazard ratios, counts and the pseudo log-likelihood.

    Raises
    ------
    EvalDataError
        Missing or negative durations; a missing, non-numeric, constant or collinear
        covariate; ``cause`` absent from ``event_type`` (no events of it); a covariate whose
        effect cannot be estimated from the risk sets.

    Notes
    -----
    Equal to R's ``cmprsk::crr(ftime, fstatus, cov1, failcode = cause, cencode = censored)``
    with one censoring group: coefficients, ``sqrt(diag(var))``, ``loglik``, ``loglik.null``
    and ``converged``. Rows with missing values are refused rather than dropped as crr's
    ``na.omit`` would. A fit that does not meet crr's convergence rule is returned with
    ``converged = False`` and a caution, as crr returns it with a warning.

    References
    ----------
    Fine, J. P., & Gray, R. J. (1999). A proportional hazards model for the subdistribution
    of a competing risk. *Journal of the American Statistical Association*, 94, 496–509.
    Gray, R. J. (2024). cmprsk: Subdistribution analysis of competing risks (R package),
    function ``crr``.
    """
    alpha = check_alpha(alpha)
    covariates = list(covariates)
    if not covariates:
        raise ValueError("give at least one covariate")
    if len(set(covariates)) != len(covariates):
        raise ValueError("a covariate is listed twice")
    if not (isinstance(max_iter, int) and max_iter >= 0):
        raise ValueError(f"max_iter must be a whole number 0 or more, not {max_iter!r}")
    if not (isinstance(gtol, (int, float)) and gtol > 0):
        raise ValueError(f"gtol must be a positive number, not {gtol!r}")
    cols = [Column(duration, min=0, allow_missing=False, label="time to first event"),
            Column(event_type, kind="string", allow_missing=False, label="event type")]
    cols += [Column(c, allow_missing=False) for c in covariates]
    clean = validate(data, cols)
    source = source_of(data)
    status = _group_text(clean[event_type]).to_numpy()
    cause_s = str(_group_text(pd.Series([cause])).iloc[0])
    cens_s = str(_group_text(pd.Series([censored])).iloc[0])
    if cause_s == cens_s:
        raise ValueError(f"cause and censored are both {cause!r}: give different values")
    values = sorted(set(status), key=str)
    if cause_s not in values:
        raise EvalDataError([DataProblem(
            event_type, f"has no events of cause {cause_s} (its values are "
            + ", ".join(values) + ")", f"rows with {event_type} = {cause_s}, or another "
            "cause= among its values")], source=source)
    kind = np.where(status == cause_s, 1, np.where(status == cens_s, 0, 2))
    X = clean[covariates].to_numpy(dtype=float)
    problems = [DataProblem(c, "is constant", "a covariate that varies")
                for j, c in enumerate(covariates) if np.ptp(X[:, j]) == 0]
    Xc = X - X.mean(axis=0)  # the pseudo-likelihood is unchanged by centring
    if not problems and np.linalg.matrix_rank(Xc) < X.shape[1]:
        problems.append(DataProblem(None, "the covariates " + ", ".join(covariates)
                                    + " are collinear", "covariates that are not linear "
                                    "combinations of each other"))
    if problems:
        raise EvalDataError(problems, source=source)
    D = _prepare(Xc, clean[duration].to_numpy(dtype=float), kind)
    p = X.shape[1]
    b, f, g, H, converged, steps = _newton(D, p, gtol, max_iter)
    ev = np.linalg.eigvalsh(H)
    if not np.all(np.isfinite(ev)) or ev.min() <= 1e-10 * max(ev.max(), 1.0):
        raise EvalDataError([DataProblem(
            None, "the effects of " + ", ".join(covariates) + " cannot all be estimated: "
            "the information matrix is singular (a covariate does not vary among those at "
            f"risk at the times of cause {cause_s})", "covariates that vary within the risk "
            "sets")], source=source)
    Hinv = np.linalg.inv(H)
    var = Hinv @ _sandwich_middle(D, b) @ Hinv
    var = (var + var.T) / 2
    se = np.sqrt(np.diag(var))
    z = float(special.ndtri(1 - alpha / 2))
    lo, hi = b - z * se, b + z * se
    pv = special.ndtr(-np.abs(b / se)) * 2
    counts = {v: int((status == v).sum()) for v in values if v != cens_s}
    cautions = _cautions(covariates, X, kind, cause_s, converged, steps)
    return FineGray(
        terms=tuple(covariates), coef=b, se=se, var=var, ci_low=lo, ci_high=hi, p_value=pv,
        shr=np.exp(b), shr_ci_low=np.exp(lo), shr_ci_high=np.exp(hi), n=len(clean),
        n_events=counts, n_censored=int((kind == 0).sum()), converged=converged,
        iterations=steps, loglik=-f, loglik_null=-_objective(D, np.zeros(p)), cause=cause_s,
        censored=cens_s, alpha=alpha, gtol=float(gtol), max_iter=max_iter,
        cautions=tuple(cautions))


def _cautions(covariates: Sequence[str], X: np.ndarray, kind: np.ndarray, cause: str,
              converged: bool, steps: int) -> list[Caution]:
    out = []
    n_ev = int((kind == 1).sum())
    p = len(covariates)
    if not converged:
        out.append(Caution(
            f"The Fine–Gray fit did not converge after {steps} Newton–Raphson steps (crr's "
            "rule): the estimates may be far from the maximum, or a coefficient may be "
            "drifting to infinity."))
    if n_ev < 10 * p:
        out.append(Caution(
            f"Only {n_ev} events of cause {cause} for {p} covariate{'s' if p > 1 else ''}: "
            "with fewer than about 10 events per covariate, the estimates can be biased and "
            "their confidence intervals unreliable."))
    for j, c in enumerate(covariates):
        vals = np.unique(X[:, j])
        if vals.size == 2:
            few = [v for v in vals if int(((X[:, j] == v) & (kind == 1)).sum()) < 5]
            if few:
                out.append(Caution(
                    f"Few events of cause {cause} among the rows where {c} = {few[0]:g} "
                    f"(fewer than 5): its subdistribution hazard ratio rests on very little "
                    "information."))
    return out

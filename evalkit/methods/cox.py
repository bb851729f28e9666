"""Cox proportional-hazards regression, equal to R's ``survival::coxph``.

Efron and Breslow handling of tied times, case weights, strata, and robust (sandwich)
standard errors from score residuals, clustered when asked — computed on numpy with
cumulative sums over the sorted data, so a fit costs a few passes over the rows per Newton
step. Newton–Raphson follows R's ``coxfit6.c``: convergence is judged on the relative change
of the log-likelihood before any step halving, so rounding noise in a sum over a million rows
never starts a run of halvings. The likelihood engine lives in :mod:`evalkit.methods.cox_fit`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, get_args

import numpy as np
import pandas as pd
from scipy import special

from evalkit.data import Column, source_of, validate
from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.methods.cox_fit import (
    _check_intervals,
    _concordance_counts,
    _fit_terms,
    _newton,
    _singular_columns,
    _Stratum,
    _time_sums,
    concordance,
    covariate_spread,
)
from evalkit.methods.survival import survival_columns, timefix
from evalkit.results import Caution, Result, check_alpha, check_option

__all__ = ["cox", "CoxResult", "concordance", "ph_test", "PHTest"]

#: Handling of tied event times, as R's coxph.
Ties = Literal["efron", "breslow"]
#: Transformations of time in the proportional-hazards test, as R's cox.zph.
Transform = Literal["km", "rank", "identity"]


@dataclass(frozen=True)
class CoxResult(Result):
    """Result of :func:`cox`.

    Attributes
    ----------
    coef, se, robust_se
        Coefficients (log hazard ratios) and their model-based and (when asked) robust SEs.
    loglik_null, loglik
        Partial log-likelihood at zero and at the estimate.
    lr, lr_df, lr_p / wald, wald_p / score, score_p
        Likelihood-ratio, Wald and score (log-rank) tests that all coefficients are zero. With
        robust or clustered standard errors the Wald test uses the robust variance, as R's
        ``coxph`` (``wald.test``); the likelihood-ratio and score tests are model-based.
    concordance
        Harrell's C of the linear predictor, as R reports it.
    n, n_events, iterations
        Rows (subjects, or intervals of (start, stop] data, as R's ``n``), events and
        Newton–Raphson iterations.
    start
        The interval-start column of (start, stop] data, else ``None``.
    """

    _title: ClassVar[str] = "Cox proportional-hazards model"
    _options: ClassVar[tuple[str, ...]] = ("ties", "robust", "alpha", "start")

    terms: tuple[str, ...]
    coef: np.ndarray = field(repr=False)
    se: np.ndarray = field(repr=False)
    robust_se: np.ndarray | None = field(repr=False)
    var: np.ndarray = field(repr=False)
    loglik_null: float
    loglik: float
    lr: float
    lr_p: float
    wald: float
    wald_p: float
    score: float
    score_p: float
    n: int
    n_events: int
    iterations: int
    ties: Ties = "efron"
    robust: bool = False
    cluster: str | None = None
    strata: str | None = None
    alpha: float = 0.05
    n_clusters: int | None = None
    start: str | None = None
    _parts: tuple = field(default=(), repr=False, compare=False)

    @functools.cached_property
    def concordance(self) -> float:
        """Harrell's C of the linear predictor (computed on first use, as R's coxph).

        For (start, stop] data, each event is compared with the rows at risk at its time, as
        R's ``concordance`` does for counting-process data.

        Linear predictors are compared after rounding to 10 decimals (log hazard units): a
        coefficient that is zero up to rounding (-9e-17 where R's Newton step lands on 0
        exactly) then ties every pair, as R's does, instead of ranking people by noise.
        """
        num = den = 0.0
        for part in self._parts:
            c = _concordance_counts(part.time, part.event, np.round(part.X @ self.coef, 10),
                                    part.w, part.entry)
            num += c[0] + c[2] / 2
            den += sum(c)
        return num / den if den else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """All fields as JSON-ready Python values, with Harrell's concordance added.

        Returns
        -------
        dict
            The fields of :meth:`Result.to_dict <evalkit.results.Result.to_dict>` and
            ``concordance`` (:attr:`concordance`).
        """
        out = super().to_dict()
        out["concordance"] = self.concordance
        return out

    @property
    def lr_df(self) -> int:
        """Degrees of freedom of the likelihood-ratio test: one per covariate term.

        Returns
        -------
        int
            The number of :attr:`terms`.
        """
        return len(self.terms)

    @property
    def hazard_ratio(self) -> np.ndarray:
        """Hazard ratio of each term, ``exp(coef)``, in the order of :attr:`terms`.

        Returns
        -------
        numpy.ndarray
            One hazard ratio per term.
        """
        return np.exp(self.coef)

    def to_frame(self) -> pd.DataFrame:
        """One row per covariate, on the log hazard-ratio scale and the hazard-ratio scale.

        Columns: ``term, estimate, se, ci_low, ci_high, p_value`` on the log hazard-ratio
        scale (``estimate`` is the coefficient; ``se`` is the robust SE when it was asked for,
        else the model-based one), then the same on the hazard-ratio scale (``hazard_ratio,
        hr_ci_low, hr_ci_high``), ``z``, ``model_se`` and ``robust_se`` when robust. The
        coefficients themselves are :attr:`coef`.

        A robust SE that cannot be estimated (it came out as zero) is NaN, and so are the
        interval and p-value that would rest on it; a caution says why.
        """
        se = self.robust_se if self.robust_se is not None else self.se
        q = float(special.ndtri(1 - self.alpha / 2))
        with np.errstate(invalid="ignore", divide="ignore"):
            z = self.coef / se
            lo, hi = self.coef - q * se, self.coef + q * se
        out = pd.DataFrame({"term": list(self.terms), "estimate": self.coef, "se": se,
                            "ci_low": lo, "ci_high": hi,
                            "p_value": 2 * special.ndtr(-np.abs(z)),
                            "hazard_ratio": np.exp(self.coef), "hr_ci_low": np.exp(lo),
                            "hr_ci_high": np.exp(hi), "z": z, "model_se": self.se})
        if self.robust_se is not None:
            out["robust_se"] = self.robust_se
        return out

    def _terms(self) -> list[dict[str, Any]]:
        return self.to_frame().to_dict("records")

    def _details(self) -> list[str]:
        df = self.lr_df
        return [
            f"n = {self.n}, events = {self.n_events}; concordance = {self.concordance:.4f}",
            f"Likelihood ratio test = {self.lr:.4g} on {df} df, p = {self.lr_p:.3g}; "
            f"Wald{' (robust)' if self.robust_se is not None else ''} = {self.wald:.4g}, "
            f"p = {self.wald_p:.3g}; score = {self.score:.4g}, "
            f"p = {self.score_p:.3g}",
        ]


def cox(
    data: pd.DataFrame,
    duration: str,
    event: str,
    covariates: Sequence[str],
    *,
    start: str | None = None,
    ties: Ties = "efron",
    robust: bool = False,
    cluster: str | None = None,
    strata: str | None = None,
    weights: str | None = None,
    alpha: float = 0.05,
    max_iter: int = 20,
    eps: float = 1e-9,
) -> CoxResult:
    """Cox proportional-hazards regression.

    Parameters
    ----------
    data, duration, event
        One row per subject; time to event or censoring; 1 = event, 0 = censored. With
        ``start``, one row per interval ``(start, stop]`` of follow-up, ``duration`` being
        its stop and ``event`` whether it ended in an event.
    covariates
        Numeric covariate columns (code categories as 0/1 indicators). With ``start``, their
        values may change from one interval to the next (time-varying covariates).
    start
        Interval-start column: counting-process data, as R's ``Surv(start, stop, event)``.
        A row is at risk at an event time ``t`` when ``start < t <= stop``, so an interval
        ending at ``t`` is in the risk set and one starting at ``t`` is not. This covers
        time-varying covariates (split a youth's follow-up where they change), delayed entry
        (start at entry) and recurrent events (one interval per gap between episodes; with
        ``cluster`` = the youth, this is the Andersen–Gill model, and with ``strata`` = the
        episode number the Prentice–Williams–Peterson total-time model).
    ties
        ``"efron"`` (R's default) or ``"breslow"``.
    robust
        Add robust (sandwich) standard errors from the score residuals.
    cluster
        Cluster column: robust SEs summed within clusters (implies ``robust``).
    strata
        Stratum column: a separate baseline hazard per stratum.
    weights
        Case-weight column.
    alpha
        1 − confidence level of the hazard-ratio CIs.
    max_iter, eps
        Newton–Raphson limits, as R's ``coxph.control`` (``iter.max = 20``, ``eps = 1e-9``).

    Raises
    ------
    EvalDataError
        Missing or negative durations or starts, intervals with stop <= start (naming the
        rows, and how many youth when ``cluster`` is given), events other than 0/1, no events, a constant or
        collinear covariate, a covariate that does not vary within the risk sets of the events
        (R reports NA), a single cluster (R reports a robust SE of about 1e-11), or a fit that
        does not converge — with the reason, e.g. a coefficient drifting to infinity because
        of monotone likelihood when one group of a 0/1 covariate has no events (R warns
        "coefficient may be infinite" and prints a huge coefficient).

    Notes
    -----
    Equal to R's ``coxph(Surv(duration, event) ~ covariates + strata(strata),
    ties = ties, weights = weights, robust = robust, cluster = cluster)``, including its
    ``timefix`` (times equal up to rounding are tied) and its Newton–Raphson rules
    (``coxfit6.c``): the fit stops when the log-likelihood changes by a relative ``eps`` or
    less, checked before any step halving, so a plateau at rounding level ends the fit.

    With ``start``, equal to ``coxph(Surv(start, stop, event) ~ ...)``, with ``timefix``
    applied to starts and stops together. As R, overlapping intervals of one youth are not
    refused here (check them when building the intervals); without ``cluster``, the SEs
    treat every interval as independent, which understates them for recurrent events.
    :func:`ph_test` does not take (start, stop] fits.

    The result's ``cautions`` flag fewer than about 10 events per covariate, a 0/1 covariate
    with fewer than 5 events in one group, fewer than 30 clusters (or no more clusters than
    coefficients), and any robust SE that came out as zero (then shown as NaN).

    References
    ----------
    Cox, D. R. (1972). Regression models and life-tables. *JRSS B*, 34, 187–220.

    Efron, B. (1977). The efficiency of Cox's likelihood function for censored data. *JASA*,
    72, 557–565.

    Therneau, T. M., & Grambsch, P. M. (2000). *Modeling Survival Data*. Springer, ch. 3, 7.
    """
    alpha = check_alpha(alpha)
    check_option("ties", ties, get_args(Ties))
    covariates = list(covariates)
    if not covariates:
        raise ValueError("give at least one covariate")
    if len(set(covariates)) != len(covariates):
        raise ValueError("a covariate is listed twice")
    cols = survival_columns(duration, event) + [Column(c, allow_missing=False) for c in covariates]
    if start is not None:
        cols.append(Column(start, min=0, allow_missing=False,
                           label="start of the (start, stop] interval"))
    if weights is not None:
        cols.append(Column(weights, min=0, allow_missing=False, label="case weight"))
    for extra in (strata, cluster):
        if extra is not None and extra not in covariates:
            cols.append(Column(extra, kind="string", allow_missing=False))
    clean = validate(data, cols)
    source = source_of(data)
    n = len(clean)
    ev = clean[event].to_numpy(dtype=float)
    if n == 0 or ev.sum() == 0:
        raise EvalDataError([DataProblem(event, "has no events (every row is censored)",
                                         "at least one event")], source=source)
    w = clean[weights].to_numpy(dtype=float) if weights is not None else np.ones(n)
    if weights is not None and not (w > 0).all():
        # as R's coxph, which stops with "Invalid weights, must be >0"
        bad = np.flatnonzero(~(w > 0))
        raise EvalDataError([DataProblem(weights, "has weights that are zero or negative",
                                         "weights greater than 0 (leave out the rows that "
                                         "should not count)", rows=tuple(int(i) + 1 for i in
                                                                         bad[:8]),
                                         n_rows=int(bad.size))], source=source)
    if weights is not None and not (w[ev > 0] > 0).any():
        raise EvalDataError([DataProblem(weights, "is zero for every event",
                                         "a positive weight on at least one event")],
                            source=source)
    X = clean[covariates].to_numpy(dtype=float)
    problems = []
    for j, c in enumerate(covariates):
        if np.ptp(X[:, j]) == 0:
            problems.append(DataProblem(c, "is constant", "a covariate that varies"))
    # centred on the weighted means, as R's coxfit6 does before fitting
    Xc = X - np.average(X, axis=0, weights=w) if w.sum() > 0 else X - X.mean(axis=0)
    if not problems and np.linalg.matrix_rank(Xc.T @ Xc) < X.shape[1]:
        problems.append(DataProblem(None, "the covariates " + ", ".join(covariates)
                                    + " are collinear", "covariates that are not linear "
                                    "combinations of each other"))
    if problems:
        raise EvalDataError(problems, source=source)
    n_clusters = None
    if cluster is not None:
        codes = pd.factorize(clean[cluster])[0]
        n_clusters = int(codes.max()) + 1
        if n_clusters < 2:
            raise EvalDataError([DataProblem(
                cluster, "has a single cluster: a cluster-robust standard error needs the "
                "spread between clusters, and with one cluster it is zero",
                "two or more clusters (better 30 or more), or no cluster argument")],
                source=source)
    time = clean[duration].to_numpy(dtype=float)
    order = np.argsort(time, kind="stable")
    entry = None
    if start is None:
        time = timefix(time)  # R's timefix = TRUE; it keeps the order, so ``order`` still sorts
    else:
        entry = clean[start].to_numpy(dtype=float)
        youth = codes if cluster is not None else None
        _check_intervals(entry, time, start, duration, youth, source)
        both = timefix(np.concatenate([entry, time]))  # R's aeqSurv: starts and stops together
        entry, time = both[:n], both[n:]
        _check_intervals(entry, time, start, duration, youth, source, after_timefix=True)
    parts = []
    if strata is None:
        parts.append(_Stratum(Xc[order], time[order], ev[order], w[order], order,
                              None if entry is None else entry[order]))
    else:
        scodes = pd.factorize(clean[strata])[0][order]
        for sc in np.unique(scodes):
            rows = order[scodes == sc]
            parts.append(_Stratum(Xc[rows], time[rows], ev[rows], w[rows], rows,
                                  None if entry is None else entry[rows]))
    efron = ties == "efron"
    p = X.shape[1]
    events, spread = covariate_spread(parts)
    fit = _newton(parts, efron, p, max_iter, eps, events * spread)
    beta, ll, U, I = fit.beta, fit.loglik, fit.score_vec, fit.info
    singular = _singular_columns(I, scale=events * spread)
    if fit.singular or singular:
        not_estimable = fit.singular or singular
        raise EvalDataError([DataProblem(
            covariates[j], "does not vary among the people still at risk at the event times, "
            "or there only repeats a combination of the covariates listed before it, so its "
            "effect cannot be estimated (R's coxph reports NA)",
            "a covariate that varies within the risk sets of the events")
            for j in not_estimable], source=source)
    var = np.linalg.inv(I)
    var = (var + var.T) / 2
    infinite = np.abs(U @ var)
    drifting = [j for j in range(p) if not math.isfinite(U[j])
                or (infinite[j] > eps and infinite[j] > math.sqrt(eps) * abs(beta[j]))]
    if not fit.converged:
        # R warns that coefficients may be infinite when the linear predictor is huge
        lp_max = max(float(np.max(np.abs(s.X @ beta))) for s in parts)
        drifting = drifting or ([j for j in range(p) if abs(beta[j]) * np.ptp(X[:, j]) > 10]
                                if lp_max > 500 or not np.all(np.isfinite(infinite)) else [])
    if drifting:
        raise EvalDataError([DataProblem(
            covariates[j], _monotone_text(covariates[j], X[:, j], ev, beta[j]),
            "events in every group or range of the covariate, or leave it out")
            for j in drifting], source=source)
    if not fit.converged:
        raise EvalDataError([DataProblem(
            None, f"the Cox model did not converge: no convergence after {max_iter} "
            "Newton-Raphson iterations", "a model whose likelihood has a maximum")],
            source=source)
    se = np.sqrt(np.diag(var))
    wald = float(beta @ I @ beta)
    cautions = _fit_cautions(covariates, X, ev)
    robust_se = None
    if robust or cluster is not None:
        _, _, _, R = _fit_terms(parts, beta, efron, need_info=False, need_resid=True)
        resid = np.zeros((n, p))
        for s, r in zip(parts, R, strict=True):
            resid[s.rows] = r
        D = (w[:, None] * resid) @ var
        if cluster is not None:
            assert n_clusters is not None  # counted with the cluster codes above
            Dc = np.zeros((n_clusters, p))
            np.add.at(Dc, codes, D)
            D = Dc
        robust_var = D.T @ D
        robust_se = np.sqrt(np.diag(robust_var))
        zero = robust_se <= 1e-8 * se
        # R's coxph tests all coefficients with the robust variance when it has one
        wald = (float(beta @ np.linalg.solve(robust_var, beta)) if not zero.any()
                else float("nan"))
        if zero.any():
            names = ", ".join(covariates[j] for j in np.flatnonzero(zero))
            robust_se = np.where(zero, np.nan, robust_se)
            cautions.append(Caution(
                f"The robust standard error of {names} came out as zero, which is impossible "
                "for a real estimate: the data leave no spread to measure it from. It is "
                "shown as missing, and no confidence interval or p-value is given for it, "
                "nor the Wald test of all coefficients."))
        if cluster is not None and n_clusters is not None:
            cautions += _cluster_cautions(cluster, n_clusters, p)
    ll0 = fit.loglik_null
    lr = 2 * (ll - ll0)
    score_stat = fit.score_stat
    if not math.isfinite(score_stat):
        cautions.append(Caution("The score (log-rank) test could not be computed at zero "
                                "effects, so it is left out.", limits=False))
    return CoxResult(
        terms=tuple(covariates), coef=beta, se=se, robust_se=robust_se, var=var,
        loglik_null=ll0, loglik=ll, lr=lr, lr_p=float(special.chdtrc(p, lr)), wald=wald,
        wald_p=float(special.chdtrc(p, wald)), score=score_stat,
        score_p=float(special.chdtrc(p, score_stat)), n=n, n_events=int(ev.sum()),
        iterations=fit.iterations, ties=ties, robust=robust or cluster is not None,
        cluster=cluster, strata=strata, alpha=alpha, n_clusters=n_clusters, start=start,
        _parts=tuple(parts), cautions=tuple(cautions),
    )


def _two_values(x: np.ndarray) -> tuple[float, float] | None:
    """The two values of a column that takes exactly two (sorted), else ``None``."""
    a = x[0]
    other = x[x != a]
    if other.size == 0 or np.any(other != other[0]):
        return None
    return (min(a, other[0]), max(a, other[0]))


def _monotone_text(name: str, x: np.ndarray, ev: np.ndarray, b: float) -> str:
    """Why a coefficient runs to infinity, in words, for a column of the data."""
    vals = _two_values(x)
    head = ("the Cox model cannot estimate its hazard ratio: the likelihood is monotone (its "
            "coefficient keeps growing), so the hazard ratio is infinite or zero")
    if vals is not None:
        lo, hi = vals
        no_ev = [v for v in vals if not (ev[x == v] > 0).any()]
        if no_ev:
            v = no_ev[0]
            return (f"{head}: no events among the rows where {name} = {v:g} (every one of "
                    "them is censored)")
        return (f"{head}: the events separate the groups {name} = {lo:g} and {name} = {hi:g} "
                "(at each event time, the person with the event is always in the same group)")
    side = "largest" if b > 0 else "smallest"
    return (f"{head}: at each event time, the person with the event has the {side} value of "
            f"{name} among those still at risk")


def _fit_cautions(covariates: Sequence[str], X: np.ndarray, ev: np.ndarray) -> list:
    """Cautions on how much information the events carry.

    They look at events per covariate, and at events in each group of a 0/1 covariate.
    """
    cautions = []
    n_ev = int((ev > 0).sum())
    p = len(covariates)
    if n_ev < 10 * p:
        cautions.append(Caution(
            f"Only {n_ev} events for {p} covariate{'s' if p > 1 else ''}: with fewer than "
            "about 10 events per covariate, Cox estimates can be biased and their confidence "
            "intervals unreliable."))
    for j, c in enumerate(covariates):
        vals = _two_values(X[:, j])
        if vals is not None:
            few = [v for v in vals if (ev[X[:, j] == v] > 0).sum() < 5]
            if few:
                cautions.append(Caution(
                    f"Few events among the rows where {c} = {few[0]:g} (fewer than 5): the "
                    f"hazard ratio of {c} rests on very little information."))
    return cautions


def _cluster_cautions(cluster: str, g: int, p: int) -> list:
    out = []
    if g <= p:
        out.append(Caution(
            f"Only {g} clusters in '{cluster}' for {p} coefficients: the cluster-robust "
            "variance cannot separate all the effects, so the robust standard errors are not "
            "reliable. Use the model-based standard errors or more clusters."))
    elif g < 30:
        out.append(Caution(
            f"Only {g} clusters in '{cluster}': cluster-robust standard errors from fewer than "
            "about 30 clusters tend to be too small, so the confidence intervals may be too "
            "narrow and the p-values too small."))
    return out


# -- proportional-hazards test -----------------------------------------------------------------

def _km_left(times: np.ndarray, all_times: np.ndarray, all_events: np.ndarray) -> np.ndarray:
    """1 − KM(t−) of the pooled data, at ``times``."""
    ut, inv = np.unique(all_times, return_inverse=True)
    d = np.bincount(inv, weights=all_events, minlength=ut.size)
    n = np.bincount(inv, minlength=ut.size)[::-1].cumsum()[::-1]
    surv = np.cumprod(1 - d / n)
    idx = np.searchsorted(ut, times, side="left")  # number of distinct times strictly before
    return 1.0 - np.concatenate([[1.0], surv])[idx]


@dataclass(frozen=True)
class PHTest(Result):
    """Result of :func:`ph_test`: a score test per covariate and a global test.

    Attributes
    ----------
    table
        ``term, chisq, df, p_value``, with a final ``GLOBAL`` row.
    transform
        The function of time the effects were allowed to change with.
    """

    _title: ClassVar[str] = "Test of proportional hazards"
    _options: ClassVar[tuple[str, ...]] = ("transform",)

    table: pd.DataFrame
    transform: Transform = "km"

    @property
    def global_p(self) -> float:
        """P-value of the global test that every hazard ratio is constant over time.

        Returns
        -------
        float
            The ``p_value`` of the table's final ``GLOBAL`` row.
        """
        return float(self.table.iloc[-1]["p_value"])

    def _terms(self) -> list[dict[str, Any]]:
        nan = float("nan")
        return [{"term": r["term"], "estimate": r["chisq"], "se": nan, "ci_low": nan,
                 "ci_high": nan, "df": float(r["df"]), "p_value": r["p_value"]}
                for _, r in self.table.iterrows()]


def ph_test(fit: CoxResult, *, transform: Transform = "km") -> PHTest:
    """Score test that each hazard ratio is constant over time (R survival 3.x ``cox.zph``).

    For each covariate, the test asks whether adding ``x · g(t)`` to the model improves it,
    where ``g`` is the chosen transform of time; the global test adds all of them at once.

    Parameters
    ----------
    fit
        A :func:`cox` result.
    transform
        ``"km"`` (one minus the left-continuous Kaplan–Meier estimate, R's default),
        ``"rank"`` or ``"identity"``.

    References
    ----------
    Grambsch, P. M., & Therneau, T. M. (1994). Proportional hazards tests and diagnostics
    based on weighted residuals. *Biometrika*, 81, 515–526.

    Therneau, T. M. (2024). ``cox.zph`` in *survival* 3.x (score test form).

    Raises
    ------
    EvalDataError
        When every event happens at the same time (R's ``cox.zph`` stops with "system is
        exactly singular"), or when a covariate's change over time carries no information.
    """
    check_option("transform", transform, get_args(Transform))
    if not fit._parts:
        raise ValueError("this Cox result does not carry its data")
    if fit.start is not None:
        raise ValueError("ph_test does not take a Cox fit on (start, stop] data")
    parts = fit._parts
    all_t = np.concatenate([s.time for s in parts])
    all_e = np.concatenate([s.event for s in parts])
    if transform == "rank":
        from scipy.stats import rankdata

        ranks = rankdata(all_t)
    p = len(fit.terms)
    U2 = np.zeros(p)
    I = np.zeros((2 * p, 2 * p))
    offset = 0
    efron = fit.ties == "efron"
    g_at_events = []
    g2_events = 0.0  # Σ w g² over the events: the time columns' scale, as covariate_spread
    for s in parts:
        m = s.time.size
        if transform == "identity":
            g_row = s.time
        elif transform == "rank":
            g_row = ranks[offset:offset + m]
        else:
            g_row = _km_left(s.time, all_t, all_e)
        offset += m
        g = np.add.reduceat(g_row, s.start) / np.diff(np.append(s.start, m))
        g_at_events.append(g_row[s.event > 0])
        ts = _time_sums(s, fit.coef, efron)
        dead = s.event > 0
        g2_events += float((s.w * g_row ** 2)[dead].sum())
        U2 += ((s.w * g_row)[:, None] * s.X)[dead].sum(axis=0) - (g[:, None] * ts.mean()).sum(axis=0)
        I[:p, :p] += ts.info()
        I[:p, p:] += ts.info(g)
        I[p:, p:] += ts.info(g * g)
    I[p:, :p] = I[:p, p:].T
    g_events = np.concatenate(g_at_events)
    if g_events.size == 0 or np.ptp(g_events) <= 1e-12 * max(1.0, float(np.abs(g_events).max())):
        # R's cox.zph stops here with "system is exactly singular"
        raise EvalDataError([DataProblem(
            None, "every event happens at the same time, so there is no change over time to "
            "test: the proportional-hazards test needs events at two or more different times",
            "events at more than one time")])
    events, spread = covariate_spread(list(parts))
    bad = [j - p for j in _singular_columns(I, scale=np.concatenate([events * spread,
                                                                     g2_events * spread]))
           if j >= p]
    if bad:
        raise EvalDataError([DataProblem(
            fit.terms[j], "cannot be tested for a change of its effect over time: the "
            "information about such a change is zero (the covariate does not vary among those "
            "at risk at the event times once time is taken into account)",
            "a covariate that varies among those at risk at different event times")
            for j in bad])
    u_full = np.concatenate([np.zeros(p), U2])
    rows = []
    for i, term in enumerate(fit.terms):
        sel = list(range(p)) + [p + i]
        sub = I[np.ix_(sel, sel)]
        uu = u_full[sel]
        chisq = float(uu @ np.linalg.solve(sub, uu))
        rows.append({"term": term, "chisq": chisq, "df": 1,
                     "p_value": float(special.chdtrc(1, chisq))})
    glob = float(u_full @ np.linalg.solve(I, u_full))
    rows.append({"term": "GLOBAL", "chisq": glob, "df": p,
                 "p_value": float(special.chdtrc(p, glob))})
    return PHTest(table=pd.DataFrame(rows), transform=transform)

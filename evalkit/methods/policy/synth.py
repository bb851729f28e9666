"""Synthetic control for one treated unit (Abadie, Diamond & Hainmueller 2010).

The synthetic control is a weighted average of donor units, weights ``W`` non-negative and
summing to one, chosen so that the donors' predictors match the treated unit's before the
intervention; inference is by in-space placebos, each donor in turn refitted as if treated.
The nested optimisation follows R ``Synth::synth``: ``W`` given the predictor weights ``V``
is a quadratic programme on the simplex, and ``V`` is chosen to minimise the pre-period mean
squared prediction error (MSPE) of the outcome.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from evalkit.data import source_of
from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.results import Caution, Result, fmt_num

__all__ = ["PredictorSpec", "SyntheticControl", "simplex_least_squares", "synthetic_control"]

#: One predictor: a column averaged over the pre-period, or ``(column, times)``: the column
#: averaged over the given times (one time gives that period's value, e.g. a lagged outcome).
PredictorSpec = str | tuple[str, Any]

#: The synthetic path misses the treated unit's pre-period outcome by more than this share of
#: the treated unit's own pre-period standard deviation: the fit is called poor.
POOR_FIT = 0.25
#: ADH (2010, Figure 6): placebos whose pre-period MSPE exceeds this multiple of the treated
#: unit's are left out of the restricted p-value.
MSPE_CUTOFF = 5.0


@dataclasses.dataclass(frozen=True)
class SyntheticControl(Result):
    """Result of :func:`synthetic_control`.

    Inference is by the in-space placebo permutation p-value only: ``se``, ``ci_low`` and
    ``ci_high`` are NaN (the synthetic control method has no sampling standard error).

    Attributes
    ----------
    estimate
        The mean post-period gap (treated minus synthetic): the effect on the treated unit,
        averaged over the post-period (row ``"ATT"`` of ``to_frame``).
    se, ci_low, ci_high
        NaN.
    p_value
        Share of all units (treated and donors refitted as placebos) whose post/pre RMSPE
        ratio is at least the treated unit's (ADH 2010, Fig. 7; Abadie et al. 2015). Its
        smallest value is ``1 / n_units``. NaN without placebos.
    p_value_restricted
        ADH (2010, Fig. 6): among the treated unit and the placebos whose pre-period MSPE is at
        most 5 times the treated unit's, the share whose post-period RMSPE is at least the
        treated unit's.
    weights
        Donor weights ``W`` (non-negative, summing to 1), indexed by donor unit.
    v_weights
        Predictor weights ``V`` (diagonal, summing to 1), indexed by predictor.
    balance
        Per predictor: ``treated``, ``synthetic`` (the weighted donors) and ``donor_mean``.
    gaps
        Columns ``time, treated, synthetic, gap`` for every period.
    pre_rmspe, post_rmspe, post_pre_ratio
        Root mean squared gap before and from ``start``, and their ratio.
    placebo_gaps
        Long frame ``unit, time, gap``: each donor refitted as treated (the treated unit left
        out of its donors). Empty without placebos.
    placebo_stats
        One row per unit (the treated unit first): ``unit, treated, pre_rmspe, post_rmspe,
        post_pre_ratio``.
    treated_unit, start, n_units, n_donors, n_pre, n_post
        The design: the treated unit, the first treated period, units (treated and donors),
        donors, periods before and from ``start``.
    v_method
        How ``V`` was found: ``"custom"`` (given), ``"single predictor"``, ``"closed form"``
        (predictors are the pre-period outcomes) or ``"optimised"`` (Nelder–Mead from the
        equal and the regression-based start, the better kept).
    placebo
        Whether the placebos were run.
    """

    _title: ClassVar[str] = "Synthetic control"
    _options: ClassVar[tuple[str, ...]] = ("v_method", "placebo")

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    p_value_restricted: float
    weights: pd.Series
    v_weights: pd.Series
    balance: pd.DataFrame
    gaps: pd.DataFrame
    pre_rmspe: float
    post_rmspe: float
    post_pre_ratio: float
    placebo_gaps: pd.DataFrame
    placebo_stats: pd.DataFrame
    treated_unit: Any
    start: Any
    n_units: int
    n_donors: int
    n_pre: int
    n_post: int
    v_method: str
    placebo: bool = True

    def _terms(self) -> list[dict[str, Any]]:
        return [{"term": "ATT", "estimate": self.estimate, "se": self.se,
                 "ci_low": self.ci_low, "ci_high": self.ci_high, "p_value": self.p_value,
                 "pre_rmspe": self.pre_rmspe, "post_rmspe": self.post_rmspe,
                 "post_pre_ratio": self.post_pre_ratio,
                 "p_value_restricted": self.p_value_restricted}]

    def _details(self) -> list[str]:
        top = self.weights[self.weights > 0.001].sort_values(ascending=False)
        shown = ", ".join(f"{u} {w:.3f}" for u, w in top.items())
        return [f"Treated unit {self.treated_unit}, from {self.start}; "
                f"{self.n_donors} donors, {self.n_pre} pre-periods, {self.n_post} post-periods.",
                f"Donor weights: {shown}.",
                f"Pre-period RMSPE {fmt_num(self.pre_rmspe)}; post/pre RMSPE ratio "
                f"{fmt_num(self.post_pre_ratio)}. Inference is by the placebo permutation "
                "p-value only (no standard error)."]


# -- the inner problem: W given V --------------------------------------------------------------

def simplex_least_squares(A: np.ndarray, b: np.ndarray, *, start: np.ndarray | None = None,
                          max_iter: int = 1000) -> np.ndarray:
    """Minimise ``||A w - b||^2`` over ``w >= 0``, ``sum(w) = 1`` by a primal active set.

    The active-set method of Nocedal & Wright (2006, Algorithm 16.3), started from the best
    single column (or from ``start``, a feasible point) and exact up to rounding, where R
    ``Synth`` uses the interior-point ``kernlab::ipop`` (accurate to about ``5e-4``). Where
    several ``w`` fit equally well, the subproblems take the least-squares solution of
    smallest norm (deterministic).

    Parameters
    ----------
    A
        The ``k x J`` matrix (columns: donors).
    b
        The length-``k`` target.
    start
        A feasible starting point (a warm start), optional.
    max_iter
        Iterations before giving up (the current feasible point is returned).

    Returns
    -------
    numpy.ndarray
        The weights, length ``J``.

    References
    ----------
    Nocedal, J., & Wright, S. J. (2006). *Numerical Optimization* (2nd ed.), §16.5.
    """
    J = A.shape[1]
    if start is None:
        j = int(np.argmin(np.sum((A - b[:, None]) ** 2, axis=0)))
        w = np.zeros(J)
        w[j] = 1.0
    else:
        w = np.clip(np.asarray(start, float), 0, None)
        w = w / w.sum()
    free = w > 0
    scale = max(float(np.max(np.sum(A**2, axis=0))), 1e-300)
    for _ in range(max_iter):
        F = np.flatnonzero(free)
        target = np.zeros(len(F))
        target[0] = 1.0
        if len(F) > 1:
            # minimise ||A_F w_F - b||^2 on sum(w_F) = 1, with w_F = (1 - sum(z), z): a
            # plain least-squares problem in z
            M = A[:, F[1:]] - A[:, [F[0]]]
            z = np.linalg.lstsq(M, b - A[:, F[0]], rcond=None)[0]
            target = np.r_[1.0 - z.sum(), z]
        p = target - w[F]
        if np.max(np.abs(p)) <= 1e-12:
            g = A.T @ (A @ w - b)
            mu = g - float(np.mean(g[F]))
            mu[F] = 0.0
            i = int(np.argmin(mu))
            if mu[i] >= -1e-13 * scale:
                break
            free[i] = True
            continue
        neg = p < 0
        ratios = np.where(neg, w[F] / np.where(neg, -p, 1.0), np.inf)
        k = int(np.argmin(ratios))
        alpha = min(1.0, float(ratios[k]))
        w[F] = w[F] + alpha * p
        if alpha < 1.0:
            w[F[k]] = 0.0
            free[F[k]] = False
        w = np.clip(w, 0, None)
    return w / w.sum()


def _w_given_v(v: np.ndarray, X1s: np.ndarray, X0s: np.ndarray, Z1: np.ndarray,
               Z0: np.ndarray, start: np.ndarray | None = None) -> np.ndarray:
    """``W`` given ``V``, ties broken by the pre-period outcome fit.

    Among ``W`` that match the predictors equally well (a treated unit inside the donors'
    hull), the one that best fits the pre-period outcomes (a ``1e-8`` relative weight).
    """
    sv = np.sqrt(v)
    A, b = sv[:, None] * X0s, sv * X1s
    tie = np.sqrt(1e-8 * np.sum(A**2) / max(float(np.sum(Z0**2)), 1e-300))
    return simplex_least_squares(np.vstack([A, tie * Z0]), np.r_[b, tie * Z1], start=start)


def _fit(X1: np.ndarray, X0: np.ndarray, Z1: np.ndarray, Z0: np.ndarray,
         v_rule: str, custom_v: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, bool]:
    """The nested problem of ``Synth::synth``: ``(w, v, converged)``."""
    allx = np.column_stack([X0, X1])
    sd = allx.std(axis=1, ddof=1)
    sd = np.where(sd > 0, sd, 1.0)
    X0s, X1s = X0 / sd[:, None], X1 / sd
    k = len(X1)
    if v_rule == "custom" and custom_v is not None:
        v = np.abs(custom_v) / np.abs(custom_v).sum()
        return _w_given_v(v, X1s, X0s, Z1, Z0), v, True
    if v_rule == "single predictor":
        v = np.ones(1)
        return _w_given_v(v, X1s, X0s, Z1, Z0), v, True
    if v_rule == "closed form":
        # X is Z: V proportional to the variances makes the W-loss the pre-period MSPE itself,
        # so its minimiser is the global minimum of the outer problem.
        v = sd**2 / np.sum(sd**2)
        return _w_given_v(v, X1s, X0s, Z1, Z0), v, True
    warm: list[np.ndarray | None] = [None]

    def loss(x: np.ndarray) -> float:
        a = np.abs(x)
        s = a.sum()
        if not np.isfinite(s) or s <= 0:
            return np.inf
        w = _w_given_v(a / s, X1s, X0s, Z1, Z0, warm[0])
        warm[0] = w
        return float(np.mean((Z1 - Z0 @ w) ** 2))

    starts = [np.full(k, 1.0 / k)]
    Xall = np.column_stack([np.ones(X0.shape[1] + 1), np.column_stack([X1s, X0s]).T])
    Zall = np.column_stack([Z1, Z0])
    try:
        xtx = Xall.T @ Xall
        if np.linalg.cond(xtx) < 1e12:
            beta = np.linalg.solve(xtx, Xall.T @ Zall.T)[1:]
            sv2 = np.sum(beta**2, axis=1)
            if sv2.sum() > 0:
                starts.append(sv2 / sv2.sum())
    except np.linalg.LinAlgError:
        pass
    best: tuple[float, np.ndarray, bool] | None = None
    for x0 in starts:  # as optimx(method = c("Nelder-Mead", "BFGS")), the better of the two
        for method, opts in (("Nelder-Mead", {"maxiter": 500, "fatol": 1e-10}),
                             ("BFGS", {"maxiter": 100, "gtol": 1e-8})):
            warm[0] = None
            res = minimize(loss, x0, method=method, options=opts)
            val = float(res.fun)
            if best is None or val < best[0]:
                best = (val, np.asarray(res.x), bool(res.success))
    assert best is not None
    # one restart of Nelder-Mead from the best point (a fresh simplex) to leave flat spots
    warm[0] = None
    res = minimize(loss, best[1], method="Nelder-Mead", options={"maxiter": 500, "fatol": 1e-10})
    if float(res.fun) < best[0]:
        best = (float(res.fun), np.asarray(res.x), best[2] and bool(res.success))
    v = np.abs(best[1]) / np.abs(best[1]).sum()
    return _w_given_v(v, X1s, X0s, Z1, Z0), v, best[2]


# -- data preparation --------------------------------------------------------------------------

def _fail(column: str | None, message: str, expected: str, source: str) -> EvalDataError:
    return EvalDataError([DataProblem(column, message, expected)], source=source)


def _list(values: Sequence[Any], k: int = 8) -> str:
    shown = ", ".join(str(v) for v in list(values)[:k])
    return shown + (f" and {len(values) - k} more" if len(values) > k else "")


def _predictor_specs(predictors: Sequence[PredictorSpec] | None, outcome: str,
                     pre: np.ndarray, times: np.ndarray, data: pd.DataFrame,
                     source: str) -> list[tuple[str, str, list[Any]]]:
    """``(name, column, times)`` for each predictor, checked."""
    if predictors is None:
        return [(f"{outcome} ({t})", outcome, [t]) for t in pre]
    if isinstance(predictors, str):
        predictors = [predictors]
    out: list[tuple[str, str, list[Any]]] = []
    for spec in predictors:
        if isinstance(spec, str):
            col, when = spec, list(pre)
            name = col
        elif isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str):
            col = spec[0]
            raw = spec[1]
            when = (list(raw) if isinstance(raw, (list, tuple, range, np.ndarray, pd.Index))
                    else [raw])
            if not when:
                raise ValueError(f"predictor {spec!r} lists no times")
            name = (f"{col} ({when[0]})" if len(when) == 1 else
                    f"{col} (mean {when[0]}–{when[-1]})")
        else:
            raise ValueError(f"a predictor is a column name or (column, times), not {spec!r}")
        if col not in data.columns:
            raise _fail(col, "predictor column is missing", "a column of the data", source)
        late = [t for t in when if t not in set(pre)]
        if late:
            where = ("not among the data's times" if any(t not in set(times) for t in late)
                     else "on or after the intervention")
            raise _fail(col, f"predictor {name!r} uses times {_list(late)}, {where}",
                        "pre-intervention times only", source)
        if any(n == name for n, _, _ in out):
            raise ValueError(f"predictor {name!r} is given twice")
        out.append((name, col, when))
    return out


def _matrix(data: pd.DataFrame, unit: str, time: str, col: str, source: str) -> pd.DataFrame:
    values = pd.to_numeric(data[col], errors="coerce")
    bad = values.isna() & data[col].notna()
    if bad.any():
        raise _fail(col, f"values are not numbers ({int(bad.sum())} rows)", "numbers", source)
    return pd.DataFrame({unit: data[unit], time: data[time], col: values}).pivot(
        index=time, columns=unit, values=col)


def _poor_fit_caution(y_pre: np.ndarray, donors_pre: np.ndarray, pre_times: np.ndarray,
                      pre_rmspe: float, outcome: str) -> Caution | None:
    sd = float(np.std(y_pre, ddof=1)) if len(y_pre) > 1 else float("nan")
    above = [t for t, y, d in zip(pre_times, y_pre, donors_pre, strict=True) if y > d.max()]
    below = [t for t, y, d in zip(pre_times, y_pre, donors_pre, strict=True) if y < d.min()]
    rel = pre_rmspe / sd if sd > 0 else (0.0 if pre_rmspe == 0 else np.inf)
    outside = ""
    if above:
        outside += f" It lies above every donor in {len(above)} pre-period(s) ({_list(above)})."
    if below:
        outside += f" It lies below every donor in {len(below)} pre-period(s) ({_list(below)})."
    if outside:
        outside += (" No weighted average of the donors can reach those values: the treated "
                    "unit is outside the convex hull of the donors there.")
    if rel > POOR_FIT:
        return Caution(
            f"Poor pre-period fit: the synthetic control misses the treated unit's {outcome} "
            f"by {fmt_num(pre_rmspe)} on average before the intervention (RMSPE), "
            f"{fmt_num(rel, 2)} times the treated unit's own pre-period standard deviation "
            f"({fmt_num(sd)}).{outside} The gaps after the intervention mix the effect with "
            "this misfit; the estimate is not credible as it stands.", limits=True)
    if outside:
        return Caution(
            f"The pre-period fit is close (RMSPE {fmt_num(pre_rmspe)}, {fmt_num(rel, 2)} times "
            f"the treated unit's pre-period standard deviation), but not exact.{outside}",
            limits=False)
    return None


# -- the estimator -----------------------------------------------------------------------------

def synthetic_control(
    data: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    treated_unit: Hashable,
    start: Any,
    *,
    predictors: Sequence[PredictorSpec] | None = None,
    placebo: bool = True,
    custom_v: Sequence[float] | None = None,
) -> SyntheticControl:
    """Synthetic control for one treated unit, with in-space placebo inference.

    As Abadie, Diamond & Hainmueller (2010) and R ``Synth::synth``. The donor weights ``W``
    minimise ``(X1 - X0 W)' V (X1 - X0 W)`` over the simplex, with predictors divided by their
    standard deviation across all units (treated and donors), as ``synth`` does. ``V``
    (diagonal, summing to 1) minimises the pre-period MSPE of the outcome; as ``synth``'s
    default, the search starts once from equal weights and once from the regression-based
    weights and keeps the better. Inference is by permutation only: each donor is refitted as
    if treated, with the treated unit left out of its donors, and ``p_value`` is the share of
    all units whose post/pre RMSPE ratio is at least the treated unit's (ADH 2010, Fig. 7;
    Abadie, Diamond & Hainmueller 2015). ``se`` and the interval are NaN.

    Same as R ``Synth``: the scaling of predictors, the loss, the two starting values of ``V``
    and the choice between them, ``V`` as ``|v| / sum|v|``, predictors as means over their
    times (``predictors.op = "mean"`` with missing values skipped, ``special.predictors``) and
    the pre-period as ``time.optimize.ssr``. Different: ``W`` given ``V`` is solved exactly by
    an active-set method (:func:`simplex_least_squares`) where ``synth`` uses ``kernlab::ipop``
    (weights agree to about 1e-3); where several ``W`` match the predictors equally well (the
    treated unit inside the donors' hull of the predictors) we keep the one that best fits the
    pre-period outcomes, where ``ipop`` returns an interior point of the tied set; the outer
    search uses scipy's Nelder–Mead and BFGS (not ``optimx``'s), plus one Nelder–Mead restart
    from the better result, so ``V`` may differ where many ``V`` give the same fit (compare the
    pre-period MSPE, not ``V``); with ``predictors=None`` (every pre-period outcome a predictor) ``V`` is
    set in closed form to the predictors' variances, which makes the ``W`` problem the
    pre-period MSPE itself, the global minimum that ``synth``'s search approaches.

    Parameters
    ----------
    data
        Long panel: one row per unit and time.
    outcome, unit, time
        Column names. ``time`` values must be ordered (years, period numbers).
    treated_unit
        The unit exposed to the intervention (a value of ``unit``).
    start
        The first period of the intervention (a value of ``time``); periods before it form
        the pre-period.
    predictors
        ``None``: every pre-period outcome value (lagged outcomes). Otherwise a list whose
        entries are a column name (its mean over the pre-period) or ``(column, times)``: the
        column's mean over ``times`` (one time gives that period's value, e.g.
        ``(outcome, 1975)``; a list or range gives its mean, as ``special.predictors``). Times
        must be pre-intervention. Missing covariate values are skipped in the means.
    placebo
        Run the in-space placebos (one refit per donor) for ``p_value`` and ``placebo_gaps``.
    custom_v
        Fixed predictor weights ``V`` (R ``custom.v``), one per predictor; also used for the
        placebos. Default: found by the search.

    Returns
    -------
    SyntheticControl
        Weights, gaps, RMSPEs, permutation p-values, placebo gaps, balance and cautions.

    Raises
    ------
    EvalDataError
        A missing column, ``treated_unit`` not in the data, ``start`` not among the times or
        at the first period (no pre-period), a repeated unit and time, the treated unit with a
        missing outcome, more predictors than pre-periods, a predictor using post-period
        times, a predictor with one value for every donor or missing for a unit, or fewer than
        two donors with complete outcomes. Donors with missing outcome periods are left out,
        with a caution naming them and the periods.

    Notes
    -----
    Cautions: a pre-period RMSPE above 0.25 times the treated unit's own pre-period standard
    deviation is a poor fit (a limiting caution stating both, and the pre-periods where the
    treated unit lies above or below every donor, outside their convex hull); such periods
    with a close fit give an informing caution. Also cautioned: more predictors than
    pre-periods (``Synth`` allows it; V is then weakly determined), one post-period, fewer
    than 20 units (the p-value cannot reach 0.05), no placebos, and a V search stopped at its
    iteration limit.

    References
    ----------
    Abadie, A., Diamond, A., & Hainmueller, J. (2010). Synthetic control methods for
    comparative case studies: Estimating the effect of California's tobacco control program.
    *Journal of the American Statistical Association*, 105, 493–505.

    Abadie, A., Diamond, A., & Hainmueller, J. (2015). Comparative politics and the synthetic
    control method. *American Journal of Political Science*, 59, 495–510.

    Abadie, A., & Gardeazabal, J. (2003). The economic costs of conflict: A case study of the
    Basque Country. *American Economic Review*, 93, 113–132.

    Abadie, A., Diamond, A., & Hainmueller, J. (2011). Synth: An R package for synthetic
    control methods in comparative case studies. *Journal of Statistical Software*, 42(13).
    """
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, not {type(data).__name__}")
    source = source_of(data)
    missing = [c for c in (outcome, unit, time) if c not in data.columns]
    if missing:
        raise EvalDataError([DataProblem(c, "required column is missing", "a column of the "
                                         "data") for c in missing], source=source)
    for c in (unit, time):
        if data[c].isna().any():
            raise _fail(c, f"is empty in {int(data[c].isna().sum())} rows", "no empty cells",
                        source)
    dup = data.duplicated([unit, time])
    if dup.any():
        ex = data.loc[dup, [unit, time]].head(3).itertuples(index=False)
        raise _fail(None, f"{int(dup.sum())} rows repeat a unit and time (e.g. "
                    + "; ".join(f"{u} at {t}" for u, t in ex) + ")",
                    "one row per unit and time", source)
    units = pd.unique(data[unit])
    if treated_unit not in set(units):
        raise _fail(unit, f"has no unit {treated_unit!r} (units: {_list(units)})",
                    "the treated unit among the units", source)
    times = np.sort(pd.unique(data[time]))
    if start not in set(times):
        raise _fail(time, f"has no period {start!r} (periods {times[0]} to {times[-1]})",
                    "the intervention's first period among the times", source)
    pre, post = times[times < start], times[times >= start]
    if len(pre) == 0:
        raise _fail(time, f"the intervention starts at the first period ({start}), so there "
                    "is no pre-period to fit", "at least one period before the intervention",
                    source)
    cautions: list[Caution] = []
    if len(post) == 1:
        cautions.append(Caution(
            f"The intervention starts at the last period ({start}): the effect and the "
            "post-period RMSPE rest on that one period.", limits=False))
    Y = _matrix(data, unit, time, outcome, source).reindex(index=times)
    if Y[treated_unit].isna().any():
        gone = list(Y.index[Y[treated_unit].isna()])
        raise _fail(outcome, f"the treated unit {treated_unit!r} has no value in periods "
                    f"{_list(gone)}", "a value in every period for the treated unit", source)
    donors = [u for u in Y.columns if u != treated_unit]
    holes = {u: list(Y.index[Y[u].isna()]) for u in donors if Y[u].isna().any()}
    if holes:
        donors = [u for u in donors if u not in holes]
        cautions.append(Caution(
            f"{len(holes)} donor(s) left out for missing {outcome} periods: "
            + "; ".join(f"{u} ({_list(t, 5)})" for u, t in holes.items())
            + ". The synthetic control is built from the donors observed in every period.",
            limits=False))
    if len(donors) < 2:
        raise _fail(outcome, f"{len(donors)} donor unit(s) have a value in every period",
                    "at least two donors observed in every period", source)
    specs = _predictor_specs(predictors, outcome, pre, times, data, source)
    if len(specs) > len(pre):
        cautions.append(Caution(
            f"{len(specs)} predictors for {len(pre)} pre-period(s): the predictor weights V "
            "are chosen to fit fewer outcome periods than there are weights, so many V fit "
            "equally well and the donor weights rest on that choice.", limits=False))
    order = [treated_unit, *donors]
    mats = {c: (Y if c == outcome else _matrix(data, unit, time, c, source).reindex(
        index=times)) for c in {s[1] for s in specs}}
    X = np.vstack([mats[c].loc[w, order].mean(axis=0).to_numpy(float) for _, c, w in specs])
    for (name, col, _), row in zip(specs, X, strict=True):
        lack = [u for u, x in zip(order, row, strict=True) if np.isnan(x)]
        if lack:
            raise _fail(col, f"predictor {name!r} has no value for {_list(lack)}",
                        "a value in its periods for every unit", source)
        if np.ptp(row[1:]) == 0:
            raise _fail(col, f"predictor {name!r} has the same value for every donor",
                        "a predictor that varies across donors (remove it)", source)
    names = [s[0] for s in specs]
    if custom_v is not None:
        cv = np.asarray(custom_v, float)
        if cv.shape != (len(specs),) or not np.all(np.isfinite(cv)) or np.abs(cv).sum() == 0:
            raise ValueError(f"custom_v needs {len(specs)} finite weights, not all zero")
        v_rule = "custom"
    elif len(specs) == 1:
        cv, v_rule = None, "single predictor"
    elif predictors is None:
        cv, v_rule = None, "closed form"
    else:
        cv, v_rule = None, "optimised"
    Yall = Y[order].to_numpy(float)
    npre = len(pre)

    def fit_one(i: int, pool: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        w, v, ok = _fit(X[:, i], X[:, pool], Yall[:npre, i], Yall[:npre][:, pool], v_rule, cv)
        return Yall[:, i] - Yall[:, pool] @ w, w, v, ok

    def rmspe(g: np.ndarray) -> tuple[float, float]:
        return float(np.sqrt(np.mean(g[:npre] ** 2))), float(np.sqrt(np.mean(g[npre:] ** 2)))

    all_donors = list(range(1, len(order)))
    gap, w, v, ok = fit_one(0, all_donors)
    if not ok:
        cautions.append(Caution("The search for the predictor weights V stopped at its "
                                "iteration limit; the weights may not be the best.",
                                limits=False))
    pre_r, post_r = rmspe(gap)
    ratio = post_r / pre_r if pre_r > 0 else np.inf
    synth = Yall[:, 0] - gap
    gaps = pd.DataFrame({"time": times, "treated": Yall[:, 0], "synthetic": synth, "gap": gap})
    weights = pd.Series(w, index=pd.Index(donors, name=unit), name="weight")
    balance = pd.DataFrame({"treated": X[:, 0], "synthetic": X[:, 1:] @ w,
                            "donor_mean": X[:, 1:].mean(axis=1)},
                           index=pd.Index(names, name="predictor"))
    stats_rows = [{"unit": treated_unit, "treated": True, "pre_rmspe": pre_r,
                   "post_rmspe": post_r, "post_pre_ratio": ratio}]
    pg: list[pd.DataFrame] = []
    p_value = p_restricted = float("nan")
    if placebo:
        for i in all_donors:
            g, _, _, _ = fit_one(i, [j for j in all_donors if j != i])
            a, b = rmspe(g)
            stats_rows.append({"unit": order[i], "treated": False, "pre_rmspe": a,
                               "post_rmspe": b, "post_pre_ratio": b / a if a > 0 else np.inf})
            pg.append(pd.DataFrame({"unit": order[i], "time": times, "gap": g}))
    placebo_stats = pd.DataFrame(stats_rows)
    if placebo:
        r = placebo_stats["post_pre_ratio"].to_numpy()
        p_value = float(np.mean(r >= ratio * (1 - 1e-12)))
        keep = placebo_stats["pre_rmspe"].to_numpy() ** 2 <= MSPE_CUTOFF * pre_r**2
        post_all = placebo_stats["post_rmspe"].to_numpy()[keep]
        p_restricted = float(np.mean(post_all >= post_r * (1 - 1e-12)))
        n = len(order)
        if 1.0 / n > 0.05:
            cautions.append(Caution(
                f"With {n} units the placebo p-value cannot fall below 1/{n} = "
                f"{1.0 / n:.3f}, above 0.05: no result can reach significance at that "
                "level.", limits=True))
    else:
        cautions.append(Caution("Placebos were not run (placebo=False): the effect has no "
                                "p-value.", limits=True))
    fit_note = _poor_fit_caution(Yall[:npre, 0], Yall[:npre, 1:], pre, pre_r, outcome)
    if fit_note is not None:
        cautions.append(fit_note)
    nan = float("nan")
    return SyntheticControl(
        estimate=float(np.mean(gap[npre:])), se=nan, ci_low=nan, ci_high=nan,
        p_value=p_value, p_value_restricted=p_restricted, weights=weights,
        v_weights=pd.Series(v, index=pd.Index(names, name="predictor"), name="v"),
        balance=balance, gaps=gaps, pre_rmspe=pre_r, post_rmspe=post_r, post_pre_ratio=ratio,
        placebo_gaps=(pd.concat(pg, ignore_index=True) if pg else
                      pd.DataFrame({"unit": [], "time": [], "gap": []})),
        placebo_stats=placebo_stats, treated_unit=treated_unit, start=start,
        n_units=len(order), n_donors=len(donors), n_pre=npre, n_post=len(post),
        v_method=v_rule, placebo=bool(placebo), cautions=tuple(cautions))

"""Synthetic difference-in-differences, as R ``synthdid`` (Arkhangelsky et al. 2021).

:func:`synthetic_did` estimates the average effect on the treated units of a block design
(every treated unit adopts at the same time and stays treated) with the package's three
estimators: ``synthdid_estimate`` (unit and time weights), ``sc_estimate`` (synthetic control:
unit weights, no time weights, no intercept) and ``did_estimate`` (uniform weights: the plain
difference in differences of means). Its standard errors are the package's
``vcov(method = "placebo" | "bootstrap" | "jackknife")``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from scipy import stats

from evalkit.data import Column, source_of, validate
from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.methods.policy.synthdid_weights import collapsed_form, solve_weights, weight_problem
from evalkit.results import Caution, Result, check_alpha, check_option, merge_cautions

__all__ = ["SyntheticDiD", "synthetic_did"]

Estimator = Literal["sdid", "sc", "did"]
SEMethod = Literal["placebo", "bootstrap", "jackknife"]

#: Fewer control units than this make the placebo standard error rest on few placebo draws.
FEW_PLACEBO_CONTROLS = 10
#: A single donor with at least this share of the unit weight is named in a caution.
CONCENTRATED_WEIGHT = 0.5
_NAMES = {"sdid": "synthetic difference in differences", "sc": "synthetic control",
          "did": "difference in differences"}
_SHOWN = 8


@dataclass(frozen=True)
class SyntheticDiD(Result):
    """Result of :func:`synthetic_did`.

    Attributes
    ----------
    estimate, se, ci_low, ci_high, p_value
        The average effect on the treated units over the post-period (ATT); its standard
        error; ``estimate ± z(1 − alpha/2)·se``; the normal two-sided p-value.
    estimator, se_method, reps, seed, alpha
        The options used (``reps`` counts the placebo or bootstrap draws).
    n_treated, n_control, n_pre, n_post
        Units and periods of the block design.
    treated_units
        The treated units.
    start
        The first treated period.
    unit_weights
        The unit weights omega, by control unit (sum 1; uniform for ``"did"``).
    time_weights
        The time weights lambda, by pre-period (sum 1 for ``"sdid"``, uniform for ``"did"``,
        all zero for ``"sc"``, which compares post-period levels).
    replicates
        The placebo or bootstrap estimates (for the figure of their distribution); the
        leave-one-out estimates for the jackknife.
    trajectories
        By period: ``time``, ``treated`` (mean of the treated units), ``synthetic`` (the
        unit-weighted controls), ``synthetic_adjusted`` (shifted by the time-weighted
        pre-period gap, R ``synthdid_plot(overlay = 1)``) and ``post``.
    noise_level, zeta_omega, zeta_lambda, min_decrease
        The regularisation of the weights (R ``noise.level``, ``zeta.omega``,
        ``zeta.lambda``, ``min.decrease``).
    n_skipped
        Bootstrap draws skipped because they held no treated or no control unit.
    """

    _title: ClassVar[str] = "Synthetic difference in differences"
    _options: ClassVar[tuple[str, ...]] = ("estimator", "se_method", "reps", "seed", "alpha")

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    estimator: str
    se_method: str
    reps: int
    alpha: float
    n_treated: int
    n_control: int
    n_pre: int
    n_post: int
    treated_units: tuple[Any, ...]
    start: Any
    unit_weights: pd.Series
    time_weights: pd.Series
    replicates: np.ndarray
    trajectories: pd.DataFrame
    noise_level: float
    zeta_omega: float
    zeta_lambda: float
    min_decrease: float
    seed: int | None = None
    n_skipped: int = 0

    def _terms(self) -> list[dict[str, Any]]:
        return [{"term": "ATT", "estimate": self.estimate, "se": self.se,
                 "ci_low": self.ci_low, "ci_high": self.ci_high, "p_value": self.p_value,
                 "estimator": self.estimator, "se_method": self.se_method}]

    def _details(self) -> list[str]:
        top = self.unit_weights.sort_values(ascending=False)
        top = top[top > 0].head(5)
        lines = [f"{self.n_treated} treated and {self.n_control} control units; "
                 f"{self.n_pre} periods before {self.start} and {self.n_post} from it."]
        if len(top):
            lines.append("Largest unit weights: "
                         + ", ".join(f"{k} {v:.3f}" for k, v in top.items()))
        return lines


# -- the panel -----------------------------------------------------------------------------------

def _listing(items: list[str]) -> str:
    more = len(items) - _SHOWN
    return ", ".join(items[:_SHOWN]) + (f" and {more} more" if more > 0 else "")


def _sorted(values: np.ndarray) -> list[Any]:
    uniq = pd.unique(values)
    try:
        return list(pd.Index(uniq).sort_values())
    except TypeError:
        return list(uniq)


def _panel(data: pd.DataFrame, outcome: str, unit: str, time: str, treatment: str,
           ) -> tuple[np.ndarray, list[Any], list[Any], int, int, str]:
    """The outcome matrix (controls first, then treated, each by unit) of a block design."""
    source = source_of(data)
    clean = validate(data, [Column(outcome, allow_missing=False),
                            Column(treatment, kind="binary", allow_missing=False),
                            Column(unit, kind="string", allow_missing=False),
                            Column(time, kind="string", allow_missing=False)])
    frame = pd.DataFrame({"u": data[unit].to_numpy(), "t": data[time].to_numpy(),
                          "y": clean[outcome].to_numpy(float),
                          "w": clean[treatment].to_numpy(float)})
    dup = frame.duplicated(["u", "t"], keep=False)
    if dup.any():
        cells = frame.loc[dup, ["u", "t"]].drop_duplicates()
        raise EvalDataError([DataProblem(
            None, f"{len(cells)} {unit} × {time} cells appear more than once ("
            + _listing([f"{u} at {t}" for u, t in cells.itertuples(index=False)]) + ")",
            f"one row per {unit} and {time}")], source=source)
    units, times = _sorted(frame["u"].to_numpy()), _sorted(frame["t"].to_numpy())
    Yw = frame.pivot(index="u", columns="t", values="y").reindex(index=units, columns=times)
    Ww = frame.pivot(index="u", columns="t", values="w").reindex(index=units, columns=times)
    if Yw.isna().any().any():
        gaps = [f"{u} ({_listing([str(t) for t in Yw.columns[Yw.loc[u].isna()]])})"
                for u in Yw.index[Yw.isna().any(axis=1)]]
        raise EvalDataError([DataProblem(
            None, f"the panel is unbalanced: {len(gaps)} {unit} values lack rows for some "
            f"{time} values: " + _listing(gaps),
            f"a row for every {unit} at every {time} (synthdid's panel.matrices needs a "
            "balanced panel)")], source=source)
    W = Ww.to_numpy()
    ever = W.max(axis=1) > 0
    if not ever.any() or ever.all():
        what = "no" if not ever.any() else "every"
        raise EvalDataError([DataProblem(
            treatment, f"marks {what} {unit} as treated",
            "both treated units and never-treated control units")], source=source)
    problems = []
    off = [u for u, row in zip(units, W, strict=True)
           if row.max() > 0 and np.any(np.diff(row) < 0)]
    if off:
        problems.append(DataProblem(
            treatment, f"turns off again after adoption for {len(off)} {unit} values ("
            + _listing([str(u) for u in off]) + ")",
            "treatment that stays on from adoption to the last period"))
    first = {u: times[int(np.argmax(row > 0))] for u, row in zip(units, W, strict=True)
             if row.max() > 0}
    if len(set(first.values())) > 1:
        problems.append(DataProblem(
            treatment, "adoption is staggered: treated units start at different times ("
            + _listing([f"{u} at {t}" for u, t in first.items()]) + ")",
            "all treated units adopting at the same time (a block design, as synthdid "
            "requires; use the staggered difference-in-differences instead)"))
    if problems:
        raise EvalDataError(problems, source=source)
    t0 = times.index(next(iter(first.values())))
    if t0 < 2:
        raise EvalDataError([DataProblem(
            treatment, f"switches on at {time} {times[t0]}, leaving {t0} pre-treatment "
            "period" + ("s" if t0 != 1 else ""),
            "at least two periods before adoption")], source=source)
    n0 = int((~ever).sum())
    if n0 < 2:
        raise EvalDataError([DataProblem(
            treatment, f"leaves {n0} control {unit}", "at least two control units")],
            source=source)
    order = [i for i in range(len(units)) if not ever[i]] + [i for i in range(len(units))
                                                            if ever[i]]
    return (Yw.to_numpy()[order], [units[i] for i in order], times, n0, t0, source)


# -- estimation ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Opts:
    """The estimator's options, fixed at the full-sample fit (R ``attr(estimate, 'opts')``)."""

    estimator: str
    zeta_omega: float
    zeta_lambda: float
    min_decrease: float
    max_iter: int = 10_000

    @property
    def update_omega(self) -> bool:
        return self.estimator != "did"

    @property
    def update_lambda(self) -> bool:
        return self.estimator == "sdid"

    @property
    def omega_intercept(self) -> bool:
        return self.estimator != "sc"


def _sum_normalize(x: np.ndarray) -> np.ndarray:
    s = x.sum()
    return x / s if s != 0 else np.full(len(x), 1.0 / len(x))


def _tau(Y: np.ndarray, n0: int, t0: int, omega: np.ndarray, lam: np.ndarray) -> float:
    n1, t1 = Y.shape[0] - n0, Y.shape[1] - t0
    w = np.concatenate([-omega, np.full(n1, 1.0 / n1)])
    v = np.concatenate([-lam, np.full(t1, 1.0 / t1)])
    return float(w @ Y @ v)


def _fit_many(panels: list[tuple[np.ndarray, int]], t0: int, opts: _Opts,
              omegas: list[np.ndarray], lam: np.ndarray | None,
              ) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """``synthdid_estimate`` on each ``(Y, N0)`` with the options and starting weights given.

    Weights that the estimator updates start from ``omegas`` / ``lam`` (``None``: uniform) and
    are solved for all panels as one batch; the others are used as given.
    """
    collapsed = [collapsed_form(Y, n0, t0) for Y, n0 in panels]
    if opts.update_lambda:
        lams = solve_weights([weight_problem(c, kind="lambda", intercept=True)
                              for c in collapsed], [lam] * len(panels), zeta=opts.zeta_lambda,
                             min_decrease=opts.min_decrease, max_iter=opts.max_iter)
    else:
        lams = [np.zeros(t0) if opts.estimator == "sc" else np.full(t0, 1.0 / t0)] * len(panels)
    if opts.update_omega:
        oms = solve_weights([weight_problem(c, kind="omega", intercept=opts.omega_intercept)
                             for c in collapsed], list(omegas), zeta=opts.zeta_omega,
                            min_decrease=opts.min_decrease, max_iter=opts.max_iter)
    else:
        oms = list(omegas)
    est = np.array([_tau(Y, n0, t0, o, v)
                    for (Y, n0), o, v in zip(panels, oms, lams, strict=True)])
    return est, oms, lams


def _placebo(Y: np.ndarray, n0: int, t0: int, opts: _Opts, omega: np.ndarray,
             lam: np.ndarray, reps: int, rng: np.random.Generator) -> np.ndarray:
    """Algorithm 4 of Arkhangelsky et al.: R ``placebo_se``'s replicate estimates."""
    n1 = Y.shape[0] - n0
    m0 = n0 - n1
    perms = [rng.permutation(n0) for _ in range(reps)]
    panels = [(Y[ind], m0) for ind in perms]
    inits = [_sum_normalize(omega[ind[:m0]]) for ind in perms]
    return _fit_many(panels, t0, opts, inits, lam)[0]


def _bootstrap(Y: np.ndarray, n0: int, t0: int, opts: _Opts, omega: np.ndarray,
               lam: np.ndarray, reps: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Algorithm 2 of Arkhangelsky et al.: R ``bootstrap_sample``'s replicate estimates.

    Draws holding no treated or no control unit are skipped and drawn again.
    """
    n = Y.shape[0]
    panels: list[tuple[np.ndarray, int]] = []
    inits: list[np.ndarray] = []
    skipped = 0
    while len(panels) < reps:
        ind = np.sort(rng.integers(0, n, n))
        m0 = int((ind < n0).sum())
        if m0 == 0 or m0 == n:
            skipped += 1
            continue
        panels.append((Y[ind], m0))
        inits.append(_sum_normalize(omega[ind[:m0]]))
    return _fit_many(panels, t0, opts, inits, lam)[0], skipped


def _jackknife(Y: np.ndarray, n0: int, t0: int, omega: np.ndarray, lam: np.ndarray,
               ) -> tuple[float, np.ndarray]:
    """Algorithm 3 of Arkhangelsky et al.: R ``jackknife_se`` with the weights held fixed."""
    n = Y.shape[0]
    u = np.empty(n)
    for i in range(n):
        keep = np.delete(np.arange(n), i)
        m0 = n0 - (i < n0)
        om = _sum_normalize(np.delete(omega, i) if i < n0 else omega)
        u[i] = _tau(Y[keep], m0, t0, om, lam)
    return math.sqrt((n - 1) / n * (n - 1) * np.var(u, ddof=1)), u


# -- the public function -------------------------------------------------------------------------

def synthetic_did(
    data: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    treatment: str,
    *,
    estimator: Estimator = "sdid",
    se_method: SEMethod = "placebo",
    reps: int = 200,
    seed: int | None = None,
    alpha: float = 0.05,
) -> SyntheticDiD:
    """Synthetic difference in differences (or synthetic control, or DiD) on a block design.

    ``data`` is a long, balanced panel: one row per ``unit`` and ``time``, with ``treatment``
    0/1 switching on at one adoption time for every treated unit and staying on. The
    estimators follow R ``synthdid`` with its defaults:

    * ``"sdid"`` (``synthdid_estimate``): unit weights with an intercept and ridge penalty
      ``zeta.omega = (N_tr·T_post)^(1/4)·σ``, where σ is the standard deviation of the
      first differences of the control units' pre-period outcomes; time weights with an
      intercept and ``zeta.lambda = 1e-6·σ``; Frank–Wolfe with ``min.decrease = 1e-5·σ``,
      ``max.iter = 10000``, and the two-pass ``sparsify`` step.
    * ``"sc"`` (``sc_estimate``): unit weights without intercept and ``zeta.omega = 1e-6·σ``;
      no time weights (post-period levels are compared).
    * ``"did"`` (``did_estimate``): uniform weights, the difference in differences of means.

    Standard errors follow the package's ``vcov``: ``"placebo"`` (Algorithm 4: the controls
    are permuted and the last ``N_tr`` of them treated as placebo-treated, ``reps`` times;
    needs more controls than treated units); ``"bootstrap"`` (Algorithm 2: units drawn with
    replacement, draws without treated or without control units skipped; undefined with one
    treated unit); ``"jackknife"`` (Algorithm 3, weights held fixed; undefined with one
    treated unit or one control of nonzero weight). Replicates re-estimate the weights from
    the full-sample ones with the full-sample regularisation, as R does. The interval is
    ``estimate ± z(1 − alpha/2)·se`` and the p-value is normal.

    Parameters
    ----------
    data
        The long panel.
    outcome, unit, time, treatment
        Column names; ``treatment`` holds 0/1.
    estimator
        ``"sdid"``, ``"sc"`` or ``"did"``.
    se_method
        ``"placebo"``, ``"bootstrap"`` or ``"jackknife"``.
    reps
        Placebo or bootstrap draws (R ``replications``).
    seed
        Seed of the :func:`numpy.random.default_rng` generator of the draws.
    alpha
        One minus the confidence level.

    Returns
    -------
    SyntheticDiD
        The estimate, its interval, the weights, the replicates and the trajectories.

    Raises
    ------
    EvalDataError
        For an unbalanced panel or repeated cells (naming the units and times), treatment not
        0/1, no treated or no control units, fewer than two pre-periods or two controls, a
        treated unit whose treatment turns off, staggered adoption (naming the units and
        their adoption times), or the placebo with no more controls than treated units.

    References
    ----------
    Arkhangelsky, D., Athey, S., Hirshberg, D. A., Imbens, G. W., & Wager, S. (2021).
    Synthetic difference-in-differences. *American Economic Review*, 111(12), 4088–4118.

    R package synthdid (synth-inference/synthdid): ``panel.matrices``,
    ``synthdid_estimate``, ``sc_estimate``, ``did_estimate``, ``vcov.synthdid_estimate``.
    """
    check_option("estimator", estimator, ("sdid", "sc", "did"))
    check_option("se_method", se_method, ("placebo", "bootstrap", "jackknife"))
    alpha = check_alpha(alpha)
    if isinstance(reps, bool) or not isinstance(reps, (int, np.integer)) or reps < 2:
        raise ValueError(f"reps must be a whole number of at least 2, not {reps!r}")
    reps = int(reps)
    Y, units, times, n0, t0, source = _panel(data, outcome, unit, time, treatment)
    n, T = Y.shape
    n1, t1 = n - n0, T - t0
    noise = float(np.std(np.diff(Y[:n0, :t0], axis=1), ddof=1))
    if noise == 0 and estimator != "did":
        raise EvalDataError([DataProblem(
            outcome, "does not change from period to period for any control unit before "
            "adoption, so the weights' regularisation (scaled by that variation) is zero",
            "control outcomes that vary over the pre-period")], source=source)
    eta_omega = 1e-6 if estimator == "sc" else (n1 * t1) ** 0.25
    opts = _Opts(estimator, zeta_omega=eta_omega * noise, zeta_lambda=1e-6 * noise,
                 min_decrease=1e-5 * noise)
    start_omega = np.full(n0, 1.0 / n0)
    est_arr, oms, lams = _fit_many([(Y, n0)], t0, opts, [start_omega], None)
    estimate, omega, lam = float(est_arr[0]), oms[0], lams[0]
    cautions: list[Caution] = []
    rng = np.random.default_rng(seed)
    skipped = 0
    se = float("nan")
    if se_method == "placebo":
        if n0 <= n1:
            raise EvalDataError([DataProblem(
                treatment, f"leaves {n0} control units for {n1} treated units",
                "more control units than treated units for the placebo standard error "
                "(use se_method='bootstrap' or 'jackknife')")], source=source)
        replicates = _placebo(Y, n0, t0, opts, omega, lam, reps, rng)
        se = float(np.std(replicates))
        cautions.append(Caution(
            "The placebo standard error treats the control units' variation as a stand-in "
            "for the treated units' (Arkhangelsky et al. 2021, Algorithm 4): it assumes the "
            "treated units' noise is like the controls'.", limits=False))
        if n0 < FEW_PLACEBO_CONTROLS:
            cautions.append(Caution(
                f"Only {n0} control units supply the placebo draws, so the placebo standard "
                "error rests on few distinct placebo assignments and may be unstable.",
                limits=True))
    elif se_method == "bootstrap":
        if n1 == 1:
            replicates = np.array([])
            cautions.append(Caution(
                "With one treated unit the bootstrap standard error is undefined (R synthdid "
                "returns NA): the standard error, p-value and confidence interval are not "
                "reported. Use se_method='placebo'.", limits=True))
        else:
            replicates, skipped = _bootstrap(Y, n0, t0, opts, omega, lam, reps, rng)
            se = float(np.std(replicates))
    else:
        if n1 == 1 or np.count_nonzero(omega) == 1:
            replicates = np.array([])
            why = ("one treated unit" if n1 == 1 else
                   "one control unit carrying all the unit weight")
            cautions.append(Caution(
                f"With {why} the jackknife standard error is undefined (R synthdid returns "
                "NA): the standard error, p-value and confidence interval are not reported. "
                "Use se_method='placebo'.", limits=True))
        else:
            se, replicates = _jackknife(Y, n0, t0, omega, lam)
            if estimator == "sc":
                cautions.append(Caution(
                    "The jackknife standard error is not recommended for synthetic control "
                    "(Arkhangelsky et al. 2021, section 5): it may be far from the truth.",
                    limits=True))
    unit_weights = pd.Series(omega, index=pd.Index(units[:n0], name=unit), name="omega")
    top = int(np.argmax(omega))
    if estimator != "did" and omega[top] >= CONCENTRATED_WEIGHT:
        cautions.append(Caution(
            f"One control unit, {units[top]}, carries {omega[top]:.0%} of the unit weight: "
            "the estimate leans on that single donor.", limits=False))
    z = float(stats.norm.ppf(1 - alpha / 2))
    if np.isfinite(se):
        ci_low, ci_high = estimate - z * se, estimate + z * se
        p_value = float(2 * stats.norm.sf(abs(estimate / se))) if se > 0 else float("nan")
    else:
        ci_low = ci_high = p_value = float("nan")
    treated_path = Y[n0:].mean(axis=0)
    synthetic = omega @ Y[:n0]
    offset = float((treated_path[:t0] - synthetic[:t0]) @ lam)
    trajectories = pd.DataFrame({"time": times, "treated": treated_path,
                                 "synthetic": synthetic,
                                 "synthetic_adjusted": synthetic + offset,
                                 "post": np.arange(T) >= t0})
    return SyntheticDiD(
        estimate=estimate, se=se, ci_low=float(ci_low), ci_high=float(ci_high),
        p_value=p_value, estimator=estimator, se_method=se_method, reps=reps, alpha=alpha,
        n_treated=n1, n_control=n0, n_pre=t0, n_post=t1, treated_units=tuple(units[n0:]),
        start=times[t0], unit_weights=unit_weights,
        time_weights=pd.Series(lam, index=pd.Index(times[:t0], name=time), name="lambda"),
        replicates=np.asarray(replicates, dtype=float), trajectories=trajectories,
        noise_level=noise, zeta_omega=opts.zeta_omega, zeta_lambda=opts.zeta_lambda,
        min_decrease=opts.min_decrease, seed=seed, n_skipped=skipped,
        cautions=merge_cautions(cautions))

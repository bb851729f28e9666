"""Staggered adoption: Callaway & Sant'Anna (2021) group-time effects and aggregations."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Sequence

import numpy as np
import pandas as pd
from scipy import special

from evalkit.data import Column, source_of, validate
from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.methods.did.bootstrap import multiplier_bootstrap
from evalkit.results import Result, check_alpha


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

"""Staggered adoption: Callaway & Sant'Anna (2021) group-time effects.

Aggregations (R's ``aggte``) live in :mod:`.aggregate`, the 2×2 comparisons with covariates
(R's ``DRDID``) in :mod:`.drdid` and the multiplier bootstrap in :mod:`.bootstrap`.

The rules follow R's ``did`` (``pre_process_did.R``, ``compute.att_gt.R``, ``att_gt.R`` and
``compute.aggte.R``): which cohorts are kept, recoded or dropped, which base period each
comparison uses, which cells enter the pre-trend test and how the aggregations weight, handle
missing cells and index periods that are not evenly spaced.

This module runs over 600 lines because :func:`staggered` follows R's
``pre_process_did.R`` and ``compute.att_gt.R`` step by step in one function, so that each rule
can be checked against R's code in the order R applies it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, get_args

import numpy as np
import pandas as pd
from scipy import special

from evalkit.data import Column, source_of, validate
from evalkit.exceptions import DataProblem, DesignRefused, EvalDataError
from evalkit.methods.did.aggregate import (
    _SE_ZERO,
    Aggregate,
    AggregationKind,
    _fmt,
    _names,
    _wald,
    normal_p_value,
    pretest_result,
)
from evalkit.methods.did.aggregate import aggregate as _aggregate
from evalkit.methods.did.bootstrap import multiplier_bootstrap
from evalkit.methods.did.drdid import _CellFailed, _did_2x2
from evalkit.methods.did.drdid_rc import did_panel_weighted
from evalkit.methods.did.staggered_rc import (
    _balanced,
    _missing_as_never,
    _one_cluster,
    _panel_clusters,
    check_weights,
    staggered_rc,
)
from evalkit.results import Caution, Result, TestResult, check_alpha, check_option

#: Fewest treated units (summed over the cohorts that can be estimated) for which
#: :func:`staggered` reports intervals. Chosen by a seeded simulation of 95% interval coverage
#: (documented in :func:`staggered`).
MIN_TREATED_UNITS = 10

#: Options, named and valued as R's ``did`` names them.
ControlGroup = Literal["nevertreated", "notyettreated"]
BasePeriod = Literal["varying", "universal"]
EstMethod = Literal["dr", "reg", "ipw"]

#: Below this many treated units the result carries a caution (that lowers the evidence rating)
#: that its intervals may be too narrow. Coverage of the simple aggregation's 95% interval in
#: ``benchmarks/coverage.py`` (1,000 replications, 50 states, 15 years): 89.4% (constant
#: effect) and 91.5% (growing effect) with 10 treated states, 91.4% with 20 in cohorts of 5,
#: 94.8% and 93.7% with 35.
FEW_TREATED_UNITS = 30

#: R's ``did`` warns about any group with fewer than (number of covariates + 5) units.
SMALL_GROUP_BASE = 5



# -- results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Staggered(Result):
    """Result of :func:`staggered`.

    Attributes
    ----------
    att_gt
        ``group, time, att, se, ci_low, ci_high, post`` for every cohort and period R's ``did``
        reports (with ``base_period="universal"`` this includes the reference period, whose
        effect is 0 by construction and has no standard error). A cell that could not be
        estimated has ``att`` NaN and a caution naming it.
    pretest
        Wald test (:class:`~evalkit.results.TestResult`) that every pre-treatment ATT(g, t)
        (cells with ``group > time``) is zero: ``statistic, df, p_value`` (NaN, with a
        caution, when it cannot be computed).
    n_units
        Units used (after any dropped as already treated in the first period); with
        ``panel=False``, the observations (each row of a repeated cross-section is its own
        unit, as in R's ``did``).
    n_treated
        Units (with ``panel=False``, observations) in the cohorts whose effects are estimated.
    panel, allow_unbalanced_panel, weights
        The options of :func:`staggered` (R's ``panel``, ``allow_unbalanced_panel``,
        ``weightsname``).
    """

    _title: ClassVar[str] = "Group-time average treatment effects (Callaway & Sant'Anna)"
    _options: ClassVar[tuple[str, ...]] = ("control_group", "base_period", "anticipation",
                                           "est_method", "cluster", "alpha", "panel",
                                           "allow_unbalanced_panel", "weights")

    att_gt: pd.DataFrame
    pretest: TestResult | None
    n_units: int
    n_treated: int = 0
    control_group: ControlGroup = "nevertreated"
    base_period: BasePeriod = "varying"
    anticipation: int = 0
    est_method: EstMethod = "dr"
    cluster: str | None = None
    alpha: float = 0.05
    bootstrap: int | None = None
    seed: int | None = None
    crit_value: float | None = None
    panel: bool = True
    allow_unbalanced_panel: bool = False
    weights: str | None = None
    _inf: np.ndarray = field(default=None, repr=False, compare=False)  # type: ignore[arg-type]
    _cohort: np.ndarray = field(default=None, repr=False, compare=False)  # type: ignore[arg-type]
    _clusters: np.ndarray | None = field(default=None, repr=False, compare=False)
    _periods: np.ndarray = field(default=None, repr=False,  # type: ignore[arg-type]
                                 compare=False)
    #: which rows of ``att_gt`` are a universal base period's reference cells (0 by construction)
    _reference: np.ndarray | None = field(default=None, repr=False, compare=False)
    #: each unit's sampling weight in the cohort shares of the aggregations (None: equal)
    _unit_weights: np.ndarray | None = field(default=None, repr=False, compare=False)

    def _terms(self) -> list[dict[str, Any]]:
        p = normal_p_value(self.att_gt["att"], self.att_gt["se"])
        return [{"term": f"ATT({_fmt(r['group'])}, {_fmt(r['time'])})", "estimate": r["att"],
                 "se": r["se"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                 "p_value": float(pv)}
                for (_, r), pv in zip(self.att_gt.iterrows(), p, strict=True)]

    def _details(self) -> list[str]:
        p = self.pretest
        if p is not None and np.isfinite(p.statistic):
            test = (f"Pre-trend test: chi-squared {p.statistic:.3f} on {p.df:g} df, "
                    f"p = {p.p_value:.3g}.")
        else:
            test = "Pre-trend test: not available (see cautions)."
        what = "units" if self.panel else "observations (repeated cross-sections)"
        return [f"{self.n_units} {what} ({self.n_treated} treated). {test}"]

    # -- standard errors from influence functions (R's getSE) ---------------------------------
    def _analytic_se(self, inf: np.ndarray) -> float:
        n = self._inf.shape[0]
        if not np.all(np.isfinite(inf)):
            return float("nan")
        if self._clusters is not None:
            s = np.bincount(self._clusters, weights=inf)
            return float(np.sqrt(np.sum(s**2)) / n)
        return float(np.sqrt(np.mean(inf**2) / n))

    def _ses(self, infs: np.ndarray) -> tuple[np.ndarray, float | None]:
        """SEs of the columns of ``infs`` (bootstrap or analytic), with zero SEs set to NaN.

        Also returns the simultaneous critical value when bootstrapping (``None`` otherwise).
        """
        analytic = np.array([self._analytic_se(infs[:, k]) for k in range(infs.shape[1])])
        ses, crit = analytic.copy(), None
        if self.bootstrap:
            ses, crit = _bootstrap(infs, analytic, int(self.bootstrap), self.seed, self.alpha,
                                   self._clusters)
        ses = np.where(ses <= _SE_ZERO, np.nan, ses)
        return ses, crit

    def aggregate(self, kind: AggregationKind = "simple", *, balance_e: int | None = None,
                  min_e: float = -math.inf, max_e: float = math.inf,
                  na_rm: bool = False) -> Aggregate:
        """Average the ATT(g, t) into one effect, as R ``did::aggte``.

        ``"simple"`` weights every post-treatment ATT(g, t) by its cohort's size;
        ``"group"`` averages each cohort's post-treatment effects, then across cohorts;
        ``"dynamic"`` averages by time since adoption (an event study; ``balance_e`` keeps
        only cohorts observed for that many periods after adoption; ``min_e`` and ``max_e``
        bound the event times; its ``pretest`` is the joint Wald test that every
        pre-adoption event-time effect is zero); ``"calendar"`` by period. Standard errors
        include the estimation of the cohort-size weights.

        Periods need not be evenly spaced. As in R, event times (``"dynamic"``, ``min_e``,
        ``max_e``, ``balance_e`` there) are differences of period values, while the
        ``max_e`` limit of ``"simple"`` and ``"group"`` counts positions in the ordered list of
        periods and adoption dates.

        A group-time effect that could not be estimated (NaN) stops the aggregation, as in
        R's ``aggte(na.rm = FALSE)``; ``na_rm=True`` leaves such cells out (and, for
        ``"group"``, cohorts left with no post-treatment effect), with a caution naming them.
        """
        return _aggregate(self, kind, balance_e=balance_e, min_e=min_e, max_e=max_e,
                          na_rm=na_rm)


# -- helpers ------------------------------------------------------------------------------------


def _bootstrap(infs: np.ndarray, analytic: np.ndarray, draws: int, seed: int | None,
               alpha: float, clusters: np.ndarray | None) -> tuple[np.ndarray, float | None]:
    """Multiplier-bootstrap SEs for the columns with a finite, non-zero analytic SE.

    R's ``mboot`` leaves the other columns out; here they keep their analytic value.
    """
    ses = analytic.copy()
    ok = np.isfinite(analytic) & (analytic > _SE_ZERO)
    if not ok.any():
        return ses, None
    se_b, crit = multiplier_bootstrap(infs[:, ok], draws, seed=seed, alpha=alpha,
                                      clusters=clusters)
    ses[ok] = se_b
    return ses, crit


def _units_text(unit_values: Sequence[Any], mask: np.ndarray) -> str:
    return _names([str(u) for u in np.asarray(unit_values, dtype=object)[mask]])


# -- the estimator ------------------------------------------------------------------------------


def staggered(
    data: pd.DataFrame,
    outcome: str,
    unit: str | None,
    time: str,
    first_treated: str,
    *,
    control_group: ControlGroup = "nevertreated",
    anticipation: int = 0,
    base_period: BasePeriod = "varying",
    covariates: Sequence[str] = (),
    est_method: EstMethod = "dr",
    never_treated: float | None = 0,
    cluster: str | Sequence[str] | None = None,
    alpha: float = 0.05,
    bootstrap: int | None = None,
    seed: int | None = None,
    panel: bool = True,
    allow_unbalanced_panel: bool = False,
    weights: str | None = None,
) -> Staggered:
    """Callaway & Sant'Anna (2021) group-time average treatment effects.

    Parameters
    ----------
    data
        A balanced panel, one row per unit and period. Periods need not be evenly spaced
        (e.g. biennial surveys): each comparison's base period is the previous observed period,
        as in R's ``did``.
    outcome, unit, time
        Column names.
    first_treated
        The period each unit is first treated; ``never_treated`` (default 0) for units never
        treated; with ``never_treated=None`` a missing value means never treated. Must be
        constant within a unit. A cohort that adopts after the last period
        (plus ``anticipation``) is treated as never treated, and units treated in the first
        period (plus ``anticipation``) are dropped, both as R's ``did`` does and both with a
        caution. An adoption date need not be one of the observed periods.
    control_group
        ``"nevertreated"`` or ``"notyettreated"`` (never treated plus units not yet treated
        by the period and the base period, allowing for anticipation). Without never-treated
        units, ``"notyettreated"`` uses the last cohort as comparison only and drops the periods
        from its adoption on (as R); ``"nevertreated"`` is refused.
    anticipation
        Periods before adoption in which units may already react. It moves the base period
        of post-treatment comparisons back; as in R, a cell is post-treatment when
        ``group <= time``, so anticipation periods are pre-treatment cells compared with the
        period before them.
    base_period
        ``"varying"`` (pre-treatment effects compare adjacent periods, as R's default) or
        ``"universal"`` (always the last period before adoption minus anticipation; that
        reference cell is reported with effect 0 and no standard error, as R does).
    covariates
        Unit characteristics the comparison conditions on, taken from the earlier period of
        each comparison (as R's ``did``); an intercept is always included. A cell whose
        covariates separate the cohort from its comparison units (``"dr"``, ``"ipw"``), or
        whose comparison units' covariates are collinear (``"dr"``, ``"reg"``), gets a NaN
        effect and a caution, as R's NA with a warning.
    est_method
        ``"dr"`` (doubly robust: outcome regression and inverse propensity weighting,
        Sant'Anna & Zhao 2020), ``"reg"`` (outcome regression) or ``"ipw"`` (normalized
        inverse propensity weighting, propensity by logistic regression). Without covariates
        all three reduce to the same difference in mean changes.
    cluster
        Column to cluster on, never missing; for panel data (balanced or not) constant within
        each unit. As R's ``clustervars``, it may also be given as ``(unit, column)``: the unit
        plus at most one other variable (more raise ``ValueError``); the unit alone is the
        default. Without ``bootstrap`` the standard errors are cluster-robust, from the cluster
        sums of the influence functions, and the pre-trend tests use that variance: R's ``did``
        2.5 (``att_gt.R``, ``getSE`` in ``compute.aggte.R``) computes analytic cluster-robust
        standard errors with ``clustervars`` and ``bstrap = FALSE``. With ``bootstrap`` the
        multiplier bootstrap draws one weight per cluster and, as in R, the pre-trend tests are
        not reported.
    alpha
        1 − confidence level.
    bootstrap, seed
        Number of multiplier-bootstrap draws and the random seed. With ``bootstrap``, the
        standard errors come from the bootstrap and ``att_gt`` gains simultaneous bands
        (``band_low``, ``band_high``) that cover every ATT(g, t) at once, as R's
        ``att_gt(bstrap = TRUE, cband = TRUE)``; draws differ from R's, so bootstrap numbers
        agree with R's in distribution, not digit for digit.
    panel
        ``False`` for repeated cross-sections (R's ``panel = FALSE``), such as surveys of
        different people each year: each row is its own unit, ``unit`` may be ``None`` and
        ``n_units`` counts rows. Each ATT(g, t) compares the observations of the cohort and of
        its comparison units in the two periods with DRDID's repeated-cross-section
        estimators (``drdid_rc``, ``std_ipw_did_rc``, ``reg_did_rc`` for ``est_method`` dr,
        ipw, reg; :mod:`.drdid_rc`), covariates taken from each row. A cohort with no
        observation in a period it is compared in is refused (R reports NA).
    allow_unbalanced_panel
        As R: an unbalanced panel (units missing some periods) is estimated as repeated
        cross-sections, and each unit's influence-function values are summed, so standard
        errors are clustered on the unit; a cell whose cohort is not observed in one of its
        periods is NaN with a caution. A balanced panel is estimated as a panel whatever this
        says (R tests this too). Without it an unbalanced panel is refused.
    weights
        Column of sampling (or population) weights, R's ``weightsname``: positive and never
        missing. Normalised to mean one (as R), they weight every comparison (DRDID's
        ``i.weights``), its influence function, and the cohort shares that weight the
        aggregations (per unit: its first-period weight in a panel, the mean of its rows'
        weights in an unbalanced panel, the row's weight in a repeated cross-section). In a
        panel, weights may change over time; each comparison uses those of its earlier period
        (R's default, ``fix_weights = NULL``).

    Raises
    ------
    EvalDataError
        For data that cannot be analysed: missing values, an unbalanced panel (without
        ``allow_unbalanced_panel``), weights that are zero, negative or missing, a single period,
        no cohort left to estimate, no (or fewer than 5 + number of covariates) never-treated
        units with ``control_group="nevertreated"`` (R stops there too), a cluster that varies
        within a unit or is missing, and **fewer than** ``MIN_TREATED_UNITS`` **(10) treated
        units**. The intervals rest on a normal approximation to the mean of the treated units'
        changes, which fails with few treated units. In a seeded simulation (2,000
        replications per size; 30 never-treated units, 4 periods, one cohort, unit and period
        effects and normal errors, analytic standard errors;
        ``tests/reference/did_staggered_coverage_simulation.py``), the 95% interval of the
        ``"simple"`` aggregate covered the true effect in 27% of samples with 1 treated unit,
        70% with 2, 81% with 3, 86% with 5, 92% with 8 and 10, 93% with 15 and 94% with 20.
        Below 10 treated units the intervals are refused; a design built for one or a few
        treated units (synthetic control, or a case-study comparison) fits instead. From 10 to
        19 treated units the result carries a caution that its intervals may be slightly too
        narrow.

    Notes
    -----
    ATT(g, t) and analytic standard errors equal R's ``did::att_gt(..., xformla = ~1,
    bstrap = FALSE, cband = FALSE)``; aggregations equal ``did::aggte``. Standard errors at or
    below ``sqrt(machine epsilon) * 10`` are NaN (R's NA), with a caution. A cohort with fewer
    than 5 + (number of covariates) units (R's warning threshold) gets a caution: its own
    group-time intervals rest on very few units and are unreliable. The pre-trend test is R's
    Wald test on the cells with ``group > time`` that have a non-zero variance; its p-value is
    not rounded (R rounds it to 5 decimals). ``panel=False``, ``allow_unbalanced_panel``,
    ``weights`` and ``cluster`` equal R's ``did`` 2.5.1 on mpdta (with and without
    covariates, dr, ipw and reg; ``tests/reference/staggered_options_R.R``).

    References
    ----------
    Callaway, B., & Sant'Anna, P. H. C. (2021). Difference-in-differences with multiple time
    periods. *Journal of Econometrics*, 225, 200–230.

    R package ``did`` 2.5 (``pre_process_did.R``, ``compute.att_gt.R``, ``att_gt.R``,
    ``compute.aggte.R``), https://github.com/bcallaway11/did.
    """
    alpha = check_alpha(alpha)
    check_option("control_group", control_group, get_args(ControlGroup))
    check_option("base_period", base_period, get_args(BasePeriod))
    check_option("est_method", est_method, get_args(EstMethod))
    if (isinstance(anticipation, bool) or not isinstance(anticipation, (int, np.integer))
            or anticipation < 0):
        raise ValueError(f"anticipation must be a whole number of periods >= 0, "
                         f"not {anticipation!r}")
    if bootstrap is not None and (not isinstance(bootstrap, (int, np.integer))
                                  or bootstrap < 100):
        raise ValueError("bootstrap needs a whole number of at least 100 draws")
    covariates = list(covariates)
    cluster = _one_cluster(cluster, unit)
    for name, flag in (("panel", panel), ("allow_unbalanced_panel", allow_unbalanced_panel)):
        if not isinstance(flag, (bool, np.bool_)):
            raise ValueError(f"{name} must be True or False, not {flag!r}")
    if not panel or (allow_unbalanced_panel and not _balanced(data, unit, time)):
        return staggered_rc(data, outcome, unit, time, first_treated,
                            control_group=control_group, anticipation=int(anticipation),
                            base_period=base_period, covariates=covariates,
                            est_method=est_method, never_treated=never_treated,
                            cluster=cluster, weights=weights, panel=bool(panel), alpha=alpha,
                            bootstrap=bootstrap, seed=seed)
    if unit is None:
        raise ValueError("unit is required for panel data (panel=True)")
    needed = [c for c in dict.fromkeys([outcome, unit, time, first_treated, cluster, weights,
                                        *covariates]) if c]
    subset = data[[c for c in needed if c in data.columns]]  # validate copies what it checks
    subset.attrs = dict(data.attrs)
    source = source_of(data)
    if never_treated is None:
        never_treated, subset = _missing_as_never(subset, first_treated)
    clean = validate(subset, [Column(outcome, allow_missing=False),
                              Column(unit, kind="string", allow_missing=False),
                              Column(time, kind="integer", allow_missing=False),
                              Column(first_treated, kind="integer", allow_missing=False),
                              *[Column(c, allow_missing=False) for c in covariates],
                              *([Column(weights, allow_missing=True)] if weights else [])])
    cautions: list[str] = []
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
    negative = (cohort < 0) & (cohort != never_treated)
    if negative.any():
        raise EvalDataError([DataProblem(first_treated, "negative adoption periods for "
                                         f"unit(s) {_units_text(unit_values, negative)}",
                                         f"{_fmt(never_treated)} for never treated, or the "
                                         "period of adoption")], source=source)
    counts = np.bincount(uc * n_t + tc, minlength=n * n_t)
    if (counts > 1).any():
        cell = int(np.flatnonzero(counts > 1)[0])
        raise EvalDataError([DataProblem(unit, "the panel repeats a unit and period (e.g. "
                                         f"unit {unit_values[cell // n_t]} in "
                                         f"{period_values[cell % n_t]})",
                                         "every unit observed once in every period")],
                            source=source)
    if (counts == 0).any():
        short = (counts.reshape(n, n_t) == 0).any(axis=1)
        raise EvalDataError([DataProblem(unit, f"the panel is unbalanced: {int(short.sum())} "
                                         f"unit(s) miss some periods "
                                         f"({_units_text(unit_values, short)})",
                                         "every unit observed once in every period")],
                            source=source)
    if n_t < 2:
        raise EvalDataError([DataProblem(time, f"only one period ({period_values[0]})",
                                         "at least two periods")], source=source)
    Y = np.empty((n, n_t))
    Y[uc, tc] = clean[outcome].to_numpy(float)
    Xcov = np.empty((len(covariates), n, n_t))
    for k, c in enumerate(covariates):
        Xcov[k][uc, tc] = clean[c].to_numpy(float)
    Wt = None
    if weights:  # R's weightsname, normalised to mean one; each cell uses its earlier period's
        w_rows = clean[weights].to_numpy(float)
        check_weights(w_rows, weights, np.asarray(unit_values, dtype=object)[uc], "unit(s)",
                      source)
        Wt = np.empty((n, n_t))
        Wt[uc, tc] = w_rows / w_rows.mean()
    clusters = (None if cluster is None
                else _panel_clusters(data, cluster, unit_values, uc, n, source))
    periods = np.asarray(period_values, dtype=float)
    never = cohort == never_treated
    tmax = periods.max()

    # R: cohorts adopting after the last period (+ anticipation) are never treated in the data
    late = ~never & (cohort > tmax + anticipation)
    if late.any():
        parts = [f"{_fmt(c)} ({int(np.sum(cohort[late] == c))} units)"
                 for c in np.unique(cohort[late])]
        cautions.append(Caution(
            f"Cohort(s) {', '.join(parts)} adopt after the last period in the data "
            f"({_fmt(tmax)}"
            + (f" plus {anticipation} anticipation period(s)" if anticipation else "")
            + "); as in R's did, they are treated as never treated and serve as comparison "
            "units.", limits=False))
        cohort = np.where(late, never_treated, cohort)
        never = cohort == never_treated
    keep_periods = np.ones(n_t, dtype=bool)
    latest_only_control = None
    if not never.any():
        if control_group == "nevertreated":
            raise EvalDataError([DataProblem(first_treated, "no never-treated units",
                                             "never-treated units, or control_group="
                                             "'notyettreated' (which, as R's did, uses the "
                                             "last cohort as comparison)")], source=source)
        latest = cohort.max()
        keep_periods = periods < latest - anticipation
        latest_only_control = latest
        cautions.append(Caution(
            f"No unit stays untreated: as in R's did, the last cohort ({_fmt(latest)}) serves "
            f"only as a comparison group, so its own effect is not estimated, and periods from "
            f"{_fmt(latest - anticipation)} on are left out.", limits=False))
        if keep_periods.sum() < 2:
            raise EvalDataError([DataProblem(first_treated, "no never-treated units and fewer "
                                             "than two periods before the last cohort adopts",
                                             "never-treated units, or at least two periods "
                                             "before the last adoption")], source=source)
        periods = periods[keep_periods]
        Y = Y[:, keep_periods]
        Xcov = Xcov[:, :, keep_periods]
        Wt = None if Wt is None else Wt[:, keep_periods]
    first = periods[0]
    early = ~never & (cohort <= first + anticipation)
    if early.any():
        parts = [f"{_fmt(c)} ({int(np.sum(cohort[early] == c))} units)"
                 for c in np.unique(cohort[early])]
        cautions.append(Caution(
            f"{int(early.sum())} units already treated in the first period ({_fmt(first)}"
            + (f", allowing for {anticipation} anticipation period(s)" if anticipation else "")
            + f") are dropped, as R's did does: cohort(s) {', '.join(parts)}. They have no "
            "untreated period to compare with, so the estimates do not describe them.",
            limits=False))
        keep_units = ~early
        if not keep_units.any():
            raise EvalDataError([DataProblem(first_treated, "every unit is treated in the first "
                                             "period", "units untreated in the first period")],
                                source=source)
        unit_values = np.asarray(unit_values, dtype=object)[keep_units]
        cohort, never, Y = cohort[keep_units], never[keep_units], Y[keep_units]
        Xcov = Xcov[:, keep_units]
        Wt = None if Wt is None else Wt[keep_units]
        if clusters is not None:
            clusters = pd.factorize(clusters[keep_units])[0]
        n = int(keep_units.sum())
    glist = np.unique(cohort[~never & (cohort > first + anticipation)])
    if latest_only_control is not None:
        glist = glist[glist < latest_only_control]
    if glist.size == 0:
        raise EvalDataError([DataProblem(first_treated, "no cohort adopts within the data "
                                         "after the first period",
                                         "the period each unit is first treated, "
                                         f"{_fmt(never_treated)} if never treated")],
                            source=source)
    n_t = periods.size
    treated_units = np.isin(cohort, glist)
    n_treated = int(treated_units.sum())
    if n_treated < MIN_TREATED_UNITS:
        raise DesignRefused([DataProblem(first_treated, f"only {n_treated} treated unit(s) "
                                         f"({_units_text(unit_values, treated_units)}) adopt "
                                         "within the data; the Callaway & Sant'Anna intervals "
                                         f"need at least {MIN_TREATED_UNITS} treated units "
                                         "(with fewer, 95% intervals covered the true effect "
                                         "far less often than 95% in simulation)",
                                         f"at least {MIN_TREATED_UNITS} treated units, or a "
                                         "design built for one or a few treated units, such "
                                         "as synthetic control")], source=source,
                            alternative="a design built for one or a few treated units, such as "
                                        "synthetic control or a comparative case study",
                            reason=f"Only {n_treated} unit{'s' if n_treated != 1 else ''} "
                                   "adopted within the years observed. The Callaway–Sant'Anna "
                                   f"method needs at least {MIN_TREATED_UNITS}: with fewer, its "
                                   "95% intervals covered the true effect far less often than "
                                   "95% of the time in simulation (27% with one adopting unit, "
                                   "86% with five), so no estimate is given.")
    if n_treated < FEW_TREATED_UNITS:
        cautions.append(Caution(
            f"Only {n_treated} treated units: with fewer than {FEW_TREATED_UNITS} the 95% "
            "intervals tend to be too narrow (in simulation they covered the true effect about "
            "89–92% of the time rather than 95%).", limits=True))
    reqsize = len(covariates) + SMALL_GROUP_BASE
    if control_group == "nevertreated" and never.sum() < reqsize:
        raise EvalDataError([DataProblem(first_treated, f"only {int(never.sum())} never-treated "
                                         "unit(s), too few to serve as a reliable comparison "
                                         "(R's did stops here too)",
                                         f"at least {reqsize} never-treated units, or "
                                         "control_group='notyettreated'")], source=source)
    small = [(gg, int(np.sum(cohort == gg))) for gg in glist if np.sum(cohort == gg) < reqsize]
    if small:
        small_text = ", ".join(f"{_fmt(gg)} ({k} unit{'s' if k != 1 else ''})" for gg, k in small)
        cautions.append(Caution(f"Cohort(s) {small_text} have fewer than {reqsize} units: their "
                                "own group-time effects and intervals rest on very few units "
                                "and are unreliable (intervals too narrow); the pooled "
                                "effects are better founded.", limits=False))

    # -- group-time effects (R's compute.att_gt) ----------------------------------------------
    rows, infs = [], []
    ref_flags: list[bool] = []
    failed: list[str] = []
    z = float(special.ndtri(1 - alpha / 2))
    universal = base_period == "universal"
    t_start = 0 if universal else 1
    for g in glist:
        before = np.flatnonzero(periods + anticipation < g)
        pret_g = int(before[-1])
        treated = cohort == g
        for cur in range(t_start, n_t):
            t = periods[cur]
            post_cell = g <= t
            pret = pret_g if (universal or post_cell) else cur - 1
            if universal and pret == cur:
                rows.append({"group": g, "time": t, "att": 0.0, "post": 0})
                infs.append(np.zeros(n))
                ref_flags.append(True)
                continue
            if control_group == "nevertreated":
                control = never
            else:
                threshold = periods[max(cur, pret)] + anticipation
                control = never | ((cohort > threshold) & (cohort != g))
            sub = treated | control
            d = treated[sub].astype(float)
            y = Y[sub, cur] - Y[sub, pret]
            att, inf_sub = float("nan"), None
            if not control.any():
                failed.append(f"ATT({_fmt(g)}, {_fmt(t)}) has no comparison units")
            elif covariates or Wt is not None:
                early_i = min(cur, pret)  # weights too come from the earlier period (R)
                Xs = np.column_stack([np.ones(int(sub.sum())),
                                      *[Xcov[k][sub, early_i] for k in range(len(covariates))]])
                try:
                    att, inf_sub = (_did_2x2(y, d, Xs, est_method) if Wt is None else
                                    did_panel_weighted(y, d, Xs, Wt[sub, early_i], est_method))
                except _CellFailed as exc:
                    failed.append(f"ATT({_fmt(g)}, {_fmt(t)}): {exc}")
                else:
                    if not (np.isfinite(att) and np.all(np.isfinite(inf_sub))):
                        failed.append(f"ATT({_fmt(g)}, {_fmt(t)}): the estimate is not a "
                                      "finite number")
                        att, inf_sub = float("nan"), None
            else:
                p1 = d.mean()
                m1, m0 = y[d == 1].mean(), y[d == 0].mean()
                att = m1 - m0
                inf_sub = d * (y - m1) / p1 - (1 - d) * (y - m0) / (1 - p1)
            inf = np.full(n, np.nan)
            if inf_sub is not None:
                inf = np.zeros(n)
                inf[sub] = inf_sub * n / sub.sum()
            infs.append(inf)
            rows.append({"group": g, "time": t, "att": att, "post": int(post_cell)})
            ref_flags.append(False)
    if failed:
        cautions.append(Caution(
            f"{len(failed)} group-time effect(s) (the effect on one adoption cohort in one "
            "period, written ATT(cohort, period)) could not be estimated and are missing "
            f"(NaN), as R's did reports NA: {'; '.join(failed[:5])}"
            + (f"; and {len(failed) - 5} more" if len(failed) > 5 else "")
            + ". Averages of the effects can only leave them out.", limits=True))
    table = pd.DataFrame(rows, columns=["group", "time", "att", "post"])
    inf_mat = np.column_stack(infs)
    pre_cells = (table["group"] > table["time"]).to_numpy()
    reference = np.array(ref_flags, dtype=bool)
    result = Staggered(att_gt=table, pretest=None, n_units=n, n_treated=n_treated,
                       control_group=control_group, base_period=base_period,
                       anticipation=int(anticipation), est_method=est_method, cluster=cluster,
                       alpha=alpha, bootstrap=bootstrap, seed=seed, _inf=inf_mat,
                       _cohort=cohort, _clusters=clusters, _periods=periods,
                       _reference=reference, weights=weights,
                       _unit_weights=None if Wt is None else Wt[:, 0])
    ses, crit = result._ses(inf_mat)
    att_v = table["att"].to_numpy(float)
    table = table.assign(se=ses, ci_low=att_v - z * ses, ci_high=att_v + z * ses)
    if crit is not None:
        table = table.assign(band_low=att_v - crit * ses, band_high=att_v + crit * ses)
    table = table[[c for c in ["group", "time", "att", "se", "ci_low", "ci_high", "band_low",
                               "band_high", "post"] if c in table.columns]]
    zero_se = ~np.isnan(att_v) & np.isnan(ses) & ~reference
    if reference.any():
        cautions.append(Caution("With a universal base period the effect in each cohort's "
                                "base period (the period before adoption) is 0 by "
                                "construction and has no standard error.", limits=False))
    if zero_se.any():
        cells = [f"ATT({_fmt(a)}, {_fmt(b)})" for a, b in
                 zip(table["group"][zero_se], table["time"][zero_se], strict=True)]
        cautions.append(Caution(
            f"{len(cells)} group-time effect(s) have a sampling variance of zero "
            f"({_names(cells)}), for example because the outcome does not change between the "
            "two periods compared; no standard error or interval is shown for them.",
            limits=False))
    if clusters is not None and bootstrap is not None:
        pretest = pretest_result(float("nan"), 0.0, float("nan"))
        cautions.append(Caution(
            "The pre-trend tests are not reported with a cluster variable and the bootstrap "
            "(as in R's did): their variance would ignore the clustering, so whether trends "
            "were parallel before adoption is not tested. Judge pre-trends from the bootstrap "
            "bands.", limits=True))
    else:
        pre_idx = np.flatnonzero(pre_cells)
        pretest = _wald(att_v[pre_idx], inf_mat[:, pre_idx], clusters, "", cautions,
                        limits=False)
    if clusters is not None:
        n_cl = int(clusters.max()) + 1
        if n_cl < 30:
            cautions.append(Caution(
                f"Standard errors are clustered on '{cluster}' with only {n_cl} clusters; with "
                "fewer than about 30 clusters cluster-robust standard errors tend to be too "
                "small, so intervals may be too narrow.", limits=True))
    return Staggered(att_gt=table, pretest=pretest, n_units=n, n_treated=n_treated,
                     control_group=control_group, base_period=base_period,
                     anticipation=int(anticipation), est_method=est_method, cluster=cluster,
                     alpha=alpha, bootstrap=bootstrap, seed=seed, crit_value=crit,
                     _inf=inf_mat, _cohort=cohort, _clusters=clusters, _periods=periods,
                     _reference=reference, weights=weights,
                     allow_unbalanced_panel=bool(allow_unbalanced_panel),
                     _unit_weights=None if Wt is None else Wt[:, 0],
                     cautions=tuple(cautions))

"""Event-study regression on event-time dummies with a pre-trend test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import special

from evalkit.data import Column, source_of, validate
from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.methods.did.twfe import twfe
from evalkit.results import Caution, Result, TestResult, merge_cautions

# -- event study -------------------------------------------------------------------------------

@dataclass(frozen=True)
class EventStudy(Result):
    """Result of :func:`event_study`.

    Attributes
    ----------
    table
        ``rel_time, estimate, se, ci_low, ci_high, p_value, n_units`` (the reference period
        has estimate 0 and no SE); ``n_units`` counts treated units observed at that relative
        time.
    pretest
        Wald test (:class:`~evalkit.results.TestResult`) that every pre-period coefficient is
        zero: ``statistic, df, p_value``.
    """

    _title: ClassVar[str] = "Event study (two-way fixed effects)"
    _options: ClassVar[tuple[str, ...]] = ("window", "reference", "alpha")

    table: pd.DataFrame
    pretest: TestResult
    window: tuple[int, int] = (-5, 5)
    reference: int = -1
    alpha: float = 0.05

    def _terms(self) -> list[dict[str, Any]]:
        return [{"term": f"rel {int(r['rel_time'])}", "estimate": r["estimate"], "se": r["se"],
                 "ci_low": r["ci_low"], "ci_high": r["ci_high"], "p_value": r["p_value"]}
                for _, r in self.table.iterrows()]


def _pretest(statistic: float, df: float, p_value: float) -> TestResult:
    return TestResult(statistic=statistic, df=df, p_value=p_value,
                      method="Wald test (chi-squared, cluster-robust) of parallel pre-trends",
                      null="every pre-adoption event-time coefficient is zero")


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
    (default the unit); the result carries :func:`twfe`'s cautions (few clusters, few treated
    clusters, standard errors that cannot be estimated).

    The pre-trend test is the Wald test that every pre-period coefficient is zero. It is not
    reported (NaN, with a caution) when a pre-period standard error cannot be estimated or the
    coefficients' covariance is singular — which happens when there are no more clusters
    than pre-period coefficients, since a cluster-robust covariance has rank at most G − 1.

    Raises
    ------
    EvalDataError
        For a missing column, missing or non-numeric values, a constant outcome (or one with
        no variation within units and periods), no treated unit observed at an event time
        other than the reference, or event-time indicators collinear with the period effects
        (e.g. every unit adopting in the same period, with no never-treated unit).

    References
    ----------
    Sun, L., & Abraham, S. (2021). Estimating dynamic treatment effects in event studies with
    heterogeneous treatment effects. *Journal of Econometrics*, 225, 175–199 (on the
    limits of this regression under heterogeneous effects; compare :func:`staggered`).
    """
    lo, hi = window
    if not lo <= reference <= hi or lo >= hi:
        raise ValueError("window must be (low, high) with low < high and contain reference")
    cols = [Column(outcome, allow_missing=False),
            Column(unit, kind="string", allow_missing=False),
            Column(time, kind="integer", allow_missing=False),
            Column(first_treated, kind="integer", allow_missing=False)]
    if cluster is not None and cluster not in (unit, time, outcome, first_treated):
        cols.append(Column(cluster, kind="string", allow_missing=False))
    clean = validate(data, cols)
    source = source_of(data)
    ft = clean[first_treated].to_numpy(float)
    treated = ft != never_treated
    rel = np.clip(clean[time].to_numpy(float) - ft, lo, hi)
    work = clean.copy()
    names, counts, rels = [], [], []
    units = clean[unit].to_numpy()
    for k in range(lo, hi + 1):
        if k == reference:
            continue
        col = f"event time {k}"
        while col in work.columns:
            col = "_" + col
        ind = (treated & (rel == k)).astype(float)
        if ind.sum() == 0:
            continue
        work[col] = ind
        names.append(col)
        rels.append(k)
        counts.append(int(pd.unique(units[ind > 0]).size))
    if not names:
        raise EvalDataError([DataProblem(first_treated, "no treated unit is observed at an event "
                                         f"time other than the reference ({reference})",
                                         "treated units (first-treated period other than "
                                         f"{never_treated:g}) observed before or after "
                                         "adoption")], source=source)
    fit = twfe(work, outcome, unit, time, names, vcov="CRV1", cluster=cluster, alpha=alpha)
    cautions = list(fit.cautions)
    z_rows = fit.to_frame()
    table = pd.DataFrame({"rel_time": rels, "estimate": fit.coef, "se": fit.se,
                          "ci_low": z_rows["ci_low"], "ci_high": z_rows["ci_high"],
                          "p_value": z_rows["p_value"], "n_units": counts})
    ref_row = pd.DataFrame([{"rel_time": reference, "estimate": 0.0, "se": float("nan"),
                             "ci_low": float("nan"), "ci_high": float("nan"),
                             "p_value": float("nan"), "n_units": int(pd.unique(units[treated & (rel == reference)]).size)}])
    table = pd.concat([table, ref_row]).sort_values("rel_time").reset_index(drop=True)
    pre = [i for i, k in enumerate(rels) if k < 0]
    nan = float("nan")
    pretest = _pretest(nan, 0.0, nan)
    if pre:
        b = fit.coef[pre]
        V = fit.cov[np.ix_(pre, pre)]
        rank = 0
        if np.isfinite(V).all():
            ev = np.linalg.eigvalsh((V + V.T) / 2)
            rank = int((ev > 1e-10 * max(float(ev.max()), 0.0)).sum()) if ev.max() > 0 else 0
        if rank == len(pre):
            stat = float(b @ np.linalg.solve(V, b))
            pretest = _pretest(stat, float(len(pre)), float(special.chdtrc(len(pre), stat)))
        else:
            pretest = _pretest(nan, float(len(pre)), nan)
            why = ("some pre-adoption standard errors cannot be estimated"
                   if not np.isfinite(V).all() else
                   f"the {len(pre)} pre-adoption coefficients have a singular cluster-robust "
                   f"covariance (rank {rank}; with {fit.n_clusters} clusters it is at most "
                   f"{(fit.n_clusters or 1) - 1})")
            cautions.append(Caution(
                f"The test of parallel pre-adoption trends cannot be computed: {why}. Narrow "
                "the window or use more clusters; the pre-adoption estimates alone do not "
                "show that trends were parallel.", limits=True))
    else:
        cautions.append(Caution("No periods before adoption are estimated, so whether trends "
                                "were parallel before adoption cannot be checked.",
                                limits=True))
    return EventStudy(table=table, pretest=pretest, window=(lo, hi), reference=reference,
                      alpha=fit.alpha, cautions=merge_cautions(cautions))

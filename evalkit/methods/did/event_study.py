"""Event-study regression on event-time dummies with a pre-trend test."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import special

from evalkit.data import Column, source_of, validate
from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.methods.did.twfe import Vcov, twfe
from evalkit.results import Caution, Result, TestResult, merge_cautions

#: How the pre-trend test names each variance estimator.
_VCOV_WORDS = {"CRV1": "cluster-robust", "hetero": "heteroskedasticity-robust",
               "iid": "classical"}

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
    terms, cov
        The regressors (``"rel k"`` for each estimated event time, in order, then the
        covariates) and their covariance matrix.
    covariate_table
        ``term, estimate, se, ci_low, ci_high, p_value`` of the covariates (empty without).
    vcov, covariates, weights
        The variance estimator, covariates and weight column used.
    df, n_obs, n_clusters
        Degrees of freedom of the t intervals, observations used and clusters (CRV1).
    """

    _title: ClassVar[str] = "Event study (two-way fixed effects)"
    _options: ClassVar[tuple[str, ...]] = ("window", "reference", "vcov", "weights", "alpha")

    table: pd.DataFrame
    pretest: TestResult
    window: tuple[int, int] = (-5, 5)
    reference: int = -1
    alpha: float = 0.05
    vcov: Vcov = "CRV1"
    covariates: tuple[str, ...] = ()
    weights: str | None = None
    terms: tuple[str, ...] = ()
    cov: np.ndarray = field(default=None, repr=False, compare=False)  # type: ignore[arg-type]
    covariate_table: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    df: float = float("nan")
    n_obs: int = 0
    n_clusters: int | None = None

    @property
    def betahat(self) -> np.ndarray:
        """The estimated event-time coefficients, in event-time order (reference left out)."""
        est = self.table[self.table["rel_time"] != self.reference]
        return est["estimate"].to_numpy(float)

    @property
    def sigma(self) -> np.ndarray:
        """The covariance matrix of :attr:`betahat` (as R ``HonestDiD`` takes it)."""
        m = len(self.table) - 1
        return np.asarray(self.cov, float)[:m, :m]

    def _terms(self) -> list[dict[str, Any]]:
        return [{"term": f"rel {int(r['rel_time'])}", "estimate": r["estimate"], "se": r["se"],
                 "ci_low": r["ci_low"], "ci_high": r["ci_high"], "p_value": r["p_value"]}
                for _, r in self.table.iterrows()]


def _pretest(statistic: float, df: float, p_value: float, vcov: str = "CRV1") -> TestResult:
    return TestResult(statistic=statistic, df=df, p_value=p_value,
                      method=f"Wald test (chi-squared, {_VCOV_WORDS[vcov]}) of parallel "
                      "pre-trends",
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
    covariates: Sequence[str] = (),
    weights: str | None = None,
    vcov: Vcov = "CRV1",
) -> EventStudy:
    """Dynamic two-way fixed-effects regression on event-time indicators.

    Each treated unit's periods are counted from adoption (``time − first_treated``);
    relative times outside ``window`` are pooled into its end points, and ``reference`` is
    left out. Never-treated units have no indicators. Standard errors are CRV1 by ``cluster``
    (default the unit) unless ``vcov`` says otherwise; the result carries :func:`twfe`'s
    cautions (few clusters, few treated clusters, standard errors that cannot be estimated).

    ``covariates``, ``weights`` and ``vcov`` work as in :func:`twfe` (time-varying
    regressors; a non-negative regression-weight column, rows of weight zero left out;
    ``"CRV1"``, ``"hetero"`` or ``"iid"``). The coefficients and their covariance equal R
    ``fixest::feols(y ~ i(rel, ref = -1) + x | unit + time, weights = ~w, cluster = ~unit)``
    (fixest's default small-sample factor; t intervals with G − 1 degrees of freedom under
    CRV1, N − K otherwise).

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
    if weights is not None:
        cols.append(Column(weights, min=0, allow_missing=False))
    clean = validate(data, cols)
    source = source_of(data)
    ft = clean[first_treated].to_numpy(float)
    treated = ft != never_treated
    rel = np.clip(clean[time].to_numpy(float) - ft, lo, hi)
    work = clean.copy()
    names, counts, rels = [], [], []
    units = clean[unit].to_numpy()
    if weights is not None:  # rows of weight zero are left out of the fit, so of the counts
        positive = clean[weights].to_numpy(float) > 0
        treated = treated & positive
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
    fit = twfe(work, outcome, unit, time, names, vcov=vcov, cluster=cluster, alpha=alpha,
               covariates=covariates, weights=weights)
    cautions = list(fit.cautions)
    m = len(names)
    z_rows = fit.to_frame()
    table = pd.DataFrame({"rel_time": rels, "estimate": fit.coef[:m], "se": fit.se[:m],
                          "ci_low": z_rows["ci_low"][:m], "ci_high": z_rows["ci_high"][:m],
                          "p_value": z_rows["p_value"][:m], "n_units": counts})
    ref_row = pd.DataFrame([{"rel_time": reference, "estimate": 0.0, "se": float("nan"),
                             "ci_low": float("nan"), "ci_high": float("nan"),
                             "p_value": float("nan"), "n_units": int(pd.unique(units[treated & (rel == reference)]).size)}])
    table = pd.concat([table, ref_row]).sort_values("rel_time").reset_index(drop=True)
    pre = [i for i, k in enumerate(rels) if k < 0]
    nan = float("nan")
    pretest = _pretest(nan, 0.0, nan, vcov)
    if pre:
        b = fit.coef[pre]
        V = fit.cov[np.ix_(pre, pre)]
        rank = 0
        if np.isfinite(V).all():
            ev = np.linalg.eigvalsh((V + V.T) / 2)
            rank = int((ev > 1e-10 * max(float(ev.max()), 0.0)).sum()) if ev.max() > 0 else 0
        if rank == len(pre):
            stat = float(b @ np.linalg.solve(V, b))
            pretest = _pretest(stat, float(len(pre)), float(special.chdtrc(len(pre), stat)),
                               vcov)
        else:
            pretest = _pretest(nan, float(len(pre)), nan, vcov)
            why = ("some pre-adoption standard errors cannot be estimated"
                   if not np.isfinite(V).all() else
                   f"the {len(pre)} pre-adoption coefficients have a singular cluster-robust "
                   f"covariance (rank {rank}; with {fit.n_clusters} clusters it is at most "
                   f"{(fit.n_clusters or 1) - 1})" if vcov == "CRV1" else
                   f"the {len(pre)} pre-adoption coefficients have a singular covariance "
                   f"(rank {rank})")
            cautions.append(Caution(
                f"The test of parallel pre-adoption trends cannot be computed: {why}. Narrow "
                "the window or use more clusters; the pre-adoption estimates alone do not "
                "show that trends were parallel.", limits=True))
    else:
        cautions.append(Caution("No periods before adoption are estimated, so whether trends "
                                "were parallel before adoption cannot be checked.",
                                limits=True))
    cov_table = z_rows.iloc[m:][["term", "estimate", "se", "ci_low", "ci_high", "p_value"]]
    return EventStudy(table=table, pretest=pretest, window=(lo, hi), reference=reference,
                      alpha=fit.alpha, vcov=vcov, covariates=tuple(covariates),
                      weights=weights, terms=tuple(f"rel {k}" for k in rels) + fit.terms[m:],
                      cov=fit.cov, covariate_table=cov_table.reset_index(drop=True),
                      df=fit.df, n_obs=fit.n_obs, n_clusters=fit.n_clusters,
                      cautions=merge_cautions(cautions))

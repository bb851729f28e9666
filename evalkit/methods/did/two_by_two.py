"""The canonical 2×2 difference-in-differences."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from evalkit.data import Column, source_of, validate
from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.methods.did.bootstrap import (
    BootstrapWeights,
    WildBootstrap,
    wild_cluster_bootstrap,
)
from evalkit.methods.inference import (
    FEW_CLUSTERS,
    cluster_cautions,
    robust_ols,
    zero_se,
)
from evalkit.results import Caution, Result, check_alpha, merge_cautions

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
    wild: WildBootstrap | None = None

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
    bootstrap_weights: BootstrapWeights = "rademacher",
    seed: int | None = None,
) -> TwoByTwo:
    """The canonical difference-in-differences: ``outcome ~ treated + post + treated:post``.

    HC2 standard errors, or CR1 (Stata's small-sample factor, ``G − 1`` df) with ``cluster``,
    as R's ``estimatr::lm_robust(se_type = "HC2")`` or ``(clusters = , se_type = "stata")``.
    Without covariates the estimate equals the difference of the two groups' mean changes.
    With ``cluster`` and ``wild_bootstrap`` draws, ``wild`` adds the restricted wild cluster
    bootstrap p-value and CI (:func:`wild_cluster_bootstrap`; with Rademacher weights and
    ``2**G <= wild_bootstrap`` every sign pattern of the ``G`` clusters is enumerated).

    Degenerate inputs are refused or flagged, never shown as exact: one cluster or a
    constant outcome raises :class:`EvalDataError` naming the column; one observation per
    cell (no residual degrees of freedom) or a standard error that is zero up to rounding
    (two clusters that are the two groups) gives a NaN standard error with a caution; fewer
    than 20 clusters, or few treated or untreated clusters, adds a caution recommending the
    wild cluster bootstrap (Cameron & Miller 2015, §VI: CR1 t-tests over-reject with "few"
    clusters, from fewer than 20 to fewer than 50 by design; MacKinnon & Webb 2017 for few
    treated clusters).

    References
    ----------
    Angrist, J. D., & Pischke, J.-S. (2009). *Mostly Harmless Econometrics*, §5.2.

    Cameron, A. C., & Miller, D. L. (2015). A practitioner's guide to cluster-robust
    inference. *Journal of Human Resources*, 50, 317–372.

    MacKinnon, J. G., & Webb, M. D. (2017). Wild bootstrap inference for wildly different
    cluster sizes. *Journal of Applied Econometrics*, 32, 233–254.
    """
    alpha = check_alpha(alpha)
    if wild_bootstrap is not None and cluster is None:
        raise ValueError("the wild cluster bootstrap needs cluster")
    cols = [Column(outcome, allow_missing=False), Column(treated, kind="binary",
                                                         allow_missing=False),
            Column(post, kind="binary", allow_missing=False)]
    cols += [Column(c, allow_missing=False) for c in covariates]
    if cluster is not None:
        cols.append(Column(cluster, kind="string", allow_missing=False))
    clean = validate(data, cols)
    source = source_of(data)
    d, p = clean[treated].to_numpy(float), clean[post].to_numpy(float)
    cells = pd.crosstab(d, p)
    if cells.shape != (2, 2) or (cells.to_numpy() == 0).any():
        raise EvalDataError([DataProblem(None, "a treated × post cell is empty",
                                         "observations in all four cells")], source=source)
    y = clean[outcome].to_numpy(float)
    if np.ptp(y) == 0:
        raise EvalDataError([DataProblem(outcome, f"is constant (every value is {y[0]:g})",
                                         "an outcome that varies")], source=source)
    X = np.column_stack([np.ones(len(clean)), d, p, d * p]
                        + [clean[c].to_numpy(float) for c in covariates])
    names = ["(intercept)", treated, post, "treated × post", *covariates]
    n, k = X.shape
    groups = None
    cautions: list[str] = []
    if cluster is not None:
        groups = pd.factorize(clean[cluster])[0]
        if groups.max() < 1:
            raise EvalDataError([DataProblem(cluster, f"puts all {n} rows in one cluster",
                                             "at least 2 clusters for cluster-robust standard "
                                             "errors (or no cluster, for HC2)")],
                                source=source)
    means = clean.groupby([treated, post])[outcome].mean().unstack()
    vcov = "HC2" if cluster is None else "CR1"
    if n <= k:
        if covariates:
            raise EvalDataError([DataProblem(None, f"{n} observations for {k} coefficients "
                                             "(4 cells and " + ", ".join(covariates) + ")",
                                             f"more than {k} observations")], source=source)
        nan = float("nan")
        est = float((means.loc[1, 1] - means.loc[1, 0]) - (means.loc[0, 1] - means.loc[0, 0]))
        return TwoByTwo(
            estimate=est, se=nan, ci_low=nan, ci_high=nan, p_value=nan, n=n, means=means,
            vcov=vcov, alpha=alpha,
            cautions=(Caution(
                "Each of the four treated × post cells holds a single observation, so the "
                "difference in differences fits the data exactly and no variation is left to "
                "estimate its uncertainty: the standard error, p-value and confidence interval "
                "are not reported.", limits=True),))
    terms, _ = robust_ols(y, X, names, groups, alpha, cluster_name=cluster or "cluster")
    ols_cautions = terms.attrs.get("cautions")
    cautions += list(ols_cautions or ())
    row = terms.iloc[3].copy()
    xc = X[:, 3] - X[:, 3].mean()
    scale = float(np.linalg.norm(y - y.mean()) / np.linalg.norm(xc))
    if np.isfinite(row["se"]) and zero_se(np.array([row["se"]]), np.array([row["estimate"]]),
                                          np.array([scale]))[0]:
        row[["se", "p_value", "ci_low", "ci_high"]] = np.nan
    if not np.isfinite(row["se"]) and not ols_cautions:
        if groups is not None and groups.max() + 1 == 2:
            cautions.append(Caution(
                f"With only 2 clusters ('{cluster}') the cluster-robust standard error of the "
                "difference in differences is zero up to rounding (each group is one "
                "cluster, so the model absorbs all variation between clusters): it cannot be "
                "estimated and is not reported, nor its p-value and confidence interval.",
                limits=True))
        else:
            cautions.append(Caution(
                "The standard error of the difference in differences is zero up to rounding "
                "or undefined (the model fits the data exactly): it is not reported, nor its "
                "p-value and confidence interval.", limits=True))
    if groups is not None and cluster is not None:
        remedy = ("Use the wild cluster bootstrap (wild_bootstrap=9999) for the p-value and "
                  "confidence interval." if wild_bootstrap is None else
                  "Report the wild cluster bootstrap p-value and confidence interval instead.")
        ours = cluster_cautions(groups, cluster, treated=d * p > 0, remedy=remedy)
        if ols_cautions is not None and groups.max() + 1 < FEW_CLUSTERS:
            ours = ours[1:]  # robust_ols already cautions about the few clusters
        cautions += ours
    wild = None
    if wild_bootstrap is not None and groups is not None:  # a cluster is required above
        wild = wild_cluster_bootstrap(X, y, groups, 3, draws=wild_bootstrap,
                                      weights=bootstrap_weights, seed=seed, alpha=alpha)
        cautions += list(wild.cautions)
    return TwoByTwo(estimate=float(row["estimate"]), se=float(row["se"]),
                    ci_low=float(row["ci_low"]), ci_high=float(row["ci_high"]),
                    p_value=float(row["p_value"]), n=n, means=means, vcov=vcov, alpha=alpha,
                    wild=wild, cautions=merge_cautions(cautions))

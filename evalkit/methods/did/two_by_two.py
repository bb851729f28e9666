"""The canonical 2×2 difference-in-differences."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import numpy as np
import pandas as pd

from evalkit.data import Column, source_of, validate
from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.methods.did.bootstrap import wild_cluster_bootstrap
from evalkit.results import Result, check_alpha

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
    wild: dict[str, float] | None = None

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
    bootstrap_weights: str = "rademacher",
    seed: int | None = None,
) -> TwoByTwo:
    """The canonical difference-in-differences: ``outcome ~ treated + post + treated:post``.

    HC2 standard errors, or CR1 (Stata's small-sample factor, ``G − 1`` df) with ``cluster``.
    Without covariates the estimate equals the difference of the two groups' mean changes.
    With ``cluster`` and ``wild_bootstrap`` draws, ``wild`` adds the restricted wild cluster
    bootstrap p-value and CI (:func:`wild_cluster_bootstrap`).
    """
    from evalkit.methods.groups import robust_ols

    alpha = check_alpha(alpha)
    cols = [Column(outcome, allow_missing=False), Column(treated, kind="binary",
                                                         allow_missing=False),
            Column(post, kind="binary", allow_missing=False)]
    cols += [Column(c, allow_missing=False) for c in covariates]
    if cluster is not None:
        cols.append(Column(cluster, kind="string", allow_missing=False))
    clean = validate(data, cols)
    d, p = clean[treated].to_numpy(float), clean[post].to_numpy(float)
    cells = pd.crosstab(d, p)
    if cells.shape != (2, 2) or (cells.to_numpy() == 0).any():
        raise EvalDataError([DataProblem(None, "a treated × post cell is empty",
                                         "observations in all four cells")],
                            source=source_of(data))
    X = np.column_stack([np.ones(len(clean)), d, p, d * p]
                        + [clean[c].to_numpy(float) for c in covariates])
    groups = None if cluster is None else pd.factorize(clean[cluster])[0]
    terms, _ = robust_ols(clean[outcome].to_numpy(float), X,
                    ["(intercept)", treated, post, "treated × post", *covariates], groups, alpha)
    row = terms.iloc[3]
    means = clean.groupby([treated, post])[outcome].mean().unstack()
    wild = None
    if wild_bootstrap is not None:
        if cluster is None:
            raise ValueError("the wild cluster bootstrap needs cluster")
        wild = wild_cluster_bootstrap(X, clean[outcome].to_numpy(float), groups, 3,
                                      draws=wild_bootstrap, weights=bootstrap_weights,
                                      seed=seed, alpha=alpha)
    return TwoByTwo(estimate=float(row["estimate"]), se=float(row["se"]),
                    ci_low=float(row["ci_low"]), ci_high=float(row["ci_high"]),
                    p_value=float(row["p_value"]), n=len(clean), means=means,
                    vcov="HC2" if cluster is None else "CR1", alpha=alpha, wild=wild)

"""Missing data: multiple imputation by chained equations, Rubin's rules and attrition weights.

The weights correct for attrition at follow-up.

Youth leave programs and follow-up surveys go unanswered. Three tools::

    from evalkit import missing
    frames = missing.impute(df, ["intake_score", "placements"], m=20, seed=1)
    fits = [some_estimator(f) for f in frames]
    missing.pool([f.estimate for f in fits], [f.se for f in fits], df_complete=n - 2)

    aw = missing.attrition_weights(df, "followed_up", ["age", "intake_score"])
    # aw.weights: 1 / P(observed) for youth with a follow-up, 0 for the others

References
----------
Rubin, D. B. (1987). *Multiple Imputation for Nonresponse in Surveys*. Wiley.

Barnard, J., & Rubin, D. B. (1999). Small-sample degrees of freedom with multiple imputation.
*Biometrika*, 86, 948–955.

van Buuren, S., & Groothuis-Oudshoorn, K. (2011). mice: Multivariate imputation by chained
equations in R. *Journal of Statistical Software*, 45(3).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.methods.propensity import (
    PS_EPS,
    ess,
    fit_logit,
    logit_terms,
    model_matrix,
    separation_check,
)
from evalkit.privacy import DEFAULT_THRESHOLD
from evalkit.results import Caution, Result, check_alpha

__all__ = ["AttritionWeights", "PooledEstimate", "attrition_weights", "impute", "pool"]


# -- multiple imputation --------------------------------------------------------------------


def impute(data: pd.DataFrame, columns: Sequence[str], *, m: int = 20, seed: int | None,
           predictors: Sequence[str] | None = None, burn_in: int = 10,
           between: int = 5) -> list[pd.DataFrame]:
    """``m`` completed copies of ``data`` by multiple imputation by chained equations.

    Each column in ``columns`` is imputed from the others and from ``predictors`` by
    statsmodels' :class:`~statsmodels.imputation.mice.MICEData` (a linear model per column
    with its parameters drawn from their sampling distribution, then predictive mean matching,
    so imputed values are values observed elsewhere in the column).

    Parameters
    ----------
    data
        One row per youth.
    columns
        Numeric columns to impute (columns without missing values are allowed and left as
        they are).
    m
        Number of completed data sets (R mice's default is 5; 20 or more keeps the Monte
        Carlo error of pooled standard errors small).
    seed
        Seed of the random draws (required, so that a report can be reproduced; ``None``
        draws fresh randomness).
    predictors
        Complete numeric columns that inform the imputations; by default every other
        numeric column without missing values.
    burn_in, between
        Chained-equation cycles before the first completed data set and between
        consecutive ones.

    Returns
    -------
    list of pandas.DataFrame
        ``m`` copies of ``data`` with the missing values of ``columns`` filled in; every
        other column and the index are unchanged.

    Raises
    ------
    EvalDataError
        A column not found, not numeric, or entirely missing.

    Notes
    -----
    The imputations are random draws: they equal R ``mice`` in kind (chained equations with
    predictive mean matching), not draw for draw. Pool estimates with :func:`pool`.

    References
    ----------
    van Buuren, S. (2018). *Flexible Imputation of Missing Data* (2nd ed.). CRC Press.
    """
    from statsmodels.imputation.mice import MICEData

    if int(m) != m or m < 2:
        raise ValueError(f"m must be a whole number of at least 2, not {m!r}")
    source = "data frame"
    columns = list(columns)
    problems = []
    for c in columns:
        if c not in data.columns:
            problems.append(DataProblem(c, "column not found", "a column to impute"))
        elif not pd.api.types.is_numeric_dtype(data[c]) or pd.api.types.is_bool_dtype(data[c]):
            problems.append(DataProblem(c, "not numeric", "numbers (code categories as 0/1 "
                                        "indicators before imputing)"))
        elif data[c].isna().all():
            problems.append(DataProblem(c, "every value is missing: there is nothing to impute "
                                        "from", "some observed values"))
    if problems:
        raise EvalDataError(problems, source=source)
    if predictors is None:
        predictors = [c for c in data.columns if c not in columns
                      and pd.api.types.is_numeric_dtype(data[c])
                      and not pd.api.types.is_bool_dtype(data[c]) and not data[c].isna().any()]
    else:
        predictors = list(predictors)
        bad = [c for c in predictors if c not in data.columns or data[c].isna().any()]
        if bad:
            raise EvalDataError([DataProblem(c, "predictor not found or has missing values",
                                             "a complete numeric column") for c in bad],
                                source=source)
    used = columns + [p for p in predictors if p not in columns]
    frame = pd.DataFrame({f"v{i}": data[c].to_numpy(float) for i, c in enumerate(used)})
    varying = [f"v{i}" for i, c in enumerate(used) if frame[f"v{i}"].nunique() > 1]
    frame["one"] = 1.0  # keeps rows missing every column (MICEData drops those)
    imp = MICEData(frame, rng=np.random.default_rng(seed))
    todo = [f"v{i}" for i, c in enumerate(columns) if data[c].isna().any()]
    for v in todo:
        others = [u for u in varying if u != v]
        imp.set_imputer(v, formula=" + ".join(others) if others else "one")
    out = []
    for j in range(int(m)):
        imp.update_all(n_iter=burn_in if j == 0 else between)
        done = data.copy()
        for i, c in enumerate(columns):
            if f"v{i}" in todo:
                done[c] = imp.data[f"v{i}"].to_numpy()
        out.append(done)
    return out


# -- Rubin's rules ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PooledEstimate(Result):
    """Result of :func:`pool`.

    Attributes
    ----------
    estimate, se, df, ci_low, ci_high, p_value
        The pooled estimate ``Q̄``, its total standard error ``√T``, Barnard–Rubin degrees of
        freedom and t-based inference.
    fmi
        Fraction of missing information ``(r + 2/(df + 3)) / (r + 1)``.
    riv, lambda_
        Relative increase in variance ``(1 + 1/m) B / Ū`` and proportion of variance due to
        missingness ``(1 + 1/m) B / T``.
    ubar, b, t_var
        Within-imputation variance ``Ū``, between-imputation variance ``B``, total ``T``.
    m, df_complete
        Number of imputations, complete-data degrees of freedom (``inf`` if not given).
    """

    _title: ClassVar[str] = "Pooled estimate (Rubin's rules)"
    _options: ClassVar[tuple[str, ...]] = ("df_complete", "alpha")

    estimate: float
    se: float
    df: float
    ci_low: float
    ci_high: float
    p_value: float
    fmi: float
    riv: float
    lambda_: float
    ubar: float
    b: float
    t_var: float
    m: int
    df_complete: float = math.inf
    alpha: float = 0.05

    def _terms(self) -> list[dict[str, Any]]:
        return [{"term": "pooled estimate", "estimate": self.estimate, "se": self.se,
                 "ci_low": self.ci_low, "ci_high": self.ci_high, "p_value": self.p_value,
                 "df": self.df, "fmi": self.fmi}]

    def _details(self) -> list[str]:
        return [f"{self.m} imputations; fraction of missing information {self.fmi:.3f}; "
                f"Barnard–Rubin df {self.df:.1f}."]


def pool(estimates: Sequence[float], ses: Sequence[float], *,
         df_complete: float | None = None, alpha: float = 0.05) -> PooledEstimate:
    """Pool one estimate over ``m`` imputed data sets by Rubin's rules.

    Parameters
    ----------
    estimates
        The estimate from each completed data set.
    ses
        Its standard error from each completed data set.
    df_complete
        Degrees of freedom of the estimate had the data been complete (``n − k`` for a
        regression coefficient); ``None`` for large samples (infinite).
    alpha
        1 − confidence level.

    Returns
    -------
    PooledEstimate

    Notes
    -----
    Equals R ``mice::pool`` (``mice::pool.scalar(Q, U, n, k)`` with ``n − k =
    df_complete``): ``Q̄ = mean(Q)``, ``Ū = mean(U)``, ``B = var(Q)``,
    ``T = Ū + (1 + 1/m) B``; ``λ = (1 + 1/m) B / T`` (at least 1e-4),
    ``ν_old = (m − 1)/λ²``, ``ν_obs = (ν_com + 1)/(ν_com + 3) · ν_com (1 − λ)``,
    ``df = ν_old ν_obs / (ν_old + ν_obs)`` (``ν_old`` when ``ν_com`` is infinite).

    References
    ----------
    Rubin, D. B. (1987). *Multiple Imputation for Nonresponse in Surveys*. Wiley.

    Barnard, J., & Rubin, D. B. (1999). Small-sample degrees of freedom with multiple
    imputation. *Biometrika*, 86, 948–955.
    """
    alpha = check_alpha(alpha)
    Q = np.asarray(estimates, float).ravel()
    se = np.asarray(ses, float).ravel()
    if Q.size != se.size:
        raise ValueError(f"estimates and ses differ in length ({Q.size} and {se.size})")
    if Q.size < 2:
        raise ValueError("pool needs the estimates of at least 2 imputed data sets")
    if not (np.isfinite(Q).all() and np.isfinite(se).all() and (se >= 0).all()):
        raise ValueError("estimates and ses must be finite, and ses not negative")
    dfc = math.inf if df_complete is None else float(df_complete)
    if not dfc > 0:
        raise ValueError(f"df_complete must be positive, not {df_complete!r}")
    m = Q.size
    U = se ** 2
    qbar, ubar, b = float(Q.mean()), float(U.mean()), float(Q.var(ddof=1))
    t = ubar + (1 + 1 / m) * b
    riv = (1 + 1 / m) * b / ubar if ubar > 0 else math.inf
    lam = max((1 + 1 / m) * b / t, 1e-4) if t > 0 else 1e-4
    dfold = (m - 1) / lam ** 2
    if math.isinf(dfc):
        df = dfold
    else:
        dfobs = (dfc + 1) / (dfc + 3) * dfc * (1 - lam)
        df = dfold * dfobs / (dfold + dfobs)
    fmi = (riv + 2 / (df + 3)) / (riv + 1)
    s = math.sqrt(t)
    q = float(stats.t.ppf(1 - alpha / 2, df))
    p = float(2 * stats.t.sf(abs(qbar / s), df)) if s > 0 else float("nan")
    cautions = []
    if fmi > 0.5:
        cautions.append(Caution(f"Half or more of the information is missing (fraction "
                                f"{fmi:.2f}): the estimate rests heavily on the imputation "
                                "model.", limits=True))
    return PooledEstimate(estimate=qbar, se=s, df=float(df), ci_low=qbar - q * s,
                          ci_high=qbar + q * s, p_value=p, fmi=float(fmi), riv=float(riv),
                          lambda_=float((1 + 1 / m) * b / t) if t > 0 else 0.0, ubar=ubar,
                          b=b, t_var=t, m=m, df_complete=dfc, alpha=alpha,
                          cautions=tuple(cautions))


# -- attrition weights ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class AttritionWeights(Result):
    """Result of :func:`attrition_weights`.

    Attributes
    ----------
    weights
        ``1 / P(observed)`` for youth observed at follow-up, 0 for the others (a Series
        aligned with the data's index; multiply by propensity weights to combine them).
    p_observed
        Each youth's modelled probability of being observed.
    coef, coef_se
        The logit of being observed (``(Intercept)`` and covariate terms).
    n_observed, n_missing
        Youth observed and not observed at follow-up.
    ess
        Effective sample size of the observed youth under the weights.
    """

    _title: ClassVar[str] = "Attrition weights"
    _options: ClassVar[tuple[str, ...]] = ()

    weights: pd.Series
    p_observed: pd.Series
    coef: pd.Series
    coef_se: pd.Series
    n_observed: int
    n_missing: int
    ess: float

    def _terms(self) -> list[dict[str, Any]]:
        return logit_terms(self.coef, self.coef_se, "logit P(observed)")

    def _details(self) -> list[str]:
        return [f"{self.n_observed} youth observed at follow-up, {self.n_missing} not; "
                f"effective sample size {self.ess:.1f}."]


def attrition_weights(data: pd.DataFrame, observed: str | pd.Series,
                      covariates: Sequence[str], *,
                      threshold: int = DEFAULT_THRESHOLD) -> AttritionWeights:
    """Inverse probability of being observed at follow-up.

    Parameters
    ----------
    data
        One row per youth enrolled (observed at follow-up or not).
    observed
        0/1 (or boolean) column or Series: 1 when the youth's follow-up outcome is observed.
    covariates
        Baseline covariates that predict attrition (categorical ones as ``column[level]``).
    threshold
        Privacy threshold: an effective sample size below it draws a caution.

    Returns
    -------
    AttritionWeights

    Raises
    ------
    EvalDataError
        ``observed`` not 0/1, nobody (or everybody) missing, covariates missing or constant,
        perfect separation.

    Notes
    -----
    The logit equals R ``glm(observed ~ ..., family = binomial)``; the weights are
    ``1 / fitted`` for observed youth and 0 otherwise.

    References
    ----------
    Seaman, S. R., & White, I. R. (2013). Review of inverse probability weighting for dealing
    with missing data. *Statistical Methods in Medical Research*, 22, 278–295.
    """
    source = "data frame"
    if isinstance(observed, str):
        if observed not in data.columns:
            raise EvalDataError([DataProblem(observed, "column not found",
                                             "a 0/1 column: observed at follow-up")],
                                source=source)
        o, name = data[observed], observed
    else:
        o, name = pd.Series(observed).reindex(data.index), str(getattr(observed, "name", None)
                                                               or "observed")
    ov = pd.to_numeric(o.astype(float) if o.dtype == bool else o, errors="coerce")
    bad = ~ov.isin([0, 1]).to_numpy()
    if bad.any():
        rows = tuple(int(i) + 1 for i in np.flatnonzero(bad)[:8])
        raise EvalDataError([DataProblem(name, "values are not 0 or 1", "1 when observed at "
                                         "follow-up, 0 otherwise", rows=rows,
                                         n_rows=int(bad.sum()))], source=source)
    y = ov.to_numpy(float)
    if y.min() == y.max():
        what = "every youth is observed" if y[0] == 1 else "no youth is observed"
        raise EvalDataError([DataProblem(name, what, "some youth observed and some not")],
                            source=source)
    Xi, names = model_matrix(data, covariates, source, intercept=True)
    X, names = Xi[:, 1:], names[1:]
    const = [n for j, n in enumerate(names) if np.ptp(X[:, j]) == 0]
    if const:
        raise EvalDataError([DataProblem(n, "the covariate has the same value for every youth",
                                         "a covariate that varies") for n in const],
                            source=source)
    beta, p, cov, converged = fit_logit(y, Xi)
    cautions: list[Caution] = separation_check(beta, p, converged, Xi, names, source, y)
    w = np.where(y == 1, 1.0 / np.maximum(p, PS_EPS), 0.0)
    e = ess(w[y == 1])
    if e < threshold:
        cautions.append(Caution(f"After weighting for attrition, the observed youth count as "
                                f"only {e:.1f} (effective sample size), below the privacy "
                                f"threshold of {threshold}.", limits=True))
    big = w.max() / w[y == 1].mean()
    if big > 10:
        cautions.append(Caution(f"The largest attrition weight is {big:.0f} times the average: "
                                "a few observed youth stand in for many who were not.",
                                limits=True))
    index = data.index
    terms = ["(Intercept)", *names]
    return AttritionWeights(
        weights=pd.Series(w, index=index, name="attrition_weights"),
        p_observed=pd.Series(p, index=index, name="p_observed"),
        coef=pd.Series(beta, index=terms), coef_se=pd.Series(np.sqrt(np.diag(cov)), index=terms),
        n_observed=int(y.sum()), n_missing=int((1 - y).sum()), ess=e, cautions=tuple(cautions))


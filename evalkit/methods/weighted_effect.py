"""Program effects on weighted or matched data.

The effects are the weighted difference in means, the doubly robust weighted regression with
covariates, and for binary outcomes the risk difference and odds ratio, with the standard
errors of R ``survey::svyglm`` or, for matched data, ``lm(weights = )`` with
``sandwich::vcovCL``. The public entry point is :func:`evalkit.weighting.effect`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from scipy import stats

from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.methods.balance import design, weights_vector
from evalkit.methods.inference import (
    cluster_cautions,
    crv1_vcov,
    fit_scale,
    hc1_vcov,
    join_names,
    zero_se,
)
from evalkit.methods.propensity import fit_logit, treatment_vector
from evalkit.results import Caution, Result, check_alpha, check_option

__all__ = ["WeightedEffect", "effect", "weighted_fit"]

Vcov = Literal["survey", "vcovCL"]


@dataclasses.dataclass(frozen=True)
class WeightedEffect(Result):
    """Result of :func:`evalkit.weighting.effect`.

    Attributes
    ----------
    estimate, se, ci_low, ci_high, t, df, p_value
        The program effect: the coefficient of the treatment in the weighted regression (the
        weighted difference in means without covariates; the risk difference for a binary
        outcome), its standard error and t-based inference.
    odds_ratio, odds_ratio_ci_low, odds_ratio_ci_high, odds_ratio_p_value, log_odds_ratio_se
        For a binary outcome: the weighted (marginal) odds ratio from the weighted logistic
        regression on the treatment alone, and its inference; NaN otherwise, and NaN with a
        caution when the outcome is the same for every youth of a group (the odds ratio is
        then 0 or infinite: the logistic fit has no finite maximum).
    odds_ratio_df
        The degrees of freedom of the odds ratio's t: those of the logistic regression on the
        treatment alone (``svyglm``: ``G − 2``), whatever the covariates of the risk
        difference; infinite (a z test) with ``vcov="vcovCL"``, as ``lmtest::coeftest`` on a
        ``glm``.
    outcome_type
        ``"continuous"`` or ``"binary"``.
    vcov
        ``"survey"`` (as ``svyglm``) or ``"vcovCL"`` (as ``lm`` with ``sandwich::vcovCL``).
    n, n_treated, n_control, n_clusters, n_dropped
        Youth analysed (positive weight and an outcome), per group; clusters (when
        clustered); youth left out for a missing outcome.
    terms
        Every coefficient of the outcome regression: term, estimate, se, t, p_value, ci_low,
        ci_high.
    covariates
        The covariates of the doubly robust regression (empty: difference in means).
    imputations
        0 for an estimate on one data set; ``m`` for the estimate pooled over ``m`` imputed
        data sets by Rubin's rules (:func:`evalkit.methods.adjustment.adjust_comparison` with
        ``missing: impute``), whose ``df`` are then the Barnard–Rubin degrees of freedom.
    """

    _title: ClassVar[str] = "Program effect, weighted"
    _options: ClassVar[tuple[str, ...]] = ("vcov", "alpha")

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    t: float
    df: float
    p_value: float
    outcome_type: str
    vcov: str
    n: int
    n_treated: int
    n_control: int
    n_clusters: int | None
    n_dropped: int
    terms: pd.DataFrame
    covariates: tuple[str, ...] = ()
    odds_ratio: float = float("nan")
    odds_ratio_ci_low: float = float("nan")
    odds_ratio_ci_high: float = float("nan")
    odds_ratio_p_value: float = float("nan")
    log_odds_ratio_se: float = float("nan")
    odds_ratio_df: float = float("nan")
    alpha: float = 0.05
    imputations: int = 0

    def _terms(self) -> list[dict[str, Any]]:
        what = ("risk difference" if self.outcome_type == "binary" else
                "doubly robust weighted regression" if self.covariates else
                "weighted difference in means")
        if self.imputations:
            what += f", pooled over {self.imputations} imputations"
        rows = [{"term": f"program effect ({what})", "estimate": self.estimate, "se": self.se,
                 "ci_low": self.ci_low, "ci_high": self.ci_high, "p_value": self.p_value,
                 "statistic": self.t, "df": self.df}]
        if self.outcome_type == "binary":
            rows.append({"term": "odds ratio", "estimate": self.odds_ratio,
                         "se": self.log_odds_ratio_se, "ci_low": self.odds_ratio_ci_low,
                         "ci_high": self.odds_ratio_ci_high, "p_value": self.odds_ratio_p_value,
                         "statistic": float(np.log(self.odds_ratio) / self.log_odds_ratio_se),
                         "df": self.odds_ratio_df})
        return rows

    def _details(self) -> list[str]:
        cl = f", {self.n_clusters} clusters" if self.n_clusters else ""
        se = ("survey::svyglm" if self.vcov == "survey" else "sandwich::vcovCL (HC1)")
        out = [f"{self.n_treated} program and {self.n_control} comparison youth{cl}; "
               f"standard errors as {se}; t with {self.df:g} df."]
        if self.imputations:
            out = [f"{self.n_treated} program and {self.n_control} comparison youth{cl}; "
                   f"each of {self.imputations} imputed data sets with standard errors as "
                   f"{se}, pooled by Rubin's rules (R mice::pool); t with {self.df:.1f} "
                   "Barnard–Rubin df."]
        if self.outcome_type == "binary" and np.isfinite(self.odds_ratio):
            test = (f"t with {self.odds_ratio_df:g} df" if np.isfinite(self.odds_ratio_df)
                    else "a normal (z) test")
            out.append("The odds ratio's standard error is that of the log odds ratio; "
                       f"{test}.")
        return out


def _codes(data: pd.DataFrame, cluster: str | pd.Series, keep: np.ndarray,
           source: str | None) -> tuple[np.ndarray, str]:
    if isinstance(cluster, str):
        if cluster not in data.columns:
            raise EvalDataError([DataProblem(cluster, "column not found", "cluster ids")],
                                source=source)
        c, name = data[cluster], cluster
    else:
        c, name = pd.Series(cluster).reindex(data.index), str(getattr(cluster, "name", None)
                                                             or "cluster")
    c = c[keep]
    na = c.isna().to_numpy()
    if na.any():
        rows = tuple(int(i) + 1 for i in np.flatnonzero(keep)[np.flatnonzero(na)][:8])
        raise EvalDataError([DataProblem(name, "missing cluster ids for youth with a positive "
                                         "weight", "a cluster id for every youth analysed",
                                         rows=rows, n_rows=int(na.sum()))], source=source)
    codes = pd.factorize(c)[0].astype(np.int64)
    if codes.max() < 1:
        raise EvalDataError([DataProblem(name, "only one cluster", "at least two clusters")],
                            source=source)
    return codes, name


def weighted_fit(y: np.ndarray, X: np.ndarray, w: np.ndarray, codes: np.ndarray | None,
                 vcov: str, *, logistic: bool = False
                 ) -> tuple[np.ndarray, np.ndarray, float]:
    """Weighted least squares (or weighted logistic regression) with a sandwich variance.

    ``vcov="survey"``: ``svyglm``'s variance, ``G/(G−1) · B (Σ_g s_g s_g') B`` with the
    scores ``s_i = w_i x_i (y_i − μ_i)`` summed by cluster (each unit its own cluster
    without ``codes``), ``B`` the inverse weighted information, and ``G − p`` df.
    ``vcov="vcovCL"``: ``sandwich::vcovCL`` (type HC1) on ``lm(weights = w)``, the factor
    ``G/(G−1) · (n−1)/(n−k)`` and ``n − k`` df.

    Returns
    -------
    (coefficients, variance matrix, df)
    """
    n, k = X.shape
    if logistic:
        beta, mu, _, _ = fit_logit(y, X, weights=w)
        info_w = w * mu * (1.0 - mu)
        H = (X.T * info_w) @ X
        D = 1.0 / np.sqrt(np.diag(H))
        resid = y - mu
    else:
        XtW = X.T * w
        H = XtW @ X
        # normal equations, equilibrated (unit diagonal) before solving
        D = 1.0 / np.sqrt(np.diag(H))
        beta = D * np.linalg.solve(H * np.outer(D, D), D * (XtW @ y))
        resid = y - X @ beta
        # one step of iterative refinement recovers the accuracy of a QR solve
        beta = beta + D * np.linalg.solve(H * np.outer(D, D), D * (XtW @ resid))
        resid = y - X @ beta
    bread = np.outer(D, D) * np.linalg.inv(H * np.outer(D, D))
    sw = np.sqrt(w)
    Xs, rs = X * sw[:, None], resid * sw
    if codes is None:
        df = n - k
        V = hc1_vcov(bread, Xs, rs, n, n - 1 if vcov == "survey" else df)
    else:
        G = int(codes.max()) + 1
        if vcov == "survey":
            V, df = crv1_vcov(bread, Xs, rs, codes, n, 1), G - k
        else:
            V, df = crv1_vcov(bread, Xs, rs, codes, n, k), n - k
    return beta, V, float(df)


def _no_zero_se(se: np.ndarray, beta: np.ndarray, X: np.ndarray, y: np.ndarray,
                w: np.ndarray, names: Sequence[str], cautions: list[Caution]) -> np.ndarray:
    """``se`` with the standard errors that are zero up to rounding set to NaN, with a caution.

    An outcome the weighted regression reproduces exactly (a score that does not vary, or
    that differs only between the groups) leaves residuals of rounding size: their standard
    errors are rounding noise, not numbers, and a p-value of 0 built on them would be a
    confident wrong answer (``svyglm`` prints SE 1e-16 and p = 1 or 1e-135 there). The
    intercept (``X[:, 0]``) is judged only by the exact fit.
    """
    perfect, unit = fit_scale(X, y, y - X @ beta, w)
    zero = zero_se(se, beta, unit) | perfect
    # the intercept is the comparison mean: all-equal comparison outcomes give it a sandwich
    # variance of exactly 0, a true value and not what the effect rests on
    zero[0] = perfect
    if perfect:
        cautions.append(Caution(
            "The weighted regression reproduces every outcome exactly (no variation is left "
            "over), so no standard error, interval or p-value can be estimated and none is "
            "given.", limits=True))
    elif zero.any():
        hit = [n for n, z in zip(names, zero, strict=True) if z]
        cautions.append(Caution(
            f"The standard error of {join_names([repr(n) for n in hit])} is zero up to "
            "rounding, which would mean the number is known exactly; no real data support "
            "that, so it is not given, nor its interval and p-value.", limits=True))
    return np.where(zero, np.nan, se)


def effect(
    data: pd.DataFrame,
    outcome: str,
    treatment: str,
    *,
    weights: Any,
    covariates: Sequence[str] = (),
    cluster: str | pd.Series | None = None,
    alpha: float = 0.05,
    vcov: Vcov | None = None,
) -> WeightedEffect:
    """The program effect on weighted or matched data.

    Parameters
    ----------
    data
        One row per youth.
    outcome
        The outcome column (numeric; a 0/1 outcome gives the risk difference and odds ratio).
    treatment
        0/1 column: 1 for program youth.
    weights
        A column name, a Series aligned with the data's index (``Weights.weights``,
        ``Matched.weights``), or a :class:`~evalkit.methods.propensity.Weights` or
        :class:`~evalkit.methods.matching.Matched` result. Youth with weight 0 (unmatched)
        are left out, as ``match.data``.
    covariates
        With covariates, the doubly robust weighted regression ``outcome ~ treatment +
        covariates``; without, the weighted difference in means.
    cluster
        A column name or Series of cluster ids (for example ``Matched.subclass``). Given a
        ``Matched`` result without replacement, its subclasses are the clusters unless
        ``cluster`` says otherwise.
    alpha
        1 − confidence level.
    vcov
        ``"survey"``: R ``survey::svyglm`` on ``svydesign(ids = ~1, weights = ~w)`` (with
        ``cluster``, ``ids = ~cluster``). ``"vcovCL"``: R ``lm(..., weights = w)`` with
        ``sandwich::vcovCL(cluster = ~cluster)`` (HC1 without clusters). By default
        ``"vcovCL"`` for matching weights and ``"survey"`` otherwise.

    Returns
    -------
    WeightedEffect

    Raises
    ------
    EvalDataError
        Columns not found, a treatment that is not 0/1, weights that are negative or missing,
        no analysable youth in a group, one cluster, collinear covariates.

    Notes
    -----
    Estimates, standard errors, degrees of freedom and intervals equal ``svyglm`` (df:
    ``degf(design) + 1 − p``, that is ``G − p``; ``confint`` uses t on those df) or
    ``coeftest(lm, vcov = vcovCL)`` (``n − k`` df). For a binary outcome the risk difference
    is the treatment coefficient of the weighted linear model (with covariates: doubly
    robust), and the odds ratio comes from ``svyglm(y ~ treat, family = quasibinomial())``
    (or ``glm`` with ``vcovCL``) on the same weights.

    References
    ----------
    Lumley, T. (2004). Analysis of complex survey samples. *Journal of Statistical Software*,
    9(8) (R package survey, ``svyglm``).

    Zeileis, A., Köll, S., & Graham, N. (2020). Various versatile variances: An
    object-oriented implementation of clustered covariances in R. *Journal of Statistical
    Software*, 95(1) (``sandwich::vcovCL``).

    Funk, M. J., et al. (2011). Doubly robust estimation of causal effects. *American Journal
    of Epidemiology*, 173, 761–767.
    """
    alpha = check_alpha(alpha)
    source = "data frame"
    matched = False
    cautions: list[Caution] = []
    if hasattr(weights, "weights") and hasattr(weights, "cautions"):
        cautions += list(weights.cautions)  # what limits the weights limits the effect
        matched = hasattr(weights, "subclass")
        if matched and cluster is None and not getattr(weights, "replace", False):
            cluster = weights.subclass
        weights = weights.weights
    if isinstance(weights, pd.Series) and weights.attrs.get("kind") == "matching":
        matched = True
    how: str = check_option("vcov", vcov if vcov is not None
                            else "vcovCL" if matched else "survey", ("survey", "vcovCL"))
    t_all = treatment_vector(data, treatment, source)
    w_all = weights_vector(data, weights, source)
    if outcome not in data.columns:
        raise EvalDataError([DataProblem(outcome, "column not found", "an outcome column")],
                            source=source)
    y_all = pd.to_numeric(data[outcome], errors="coerce").to_numpy(float)
    notnum = ~np.isfinite(y_all) & data[outcome].notna().to_numpy()
    if notnum.any():
        rows = tuple(int(i) + 1 for i in np.flatnonzero(notnum)[:8])
        raise EvalDataError([DataProblem(outcome, "values are not numbers", "numbers",
                                         rows=rows, n_rows=int(notnum.sum()))], source=source)
    pos = w_all > 0
    keep = pos & np.isfinite(y_all)
    n_dropped = int((pos & ~np.isfinite(y_all)).sum())
    if n_dropped:
        cautions.append(Caution(f"{n_dropped} youth with a positive weight have no "
                                f"'{outcome}' and are left out (complete cases): if follow-up "
                                "is missing for reasons related to the outcome, weight for "
                                "attrition (evalkit.missing.attrition_weights) or impute.",
                                limits=True))
    t, y, w = t_all[keep], y_all[keep], w_all[keep]
    for g, who in ((1, "program"), (0, "comparison")):
        if (t == g).sum() < 1:
            raise EvalDataError([DataProblem(outcome, f"no {who} youth with a positive weight "
                                             "and an outcome", "youth in both groups")],
                                source=source)
    lead = [("(Intercept)", np.ones(len(t))), (treatment, t)]
    if covariates:
        X, names, ref = design(data, covariates, source, lead=lead,
                               rows=None if keep.all() else keep)
        if any(ref):
            cols = [j for j, r in enumerate(ref) if not r]
            X, names = X[:, cols], [names[j] for j in cols]
    else:
        X = np.empty((len(t), 2), order="F")
        X[:, 0], X[:, 1] = 1.0, t
        names = ["(Intercept)", treatment]
    H = (X.T * w) @ X
    D = 1.0 / np.sqrt(np.maximum(np.diag(H), 1e-300))
    ev = np.linalg.eigvalsh(H * np.outer(D, D))
    if ev.min() < 1e-10 * ev.max():
        raise EvalDataError([DataProblem(None, "the covariates are collinear with each other "
                                         f"or with '{treatment}' ({join_names(names[2:])})",
                                         "covariates that are not combinations of each other")],
                            source=source)
    codes, cname = (None, "") if cluster is None else _codes(data, cluster, keep, source)
    if codes is not None:
        cautions += cluster_cautions(codes, cname, treated=t == 1)
    beta, V, df = weighted_fit(y, X, w, codes, how)
    if df <= 0:
        raise EvalDataError([DataProblem(None, f"no degrees of freedom left ({df:g}) for the "
                                         "standard error", "more youth (or clusters) than "
                                         "regression terms")], source=source)
    se = np.sqrt(np.clip(np.diag(V), 0.0, None))
    se = _no_zero_se(se, beta, X, y, w, names, cautions)
    q = stats.t.ppf(1 - alpha / 2, df)
    with np.errstate(divide="ignore", invalid="ignore"):
        tt = beta / se
    p = 2 * stats.t.sf(np.abs(tt), df)
    terms = pd.DataFrame({"term": names, "estimate": beta, "se": se, "t": tt, "p_value": p,
                          "ci_low": beta - q * se, "ci_high": beta + q * se})
    binary = bool(np.isin(y, (0.0, 1.0)).all())
    extra: dict[str, Any] = {}
    if binary:
        same = [who for g, who in ((1, "program"), (0, "comparison"))
                if y[t == g].min() == y[t == g].max()]
        if same:
            which = " and ".join(f"every {who} youth" for who in same)
            cautions.append(Caution(
                f"'{outcome}' is the same for {which}: the odds ratio is 0 or infinite (the "
                "logistic regression has no finite estimate), so it is not given; the risk "
                "difference stands.", limits=True))
        else:
            Xb = np.asfortranarray(X[:, :2])
            b2, V2, df2 = weighted_fit(y, Xb, w, codes, how, logistic=True)
            # lmtest::coeftest on a glm is a z test; svyglm's is t on its own G - 2 df
            df2 = math.inf if how == "vcovCL" else df2
            q2 = stats.t.ppf(1 - alpha / 2, df2)
            lse = float(np.sqrt(V2[1, 1]))
            extra = {"odds_ratio": float(np.exp(b2[1])),
                     "odds_ratio_ci_low": float(np.exp(b2[1] - q2 * lse)),
                     "odds_ratio_ci_high": float(np.exp(b2[1] + q2 * lse)),
                     "odds_ratio_p_value": float(2 * stats.t.sf(abs(b2[1] / lse), df2)),
                     "log_odds_ratio_se": lse, "odds_ratio_df": float(df2)}
    if vcov == "vcovCL" and codes is None and matched:
        cautions.append(Caution("Matching with replacement: the standard error treats each "
                                "youth as independent (HC1) and ignores that a comparison "
                                "youth may serve several program youth.", limits=False))
    return WeightedEffect(
        estimate=float(beta[1]), se=float(se[1]), ci_low=float(beta[1] - q * se[1]),
        ci_high=float(beta[1] + q * se[1]), t=float(tt[1]), df=df, p_value=float(p[1]),
        outcome_type="binary" if binary else "continuous", vcov=how, n=len(t),
        n_treated=int((t == 1).sum()), n_control=int((t == 0).sum()),
        n_clusters=None if codes is None else int(codes.max()) + 1, n_dropped=n_dropped,
        terms=terms, covariates=tuple(covariates), alpha=alpha, cautions=tuple(cautions),
        **extra)

"""Pre-post designs with a comparison group: ANCOVA program effect, WWC effect size, baseline
equivalence."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import numpy as np
import pandas as pd
from scipy import special

from evalkit.data import Column, source_of, validate
from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.methods.effect_sizes import g_variance, hedges_g_wwc, improvement_index
from evalkit.methods.prepost import mean_ci
from evalkit.results import Result, check_alpha

__all__ = ["compare_groups", "GroupComparison", "baseline_equivalence", "describe_groups",
           "robust_ols"]


def baseline_equivalence(g: float) -> str:
    """WWC baseline-equivalence category of a baseline effect size ``g``.

    ``"satisfied"`` when ``|g| <= 0.05``; ``"satisfied with adjustment"`` when
    ``0.05 < |g| <= 0.25`` (the analysis must adjust for the baseline measure); ``"not
    satisfied"`` above 0.25.

    References
    ----------
    What Works Clearinghouse (2020). *Procedures and Standards Handbook, Version 4.1*,
    §II.C.4 (baseline equivalence).
    """
    a = abs(g)
    if a <= 0.05:
        return "satisfied"
    if a <= 0.25:
        return "satisfied with adjustment"
    return "not satisfied"


@dataclass(frozen=True)
class GroupComparison(Result):
    """Result of :func:`compare_groups`.

    Attributes
    ----------
    estimate, se, ci_low, ci_high, t, df, p_value
        ANCOVA program effect (coefficient of the group indicator in ``post ~ group + pre +
        covariates``) with HC2 or, when clustered, CR1 standard errors and t-based inference.
    vcov
        ``"HC2"`` or ``"CR1"``.
    change_diff, change_diff_se, change_diff_ci_low, change_diff_ci_high
        Difference in mean change (program − comparison), HC2 (or CR1) standard error.
    g, g_ci_low, g_ci_high
        WWC Hedges' g of the adjusted effect: ``ω · estimate / pooled SD of post``, with its
        large-sample CI.
    improvement_index
        WWC improvement index in percentile points (positive = better).
    baseline_g, baseline_status
        WWC Hedges' g of the intake difference and the baseline-equivalence category.
    n_program, n_comparison, n_clusters, n_dropped
        Analysed youth per group, clusters (when clustered), rows dropped for missing values.
    terms
        Every ANCOVA coefficient: term, estimate, se, t, p_value, ci_low, ci_high.
    """

    _title: ClassVar[str] = "Program vs comparison group (ANCOVA)"
    _options: ClassVar[tuple[str, ...]] = ("vcov", "lower_is_better", "alpha")

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    t: float
    df: float
    p_value: float
    vcov: str
    change_diff: float
    change_diff_se: float
    change_diff_ci_low: float
    change_diff_ci_high: float
    g: float
    g_ci_low: float
    g_ci_high: float
    improvement_index: float
    baseline_g: float
    baseline_status: str
    mean_pre_program: float
    mean_pre_comparison: float
    mean_post_program: float
    mean_post_comparison: float
    n_program: int
    n_comparison: int
    n_clusters: int | None
    n_dropped: int
    terms: pd.DataFrame
    lower_is_better: bool = False
    alpha: float = 0.05

    def _terms(self) -> list[dict[str, Any]]:
        nan = float("nan")
        rows = [
            {"term": "program effect (ANCOVA)", "estimate": self.estimate, "se": self.se,
             "ci_low": self.ci_low, "ci_high": self.ci_high, "statistic": self.t,
             "p_value": self.p_value},
            {"term": "difference in mean change", "estimate": self.change_diff,
             "se": self.change_diff_se, "ci_low": self.change_diff_ci_low,
             "ci_high": self.change_diff_ci_high, "statistic": nan, "p_value": nan},
            {"term": "hedges_g (WWC)", "estimate": self.g, "se": nan, "ci_low": self.g_ci_low,
             "ci_high": self.g_ci_high, "statistic": nan, "p_value": nan},
            {"term": "improvement index", "estimate": self.improvement_index, "se": nan,
             "ci_low": nan, "ci_high": nan, "statistic": nan, "p_value": nan},
            {"term": "baseline hedges_g", "estimate": self.baseline_g, "se": nan,
             "ci_low": nan, "ci_high": nan, "statistic": nan, "p_value": nan},
        ]
        return rows

    def _details(self) -> list[str]:
        cl = f", {self.n_clusters} clusters" if self.n_clusters else ""
        return [f"{self.n_program} program and {self.n_comparison} comparison youth{cl}; "
                f"{self.vcov} standard errors; baseline equivalence {self.baseline_status} "
                f"(g = {self.baseline_g:.3f})."]


def robust_ols(y: np.ndarray, X: np.ndarray, names: list[str], groups: np.ndarray | None,
               alpha: float) -> tuple[pd.DataFrame, float]:
    """OLS with HC2 standard errors, or CR1 (Stata's small-sample factor, ``G − 1`` df) when
    ``groups`` gives clusters; t-based inference. Returns the coefficient table and its df
    (as R's ``estimatr::lm_robust``, ``se_type = "HC2"`` or ``"stata"``)."""
    import statsmodels.api as sm

    model = sm.OLS(y, X)
    if groups is None:
        fit = model.fit(cov_type="HC2", use_t=True)
    else:
        fit = model.fit(cov_type="cluster", cov_kwds={"groups": groups, "use_correction": True,
                                                       "df_correction": True}, use_t=True)
    ci = np.asarray(fit.conf_int(alpha))
    frame = pd.DataFrame({
        "term": names, "estimate": fit.params, "se": fit.bse, "t": fit.tvalues,
        "p_value": fit.pvalues, "ci_low": ci[:, 0], "ci_high": ci[:, 1],
    })
    df = float(fit.df_resid_inference) if groups is not None else float(fit.df_resid)
    return frame, df


def compare_groups(
    data: pd.DataFrame,
    pre: str,
    post: str,
    group: str,
    *,
    covariates: Sequence[str] = (),
    cluster: str | None = None,
    lower_is_better: bool = False,
    alpha: float = 0.05,
) -> GroupComparison:
    """Program effect in a pre-post design with a comparison group.

    Parameters
    ----------
    data
        One row per person.
    pre, post
        Score columns at the two measurements.
    group
        0/1 column: 1 for the program group, 0 for the comparison group.
    covariates
        Further numeric baseline covariates for the ANCOVA.
    cluster
        Column identifying clusters (e.g. sites): CR1 standard errors with Stata's small-sample
        factor and ``G − 1`` degrees of freedom. Without it, HC2.
    lower_is_better
        Direction of the outcome (sets the sign of the improvement index).
    alpha
        1 − confidence level.

    Notes
    -----
    The ANCOVA estimate and its HC2 inference equal R's
    ``estimatr::lm_robust(post ~ group + pre + ..., se_type = "HC2")``; with ``cluster``,
    ``lm_robust(..., clusters = cluster, se_type = "stata")``.

    References
    ----------
    What Works Clearinghouse (2020). *Procedures and Standards Handbook, Version 4.1*,
    Appendix E (effect sizes, improvement index) and §II.C.4 (baseline equivalence).

    MacKinnon, J. G., & White, H. (1985). Some heteroskedasticity-consistent covariance matrix
    estimators with improved finite sample properties. *Journal of Econometrics*, 29, 305–325.
    """
    alpha = check_alpha(alpha)
    covariates = list(covariates)
    names = [group, pre, post, *covariates]
    if len(set(names)) != len(names):
        raise ValueError("group, pre, post and covariates must be different columns")
    cols = [Column(group, kind="binary"), Column(pre), Column(post)]
    cols += [Column(c) for c in covariates]
    if cluster is not None:
        cols.append(Column(cluster, kind="string", allow_missing=False))
    clean = validate(data, cols)
    keep = clean[[group, pre, post, *covariates]].notna().all(axis=1).to_numpy()
    d = clean.loc[keep]
    source = source_of(data)
    g_arr = d[group].to_numpy(dtype=float)
    n1, n0 = int((g_arr == 1).sum()), int((g_arr == 0).sum())
    if n1 < 2 or n0 < 2:
        raise EvalDataError(
            [DataProblem(group, f"{n1} program and {n0} comparison youth have complete data",
                         "at least 2 in each group")], source=source)
    groups = None
    n_clusters = None
    if cluster is not None:
        groups = pd.factorize(d[cluster])[0]
        n_clusters = int(groups.max() + 1)
        if n_clusters < 2:
            raise EvalDataError([DataProblem(cluster, "only one cluster", "at least 2")],
                                source=source)
    X = np.column_stack([np.ones(len(d)), g_arr, d[pre].to_numpy(dtype=float)]
                        + [d[c].to_numpy(dtype=float) for c in covariates])
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise EvalDataError(
            [DataProblem(None, "the group, intake score and covariates are collinear",
                         "columns that are not linear combinations of each other")],
            source=source)
    y = d[post].to_numpy(dtype=float)
    terms, df = robust_ols(y, X, ["(intercept)", group, pre, *covariates], groups, alpha)
    row = terms.iloc[1]
    change = y - d[pre].to_numpy(dtype=float)
    cterms, _ = robust_ols(change, X[:, :2], ["(intercept)", group], groups, alpha)
    crow = cterms.iloc[1]

    prog, comp = d[g_arr == 1], d[g_arr == 0]
    sd_post = (float(prog[post].std(ddof=1)), float(comp[post].std(ddof=1)))
    sd_pre = (float(prog[pre].std(ddof=1)), float(comp[pre].std(ddof=1)))
    g = hedges_g_wwc(float(row["estimate"]), sd_post[0], n1, sd_post[1], n0)
    half = float(special.ndtri(1 - alpha / 2)) * math.sqrt(g_variance(g, n1, n0))
    base_g = hedges_g_wwc(float(prog[pre].mean() - comp[pre].mean()), sd_pre[0], n1,
                          sd_pre[1], n0)
    return GroupComparison(
        estimate=float(row["estimate"]), se=float(row["se"]), ci_low=float(row["ci_low"]),
        ci_high=float(row["ci_high"]), t=float(row["t"]), df=df, p_value=float(row["p_value"]),
        vcov="HC2" if cluster is None else "CR1",
        change_diff=float(crow["estimate"]), change_diff_se=float(crow["se"]),
        change_diff_ci_low=float(crow["ci_low"]), change_diff_ci_high=float(crow["ci_high"]),
        g=g, g_ci_low=g - half, g_ci_high=g + half,
        improvement_index=improvement_index(g, lower_is_better=lower_is_better),
        baseline_g=base_g, baseline_status=baseline_equivalence(base_g),
        mean_pre_program=float(prog[pre].mean()), mean_pre_comparison=float(comp[pre].mean()),
        mean_post_program=float(prog[post].mean()),
        mean_post_comparison=float(comp[post].mean()),
        n_program=n1, n_comparison=n0, n_clusters=n_clusters, n_dropped=int((~keep).sum()),
        terms=terms.reset_index(drop=True), lower_is_better=lower_is_better, alpha=alpha,
    )


def describe_groups(
    data: pd.DataFrame, pre: str, post: str, group: str, *, alpha: float = 0.05
) -> pd.DataFrame:
    """Mean score with a t-based CI per group (1 program, 0 comparison) at both times, among
    youth measured both times.

    Returns
    -------
    pandas.DataFrame
        Columns ``group, time (0 = pre, 1 = post), n, mean, sd, ci_low, ci_high``.
    """
    alpha = check_alpha(alpha)
    clean = validate(data, [Column(group, kind="binary"), Column(pre), Column(post)])
    d = clean.dropna(subset=[group, pre, post])
    rows = []
    for g in (1, 0):
        sub = d[d[group] == g]
        for t, col in ((0, pre), (1, post)):
            rows.append({"group": g, "time": t,
                         **mean_ci(sub[col].to_numpy(dtype=float), alpha)})
    return pd.DataFrame(rows)

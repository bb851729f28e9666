"""Pre-post designs with a comparison group.

The module covers the ANCOVA program effect, the WWC effect size and baseline equivalence.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import special

from evalkit.data import Column, source_of, validate
from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.methods.effect_sizes import (
    g_variance,
    hedges_g_wwc,
    improvement_index,
    pooled_sd,
)
from evalkit.methods.inference import FEW_CLUSTERS, robust_ols
from evalkit.methods.prepost import mean_ci, mean_ci_cautions
from evalkit.results import Caution, Result, check_alpha, merge_cautions

#: Fewer clusters holding program (or comparison) youth than this, out of many, is flagged too:
#: cluster-robust standard errors over-reject with few treated clusters whatever their total
#: (MacKinnon & Webb 2017).
FEW_GROUP_CLUSTERS = 10

#: When the program runs at some sites and not others (every cluster holds one group only), an
#: effect needs at least this many sites in each group. With one site per group the effect
#: cannot be told apart from the sites' own difference; in the coverage self-check
#: (``benchmarks/coverage.py``, 1,000 replications) CR1 intervals covered the truth 47% of
#: the time with one site per group, 87% with two and 93% with four.
MIN_SITES_PER_GROUP = 4

__all__ = ["compare_groups", "GroupComparison", "baseline_equivalence", "describe_groups",
           "robust_ols", "check_cluster_assignment", "MIN_SITES_PER_GROUP"]


def check_cluster_assignment(codes: np.ndarray, group: np.ndarray, cluster: str,
                             source: str | None = None) -> tuple[int, int, bool]:
    """Refuse a program assigned by site with too few sites per group.

    Parameters
    ----------
    codes
        Cluster codes 0..G−1 of the youth analysed.
    group
        Their 0/1 group.
    cluster
        The cluster column's name (for the message).

    Returns
    -------
    (program clusters, comparison clusters, whether every cluster holds one group only)

    Raises
    ------
    DesignRefused
        When every cluster holds one group only and a group has fewer than
        :data:`MIN_SITES_PER_GROUP` clusters.
    """
    from evalkit.exceptions import DesignRefused

    G = int(codes.max()) + 1 if codes.size else 0
    has_prog = np.zeros(G, bool)
    has_prog[codes[group == 1]] = True
    has_comp = np.zeros(G, bool)
    has_comp[codes[group == 0]] = True
    by_site = not (has_prog & has_comp).any()
    n_prog, n_comp = int(has_prog.sum()), int(has_comp.sum())
    fewest = min(n_prog, n_comp)
    if by_site and fewest < MIN_SITES_PER_GROUP:
        what = "program" if n_prog <= n_comp else "comparison"
        raise DesignRefused(
            [DataProblem(cluster, f"the program runs at some clusters and not others, and only "
                         f"{fewest} cluster(s) hold {what} youth: with fewer than "
                         f"{MIN_SITES_PER_GROUP} per group the program effect cannot be told "
                         "apart from the clusters' own differences, and its interval would be "
                         "far too narrow", f"at least {MIN_SITES_PER_GROUP} clusters in each "
                         "group, or program and comparison youth within the same clusters")],
            source=source,
            alternative=("a comparison of program and comparison youth within the same sites, "
                         "or more sites in each group"),
            reason=(f"The program ran at some sites and not at others, and only {fewest} site"
                    f"{'s' if fewest != 1 else ''} held {what} youth. With fewer than "
                    f"{MIN_SITES_PER_GROUP} sites in each group, a difference between the "
                    "groups cannot be told apart from the differences between the sites "
                    "themselves, and a confidence interval would be far too narrow (in "
                    "simulation it covered the true effect 47% of the time with one site per "
                    "group and 87% with two), so no estimate is given."))
    return n_prog, n_comp, by_site


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


def no_spread_problem(post: str) -> DataProblem:
    """The problem of a follow-up score that does not vary within either group."""
    return DataProblem(post, "the score does not vary within either group (each group has a "
                       "single value), so the effect size, which divides by the within-group "
                       "standard deviation, and the standard error are undefined",
                       "scores that vary within the groups")


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

    Raises
    ------
    EvalDataError
        Naming the column at fault: fewer than 2 youth with complete data in either group;
        one cluster; a ``post`` score that does not vary (in the whole sample, or within each
        group: the standard error and the effect size, which divides by the within-group SD,
        are then undefined); a ``pre`` score or covariate that does not vary, or collinear
        regressors; no residual degrees of freedom.

    Notes
    -----
    The ANCOVA estimate and its HC2 inference equal R's
    ``estimatr::lm_robust(post ~ group + pre + ..., se_type = "HC2")``; with ``cluster``,
    ``lm_robust(..., clusters = cluster, se_type = "stata")``. The result carries cautions
    (see :func:`robust_ols`) with fewer than :data:`FEW_CLUSTERS` clusters, with a youth whose
    outcome the model fits exactly (leverage 1; that standard error is NaN, as in
    ``sandwich::vcovHC``), and wherever a standard error is numerically zero (NaN).

    References
    ----------
    What Works Clearinghouse (2020). *Procedures and Standards Handbook, Version 4.1*,
    Appendix E (effect sizes, improvement index) and §II.C.4 (baseline equivalence).

    Cameron, A. C., & Miller, D. L. (2015). A practitioner's guide to cluster-robust inference.
    *Journal of Human Resources*, 50(2), 317–372 (§VI: few clusters).

    MacKinnon, J. G., & Webb, M. D. (2017). Wild bootstrap inference for wildly different
    cluster sizes. *Journal of Applied Econometrics*, 32, 233–254.

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
            raise EvalDataError([DataProblem(cluster, "only one cluster among the youth "
                                             "analysed: cluster-robust standard errors need "
                                             "the variation between clusters", "at least 2")],
                                source=source)
        check_cluster_assignment(groups, g_arr, cluster, source)
    y = d[post].to_numpy(dtype=float)
    if np.ptp(y) == 0:
        raise EvalDataError(
            [DataProblem(post, f"every youth analysed has the same score ({y[0]:g}), so there "
                         "is no difference between the groups to estimate and its standard "
                         "error and effect size are undefined", "scores that vary")],
            source=source)
    for c in (pre, *covariates):
        v = d[c].to_numpy(dtype=float)
        if np.ptp(v) == 0:
            raise EvalDataError(
                [DataProblem(c, f"every youth analysed has the same value ({v[0]:g}), so the "
                             "ANCOVA cannot adjust for it (it is collinear with the intercept)",
                             "values that vary, or leave the column out")], source=source)
    X = np.column_stack([np.ones(len(d)), g_arr, d[pre].to_numpy(dtype=float)]
                        + [d[c].to_numpy(dtype=float) for c in covariates])
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise EvalDataError(
            [DataProblem(None, "the group, intake score and covariates are collinear",
                         "columns that are not linear combinations of each other")],
            source=source)
    if len(d) <= X.shape[1]:
        raise EvalDataError(
            [DataProblem(None, f"{len(d)} youth with complete data for {X.shape[1]} ANCOVA "
                         "coefficients leave no residual degrees of freedom",
                         f"more than {X.shape[1]} youth with complete data")], source=source)
    prog, comp = d[g_arr == 1], d[g_arr == 0]
    sd_post = (float(prog[post].std(ddof=1)), float(comp[post].std(ddof=1)))
    sd_pre = (float(prog[pre].std(ddof=1)), float(comp[pre].std(ddof=1)))
    if not pooled_sd(sd_post[0], n1, sd_post[1], n0) > 0:
        raise EvalDataError([no_spread_problem(post)], source=source)
    terms, df = robust_ols(y, X, ["(intercept)", group, pre, *covariates], groups, alpha,
                           cluster_name=cluster or "cluster")
    row = terms.iloc[1]
    change = y - d[pre].to_numpy(dtype=float)
    cterms, _ = robust_ols(change, X[:, :2], ["(intercept)", group], groups, alpha,
                           cluster_name=cluster or "cluster")
    crow = cterms.iloc[1]
    cautions: list[str] = list(terms.attrs.get("cautions", ()))
    if not np.isfinite(crow["se"]):
        why = " ".join(cterms.attrs.get("cautions", ()))
        reason = ("every youth in a group changed by the same amount" if "every outcome" in why
                  else "a group has a single youth" if "fitted exactly" in why
                  else "it comes out as zero, which no real data support; with clusters, this "
                       "happens when each cluster holds only one group")
        cautions.append(Caution(
            "The standard error of the difference in mean change cannot be estimated ("
            + reason + "), so it and its interval are not given. This is a secondary figure: "
            "the adjusted program effect is not affected.", limits=False))
    if groups is not None and n_clusters is not None and n_clusters >= FEW_CLUSTERS:
        with_prog = np.zeros(n_clusters, dtype=np.bool_)
        with_prog[groups[g_arr == 1]] = True
        with_comp = np.zeros(n_clusters, dtype=np.bool_)
        with_comp[groups[g_arr == 0]] = True
        count, what = min((int(with_prog.sum()), "program"), (int(with_comp.sum()), "comparison"))
        if count < FEW_GROUP_CLUSTERS:
            cautions.append(Caution(
                f"Only {count} cluster{'s' if count != 1 else ''} in '{cluster}' (of "
                f"{n_clusters} clusters in all) hold{'s' if count == 1 else ''} {what} youth: "
                "with so few, cluster-robust standard errors understate the uncertainty even "
                "when there are many clusters overall (MacKinnon & Webb 2017), so the interval "
                "may be too narrow.", limits=True))

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
        cautions=merge_cautions(cautions),
    )


def describe_groups(
    data: pd.DataFrame, pre: str, post: str, group: str, *, alpha: float = 0.05
) -> pd.DataFrame:
    """Mean score with a t-based CI per group (1 program, 0 comparison) at both times.

    Only youth measured both times are counted.

    Returns
    -------
    pandas.DataFrame
        Columns ``group, time (0 = pre, 1 = post), n, mean, sd, ci_low, ci_high``;
        ``attrs["cautions"]`` explains a missing mean or interval (a group with no one or one
        person) and intervals of zero width.
    """
    alpha = check_alpha(alpha)
    clean = validate(data, [Column(group, kind="binary"), Column(pre), Column(post)])
    d = clean.dropna(subset=[group, pre, post])
    rows, names = [], []
    for g in (1, 0):
        sub = d[d[group] == g]
        for t, col in ((0, pre), (1, post)):
            rows.append({"group": g, "time": t,
                         **mean_ci(sub[col].to_numpy(dtype=float), alpha)})
            names.append(f"the {'program' if g == 1 else 'comparison'} group ('{col}')")
    out = pd.DataFrame(rows)
    out.attrs["cautions"] = mean_ci_cautions(out, names)
    return out

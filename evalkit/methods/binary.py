"""Paired binary outcomes: McNemar's test and the Newcombe interval for the change.

The outcomes are yes/no answers measured twice (e.g. enrolled in school at intake and at
follow-up); the interval is for the change in the proportion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import special

from evalkit.data import Column, source_of, validate
from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.results import Caution, Result, check_alpha

#: Below this many pairs Newcombe's paired interval is conservative (97.4% coverage of a 95%
#: interval with 20 pairs in ``benchmarks/coverage.py``; 95-96% from 40 on).
CONSERVATIVE_PAIRS = 30

__all__ = ["mcnemar", "McNemar", "wilson_interval", "newcombe_paired_interval",
           "newcombe_independent_interval", "compare_proportions", "ProportionComparison"]


def wilson_interval(x: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval of a proportion ``x / n`` (no continuity correction)."""
    if n <= 0:
        raise ValueError("n must be positive")
    z = float(special.ndtri(1 - alpha / 2))
    p = x / n
    centre = (2 * n * p + z**2) / (2 * (n + z**2))
    half = z * math.sqrt(z**2 + 4 * n * p * (1 - p)) / (2 * (n + z**2))
    return centre - half, centre + half


def newcombe_paired_interval(
    a: int, b: int, c: int, d: int, alpha: float = 0.05
) -> tuple[float, float, float]:
    """Newcombe's hybrid score interval for a difference of paired proportions.

    The table is ``[[a, b], [c, d]]`` with rows the first measurement (1, 0) and columns the
    second (1, 0); the difference is ``(a + c)/n − (a + b)/n``, second minus first.

    Returns
    -------
    (difference, lower, upper)

    References
    ----------
    Newcombe, R. G. (1998). Improved confidence intervals for the difference between binomial
    proportions based on paired data. *Statistics in Medicine*, 17, 2635–2650 (method 10).
    """
    n = a + b + c + d
    p1, p2 = (a + c) / n, (a + b) / n  # second, first
    l1, u1 = wilson_interval(a + c, n, alpha)
    l2, u2 = wilson_interval(a + b, n, alpha)
    denom = (a + b) * (c + d) * (a + c) * (b + d)
    # Newcombe's phi carries a continuity adjustment: AD − BC is reduced by n/2 (not below 0)
    # when positive. Only this version reproduces the intervals published in his Table III.
    num = float(a * d - b * c)
    if num > n / 2:
        num -= n / 2
    elif num >= 0:
        num = 0.0
    phi = num / math.sqrt(denom) if denom > 0 else 0.0
    theta = p1 - p2
    delta = math.sqrt(max((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2, 0))
    eps = math.sqrt(max((u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2, 0))
    return theta, theta - delta, theta + eps


@dataclass(frozen=True)
class McNemar(Result):
    """Result of :func:`mcnemar`.

    Attributes
    ----------
    statistic, p_value
        McNemar's chi-squared (1 df) and its p-value, or the exact binomial p-value.
    b, c
        Discordant pairs: ``b`` = 1 before and 0 after, ``c`` = 0 before and 1 after.
    n, n_dropped
        Complete pairs; rows dropped for a missing value.
    prop_pre, prop_post, diff
        Proportions with the outcome at each time and their difference (post − pre).
    diff_ci_low, diff_ci_high
        Newcombe hybrid score interval of the difference.
    odds_ratio
        Conditional (matched-pairs) odds ratio ``b / c``.
    """

    _title: ClassVar[str] = "McNemar test of a paired binary outcome (post − pre)"
    _options: ClassVar[tuple[str, ...]] = ("correct", "exact", "alpha")

    pre: str
    post: str
    statistic: float
    p_value: float
    b: int
    c: int
    n: int
    n_dropped: int
    prop_pre: float
    prop_post: float
    diff: float
    diff_ci_low: float
    diff_ci_high: float
    odds_ratio: float
    table: tuple[tuple[int, int], tuple[int, int]]
    correct: bool = True
    exact: bool = False
    alpha: float = 0.05

    @property
    def estimate(self) -> float:
        """The headline estimate: the change in the proportion."""
        return self.diff

    def _terms(self) -> list[dict[str, Any]]:
        nan = float("nan")
        return [
            {"term": "change in proportion", "estimate": self.diff, "se": nan,
             "ci_low": self.diff_ci_low, "ci_high": self.diff_ci_high,
             "statistic": self.statistic, "p_value": self.p_value},
            {"term": "odds ratio (b/c)", "estimate": self.odds_ratio, "se": nan, "ci_low": nan,
             "ci_high": nan, "statistic": nan, "p_value": nan},
        ]

    def _details(self) -> list[str]:
        test = ("exact binomial test" if self.exact else
                "chi-squared" + (" with continuity correction" if self.correct else ""))
        return [f"{self.n} complete pairs: {self.prop_pre:.1%} before, {self.prop_post:.1%} after; "
                f"discordant pairs b = {self.b} (1 → 0), c = {self.c} (0 → 1); {test}."]


def mcnemar(
    data: pd.DataFrame,
    pre: str,
    post: str,
    *,
    correct: bool = True,
    exact: bool = False,
    alpha: float = 0.05,
) -> McNemar:
    """McNemar's test of a 0/1 outcome measured twice, with the change in the proportion.

    Parameters
    ----------
    data
        One row per person.
    pre, post
        0/1 (or True/False) columns at the two measurements.
    correct
        Continuity correction of the chi-squared statistic (R's default).
    exact
        Use the exact binomial test on the discordant pairs instead.
    alpha
        1 − confidence level of the Newcombe interval.

    Raises
    ------
    EvalDataError
        Naming the column: a value other than 0/1, no complete pair, or no youth whose value
        changed (R's ``mcnemar.test`` returns NaN there).

    Notes
    -----
    The statistic equals R's ``mcnemar.test(table(pre, post), correct = correct)``; the exact
    p-value equals ``binom.test(c(b, c))``. With fewer than 10 discordant pairs a caution
    recommends the exact test.

    References
    ----------
    McNemar, Q. (1947). Note on the sampling error of the difference between correlated
    proportions or percentages. *Psychometrika*, 12, 153–157.

    Agresti, A. (2013). *Categorical Data Analysis*, 3rd ed., §11.1.

    Newcombe, R. G. (1998). *Statistics in Medicine*, 17, 2635–2650.
    """
    alpha = check_alpha(alpha)
    if pre == post:
        raise ValueError(f"pre and post name the same column {pre!r}")
    clean = validate(data, [Column(pre, kind="binary"), Column(post, kind="binary")])
    x = clean[pre].to_numpy(dtype=float)
    y = clean[post].to_numpy(dtype=float)
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    n = int(x.size)
    source = source_of(data)
    if n == 0:
        from evalkit.methods.prepost import too_few_pairs

        raise too_few_pairs(data, pre, post, 0, 1)
    a = int(((x == 1) & (y == 1)).sum())
    b = int(((x == 1) & (y == 0)).sum())
    c = int(((x == 0) & (y == 1)).sum())
    d = int(((x == 0) & (y == 0)).sum())
    if b + c == 0:
        raise EvalDataError(
            [DataProblem(post, f"no pair changed between '{pre}' and '{post}' (all {n} youth "
                         "have the same value both times), so McNemar's test is undefined (R's "
                         "mcnemar.test returns NaN)", "at least one youth whose value changed")],
            source=source)
    cautions: list[str] = []
    if not exact and b + c < 10:
        cautions.append(Caution(
            f"{b + c} youth changed between the two measurements, so few that the "
            "chi-squared p-value (R's default) is only a rough approximation; the exact test "
            "(exact=True) is more accurate. The change in proportions and its interval are "
            "not affected.", limits=False))
    if n < CONSERVATIVE_PAIRS:
        cautions.append(Caution(
            f"With {n} pairs, Newcombe's interval for the change in proportions tends to be "
            "wider than it needs to be (in simulation a 95% interval covered the truth about "
            "97% of the time with 20 pairs): a real change is then harder to detect, but the "
            "interval is not too optimistic.", limits=False))
    if exact:
        from scipy.stats import binomtest

        statistic = float(b)
        p = float(binomtest(b, b + c, 0.5).pvalue)
    else:
        # R applies the correction only when the table is not symmetric (b != c)
        num = (abs(b - c) - 1) ** 2 if correct and b != c else (b - c) ** 2
        statistic = num / (b + c)
        p = float(special.chdtrc(1, statistic))
    diff, lo, hi = newcombe_paired_interval(a, b, c, d, alpha)
    return McNemar(
        pre=pre, post=post, statistic=float(statistic), p_value=p, b=b, c=c, n=n,
        n_dropped=int((~keep).sum()), prop_pre=(a + b) / n, prop_post=(a + c) / n, diff=diff,
        diff_ci_low=lo, diff_ci_high=hi, odds_ratio=b / c if c else math.inf,
        table=((a, b), (c, d)), correct=correct, exact=exact, alpha=alpha,
        cautions=tuple(cautions),
    )


def newcombe_independent_interval(x1: int, n1: int, x2: int, n2: int,
                                  alpha: float = 0.05) -> tuple[float, float, float]:
    """Newcombe's hybrid score interval for ``x1/n1 − x2/n2`` (independent samples).

    References
    ----------
    Newcombe, R. G. (1998). Interval estimation for the difference between independent
    proportions: comparison of eleven methods. *Statistics in Medicine*, 17, 873–890
    (method 10).
    """
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson_interval(x1, n1, alpha)
    l2, u2 = wilson_interval(x2, n2, alpha)
    d = p1 - p2
    return d, d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), \
        d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


@dataclass(frozen=True)
class ProportionComparison(Result):
    """Result of :func:`compare_proportions`.

    Attributes
    ----------
    prop_program, prop_comparison, n_program, n_comparison
        Share with the outcome and youth analysed in each group.
    diff, diff_ci_low, diff_ci_high
        Difference (program − comparison) with Newcombe's hybrid score interval (CR1 when
        youth are clustered).
    odds_ratio, cox_index, cox_ci_low, cox_ci_high, p_value
        Odds ratio, the WWC Cox index ``ln(OR)/1.65`` (on the scale of Hedges' g) with its CI
        from the log odds ratio's standard error (NaN when clustered), and the test of no
        difference (Wald test of the log odds ratio; the CR1 t-test when clustered).
    """

    _title: ClassVar[str] = "Program vs comparison group: a yes/no outcome"

    prop_program: float
    prop_comparison: float
    n_program: int
    n_comparison: int
    diff: float
    diff_ci_low: float
    diff_ci_high: float
    odds_ratio: float
    cox_index: float
    cox_ci_low: float
    cox_ci_high: float
    p_value: float
    alpha: float = 0.05

    @property
    def estimate(self) -> float:
        """The headline estimate: the difference in proportion, program − comparison.

        Returns
        -------
        float
            :attr:`diff`.
        """
        return self.diff

    def _terms(self) -> list[dict[str, Any]]:
        nan = float("nan")
        return [{"term": "difference in proportion", "estimate": self.diff, "se": nan,
                 "ci_low": self.diff_ci_low, "ci_high": self.diff_ci_high,
                 "p_value": self.p_value},
                {"term": "cox_index", "estimate": self.cox_index, "se": nan,
                 "ci_low": self.cox_ci_low, "ci_high": self.cox_ci_high, "p_value": nan}]


def compare_proportions(data: pd.DataFrame, outcome: str, group: str, *,
                        cluster: str | None = None,
                        alpha: float = 0.05) -> ProportionComparison:
    """Compare a 0/1 outcome between the program (``group`` 1) and comparison (0) groups.

    Without ``cluster``, the difference has Newcombe's hybrid score interval for independent
    proportions. With ``cluster`` (e.g. sites), youth in a cluster are not independent: the
    difference and its interval then come from the linear probability model ``outcome ~ group``
    with CR1 standard errors and ``G − 1`` degrees of freedom (as ``estimatr::lm_robust(...,
    clusters = cluster, se_type = "stata")``; the difference equals the difference of the two
    proportions), and the Cox index's interval, which would ignore the clusters, is not given.
    Ignoring clusters when the program runs at some sites and not others gave intervals that
    covered the truth 92% of the time even with 20 sites (``benchmarks/coverage.py``).

    Raises
    ------
    EvalDataError
        Naming the column: a group with no one measured, or a proportion of 0 or 1 in a group
        (the odds ratio is then infinite); one cluster.
    DesignRefused
        When the program runs at some clusters and not others and a group has fewer than
        :data:`~evalkit.methods.groups.MIN_SITES_PER_GROUP` clusters.

    References
    ----------
    What Works Clearinghouse (2020). *Procedures and Standards Handbook, Version 4.1*,
    Appendix E (the Cox index).

    Cameron, A. C., & Miller, D. L. (2015). A practitioner's guide to cluster-robust inference.
    *Journal of Human Resources*, 50(2), 317–372.
    """
    from evalkit.methods.groups import check_cluster_assignment
    from evalkit.methods.inference import robust_ols

    alpha = check_alpha(alpha)
    cols = [Column(outcome, kind="binary"), Column(group, kind="binary", allow_missing=False)]
    if cluster is not None:
        cols.append(Column(cluster, kind="string", allow_missing=False))
    clean = validate(data, cols)
    d = clean.dropna(subset=[outcome])
    y, g = d[outcome].to_numpy(float), d[group].to_numpy(float)
    x1, n1 = int(y[g == 1].sum()), int((g == 1).sum())
    x0, n0 = int(y[g == 0].sum()), int((g == 0).sum())
    source = source_of(data)
    if min(n1, n0) == 0:
        which = "program (1)" if n1 == 0 else "comparison (0)"
        raise EvalDataError([DataProblem(group, f"the {which} group has no youth with "
                                         f"'{outcome}' measured", "youth in both groups")],
                            source=source)
    cells = (x1, n1 - x1, x0, n0 - x0)
    if min(cells) == 0:
        raise EvalDataError([DataProblem(outcome, "a group has everyone or no one with the "
                                         "outcome (a proportion of 0 or 1), so the odds ratio "
                                         "and the Cox index are infinite",
                                         "both outcomes in both groups")], source=source)
    cautions: list[str] = []
    if min(cells) < 5:
        cautions.append(Caution(
            "One of the four outcome-by-group cells holds fewer than five youth, so the "
            "interval and p-value of the Cox index (from a normal approximation) are rough. "
            "The difference in proportions and its interval are not affected.",
            limits=False))
    log_or = math.log(cells[0] * cells[3] / (cells[1] * cells[2]))
    se = math.sqrt(sum(1 / c for c in cells))
    z = float(special.ndtri(1 - alpha / 2))
    cox_lo, cox_hi = (log_or - z * se) / 1.65, (log_or + z * se) / 1.65
    p_value = float(2 * special.ndtr(-abs(log_or / se)))
    if cluster is None:
        diff, lo, hi = newcombe_independent_interval(x1, n1, x0, n0, alpha)
    else:
        codes = pd.factorize(d[cluster])[0]
        if codes.max() < 1:
            raise EvalDataError([DataProblem(cluster, "only one cluster among the youth "
                                             "analysed: cluster-robust standard errors need "
                                             "the variation between clusters", "at least 2")],
                                source=source)
        check_cluster_assignment(codes, g, cluster, source)
        terms, _ = robust_ols(y, np.column_stack([np.ones(len(y)), g]), ["(intercept)", group],
                              codes, alpha, cluster_name=cluster)
        row = terms.iloc[1]
        diff, lo, hi = float(row["estimate"]), float(row["ci_low"]), float(row["ci_high"])
        p_value = float(row["p_value"])
        cautions += list(terms.attrs.get("cautions", ()))
        cox_lo = cox_hi = float("nan")
        cautions.append(Caution(
            f"Youth are clustered in '{cluster}': the difference in proportions and its "
            "interval allow for that, but the Cox index's interval would not, so it is not "
            "given.", limits=False))
    return ProportionComparison(
        prop_program=x1 / n1, prop_comparison=x0 / n0, n_program=n1, n_comparison=n0,
        diff=diff, diff_ci_low=lo, diff_ci_high=hi, odds_ratio=math.exp(log_or),
        cox_index=log_or / 1.65, cox_ci_low=cox_lo, cox_ci_high=cox_hi, p_value=p_value,
        alpha=alpha, cautions=tuple(cautions))

"""Standardized effect sizes shared by every design, defined as the WWC and Lakens define them.

Reports compare programs on these scales: Hedges' g for continuous outcomes, the Cox index for
binary ones, and the WWC improvement index for both.
"""

from __future__ import annotations

import math

from scipy import special

__all__ = [
    "hedges_j",
    "wwc_omega",
    "pooled_sd",
    "hedges_g_wwc",
    "g_variance",
    "cox_index",
    "improvement_index",
]


def hedges_j(df: float) -> float:
    """Hedges' exact small-sample correction factor.

    ``J(df) = Γ(df/2) / (sqrt(df/2) · Γ((df − 1)/2))``, computed on the log scale; NaN for
    ``df <= 1``.

    References
    ----------
    Hedges, L. V. (1981). Distribution theory for Glass's estimator of effect size and related
    estimators. *Journal of Educational Statistics*, 6(2), 107–128, eq. 6e.
    """
    if df <= 1:
        return float("nan")
    return math.exp(
        special.gammaln(df / 2) - 0.5 * math.log(df / 2) - special.gammaln((df - 1) / 2)
    )


def wwc_omega(n_total: int) -> float:
    """The WWC small-sample correction ``ω = 1 − 3 / (4N − 9)``.

    References
    ----------
    What Works Clearinghouse (2020). *Procedures and Standards Handbook, Version 4.1*,
    Appendix E, eq. E.1.
    """
    return 1.0 - 3.0 / (4.0 * n_total - 9.0)


def pooled_sd(sd1: float, n1: int, sd2: float, n2: int) -> float:
    """Pooled within-group standard deviation of two groups (NaN with fewer than 3 people).

    A group of one person contributes nothing to the pooled variance (its SD, NaN, is not
    used).
    """
    if n1 + n2 - 2 <= 0:
        return float("nan")
    ss = sum((n - 1) * sd**2 for sd, n in ((sd1, n1), (sd2, n2)) if n > 1)
    return math.sqrt(ss / (n1 + n2 - 2))


def hedges_g_wwc(diff: float, sd1: float, n1: int, sd2: float, n2: int) -> float:
    """WWC Hedges' g: a (possibly covariate-adjusted) mean difference over the pooled SD, × ω.

    References
    ----------
    What Works Clearinghouse (2020). *Procedures and Standards Handbook, Version 4.1*,
    Appendix E, eq. E.1 (unadjusted SDs in the denominator also for adjusted differences).

    NaN when the pooled SD is zero or undefined (callers say why in a caution or refuse).
    """
    sd = pooled_sd(sd1, n1, sd2, n2)
    if not sd > 0:
        return float("nan")
    return wwc_omega(n1 + n2) * diff / sd


def g_variance(g: float, n1: int, n2: int) -> float:
    """Large-sample variance of a two-group standardized mean difference.

    ``(n1 + n2) / (n1 n2) + g² / (2 (n1 + n2))`` (Hedges & Olkin 1985, eq. 5.15).
    """
    return (n1 + n2) / (n1 * n2) + g**2 / (2 * (n1 + n2))


def cox_index(p_program: float, p_comparison: float) -> float:
    """The Cox index: a log odds ratio on the scale of Hedges' g, ``ln(OR) / 1.65``.

    References
    ----------
    What Works Clearinghouse (2020). *Procedures and Standards Handbook, Version 4.1*,
    Appendix E, eq. E.4.
    """
    for p in (p_program, p_comparison):
        if not 0.0 < p < 1.0:
            raise ValueError("the Cox index needs proportions strictly between 0 and 1")
    log_or = math.log(p_program / (1 - p_program)) - math.log(p_comparison / (1 - p_comparison))
    return log_or / 1.65


def improvement_index(g: float, *, lower_is_better: bool = False) -> float:
    """WWC improvement index: the percentile gain of the average comparison-group member.

    ``100 · (Φ(g) − 0.5)``, with the sign turned so that a positive index is always an
    improvement.

    References
    ----------
    What Works Clearinghouse (2020). *Procedures and Standards Handbook, Version 4.1*,
    Appendix E, eq. E.9.
    """
    value = 100.0 * (float(special.ndtr(g)) - 0.5)
    return -value if lower_is_better else value

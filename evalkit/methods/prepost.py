"""Pre-post (one-group, repeated-measures) designs.

Change is always ``post − pre``. For a score where lower is better (a symptom scale) an
improvement is therefore a negative change.

A one-group pre-post design measures change, not a program effect: without a comparison group
the change also holds maturation, regression to the mean and anything else that happened between
the two measurements. Reports built on these functions say so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import special

from evalkit.data import Column, validate
from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.results import Result, check_alpha

__all__ = ["paired_change", "PairedChange", "describe", "hedges_j", "columns"]


def columns(
    pre: str, post: str, *, id: str | None = None, min: float | None = None,
    max: float | None = None,
) -> list[Column]:
    """The column specs a pre-post analysis needs (for :func:`evalkit.data.load`).

    Parameters
    ----------
    pre, post
        Score columns at the first and second measurement (missing values allowed: youth lost
        to follow-up have no second score).
    id
        Case-identifier column, checked for uniqueness.
    min, max
        The score's possible range, if it has one.
    """
    cols = []
    if id is not None:
        cols.append(Column(id, kind="id", label="case identifier"))
    cols.append(Column(pre, min=min, max=max, label="score at the first measurement"))
    cols.append(Column(post, min=min, max=max, label="score at the second measurement"))
    return cols


def hedges_j(df: float) -> float:
    """Hedges' exact small-sample correction factor.

    ``J(df) = Γ(df/2) / (sqrt(df/2) · Γ((df − 1)/2))``, computed on the log scale.

    References
    ----------
    Hedges, L. V. (1981). Distribution theory for Glass's estimator of effect size and related
    estimators. *Journal of Educational Statistics*, 6(2), 107–128, eq. 6e.
    """
    if df <= 1:
        return float("nan")
    return math.exp(special.gammaln(df / 2) - 0.5 * math.log(df / 2) - special.gammaln((df - 1) / 2))


@dataclass(frozen=True)
class PairedChange(Result):
    """Result of :func:`paired_change`.

    Attributes
    ----------
    n, n_dropped
        Complete pairs analysed; rows dropped because either score was missing.
    mean_pre, mean_post, sd_pre, sd_post
        Means and standard deviations of the complete pairs.
    mean_diff, sd_diff, se
        Mean change (post − pre), its standard deviation and standard error.
    ci_low, ci_high
        ``1 − alpha`` confidence interval of the mean change (t distribution, ``df = n − 1``).
    t, df, p_value
        Paired t statistic, degrees of freedom and two-sided p-value.
    d_z
        Mean change over the SD of the change (Lakens 2013, eq. 6).
    d_av
        Mean change over the average of the pre and post SDs (Lakens 2013, eq. 10).
    g_av, g_av_ci_low, g_av_ci_high
        Hedges' g_av = J · d_av with ``J`` the exact gamma-function correction at ``df = n − 1``,
        and its large-sample CI (variance ``2(1 − r)/n + g²/(2n)``; Becker 1988).
    d_rm
        Repeated-measures d, ``d_z · sqrt(2(1 − r))`` (Lakens 2013, eq. 9).
    r
        Pearson correlation of pre and post scores.
    """

    _title: ClassVar[str] = "Paired change (post − pre)"

    pre: str
    post: str
    n: int
    n_dropped: int
    mean_pre: float
    mean_post: float
    sd_pre: float
    sd_post: float
    mean_diff: float
    sd_diff: float
    se: float
    ci_low: float
    ci_high: float
    t: float
    df: int
    p_value: float
    d_z: float
    d_av: float
    g_av: float
    g_av_ci_low: float
    g_av_ci_high: float
    d_rm: float
    r: float
    alpha: float = 0.05

    @property
    def estimate(self) -> float:
        """The headline estimate: the mean change."""
        return self.mean_diff

    def _terms(self) -> list[dict[str, Any]]:
        nan = float("nan")
        return [
            {"term": "mean change", "estimate": self.mean_diff, "se": self.se,
             "ci_low": self.ci_low, "ci_high": self.ci_high, "statistic": self.t,
             "df": float(self.df), "p_value": self.p_value},
            {"term": "hedges_g_av", "estimate": self.g_av, "se": nan,
             "ci_low": self.g_av_ci_low, "ci_high": self.g_av_ci_high, "statistic": nan,
             "df": nan, "p_value": nan},
            {"term": "cohens_d_z", "estimate": self.d_z, "se": nan, "ci_low": nan,
             "ci_high": nan, "statistic": nan, "df": nan, "p_value": nan},
            {"term": "cohens_d_av", "estimate": self.d_av, "se": nan, "ci_low": nan,
             "ci_high": nan, "statistic": nan, "df": nan, "p_value": nan},
            {"term": "cohens_d_rm", "estimate": self.d_rm, "se": nan, "ci_low": nan,
             "ci_high": nan, "statistic": nan, "df": nan, "p_value": nan},
        ]

    def _details(self) -> list[str]:
        return [
            f"{self.n} complete pairs ({self.n_dropped} rows dropped for a missing score); "
            f"mean {self.pre} {self.mean_pre:.4g}, mean {self.post} {self.mean_post:.4g}; "
            f"r = {self.r:.3f}.",
            f"{self.confidence:.0%} CI of the mean change from the t distribution with "
            f"{self.df} df.",
        ]


def _paired(data: pd.DataFrame, pre: str, post: str) -> tuple[np.ndarray, np.ndarray, int]:
    """Validate two score columns; return complete pairs and how many rows were dropped."""
    if not isinstance(pre, str) or not isinstance(post, str):
        raise TypeError("pre and post must be column names (strings)")
    if pre == post:
        raise ValueError(f"pre and post name the same column {pre!r}")
    clean = validate(data, [Column(pre), Column(post)])
    x = clean[pre].to_numpy(dtype=float)
    y = clean[post].to_numpy(dtype=float)
    keep = ~(np.isnan(x) | np.isnan(y))
    return x[keep], y[keep], int((~keep).sum())


def _source(data: pd.DataFrame) -> str:
    meta = data.attrs.get("evalkit_origin")
    return meta["source"] if isinstance(meta, dict) else "data frame"


def paired_change(
    data: pd.DataFrame, pre: str, post: str, *, alpha: float = 0.05
) -> PairedChange:
    """Mean change from ``pre`` to ``post`` with the paired t-test and standardized effect sizes.

    Rows where either score is missing are dropped and counted (``n_dropped``).

    Parameters
    ----------
    data
        One row per person.
    pre, post
        Columns holding the first and second measurement.
    alpha
        1 − confidence level of the intervals.

    Returns
    -------
    PairedChange
        Mean change with CI, t-test, Cohen's d_z, d_av, d_rm and Hedges' g_av with CI.

    Raises
    ------
    EvalDataError
        If a column is missing or not numeric, fewer than two complete pairs remain, or every
        pair changes by the same amount (the t statistic is then undefined).

    Notes
    -----
    The t-test, its CI and p-value equal R's ``t.test(post, pre, paired = TRUE)``.

    References
    ----------
    Lakens, D. (2013). Calculating and reporting effect sizes to facilitate cumulative science:
    a practical primer for t-tests and ANOVAs. *Frontiers in Psychology*, 4, 863.

    Becker, B. J. (1988). Synthesizing standardized mean-change measures. *British Journal of
    Mathematical and Statistical Psychology*, 41(2), 257–278.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"pre": [30, 28, 35, 40, 22], "post": [25, 27, 30, 31, 22]})
    >>> round(paired_change(df, pre="pre", post="post").mean_diff, 2)
    -4.0
    """
    alpha = check_alpha(alpha)
    x, y, n_dropped = _paired(data, pre, post)
    n = x.size
    if n < 2:
        raise EvalDataError(
            [DataProblem(None, f"only {n} complete pair(s) of '{pre}' and '{post}'",
                         "at least 2 rows with both scores")],
            source=_source(data),
        )
    d = y - x
    mean_diff = float(d.mean())
    sd_diff = float(d.std(ddof=1))
    if not sd_diff > 0:
        raise EvalDataError(
            [DataProblem(None, f"every complete pair changes by exactly {mean_diff:g}, so the "
                         "change has no variance and the t-test is undefined",
                         "changes that vary between people")],
            source=_source(data),
        )
    dof = n - 1
    se = sd_diff / math.sqrt(n)
    t = mean_diff / se
    p = float(2 * special.stdtr(dof, -abs(t)))
    q = float(special.stdtrit(dof, 1 - alpha / 2))
    sd_pre = float(x.std(ddof=1))
    sd_post = float(y.std(ddof=1))
    r = float(np.corrcoef(x, y)[0, 1]) if sd_pre > 0 and sd_post > 0 else float("nan")
    d_z = mean_diff / sd_diff
    sd_av = (sd_pre + sd_post) / 2
    d_av = mean_diff / sd_av if sd_av > 0 else float("nan")
    j = hedges_j(dof)
    g_av = j * d_av
    # Large-sample variance of a standardized mean change with a raw-score standardizer.
    r_for_var = r if not math.isnan(r) else 0.0
    var_g = 2 * (1 - r_for_var) / n + g_av**2 / (2 * n)
    z = float(special.ndtri(1 - alpha / 2))
    half = z * math.sqrt(var_g) if var_g >= 0 else float("nan")
    d_rm = d_z * math.sqrt(2 * (1 - r)) if not math.isnan(r) else float("nan")
    return PairedChange(
        pre=pre, post=post, n=int(n), n_dropped=n_dropped,
        mean_pre=float(x.mean()), mean_post=float(y.mean()), sd_pre=sd_pre, sd_post=sd_post,
        mean_diff=mean_diff, sd_diff=sd_diff, se=se,
        ci_low=mean_diff - q * se, ci_high=mean_diff + q * se,
        t=t, df=dof, p_value=p,
        d_z=d_z, d_av=d_av, g_av=g_av, g_av_ci_low=g_av - half, g_av_ci_high=g_av + half,
        d_rm=d_rm, r=r, alpha=alpha,
    )


def _mean_ci(v: np.ndarray, alpha: float) -> dict[str, float]:
    n = v.size
    mean = float(v.mean()) if n else float("nan")
    sd = float(v.std(ddof=1)) if n > 1 else float("nan")
    half = float(special.stdtrit(n - 1, 1 - alpha / 2)) * sd / math.sqrt(n) if n > 1 else float("nan")
    return {"n": n, "mean": mean, "sd": sd, "ci_low": mean - half, "ci_high": mean + half}


def describe(data: pd.DataFrame, pre: str, post: str, *, alpha: float = 0.05) -> pd.DataFrame:
    """Means with t-based CIs of the scores, for everyone measured at ``pre`` and for completers.

    Parameters
    ----------
    data
        One row per person.
    pre, post
        Score columns.
    alpha
        1 − confidence level.

    Returns
    -------
    pandas.DataFrame
        Rows ``all_pre`` (everyone with a first score), ``complete_pre`` and ``complete_post``
        (people with both scores); columns ``sample, n, mean, sd, ci_low, ci_high``. Comparing
        ``all_pre`` with ``complete_pre`` shows whether those lost to follow-up started out
        differently.
    """
    alpha = check_alpha(alpha)
    clean = validate(data, [Column(pre), Column(post)])
    x = clean[pre].to_numpy(dtype=float)
    y = clean[post].to_numpy(dtype=float)
    both = ~(np.isnan(x) | np.isnan(y))
    rows = [
        {"sample": "all_pre", **_mean_ci(x[~np.isnan(x)], alpha)},
        {"sample": "complete_pre", **_mean_ci(x[both], alpha)},
        {"sample": "complete_post", **_mean_ci(y[both], alpha)},
    ]
    return pd.DataFrame(rows)

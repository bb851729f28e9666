"""Pre-post (one-group, repeated-measures) designs.

Change is always ``post − pre``. For a score where lower is better (a symptom scale) an
improvement is therefore a negative change.

A one-group pre-post design measures change, not a program effect: without a comparison group
the change also holds maturation, regression to the mean and anything else that happened between
the two measurements. Reports built on these functions say so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from scipy import special

from evalkit.data import Column, source_of, validate
from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.methods.effect_sizes import hedges_j
from evalkit.results import Caution, Result, check_alpha

_EPS = np.finfo(float).eps

#: Alternative hypotheses, named as R names them.
Alternative = Literal["two-sided", "greater", "less"]

__all__ = [
    "paired_change", "PairedChange", "describe", "hedges_j", "columns",
]


def columns(
    pre: str,
    post: str,
    *,
    id: str | None = None,
    min: float | None = None,
    max: float | None = None,
    binary: Sequence[Mapping[str, str]] = (),
    group: str | None = None,
    covariates: Sequence[str] = (),
    cluster: str | None = None,
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
    binary
        0/1 outcomes measured at both times, as mappings with keys ``pre``, ``post`` and
        ``label``.
    group
        0/1 column marking the program group (1) against a comparison group (0).
    covariates
        Numeric baseline covariates.
    cluster
        Cluster column (e.g. site).
    """
    cols = []
    if id is not None:
        cols.append(Column(id, kind="id", label="case identifier"))
    cols.append(Column(pre, min=min, max=max, label="score at the first measurement"))
    cols.append(Column(post, min=min, max=max, label="score at the second measurement"))
    for o in binary:
        cols += [Column(o["pre"], kind="binary", label=f"{o['label']} at the first measurement"),
                 Column(o["post"], kind="binary",
                        label=f"{o['label']} at the second measurement")]
    if group is not None:
        cols.append(Column(group, kind="binary", allow_missing=False,
                           label="1 for the program group, 0 for the comparison group"))
    cols += [Column(c, label="baseline covariate") for c in covariates]
    if cluster is not None:
        cols.append(Column(cluster, kind="string", allow_missing=False, label="cluster"))
    unique: dict[str, Column] = {}
    for c in cols:
        unique.setdefault(c.name, c)
    return list(unique.values())


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
        and its large-sample CI (variance ``2(1 − r)/n + g²/(2n)``; Becker 1988). NaN, with a
        caution, where metafor's ``escalc("SMCR")`` gives NA: with 2 pairs (``J`` is undefined
        at 1 df) and, for the CI, when ``r`` is undefined.
    d_rm
        Repeated-measures d, ``d_z · sqrt(2(1 − r))`` (Lakens 2013, eq. 9); NaN with 2 pairs
        (``r`` is then ±1 by construction) or when ``r`` is undefined.
    r
        Pearson correlation of pre and post scores (NaN when either score does not vary).
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


def too_few_pairs(data: pd.DataFrame, pre: str, post: str, n: int, need: int,
                  what: str = "") -> EvalDataError:
    """The error for fewer than ``need`` complete pairs, naming the column that is short."""
    clean = validate(data, [Column(pre), Column(post)])
    n_pre, n_post = int(clean[pre].notna().sum()), int(clean[post].notna().sum())
    column = pre if n_pre < need and n_pre <= n_post else post if n_post < need else None
    if len(clean) == 0:
        column = None
    msg = (f"only {n} complete pair(s) of '{pre}' and '{post}' ({n_pre} rows have '{pre}', "
           f"{n_post} have '{post}')")
    return EvalDataError(
        [DataProblem(column, msg + (f"; {what}" if what else ""),
                     f"at least {need} rows with both scores")], source=source_of(data))


#: Below this many pairs the t interval carries a caution that it relies on roughly normal
#: changes: with right-skewed (Gamma(2)) changes it covered the truth 92.2% and 92.8% of the
#: time with 10 and 20 pairs in the coverage self-check (``benchmarks/coverage.py``), 95% from
#: 40 on; the sample cannot show the skew reliably at such sizes (a skewness check missed most
#: of the failing samples).
SMALL_PAIRED_N = 30


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
        pair changes by the same amount (the t statistic is then undefined; R's ``t.test``
        stops with "data are essentially constant", and so does this function, by R's test
        ``se < 10 · machine epsilon · |mean change|``).

    Notes
    -----
    The t-test, its CI and p-value equal R's ``t.test(post, pre, paired = TRUE)``. Hedges'
    g_av and its CI equal metafor's ``escalc(measure = "SMCR")`` with the mean of the two SDs
    as the standardizer; where metafor returns NA (2 pairs; an undefined correlation) the
    result holds NaN and a caution says why.

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
        raise too_few_pairs(data, pre, post, n, 2, "a mean change needs at least two pairs "
                            "to say how much it varies")
    d = y - x
    mean_diff = float(d.mean())
    sd_diff = float(d.std(ddof=1))
    dof = n - 1
    se = sd_diff / math.sqrt(n)
    if not sd_diff > 0 or se < 10 * _EPS * abs(mean_diff):
        raise EvalDataError(
            [DataProblem(post, f"every complete pair changes by exactly {mean_diff:g} from "
                         f"'{pre}' to '{post}', so the change has no variance and the t-test "
                         "is undefined (R's t.test stops: data are essentially constant)",
                         "changes that vary between people")],
            source=source_of(data),
        )
    t = mean_diff / se
    p = float(2 * special.stdtr(dof, -abs(t)))
    q = float(special.stdtrit(dof, 1 - alpha / 2))
    sd_pre = float(x.std(ddof=1))
    sd_post = float(y.std(ddof=1))
    cautions: list[str] = []
    nan = float("nan")
    if sd_pre > 0 and sd_post > 0:
        r = float(np.clip(np.corrcoef(x, y)[0, 1], -1.0, 1.0))
    else:
        r = nan
        flat = pre if not sd_pre > 0 else post
        cautions.append(Caution(
            f"Every youth had the same '{flat}' score, so the correlation between the first "
            "and second scores is undefined. Two effect-size figures that need it (d_rm and "
            "the interval of Hedges' g_av) are not given; the average change and its interval "
            "are not affected.", limits=False))
    d_z = mean_diff / sd_diff
    sd_av = (sd_pre + sd_post) / 2
    d_av = mean_diff / sd_av
    j = hedges_j(dof)
    g_av = j * d_av
    if n == 2:
        cautions.append(Caution(
            "With 2 pairs of scores, the effect sizes Hedges' g_av and d_rm cannot be "
            "computed: g_av's small-sample correction is undefined with 1 degree of freedom "
            "(metafor gives NA too), and the correlation of two pairs is always perfect. The "
            "average change and its interval are not affected.", limits=False))
    # Large-sample variance of a standardized mean change with a raw-score standardizer.
    var_g = 2 * (1 - r) / n + g_av**2 / (2 * n)
    z = float(special.ndtri(1 - alpha / 2))
    half = z * math.sqrt(var_g) if var_g >= 0 else nan
    d_rm = d_z * math.sqrt(2 * (1 - r)) if not math.isnan(r) and n > 2 else nan
    if n < SMALL_PAIRED_N:
        cautions.append(Caution(
            f"{n} youth were measured both times. With fewer than {SMALL_PAIRED_N}, the "
            "t-test's interval of the average change relies on the changes being roughly "
            "bell-shaped, which so few cannot show; if they are lopsided the interval may be "
            "too narrow (in simulation, strongly skewed changes gave 92% coverage for a 95% "
            "interval with 10 to 20 youth). The signed-rank interval, which does not assume a "
            "bell curve, is the check.", limits=True))
    return PairedChange(
        pre=pre, post=post, n=int(n), n_dropped=n_dropped,
        mean_pre=float(x.mean()), mean_post=float(y.mean()), sd_pre=sd_pre, sd_post=sd_post,
        mean_diff=mean_diff, sd_diff=sd_diff, se=se,
        ci_low=mean_diff - q * se, ci_high=mean_diff + q * se,
        t=t, df=dof, p_value=p,
        d_z=d_z, d_av=d_av, g_av=g_av, g_av_ci_low=g_av - half, g_av_ci_high=g_av + half,
        d_rm=d_rm, r=r, alpha=alpha, cautions=tuple(cautions),
    )


def mean_ci(v: np.ndarray, alpha: float) -> dict[str, float]:
    """``n, mean, sd, ci_low, ci_high`` of ``v`` with a t-based CI."""
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
        differently. ``frame.attrs["cautions"]`` explains any missing mean, SD or interval
        (no one or only one person in a row) and intervals of zero width (a constant score).
    """
    alpha = check_alpha(alpha)
    clean = validate(data, [Column(pre), Column(post)])
    x = clean[pre].to_numpy(dtype=float)
    y = clean[post].to_numpy(dtype=float)
    both = ~(np.isnan(x) | np.isnan(y))
    rows = [
        {"sample": "all_pre", **mean_ci(x[~np.isnan(x)], alpha)},
        {"sample": "complete_pre", **mean_ci(x[both], alpha)},
        {"sample": "complete_post", **mean_ci(y[both], alpha)},
    ]
    out = pd.DataFrame(rows)
    out.attrs["cautions"] = mean_ci_cautions(out, [
        f"'{pre}' (everyone measured)", f"'{pre}' (measured both times)",
        f"'{post}' (measured both times)"])
    return out


def mean_ci_cautions(frame: pd.DataFrame, names: Sequence[str]) -> tuple[str, ...]:
    """Cautions for the rows of a :func:`mean_ci` table, named ``names``.

    A row gets a caution when its mean or interval is missing or has no width.
    """
    out = []
    for name, (_, row) in zip(names, frame.iterrows(), strict=True):
        if row["n"] == 0:
            out.append(Caution(f"No youth in {name} have this score, so its mean is not "
                               "given.", limits=True))
        elif row["n"] == 1:
            out.append(Caution(f"Only one youth in {name} has this score, so no spread or "
                               "confidence interval can be given for its mean.", limits=True))
        elif not row["sd"] > 0:
            out.append(Caution(f"Every youth in {name} has the same score, so the confidence "
                               "interval of its mean has no width and does not show how "
                               "uncertain the mean is.", limits=True))
    return tuple(out)


def __getattr__(name: str) -> Any:
    # The signed-rank test lives in evalkit.methods.signed_rank; its public names stay
    # importable from here, where they were first published.
    if name in ("SignedRank", "signed_rank"):
        from evalkit.methods import signed_rank as _signed_rank

        return getattr(_signed_rank, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

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
from typing import Any, ClassVar, Literal, Mapping, Sequence, get_args

import numpy as np
import pandas as pd
from scipy import special

from evalkit.data import Column, source_of, validate
from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.methods.effect_sizes import hedges_j
from evalkit.results import Caution, Result, check_alpha, check_option

_EPS = np.finfo(float).eps

#: Alternative hypotheses, named as R names them.
Alternative = Literal["two-sided", "greater", "less"]

__all__ = [
    "paired_change", "PairedChange", "signed_rank", "SignedRank", "describe", "hedges_j",
    "columns",
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
    """Cautions for rows of a :func:`mean_ci` table (named ``names``) whose mean or interval
    is missing or has no width."""
    out = []
    for name, (_, row) in zip(names, frame.iterrows()):
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


# -- Wilcoxon signed-rank test ------------------------------------------------------------------


def _signrank_counts(n: int) -> np.ndarray:
    """Number of subsets of {1..n} with each possible rank sum 0..n(n+1)/2."""
    top = n * (n + 1) // 2
    counts = np.zeros(top + 1)
    counts[0] = 1.0
    for k in range(1, n + 1):
        counts[k:] = counts[k:] + counts[:-k].copy()
    return counts


def _psignrank(q: float, n: int, *, lower: bool = True) -> float:
    """P(V <= q) (``lower``) or P(V > q) for the signed-rank statistic, as R's psignrank."""
    c = _signrank_counts(n)
    total = 2.0**n
    q = math.floor(q + 1e-7)
    if lower:
        return float(c[: max(q + 1, 0)].sum() / total) if q >= 0 else 0.0
    return float(c[max(q + 1, 0):].sum() / total)


def _qsignrank(p: float, n: int) -> int:
    """Smallest q with P(V <= q) >= p, computed the way R's qsignrank does."""
    c = _signrank_counts(n) / 2.0**n
    top = n * (n + 1) // 2
    cum = 0.0
    if p <= 0.5:
        x = p - 10 * _EPS
        for q in range(top + 1):
            cum += c[q]
            if cum >= x:
                return q
        return top
    x = 1 - p + 10 * _EPS
    for q in range(top + 1):
        cum += c[q]
        if cum > x:
            return top - q
    return 0


def _signed_rank_sums(x: np.ndarray) -> tuple[float, np.ndarray]:
    """R's signed-rank statistic V (the sum of the midranks of ``|x|`` over positive ``x``)
    and the sizes of the groups of tied ``|x|``.

    Computed on the distinct absolute changes: a midrank is the same for every change in a
    group of ties, so millions of whole-number changes with a few hundred distinct values
    need no rank per change (as ``rank(abs(x))`` in R, in a fraction of the memory).
    """
    a = np.abs(x)
    values, counts = np.unique(a, return_counts=True)
    midranks = np.cumsum(counts) - (counts - 1) / 2.0
    positive = a[x > 0]
    V = float(midranks[np.searchsorted(values, positive)].sum())
    return V, counts


def _w_stat(x: np.ndarray, d: float, correct: bool, alternative: str,
            counts: np.ndarray | None = None) -> float:
    """R's W(d): the standardized signed-rank statistic of ``x − d`` (for the CI and estimate).

    ``x`` may be the distinct changes with their ``counts``: the statistic is then computed on
    the groups of tied values, exactly as R's ``rank`` (midranks) and ``table`` of the ranks
    give it on every change, in time that grows with the number of distinct values. Whole-
    number scores of millions of youth have a few hundred; R's ``wdiff`` re-ranks them all
    at every step of the root search.

    NaN when every shifted change is zero (R: "cannot compute confidence interval when all
    observations are zero or tied").
    """
    c = np.ones(x.size) if counts is None else np.asarray(counts, dtype=float)
    xd = x - d
    keep = xd != 0
    xd, c = xd[keep], c[keep]
    nx = float(c.sum())
    a = np.abs(xd)
    order = np.argsort(a, kind="stable")
    a, c, pos = a[order], c[order], xd[order] > 0
    # groups of equal |x − d|: the ranks first+1 .. last share their midrank
    starts = np.r_[0, np.flatnonzero(np.diff(a) != 0) + 1] if a.size else np.zeros(0, int)
    size = np.add.reduceat(c, starts) if a.size else np.zeros(0)
    npos = np.add.reduceat(c * pos, starts) if a.size else np.zeros(0)
    last = np.cumsum(size)
    mid = (last - size + 1 + last) / 2
    zd = float((mid * npos).sum()) - nx * (nx + 1) / 4
    var = nx * (nx + 1) * (2 * nx + 1) / 24 - float((size**3 - size).sum()) / 48
    if not var > 0:
        return float("nan")
    corr = 0.0
    if correct:
        corr = {"two-sided": math.copysign(0.5, zd) if zd != 0 else 0.0, "greater": 0.5,
                "less": -0.5}[alternative]
    return (zd - corr) / math.sqrt(var)


@dataclass(frozen=True)
class SignedRank(Result):
    """Result of :func:`signed_rank`.

    Attributes
    ----------
    V
        Sum of the ranks of the positive changes (post − pre), as R reports it.
    p_value
        p-value for ``alternative``.
    method
        ``"exact"`` or ``"normal approximation"`` (with continuity correction when ``correct``).
    n, n_zero, n_dropped
        Non-zero changes used; zero changes dropped (as R does); rows dropped for a missing
        score.
    estimate, ci_low, ci_high
        Hodges–Lehmann pseudo-median of the change and its CI (R's ``conf.int = TRUE``).
    achieved_confidence
        The confidence level the interval actually has. The signed-rank distribution is
        discrete, so the exact interval's level is ``1 − achieved α`` (R's ``achieved.alpha``):
        below the requested ``1 − alpha`` with 5 or fewer non-zero changes (50% with 2, 75%
        with 3, 87.5% with 4, 93.75% with 5), at or above it otherwise. In the normal
        approximation it is the level R reports after widening ``alpha`` (``attr(conf.int,
        "conf.level")``). 0 when no interval exists (``ci_low``/``ci_high`` are then NaN).
        :attr:`confidence` (the level ``summary()`` and ``to_frame()`` state) is the smaller
        of this and the requested level.
    """

    _title: ClassVar[str] = "Wilcoxon signed-rank test (post − pre)"
    _options: ClassVar[tuple[str, ...]] = ("alternative", "exact", "correct", "alpha")

    V: float
    p_value: float
    method: str
    n: int
    n_zero: int
    n_dropped: int
    estimate: float
    ci_low: float
    ci_high: float
    achieved_confidence: float = float("nan")
    alternative: Alternative = "two-sided"
    exact: bool | None = None
    correct: bool = True
    alpha: float = 0.05

    @property
    def confidence(self) -> float:
        """Confidence level of the interval: the achieved level where it falls short of the
        requested ``1 − alpha``, else the requested level."""
        asked = 1.0 - self.alpha
        if math.isnan(self.achieved_confidence):
            return asked
        return min(asked, self.achieved_confidence)

    def _terms(self) -> list[dict[str, Any]]:
        return [{"term": "pseudo-median change", "estimate": self.estimate, "se": float("nan"),
                 "ci_low": self.ci_low, "ci_high": self.ci_high, "statistic": self.V,
                 "p_value": self.p_value, "conf_level": self.confidence}]

    def _details(self) -> list[str]:
        lines = [f"{self.method}; V = {self.V:g}; {self.n} non-zero changes, {self.n_zero} zero "
                 f"changes dropped, {self.n_dropped} rows missing a score."]
        asked = 1.0 - self.alpha
        if self.confidence < asked - 1e-12:
            lines.append(f"The interval is a {100 * self.confidence:.4g}% confidence interval "
                         f"({100 * asked:.4g}% requested, not achievable with these data).")
        else:
            lines.append(f"The interval is a {100 * asked:.4g}% confidence interval.")
        return lines


def signed_rank(
    data: pd.DataFrame,
    pre: str,
    post: str,
    *,
    alternative: Alternative = "two-sided",
    exact: bool | None = None,
    correct: bool = True,
    alpha: float = 0.05,
) -> SignedRank:
    """Wilcoxon signed-rank test of the change, with the Hodges–Lehmann pseudo-median and CI.

    A robustness check of :func:`paired_change` that does not assume the changes are roughly
    normal. Zero changes are dropped, as R does.

    Parameters
    ----------
    data
        One row per person.
    pre, post
        Score columns; the change is ``post − pre``.
    alternative
        ``"two-sided"``, ``"greater"`` (the change tends to be positive) or ``"less"``.
    exact
        Exact p-value and CI from the signed-rank distribution. ``None`` (R's default) uses the
        exact method when fewer than 50 non-zero changes remain and there are no ties and no
        zero changes, otherwise the normal approximation.
    correct
        Continuity correction in the normal approximation.
    alpha
        1 − confidence level of the CI.

    Returns
    -------
    SignedRank

    Raises
    ------
    EvalDataError
        If a column is missing or not numeric, or no non-zero change remains.

    Notes
    -----
    Equal to R's ``wilcox.test(post, pre, paired = TRUE, conf.int = TRUE)`` with the same
    ``alternative``, ``exact`` and ``correct``; in the normal approximation the CI limits and
    estimate are roots found to R's tolerance (1e-4).

    Where the requested level cannot be reached, R warns "requested conf.level not achievable"
    and labels the interval with the level it has; here ``achieved_confidence`` holds that
    level, :attr:`SignedRank.confidence`, ``summary()`` and ``to_frame()`` (column
    ``conf_level``) state it, and a caution says so. R labels an exact interval with the
    requested level when it falls short by less than ``alpha / 2`` (93.75% with 5 changes is
    labelled 95%); evalkit states the achieved level whenever it is below the requested one.
    Where R's interval has 0% confidence (one non-zero change; all changes tied in the normal
    approximation, where R gives NaN and a "midrange" estimate) ``ci_low`` and ``ci_high`` are
    NaN, with a caution.

    References
    ----------
    Hollander, M., Wolfe, D. A. & Chicken, E. (2014). *Nonparametric Statistical Methods*, 3rd
    ed., Wiley, §3.1–3.2.

    Bauer, D. F. (1972). Constructing confidence sets using rank statistics. *JASA*, 67(339),
    687–690.
    """
    from scipy.optimize import brentq

    alpha = check_alpha(alpha)
    check_option("alternative", alternative, get_args(Alternative))
    x0, y0, n_dropped = _paired(data, pre, post)
    x = y0 - x0
    zeros = x == 0
    n_zero = int(zeros.sum())
    x = x[~zeros]
    n = x.size
    if n == 0:
        raise EvalDataError(
            [DataProblem(post, f"every one of the {n_zero} complete pairs is unchanged from "
                         f"'{pre}' to '{post}', so there is no change to rank (R's wilcox.test "
                         "gives NaN)", "at least one youth whose score changed")],
            source=source_of(data))
    use_exact = (n < 50) if exact is None else bool(exact)
    V, tie_sizes = _signed_rank_sums(x)
    ties = tie_sizes.size != n
    top = n * (n + 1) / 2
    cautions: list[str] = []
    asked = 1.0 - alpha
    if use_exact and not ties and n_zero == 0:
        method = "exact"
        if alternative == "two-sided":
            p1 = (_psignrank(V - 1, n, lower=False) if V > n * (n + 1) / 4
                  else _psignrank(V, n))
            p = min(2 * p1, 1.0)
        elif alternative == "greater":
            p = _psignrank(V - 1, n, lower=False)
        else:
            p = _psignrank(V, n)
        i, j = np.triu_indices(n)
        walsh = np.sort((x[i] + x[j]) / 2)
        qu = _qsignrank(alpha / 2 if alternative == "two-sided" else alpha, n) or 1
        ql = int(top - qu)
        # R's achieved.alpha: the exact tail probability outside the interval
        achieved_alpha = _psignrank(qu - 1, n) * (2 if alternative == "two-sided" else 1)
        achieved = 1.0 - min(achieved_alpha, 1.0)
        if alternative == "two-sided":
            lo, hi = walsh[qu - 1], walsh[ql]
        elif alternative == "greater":
            lo, hi = walsh[qu - 1], math.inf
        else:
            lo, hi = -math.inf, walsh[ql]
        est = float(np.median(walsh))
    else:
        method = "normal approximation" + (" with continuity correction" if correct else "")
        if use_exact:
            why = "tied" if ties and not n_zero else "zero" if not ties else "tied or zero"
            cautions.append(Caution(
                f"Some changes are {why}, so the exact signed-rank test cannot be used: the "
                "p-value and interval use the normal approximation, as R does.",
                limits=False))
        nties = tie_sizes.astype(float)  # a tie of millions cubed overflows 64-bit integers
        z = V - n * (n + 1) / 4
        sigma = math.sqrt(n * (n + 1) * (2 * n + 1) / 24 - (nties**3 - nties).sum() / 48)
        corr = 0.0
        if correct:
            corr = {"two-sided": math.copysign(0.5, z) if z != 0 else 0.0, "greater": 0.5,
                    "less": -0.5}[alternative]
        zz = (z - corr) / sigma
        if alternative == "less":
            p = float(special.ndtr(zz))
        elif alternative == "greater":
            p = float(special.ndtr(-zz))
        else:
            p = float(2 * min(special.ndtr(zz), special.ndtr(-zz)))
        lo, hi, est, achieved = _approx_ci(x, alpha, correct, alternative, brentq)
    if achieved <= 0:
        lo, hi = math.nan, math.nan
        reason = ("there is only one non-zero change" if n == 1 else
                  "every non-zero change is the same" if np.unique(x).size == 1 else
                  "too few changes differ from each other")
        cautions.append(Caution(
            f"No confidence interval can be given for the typical change (the pseudo-median) "
            f"because {reason}: any interval here would have 0% confidence (R's too).",
            limits=True))
    elif achieved < asked - 1e-12:
        cautions.append(Caution(
            f"With {n} youth whose score changed, the signed-rank interval cannot reach the "
            f"requested {100 * asked:.4g}% confidence: its confidence level is "
            f"{100 * achieved:.4g}%, so it is less likely to contain the true typical change "
            "than the level asked for.", limits=True))
    return SignedRank(
        V=V, p_value=p, method=method, n=int(n), n_zero=n_zero, n_dropped=n_dropped,
        estimate=float(est), ci_low=float(lo), ci_high=float(hi),
        achieved_confidence=float(achieved), alternative=alternative,
        exact=exact, correct=correct, alpha=alpha, cautions=tuple(cautions),
    )


def _approx_ci(x, alpha, correct, alternative, brentq):
    """R's asymptotic CI, estimate of the pseudo-median and the CI's confidence level
    (``wilcox.test``, ``conf.int = TRUE``)."""
    mumin, mumax = float(x.min()), float(x.max())
    values, counts = np.unique(x, return_counts=True)

    def w(d: float, corr: bool = correct) -> float:
        return _w_stat(values, d, corr, alternative, counts)

    w_min = w(mumin)
    w_max = w(mumax) if math.isfinite(w_min) else math.nan
    if not math.isfinite(w_max):
        # R: "cannot compute confidence interval when all observations are zero or tied";
        # the interval is NaN at 0% confidence and the estimate is the midrange
        return math.nan, math.nan, (mumin + mumax) / 2, 0.0

    def root(zq: float) -> float:
        if w_min - zq <= 0:
            return mumin
        if w_max - zq >= 0:
            return mumax
        return brentq(lambda d: w(d) - zq, mumin, mumax, xtol=1e-10)

    a = alpha
    if alternative == "two-sided":
        while a < 1 and (w_min - special.ndtri(1 - a / 2) < 0 or w_max - special.ndtri(a / 2) > 0):
            a *= 2
        if a < 1:
            lo, hi = root(float(special.ndtri(1 - a / 2))), root(float(special.ndtri(a / 2)))
        else:
            lo = hi = float(np.median(x))
    elif alternative == "greater":
        while a < 1 and w_min - special.ndtri(1 - a) < 0:
            a *= 2
        lo = root(float(special.ndtri(1 - a))) if a < 1 else float(np.median(x))
        hi = math.inf
    else:
        while a < 1 and w_max - special.ndtri(a) > 0:
            a *= 2
        lo = -math.inf
        hi = root(float(special.ndtri(a))) if a < 1 else float(np.median(x))
    # R: conf.level <- 1 - pmin(1, alpha) once alpha has been widened
    level = 1.0 - min(1.0, a) if (a >= 1 or alpha < a * 0.75) else 1.0 - alpha
    f_lo, f_hi = w(mumin, False), w(mumax, False)
    if f_lo <= 0:
        est = mumin
    elif f_hi >= 0:
        est = mumax
    else:
        est = brentq(lambda d: w(d, False), mumin, mumax, xtol=1e-10)
    return lo, hi, est, level

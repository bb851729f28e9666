"""Reliable and clinically significant change (Jacobson & Truax, 1991)."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, get_args

import numpy as np
import pandas as pd
from scipy import special

from evalkit.data import Column, source_of, validate
from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.results import Caution, Result, check_alpha, check_option

__all__ = ["reliable_change", "ReliableChange", "CATEGORIES"]

#: The four outcome categories, best first.
CATEGORIES = ("recovered", "improved", "unchanged", "deteriorated")

#: Jacobson & Truax's clinical-significance criteria.
Criterion = Literal["a", "b", "c"]


@dataclass(frozen=True)
class ReliableChange(Result):
    """Result of :func:`reliable_change`.

    Attributes
    ----------
    s_e, s_diff
        Standard error of measurement ``sd · sqrt(1 − reliability)`` and of a difference
        between two scores ``sqrt(2) · s_e``.
    threshold
        Minimum reliable change in score points, ``z · s_diff`` (1.96 · s_diff at alpha 0.05).
    cutoff, criterion
        Score separating the dysfunctional from the functional range and which of Jacobson &
        Truax's criteria (``"a"``, ``"b"``, ``"c"``) set it; ``None`` without norms.
    counts, proportions
        Youth in each category (recovered, improved, unchanged, deteriorated). Without a
        cutoff nobody is "recovered".
    """

    _title: ClassVar[str] = "Reliable change (Jacobson & Truax 1991)"
    _options: ClassVar[tuple[str, ...]] = ("reliability", "sd", "higher_is_better", "alpha")

    pre: str
    post: str
    reliability: float
    sd: float
    s_e: float
    s_diff: float
    threshold: float
    cutoff: float | None
    criterion: str | None
    higher_is_better: bool
    n: int
    n_dropped: int
    counts: dict[str, int] = field(default_factory=dict)
    proportions: dict[str, float] = field(default_factory=dict)
    alpha: float = 0.05

    def rci(self, data: pd.DataFrame) -> pd.Series:
        """Each person's reliable change index ``(post − pre) / s_diff`` (NaN if incomplete)."""
        clean = validate(data, [Column(self.pre), Column(self.post)])
        return ((clean[self.post] - clean[self.pre]) / self.s_diff).rename("rci")

    def categories(self, data: pd.DataFrame) -> pd.Series:
        """Each person's category; missing where a score is missing.

        Reliable improvement is a change beyond ``threshold`` in the better direction.
        "Recovered" additionally needs the cutoff crossed: the first score on the
        dysfunctional side, the second on the functional side.
        """
        clean = validate(data, [Column(self.pre), Column(self.post)])
        out = _classify(clean[self.pre].to_numpy(dtype=float),
                        clean[self.post].to_numpy(dtype=float), self.s_diff,
                        float(special.ndtri(1 - self.alpha / 2)), self.cutoff,
                        self.higher_is_better)
        cat = pd.Categorical(out, categories=CATEGORIES)
        return pd.Series(cat, index=data.index, name="category")

    def _terms(self) -> list[dict[str, Any]]:
        nan = float("nan")
        rows = [{"term": "minimum reliable change", "estimate": self.threshold, "se": nan,
                 "ci_low": nan, "ci_high": nan, "p_value": nan}]
        for cat in CATEGORIES:
            rows.append({"term": f"share {cat}", "estimate": self.proportions[cat], "se": nan,
                         "ci_low": nan, "ci_high": nan, "p_value": nan})
        return rows

    def _details(self) -> list[str]:
        cut = ("no cutoff (no norms given)" if self.cutoff is None
               else f"cutoff {self.cutoff:.4g} (criterion {self.criterion})")
        counts = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        return [f"S_E = {self.s_e:.4g}, S_diff = {self.s_diff:.4g}; {cut}; n = {self.n}: {counts}."]


def _classify(pre: np.ndarray, post: np.ndarray, s_diff: float, z: float,
              cutoff: float | None, higher_is_better: bool) -> np.ndarray:
    """Category of each pair (``None`` where a score is missing)."""
    rc = (post - pre) / s_diff
    sign = 1.0 if higher_is_better else -1.0
    better, worse = sign * rc > z, sign * rc < -z
    out = np.where(better, "improved", np.where(worse, "deteriorated", "unchanged"))
    if cutoff is not None:
        if higher_is_better:
            crossed = (pre < cutoff) & (post >= cutoff)
        else:
            crossed = (pre > cutoff) & (post <= cutoff)
        out = np.where(better & crossed, "recovered", out)
    return np.where(np.isnan(rc), np.array(None, dtype=object), out)


class _NoSpread(Exception):
    """The pre scores cannot stand in for the dysfunctional norms (fewer than 2, or constant)."""


def _cutoff(
    criterion: str | None,
    higher_is_better: bool,
    fm: float | None, fs: float | None, dm: float | None, ds: float | None,
    pre: np.ndarray,
) -> tuple[float | None, str | None]:
    has_f = fm is not None and fs is not None
    has_d = dm is not None and ds is not None
    if criterion is None:
        criterion = "c" if has_f and has_d else "b" if has_f else "a" if has_d else None
        if criterion is None:
            return None, None
    check_option("criterion", criterion, (*get_args(Criterion), None))
    toward = 1.0 if higher_is_better else -1.0
    for name, v in (("functional_sd", fs), ("dysfunctional_sd", ds)):
        if v is not None and not (math.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be a positive number, not {v!r}")
    if criterion in ("b", "c") and not has_f:
        raise ValueError(f"criterion {criterion!r} needs functional_mean and functional_sd")
    if criterion in ("a", "c") and not has_d:
        # Jacobson & Truax: the pre-treatment sample can stand for the dysfunctional population
        dm = float(pre.mean()) if pre.size else float("nan")
        ds = float(pre.std(ddof=1)) if pre.size > 1 else float("nan")
        if not ds > 0:
            raise _NoSpread(criterion)
    if criterion == "a":
        assert dm is not None and ds is not None  # set above from the pre scores if not given
        return dm + toward * 2 * ds, "a"
    assert fm is not None and fs is not None  # criteria b and c were refused without them
    if criterion == "b":
        return fm - toward * 2 * fs, "b"
    assert dm is not None and ds is not None
    return (fs * dm + ds * fm) / (fs + ds), "c"


def reliable_change(
    data: pd.DataFrame,
    pre: str,
    post: str,
    *,
    reliability: float,
    sd: float | None = None,
    higher_is_better: bool = False,
    functional_mean: float | None = None,
    functional_sd: float | None = None,
    dysfunctional_mean: float | None = None,
    dysfunctional_sd: float | None = None,
    criterion: Criterion | None = None,
    alpha: float = 0.05,
) -> ReliableChange:
    """Who changed reliably, and who moved into the functional range.

    Parameters
    ----------
    data
        One row per person.
    pre, post
        Score columns.
    reliability
        Test–retest (or internal-consistency) reliability of the measure, in (0, 1).
    sd
        Standard deviation used for the standard error of measurement; defaults to the SD of
        the pre scores of the complete pairs. Jacobson & Truax (1991) recommend a normative
        SD of the measure; pass one when the sample is small or its pre scores do not vary.
    higher_is_better
        Direction of improvement (default: lower is better, as for symptom scales).
    functional_mean, functional_sd, dysfunctional_mean, dysfunctional_sd
        Norms of the functional (e.g. community) and dysfunctional (clinical) populations.
    criterion
        Cutoff criterion: ``"a"`` two SDs beyond the dysfunctional mean, ``"b"`` within two SDs
        of the functional mean, ``"c"`` the SD-weighted midpoint. ``None`` picks ``"c"`` when
        both norms are given, else ``"b"`` or ``"a"`` with the norms available, else no cutoff.
        Criteria ``"a"`` and ``"c"`` without dysfunctional norms use the pre scores' mean and
        SD, as Jacobson & Truax suggest.
    alpha
        Two-sided level of the reliable change criterion (0.05 gives |RC| > 1.96).

    Raises
    ------
    EvalDataError
        Naming ``pre``: no youth with both scores; without ``sd``, fewer than 2 youth with
        both scores or a ``pre`` score that does not vary (its SD, and with it the reliable
        change index, is undefined); likewise for criteria ``"a"``/``"c"`` without
        dysfunctional norms.

    References
    ----------
    Jacobson, N. S., & Truax, P. (1991). Clinical significance: A statistical approach to
    defining meaningful change in psychotherapy research. *Journal of Consulting and Clinical
    Psychology*, 59(1), 12–19.
    """
    alpha = check_alpha(alpha)
    if not (isinstance(reliability, (int, float)) and 0 < reliability < 1):
        raise ValueError(f"reliability must lie strictly between 0 and 1, not {reliability!r}")
    if sd is not None and not (isinstance(sd, numbers.Real) and not isinstance(sd, bool)
                               and math.isfinite(sd) and sd > 0):
        raise ValueError(f"sd must be a positive number (a published normative standard "
                         f"deviation of the measure), not {sd!r}")
    clean = validate(data, [Column(pre), Column(post)])
    x = clean[pre].to_numpy(dtype=float)
    y = clean[post].to_numpy(dtype=float)
    keep = ~(np.isnan(x) | np.isnan(y))
    n = int(keep.sum())
    source = source_of(data)
    if n == 0:
        from evalkit.methods.prepost import too_few_pairs

        raise too_few_pairs(data, pre, post, 0, 1, "no youth can be classified")
    cautions: list[str] = []
    if sd is None:
        if n < 2:
            raise EvalDataError(
                [DataProblem(pre, f"only {n} youth has both '{pre}' and '{post}', so the "
                             f"standard deviation of '{pre}' (which sets the size of a reliable "
                             "change) cannot be estimated",
                             "at least 2 rows with both scores, or a published normative SD "
                             "of the measure passed as sd=")], source=source)
        s = float(np.std(x[keep], ddof=1))
        if not s > 0:
            raise EvalDataError(
                [DataProblem(pre, f"every one of the {n} youth with both scores has the same "
                             f"'{pre}' score ({x[keep][0]:g}), so its standard deviation is zero "
                             "and the reliable change index is undefined",
                             "scores that vary, or a published normative SD of the measure "
                             "passed as sd=")], source=source)
        if n < 30:
            cautions.append(Caution(
                f"The size of change that counts as reliable rests on the spread of '{pre}' "
                f"among {n} youth; a published normative standard deviation of the measure "
                "(sd=) would be more stable.", limits=False))
    else:
        s = float(sd)
    s_e = s * math.sqrt(1 - reliability)
    s_diff = math.sqrt(2) * s_e
    z = float(special.ndtri(1 - alpha / 2))
    try:
        cutoff, crit = _cutoff(criterion, higher_is_better, functional_mean, functional_sd,
                               dysfunctional_mean, dysfunctional_sd, x[keep])
    except _NoSpread as e:
        raise EvalDataError(
            [DataProblem(pre, f"cutoff criterion {e.args[0]!r} without dysfunctional norms "
                         f"uses the mean and SD of '{pre}', but its SD cannot be estimated "
                         f"({'only one youth' if n < 2 else 'every youth has the same score'})",
                         "dysfunctional_mean and dysfunctional_sd from published norms")],
            source=source) from None
    cats = _classify(x[keep], y[keep], s_diff, z, cutoff, higher_is_better)
    counts = {c: int((cats == c).sum()) for c in CATEGORIES}
    return ReliableChange(
        pre=pre, post=post, reliability=float(reliability), sd=s, s_e=s_e, s_diff=s_diff,
        threshold=z * s_diff, cutoff=cutoff, criterion=crit, higher_is_better=higher_is_better,
        n=n, n_dropped=int((~keep).sum()), counts=counts,
        proportions={c: counts[c] / n for c in CATEGORIES}, alpha=alpha,
        cautions=tuple(cautions),
    )

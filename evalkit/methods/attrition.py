"""Attrition: who was lost between the two measurements, and whether it threatens the comparison.

Overall and differential attrition are judged against the What Works Clearinghouse attrition
boundaries (the table ships with evalkit as ``methods/wwc_attrition_boundary.csv``), and those
lost are compared with those who stayed on their intake score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Literal, get_args

import numpy as np
import pandas as pd

from evalkit.data import Column, source_of, validate
from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.methods.effect_sizes import hedges_g_wwc
from evalkit.results import Caution, Result, check_option

__all__ = ["attrition", "Attrition", "wwc_boundary", "max_differential"]

_TABLE = Path(__file__).with_name("wwc_attrition_boundary.csv")

#: The WWC attrition boundaries.
Boundary = Literal["cautious", "optimistic"]
BOUNDARIES: tuple[str, ...] = get_args(Boundary)


@lru_cache(maxsize=1)
def wwc_boundary() -> pd.DataFrame:
    """The WWC attrition boundary table.

    Columns ``overall`` (overall attrition, whole percent), ``cautious`` and ``optimistic``
    (the largest differential attrition, in percentage points, that is still *low*
    attrition; missing where no differential attrition is low).

    References
    ----------
    What Works Clearinghouse (2020). *Procedures and Standards Handbook, Version 4.1*,
    Table II.1 (tests/reference/wwc_attrition_README.md gives the transcription's sources).
    """
    return pd.read_csv(_TABLE)


def max_differential(overall: float, boundary: Boundary = "cautious") -> float:
    """Largest differential attrition (percentage points) that is low at ``overall`` (0–1).

    Between two whole percents the smaller of the two rows' limits is used, so a rate is never
    called low when rounding the other way would call it high. Returns NaN where overall
    attrition is too high for any differential to be low.
    """
    check_option("boundary", boundary, BOUNDARIES)
    if not 0.0 <= overall <= 1.0:
        raise ValueError(f"overall attrition must lie between 0 and 1, not {overall!r}")
    table = wwc_boundary().set_index("overall")[boundary]
    pct = overall * 100
    rows = {math.floor(pct + 1e-9), math.ceil(pct - 1e-9)}
    limits = [table.get(r, np.nan) for r in rows]
    if any(pd.isna(v) for v in limits):
        return float("nan")
    return float(min(limits))


@dataclass(frozen=True)
class Attrition(Result):
    """Result of :func:`attrition`.

    Attributes
    ----------
    n_enrolled, n_analyzed
        Rows in the data; rows with both scores.
    overall
        Share of enrolled youth without both scores.
    by_group
        Attrition per group (empty without ``group``).
    differential
        Absolute difference in attrition between the two groups (NaN without ``group``).
    boundary, max_differential, low
        The WWC boundary used, the largest differential that is low at this overall rate, and
        whether attrition is low (``None`` without two groups: the boundary needs them).
    pre_g, mean_pre_completers, mean_pre_lost
        Hedges' g (WWC) of completers minus those lost on the intake score, and the two means.
    """

    _title: ClassVar[str] = "Attrition"
    _options: ClassVar[tuple[str, ...]] = ("boundary",)

    n_enrolled: int
    n_analyzed: int
    overall: float
    by_group: dict[str, float] = field(default_factory=dict)
    n_by_group: dict[str, tuple[int, int]] = field(default_factory=dict)
    differential: float = float("nan")
    boundary: Boundary = "cautious"
    max_differential: float = float("nan")
    low: bool | None = None
    pre_g: float = float("nan")
    mean_pre_completers: float = float("nan")
    mean_pre_lost: float = float("nan")

    def _terms(self) -> list[dict[str, Any]]:
        nan = float("nan")
        rows = [{"term": "overall attrition", "estimate": self.overall}]
        rows += [{"term": f"attrition {g}", "estimate": v} for g, v in self.by_group.items()]
        rows += [{"term": "differential attrition", "estimate": self.differential},
                 {"term": "completers vs lost at intake (g)", "estimate": self.pre_g}]
        for r in rows:
            r.update({"se": nan, "ci_low": nan, "ci_high": nan, "p_value": nan})
        return rows

    def _details(self) -> list[str]:
        if self.low is None:
            verdict = "the WWC boundary applies to designs with two groups"
        else:
            verdict = (f"{'low' if self.low else 'high'} attrition under the {self.boundary} "
                       f"WWC boundary (differential up to {self.max_differential:g} points is "
                       "low at this overall rate)")
        return [f"{self.n_analyzed} of {self.n_enrolled} analysed; {verdict}."]


def attrition(
    data: pd.DataFrame,
    pre: str,
    post: str,
    *,
    group: str | None = None,
    boundary: Boundary = "cautious",
) -> Attrition:
    """Overall and differential attrition against the WWC boundary, and who was lost.

    Parameters
    ----------
    data
        One row per youth enrolled (or assigned).
    pre, post
        Score columns; a youth is analysed when both are present.
    group
        Column splitting the sample into two groups (e.g. program 1 / comparison 0).
    boundary
        ``"cautious"`` (the WWC default where attrition may relate to the intervention) or
        ``"optimistic"``.

    References
    ----------
    What Works Clearinghouse (2020). *Procedures and Standards Handbook, Version 4.1*,
    §II.B (attrition) and Table II.1.
    """
    check_option("boundary", boundary, BOUNDARIES)
    cols = [Column(pre), Column(post)]
    if group is not None:
        cols.append(Column(group, kind="string", allow_missing=False))
    clean = validate(data, cols)
    n = len(clean)
    both = (clean[pre].notna() & clean[post].notna()).to_numpy()
    overall = 1 - both.sum() / n if n else float("nan")
    by_group: dict[str, float] = {}
    n_by_group: dict[str, tuple[int, int]] = {}
    differential = float("nan")
    low = None
    maxd = float("nan")
    if group is not None:
        labels = clean[group].astype(str)
        levels = sorted(labels.unique())
        if len(levels) != 2:
            raise EvalDataError(
                [DataProblem(group, f"has {len(levels)} distinct values", "exactly two groups")],
                source=source_of(data))
        for lev in levels:
            m = (labels == lev).to_numpy()
            by_group[lev] = 1 - both[m].sum() / m.sum()
            n_by_group[lev] = (int(m.sum()), int(both[m].sum()))
        differential = abs(by_group[levels[0]] - by_group[levels[1]])
        maxd = max_differential(overall, boundary)
        low = bool(not math.isnan(maxd) and differential * 100 <= maxd + 1e-9)
    x = clean[pre].to_numpy(dtype=float)
    has_pre = ~np.isnan(x)
    comp, lost = x[both], x[has_pre & ~both]
    pre_g = float("nan")
    cautions: list[str] = []
    if comp.size >= 2 and lost.size >= 2:
        pre_g = hedges_g_wwc(float(comp.mean() - lost.mean()), float(comp.std(ddof=1)),
                             comp.size, float(lost.std(ddof=1)), lost.size)
        if math.isnan(pre_g):
            cautions.append(Caution(
                f"Youth who were lost all had the same '{pre}' score, and so did youth who "
                "stayed, so the difference between them at intake cannot be expressed as an "
                "effect size.", limits=False))
    elif lost.size or not both.all():
        cautions.append(Caution(
            f"There are too few youth to compare those lost with those who stayed on '{pre}': "
            f"{comp.size} youth stayed; of those lost, {lost.size} youth had a first score.",
            limits=False))
    if not both.any():
        cautions.append(Caution(
            f"No youth has both '{pre}' and '{post}': every youth enrolled was lost, so no "
            "change can be measured.", limits=True))
    if group is not None:
        for lev, (_m_all, m_both) in n_by_group.items():
            if m_both == 0:
                cautions.append(Caution(
                    f"Everyone in group '{lev}' of '{group}' was lost, so that group cannot be "
                    "compared with the other.", limits=True))
    return Attrition(
        n_enrolled=int(n), n_analyzed=int(both.sum()), overall=float(overall),
        by_group=by_group, n_by_group=n_by_group, differential=float(differential),
        boundary=boundary, max_differential=maxd, low=low, pre_g=pre_g,
        mean_pre_completers=float(comp.mean()) if comp.size else float("nan"),
        mean_pre_lost=float(lost.mean()) if lost.size else float("nan"),
        cautions=tuple(cautions),
    )

"""Event-study regression on event-time dummies with a pre-trend test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import special

from evalkit.data import Column, validate
from evalkit.methods.did.twfe import twfe
from evalkit.results import Result

# -- event study -------------------------------------------------------------------------------

@dataclass(frozen=True)
class EventStudy(Result):
    """Result of :func:`event_study`.

    Attributes
    ----------
    table
        ``rel_time, estimate, se, ci_low, ci_high, n_units`` (the reference period has
        estimate 0 and no SE); ``n_units`` counts treated units observed at that relative time.
    pretest
        Wald test that every pre-period coefficient is zero: ``statistic, df, p_value``.
    """

    _title: ClassVar[str] = "Event study (two-way fixed effects)"
    _options: ClassVar[tuple[str, ...]] = ("window", "reference", "alpha")

    table: pd.DataFrame
    pretest: dict[str, float]
    window: tuple[int, int] = (-5, 5)
    reference: int = -1
    alpha: float = 0.05

    def _terms(self) -> list[dict[str, Any]]:
        return [{"term": f"rel {int(r['rel_time'])}", "estimate": r["estimate"], "se": r["se"],
                 "ci_low": r["ci_low"], "ci_high": r["ci_high"]}
                for _, r in self.table.iterrows()]


def event_study(
    data: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    first_treated: str,
    *,
    window: tuple[int, int] = (-5, 5),
    reference: int = -1,
    never_treated: float = 0,
    cluster: str | None = None,
    alpha: float = 0.05,
) -> EventStudy:
    """Dynamic two-way fixed-effects regression on event-time indicators.

    Each treated unit's periods are counted from adoption (``time − first_treated``);
    relative times outside ``window`` are pooled into its end points, and ``reference`` is
    left out. Never-treated units have no indicators. Standard errors are CRV1 by ``cluster``
    (default the unit).

    References
    ----------
    Sun, L., & Abraham, S. (2021). Estimating dynamic treatment effects in event studies with
    heterogeneous treatment effects. *Journal of Econometrics*, 225, 175–199 (on the
    limits of this regression under heterogeneous effects; compare :func:`staggered`).
    """
    lo, hi = window
    if not lo <= reference <= hi or lo >= hi:
        raise ValueError("window must be (low, high) with low < high and contain reference")
    clean = validate(data, [Column(time, kind="integer", allow_missing=False),
                            Column(first_treated, kind="integer", allow_missing=False)])
    ft = clean[first_treated].to_numpy(float)
    treated = ft != never_treated
    rel = np.clip(clean[time].to_numpy(float) - ft, lo, hi)
    work = data.copy()
    names, counts, rels = [], [], []
    units = data[unit].to_numpy()
    for k in range(lo, hi + 1):
        if k == reference:
            continue
        col = f"_rel_{k}"
        ind = (treated & (rel == k)).astype(float)
        if ind.sum() == 0:
            continue
        work[col] = ind
        names.append(col)
        rels.append(k)
        counts.append(int(pd.unique(units[ind > 0]).size))
    fit = twfe(work, outcome, unit, time, names, vcov="CRV1", cluster=cluster, alpha=alpha)
    z_rows = fit.to_frame()
    table = pd.DataFrame({"rel_time": rels, "estimate": fit.coef, "se": fit.se,
                          "ci_low": z_rows["ci_low"], "ci_high": z_rows["ci_high"],
                          "n_units": counts})
    ref_row = pd.DataFrame([{"rel_time": reference, "estimate": 0.0, "se": float("nan"),
                             "ci_low": float("nan"), "ci_high": float("nan"),
                             "n_units": int(pd.unique(units[treated & (rel == reference)]).size)}])
    table = pd.concat([table, ref_row]).sort_values("rel_time").reset_index(drop=True)
    pre = [i for i, k in enumerate(rels) if k < 0]
    pretest = {"statistic": float("nan"), "df": 0.0, "p_value": float("nan")}
    if pre:
        b = fit.coef[pre]
        V = fit.cov[np.ix_(pre, pre)]
        stat = float(b @ np.linalg.solve(V, b))
        pretest = {"statistic": stat, "df": float(len(pre)),
                   "p_value": float(special.chdtrc(len(pre), stat))}
    return EventStudy(table=table, pretest=pretest, window=(lo, hi), reference=reference,
                      alpha=fit.alpha)

"""Goodman-Bacon decomposition of the two-way fixed-effects estimate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from evalkit.data import Column, source_of, validate
from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.methods.did.twfe import twfe
from evalkit.results import Caution, Result, merge_cautions

# -- Goodman-Bacon decomposition ---------------------------------------------------------------

@dataclass(frozen=True)
class Bacon(Result):
    """Result of :func:`bacon_decomposition`.

    Attributes
    ----------
    table
        One row per 2×2 comparison: ``treated, control, type, estimate, weight``.
    twfe
        The two-way fixed-effects coefficient (the weighted sum of the estimates).
    """

    _title: ClassVar[str] = "Goodman-Bacon decomposition of the TWFE estimate"

    table: pd.DataFrame
    twfe: float

    def by_type(self) -> pd.DataFrame:
        """Total weight and weighted average estimate of each comparison type."""
        t = self.table
        out = t.groupby("type").apply(
            lambda g: pd.Series({"weight": g["weight"].sum(),
                                 "estimate": (g["weight"] * g["estimate"]).sum()
                                 / g["weight"].sum()}), include_groups=False)
        return out.reset_index()

    def _terms(self) -> list[dict[str, Any]]:
        nan = float("nan")
        rows = [{"term": r["type"], "estimate": r["estimate"], "se": nan, "ci_low": nan,
                 "ci_high": nan, "weight": r["weight"]} for _, r in self.by_type().iterrows()]
        rows.append({"term": "TWFE", "estimate": self.twfe, "se": nan, "ci_low": nan,
                     "ci_high": nan, "weight": 1.0})
        return rows


def bacon_decomposition(data: pd.DataFrame, outcome: str, unit: str, time: str,
                        treatment: str) -> Bacon:
    """Decompose the TWFE estimate into every 2×2 comparison and its weight.

    Requires a balanced panel and a 0/1 treatment that never switches off; units treated in
    every period (always treated) serve only as already-treated controls. Comparisons are
    "treated vs never treated", "earlier vs later treated" (the later group not yet treated)
    and "later vs earlier treated" (the earlier, already-treated group as the control — the
    comparison that biases TWFE when effects grow over time).

    The result cautions with the weight of the "later vs earlier treated" comparisons.
    Missing values, an unbalanced panel, a constant outcome, a single period or timing that
    does not vary raise :class:`~evalkit.exceptions.EvalDataError`.

    References
    ----------
    Goodman-Bacon, A. (2021). Difference-in-differences with variation in treatment timing.
    *Journal of Econometrics*, 225, 254–277, Theorem 1.
    """
    clean = validate(data, [Column(outcome, allow_missing=False),
                            Column(unit, kind="string", allow_missing=False),
                            Column(time, allow_missing=False),
                            Column(treatment, kind="binary", allow_missing=False)])
    source = source_of(data)
    wide_y = clean.pivot_table(index=unit, columns=time, values=outcome, aggfunc="first")
    wide_d = clean.pivot_table(index=unit, columns=time, values=treatment, aggfunc="first")
    if wide_y.isna().any().any() or clean.duplicated([unit, time]).any():
        raise EvalDataError([DataProblem(unit, "the panel is unbalanced or repeats a unit and "
                                         "period", "every unit observed once in every period")],
                            source=source)
    D = wide_d.to_numpy(float)
    switched_off = (np.diff(D, axis=1) < 0).any(axis=1)
    if switched_off.any():
        bad = wide_d.index[switched_off][:5].tolist()
        raise EvalDataError([DataProblem(treatment, f"switches off in {int(switched_off.sum())}"
                                         f" unit(s) (e.g. {', '.join(map(str, bad))})",
                                         "a treatment that stays on once it starts")],
                            source=source)
    Y = wide_y.to_numpy(float)
    T = D.shape[1]
    if T < 2:
        raise EvalDataError([DataProblem(time, "has a single period", "at least two periods")],
                            source=source)
    first = np.where(D.any(axis=1), D.argmax(axis=1), T)  # index of the first treated period
    timings = np.unique(first)
    share = {k: np.mean(first == k) for k in timings}
    dbar = {k: (T - k) / T for k in timings}
    ybar = {k: Y[first == k].mean(axis=0) for k in timings}

    def dd(a: int, b: int, pre: slice, post: slice) -> float:
        return float((ybar[a][post].mean() - ybar[a][pre].mean())
                     - (ybar[b][post].mean() - ybar[b][pre].mean()))

    rows = []
    never = T in timings
    treated_timings = [k for k in timings if k < T]
    if never:
        for k in treated_timings:
            if k == 0:
                continue  # always treated: no pre-period against the never treated
            nku = share[k] / (share[k] + share[T])
            w = (share[k] + share[T]) ** 2 * nku * (1 - nku) * dbar[k] * (1 - dbar[k])
            rows.append({"treated": k, "control": "never", "type": "treated vs never treated",
                         "estimate": dd(k, T, slice(0, k), slice(k, T)), "raw": w})
    for i, k in enumerate(treated_timings):
        for l in treated_timings[i + 1:]:
            nkl = share[k] / (share[k] + share[l])
            if k > 0:  # k treated, l not yet treated: periods before l
                w = (((share[k] + share[l]) * (1 - dbar[l])) ** 2 * nkl * (1 - nkl)
                     * ((dbar[k] - dbar[l]) / (1 - dbar[l])) * ((1 - dbar[k]) / (1 - dbar[l])))
                rows.append({"treated": k, "control": l, "type": "earlier vs later treated",
                             "estimate": dd(k, l, slice(0, k), slice(k, l)), "raw": w})
            # l treated, k already treated: periods from k on
            w = (((share[k] + share[l]) * dbar[k]) ** 2 * nkl * (1 - nkl)
                 * (dbar[l] / dbar[k]) * ((dbar[k] - dbar[l]) / dbar[k]))
            rows.append({"treated": l, "control": k, "type": "later vs earlier treated",
                         "estimate": dd(l, k, slice(k, l), slice(l, T)), "raw": w})
    table = pd.DataFrame(rows)
    if table.empty:
        raise EvalDataError("no 2×2 comparison can be formed: treatment timing does not vary",
                            source=source)
    table["weight"] = table["raw"] / table["raw"].sum()
    periods = wide_y.columns.to_numpy()
    to_time = lambda k: periods[k] if k < T else "never"  # noqa: E731
    table["treated"] = table["treated"].map(to_time)
    table["control"] = table["control"].map(lambda c: c if c == "never" else to_time(c))
    fit = twfe(clean, outcome, unit, time, treatment, vcov="iid")  # its coefficient only
    cautions = []
    forbidden = float(table.loc[table["type"] == "later vs earlier treated", "weight"].sum())
    if forbidden > 0:
        share_text = f"{forbidden:.0%}" if forbidden >= 0.005 else "less than 1%"
        cautions.append(Caution(
            f"{share_text} of the two-way fixed-effects estimate comes from comparisons that use "
            "already-treated units as the comparison group ('later vs earlier treated'). If "
            "the effect changes in the years after adoption, these comparisons bias that "
            "estimate, possibly even reversing its sign (Goodman-Bacon 2021). The staggered "
            "(Callaway & Sant'Anna) estimate does not use them, so it is not affected.",
            limits=False))
    always = int((first == 0).sum())
    if always:
        cautions.append(Caution(
            f"{always} unit{'s are' if always > 1 else ' is'} treated in every period: "
            f"{'they enter' if always > 1 else 'it enters'} the decomposition only as an "
            "already-treated comparison group, never as a treated one.", limits=False))
    return Bacon(table=table.drop(columns="raw"), twfe=float(fit.coef[0]),
                 cautions=merge_cautions(cautions))

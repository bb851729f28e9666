"""The did report's sensitivity to violations of parallel trends (Rambachan & Roth 2023).

The pre-trend test has little power: trends can diverge after adoption without any sign
before. :func:`sensitivity_section` shows how large a divergence would overturn the finding:
robust confidence intervals (R ``HonestDiD``, relative magnitudes) for the first period after
adoption and for the average over the periods after it, against ``M̄``, the allowed
post-adoption divergence as a multiple of the largest divergence between consecutive periods
before adoption; and the breakdown value in plain words. :func:`sensitivity_check` is what
``results.json`` and the evidence rating read.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from evalkit.methods.did.honest import HonestDiD
from evalkit.report.figures import figure_block
from evalkit.report.figures_policy import honest_figure
from evalkit.report.html import paragraphs

__all__ = ["MBAR_GRID", "holds_up_to", "sensitivity_check", "sensitivity_section",
           "sensitivity_words", "significant"]

#: The allowed divergences the did report shows, M̄ = 0, 0.25, ..., 2 (R HonestDiD's default
#: grid is 10 points from 0 to 2; this one holds M̄ = 1, the benchmark the rating reads).
MBAR_GRID: tuple[float, ...] = tuple(0.25 * k for k in range(9))


def _m(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".")


def significant(res: HonestDiD) -> bool:
    """Whether the original interval excludes zero (there is a finding to overturn)."""
    lo, hi = res.original
    return bool(np.isfinite(lo) and np.isfinite(hi) and not lo <= 0 <= hi)


def holds_up_to(res: HonestDiD) -> float | None:
    """The largest ``M̄`` of the grid below the breakdown value (``None``: not even at 0)."""
    if not significant(res):
        return None
    m = res.table["m"].to_numpy(float)
    if res.breakdown is None:
        return float(m.max())
    below = m[m < res.breakdown]
    return float(below.max()) if below.size else None


def sensitivity_words(res: HonestDiD, what: str) -> str:
    """The breakdown value of one parameter in plain words.

    Parameters
    ----------
    res
        The sensitivity of ``what`` (:func:`evalkit.methods.did.honest.honest_did`).
    what
        The parameter in words ("the average effect after adoption").
    """
    if not significant(res):
        return (f"{what.capitalize()} cannot be told apart from zero even if trends would have "
                "stayed exactly parallel, so there is no finding for a divergence to overturn.")
    top = float(res.table["m"].max())
    if res.breakdown is None:
        return (f"The finding for {what} holds for every divergence tried: even if trends "
                f"diverged after adoption by up to {_m(top)} times the largest divergence "
                "between consecutive years before adoption, its interval would still exclude "
                "zero.")
    up_to = holds_up_to(res)
    if up_to is None:
        return (f"The finding for {what} rests on trends staying exactly parallel: allowing "
                f"any divergence after adoption ({_m(res.breakdown)} times the largest before) "
                "makes its interval include zero.")
    return (f"The finding for {what} holds unless trends diverged after adoption by more than "
            f"{_m(up_to)} times the largest divergence between consecutive years before "
            f"adoption (at {_m(res.breakdown)} times, its interval includes zero).")


def sensitivity_check(first: HonestDiD, average: HonestDiD) -> dict[str, Any]:
    """The sensitivity summary for ``results.json`` (``checks.sensitivity``) and the rating.

    Returns
    -------
    dict
        ``method`` (relative magnitudes), ``breakdown`` and ``holds_up_to`` of the first
        period and of the average effect, ``significant`` (the average's original interval
        excludes zero) and the grid's robust intervals of the average.
    """
    return {
        "method": "relative_magnitude",
        "average": {"breakdown": average.breakdown, "holds_up_to": holds_up_to(average),
                    "significant": significant(average),
                    "table": average.table[["m", "lb", "ub"]].to_dict("records")},
        "first_period": {"breakdown": first.breakdown, "holds_up_to": holds_up_to(first),
                         "significant": significant(first)},
    }


def sensitivity_section(first: HonestDiD, average: HonestDiD, *, units: str,
                        unit_label: str) -> str:
    """HTML of the sensitivity check (Checks of the did report).

    Parameters
    ----------
    first, average
        Sensitivity of the effect in the first period after adoption and of the average over
        the periods after it.
    units
        The outcome's units.
    unit_label
        What a unit is ("state").
    """
    fig = honest_figure([("First year after adoption", first),
                         ("Average over the years after adoption in the event-study figure",
                          average)], units=units)
    conf = f"{1 - average.alpha:.0%}"
    intro = paragraphs(
        "The pre-trend test cannot prove that trends would have stayed parallel after "
        f"adoption. How large a divergence would overturn the finding? Following Rambachan "
        f"and Roth (2023), the {conf} intervals below allow the trends of adopting and "
        f"comparison {unit_label}s to diverge after adoption by up to M̄ times the largest "
        "divergence between consecutive years before adoption (M̄ = 0: exactly parallel; "
        "M̄ = 1: as large as the largest seen before).",
        sensitivity_words(average, "the average effect after adoption") + " "
        + sensitivity_words(first, "the first year after adoption"))
    alt = ("Robust intervals against M̄ for the first year after adoption and for the "
           "average effect: " + "; ".join(
               f"M̄ {_m(r['m'])}: {r['lb']:.2f} to {r['ub']:.2f}"
               for r in average.table.to_dict("records") if np.isfinite(r["lb"])) + ".")
    return intro + figure_block(fig, alt=alt, caption=(
        "Sensitivity to violations of parallel trends (relative magnitudes, R HonestDiD): the "
        "grey interval assumes parallel trends; the blue ones allow a divergence up to M̄ "
        "times the largest before adoption.")).html

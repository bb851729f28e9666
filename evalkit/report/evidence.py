"""Evidence ratings: how much weight a result can bear, in words a funder can use.

The rule table is modelled on the What Works Clearinghouse study ratings and the CrimeSolutions
outcome ratings. Each rule names a design and the checks it must pass; :func:`rate` returns the
rating with every reason behind it, and both go into the report and ``results.json``.

=====================  =======================================  ==================================
design code            condition                                rating
=====================  =======================================  ==================================
one_group_prepost      always                                   descriptive — cannot show a
                                                                program effect
=====================  =======================================  ==================================
"""

from __future__ import annotations

from typing import Any, Mapping

__all__ = ["RATINGS", "rate"]

#: Rating codes and their labels, strongest first.
RATINGS = {
    "meets_standards": "Meets standards without reservations",
    "meets_with_reservations": "Meets standards with reservations",
    "flagged": "Flagged — a design check failed",
    "descriptive": "Descriptive — cannot show a program effect",
}


def rate(design: str, checks: Mapping[str, Any]) -> dict[str, Any]:
    """Evidence rating of a result.

    Parameters
    ----------
    design
        The design code (see the rule table above).
    checks
        Results of the design checks (e.g. ``{"attrition": 0.31}``).

    Returns
    -------
    dict
        ``{"rating": code, "label": text, "reasons": [sentences]}``.
    """
    if design == "one_group_prepost":
        reasons = [
            "One group was measured before and after the program, with no comparison group, "
            "so the change cannot be separated from what would have happened anyway.",
        ]
        attrition = checks.get("attrition")
        if attrition is not None and attrition == attrition:
            reasons.append(f"{attrition:.0%} of youth were not measured the second time.")
        return {"rating": "descriptive", "label": RATINGS["descriptive"], "reasons": reasons}
    raise ValueError(f"no evidence rule for design {design!r}")

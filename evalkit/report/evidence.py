"""Evidence ratings: how much weight a result can bear, in words a funder can use.

The rule table is modelled on the What Works Clearinghouse study ratings and the CrimeSolutions
outcome ratings. Each rule names a design and the checks it must pass; :func:`rate` returns the
rating with every reason behind it, and both go into the report and ``results.json``.

==========================  ========================================  ==========================
design code                 condition                                 rating
==========================  ========================================  ==========================
one_group_prepost           always                                    descriptive — cannot show
                                                                      a program effect
comparison_group_prepost    baseline equivalence not satisfied        flagged
                            (|g| > 0.25 at intake)
comparison_group_prepost    baseline equivalence satisfied (with      meets standards with
                            adjustment when 0.05 < |g| <= 0.25)       reservations
randomized_prepost          low attrition (WWC boundary)              meets standards without
                                                                      reservations
randomized_prepost          high attrition, baseline equivalence      meets standards with
                            satisfied (as for a comparison group)     reservations
randomized_prepost          high attrition, baseline equivalence      flagged
                            not satisfied
randomized_prepost          attrition unknown                         meets standards with
                                                                      reservations
staggered_did               pre-adoption effects jointly zero         meets standards with
                            (Wald p >= 0.05, all pre-periods)         reservations
staggered_did               pre-adoption effects not zero (p < 0.05)  flagged
staggered_did               the average effect does not survive a     limited
                            post-adoption divergence of M̄ = 1
                            (HonestDiD relative magnitudes)
single_unit_did             the weighted comparison tracked the       meets standards with
                            adopter before adoption (misfit <=        reservations
                            SINGLE_UNIT_FIT × its own variation)
single_unit_did             misfit above that                         flagged
interrupted_time_series     at least ITS_MIN_SIDE periods on each     meets standards with
                            side and the placebo date shows no level  reservations
                            change (p >= 0.05)
interrupted_time_series     fewer than ITS_FLAG_SIDE periods on a     flagged
                            side, or a placebo level change (p <
                            0.05)
interrupted_time_series     from ITS_FLAG_SIDE to ITS_MIN_SIDE − 1    limited
                            periods on a side, or no placebo fitted
time_to_event_comparison    always (this design does not test         comparison group —
                            equivalence at entry)                     likeness at entry not
                                                                      established
randomized_time_to_event    always                                    meets standards without
                                                                      reservations
==========================  ========================================  ==========================

A randomized design is rated as the What Works Clearinghouse rates a randomized controlled
trial (Handbook 4.1, §II.B): with low attrition under the chosen boundary it can meet standards
*without reservations*; with high attrition the groups may no longer be alike, so it is rated as
a comparison-group design (baseline equivalence decides between *with reservations* and
*flagged*). A randomized **time-to-event** design has no attrition in the WWC sense: every
person randomized has a follow-up time, ending either in the event or at the end of follow-up
(censoring), and the Kaplan–Meier curves and the Cox model use every one of them. Loss to
follow-up shows up as early censoring, which these estimators handle under the assumption that
it is unrelated to risk (a limitation every such report states), not as a missing outcome
measured at one point in time. So it meets standards without reservations unless cautions on
its headline estimate limit it (below).

An interrupted time series (one jurisdiction's series, segmented regression) has no
comparison series: a change at the intervention could come from anything else that changed at
the same time, so its best possible rating is *with reservations* (Cochrane EPOC criteria for
interrupted time series; Lopez Bernal, Cummins & Gasparrini 2017), and only when at least
``ITS_MIN_SIDE`` (8) periods lie on each side of the intervention and the same model finds no
level change at a placebo date inside the pre-period (p >= 0.05). A placebo change, or fewer
than ``ITS_FLAG_SIDE`` (3) periods on a side (too few to fit a trend), flags it; a short side or
a missing placebo check makes it *limited*. The estimator's limiting cautions lower it as for
other designs.

A comparison group that was not formed at random can at best meet standards *with
reservations* (WWC Handbook 4.1, §II.C); high attrition is named among the reasons.

When the comparison is adjusted for baseline covariates (propensity weighting or matching,
``checks["balance"]``: covariate → standardized mean difference after adjustment), baseline
equivalence is judged on **every** covariate, as the WWC rule reads (:func:`balance_status`):
an |SMD| up to 0.05 is satisfied; from 0.05 to 0.25 it is satisfied only because the estimate
adjusts for that covariate (the doubly robust regression includes every adjustment covariate);
above 0.25 it is not, and the rating is *flagged*, naming the covariates at fault. This takes
the place of the intake-score check. A time-to-event comparison with an ``adjust`` block is
rated by the same bands, but its weighted hazard ratio adjusts for no covariate by regression,
so an |SMD| from 0.05 to 0.25 does not satisfy the rule there.

Cautions lower a rating. When the headline estimate carries cautions that limit what can be
concluded from it (:func:`evalkit.results.limiting`: an interval that may be too narrow, few
clusters, cells that could not be estimated), a rating of *meets standards* (with or without
reservations) or *comparison group — likeness at entry not established* becomes *limited*, and
each such caution is named first among the reasons. A *flagged* or *descriptive* result keeps its
rating, with the cautions added to its reasons. Cautions that only inform
(``Caution(..., limits=False)``) are printed in the report but leave the rating alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from evalkit.results import limiting

__all__ = ["RATINGS", "LOWERED_BY_CAUTIONS", "SINGLE_UNIT_FIT", "ITS_MIN_SIDE", "ITS_FLAG_SIDE",
           "WWC_EQUIVALENT", "WWC_ADJUSTABLE", "rate", "balance_status", "not_estimated", "withheld_rating"]

#: Rating codes and their labels, strongest first.
RATINGS = {
    "meets_standards": "Meets standards without reservations",
    "meets_with_reservations": "Meets standards with reservations",
    "flagged": "Flagged — a design check failed",
    "comparison_unverified": "Comparison group — likeness at entry not established",
    "limited": "Limited — the estimate carries cautions that limit what can be concluded",
    "not_estimated": "Not estimated — the data cannot support this method's estimate",
    "withheld": "Withheld — too few people to report without risk to their privacy",
    "descriptive": "Descriptive — cannot show a program effect",
}

#: WWC baseline equivalence: an |SMD| up to this is satisfied without adjustment ...
WWC_EQUIVALENT = 0.05
#: ... and up to this only with regression adjustment on the covariate; above, not satisfied.
WWC_ADJUSTABLE = 0.25

#: Ratings that a limiting caution on the headline estimate lowers to ``"limited"``.
#: The staggered finding must survive a post-adoption divergence of trends this many times the
#: largest divergence between consecutive pre-adoption periods (Rambachan & Roth's relative
#: magnitudes, M̄) to keep its rating; below, it is rated *limited*.
SENSITIVITY_MBAR = 1.0

#: A single-unit design whose pre-adoption misfit (root mean squared gap between the adopting
#: unit and its weighted comparison) exceeds this multiple of the unit's own year-to-year
#: variation (the SD of its pre-adoption changes) is flagged.
SINGLE_UNIT_FIT = 1.0

#: An interrupted time series needs this many periods on each side of the intervention for
#: its best rating (Cochrane EPOC) ...
ITS_MIN_SIDE = 8
#: ... and is flagged with fewer than this many on a side.
ITS_FLAG_SIDE = 3

LOWERED_BY_CAUTIONS = ("meets_standards", "meets_with_reservations", "comparison_unverified")


def rate(design: str, checks: Mapping[str, Any],
         cautions: Iterable[str] = ()) -> dict[str, Any]:
    """Evidence rating of a result.

    Parameters
    ----------
    design
        The design code (see the rule table above).
    checks
        Results of the design checks (e.g. ``{"attrition": 0.31}``).
    cautions
        Cautions of the headline estimate; those that limit what can be concluded lower the
        rating (see the module docstring).

    Returns
    -------
    dict
        ``{"rating": code, "label": text, "reasons": [sentences]}``.
    """
    out = _rate_design(design, checks)
    limits = list(limiting(cautions))
    if not limits:
        return out
    reasons = [str(c) for c in limits]
    if out["rating"] in LOWERED_BY_CAUTIONS:
        reasons.append(f"Without these cautions the design would rate: {out['label']}.")
        return _rated("limited", reasons + list(out["reasons"]))
    return {**out, "reasons": list(out["reasons"]) + reasons}


def balance_status(smds: Mapping[str, float], method: str = "weighting", *,
                   regression: bool = True) -> tuple[str, list[str]]:
    """WWC baseline equivalence on every covariate after adjustment, with the reasons.

    Parameters
    ----------
    smds
        Covariate (display name) → standardized mean difference after adjustment.
    method
        ``"weighting"`` or ``"matching"``: how the groups were made alike (for the wording).
    regression
        Whether the estimate's regression adjusts for every covariate (the doubly robust
        pre-post effect does; the weighted hazard ratio of the group alone does not, so an
        |SMD| from 0.05 to 0.25 then does not satisfy the rule).

    Returns
    -------
    (str, list of str)
        ``"satisfied"`` (every |SMD| ≤ 0.05), ``"satisfied with adjustment"`` (some from 0.05
        to 0.25, each adjusted for by the estimate's regression) or ``"not satisfied"`` (some
        above 0.25, or not computed), and sentences naming the covariates in each band.
    """
    import math

    done = "weighting" if method == "weighting" else "matching"
    values = {str(k): float(v) for k, v in smds.items()}
    bad = [k for k, v in values.items() if not math.isfinite(v) or abs(v) > WWC_ADJUSTABLE]
    mid = [k for k, v in values.items() if math.isfinite(v)
           and WWC_EQUIVALENT < abs(v) <= WWC_ADJUSTABLE]

    def listed(names: list[str]) -> str:
        return ", ".join(f"{k} ({_smd(values[k])})" for k in names)

    reasons: list[str] = []
    if bad:
        reasons.append(f"After {done}, the groups still differed too much at intake on "
                       f"{listed(bad)}: WWC baseline equivalence is not met (|SMD| above "
                       f"{WWC_ADJUSTABLE}).")
    if mid and not regression:
        reasons.append(f"After {done}, the groups still differed on {listed(mid)} (|SMD| "
                       f"from {WWC_EQUIVALENT} to {WWC_ADJUSTABLE}); WWC accepts this only when "
                       "the estimate adjusts for each of them by regression, and the weighted "
                       "hazard ratio does not, so baseline equivalence is not met.")
        bad, mid = bad + mid, []
    elif mid:
        reasons.append(f"After {done}, the groups differed somewhat on {listed(mid)} (|SMD| "
                       f"from {WWC_EQUIVALENT} to {WWC_ADJUSTABLE}); this satisfies WWC "
                       "baseline equivalence only because the estimate's regression adjusts "
                       "for each of them, as it does.")
    if not bad and not mid:
        reasons.append(f"After {done}, the groups were alike at intake on every "
                       f"characteristic used ({len(values)}; every |SMD| at most "
                       f"{WWC_EQUIVALENT}).")
    status = ("not satisfied" if bad else "satisfied with adjustment" if mid else "satisfied")
    return status, reasons


def _smd(v: float) -> str:
    return "SMD not computed" if v != v else f"SMD {v:.2f}"


def withheld_rating(threshold: int) -> dict[str, Any]:
    """The rating of a report whose results are withheld for privacy.

    Nothing computed from the data is quoted, so no design check can be reported either.
    """
    return _rated("withheld", [f"Results are withheld to protect privacy: a group had fewer "
                               f"than {threshold} youth to analyse, so neither the estimates "
                               "nor the design checks can be shown."])


def not_estimated(reason: str, alternative: str = "") -> dict[str, Any]:
    """The rating of an evaluation whose estimator refused the data.

    The refusal is a :class:`~evalkit.exceptions.DesignRefused`; the rating gives no estimate,
    the reason, and the design that fits instead.
    """
    reasons = [reason]
    if alternative:
        reasons.append(f"A design that fits these data: {alternative}.")
    return _rated("not_estimated", reasons)


_PH_CHANGED = ("The hazard ratio changed over time, so the report leads with the restricted "
               "mean time without the event.")


def _rated(code: str, reasons: list[str]) -> dict[str, Any]:
    """A rating as the reports and results.json carry it: code, label and reasons."""
    return {"rating": code, "label": RATINGS[code], "reasons": reasons}


def _rate_design(design: str, checks: Mapping[str, Any]) -> dict[str, Any]:
    if design == "one_group_prepost":
        reasons = [
            "One group was measured before and after the program, with no comparison group, "
            "so the change cannot be separated from what would have happened anyway.",
        ]
        attrition = checks.get("attrition")
        if attrition is not None and attrition == attrition:
            reasons.append(f"{attrition:.0%} of youth were not measured the second time.")
        return _rated("descriptive", reasons)
    if design == "comparison_group_prepost":
        status = checks.get("baseline_status")
        g = checks.get("baseline_g")
        g_text = f" (g = {g:.2f})" if isinstance(g, (int, float)) else ""
        reasons = ["Program youth were compared with a comparison group that was not formed at "
                   "random, so the best possible rating is 'with reservations'."]
        low = checks.get("low_attrition")
        if low is not None:
            reasons.append(f"Attrition was {'low' if low else 'high'} under the WWC "
                           f"{checks.get('attrition_boundary', 'cautious')} boundary.")
        if checks.get("balance") is not None:
            status, why = balance_status(checks["balance"],
                                         checks.get("balance_method", "weighting"))
            if status == "not satisfied":
                return _rated("flagged", why + reasons)
            return _rated("meets_with_reservations", reasons + why)
        if status == "not satisfied":
            reasons.insert(0, f"The groups differed too much at intake{g_text} for the "
                              "comparison to be trusted (WWC baseline equivalence not met).")
            return _rated("flagged", reasons)
        if status == "satisfied with adjustment":
            reasons.append(f"The groups differed somewhat at intake{g_text}; the analysis "
                           "adjusts for the intake score, as WWC requires.")
        else:
            reasons.append(f"The groups were alike at intake{g_text}.")
        return _rated("meets_with_reservations", reasons)
    if design == "randomized_prepost":
        status = checks.get("baseline_status")
        g = checks.get("baseline_g")
        g_text = f" (g = {g:.2f})" if isinstance(g, (int, float)) else ""
        boundary = checks.get("attrition_boundary", "cautious")
        low = checks.get("low_attrition")
        arms = checks.get("arms") or "the program or the comparison group"
        reasons = [f"Youth were assigned to {arms} at random."]
        if low:
            reasons.append(f"Attrition was low under the WWC {boundary} boundary, so the "
                           "groups that were analysed are still the groups chance formed.")
            return _rated("meets_standards", reasons)
        if low is None:
            reasons.append("Whether attrition was low could not be judged, so the best "
                           "possible rating is 'with reservations'.")
            return _rated("meets_with_reservations", reasons)
        reasons.append(f"Attrition was high under the WWC {boundary} boundary: the youth who "
                       "remained may no longer be alike, so the groups must be shown alike at "
                       "intake and the best possible rating is 'with reservations'.")
        if status == "not satisfied":
            reasons.insert(0, f"The groups analysed differed too much at intake{g_text} "
                              "(WWC baseline equivalence not met).")
            return _rated("flagged", reasons)
        reasons.append(f"The groups analysed were alike enough at intake{g_text}"
                       + ("; the analysis adjusts for the intake score." if status ==
                          "satisfied with adjustment" else "."))
        return _rated("meets_with_reservations", reasons)
    if design == "randomized_time_to_event":
        arms = checks.get("arms") or "the program or the comparison group"
        reasons = [f"Youth were assigned to {arms} at random.",
                   "Every youth randomized has a follow-up time (to the event or to the end of "
                   "follow-up), and the analysis uses all of them, so attrition as the WWC "
                   "boundary measures it does not arise."]
        if checks.get("ph_holds") is False:
            reasons.append(_PH_CHANGED)
        return _rated("meets_standards", reasons)
    if design == "staggered_did":
        from evalkit.report.common import p_text
        from evalkit.report.words import clause

        p = checks.get("pretest_p")
        unit = checks.get("unit_label") or "unit"
        policy = checks.get("policy_label") or "the policy"
        reasons = [f"{unit.capitalize()}s adopting {policy} in different years are compared "
                   f"with {unit}s that had not adopted, using estimators that stay valid when "
                   "effects differ between adoption cohorts; "
                   + clause(policy, "was", "not assigned at random", capital=False)
                   + ", so the best possible rating is 'with reservations'."]
        if p is not None and p == p and p < 0.05:
            reasons.insert(0, f"Before adoption, adopting and comparison {unit}s already "
                              f"differed in trend (pre-trend test over every year before "
                              f"adoption, {p_text(p)}).")
            return _rated("flagged", reasons)
        if p is not None and p == p:
            reasons.append(f"No sign of diverging trends before adoption (pre-trend test over "
                           f"every year before adoption, p = {p:.2f}).")
        sens = (checks.get("sensitivity") or {}).get("average")
        if sens and sens.get("significant"):
            up = sens.get("holds_up_to")
            if up is None or up < SENSITIVITY_MBAR:
                reasons.insert(0, "The finding does not survive trends diverging after adoption "
                                  "as much as they did between consecutive years before it "
                                  + ("(it needs exactly parallel trends)" if up is None else
                                     f"(it holds only up to {up:.2f} times that divergence)")
                                  + "; the pre-trend test cannot rule such a divergence out.")
                return _rated("limited", reasons)
            reasons.append(f"The finding survives trends diverging after adoption by up to "
                           f"{up:.2f} times the largest divergence between consecutive years "
                           "before it (Rambachan and Roth's sensitivity analysis).")
        return _rated("meets_with_reservations", reasons)
    if design == "single_unit_did":
        unit = checks.get("unit_label") or "unit"
        policy = checks.get("policy_label") or "the policy"
        n = checks.get("n_adopting") or 1
        who = f"one {unit}" if n == 1 else f"{n} {unit}s"
        reasons = [f"Only {who} adopted {policy}: what would have happened there without it is "
                   f"estimated from a weighted set of {unit}s that tracked "
                   + ("it" if n == 1 else "them") + " before adoption (synthetic "
                   "difference-in-differences). A single adoption cannot separate "
                   f"{policy} from anything else that changed there at the same time, so the "
                   "best possible rating is 'with reservations'."]
        fit = checks.get("pre_fit_ratio")
        if fit is not None and fit == fit and fit > SINGLE_UNIT_FIT:
            reasons.insert(0, f"Before adoption, the weighted comparison did not track the "
                              f"adopting {unit} closely (its misfit was {fit:.2f} times the "
                              f"year-to-year variation of the {unit}'s own outcome).")
            return _rated("flagged", reasons)
        if fit is not None and fit == fit:
            reasons.append(f"Before adoption, the weighted comparison tracked the adopting "
                           f"{unit} closely (misfit {fit:.2f} times its own year-to-year "
                           "variation).")
        return _rated("meets_with_reservations", reasons)
    if design == "interrupted_time_series":
        return _rate_its(checks)
    if design == "time_to_event_comparison" and checks.get("balance") is not None:
        status, why = balance_status(checks["balance"], checks.get("balance_method", "weighting"),
                                     regression=False)
        reasons = ["Youth in the program were compared with youth who were not, without random "
                   "assignment, and the groups were made alike on the recorded characteristics "
                   "before the hazard ratio was estimated, so the best possible rating is "
                   "'with reservations'."]
        if checks.get("ph_holds") is False:
            reasons.append("The hazard ratio changed over time, so the weighted hazard ratio "
                           "averages over an effect that is not constant.")
        if status == "not satisfied":
            return _rated("flagged", why + reasons)
        return _rated("meets_with_reservations", reasons + why)
    if design == "time_to_event_comparison":
        reasons = ["Youth in the program were compared with youth who were not, without "
                   "random assignment; the analysis adjusts for the recorded characteristics, "
                   "but whether the groups were alike at entry is not established."]
        if checks.get("ph_holds") is False:
            reasons.append(_PH_CHANGED)
        return _rated("comparison_unverified", reasons)
    raise ValueError(f"no evidence rule for design {design!r}")


def _rate_its(checks: Mapping[str, Any]) -> dict[str, Any]:
    """The rule of an interrupted time series (see the module docstring)."""
    from evalkit.report.common import p_text

    unit = checks.get("unit_label") or "jurisdiction"
    what = checks.get("intervention_label") or "the intervention"
    period = checks.get("period") or "period"
    n_pre, n_post = checks.get("n_pre"), checks.get("n_post")
    p = checks.get("placebo_p")
    reasons = [f"One {unit}'s series was compared with its own trend before {what}, with no "
               "comparison series, so a change at the same time in anything else could look "
               "like an effect; the best possible rating is 'with reservations'."]
    if isinstance(n_pre, int) and isinstance(n_post, int):
        side = min(n_pre, n_post)
        counts = f"{n_pre} {period}s before and {n_post} from the start"
        if side < ITS_FLAG_SIDE:
            reasons.insert(0, f"Only {counts}: too few on one side to separate a change from "
                              f"the series' own trend (fewer than {ITS_FLAG_SIDE}).")
            return _rated("flagged", reasons)
        if side < ITS_MIN_SIDE:
            reasons.insert(0, f"Only {counts}: fewer than the {ITS_MIN_SIDE} on each side "
                              "that interrupted time series need (Cochrane EPOC).")
            return _rated("limited", reasons)
        reasons.append(f"{counts.capitalize()} (at least {ITS_MIN_SIDE} on each side).")
    where = f" ({checks['placebo_label']})" if checks.get("placebo_label") else ""
    if p is not None and p == p and p < 0.05:
        reasons.insert(0, f"At a placebo date before {what}{where}, the same model found a "
                          f"change in level although nothing started then ({p_text(p)}): "
                          "the model may not describe the series' own course.")
        return _rated("flagged", reasons)
    if p is None or p != p:
        reasons.insert(0, "No placebo date could be tested, so whether the model describes "
                          "the series' own course is unchecked.")
        return _rated("limited", reasons)
    reasons.append(f"At a placebo date before {what}{where}, the same model found no change "
                   f"in level (p = {p:.2f}).")
    return _rated("meets_with_reservations", reasons)

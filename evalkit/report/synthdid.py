"""The report of a policy adopted by too few units for staggered DiD: synthetic DiD.

The did template runs Callaway and Sant'Anna's staggered estimator. When fewer units adopted
than its intervals need (:data:`evalkit.methods.did.staggered.MIN_TREATED_UNITS`), the
estimator refuses and the template switches to synthetic difference-in-differences
(:func:`evalkit.methods.policy.single_unit.single_unit_did`). :class:`SingleUnitReport` says
why it switched, shows the adopters' path against their synthetic comparison, the comparison's
weights by unit, the synthetic control and plain DiD estimates beside the headline, the
placebo distribution behind the standard error, and what a single adoption can and cannot
show.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evalkit.methods.did.staggered import MIN_TREATED_UNITS
from evalkit.methods.inference import join_names
from evalkit.methods.policy.single_unit import SingleUnitDiD
from evalkit.report import resultsdoc, words
from evalkit.report.base import Report
from evalkit.report.common import cautions_html, collect_cautions, num, shown_frame
from evalkit.report.did import panel_data_block
from evalkit.report.evidence import SINGLE_UNIT_FIT, rate
from evalkit.report.figures import figure_block
from evalkit.report.figures_policy import (
    placebo_figure,
    synthdid_paths_figure,
    unit_weights_figure,
)
from evalkit.report.html import Block, paragraphs, table
from evalkit.results import jsonable, limiting

__all__ = ["SingleUnitReport", "single_unit_design"]


def _num(x: float, digits: int = 2) -> str:
    return "n/a" if not np.isfinite(x) else num(x, digits)


def _period(t: Any) -> str:
    """A period as written: 2015, not 2015.0."""
    try:
        f = float(t)
    except (TypeError, ValueError):
        return str(t)
    return f"{f:g}" if f.is_integer() else str(t)


def single_unit_design(unit_label: str, policy_label: str, n_adopting: int = 1
                       ) -> dict[str, str]:
    """Design code and label of a policy adopted by too few units (``single_unit_did``)."""
    who = f"one {unit_label}" if n_adopting == 1 else f"{n_adopting} {unit_label}s"
    return {"code": "single_unit_did",
            "label": f"{policy_label.capitalize()} adopted by {who}: synthetic "
                     "difference-in-differences"}


@dataclass
class SingleUnitReport(Report):
    """The sections of a single-unit policy evaluation (synthetic DiD).

    Parameters
    ----------
    data
        The validated panel.
    fit
        :func:`~evalkit.methods.policy.single_unit.single_unit_did`.
    unit, time, first_treated, outcome
        Column names.
    outcome_label, units, policy_label, unit_label, lower_is_better, never_treated
        As for :class:`~evalkit.report.did.DiDReport`.
    labels
        Display names of columns.
    """

    data: pd.DataFrame
    fit: SingleUnitDiD
    unit: str
    time: str
    first_treated: str
    outcome: str
    outcome_label: str = "the outcome"
    units: str = ""
    policy_label: str = "the policy"
    unit_label: str = "state"
    lower_is_better: bool = False
    never_treated: float = 0
    labels: Any = None

    def __post_init__(self) -> None:
        self.labels = dict(self.labels or {})

    # -- facts -------------------------------------------------------------------------------
    @functools.cached_property
    def adopters(self) -> list[str]:
        """The adopting units."""
        return [str(u) for u in self.fit.sdid.treated_units]

    @property
    def who(self) -> str:
        """The adopters in words: "MN", or "3 states (A, B and C)"."""
        names = join_names(self.adopters)
        return names if len(self.adopters) == 1 else (
            f"{len(self.adopters)} {self.unit_label}s ({names})")

    @property
    def fit_ok(self) -> bool:
        """Whether the comparison tracked the adopters before adoption (see the evidence rule)."""
        r = self.fit.pre_fit_ratio
        return not (np.isfinite(r) and r > SINGLE_UNIT_FIT)

    def switch_reason(self) -> str:
        """Why the staggered estimator was not used, in plain words."""
        n = len(self.adopters)
        return (f"Only {n} {self.unit_label}{'s' if n != 1 else ''} adopted "
                f"{self.policy_label} within the years observed. The staggered comparison "
                f"(Callaway and Sant'Anna) needs at least {MIN_TREATED_UNITS} adopting "
                f"{self.unit_label}s: with fewer, its 95% intervals covered the true effect far "
                "less often than 95% of the time in simulation (27% with one adopting unit, "
                "86% with five).")

    def design(self) -> dict[str, str]:
        """Design code ``single_unit_did`` and its label."""
        return single_unit_design(self.unit_label, self.policy_label, len(self.adopters))

    def cautions(self) -> tuple[str, ...]:
        """The synthetic DiD estimate's cautions first, then the other two estimators'."""
        return collect_cautions([self.fit.sdid, self.fit.sc, self.fit.did])

    def evidence(self) -> dict[str, Any]:
        """Evidence rating (:func:`evalkit.report.evidence.rate`, ``single_unit_did``)."""
        return rate("single_unit_did", {"pre_fit_ratio": self.fit.pre_fit_ratio,
                                        "unit_label": self.unit_label,
                                        "policy_label": self.policy_label,
                                        "n_adopting": len(self.adopters)},
                    collect_cautions([self.fit.sdid]))

    def _way(self) -> str:
        s = self.fit.sdid
        return words.direction(s.estimate, self.lower_is_better, ci_low=s.ci_low,
                               ci_high=s.ci_high)

    def headline(self) -> str:
        """The synthetic DiD effect, its interval and direction, in one sentence."""
        s = self.fit.sdid
        conf = f"{1 - s.alpha:.0%}"
        ci = f"{conf} CI {_num(s.ci_low)} to {_num(s.ci_high)}"
        where = f"in {self.who}" if len(self.adopters) == 1 else f"across {self.who}"
        if not (np.isfinite(s.ci_low) and np.isfinite(s.ci_high)):
            what = (f"{self.outcome_label} differed by {_num(s.estimate)} {self.units} from its "
                    "synthetic comparison after adoption, but no confidence interval could be "
                    "computed (see Checks), so this number cannot be judged")
        elif s.ci_low <= 0 <= s.ci_high:
            what = (f"the data show no clear change in {self.outcome_label} after "
                    f"{self.policy_label} took effect, desired or unwanted: {_num(s.estimate)} "
                    f"{self.units} against the synthetic comparison ({ci})")
        else:
            verb = "lower" if s.estimate < 0 else "higher"
            what = (f"{self.outcome_label} {words.agree(self.outcome_label, 'was')} "
                    f"{_num(abs(s.estimate))} {self.units} {verb} "
                    f"after {self.policy_label} took effect than in a weighted combination of "
                    f"{self.unit_label}s that had tracked it before ({ci}), {self._way()}")
        caveat = ("" if self.fit_ok else
                  f" Before adoption the comparison did not track the adopting {self.unit_label} "
                  "closely, so this estimate is flagged.")
        return (f"Only {self.who} adopted {self.policy_label}; {where}, {what}. One adoption "
                f"cannot rule out that something else changed there at the same time.{caveat}")

    # -- sections ----------------------------------------------------------------------------
    def glance_items(self) -> dict[str, str]:
        """Design, the synthetic DiD effect and the two estimates beside it."""
        f = self.fit
        conf = f"{1 - f.sdid.alpha:.0%}"

        def est(r: Any) -> str:
            return (f"{_num(r.estimate)} {self.units} ({conf} CI {_num(r.ci_low)} to "
                    f"{_num(r.ci_high)})")

        return {"Design": self.design()["label"],
                "Average effect after adoption": est(f.sdid),
                "Synthetic control (for comparison)": est(f.sc),
                "Unweighted difference-in-differences (for comparison)": est(f.did)}

    def default_question(self) -> str:
        """The default question: did the outcome change against a synthetic comparison."""
        return (f"Did {self.outcome_label} change after {self.policy_label} took effect, "
                f"compared with what {self.unit_label}s that had tracked it before adoption "
                "suggest would have happened without it?")

    def data_section(self) -> Block:
        """'The data': units by year of adoption and the years observed."""
        return panel_data_block(self.data, unit=self.unit, time=self.time,
                                first_treated=self.first_treated,
                                never_treated=self.never_treated, unit_label=self.unit_label,
                                outcome_label=self.outcome_label, units=self.units)

    def method_section(self) -> Block:
        """'How it was evaluated': why the design switched, synthetic DiD and its assumptions."""
        s = self.fit.sdid
        return Block(paragraphs(
            f"Why this design: {self.switch_reason()} A design built for one or a few adopting "
            f"{self.unit_label}s is used instead: synthetic difference-in-differences "
            "(Arkhangelsky and colleagues, 2021), as the R package synthdid computes it.",
            f"It builds a comparison from the {self.unit_label}s that did not adopt, weighting "
            f"them so that together they moved in parallel with the adopting "
            f"{self.unit_label} in the years before adoption, and weights those years so that "
            "the ones most like the years after adoption count most. The effect is the "
            "difference between the adopter's change after adoption and the weighted "
            "comparison's change over the same years.",
            f"Its standard error comes from placebos: {s.reps} times, non-adopting "
            f"{self.unit_label}s are picked at random and treated as if they had adopted in "
            "the same year; the spread of those placebo effects is the standard error. The "
            "synthetic control estimate (weights on units only, comparing levels) and the "
            "unweighted difference-in-differences (every comparison unit and year counted "
            "alike) are shown beside it: synthetic difference-in-differences sits between "
            "them by design.",
            f"Assumptions: without {self.policy_label}, the adopting {self.unit_label} would "
            "have kept moving in parallel with its weighted comparison (checked before "
            "adoption); nothing else that changed its outcome happened there at the same "
            f"time; and the year-to-year noise of the adopting {self.unit_label} is like that "
            "of the others (the placebos stand in for it).",
        ), text="How it was evaluated")

    def findings(self) -> Block:
        """'Findings': the paths, the three estimates and the comparison's weights."""
        f = self.fit
        s = f.sdid
        conf = f"{1 - s.alpha:.0%}"
        one = len(self.adopters) == 1
        treated = (f"{self.adopters[0]} (adopted {_period(s.start)})" if one else
                   f"Adopting {self.unit_label}s (average)")
        fig = synthdid_paths_figure(s.trajectories, s.time_weights, start=s.start,
                                    outcome_label=self.outcome_label, units=self.units,
                                    treated_label=treated,
                                    synthetic_label="Synthetic comparison")
        post = s.trajectories[s.trajectories["post"].astype(bool)]
        html = figure_block(fig, alt=(
            f"{self.outcome_label} by year in {treated} and in its synthetic comparison; "
            f"after adoption the adopter averages {_num(post['treated'].mean())} and the "
            f"comparison {_num(post['synthetic_adjusted'].mean())} {self.units}."), caption=(
            "The synthetic comparison is shifted to the adopter's level in the years that "
            "count most before adoption (grey bars); after adoption the shaded gap is the "
            "estimated effect.")).html
        rows = pd.DataFrame({
            "Estimate": [_num(r.estimate) for r in (s, f.sc, f.did)],
            f"{conf} CI": [f"{_num(r.ci_low)} to {_num(r.ci_high)}" for r in (s, f.sc, f.did)],
            "Standard error": [_num(r.se, 3) for r in (s, f.sc, f.did)],
        }, index=["Synthetic difference-in-differences (headline)", "Synthetic control",
                  "Difference-in-differences, unweighted"])
        html += table(rows, caption=f"Effect of {self.policy_label} on {self.outcome_label} "
                      f"({self.units})", total_rows=(), note=(
                          f"Standard errors: placebo method, {s.reps} draws with the same "
                          f"seed ({s.seed}) for each estimator (R synthdid vcov(method = "
                          "'placebo')); intervals are the estimate ± 1.96 standard errors. "
                          f"{s.n_control} comparison {self.unit_label}s, {s.n_pre} years "
                          f"before and {s.n_post} after adoption."))
        w = s.unit_weights
        fig = unit_weights_figure(w, unit_label=self.unit_label)
        top = w[w >= 0.005].sort_values(ascending=False)
        html += figure_block(fig, alt=(
            f"Weights of the comparison {self.unit_label}s: " + "; ".join(
                f"{k} {v:.2f}" for k, v in top.iloc[:12].items()) + "."), caption=(
            f"{len(top)} of {w.size} non-adopting {self.unit_label}s carry a weight of 0.005 "
            "or more in the synthetic comparison.")).html
        return Block(html, text="Findings")

    def checks(self) -> Block:
        """'Checks': the pre-adoption fit, the placebo distribution and the cautions."""
        f = self.fit
        s = f.sdid
        r = f.pre_fit_ratio
        if np.isfinite(r):
            verdict = (f"tracked the adopting {self.unit_label} closely" if self.fit_ok else
                       f"did not track the adopting {self.unit_label} closely")
            text = (f"Before adoption, the synthetic comparison {verdict}: the gap between "
                    f"them strayed from its average by {_num(f.pre_fit_rmse)} {self.units} "
                    f"(root mean square), {r:.2f} times the adopter's own typical change "
                    f"from one year to the next. Above {SINGLE_UNIT_FIT:g} times the rating "
                    "is flagged: the comparison would then not show what the adopter's path "
                    "would have been.")
        else:
            text = ("How closely the comparison tracked the adopter before adoption could not "
                    "be measured (too few years before adoption, or an outcome that did not "
                    "change).")
        fig = placebo_figure(s.replicates, s.estimate, units=self.units,
                             unit_label=self.unit_label)
        finite = np.asarray(s.replicates, float)
        finite = finite[np.isfinite(finite)]
        share = float(np.mean(np.abs(finite) >= abs(s.estimate))) if finite.size else np.nan
        html = paragraphs(text) + figure_block(fig, alt=(
            f"Histogram of {finite.size} placebo effects; the actual estimate "
            f"{_num(s.estimate)} {self.units}"
            + (f" is at least as large as {share:.0%} of them in size." if np.isfinite(share)
               else ".")), caption=(
            f"Placebo effects: non-adopting {self.unit_label}s treated as if they had adopted "
            "the same year. Their spread is the standard error.")).html
        if np.isfinite(share):
            html += paragraphs(
                f"{share:.0%} of the placebo effects are at least as large in size as the "
                f"actual one ({_num(s.estimate)} {self.units}).")
        return Block(html + cautions_html(self.cautions()), text="Checks")

    def limitation_list(self) -> list[str]:
        """The design's limitations and the cautions that limit the conclusion."""
        one = len(self.adopters) == 1
        return [
            f"Only {self.who} adopted: a change in {'its' if one else 'their'} outcome at the time of adoption may "
            f"come from anything else that changed there then, not only {self.policy_label}.",
            "The placebo standard error assumes the adopting "
            f"{self.unit_label}'s year-to-year noise is like that of the non-adopting "
            f"{self.unit_label}s.",
            f"The outcome is an aggregate rate; a change in how {self.unit_label}s record or "
            "report it around adoption would look like an effect.",
        ] + [str(c) for c in limiting(self.cautions())]

    def appendix_results(self) -> list[Any]:
        """The three estimates and the weights by unit and by year (aggregate data)."""
        s = self.fit.sdid
        w = s.unit_weights[s.unit_weights > 0].sort_values(ascending=False)
        lam = s.time_weights[s.time_weights > 0]
        return [("Synthetic difference-in-differences and its relatives",
                 self.fit.to_frame()),
                (f"Weights of the comparison {self.unit_label}s",
                 pd.DataFrame({"term": [str(k) for k in w.index], "estimate": w.to_numpy()})),
                ("Weights of the years before adoption",
                 pd.DataFrame({"term": [str(k) for k in lam.index],
                               "estimate": lam.to_numpy()}))]

    def results_document(self) -> dict[str, Any]:
        """The method part of ``results.json``: the synthetic DiD headline and its checks."""
        f = self.fit
        s = f.sdid
        first = self.data.groupby(self.unit)[self.first_treated].first()
        headline = {
            "estimand": f"average effect of {self.policy_label} on {self.outcome_label} after "
                        "adoption (synthetic difference-in-differences, placebo standard "
                        "errors)",
            "estimate": s.estimate, "ci_low": s.ci_low, "ci_high": s.ci_high,
            "alpha": s.alpha, "p_value": s.p_value, "n": int(first.size),
            "n_unit": f"{self.unit_label}s", "units": self.units, "effect_size": None, "suppressed": False, "digits": 2,
            "scale": "linear",
        }
        estimates = (shown_frame(s).to_dict("records") + shown_frame(f.sc).to_dict("records")
                     + shown_frame(f.did).to_dict("records"))
        for row, name in zip(estimates, ("synthetic difference-in-differences",
                                         "synthetic control", "difference-in-differences"),
                             strict=False):
            row["term"] = f"{name}: {row['term']}"
        doc = resultsdoc.build(
            design=self.design(),
            outcome={"name": self.outcome, "label": self.outcome_label, "units": self.units,
                     "lower_is_better": self.lower_is_better},
            headline=headline, estimates=estimates,
            sample={f"{self.unit_label}s": int(first.size),
                    f"adopting_{self.unit_label}s": len(self.adopters)},
            suppressed=[], finding=self.headline(), evidence=self.evidence(),
            limitations=self.limitation_list(), cautions=self.cautions(),
        )
        doc["checks"] = {
            "design_switch": {"from": "staggered_did", "to": "single_unit_did",
                              "min_adopting": MIN_TREATED_UNITS,
                              "n_adopting": len(self.adopters),
                              "reason": self.switch_reason()},
            "pre_fit": {"ratio": f.pre_fit_ratio, "rmse": f.pre_fit_rmse,
                        "threshold": SINGLE_UNIT_FIT, "holds": self.fit_ok},
            "unit_weights": {str(k): float(v) for k, v in s.unit_weights.items() if v > 0},
            "time_weights": {str(k): float(v) for k, v in s.time_weights.items() if v > 0},
            "placebo": {"reps": s.reps, "seed": s.seed},
        }
        return jsonable(doc)

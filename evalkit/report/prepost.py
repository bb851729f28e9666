"""Report sections for a one-group pre-post evaluation.

:class:`PrePostReport` holds what the sections share (the result, the outcome's labels, the
privacy threshold); each method returns one section as a :class:`~evalkit.report.html.Block`.
All numbers come from :mod:`evalkit.methods.prepost`; this module only words and draws them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evalkit import privacy
from evalkit.methods.prepost import PairedChange, describe
from evalkit.report import resultsdoc
from evalkit.report.evidence import rate
from evalkit.report.figures import figure_block, prepost_figure
from evalkit.report.html import Block, esc, paragraphs, table
from evalkit.report.common import bullets_block, program_block

__all__ = ["Outcome", "PrePostReport"]


@dataclass(frozen=True)
class Outcome:
    """How an outcome is named and read in a report.

    Parameters
    ----------
    label
        Name for readers ("trauma symptom score").
    units
        Units of the score ("points").
    lower_is_better
        Whether a decrease is an improvement.
    pre_label, post_label
        Names of the two measurements ("intake", "six months").
    """

    label: str
    units: str = "points"
    lower_is_better: bool = False
    pre_label: str = "intake"
    post_label: str = "follow-up"


def _num(x: float, digits: int = 1) -> str:
    return f"{x:,.{digits}f}".replace("-", "−")


@dataclass
class PrePostReport:
    """The sections of a one-group pre-post report.

    Parameters
    ----------
    data
        The validated data (one row per youth enrolled).
    change
        The :func:`~evalkit.methods.prepost.paired_change` result.
    outcome
        Labels and direction of the outcome.
    threshold
        Privacy threshold: counts below it are suppressed, and estimates are withheld when
        fewer youth than this were measured twice.
    """

    data: pd.DataFrame
    change: PairedChange
    outcome: Outcome
    threshold: int = privacy.DEFAULT_THRESHOLD
    summary: pd.DataFrame = field(init=False)
    counts: privacy.Suppressed = field(init=False)

    def __post_init__(self) -> None:
        self.threshold = privacy.check_threshold(self.threshold)
        c = self.change
        self.summary = describe(self.data, c.pre, c.post, alpha=c.alpha)
        has_pre = self.data[c.pre].notna()
        both = has_pre & self.data[c.post].notna()
        self.counts = privacy.suppress(
            pd.Series(
                {
                    f"Measured at {self.outcome.pre_label} and {self.outcome.post_label}":
                        int(both.sum()),
                    f"Not measured at {self.outcome.post_label}": int((has_pre & ~both).sum()),
                }
            ),
            self.threshold,
        )

    # -- derived facts -----------------------------------------------------------------------
    @property
    def reportable(self) -> bool:
        """Whether enough youth were measured twice to show estimates."""
        return self.change.n >= self.threshold

    @property
    def attrition(self) -> float:
        """Share of youth with an intake score and no second score."""
        enrolled = int(self.data[self.change.pre].notna().sum())
        return 1 - self.change.n / enrolled if enrolled else float("nan")

    def _direction(self) -> str:
        c, o = self.change, self.outcome
        if c.ci_low <= 0 <= c.ci_high:
            return "no clear change"
        improved = (c.mean_diff < 0) == o.lower_is_better
        return "improved" if improved else "worsened"

    # -- sections ----------------------------------------------------------------------------
    def headline(self) -> str:
        """One plain-language sentence stating the finding and what it cannot show."""
        c, o = self.change, self.outcome
        if not self.reportable:
            return (
                f"Fewer than {self.threshold} youth were measured at both {o.pre_label} and "
                f"{o.post_label}, so results are withheld to protect their privacy."
            )
        conf = f"{c.confidence:.0%}"
        span = f"{o.pre_label} and {o.post_label}"
        if self._direction() == "no clear change":
            what = (
                f"Average {o.label} did not change clearly between {span}: the average change "
                f"was {_num(c.mean_diff)} {o.units} ({conf} CI {_num(c.ci_low)} to "
                f"{_num(c.ci_high)})"
            )
        else:
            verb = "fell" if c.mean_diff < 0 else "rose"
            what = (
                f"Average {o.label} {verb} by {_num(abs(c.mean_diff))} {o.units} between {span} "
                f"({conf} CI {_num(c.ci_low)} to {_num(c.ci_high)}), "
                f"from {_num(c.mean_pre)} to {_num(c.mean_post)}"
            )
        return (
            f"{what}, among the {c.n:,} youth measured both times. Without a comparison group "
            "this change cannot be attributed to the program."
        )

    def glance(self) -> Block:
        """'At a glance': headline sentence, effect with CI, effect size and evidence rating."""
        c = self.change
        ev = self.evidence()
        items: dict[str, str] = {"Design": "One group measured twice (pre-post), no comparison group"}
        if self.reportable:
            conf = f"{c.confidence:.0%}"
            items["Average change"] = (
                f"{_num(c.mean_diff)} {self.outcome.units} ({conf} CI {_num(c.ci_low)} to "
                f"{_num(c.ci_high)})"
            )
            items["Effect size"] = (
                f"Hedges' g = {_num(c.g_av, 2)} ({conf} CI {_num(c.g_av_ci_low, 2)} to "
                f"{_num(c.g_av_ci_high, 2)})"
            )
            items["Youth measured twice"] = f"{c.n:,} ({self.attrition:.0%} not measured at "\
                f"{self.outcome.post_label})"
        items["Evidence rating"] = ev["label"]
        body = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items.items())
        reasons = "".join(f"<li>{esc(r)}</li>" for r in ev["reasons"])
        return Block(
            f"<div class='ek-glance'><p class='ek-headline'>{esc(self.headline())}</p>"
            f"<dl>{body}</dl><p class='ek-note'>Why this rating:</p><ul class='ek-note'>"
            f"{reasons}</ul></div>",
            text=self.headline(),
        )

    def program_section(self, description: str, question: str = "") -> Block:
        """'The program and the question' (a default question is worded when none is given)."""
        o = self.outcome
        q = question or (
            f"How did the {o.label} of youth in the program change between {o.pre_label} and "
            f"{o.post_label}?"
        )
        return program_block(description, q)

    def data_section(self) -> Block:
        """'The data': who was enrolled, how many were measured twice, what was suppressed."""
        o = self.outcome
        shown = self.counts.display(percent_of="column")
        shown.columns = ["Youth"]
        shown = shown.rename(index={"Total": f"Enrolled with an {o.pre_label} score"
                                    if o.pre_label[0] in "aeiou" else
                                    f"Enrolled with a {o.pre_label} score"})
        total_label = shown.index[-1]
        note = None
        if self.counts.n_suppressed:
            note = (
                f"Counts below {self.threshold} are shown as 'suppressed', together with any "
                "count from which they could be worked out, to protect the youth's privacy."
            )
        text = paragraphs(
            f"The analysis uses every youth with an {o.pre_label} score and a score at "
            f"{o.post_label}. Youth without a second score cannot contribute to the change "
            "estimate; the Checks section compares them with those who stayed.",
        )
        return Block(
            text + table(shown, caption="Youth in the evaluation", index_label="",
                         total_rows=(total_label,), note=note),
            text="The data",
        )

    def method_section(self) -> Block:
        """'How it was evaluated', in plain words."""
        c, o = self.change, self.outcome
        conf = f"{c.confidence:.0%}"
        return Block(
            paragraphs(
                f"Each youth's {o.label} was measured at {o.pre_label} and again at "
                f"{o.post_label}. The evaluation reports the average change per youth "
                f"({o.post_label} minus {o.pre_label}) with a {conf} confidence interval from "
                "a paired t-test, and a standardized effect size (Hedges' g, the change "
                "divided by the typical spread of scores) so programs using different scales "
                "can be compared.",
                "Assumptions: the youth measured twice are representative of everyone "
                "enrolled, the measure means the same thing at both times, and changes are "
                "roughly symmetric around their average (or the sample is large enough for "
                "the average to be reliable).",
            ),
            text="How it was evaluated",
        )

    def findings(self) -> Block:
        """'Findings': a table of the estimates and the standard figure."""
        c, o = self.change, self.outcome
        if not self.reportable:
            return Block(paragraphs(self.headline()), text=self.headline())
        conf = f"{c.confidence:.0%}"
        rows = pd.DataFrame(
            {
                "Estimate": [
                    f"{_num(c.mean_pre)}",
                    f"{_num(c.mean_post)}",
                    f"{_num(c.mean_diff)}",
                    f"{_num(c.g_av, 2)}",
                ],
                f"{conf} CI": [
                    "", "",
                    f"{_num(c.ci_low)} to {_num(c.ci_high)}",
                    f"{_num(c.g_av_ci_low, 2)} to {_num(c.g_av_ci_high, 2)}",
                ],
            },
            index=[
                f"Average score at {o.pre_label}",
                f"Average score at {o.post_label}",
                f"Average change ({o.units})",
                "Effect size (Hedges' g)",
            ],
        )
        tab = table(
            rows,
            caption=f"{o.label.capitalize()}: youth measured both times (n = {c.n:,})",
            total_rows=(),
            note=(f"Paired t-test of the change: t = {c.t:.2f}, {c.df} degrees of freedom, "
                  f"p {'< 0.001' if c.p_value < 0.001 else '= ' + format(c.p_value, '.3f')}."),
        )
        d = self.data
        both = d[c.pre].notna() & d[c.post].notna()
        diffs = (d.loc[both, c.post] - d.loc[both, c.pre]).to_numpy(dtype=float)
        fig = prepost_figure(
            self.summary, diffs, mean_change=c.mean_diff, ci_low=c.ci_low, ci_high=c.ci_high,
            outcome_label=o.label.capitalize(), pre_label=o.pre_label,
            post_label=o.post_label, lower_is_better=o.lower_is_better,
            confidence=c.confidence,
        )
        better = "lower" if o.lower_is_better else "higher"
        alt = (
            f"Left: average {o.label} at {o.pre_label} was {_num(c.mean_pre)} and at "
            f"{o.post_label} {_num(c.mean_post)} among youth measured both times, with "
            f"{conf} confidence intervals. Right: the middle half of youth changed by between "
            f"{_num(np.percentile(diffs, 25))} and {_num(np.percentile(diffs, 75))} {o.units}; "
            f"the average change was {_num(c.mean_diff)} ({conf} CI {_num(c.ci_low)} to "
            f"{_num(c.ci_high)}). {better.capitalize()} scores are better."
        )
        figure = figure_block(
            fig, alt=alt,
            caption=(f"Average {o.label} at both times, and the spread of individual change "
                     f"(percentiles only, no individual scores). {better.capitalize()} is better."),
        )
        return Block(tab + figure.html, text="Findings")

    def checks(self) -> Block:
        """'Checks': did the youth lost to follow-up start out differently?"""
        c, o = self.change, self.outcome
        s = self.summary.set_index("sample")
        all_pre, comp = s.loc["all_pre"], s.loc["complete_pre"]
        lost = privacy.format_count(int(all_pre["n"] - comp["n"]), self.threshold)
        text = (
            f"{self.attrition:.0%} of youth had no {o.post_label} score (lost to follow-up: "
            f"{lost}). At {o.pre_label}, the average {o.label} of the youth measured twice was "
            f"{_num(comp['mean'])}, against {_num(all_pre['mean'])} for everyone enrolled. "
        )
        gap = comp["mean"] - all_pre["mean"]
        if abs(gap) > 0.1 * all_pre["sd"]:
            text += (
                "The difference suggests that those who stayed were not typical of everyone "
                "enrolled, so the average change may not describe the whole group."
            )
        else:
            text += "Those who stayed started out much like everyone enrolled."
        return Block(paragraphs(text), text=text)

    def limitations(self) -> Block:
        """'Limitations' of a one-group pre-post design."""
        return bullets_block(self.limitation_list())

    def limitation_list(self) -> list[str]:
        """The limitations as sentences (also written to results.json)."""
        o = self.outcome
        items = [
            "A single group measured twice cannot show that the program caused the change: "
            "youth may have improved with time, other services, or regression to the mean "
            "(unusually high scores at intake tend to fall on re-measurement).",
            f"Youth without a {o.post_label} score are left out; if they differed from those "
            "who stayed, the average change does not describe everyone enrolled.",
            "Scores are self- or staff-reported; a change in how the measure was given "
            "between the two times would show up as change.",
        ]
        if self.attrition > 0.2:
            items.insert(1, f"{self.attrition:.0%} of youth were not measured at "
                         f"{o.post_label}: high attrition weakens any conclusion.")
        return items

    def evidence(self) -> dict[str, Any]:
        """Evidence rating and its reasons (see :mod:`evalkit.report.evidence`)."""
        return rate("one_group_prepost", {"attrition": self.attrition})

    def results_document(self) -> dict[str, Any]:
        """The method part of ``results.json`` (see :mod:`evalkit.report.resultsdoc`)."""
        c, o = self.change, self.outcome
        shown = self.reportable
        counts = self.counts
        labels = list(counts.counts.index)
        names = ["measured_twice", "lost_to_follow_up", "enrolled"]
        sample, hidden = {}, []
        for name, label in zip(names, labels):
            if counts.mask.loc[label].iloc[0]:
                sample[name] = None
                hidden.append(name)
            else:
                sample[name] = int(counts.counts.loc[label].iloc[0])

        def val(x: float) -> float | None:
            return float(x) if shown else None

        headline = {
            "estimand": f"mean change in {o.label}, {o.post_label} − {o.pre_label}",
            "estimate": val(c.mean_diff),
            "ci_low": val(c.ci_low),
            "ci_high": val(c.ci_high),
            "alpha": c.alpha,
            "p_value": val(c.p_value),
            "n": c.n if shown else None,
            "units": o.units,
            "effect_size": {
                "name": "hedges_g_av",
                "estimate": val(c.g_av),
                "ci_low": val(c.g_av_ci_low),
                "ci_high": val(c.g_av_ci_high),
            },
            "suppressed": not shown,
        }
        estimates = c.to_frame().to_dict("records") if shown else []
        return resultsdoc.build(
            design={"code": "one_group_prepost",
                    "label": "One group measured twice (pre-post), no comparison group"},
            outcome={"name": c.post, "label": o.label, "units": o.units,
                     "lower_is_better": o.lower_is_better},
            headline=headline,
            estimates=estimates,
            sample=sample,
            suppressed=hidden,
            finding=self.headline(),
            evidence=self.evidence(),
            limitations=self.limitation_list(),
        )

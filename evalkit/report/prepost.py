"""Report sections for pre-post evaluations, with or without a comparison group.

:class:`PrePostReport` holds what the sections share (the results, the outcome's labels, the
privacy threshold); each method returns one section as a :class:`~evalkit.report.html.Block`.
All numbers come from :mod:`evalkit.methods`; this module only words and draws them.

This module is longer than the house's ~600 lines because it holds one report: every section of
the one-group, comparison-group and randomized pre-post designs reads the same results and the
same privacy rules (what may be shown), and splitting the sections apart would scatter those
rules. Figures are drawn in :mod:`evalkit.report.figures`, tables by
:func:`evalkit.report.html.table`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evalkit import privacy
from evalkit.exceptions import DesignRefused
from evalkit.methods.adjustment import Adjustment
from evalkit.methods.attrition import Attrition, wwc_boundary
from evalkit.methods.binary import McNemar, ProportionComparison
from evalkit.methods.groups import GroupComparison, describe_groups
from evalkit.methods.inference import join_names
from evalkit.methods.prepost import PairedChange, SignedRank, describe
from evalkit.methods.reliable_change import CATEGORIES, ReliableChange
from evalkit.report import resultsdoc, words
from evalkit.report.base import Report
from evalkit.report.common import (
    cautions_html,
    collect_cautions,
    interval,
    num,
    p_text,
    shown_frame,
)
from evalkit.report.evidence import rate, withheld_rating
from evalkit.report.figures import (
    attrition_figure,
    categories_figure,
    figure_block,
    groups_figure,
    prepost_figure,
)
from evalkit.report.html import Block, paragraphs, table
from evalkit.report.refused import RefusedReport
from evalkit.report.weighting import (
    balance_rows,
    balance_section,
    covariate_balance,
    effect_section,
    estimand_words,
)
from evalkit.report.words import Population, spoken
from evalkit.results import jsonable, limiting

__all__ = ["Outcome", "PrePostReport", "refused_comparison_report"]

_p = p_text


def _num(x: float, digits: int = 1) -> str:  # scores are shown with one decimal
    return num(x, digits)


def _ci(lo: float, hi: float, digits: int = 1) -> str:
    return interval(lo, hi, digits)


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


@dataclass
class PrePostReport(Report):
    """The sections of a pre-post report.

    Parameters
    ----------
    data
        The validated data (one row per youth enrolled).
    change
        :func:`~evalkit.methods.prepost.paired_change` of the program youth.
    outcome
        Labels and direction of the outcome.
    threshold
        Privacy threshold: counts below it are suppressed, and estimates are withheld when
        fewer youth than this were measured twice.
    signed
        The signed-rank robustness check, if run.
    reliable
        Reliable change, if the measure's reliability was given.
    binary
        Label → :func:`~evalkit.methods.binary.mcnemar` result for 0/1 outcomes (or the
        :class:`~evalkit.exceptions.EvalDataError` it raised: shown as not estimated).
    attrition
        :func:`~evalkit.methods.attrition.attrition`.
    comparison
        :func:`~evalkit.methods.groups.compare_groups`, for comparison-group designs.
    binary_groups
        Label → :func:`~evalkit.methods.binary.compare_proportions` (program vs comparison
        at the second measurement) for 0/1 outcomes of comparison-group designs.
    group, comparison_label
        The 0/1 group column and what the comparison group is called.
    study_design
        ``"randomized"``, ``"comparison group"`` or ``"one group"`` (default: comparison group
        with a group column, one group without): what the report says about how the groups
        were formed, and which evidence rule rates it.
    population
        What the people are called (:class:`~evalkit.report.words.Population`, a
        ``{singular, plural}`` mapping or one word; default youth).
    labels
        Display names of columns (covariates, the group column).
    outcome_scale
        ``"linear"`` or ``"log"``: a log outcome's changes are also stated as percentages
        (exp(b) − 1).
    adjusted
        :func:`~evalkit.report.weighting.adjust_comparison` (the config's ``adjust`` block):
        the headline becomes the effect adjusted by propensity weighting or matching, the
        findings show it next to the unadjusted difference, the checks show covariate balance
        before and after, and baseline equivalence is rated on every covariate.
    """

    data: pd.DataFrame
    change: PairedChange
    outcome: Outcome
    threshold: int = privacy.DEFAULT_THRESHOLD
    signed: SignedRank | None = None
    reliable: ReliableChange | None = None
    binary: Mapping[str, McNemar | Exception] = field(default_factory=dict)
    attrition: Attrition | None = None
    comparison: GroupComparison | None = None
    binary_groups: Mapping[str, ProportionComparison | Exception] = field(default_factory=dict)
    group: str | None = None
    comparison_label: str = "comparison group"
    study_design: str | None = None
    population: Any = None
    labels: Mapping[str, str] = field(default_factory=dict)
    outcome_scale: str = "linear"
    adjusted: Adjustment | None = None
    summary: pd.DataFrame = field(init=False)
    counts: privacy.Suppressed = field(init=False)

    def __post_init__(self) -> None:
        self.threshold = privacy.check_threshold(self.threshold)
        if (self.comparison is None) != (self.group is None):
            raise ValueError("a comparison needs its group column, and a group column its "
                             "comparison")
        if self.adjusted is not None and self.comparison is None:
            raise ValueError("an adjusted comparison needs the comparison it adjusts")
        self.population = Population.of(self.population)
        self.labels = dict(self.labels or {})
        self.study_design = words.design_of(self.study_design,
                                            has_group=self.group is not None)
        if (self.study_design == "one group") != (self.group is None):
            raise ValueError(f"design {self.study_design!r} does not fit "
                             + ("a comparison group" if self.group else "one group"))
        if self.outcome_scale not in ("linear", "log"):
            raise ValueError(f"outcome_scale must be 'linear' or 'log', not "
                             f"{self.outcome_scale!r}")
        c = self.change
        self.summary = describe(self._program_data(), c.pre, c.post, alpha=c.alpha)
        o = self.outcome
        d = self.data
        has_pre = d[c.pre].notna()
        both = has_pre & d[c.post].notna()
        rows = {f"Measured at {o.pre_label} and {o.post_label}": both,
                f"Not measured at {o.post_label}": has_pre & ~both}
        if self.group is None:
            body = pd.Series({k: int(v.sum()) for k, v in rows.items()})
        else:
            g = d[self.group]
            body = pd.DataFrame({
                self.program_name: {k: int((v & (g == 1)).sum()) for k, v in rows.items()},
                self.comparison_label.capitalize(): {k: int((v & (g == 0)).sum())
                                                     for k, v in rows.items()},
            })
        measured = next(iter(rows))
        protect = ([measured] if self.group is None else
                   [(measured, col) for col in body.columns])
        self.counts = privacy.suppress(body, self.threshold, protect=protect)

    def _program_data(self) -> pd.DataFrame:
        if self.group is None:
            return self.data
        return self.data[self.data[self.group] == 1]

    # -- derived facts -----------------------------------------------------------------------
    @property
    def reportable(self) -> bool:
        """Whether enough youth were measured twice to show estimates."""
        if self.comparison is not None:
            return min(self.comparison.n_program, self.comparison.n_comparison) >= self.threshold
        return self.change.n >= self.threshold

    @property
    def attrition_rate(self) -> float:
        """Share of youth enrolled with an intake score and no second score."""
        c = self.change
        has_pre = self.data[c.pre].notna()
        both = has_pre & self.data[c.post].notna()
        return 1 - both.sum() / has_pre.sum() if has_pre.sum() else float("nan")

    @property
    def lost_hidden(self) -> bool:
        """Whether a count of youth lost to follow-up is suppressed (in any group or in all).

        If so, nothing computed from those youth is shown (their share, their intake mean, how
        they differed from those who stayed).
        """
        return bool(self.counts.mask.iloc[1].any()) or bool(self.counts.mask.iloc[-1].any())

    def attrition_words(self) -> str:
        """How many youth were not measured the second time, as the report may say it."""
        if self.lost_hidden:
            return f"fewer than {self.threshold} youth"
        return f"{self.attrition_rate:.0%}"

    def _cells_shown(self, *counts: int) -> bool:
        """Whether a result computed from these cell counts may be shown.

        It may when each count is zero or at least the threshold (a share, a difference of
        shares, a test statistic or an odds ratio computed from a smaller cell would give that
        cell away).
        """
        return all(privacy.is_reportable(int(n), self.threshold) for n in counts)

    def binary_shown(self, m: McNemar | Exception) -> bool:
        """A paired yes/no result is shown only when every cell of its 2×2 table is."""
        if not isinstance(m, McNemar):
            return False
        (a, b), (c, d) = m.table
        return self._cells_shown(a, b, c, d, a + b, c + d, a + c, b + d)

    def binary_group_shown(self, m: ProportionComparison | Exception) -> bool:
        """A program-vs-comparison yes/no result is shown only when every cell is."""
        if not isinstance(m, ProportionComparison):
            return False
        x1 = round(m.prop_program * m.n_program)
        x2 = round(m.prop_comparison * m.n_comparison)
        return self._cells_shown(x1, m.n_program - x1, x2, m.n_comparison - x2)

    def reliable_shown(self) -> dict[str, bool]:
        """Which reliable-change categories' counts (and so shares) may be shown."""
        r = self.reliable
        if r is None:
            return {}
        sup = self._reliable_table()
        return {k: not bool(m) for k, m in zip(sup.counts.index[:-1], sup.mask.iloc[:-1, 0], strict=True)}

    def _reliable_table(self) -> privacy.Suppressed:
        r = self.reliable
        assert r is not None
        counts = pd.Series({k.capitalize(): r.counts[k] for k in CATEGORIES})
        if r.cutoff is None:
            counts = counts.drop("Recovered")
        return privacy.suppress(counts, self.threshold)

    def _improved(self, value: float) -> bool:
        return (value < 0) == self.outcome.lower_is_better

    @property
    def program_name(self) -> str:
        """The program group's column heading: the group column's label, else "Program"."""
        if self.group and self.group in self.labels:
            return words.capitalize(self.labels[self.group])
        return "Program"

    @property
    def randomized(self) -> bool:
        """Whether the groups were formed at random (``design: randomized``)."""
        return self.study_design == "randomized"

    def _people(self) -> str:
        return self.population.plural

    def _amount(self, est: float, lo: float, hi: float, conf: str) -> str:
        """A change's size for a headline, with its interval.

        For example "2.1 points (95% CI ...)" or, on the log scale,
        "about 12% (95% CI 3% to 21%)".
        """
        o = self.outcome
        if self.outcome_scale == "log":
            return words.percent_words(est, lo, hi, self.headline_result().confidence)
        return f"{_num(abs(est))} {o.units} ({conf} CI {_ci(lo, hi)})"

    # -- headline ----------------------------------------------------------------------------
    @spoken
    def headline(self) -> str:
        """One plain-language sentence stating the finding and what it can and cannot show."""
        o = self.outcome
        if not self.reportable:
            return (
                f"Fewer than {self.threshold} youth in a group were measured at both "
                f"{o.pre_label} and {o.post_label}, so results are withheld to protect their "
                "privacy."
            )
        if self.adjusted is not None:
            return self._adjusted_headline()
        if self.comparison is not None:
            return self._comparison_headline()
        c = self.change
        conf = f"{c.confidence:.0%}"
        span = f"{o.pre_label} and {o.post_label}"
        way = words.direction(c.mean_diff, o.lower_is_better, ci_low=c.ci_low,
                              ci_high=c.ci_high)
        pct = (f" ({words.percent_words(c.mean_diff, c.ci_low, c.ci_high, c.confidence)} "
               f"{'lower' if c.mean_diff < 0 else 'higher'})"
               if self.outcome_scale == "log" else "")
        if c.ci_low <= 0 <= c.ci_high:
            what = (
                f"Average {o.label} did not change clearly between {span}: the average change "
                f"was {_num(c.mean_diff)} {o.units} ({conf} CI {_ci(c.ci_low, c.ci_high)})"
                f"{pct}, {way}"
            )
        else:
            verb = "fell" if c.mean_diff < 0 else "rose"
            what = (
                f"Average {o.label} {verb} by "
                f"{self._amount(c.mean_diff, c.ci_low, c.ci_high, conf)} "
                f"between {span}, from {_num(c.mean_pre)} to {_num(c.mean_post)}"
                + (f" ({_num(abs(c.mean_diff))} {o.units}, {conf} CI {_ci(c.ci_low, c.ci_high)})"
                   if self.outcome_scale == "log" else "")
                + f", {way}"
            )
        return (
            f"{what}, among the {c.n:,} youth measured both times. Without a comparison group "
            "this change cannot be attributed to the program."
        )

    def _comparison_headline(self) -> str:
        k, o = self.comparison, self.outcome
        assert k is not None
        conf = f"{k.confidence:.0%}"
        way = words.direction(k.estimate, o.lower_is_better, ci_low=k.ci_low,
                              ci_high=k.ci_high)
        others = (f"youth assigned at random to the {self.comparison_label}" if self.randomized
                  else f"comparable youth in the {self.comparison_label}")
        if k.ci_low <= 0 <= k.ci_high:
            pct = (f"; {words.percent_words(k.estimate, k.ci_low, k.ci_high, k.confidence)} "
                   f"{'lower' if k.estimate < 0 else 'higher'}"
                   if self.outcome_scale == "log" else "")
            what = (
                f"At {o.post_label}, youth in the program and youth in the "
                f"{self.comparison_label} had similar {o.label}s once intake scores are taken "
                f"into account: the difference was {_num(k.estimate)} {o.units} ({conf} CI "
                f"{_ci(k.ci_low, k.ci_high)}{pct}), too uncertain to show an effect either way: "
                f"{way}."
            )
        else:
            direction = "lower" if k.estimate < 0 else "higher"
            if self.outcome_scale == "log":
                pct, ci = words.percent_parts(k.estimate, k.ci_low, k.ci_high, k.confidence)
                size = (f"about {pct} {direction} than {others} ({ci}; {_num(k.estimate)} "
                        f"{o.units})")
            else:
                size = (f"{_num(abs(k.estimate))} {o.units} {direction} than {others} "
                        f"({conf} CI {_ci(k.ci_low, k.ci_high)})")
            what = (
                f"At {o.post_label}, youth in the program had a {o.label} {size}, adjusting "
                f"for intake scores: {way}."
            )
        if self.randomized:
            return (f"{what} Because youth were assigned at random, the difference can be "
                    "attributed to the program, as far as the youth lost after assignment left "
                    "the groups alike (see Checks).")
        return (
            f"{what} The comparison supports a program effect only as far as the two groups "
            "were alike at intake and lost similar shares of youth (see Checks)."
        )

    def _adjusted_headline(self) -> str:
        a, o = self.adjusted, self.outcome
        assert a is not None
        e = a.effect
        conf = f"{1 - e.alpha:.0%}"
        way = words.direction(e.estimate, o.lower_is_better, ci_low=e.ci_low,
                              ci_high=e.ci_high)
        done = "weighting" if a.method == "weighting" else "matching"
        covs = join_names([words.label(c, self.labels) for c in a.covariates])
        if e.ci_low <= 0 <= e.ci_high:
            what = (f"At {o.post_label}, youth in the program and comparable youth in the "
                    f"{self.comparison_label} had similar {o.label}s once the groups are made "
                    f"alike by {done}: the difference was {_num(e.estimate)} {o.units} ({conf} "
                    f"CI {_ci(e.ci_low, e.ci_high)}), too uncertain to show an effect either "
                    f"way: {way}.")
        else:
            direction = "lower" if e.estimate < 0 else "higher"
            what = (f"At {o.post_label}, youth in the program had a {o.label} "
                    f"{_num(abs(e.estimate))} {o.units} {direction} than comparable youth in "
                    f"the {self.comparison_label} ({conf} CI {_ci(e.ci_low, e.ci_high)}), "
                    f"after {done} on {covs}: {way}.")
        return (f"{what} The comparison supports a program effect only as far as the groups "
                "were alike once adjusted and no characteristic left out made them differ "
                "(see Checks).")

    # -- sections ----------------------------------------------------------------------------
    def glance_items(self) -> dict[str, str]:
        """Key facts of *At a glance*.

        They are the design, the effect or change with its interval, the effect size and how
        many youth were analysed (only when results may be shown).

        Returns
        -------
        dict
            Label → value.
        """
        c, k, o = self.change, self.comparison, self.outcome
        items: dict[str, str] = {"Design": self.design()["label"]}
        a = self.adjusted
        if self.reportable and a is not None:
            e = a.effect
            conf = f"{1 - e.alpha:.0%}"
            items["Program effect"] = (f"{_num(e.estimate)} {o.units} ({conf} CI "
                                       f"{_ci(e.ci_low, e.ci_high)}), adjusted by "
                                       + ("weighting" if a.method == "weighting" else "matching")
                                       + ("" if a.imputation is None else
                                          ", missing characteristics imputed "
                                          f"{a.imputation.m} times"))
            items["Unadjusted difference"] = (
                f"{_num(a.unadjusted.estimate)} {o.units} ({conf} CI "
                f"{_ci(a.unadjusted.ci_low, a.unadjusted.ci_high)})")
            items["Effect size"] = (f"Hedges' g = {_num(a.g, 2)} ({conf} CI "
                                    f"{_ci(a.g_ci_low, a.g_ci_high, 2)}); improvement index "
                                    f"{_num(a.improvement_index, 0)}")
            items["Youth analysed"] = (f"{e.n_treated:,} program, {e.n_control:,} "
                                       f"{self.comparison_label}")
        elif self.reportable and k is not None:
            conf = f"{k.confidence:.0%}"
            items["Program effect"] = (
                f"{_num(k.estimate)} {o.units} ({conf} CI {_ci(k.ci_low, k.ci_high)})")
            items["Effect size"] = (f"Hedges' g = {_num(k.g, 2)} ({conf} CI "
                                    f"{_ci(k.g_ci_low, k.g_ci_high, 2)}); improvement index "
                                    f"{_num(k.improvement_index, 0)}")
            items["Youth analysed"] = (f"{k.n_program:,} program, {k.n_comparison:,} "
                                       f"{self.comparison_label}")
        elif self.reportable:
            conf = f"{c.confidence:.0%}"
            items["Average change"] = (
                f"{_num(c.mean_diff)} {o.units} ({conf} CI {_ci(c.ci_low, c.ci_high)})")
            items["Effect size"] = (f"Hedges' g = {_num(c.g_av, 2)} ({conf} CI "
                                    f"{_ci(c.g_av_ci_low, c.g_av_ci_high, 2)})")
            items["Youth measured twice"] = (f"{c.n:,} ({self.attrition_words()} not "
                                             f"measured at {o.post_label})")
        return items

    def default_question(self) -> str:
        """The question the report answers by default, naming the report's population.

        It is the question of a comparison (a better outcome than similar youth?) or of one
        group (how did the outcome change?).

        Returns
        -------
        str
            The question.
        """
        o = self.outcome
        if self.comparison is not None:
            q = (f"Did youth in the program end up with a better {o.label} at {o.post_label} "
                 f"than similar youth in the {self.comparison_label}?")
        else:
            q = (f"How did the {o.label} of youth in the program change between {o.pre_label} "
                 f"and {o.post_label}?")
        return words.speak(q, self.population)

    @spoken
    def data_section(self) -> Block:
        """'The data': who was enrolled, how many were measured twice, what was suppressed."""
        o = self.outcome
        shown = self.counts.display(percent_of="column")
        if self.group is None:
            shown.columns = ["Youth"]
        article = "an" if o.pre_label[:1].lower() in "aeiou" else "a"
        total_label = f"Enrolled with {article} {o.pre_label} score"
        shown = shown.rename(index={"Total": total_label})
        note = None
        if self.counts.n_suppressed:
            note = (
                f"Counts below {self.threshold} are shown as 'suppressed', together with any "
                "count from which they could be worked out, to protect the youth's privacy."
            )
        text = paragraphs(
            f"The analysis uses every youth with {article} {o.pre_label} score and a score at "
            f"{o.post_label}. Youth without a second score cannot contribute to the estimates; "
            "the Checks section compares them with those who stayed.",
        )
        return Block(
            text + table(shown, caption="Youth in the evaluation", total_rows=(total_label,),
                         note=note),
            text="The data",
        )

    @spoken
    def method_section(self) -> Block:
        """'How it was evaluated', in plain words."""
        c, o = self.change, self.outcome
        conf = f"{c.confidence:.0%}"
        parts = []
        if self.comparison is not None:
            covs = [words.label(t, self.labels) for t in self.comparison.terms["term"][3:]]
            formed = ("Youth were assigned at random to the program or to the "
                      f"{self.comparison_label}, and the two groups were compared."
                      if self.randomized else
                      f"Youth in the program were compared with youth in the "
                      f"{self.comparison_label}, who were not assigned at random.")
            parts.append(
                f"{formed} The "
                + ("program effect" if self.adjusted is None else
                   "intake-adjusted comparison, shown beside the headline,")
                + f" is the difference in {o.label} at "
                f"{o.post_label} between the groups after adjusting for each youth's "
                f"{o.pre_label} score"
                + (f" and {', '.join(covs)}" if covs else "")
                + f" (analysis of covariance), with a {conf} confidence "
                "interval from standard errors that do not assume equal spread in the groups"
                + (" and allow for youth in the same cluster being alike" if
                   self.comparison.n_clusters else "") + ". The effect size is Hedges' g as the "
                "What Works Clearinghouse computes it, and the improvement index says how many "
                "percentile points the average youth in the comparison group would gain with the "
                "program."
            )
        if self.adjusted is not None:
            a = self.adjusted
            how = ("propensity-score weighting" if a.method == "weighting" else
                   "nearest-neighbour matching on the propensity score")
            parts.append(
                "Because the groups were not formed at random and differed at intake, the "
                f"headline effect adjusts for {len(a.covariates)} characteristics recorded at "
                f"intake ({', '.join(words.label(c, self.labels) for c in a.covariates)}) by "
                f"{how}, estimated for {estimand_words(a.estimand)}, followed by a weighted "
                "regression on the same characteristics (a doubly robust estimate). "
                + ("Youth missing any of them are left out (complete cases)."
                   if a.imputation is None else
                   f"Characteristics missing for some youth are filled in {a.imputation.m} "
                   "times by multiple imputation; the estimates of the completed data sets "
                   "are pooled by Rubin's rules, and the complete-case estimate is shown "
                   "beside them."))
        parts.append(
            f"Each youth's {o.label} {words.agree(o.label, 'was')} measured at {o.pre_label} "
            f"and again at {o.post_label}. "
            f"The average change per youth ({o.post_label} minus {o.pre_label}) comes with a "
            f"{conf} confidence interval from a paired t-test, and a standardized effect size "
            "(Hedges' g, the change divided by the typical spread of scores)."
        )
        if self.signed is not None:
            parts.append("A Wilcoxon signed-rank test repeats the change analysis without "
                         "assuming the changes follow a bell curve.")
        if self.reliable is not None:
            parts.append(
                f"Reliable change (Jacobson & Truax) sorts youth by whether their own change "
                f"is larger than measurement error alone would produce: at least "
                f"{_num(self.reliable.threshold)} {o.units} on this measure.")
        if self.binary:
            parts.append("Yes/no outcomes measured at both times are compared with McNemar's "
                         "test, with a Newcombe confidence interval for the change in the "
                         "share of youth.")
        parts.append(
            "Assumptions: the youth measured twice are representative of everyone enrolled, "
            "and the measure means the same thing at both times"
            + ("; the groups would have ended alike had there been no program, given their "
               "intake scores." if self.comparison is not None else ".")
        )
        return Block(paragraphs(*parts), text="How it was evaluated")

    @spoken
    def findings(self) -> Block:
        """'Findings': tables of the estimates and the standard figures."""
        if not self.reportable:
            return Block(paragraphs(self.headline()), text=self.headline())
        html = ""
        if self.adjusted is not None:
            o = self.outcome
            html += effect_section(self.adjusted, outcome_label=o.label, units=o.units,
                                   post_label=o.post_label,
                                   comparison_label=self.comparison_label, labels=self.labels,
                                   threshold=self.threshold)
        if self.comparison is not None:
            html += self._comparison_findings()
        html += self._change_findings()
        if self.reliable is not None:
            html += self._reliable_findings()
        if self.binary:
            html += self._binary_findings()
        if self.binary_groups:
            html += self._binary_group_findings()
        return Block(html, text="Findings")

    def _binary_group_findings(self) -> str:
        o = self.outcome
        rows = {}
        conf = f"{self.change.confidence:.0%}"
        for label, m in self.binary_groups.items():
            if isinstance(m, Exception):
                rows[label.capitalize()] = ["not estimated"] * 4
                continue
            if not self.binary_group_shown(m):
                rows[label.capitalize()] = [privacy.SUPPRESSED] * 4
                continue
            rows[label.capitalize()] = [
                f"{m.prop_program:.0%}", f"{m.prop_comparison:.0%}",
                f"{_num(100 * m.diff)} ({_ci(100 * m.diff_ci_low, 100 * m.diff_ci_high)})",
                f"{_num(m.cox_index, 2)} ({_ci(m.cox_ci_low, m.cox_ci_high, 2)})",
            ]
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=[
            self.program_name, self.comparison_label.capitalize(),
            f"Difference, percentage points ({conf} CI)", f"Cox index ({conf} CI)"])
        return table(frame, caption=f"Yes/no outcomes at {o.post_label}: program vs "
                     f"{self.comparison_label}", total_rows=(),
                     note="Newcombe interval for the difference of independent proportions; "
                          "the Cox index (log odds ratio / 1.65) is on the scale of Hedges' g, "
                          "as the What Works Clearinghouse reports binary outcomes. A row is "
                          f"suppressed when any of its four counts is below {self.threshold}.")

    def _comparison_findings(self) -> str:
        k, o = self.comparison, self.outcome
        assert k is not None and self.group is not None
        conf = f"{k.confidence:.0%}"
        rows = pd.DataFrame(
            {"Estimate": [_num(k.estimate), _num(k.change_diff), _num(k.g, 2),
                          _num(k.improvement_index, 0)],
             f"{conf} CI": [_ci(k.ci_low, k.ci_high), _ci(k.change_diff_ci_low,
                                                           k.change_diff_ci_high),
                            _ci(k.g_ci_low, k.g_ci_high, 2), ""]},
            index=[f"Program effect at {o.post_label}, adjusted for {o.pre_label} ({o.units})",
                   f"Difference in average change ({o.units})",
                   "Effect size (Hedges' g, WWC)",
                   "Improvement index (percentile points)"],
        )
        tab = table(rows, caption=f"Program vs {self.comparison_label}: {o.label}"
                    + ("" if self.adjusted is None else
                       f", adjusted for the {o.pre_label} score only"),
                    total_rows=(),
                    note=f"{k.vcov} standard errors, t = {k.t:.2f} with {k.df:g} degrees of "
                         f"freedom, {_p(k.p_value)}.")
        summ = describe_groups(self.data, self.change.pre, self.change.post, self.group,
                               alpha=k.alpha)
        fig = groups_figure(summ, outcome_label=o.label.capitalize(), pre_label=o.pre_label,
                            post_label=o.post_label, program_label=self.program_name,
                            comparison_label=self.comparison_label.capitalize(),
                            confidence=k.confidence, population=self.population)
        alt = (f"Average {o.label} by group. Program youth: {_num(k.mean_pre_program)} at "
               f"{o.pre_label}, {_num(k.mean_post_program)} at {o.post_label}. "
               f"{self.comparison_label.capitalize()}: {_num(k.mean_pre_comparison)} and "
               f"{_num(k.mean_post_comparison)}. {conf} confidence intervals shown.")
        return tab + figure_block(fig, alt=alt, caption=(
            f"Average {o.label} of each group at both times (youth measured both times).")).html

    def _change_findings(self) -> str:
        c, o = self.change, self.outcome
        conf = f"{c.confidence:.0%}"
        who = "Program youth measured both times" if self.comparison else "Youth measured both times"
        rows = pd.DataFrame(
            {"Estimate": [_num(c.mean_pre), _num(c.mean_post), _num(c.mean_diff),
                          _num(c.g_av, 2)],
             f"{conf} CI": ["", "", _ci(c.ci_low, c.ci_high),
                            _ci(c.g_av_ci_low, c.g_av_ci_high, 2)]},
            index=[f"Average score at {o.pre_label}", f"Average score at {o.post_label}",
                   f"Average change ({o.units})", "Effect size (Hedges' g_av)"],
        )
        note = f"Paired t-test: t = {c.t:.2f}, {c.df} degrees of freedom, {_p(c.p_value)}."
        if self.signed is not None:
            s = self.signed
            s_conf = f"{100 * s.confidence:.4g}%"
            s_ci = (f"{s_conf} CI {_ci(s.ci_low, s.ci_high)}"
                    if np.isfinite(s.ci_low) and np.isfinite(s.ci_high) else
                    "no confidence interval can be formed from so few changes")
            note += (f" Signed-rank test (robustness): {_p(s.p_value)}; median-type change "
                     f"{_num(s.estimate)} ({s_ci}).")
        tab = table(rows, caption=f"{o.label.capitalize()}: {who.lower()} (n = {c.n:,})",
                    total_rows=(), note=note)
        d = self._program_data()
        both = d[c.pre].notna() & d[c.post].notna()
        diffs = (d.loc[both, c.post] - d.loc[both, c.pre]).to_numpy(dtype=float)
        fig = prepost_figure(
            self.summary, diffs, mean_change=c.mean_diff, ci_low=c.ci_low, ci_high=c.ci_high,
            outcome_label=o.label.capitalize(), pre_label=o.pre_label,
            post_label=o.post_label, lower_is_better=o.lower_is_better,
            confidence=c.confidence, population=self.population,
        )
        better = "lower" if o.lower_is_better else "higher"
        alt = (
            f"Left: average {o.label} at {o.pre_label} was {_num(c.mean_pre)} and at "
            f"{o.post_label} {_num(c.mean_post)} among youth measured both times, with "
            f"{conf} confidence intervals. Right: the middle half of youth changed by between "
            f"{_num(np.percentile(diffs, 25))} and {_num(np.percentile(diffs, 75))} {o.units}; "
            f"the average change was {_num(c.mean_diff)} ({conf} CI "
            f"{_ci(c.ci_low, c.ci_high)}). {better.capitalize()} scores are better."
        )
        return tab + figure_block(fig, alt=alt, caption=(
            f"Average {o.label} at both times, and the spread of individual change "
            f"(percentiles only, no individual scores). {better.capitalize()} is better.")).html

    def _reliable_findings(self) -> str:
        r, o = self.reliable, self.outcome
        assert r is not None
        sup = self._reliable_table()
        shown = sup.display(percent_of="column")
        shown.columns = ["Youth"]
        shown = shown.rename(index={"Total": "Measured both times"})
        cut = ("" if r.cutoff is None else
               f" 'Recovered' youth also moved past {_num(r.cutoff)} {o.units}, the score "
               f"separating the clinical from the typical range (criterion {r.criterion}).")
        tab = table(shown, caption="Reliable change", total_rows=("Measured both times",),
                    note=(f"Reliable change is a change of at least {_num(r.threshold)} "
                          f"{o.units} (reliability {r.reliability:g}).{cut}"))
        vals = sup.values().iloc[:-1, 0]
        total = float(sup.counts.iloc[-1, 0])
        shares = {k: (None if pd.isna(v) else float(v) / total) for k, v in vals.items()}
        nonzero = [k for k, v in vals.items() if pd.isna(v) or v > 0]
        if all(shares[k] is None for k in nonzero):
            return tab + paragraphs(
                "No chart of the reliable-change categories is shown: every category with "
                f"youth in it has fewer than {self.threshold}, or would reveal one that does.")
        fig = categories_figure(shares, title=words.speak("Reliable change per youth",
                                                          self.population),
                                population=self.population)
        shown_txt = ", ".join(f"{k.lower()} {v:.0%}" for k, v in shares.items() if v is not None)
        alt = f"Stacked bar of youth by reliable change category: {shown_txt}."
        return tab + figure_block(fig, alt=alt, caption="Share of youth in each reliable "
                                  "change category (small groups suppressed).").html

    def _binary_findings(self) -> str:
        o = self.outcome
        rows = {}
        conf = f"{self.change.confidence:.0%}"
        for label, m in self.binary.items():
            if isinstance(m, Exception):
                rows[label.capitalize()] = ["not estimated"] * 4
                continue
            if not self.binary_shown(m):
                rows[label.capitalize()] = [privacy.SUPPRESSED] * 4
                continue
            rows[label.capitalize()] = [
                f"{m.prop_pre:.0%}", f"{m.prop_post:.0%}",
                f"{_num(100 * m.diff)} ({_ci(100 * m.diff_ci_low, 100 * m.diff_ci_high)})",
                _p(m.p_value),
            ]
        frame = pd.DataFrame.from_dict(
            rows, orient="index",
            columns=[o.pre_label.capitalize(), o.post_label.capitalize(),
                     f"Change, percentage points ({conf} CI)", "McNemar test"])
        return table(frame, caption="Yes/no outcomes (youth measured both times)",
                     total_rows=(), note="Change in the share of youth; Newcombe confidence "
                     "interval for paired proportions. A row is suppressed when any count of "
                     f"its before-and-after table is below {self.threshold}.")

    @spoken
    def checks(self) -> Block:
        """'Checks': attrition (WWC boundary), who was lost, baseline equivalence.

        Nothing computed from youth in a suppressed cell is shown: when the number lost to
        follow-up is suppressed, their share, their intake average and how they differed from
        those who stayed are not given; when results are withheld, neither is the baseline
        comparison.
        """
        o, a = self.outcome, self.attrition
        parts: list[str] = []
        s = self.summary.set_index("sample")
        all_pre, comp = s.loc["all_pre"], s.loc["complete_pre"]
        who = "program youth" if self.comparison else "youth"
        if self.lost_hidden:
            where = (f"In at least one group, fewer than {self.threshold} youth"
                     if self.comparison is not None else f"Fewer than {self.threshold} youth")
            parts.append(paragraphs(
                f"{where} had no {o.post_label} score. That is too few to describe them, or "
                "to compare them with those who stayed, without putting their privacy at "
                "risk, so the report does not."))
        elif all_pre["n"] == comp["n"]:
            parts.append(paragraphs(f"All {who} enrolled were measured at {o.post_label}."))
        else:
            lost = privacy.format_count(int(all_pre["n"] - comp["n"]), self.threshold)
            text = (
                f"{self.attrition_rate:.0%} of {who} had no {o.post_label} score (lost to "
                f"follow-up: {lost}). At {o.pre_label}, the average {o.label} of those "
                f"measured twice was {_num(comp['mean'])}, against {_num(all_pre['mean'])} for "
                "everyone enrolled. "
            )
            if a is not None and not np.isnan(a.pre_g):
                text += (f"Those who stayed and those lost differed by g = {_num(a.pre_g, 2)} "
                         f"at {o.pre_label}. ")
            gap = comp["mean"] - all_pre["mean"]
            if abs(gap) > 0.1 * all_pre["sd"]:
                text += ("Those who stayed were not typical of everyone enrolled, so the "
                         "results may not describe the whole group.")
            else:
                text += "Those who stayed started out much like everyone enrolled."
            parts.append(paragraphs(text))
        if a is not None and a.low is not None:
            verdict = "low" if a.low else "high"
            if self.lost_hidden:
                parts.append(paragraphs(
                    f"Attrition was {verdict} under the What Works Clearinghouse {a.boundary} "
                    "boundary. The rates themselves are not shown, because a group lost fewer "
                    f"than {self.threshold} youth."))
            else:
                parts.append(paragraphs(
                    f"Attrition was {a.overall:.0%} overall with a difference of "
                    f"{100 * a.differential:.1f} percentage points between the groups: "
                    f"{verdict} attrition under the What Works Clearinghouse {a.boundary} "
                    f"boundary (up to {a.max_differential:g} points of differential attrition "
                    "is low at this overall rate)." if not np.isnan(a.max_differential) else
                    f"Attrition was {a.overall:.0%} overall: too high for any difference "
                    "between the groups to count as low attrition under the What Works "
                    "Clearinghouse boundary."))
                fig = attrition_figure(wwc_boundary(), overall=a.overall,
                                       differential=a.differential, boundary=a.boundary)
                parts.append(figure_block(fig, alt=(
                    f"Chart of the WWC attrition boundaries: this evaluation's "
                    f"{a.overall:.0%} overall and {100 * a.differential:.1f} points "
                    f"differential attrition is {'inside' if a.low else 'outside'} the "
                    f"low-attrition region of the {a.boundary} boundary."),
                    caption="WWC attrition standard").html)
        k = self.comparison
        if self.adjusted is not None and self.reportable:
            parts.append(balance_section(
                self.adjusted, threshold=self.threshold, labels=self.labels,
                program_label=self.program_name, comparison_label=self.comparison_label))
        elif k is not None and self.reportable:
            frame = pd.DataFrame(
                {self.program_name: [_num(k.mean_pre_program)],
                 self.comparison_label.capitalize(): [_num(k.mean_pre_comparison)],
                 "Hedges' g": [_num(k.baseline_g, 2)],
                 "Baseline equivalence": [k.baseline_status]},
                index=[f"Average {o.label} at {o.pre_label}"])
            parts.append(table(frame, caption="Were the groups alike at intake?", total_rows=(),
                               note="What Works Clearinghouse: |g| up to 0.05 satisfies "
                               "baseline equivalence; 0.05 to 0.25 only with adjustment for "
                               "the intake score (done here); above 0.25 it is not satisfied."))
        elif k is not None:
            parts.append(paragraphs(
                f"Whether the groups were alike at intake is not shown: a group had fewer "
                f"than {self.threshold} youth measured twice."))
        parts.append(cautions_html(self.cautions()))
        return Block("".join(parts), text="Checks")

    def headline_result(self) -> Any:
        """The result behind the headline.

        It is the adjusted effect with an ``adjust`` block, else the comparison when there is
        one, else the change.
        """
        if self.adjusted is not None:
            return self.adjusted.effect
        return self.comparison if self.comparison is not None else self.change

    @spoken
    def cautions(self) -> tuple[str, ...]:
        """Every result's cautions, headline first, with small counts of youth redacted.

        None when results are withheld: an estimator's caution would describe the group too
        small to report (its missing values, its cells).
        """
        if not self.reportable:
            return ()
        return collect_cautions(
            [self.headline_result(),
             self.comparison if self.adjusted is not None else None,
             self.change, self.signed, self.reliable, self.attrition,
             *self.binary_groups.values(), *self.binary.values()], threshold=self.threshold,
            people=self.population.words(),
            rename={f"'{k}'": f"'{v}'" for k, v in self.labels.items()})

    @spoken
    def limitation_list(self) -> list[str]:
        """The limitations as sentences (also written to results.json)."""
        o = self.outcome
        if self.comparison is None:
            items = [
                "A single group measured twice cannot show that the program caused the change: "
                "youth may have improved with time, other services, or regression to the mean "
                "(unusually high scores at intake tend to fall on re-measurement).",
            ]
        else:
            items = [
                f"Youth were assigned to the program or the {self.comparison_label} at random, "
                "so the groups differed at intake only by chance; youth lost after assignment "
                "can still make them differ." if self.randomized else
                f"Youth were compared with a {self.comparison_label}, not assigned at random "
                "by the evaluation: differences the intake score does not capture may remain."
                if self.adjusted is None else
                f"Program youth were compared with youth in the {self.comparison_label}, who "
                "were not assigned at random by the evaluation: the adjustment makes the "
                "groups alike only on the "
                "characteristics it uses; differences in anything else may remain.",
            ]
        items += [
            f"Youth without a {o.post_label} score are left out; if they differed from those "
            "who stayed, the results do not describe everyone enrolled.",
            "Scores are self- or staff-reported; a change in how the measure was given "
            "between the two times would show up as change.",
        ]
        if self.attrition_rate > 0.2 and not self.lost_hidden:
            items.insert(1, f"{self.attrition_rate:.0%} of youth were not measured at "
                         f"{o.post_label}: high attrition weakens any conclusion.")
        return items + [str(c) for c in limiting(self.cautions())]

    def design(self) -> dict[str, str]:
        """Design code and label (results.json ``design``)."""
        if self.comparison is not None and self.randomized:
            return {"code": "randomized_prepost",
                    "label": f"Program group vs {self.comparison_label}, assigned at random, "
                             "measured before and after"}
        if self.comparison is not None:
            return {"code": "comparison_group_prepost",
                    "label": f"Program group vs {self.comparison_label}, measured before and "
                             "after"}
        return {"code": "one_group_prepost",
                "label": "One group measured twice (pre-post), no comparison group"}

    @spoken
    def evidence(self) -> dict[str, Any]:
        """Evidence rating and its reasons (see :mod:`evalkit.report.evidence`).

        When results are withheld for privacy, no design check computed from the data is
        quoted (a baseline difference would describe the group too small to report).
        """
        if not self.reportable:
            return withheld_rating(self.threshold)
        checks: dict[str, Any] = {
            "attrition": None if self.lost_hidden else self.attrition_rate,
            "arms": f"the program or the {self.comparison_label}"}
        if self.comparison is not None:
            checks["baseline_status"] = self.comparison.baseline_status
            checks["baseline_g"] = self.comparison.baseline_g
        if self.adjusted is not None:
            rows = balance_rows(self.adjusted, self.labels)
            checks["balance"] = dict(zip(rows["covariate"], rows["smd_adjusted"], strict=True))
            checks["balance_method"] = self.adjusted.method
        if self.attrition is not None and self.attrition.low is not None:
            checks["low_attrition"] = self.attrition.low
            checks["attrition_boundary"] = self.attrition.boundary
        head = collect_cautions([self.headline_result()], threshold=self.threshold,
                                people=self.population.words())
        return rate(self.design()["code"], checks, head)

    @spoken
    def results_document(self) -> dict[str, Any]:
        """The method part of ``results.json`` (see :mod:`evalkit.report.resultsdoc`)."""
        c, k, o = self.change, self.comparison, self.outcome
        shown = self.reportable
        sample, hidden = self._sample_counts()

        def val(x: float) -> float | None:
            return float(x) if shown else None

        if k is not None:
            headline: dict[str, Any] = {
                "estimand": f"program effect on {o.label} at {o.post_label}, adjusted for "
                            f"{o.pre_label} (program − {self.comparison_label})",
                "estimate": val(k.estimate), "ci_low": val(k.ci_low), "ci_high": val(k.ci_high),
                "alpha": k.alpha, "p_value": val(k.p_value),
                "n": (k.n_program + k.n_comparison) if shown else None, "units": o.units,
                "n_unit": self.population.plural,
                "effect_size": {"name": "hedges_g_wwc", "estimate": val(k.g),
                                "ci_low": val(k.g_ci_low), "ci_high": val(k.g_ci_high)},
                "improvement_index": val(k.improvement_index),
                "suppressed": not shown, "digits": 1, "scale": self.outcome_scale,
            }
        else:
            headline = {
                "estimand": f"mean change in {o.label}, {o.post_label} − {o.pre_label}",
                "estimate": val(c.mean_diff), "ci_low": val(c.ci_low), "ci_high": val(c.ci_high),
                "alpha": c.alpha, "p_value": val(c.p_value), "n": c.n if shown else None,
                "units": o.units, "n_unit": self.population.plural,
                "effect_size": {"name": "hedges_g_av", "estimate": val(c.g_av),
                                "ci_low": val(c.g_av_ci_low), "ci_high": val(c.g_av_ci_high)},
                "suppressed": not shown, "digits": 1, "scale": self.outcome_scale,
            }
        adj = self.adjusted
        if adj is not None:
            e = adj.effect
            done = "weighting" if adj.method == "weighting" else "matching"
            headline = {
                "estimand": f"program effect on {o.label} at {o.post_label}, adjusted by "
                            f"{done} ({adj.estimand}) and regression for "
                            f"{', '.join(adj.covariates)} (program − {self.comparison_label})",
                "estimate": val(e.estimate), "ci_low": val(e.ci_low), "ci_high": val(e.ci_high),
                "alpha": e.alpha, "p_value": val(e.p_value),
                "n": e.n if shown else None, "units": o.units,
                "n_unit": self.population.plural,
                "effect_size": {"name": "hedges_g_wwc", "estimate": val(adj.g),
                                "ci_low": val(adj.g_ci_low), "ci_high": val(adj.g_ci_high)},
                "improvement_index": val(adj.improvement_index),
                "suppressed": not shown, "digits": 1, "scale": self.outcome_scale,
            }
        if self.outcome_scale == "log" and shown:
            headline["percent_change"] = {
                key: words.percent_change(headline[key])
                for key in ("estimate", "ci_low", "ci_high")}
        estimates: list[dict[str, Any]] = []
        if shown:
            if adj is not None:
                cc = None if adj.imputation is None else adj.imputation.complete_case
                for label, fit in ((f"program effect adjusted by {done}", adj.effect),
                                   (f"program effect adjusted by {done}, complete cases", cc),
                                   ("program difference, unadjusted", adj.unadjusted)):
                    if fit is None:
                        continue
                    for row in fit.to_frame().to_dict("records"):
                        estimates.append({**row, "term": f"{label}: {row['term']}"})
            for res in (k, c, self.signed):
                if res is not None:
                    estimates += shown_frame(res).to_dict("records")
            for label, m in self.binary_groups.items():
                if isinstance(m, ProportionComparison) and self.binary_group_shown(m):
                    for row in m.to_frame().to_dict("records"):
                        estimates.append({**row, "term": f"{label} (program vs comparison): "
                                                          f"{row['term']}"})
                elif not isinstance(m, Exception):
                    hidden.append(f"{label} (program vs comparison)")
            for label, mc in self.binary.items():
                if self.binary_shown(mc):
                    for row in shown_frame(mc).to_dict("records"):
                        estimates.append({**row, "term": f"{label}: {row['term']}"})
                elif not isinstance(mc, Exception):
                    hidden.append(f"{label} (change)")
            if self.reliable is not None:
                estimates += self._reliable_rows(hidden)
        checks: dict[str, Any] = {}
        if self.attrition is not None:
            a = self.attrition
            hide = self.lost_hidden
            checks["attrition"] = {"overall": None if hide else a.overall,
                                   "differential": None if hide else a.differential,
                                   "boundary": a.boundary, "low": a.low,
                                   "completers_vs_lost_g": None if hide else a.pre_g}
            if hide:
                hidden.append("attrition rates (a group lost fewer youth than the threshold)")
        if k is not None and shown:
            checks["baseline_equivalence"] = {"g": k.baseline_g, "status": k.baseline_status}
        if adj is not None and shown:
            checks["covariate_balance"] = covariate_balance(adj, threshold=self.threshold)
        doc = resultsdoc.build(
            design=self.design(),
            outcome={"name": c.post, "label": o.label, "units": o.units,
                     "lower_is_better": o.lower_is_better},
            headline=headline,
            estimates=estimates,
            sample=sample,
            suppressed=hidden,
            finding=self.headline(),
            evidence=self.evidence(),
            limitations=self.limitation_list(),
            cautions=self.cautions(),
        )
        doc["checks"] = jsonable(checks)
        return doc

    def _reliable_rows(self, hidden: list[str]) -> list[dict[str, Any]]:
        """Reliable change's tidy rows with the shares of suppressed categories left out."""
        r = self.reliable
        assert r is not None
        ok = {k.lower(): v for k, v in self.reliable_shown().items()}
        rows = []
        for row in r.to_frame().to_dict("records"):
            term = str(row["term"])
            if term.startswith("share "):
                cat = term.removeprefix("share ")
                if not ok.get(cat, False):
                    hidden.append(f"reliable change: {term}")
                    continue
            rows.append(row)
        return rows

    def appendix_results(self) -> list[Any]:
        """What the technical appendix may show: only what the body may.

        No estimate computed from a group or cell below the threshold is included (see
        :meth:`results_document`).

        Returns
        -------
        list
            Results and ``(title, frame)`` pairs for
            :meth:`~evalkit.report.base.Report.appendix`.
        """
        items: list[Any] = []
        if self.reportable:
            if self.adjusted is not None:
                imp = self.adjusted.imputation
                items += [self.adjusted.effect, *(
                    () if imp is None or imp.complete_case is None else
                    (("Program effect, weighted, complete cases only",
                      shown_frame(imp.complete_case)),))]
                items += [("Covariate balance", self.adjusted.balance[
                              ["covariate", "smd_raw", "smd_adjusted", "variance_ratio"]])]
            items += [r for r in (self.comparison, self.change, self.signed) if r is not None]
            if self.reliable is not None:
                items.append((self.reliable._title,
                              pd.DataFrame(self._reliable_rows([]))))
            if self.attrition is not None and not self.lost_hidden:
                items.append(self.attrition)
            items += [m for m in self.binary.values() if self.binary_shown(m)]
            items += [m for m in self.binary_groups.values() if self.binary_group_shown(m)]
        return items

    def _sample_counts(self) -> tuple[dict[str, int | None], list[str]]:
        counts, mask = self.counts.counts, self.counts.mask
        names = ["measured_twice", "lost_to_follow_up", "enrolled"]
        cols = [(None, counts.columns[0])] if self.group is None else [
            ("program", counts.columns[0]), ("comparison", counts.columns[1]),
            (None, counts.columns[-1])]
        sample: dict[str, int | None] = {}
        hidden: list[str] = []
        for prefix, col in cols:
            for name, row in zip(names, counts.index, strict=True):
                key = name if prefix is None else f"{prefix}_{name}"
                if mask.loc[row, col]:
                    sample[key] = None
                    hidden.append(key)
                else:
                    sample[key] = int(counts.loc[row, col])
        return sample, hidden


def refused_comparison_report(refusal: DesignRefused, outcome: Outcome, *,
                              comparison_label: str = "comparison group",
                              cluster_label: str = "site") -> RefusedReport:
    """The report of a comparison-group evaluation whose estimator refused the design.

    The program ran at too few sites for its effect to be told apart from the sites'. The
    report says why there is no estimate, and which design fits instead. No count or score of
    the youth is shown.
    """
    return RefusedReport(
        refusal,
        design={"code": "comparison_group_prepost",
                "label": f"Program group vs {comparison_label}, measured before and after"},
        outcome={"name": outcome.label, "label": outcome.label, "units": outcome.units,
                 "lower_is_better": outcome.lower_is_better},
        estimand=(f"program effect on {outcome.label} at {outcome.post_label}, adjusted for "
                  f"{outcome.pre_label} (program − {comparison_label})"),
        method=(f"The evaluation set out to compare youth in the program with youth in the "
                f"{comparison_label} at {outcome.post_label}, adjusting for their "
                f"{outcome.pre_label} scores (analysis of covariance), with standard errors "
                f"that allow for youth in the same {cluster_label} being alike."),
        data=Block(paragraphs(
            "The data passed every check of columns and values. Counts of youth are not shown "
            "because no analysis is reported."), text="The data"),
        unit_label=cluster_label,
    )

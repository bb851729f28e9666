"""Report sections for staggered-adoption difference-in-differences (policy evaluations).

:class:`DiDReport` words and draws results from :mod:`evalkit.methods.did`: the
Callaway–Sant'Anna estimates lead (they stay valid when effects differ between adopting
cohorts and grow over time), the two-way fixed-effects estimate stands beside them, and the
Goodman-Bacon decomposition explains any gap; the Checks test parallel trends before adoption
and show how large a divergence after it would overturn the finding
(:mod:`evalkit.report.did_sensitivity`). The module runs a little past 600 lines because its
one class writes every section of the report.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evalkit.exceptions import DesignRefused
from evalkit.methods.did import TWFE, Aggregate, Bacon, Staggered
from evalkit.methods.did.honest import HonestDiD
from evalkit.methods.did.poisson import PoissonTWFE
from evalkit.report import resultsdoc, words
from evalkit.report.base import Report
from evalkit.report.common import cautions_html, collect_cautions, shown_frame
from evalkit.report.common import num as _num
from evalkit.report.common import p_text as _p
from evalkit.report.did_sensitivity import sensitivity_check, sensitivity_section
from evalkit.report.evidence import SENSITIVITY_MBAR, rate
from evalkit.report.figures import (
    adoption_trends_figure,
    event_study_figure,
    figure_block,
)
from evalkit.report.html import Block, paragraphs, table
from evalkit.report.refused import RefusedReport
from evalkit.results import jsonable, limiting

__all__ = ["DiDReport", "panel_data_block", "did_design", "refused_did_report"]


def did_design(unit_label: str = "state", policy_label: str = "the policy") -> dict[str, str]:
    """Design code and label of a staggered-adoption evaluation (results.json ``design``)."""
    return {"code": "staggered_did",
            "label": f"{unit_label.capitalize()}s adopting {policy_label} in different years, "
                     "compared with those that had not (yet)"}


def refused_did_report(refusal: DesignRefused, data: pd.DataFrame, *, unit: str, time: str,
                       first_treated: str, outcome: str, outcome_label: str = "the outcome",
                       units: str = "", policy_label: str = "the policy",
                       unit_label: str = "state", lower_is_better: bool = False,
                       never_treated: float = 0) -> RefusedReport:
    """The report of a policy evaluation whose staggered estimator refused the panel.

    The panel had too few adopting units. The report describes the panel and tells the reader
    why there is no estimate and which design fits instead.
    """
    first = data.groupby(unit)[first_treated].first()
    return RefusedReport(
        refusal,
        design=did_design(unit_label, policy_label),
        outcome={"name": outcome, "label": outcome_label, "units": units,
                 "lower_is_better": lower_is_better},
        estimand=f"average effect of {policy_label} on {outcome_label} after adoption",
        method=(f"The evaluation set out to compare each adopting {unit_label}'s change in "
                f"{outcome_label} with the change over the same years in {unit_label}s that "
                "had not adopted (Callaway and Sant'Anna's group-time effects), averaged into "
                "one effect."),
        data=panel_data_block(data, unit=unit, time=time, first_treated=first_treated,
                              never_treated=never_treated, unit_label=unit_label,
                              outcome_label=outcome_label, units=units),
        sample={f"{unit_label}s": int(first.size),
                f"adopting_{unit_label}s": int((first != never_treated).sum())},
        unit_label=unit_label,
    )


def panel_data_block(data: pd.DataFrame, *, unit: str, time: str, first_treated: str,
                     never_treated: float = 0, unit_label: str = "state",
                     outcome_label: str = "the outcome", units: str = "",
                     respondents: int | None = None) -> Block:
    """'The data' of a policy panel: units by year of adoption and the years observed.

    Units treated before the panel starts and cohorts adopting after it ends are listed as
    they are coded; the estimator's cautions say how it treated them. With repeated
    cross-sections (``respondents``: how many people were surveyed), ``unit`` is their
    jurisdiction and only the number of respondents in all is printed beside the units.
    """
    c = data.groupby(unit)[first_treated].first().value_counts().sort_index()
    rows = {("Never adopted" if k == never_treated else f"Adopted in {k:g}"):
            {f"{unit_label.capitalize()}s": str(int(v))} for k, v in c.items()}
    periods = np.sort(data[time].unique())
    steps = np.unique(np.diff(periods)) if periods.size > 1 else np.array([1])
    every = "every year" if steps.size == 1 and steps[0] == 1 else (
        f"every {steps[0]:g} years" if steps.size == 1 else
        f"in {periods.size} years (unevenly spaced)")
    if respondents is not None:
        text = paragraphs(
            f"Repeated surveys in {int(c.sum())} {unit_label}s {every} from "
            f"{periods.min():g} to {periods.max():g}: {outcome_label} ({units}), "
            f"{respondents:,} responses in all, different people each year. Only the "
            f"{unit_label}s are counted below; no table shows how many people answered in a "
            f"{unit_label} or a year.")
    else:
        text = paragraphs(
            f"A panel of {int(c.sum())} {unit_label}s observed {every} from {periods.min():g} "
            f"to {periods.max():g}: {outcome_label} ({units}). The data are aggregate rates; no "
            f"individual youth appears in them, so counts of {unit_label}s are shown in full.")
    return Block(text + table(pd.DataFrame.from_dict(rows, orient="index"),
                              caption=f"{unit_label.capitalize()}s by year of adoption",
                              total_rows=()), text="The data")


@dataclass
class DiDReport(Report):
    """The sections of a staggered difference-in-differences report.

    Parameters
    ----------
    data
        The validated panel.
    staggered, simple, dynamic, twfe, bacon
        Results of :func:`~evalkit.methods.did.staggered`, its ``"simple"`` and
        ``"dynamic"`` aggregations, :func:`~evalkit.methods.did.twfe` and
        :func:`~evalkit.methods.did.bacon_decomposition`.
    unit, time, first_treated, outcome
        Column names.
    outcome_label, units
        The outcome in words and its units ("per 100,000 youth").
    policy_label
        The policy ("safe-harbor law").
    unit_label
        What a unit is ("state").
    lower_is_better
        Direction of the outcome: every headline says whether the change went the desired
        way.
    all_leads
        The ``"dynamic"`` aggregation over every event time (no window): its pre-trend test,
        over all periods before adoption, decides the Checks and the evidence rating, so
        neither depends on the window the event-study figure shows. Without it the test of
        ``dynamic`` is used and the Checks say which years it covers.
    labels
        Display names of columns (covariates).
    outcome_scale
        ``"linear"`` or ``"log"``: a log outcome's effect is also stated as a percentage
        change (exp(b) − 1).
    study_design
        Only ``"policy adoption"`` (the default) fits this report.
    sensitivity
        Relative-magnitude sensitivity (R HonestDiD) of the first post-adoption effect and of
        the average one (:func:`~evalkit.methods.did.honest.sensitivity_pair`), shown under
        Checks and read by the evidence rating; ``sensitivity_error`` says why it could not be
        computed.
    poisson
        For a count outcome (``family: poisson``): the Poisson two-way fixed-effects rate ratio
        (:func:`~evalkit.methods.did.poisson.poisson_twfe`), shown beside the estimates.
    respondents
        For repeated cross-sections (``panel: false``: different people surveyed each year,
        ``unit`` then names their jurisdiction): how many were surveyed; ``None`` for a panel
        of units. Two-way fixed effects and the Goodman-Bacon decomposition need a panel, so
        ``twfe`` and ``bacon`` are then ``None``.
    threshold
        Privacy threshold: with repeated cross-sections, the yearly averages by adoption
        cohort are drawn only when every one rests on at least this many respondents.
    """

    data: pd.DataFrame
    staggered: Staggered
    simple: Aggregate
    dynamic: Aggregate
    twfe: TWFE | None
    bacon: Bacon | None
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
    all_leads: Aggregate | None = None
    labels: Any = None
    outcome_scale: str = "linear"
    study_design: str | None = None
    sensitivity: tuple[HonestDiD, HonestDiD] | None = None
    sensitivity_error: str | None = None
    poisson: PoissonTWFE | None = None
    respondents: int | None = None
    threshold: int = 11

    def __post_init__(self) -> None:
        self.labels = dict(self.labels or {})
        self.study_design = words.design_of(self.study_design, template="did")
        if self.study_design != "policy adoption":
            raise ValueError(f"design {self.study_design!r} does not fit a staggered-adoption "
                             "policy evaluation")
        if self.outcome_scale not in ("linear", "log"):
            raise ValueError(f"outcome_scale must be 'linear' or 'log', not "
                             f"{self.outcome_scale!r}")

    # -- facts -------------------------------------------------------------------------------
    @functools.cached_property
    def cohorts(self) -> pd.Series:
        """Number of units by year of adoption (the never-treated code included)."""
        first = self.data.groupby(self.unit)[self.first_treated].first()
        return first.value_counts().sort_index()

    @property
    def pretest(self) -> dict[str, float]:
        """The pre-trend test over every period before adoption.

        Without ``all_leads``, the test is over the figure's window instead.
        """
        agg = self.all_leads if self.all_leads is not None else self.dynamic
        t = agg.pretest
        return {} if t is None else {"statistic": t.statistic, "df": t.df, "p_value": t.p_value}

    def leads(self, agg: Aggregate | None = None) -> list[int]:
        """Event times before adoption that an aggregation's pre-trend test covers."""
        agg = agg if agg is not None else (self.all_leads or self.dynamic)
        keys = agg.table["key"]
        return sorted(int(k) for k in keys[keys < 0])

    @property
    def pretest_p(self) -> float:
        """p-value of the pre-trend test (NaN when it could not be computed or has no years)."""
        p = self.pretest.get("p_value")
        return float("nan") if p is None else float(p)

    @property
    def parallel_trends_ok(self) -> bool:
        """Whether the pre-trend test does not reject.

        This is also true when the test could not be run; the cautions and the Checks section
        then say so.
        """
        return not (self.pretest_p < 0.05)

    def design(self) -> dict[str, str]:
        """Design code and label (results.json ``design``; see :func:`did_design`).

        Returns
        -------
        dict
            ``{"code": "staggered_did", "label": ...}``.
        """
        return did_design(self.unit_label, self.policy_label)

    def cautions(self) -> tuple[str, ...]:
        """Every result's cautions, the headline (simple aggregation) first.

        The data are aggregate rates by unit, so counts of units are shown in full.
        """
        rename = None
        if self.all_leads is not None and np.isfinite(self.pretest_p):
            # the estimator's test of every cohort-by-year cell is not the test the Checks
            # report (over years before adoption); say which one could not be computed
            rename = {"The pre-trend test cannot be computed:":
                      "The joint test of every adoption cohort's effect in every year before "
                      "adoption cannot be computed (the test over years before adoption under "
                      "Checks can):"}
        return collect_cautions([r for r in (self.simple, self.staggered, self.dynamic,
                                             self.twfe, self.bacon, *(self.sensitivity or ()),
                                             self.poisson) if r is not None], rename=rename)

    def evidence(self) -> dict[str, Any]:
        """Evidence rating and its reasons.

        The reasons come from the pre-trend test over every year before adoption and the
        cautions of the headline aggregations.

        Returns
        -------
        dict
            ``{"rating", "label", "reasons"}`` (see :mod:`evalkit.report.evidence`).
        """
        checks: dict[str, Any] = {
            "pretest_p": self.pretest.get("p_value"), "unit_label": self.unit_label,
            "policy_label": self.policy_label, "control_group": self.staggered.control_group}
        if self.sensitivity is not None:
            checks["sensitivity"] = sensitivity_check(*self.sensitivity)
        return rate("staggered_did", checks, collect_cautions([self.simple, self.dynamic]))

    def headline(self) -> str:
        """The average effect after adoption, its direction and interval, in one sentence.

        The sentence is flagged when trends before adoption were not parallel.

        Returns
        -------
        str
            The report's opening sentence.
        """
        s = self.simple
        conf = f"{s.confidence:.0%}"
        n_adopt = int(self.cohorts.drop(self.never_treated, errors="ignore").sum())
        if not (np.isfinite(s.ci_low) and np.isfinite(s.ci_high)):
            what = (f"{self.outcome_label} changed by {_num(s.estimate)} {self.units} on "
                    "average after adoption, but no confidence interval could be computed "
                    "(see the cautions under Checks), so this number cannot be judged")
        elif s.ci_low <= 0 <= s.ci_high:
            pct = (f"; {words.percent_words(s.estimate, s.ci_low, s.ci_high, s.confidence)} "
                   f"{'lower' if s.estimate < 0 else 'higher'}" if self.outcome_scale == "log"
                   else "")
            what = (f"the data show no clear change in {self.outcome_label} after adoption, "
                    f"desired or unwanted: {_num(s.estimate)} {self.units} on average ({conf} "
                    f"CI {_num(s.ci_low)} to {_num(s.ci_high)}{pct})")
        elif self.outcome_scale == "log":
            verb = "lowered" if s.estimate < 0 else "raised"
            way = words.direction(s.estimate, self.lower_is_better, ci_low=s.ci_low,
                                  ci_high=s.ci_high)
            what = (f"{self.policy_label} {verb} {self.outcome_label} by "
                    f"{words.percent_words(s.estimate, s.ci_low, s.ci_high, s.confidence)} on "
                    f"average in the years after adoption ({_num(s.estimate)} {self.units}), "
                    f"{way}")
        else:
            verb = "lowered" if s.estimate < 0 else "raised"
            way = words.direction(s.estimate, self.lower_is_better, ci_low=s.ci_low,
                                  ci_high=s.ci_high)
            what = (f"{self.policy_label} {verb} {self.outcome_label} by "
                    f"{_num(abs(s.estimate))} {self.units} on average in the years after "
                    f"adoption ({conf} CI {_num(s.ci_low)} to {_num(s.ci_high)}), {way}")
        caveat = ("" if self.parallel_trends_ok else
                  " Before adoption, adopting and comparison "
                  f"{self.unit_label}s were already drifting apart, so this estimate is flagged.")
        return (f"Across the {n_adopt} {self.unit_label}s that adopted, {what}, compared with "
                f"{self.unit_label}s that had not adopted.{caveat}")

    # -- sections ----------------------------------------------------------------------------
    def glance_items(self) -> dict[str, str]:
        """Key facts of *At a glance*.

        They are the design, the average effect with its interval and the two-way
        fixed-effects estimate beside it.

        Returns
        -------
        dict
            Label → value.
        """
        s = self.simple
        conf = f"{s.confidence:.0%}"
        items = {
            "Design": self.design()["label"],
            "Average effect after adoption": f"{_num(s.estimate)} {self.units} ({conf} CI "
                                             f"{_num(s.ci_low)} to {_num(s.ci_high)})",
        }
        if self.twfe is not None:
            items["Two-way fixed effects (for comparison)"] = (f"{_num(self.twfe.coef[0])} "
                                                               f"{self.units}")
        return items

    def default_question(self) -> str:
        """The question the report answers by default.

        Did the outcome change in adopting units, compared with units that had not adopted?

        Returns
        -------
        str
            The question.
        """
        return (f"Did {self.outcome_label} change in {self.unit_label}s after they "
                f"adopted {self.policy_label}, compared with {self.unit_label}s that "
                "had not?")

    def data_section(self) -> Block:
        """'The data': units by year of adoption and the years observed.

        Returns
        -------
        Block
            The section's HTML (:func:`panel_data_block`).
        """
        return panel_data_block(self.data, unit=self.unit, time=self.time,
                                first_treated=self.first_treated,
                                never_treated=self.never_treated, unit_label=self.unit_label,
                                outcome_label=self.outcome_label, units=self.units,
                                respondents=self.respondents)

    def method_section(self) -> Block:
        """The section 'How it was evaluated'.

        It covers group-time effects, the two-way fixed-effects regression beside them, the
        Goodman-Bacon decomposition and the assumptions.

        Returns
        -------
        Block
            The section's HTML.
        """
        survey = self.respondents is not None
        return Block(paragraphs(
            f"Each adopting {self.unit_label}'s change in {self.outcome_label} from the year "
            f"before adoption is compared with the change over the same years in "
            f"{self.unit_label}s that had not adopted (Callaway and Sant'Anna's group-time "
            "effects). These are averaged into one effect, weighting each adoption cohort by "
            "its size, and by years since adoption for the event-study figure.",
            *(("Different people were surveyed each year (repeated cross-sections), so each "
               "comparison uses the repeated-cross-section estimators of R did (panel = "
               "FALSE), and standard errors are clustered by "
               f"{self.unit_label}. A two-way fixed-effects regression and its Goodman-Bacon "
               "decomposition need the same units every year and are not shown.",) if survey
              else ("A two-way fixed-effects regression — the traditional method — is shown "
                    "beside it. When adoption is staggered and effects grow over time, that "
                    f"regression also compares late adopters with {self.unit_label}s that "
                    "adopted earlier, whose outcomes are still changing; the Goodman-Bacon "
                    "decomposition shows how much weight those comparisons get.",)),
            "Assumptions: without the law, adopting and comparison "
            f"{self.unit_label}s would have followed parallel trends (checked before adoption), "
            f"and {self.unit_label}s did not change course in anticipation of the law.",
        ), text="How it was evaluated")

    def findings(self) -> Block:
        """The section 'Findings'.

        It shows outcome trends by adoption cohort, the event study, the effect table and what
        the two-way fixed-effects estimate averages.

        Returns
        -------
        Block
            The section's HTML.
        """
        conf = f"{self.simple.confidence:.0%}"
        html = self._trends_figure()
        dyn = self.dynamic.table
        fig = self.event_study_figure()
        alt = ("Event-study estimates by years since adoption: " + "; ".join(
            f"{int(k)}: {_num(a)} ({_num(lo)} to {_num(hi)})"
            for k, a, lo, hi in zip(dyn["key"], dyn["estimate"], dyn["ci_low"], dyn["ci_high"], strict=True)))
        html += figure_block(fig, alt=alt, caption=(
            "Callaway–Sant'Anna effects by years since adoption (pre-adoption points should "
            "sit near zero).")).html
        s = self.simple
        fits = [("Average effect after adoption (Callaway–Sant'Anna)", s.estimate, s.ci_low,
                 s.ci_high),
                ("Average over years since adoption shown in the figure", self.dynamic.estimate,
                 self.dynamic.ci_low, self.dynamic.ci_high)]
        if self.twfe is not None:
            t = self.twfe.to_frame().iloc[0]
            fits.append(("Two-way fixed effects", t["estimate"], t["ci_low"], t["ci_high"]))
        rows = pd.DataFrame({"Estimate": [_num(f[1]) for f in fits],
                             f"{conf} CI": [f"{_num(f[2])} to {_num(f[3])}" for f in fits]},
                            index=[f[0] for f in fits])
        note = ("Standard errors: analytic influence functions (Callaway–Sant'Anna)"
                + (f", clustered by {self.unit_label}." if self.respondents is not None else
                   f"; clustered by {self.unit_label} (two-way fixed effects)."))
        html += table(rows, caption=f"Effect of {self.policy_label} on {self.outcome_label} "
                      f"({self.units})", total_rows=(), note=note)
        if self.poisson is not None:
            html += self._poisson_table()
        if self.bacon is None:
            return Block(html, text="Findings")
        bt = self.bacon.by_type()
        brows = pd.DataFrame({"Weight": [f"{w:.0%}" for w in bt["weight"]],
                              "Average estimate": [_num(e) for e in bt["estimate"]]},
                             index=[x.capitalize() for x in bt["type"]])
        html += table(brows, caption="What the two-way fixed-effects estimate averages "
                      "(Goodman-Bacon decomposition)", total_rows=(),
                      note=f"The weighted sum is {_num(self.bacon.twfe)}; comparisons of later "
                           "with earlier adopters are the ones biased when effects grow over "
                           "time.")
        return Block(html, text="Findings")

    def _poisson_table(self) -> str:
        """The count model's rate ratio (``family: poisson``), beside the linear estimates."""
        p = self.poisson
        assert p is not None
        conf = f"{1 - p.alpha:.0%}"
        pct = words.percent_words(p.estimate, p.ci_low, p.ci_high, 1 - p.alpha)
        rows = pd.DataFrame({"Rate ratio": [_num(p.rate_ratio)],
                             f"{conf} CI": [f"{_num(p.rate_ratio_ci_low)} to "
                                            f"{_num(p.rate_ratio_ci_high)}"],
                             "p": [_p(p.p_value)]},
                            index=["Poisson two-way fixed effects"])
        dropped = (f" {p.n_units_dropped} {self.unit_label}(s) and {p.n_periods_dropped} "
                   "period(s) whose count is zero throughout are left out, as fixest drops "
                   "them." if p.n_units_dropped or p.n_periods_dropped else "")
        return table(rows, caption=f"{self.outcome_label.capitalize()} as counts: rate ratio "
                     f"after adoption ({pct} {'lower' if p.estimate < 0 else 'higher'})",
                     total_rows=(), note=(
                         "Poisson pseudo-maximum likelihood with unit and period effects"
                         + (f", offset {p.offset}" if p.offset else "")
                         + f", standard errors clustered by {self.unit_label} (as R "
                         "fixest::fepois). Like any two-way fixed-effects regression it also "
                         "compares later adopters with earlier ones, so with effects that "
                         "grow over time it is a check beside the headline, not a "
                         "replacement." + dropped))

    def event_study_figure(self):
        """The event-study figure: effects by years since adoption with their intervals.

        Returns
        -------
        matplotlib.figure.Figure
            :func:`~evalkit.report.figures.event_study_figure` of the dynamic aggregation.
        """
        return event_study_figure(self.dynamic.table, confidence=self.simple.confidence,
                                  outcome_label=self.outcome_label, units=self.units)

    def trends_figure(self):
        """Yearly average outcome of earlier, later and never adopters.

        Returns
        -------
        matplotlib.figure.Figure
            :func:`~evalkit.report.figures.adoption_trends_figure` of the panel.
        """
        return adoption_trends_figure(self.data, unit=self.unit, time=self.time,
                                      first_treated=self.first_treated, outcome=self.outcome,
                                      never_treated=self.never_treated,
                                      outcome_label=self.outcome_label, units=self.units)

    def _trends_figure(self) -> str:
        if self.respondents is not None:
            first = self.data.groupby(self.unit)[self.first_treated].transform("first")
            adopters = first[first != self.never_treated]
            label = np.where(first == self.never_treated, 0,
                             np.where(first <= adopters.median(), 1, 2))
            fewest = int(pd.Series(label).groupby(
                [label, self.data[self.time].to_numpy()]).size().min())
            if fewest < self.threshold:
                return paragraphs(
                    f"The yearly averages of {self.outcome_label} by adoption cohort are not "
                    f"shown: some rest on fewer than {self.threshold} respondents.")
        fig = self.trends_figure()
        return figure_block(fig, alt=(
            f"Yearly average {self.outcome_label} for earlier adopters, later adopters and "
            f"{self.unit_label}s that never adopted."), caption=(
            "Earlier adopters: adoption year at or before the median adoption year.")).html

    def checks(self) -> Block:
        """The section 'Checks'.

        It gives the pre-trend test over the years before adoption (and what the figure's
        window leaves out), then what the estimators flagged.

        Returns
        -------
        Block
            The section's HTML.
        """
        pt = self.pretest
        leads = self.leads()
        span = (f"all {len(leads)} years before adoption that the data hold (from "
                f"{-leads[0]} to {-leads[-1]} years before)" if self.all_leads is not None
                and leads else
                f"the years before adoption shown in the figure (from {-leads[0]} to "
                f"{-leads[-1]} years before)" if leads else "the years before adoption")
        if pt and not np.isfinite(self.pretest_p):
            text = ("The pre-trend test could not be computed from these data (the cautions "
                    "below say why), so parallel trends before adoption are unchecked.")
        elif pt:
            verdict = ("consistent with parallel trends" if self.parallel_trends_ok else
                       "not consistent with parallel trends")
            text = (f"Over {span}, the estimated effects before adoption are jointly {verdict}: "
                    f"Wald chi-squared {pt['statistic']:.2f} on {pt['df']:g} df, "
                    f"{_p(pt['p_value'])}. The rating reads this test, not one over the "
                    "figure's window. A test that fails to reject cannot prove the trends "
                    "would have stayed parallel; it only finds no sign that they were not.")
            text += self._window_note()
        else:
            text = "No pre-adoption years are available to check parallel trends."
        html = paragraphs(text)
        if self.sensitivity is not None:
            html += sensitivity_section(*self.sensitivity, units=self.units,
                                        unit_label=self.unit_label)
        elif self.sensitivity_error:
            html += paragraphs("How large a divergence of trends after adoption would "
                               "overturn the finding could not be computed: "
                               f"{self.sensitivity_error}")
        return Block(html + cautions_html(self.cautions()), text="Checks")

    def _window_note(self) -> str:
        """What the figure's window leaves out of the pre-trend test, and what it shows."""
        if self.all_leads is None:
            return ""
        shown = self.leads(self.dynamic)
        left_out = [k for k in self.leads() if k not in shown]
        if not left_out:
            return ""
        win = self.dynamic.pretest.p_value if self.dynamic.pretest is not None else None
        few = self.all_leads.table.set_index("key")
        shown_txt = (f"{-shown[0]} to {-shown[-1]} years before adoption" if shown else
                     "no year before adoption")
        gone = (f"{-left_out[0]} years" if len(left_out) == 1 else
                f"{-left_out[0]} to {-left_out[-1]} years")
        out = (f" The event-study figure shows only {shown_txt}; {gone} before adoption "
               "are left out of it because few adoption "
               "cohorts are observed that long before adoption, so their estimates rest on "
               "one or a few " + f"{self.unit_label}s.")
        if win is not None and np.isfinite(win):
            out += (f" Over the figure's years alone the pre-trend test gives {_p(win)}"
                    + ("; the difference comes from the years left out of the figure."
                       if (win < 0.05) != (self.pretest_p < 0.05) else "."))
        far = few[few.index.isin(left_out)]
        big = far[(far["ci_low"] > 0) | (far["ci_high"] < 0)]
        if len(big):
            out += (f" Of the years left out, {len(big)} of {len(far)} have an interval that "
                    "excludes zero.")
        return out

    def limitation_list(self) -> list[str]:
        """The design's limitations and the cautions that limit the conclusion.

        Returns
        -------
        list of str
            Sentences, also written to results.json.
        """
        return [
            words.clause(self.policy_label, "was", f"not assigned at random: "
                         f"{self.unit_label}s that adopted may differ in ways that change their "
                         "trends, such as other reforms passed at the same time."),
            f"The outcome is an aggregate rate; a change in how {self.unit_label}s record or "
            "report it around adoption would look like an effect.",
            f"Adoption cohorts are small ({int(self.cohorts.drop(self.never_treated, errors='ignore').min())}"
            f"–{int(self.cohorts.drop(self.never_treated, errors='ignore').max())} "
            f"{self.unit_label}s each), so cohort-specific effects are imprecise.",
        ] + self._sensitivity_limits() + [str(c) for c in limiting(self.cautions())]

    def _sensitivity_limits(self) -> list[str]:
        """A limitation when the finding does not survive the benchmark divergence."""
        if self.sensitivity is None:
            return []
        sens = sensitivity_check(*self.sensitivity)["average"]
        up = sens["holds_up_to"]
        if not sens["significant"] or (up is not None and up >= SENSITIVITY_MBAR):
            return []
        return ["The average effect after adoption would no longer be distinguishable from "
                "zero if trends diverged after adoption as much as they did between "
                "consecutive years before it (Rambachan and Roth's sensitivity analysis, "
                "under Checks)."]

    def appendix_results(self) -> list[Any]:
        """The appendix's estimates.

        They are the simple and dynamic aggregations (in the figure's window and over every
        event time), two-way fixed effects, the Goodman-Bacon decomposition and the
        group-time effects.

        Returns
        -------
        list
            Results for :meth:`~evalkit.report.base.Report.appendix`. The data are aggregate
            rates, so nothing is withheld.
        """
        return [r for r in (self.simple, self.dynamic, self.all_leads, self.twfe, self.bacon,
                            self.staggered) if r is not None]

    def results_document(self) -> dict[str, Any]:
        """The method part of ``results.json``.

        It holds the headline aggregation, every estimate, the sample of units and the
        parallel-trends and Bacon checks.

        Returns
        -------
        dict
            The document :func:`evalkit.report.resultsdoc.write` writes.
        """
        s = self.simple
        headline = {
            "estimand": f"average effect of {self.policy_label} on {self.outcome_label} after "
                        "adoption (Callaway–Sant'Anna, cohort-size weights)",
            "estimate": s.estimate, "ci_low": s.ci_low, "ci_high": s.ci_high,
            "alpha": s.alpha, "p_value": s.p_value,
            "n": int(self.cohorts.sum()), "n_unit": f"{self.unit_label}s", "units": self.units,
            "effect_size": None, "suppressed": False, "digits": 2,
            "scale": self.outcome_scale,
        }
        if self.outcome_scale == "log":
            headline["percent_change"] = {
                "estimate": words.percent_change(s.estimate),
                "ci_low": words.percent_change(s.ci_low) if np.isfinite(s.ci_low) else None,
                "ci_high": words.percent_change(s.ci_high) if np.isfinite(s.ci_high) else None}
        estimates = (shown_frame(s).to_dict("records")
                     + shown_frame(self.dynamic).to_dict("records")
                     + (shown_frame(self.twfe).to_dict("records") if self.twfe is not None
                        else []))
        doc = resultsdoc.build(
            design=self.design(),
            outcome={"name": self.outcome, "label": self.outcome_label, "units": self.units,
                     "lower_is_better": self.lower_is_better},
            headline=headline, estimates=estimates,
            sample={f"{self.unit_label}s": int(self.cohorts.sum()),
                    f"adopting_{self.unit_label}s": int(
                        self.cohorts.drop(self.never_treated, errors="ignore").sum())},
            suppressed=[], finding=self.headline(), evidence=self.evidence(),
            limitations=self.limitation_list(), cautions=self.cautions(),
        )
        doc["checks"] = {"parallel_trends": {**self.pretest, "leads": self.leads(),
                                             "holds": (self.parallel_trends_ok if
                                                       np.isfinite(self.pretest_p) else None)},
                         "bacon": (None if self.bacon is None else
                                   self.bacon.by_type().to_dict("records")),
                         "twfe": None if self.twfe is None else float(self.twfe.coef[0])}
        if self.sensitivity is not None:
            doc["checks"]["sensitivity"] = sensitivity_check(*self.sensitivity)
        if self.poisson is not None:
            doc["checks"]["poisson"] = {
                k: getattr(self.poisson, k) for k in (
                    "rate_ratio", "rate_ratio_ci_low", "rate_ratio_ci_high", "p_value", "n",
                    "n_units_dropped", "n_periods_dropped", "offset")}
        return jsonable(doc)

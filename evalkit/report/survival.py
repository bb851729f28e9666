"""Report sections for time-to-event evaluations (program group against a comparison group).

:class:`SurvivalReport` words and draws results from :mod:`evalkit.methods.survival` and
:mod:`evalkit.methods.cox`; it computes nothing itself beyond reading tables.

This module is longer than the house's ~600 lines because it holds one report whose sections
share the privacy rules of time-to-event results (which shares, medians and counts may be
shown); splitting the sections apart would scatter those rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evalkit import privacy
from evalkit.methods.adjustment_survival import SurvivalAdjustment
from evalkit.methods.cox import CoxResult, PHTest
from evalkit.methods.fine_gray import FineGray
from evalkit.methods.survival import RMST, CumulativeIncidence, KaplanMeier, LogRank
from evalkit.report import resultsdoc, words
from evalkit.report.base import Report
from evalkit.report.common import cautions_html, collect_cautions, shown_frame
from evalkit.report.common import num as _num
from evalkit.report.common import p_text as _p
from evalkit.report.episodes import EpisodeFindings
from evalkit.report.evidence import rate, withheld_rating
from evalkit.report.figures import figure_block, forest_figure, km_figure, time_tick_step
from evalkit.report.html import Block, esc, paragraphs, table
from evalkit.report.weighting import (
    balance_rows,
    balance_section,
    covariate_balance,
)
from evalkit.report.words import Population, spoken
from evalkit.results import limiting

__all__ = ["SurvivalReport"]


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _youth_at_risk(weighted: pd.DataFrame, unweighted: pd.DataFrame) -> pd.DataFrame:
    """The weighted curve's table with its numbers at risk replaced by the youth at risk.

    The figure stops a curve where fewer than the threshold of youth remain; weighted sums
    are not youth, so the unweighted counts of the same times decide.
    """
    keys = ["group", "time"]
    youth = unweighted[keys + ["n_risk"]].astype({"group": str})
    out = weighted.drop(columns="n_risk").astype({"group": str}).merge(youth, on=keys,
                                                                      how="left")
    return out.astype({"group": weighted["group"].dtype})


def _join(items: Sequence[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


@dataclass
class SurvivalReport(Report):
    """The sections of a time-to-event report.

    Parameters
    ----------
    data
        The validated data.
    km, logrank, cox, ph, rmst
        Results of :func:`~evalkit.methods.survival.kaplan_meier` (by group),
        :func:`~evalkit.methods.survival.logrank`, :func:`~evalkit.methods.cox.cox` (the
        group indicator first), :func:`~evalkit.methods.cox.ph_test` and
        :func:`~evalkit.methods.survival.rmst`.
    duration, event, group
        Column names.
    program_label, comparison_label
        Names of the groups (group value 1 and 0).
    event_label
        The event, worded to follow "youth who ..." ("ran away from placement").
    time_unit
        Unit of time ("days").
    times
        Times at which to report the share still event-free.
    threshold
        Privacy threshold.
    competing
        Words describing exits treated as censored (e.g. "reunification or aging out").
    incidence, cause
        :func:`~evalkit.methods.survival.cumulative_incidence` and the cause that is the
        event; when given, shares of youth who had the event are cumulative incidences
        (other exits are not counted as events, nor as youth who could still have one).
    subdistribution
        With competing exits: the Fine–Gray regression of the event's subdistribution hazard
        on the same terms as the Cox model (:func:`~evalkit.methods.fine_gray.fine_gray`, as R
        ``cmprsk::crr``), shown beside the cause-specific hazard ratio with what each answers.
    study_design
        ``"randomized"`` or ``"comparison group"`` (the default): how the groups were formed,
        for the report's wording and the evidence rule.
    population
        What the people are called (:class:`~evalkit.report.words.Population`, a
        ``{singular, plural}`` mapping or one word; default youth).
    labels
        Display names of columns (covariates) in tables, figures and text.
    lower_is_better
        Whether fewer and later events are better (re-arrest, runaway): the headline says
        whether the difference goes the desired way.
    adjusted
        :func:`~evalkit.report.weighting.adjust_survival` (the config's ``adjust`` block): the
        headline becomes the weighted hazard ratio beside the unadjusted one, the curves and
        the shares are weighted, and the checks show covariate balance.
    episodes
        :class:`~evalkit.report.episodes.EpisodeFindings` (the config's ``episodes`` block):
        the data are youth's repeated episodes and ``data`` their time to the first one. The
        headline leads with the mean number of episodes and the rate ratio of all of them (the
        result the evidence rating reads); the time to the first follows as without episodes.
    """

    data: pd.DataFrame
    km: KaplanMeier
    logrank: LogRank
    cox: CoxResult
    ph: PHTest
    rmst: RMST
    duration: str
    event: str
    group: str
    program_label: str = "program"
    comparison_label: str = "comparison group"
    event_label: str = "had the event"
    time_unit: str = "days"
    times: Sequence[float] = (30, 90, 180)
    threshold: int = privacy.DEFAULT_THRESHOLD
    competing: str = ""
    incidence: CumulativeIncidence | None = None
    cause: str = "1"
    study_design: str | None = None
    population: Any = None
    labels: Mapping[str, str] = field(default_factory=dict)
    lower_is_better: bool = True
    adjusted: SurvivalAdjustment | None = None
    subdistribution: FineGray | None = None
    episodes: EpisodeFindings | None = None
    counts: privacy.Suppressed = field(init=False)

    def __post_init__(self) -> None:
        self.threshold = privacy.check_threshold(self.threshold)
        self.population = Population.of(self.population)
        self.labels = dict(self.labels or {})
        self.study_design = words.design_of(self.study_design, has_group=True)
        if self.study_design not in ("randomized", "comparison group"):
            raise ValueError(f"design {self.study_design!r} does not fit a time-to-event "
                             "comparison of two groups")
        d = self.data
        g = d[self.group].astype(float)
        ev = d[self.event].astype(float)
        body = pd.DataFrame({
            self.program_label.capitalize(): {f"Youth who {self.event_label}":
                                              int(((g == 1) & (ev == 1)).sum()),
                                              "Followed without the event (censored)":
                                              int(((g == 1) & (ev == 0)).sum())},
            self.comparison_label.capitalize(): {f"Youth who {self.event_label}":
                                                 int(((g == 0) & (ev == 1)).sum()),
                                                 "Followed without the event (censored)":
                                                 int(((g == 0) & (ev == 0)).sum())},
        })
        self.counts = privacy.suppress(body, self.threshold)

    # -- facts -------------------------------------------------------------------------------
    @property
    def hr_row(self) -> pd.Series:
        """The Cox model's row of the program term (hazard ratio and its interval)."""
        return self.cox.to_frame().iloc[0]

    @property
    def randomized(self) -> bool:
        """Whether the groups were formed at random (``design: randomized``)."""
        return self.study_design == "randomized"

    @property
    def ph_program_p(self) -> float:
        """p-value of the proportional-hazards test of the program term itself."""
        t = self.ph.table
        row = t[t["term"] == self.group]
        return float(row["p_value"].iloc[0]) if len(row) else float("nan")

    @property
    def ph_failing(self) -> list[str]:
        """Terms whose own proportional-hazards test rejects at 0.05.

        The global test is not counted as a term.
        """
        t = self.ph.table
        t = t[(t["term"] != "GLOBAL") & (t["p_value"] < 0.05)]
        return t["term"].tolist()

    @property
    def ph_holds(self) -> bool:
        """Whether the program's single hazard ratio is a fair headline.

        It is when neither the program term's own proportional-hazards test nor the global
        test rejects at 0.05.
        """
        prog = self.ph_program_p
        return self.ph.global_p >= 0.05 and not (prog < 0.05)

    def _renames(self) -> dict[str, str]:
        """Words of the estimators' cautions to replace before they are shown.

        Groups are named by their column and value, and columns by their labels.
        """
        out = {}
        for v, name in ((1, self.program_label), (0, self.comparison_label)):
            for txt in (f"{v}", f"{v}.0"):
                out[f"group {self.group} = {txt}"] = f"the group '{name}'"
                out[f"{self.group} = {txt}"] = f"'{name}'"
        out.update({f"'{k}'": f"'{v}'" for k, v in self.labels.items()})
        return out

    def term_label(self, term: str) -> str:
        """How a Cox term is shown: the program's name for the group, else its label."""
        if term == self.group:
            return self.program_label.capitalize()
        return words.label(term, self.labels)

    @property
    def reportable(self) -> bool:
        """Whether every group has at least the threshold of youth, so results may be shown."""
        n = self.km.median.set_index("group")["n"]
        return bool((n >= self.threshold).all())

    def _share(self, t: float) -> dict[str, tuple[float, float, float]]:
        """Share who had the event by ``t`` per group: (estimate, CI low, CI high)."""
        if self.incidence is not None and self.adjusted is None:
            at = self.incidence.at([t])
            at = at[at["cause"].astype(str) == str(self.cause)]
            return {str(r["group"]): (float(r["estimate"]), float(r["ci_low"]),
                                      float(r["ci_high"])) for _, r in at.iterrows()}
        at = self.curves.at([t])
        return {str(r["group"]): (1 - float(r["surv"]), 1 - float(r["ci_high"]),
                                  1 - float(r["ci_low"])) for _, r in at.iterrows()}

    @property
    def curves(self) -> KaplanMeier:
        """The Kaplan–Meier curves the report shows: weighted with an ``adjust`` block."""
        return self.adjusted.km if self.adjusted is not None else self.km

    def share_shown(self, g: Any, t: float) -> bool:
        """Whether a group's share who had the event by ``t`` may be shown.

        The number who had it by then and the number who had not must each be zero or at least
        the threshold (with little censoring, the share times the group's size gives the count
        back).
        """
        d = self.data
        grp = d[self.group].astype(float) == float(g)
        time = d[self.duration].astype(float)
        ev = d[self.event]  # the event of interest (cause 1 when exits compete)
        had = int((grp & (time <= t) & (ev.astype(float) == 1)).sum())
        n = int(grp.sum())
        return privacy.is_reportable(had, self.threshold) and privacy.is_reportable(
            n - had, self.threshold)

    def totals_shown(self) -> dict[str, bool]:
        """Which totals of the data table may be quoted in the text (youth followed, events)."""
        m = self.counts.mask
        return {"followed": not bool(m.iloc[-1, -1]), "events": not bool(m.iloc[0, -1])}

    def appendix_results(self) -> list[Any]:
        """What the technical appendix may show: only what the body may.

        Nothing is included when a group is below the threshold (its median and restricted
        mean are individual event times).

        Returns
        -------
        list
            Results for :meth:`~evalkit.report.base.Report.appendix`.
        """
        items: list[Any] = []
        if self.reportable:
            items = [r for r in (self.cox, self.ph, self.rmst, self.logrank, self.incidence,
                                 self.subdistribution, self.km) if r is not None]
            if self.adjusted is not None:
                a = self.adjusted
                cc = None if a.imputation is None else a.imputation.complete_case
                items = [("Weighted Cox regression (robust standard errors)"
                          + ("" if a.imputation is None else
                             f", pooled over {a.imputation.m} imputations"), a.cox.to_frame()),
                         *(() if cc is None else
                           (("Weighted Cox regression, complete cases only", cc.to_frame()),)),
                         ("Unadjusted Cox regression", a.unadjusted.to_frame()),
                         ("Covariate balance", a.balance[
                             ["covariate", "smd_raw", "smd_adjusted", "variance_ratio"]]),
                         *items]
            if self.episodes is not None:
                items = [*self.episodes.appendix_items(), *items]
        return items

    def _label(self, g: str) -> str:
        return self.program_label if str(g) in ("1", "1.0") else self.comparison_label

    # -- headline ----------------------------------------------------------------------------
    @spoken
    def headline(self) -> str:
        """The share who had the event in each group and the hazard ratio, in two sentences.

        When hazards are not proportional, the difference in restricted mean time takes the
        hazard ratio's place.

        Returns
        -------
        str
            The report's opening sentences (withheld results say so instead).
        """
        if not self.reportable:
            return (f"Fewer than {self.threshold} youth were in a group, so results are "
                    "withheld to protect their privacy.")
        if self.adjusted is not None:
            return self._adjusted_headline()
        t = self.times[min(1, len(self.times) - 1)]
        if self.episodes is not None:
            # the repeated episodes lead; the share who had at least one follows
            return f"{self.episodes.headline()} {self._first_share(t)}"
        hr = self.hr_row
        conf = f"{self.cox.confidence:.0%}"
        first = self._first_share(t)
        if self.ph_holds:
            way = words.direction(float(hr["hazard_ratio"]), self.lower_is_better,
                                  ci_low=float(hr["hr_ci_low"]),
                                  ci_high=float(hr["hr_ci_high"]), null=1.0)
            second = (f"Their risk at any given time was {_num(hr['hazard_ratio'])} times that of "
                      f"{self.comparison_label} (hazard ratio, {conf} CI "
                      f"{_num(hr['hr_ci_low'])} to {_num(hr['hr_ci_high'])}), adjusting for the "
                      f"characteristics in the model: {way}.")
        else:
            r = self.rmst
            # more time without the event is desired when events are to be avoided
            way = words.direction(-r.diff, self.lower_is_better, ci_low=-r.diff_ci_high,
                                  ci_high=-r.diff_ci_low)
            why = ("the groups' risks did not stay proportional over time" if
                   self.ph.global_p < 0.05 else
                   "the program's hazard ratio did not stay constant over time")
            more = "more" if r.diff >= 0 else "less"
            second = (f"Because {why}, the "
                      f"headline is the average time without the event over the first "
                      f"{r.tau:g} {self.time_unit}: {_num(abs(r.diff), 1)} {self.time_unit} "
                      f"{more} for {self.program_label} ({conf} CI {_num(r.diff_ci_low, 1)} to "
                      f"{_num(r.diff_ci_high, 1)}): {way}.")
        return f"{first} {second}"

    def _first_share(self, t: float) -> str:
        """The sentence giving the share of each group who had the event within ``t``."""
        if self.share_shown(1, t) and self.share_shown(0, t):
            s = self._share(t)
            return (f"Within {t:g} {self.time_unit}, {_pct(s['1'][0])} of youth in "
                    f"{self.program_label} {self.event_label}, compared with "
                    f"{_pct(s['0'][0])} in {self.comparison_label}.")
        return (f"The shares of youth who {self.event_label} within {t:g} "
                f"{self.time_unit} are withheld: fewer than {self.threshold} youth in a "
                "group had (or had not) had the event by then.")

    def _made_alike(self) -> str:
        """How the groups were made alike, as a clause ("once ... are weighted to ...")."""
        a = self.adjusted
        assert a is not None
        covs = _join([words.label(c, self.labels) for c in a.covariates])
        if a.method == "matching":
            return (f"among youth in {self.comparison_label} matched to youth in "
                    f"{self.program_label} on {covs}")
        whom = {"ATT": f"youth in {self.comparison_label} are weighted to resemble youth in "
                       f"{self.program_label}",
                "ATE": "both groups are weighted to resemble all youth in the evaluation",
                "ATO": "both groups are weighted toward the youth who could as well have been "
                       "in either"}[a.estimand]
        return f"once {whom} on {covs}"

    def _adjusted_headline(self) -> str:
        """The headline with an ``adjust`` block: weighted shares and hazard ratio."""
        a = self.adjusted
        assert a is not None
        t = self.times[min(1, len(self.times) - 1)]
        s = self._share(t)
        hr = a.cox.to_frame().iloc[0]
        raw = a.unadjusted.to_frame().iloc[0]
        conf = f"{a.cox.confidence:.0%}"
        alike = self._made_alike()
        if self.share_shown(1, t) and self.share_shown(0, t):
            first = (f"Within {t:g} {self.time_unit}, {_pct(s['1'][0])} of youth in "
                     f"{self.program_label} {self.event_label}, compared with "
                     f"{_pct(s['0'][0])} in {self.comparison_label}, {alike}.")
        else:
            first = (f"The shares of youth who {self.event_label} within {t:g} "
                     f"{self.time_unit} are withheld: fewer than {self.threshold} youth in a "
                     "group had (or had not) had the event by then.")
        way = words.direction(float(hr["hazard_ratio"]), self.lower_is_better,
                              ci_low=float(hr["hr_ci_low"]), ci_high=float(hr["hr_ci_high"]),
                              null=1.0)
        second = (f"So adjusted, their risk at any given time was {_num(hr['hazard_ratio'])} "
                  f"times that of {self.comparison_label} ("
                  + ("weighted hazard ratio" if a.method == "weighting" else
                     "hazard ratio of the matched youth") + f", {conf} CI "
                  f"{_num(hr['hr_ci_low'])} to {_num(hr['hr_ci_high'])}): {way}; unadjusted, "
                  f"it was {_num(raw['hazard_ratio'])} ({conf} CI {_num(raw['hr_ci_low'])} to "
                  f"{_num(raw['hr_ci_high'])}).")
        if not self.ph_holds:
            second += (" The hazard ratio changed over time (see Checks), so this one averages "
                       "over an effect that is not constant.")
        return f"{first} {second}"

    def design(self) -> dict[str, str]:
        """Design code and label (results.json ``design``).

        Returns
        -------
        dict
            ``{"code", "label"}``: randomized or comparison-group time to event.
        """
        what = ("time to event" if self.episodes is None else
                f"repeated {self.episodes.label} and time to the first")
        if self.randomized:
            return {"code": "randomized_time_to_event",
                    "label": f"{self.program_label.capitalize()} vs {self.comparison_label}, "
                             f"assigned at random, {what}"}
        return {"code": "time_to_event_comparison",
                "label": f"{self.program_label.capitalize()} vs {self.comparison_label}, "
                         f"{what}"}

    def headline_result(self) -> Any:
        """The result behind the headline.

        It is the Cox model, or RMST when hazards are not proportional; with an ``adjust``
        block, the weighted Cox model.
        """
        if self.adjusted is not None:
            return self.adjusted.cox
        if self.episodes is not None:
            return self.episodes.rate
        return self.cox if self.ph_holds else self.rmst

    @spoken
    def cautions(self) -> tuple[str, ...]:
        """Every result's cautions, headline first, with small counts of youth redacted.

        There are none when results are withheld: they would describe the group too small to
        report.
        """
        if not self.reportable:
            return ()
        extra: list[Any] = [] if self.adjusted is None else [self.adjusted.fit,
                                                             self.adjusted.km]
        if self.episodes is not None:
            extra += [self.episodes.mcf]
        return collect_cautions([self.headline_result(), *extra, self.cox, self.ph, self.rmst,
                                 self.km, self.logrank, self.incidence], threshold=self.threshold,
                                people=self.population.words(), rename=self._renames())

    @spoken
    def evidence(self) -> dict[str, Any]:
        """Evidence rating and its reasons.

        The reasons come from the design, whether hazards stay proportional and the headline
        result's cautions (withheld results are not rated).

        Returns
        -------
        dict
            ``{"rating", "label", "reasons"}`` (see :mod:`evalkit.report.evidence`).
        """
        if not self.reportable:
            return withheld_rating(self.threshold)
        head = collect_cautions([self.headline_result()], threshold=self.threshold,
                                people=self.population.words(), rename=self._renames())
        checks: dict[str, Any] = {"ph_holds": self.ph_holds,
                                  "arms": f"{self.program_label} or {self.comparison_label}",
                                  "ph_global_p": self.ph.global_p}
        if self.adjusted is not None:
            rows = balance_rows(self.adjusted, self.labels)
            checks["balance"] = dict(zip(rows["covariate"], rows["smd_adjusted"], strict=True))
            checks["balance_method"] = self.adjusted.method
        return rate(self.design()["code"], checks, head)

    # -- sections ----------------------------------------------------------------------------
    def glance_items(self) -> dict[str, str]:
        """Key facts of *At a glance* (only what may be shown).

        They are the design, the hazard ratio, the difference in time without the event and how
        many youth were followed.

        Returns
        -------
        dict
            Label → value.
        """
        hr = self.hr_row
        conf = f"{self.cox.confidence:.0%}"
        items = {"Design": self.design()["label"]}
        if self.reportable:
            if self.episodes is not None:
                items.update(self.episodes.glance_items())
            if self.adjusted is None:
                items["Hazard ratio" + ("" if self.episodes is None else
                                        ", time to the first")] = (f"{_num(hr['hazard_ratio'])} ({conf} CI "
                                         f"{_num(hr['hr_ci_low'])} to {_num(hr['hr_ci_high'])})")
            for key, res in ((("Hazard ratio, weighted", self.adjusted.cox),
                              ("Hazard ratio, unadjusted", self.adjusted.unadjusted))
                             if self.adjusted is not None else ()):
                row = res.to_frame().iloc[0]
                items[key] = (f"{_num(row['hazard_ratio'])} ({conf} CI "
                              f"{_num(row['hr_ci_low'])} to {_num(row['hr_ci_high'])})")
            r = self.rmst
            items[f"Time without the event, first {r.tau:g} {self.time_unit}"] = (
                f"{_num(r.diff, 1)} {self.time_unit} difference ({conf} CI "
                f"{_num(r.diff_ci_low, 1)} to {_num(r.diff_ci_high, 1)})")
            shown = self.totals_shown()
            if shown["followed"]:
                # with episodes, the model of the time to the first counts youth, not episodes
                what = ("events" if self.episodes is None
                        else f"with any {self.episodes.label}")
                items["Youth"] = f"{self.cox.n:,}" + (
                    f" ({self.cox.n_events:,} {what})" if shown["events"] else "")
        return items

    def default_question(self) -> str:
        """The question the report answers by default.

        Did the program lower the share who had the event, or delay it?

        Returns
        -------
        str
            The question, naming the report's population.
        """
        return words.speak(
            f"Compared with {self.comparison_label}, did {self.program_label} "
            f"lower the share of youth who {self.event_label}, or delay it?", self.population)

    @spoken
    def data_section(self) -> Block:
        """The section 'The data'.

        It counts youth who had the event and youth followed without it, by group, with small
        counts suppressed.

        Returns
        -------
        Block
            The section's HTML.
        """
        shown = self.counts.display(percent_of="column")
        shown = shown.rename(index={"Total": "Youth followed"})
        note = None
        if self.counts.n_suppressed:
            note = (f"Counts below {self.threshold} are shown as 'suppressed', with any count "
                    "from which they could be worked out.")
        other = (f" Youth who left for other reasons ({self.competing}) are counted as "
                 "followed without the event up to the day they left." if self.competing else "")
        if self.episodes is not None:
            text = paragraphs(
                "Each youth is followed from entry to the end of follow-up, through every one of "
                f"their {self.episodes.label}; the first table counts the time to the first.")
            return Block(text + table(shown, caption="Youth in the evaluation, time to the "
                                      f"first of the {self.episodes.label}",
                                      total_rows=("Youth followed",), note=note)
                         + self.episodes.data_text(), text="The data")
        text = paragraphs(
            f"Each youth is followed from entry until the event or the end of follow-up.{other}")
        return Block(text + table(shown, caption="Youth in the evaluation",
                                  total_rows=("Youth followed",), note=note), text="The data")

    @spoken
    def method_section(self) -> Block:
        """The section 'How it was evaluated'.

        It covers Kaplan–Meier curves, the log-rank test, the Cox model and the restricted mean
        survival time, with their assumptions.

        Returns
        -------
        Block
            The section's HTML.
        """
        conf = f"{self.cox.confidence:.0%}"
        extra: list[str] = []
        if self.adjusted is not None:
            a = self.adjusted
            how = ("propensity-score weighting" if a.method == "weighting" else
                   "nearest-neighbour matching on the propensity score (matched youth weighted "
                   "as the matching counts them)")
            extra.append(
                f"The groups were not formed at random, so they are first made alike at entry "
                f"by {how}: {self._made_alike().removeprefix('once ')}. The headline hazard "
                "ratio is then a Cox regression of "
                "the group alone on the weighted youth, with robust standard errors (as R "
                "coxph with weights and robust = TRUE), shown beside the unadjusted hazard "
                "ratio of the same youth; the Kaplan–Meier curves and the shares who had the "
                "event are weighted too. The Cox regression below, unweighted, adjusts for the "
                "characteristics in its model instead, and the restricted mean time is "
                "unweighted."
                + (f" {a.n_incomplete:,} youth with a characteristic missing are left out of "
                   "the weighted analysis (complete cases)." if a.n_incomplete else "")
                + ("" if a.imputation is None else
                   f" Characteristics missing for some youth are filled in {a.imputation.m} "
                   "times by multiple imputation (chained equations, from the other "
                   "characteristics, the group, whether the event happened and the cumulative "
                   "hazard at each youth's time); each completed data set gets its own weights "
                   "and weighted Cox regression, the hazard ratios are pooled by Rubin's rules, "
                   "and the complete-case hazard ratio is shown beside them. The curves weight "
                   "each youth by the weight averaged over the imputations."))
        formed = (f"Youth were assigned at random to {self.program_label} or to "
                  f"{self.comparison_label}. " if self.randomized else
                  f"Youth were not assigned to {self.program_label} at random. ")
        lead: list[str] = []
        if self.episodes is not None:
            # repeated episodes first, then the time to the first one as without episodes
            first, *more = self.episodes.method_text()
            lead = [formed + first, *more]
            formed = f"For the time to the first of the {self.episodes.label}, "
        return Block(paragraphs(
            *lead,
            formed + "Kaplan–Meier curves estimate, for each group, "
            "the share of youth still without "
            "the event at each point in time, allowing for youth followed for different lengths "
            "of time. A log-rank test compares the curves.",
            f"A Cox regression estimates the hazard ratio: how the program group's risk at any "
            f"moment compares with that of {self.comparison_label}, adjusting for "
            + (", ".join(self.term_label(t) for t in self.cox.terms[1:])
               if len(self.cox.terms) > 1 else "nothing else")
            + f", with {conf} confidence intervals. It assumes that ratio stays constant over "
            "time (proportional hazards), which the Checks section tests.",
            f"The restricted mean survival time is the average time without the event over the "
            f"first {self.rmst.tau:g} {self.time_unit}; its difference between the groups needs "
            "no proportional-hazards assumption.",
            *extra,
        ), text="How it was evaluated")

    @spoken
    def findings(self) -> Block:
        """The section 'Findings'.

        It shows the curves, shares who had the event, medians, the Cox model with its forest
        plot and the restricted mean time.

        Returns
        -------
        Block
            The section's HTML (the headline alone when results are withheld).
        """
        if not self.reportable:
            return Block(paragraphs(self.headline()), text=self.headline())
        conf = f"{self.cox.confidence:.0%}"
        groups = {1: self.program_label.capitalize(), 0: self.comparison_label.capitalize()}
        horizon = max(max(self.times), self.rmst.tau)
        step = time_tick_step(horizon, self.time_unit)
        ticks = list(np.arange(0, horizon + step / 2, step))
        a = self.adjusted
        youth_km = self.km if a is None else a.km_unweighted  # numbers at risk are youth
        at = youth_km.at(ticks)
        at_risk = {g: at[at["group"].astype(float) == g]["n_risk"].tolist() for g in groups}
        curve = self.km.table if a is None else _youth_at_risk(a.km.table,
                                                               a.km_unweighted.table)
        fig = km_figure(curve, groups=groups, time_unit=self.time_unit,
                        ticks=ticks,
                        at_risk=at_risk, confidence=self.km.confidence,
                        threshold=self.threshold, weighted=a is not None)
        shares = self.curves.at(self.times)
        alt = "Kaplan–Meier curves. " + " ".join(
            f"At {t:g} {self.time_unit}: " + ", ".join(
                f"{groups[int(float(r['group']))]} "
                + (f"{_pct(r['surv'])} without the event"
                   if self.share_shown(r["group"], t) else "share withheld")
                for _, r in shares[shares["time"] == t].iterrows()) + "."
            for t in self.times)
        caption = (f"Share of youth still without the event (youth who {self.event_label}); "
                   f"curves stop where fewer than {self.threshold} youth remain at risk.")
        html = ""
        if self.episodes is not None:
            html += (self.episodes.findings_html() + "<h3>The first of the "
                     f"{esc(self.episodes.label)}</h3>")
        if a is not None:
            alt = "Weighted " + alt[0].lower() + alt[1:]
            caption = (f"Share of youth still without the event (youth who {self.event_label}), "
                       f"weighted: {self._made_alike()}. Curves stop where fewer than "
                       f"{self.threshold} youth remain at risk; the numbers at risk are youth, "
                       "unweighted.")
            html += self._adjusted_table()
        html += figure_block(fig, alt=alt, caption=caption).html
        rows = {}
        at_risk_t = shares if a is None else a.km_unweighted.at(self.times)
        for t in self.times:
            share = self._share(t)
            sub = at_risk_t[at_risk_t["time"] == t]
            row = {}
            for g, label in groups.items():
                n_risk = float(sub[sub["group"].astype(float) == g]["n_risk"].iloc[0])
                if 0 < n_risk < self.threshold or not self.share_shown(g, t):
                    row[label] = privacy.SUPPRESSED
                else:
                    est, lo, hi = share[str(g)]
                    row[label] = f"{_pct(est)} ({_pct(lo)}–{_pct(hi)})"
            rows[f"By {t:g} {self.time_unit}"] = row
        if a is not None:
            test_note = (f"One minus the weighted Kaplan–Meier estimate "
                         f"({self._made_alike()})"
                         + (f"; other exits ({self.competing}) end a youth's follow-up as if "
                            "the event could still come later" if self.competing else "")
                         + f". Log-rank test of the unweighted curves: chi-squared "
                         f"{self.logrank.statistic:.2f}, {self.logrank.df} df, "
                         f"{_p(self.logrank.p_value)}. Shares are withheld where fewer than "
                         f"{self.threshold} youth had, or had not, had the event.")
        elif self.incidence is not None:
            gray = self.incidence.gray
            gray = gray[gray["cause"].astype(str) == str(self.cause)]
            test_note = (f"Cumulative incidence: other exits ({self.competing or 'other causes'}) "
                         "end a youth's follow-up without counting as the event. Gray's test: "
                         f"chi-squared {float(gray['statistic'].iloc[0]):.2f}, "
                         f"{int(gray['df'].iloc[0])} df, {_p(float(gray['p_value'].iloc[0]))}. "
                         f"Log-rank test of the curves above: {_p(self.logrank.p_value)}.")
        else:
            test_note = (f"One minus the Kaplan–Meier estimate. Log-rank test: chi-squared "
                         f"{self.logrank.statistic:.2f}, {self.logrank.df} df, "
                         f"{_p(self.logrank.p_value)}.")
        html += table(pd.DataFrame.from_dict(rows, orient="index"),
                      caption=f"Share of youth who {self.event_label} ("
                              + ("weighted, " if a is not None else "") + f"{conf} CI)",
                      total_rows=(), note=test_note)
        med = self.curves.median.assign(group=lambda m: m["group"].astype(float))
        med_rows = {}
        for g, label in groups.items():
            r = med[med["group"] == g].iloc[0]
            fmt = (lambda v: "not reached" if np.isnan(v) else f"{v:g}")
            med_rows[label] = {f"Median time ({self.time_unit})": fmt(r["median"]),
                               f"{conf} CI": f"{fmt(r['ci_low'])} to {fmt(r['ci_high'])}"}
        html += table(pd.DataFrame.from_dict(med_rows, orient="index"),
                      caption="Median time to the event ("
                              + ("weighted " if a is not None else "") + "Kaplan–Meier)",
                      total_rows=(),
                      note="The median is not reached when fewer than half of the group had "
                           "the event during follow-up.")
        cf = self.cox.to_frame()
        cf["term"] = [words.capitalize(self.term_label(t)) for t in cf["term"]]
        cox_rows = pd.DataFrame({
            "Hazard ratio": [_num(v) for v in cf["hazard_ratio"]],
            f"{conf} CI": [f"{_num(a)} to {_num(b)}" for a, b in zip(cf["hr_ci_low"],
                                                                    cf["hr_ci_high"], strict=True)],
            "p": [_p(v) for v in cf["p_value"]],
        }, index=cf["term"])
        html += table(cox_rows, caption="Cox regression" + (
                          "" if a is None else ", unweighted, adjusting for the characteristics "
                          "in the model") + ("" if self.episodes is None else
                                             f", time to the first of the "
                                             f"{self.episodes.label}"), total_rows=(),
                      note=f"Ties: {self.cox.ties}; concordance {self.cox.concordance:.2f}.")
        forest = forest_figure(
            pd.DataFrame({"term": cf["term"], "estimate": cf["hazard_ratio"],
                          "ci_low": cf["hr_ci_low"], "ci_high": cf["hr_ci_high"]}),
            title=f"Hazard ratios with {conf} CI", xlabel="Hazard ratio (log scale)")
        html += figure_block(forest, alt="Forest plot of hazard ratios: " + "; ".join(
            f"{t} {_num(h)} ({_num(a)} to {_num(b)})" for t, h, a, b in
            zip(cf["term"], cf["hazard_ratio"], cf["hr_ci_low"], cf["hr_ci_high"], strict=True))).html
        if self.subdistribution is not None:
            html += self._subdistribution_table()
        r = self.rmst
        rm = r.table.set_index("group")
        rrows = pd.DataFrame({
            "Average time without the event": [
                f"{_num(rm.loc[r.groups[1], 'rmst'], 1)}", f"{_num(rm.loc[r.groups[0], 'rmst'], 1)}",
                f"{_num(r.diff, 1)}"],
            f"{conf} CI": [
                f"{_num(rm.loc[r.groups[1], 'ci_low'], 1)} to {_num(rm.loc[r.groups[1], 'ci_high'], 1)}",
                f"{_num(rm.loc[r.groups[0], 'ci_low'], 1)} to {_num(rm.loc[r.groups[0], 'ci_high'], 1)}",
                f"{_num(r.diff_ci_low, 1)} to {_num(r.diff_ci_high, 1)}"]},
            index=[self.program_label.capitalize(), self.comparison_label.capitalize(),
                   "Difference"])
        html += table(rrows, caption=f"Restricted mean time without the event, first "
                      f"{r.tau:g} {self.time_unit}", total_rows=(),
                      note=f"Difference {_p(r.diff_p_value)}; ratio {_num(r.ratio)}.")
        return Block(html, text="Findings")

    def _subdistribution_table(self) -> str:
        """The cause-specific and the subdistribution hazard ratio of the program, side by side."""
        fg = self.subdistribution
        assert fg is not None
        conf = f"{self.cox.confidence:.0%}"
        c = self.cox.to_frame().iloc[0]
        f = fg.to_frame().iloc[0]
        other = self.competing or "other exits"
        rows = pd.DataFrame({
            "Hazard ratio": [_num(c["hazard_ratio"]), _num(f["shr"])],
            f"{conf} CI": [f"{_num(c['hr_ci_low'])} to {_num(c['hr_ci_high'])}",
                           f"{_num(f['shr_ci_low'])} to {_num(f['shr_ci_high'])}"],
            "p": [_p(float(c["p_value"])), _p(float(f["p_value"]))],
        }, index=["Cause-specific (Cox, above)", "Subdistribution (Fine–Gray)"])
        text = paragraphs(
            f"Youth can also leave follow-up for {other}, after which the event can no longer "
            "be seen. Two hazard ratios answer two questions. The cause-specific "
            f"hazard ratio (Cox) compares how fast youth who are still in follow-up "
            f"{self.event_label}: it speaks to how the program works. The subdistribution "
            "hazard ratio (Fine and Gray) compares how many youth have had the event by any "
            "time, counting those who left for other reasons as unable to have it: it matches "
            "the shares who had the event above and speaks to how many youth it happens to.")
        return text + table(rows, caption=f"{words.capitalize(self.program_label)} vs "
                            f"{self.comparison_label}: two hazard ratios", total_rows=(),
                            note=("Both adjust for the same characteristics. Fine–Gray as R "
                                  "cmprsk::crr (censoring weights from the Kaplan–Meier of the "
                                  "censoring times, sandwich standard errors)."))

    def _adjusted_table(self) -> str:
        """The weighted hazard ratio beside the unadjusted one (Findings, with ``adjust``)."""
        a = self.adjusted
        assert a is not None
        conf = f"{a.cox.confidence:.0%}"
        done = "weighting" if a.method == "weighting" else "matching"
        fits: tuple[tuple[str, Any], ...] = (
            (f"Unadjusted ({self.program_label} vs {self.comparison_label})", a.unadjusted),
            (f"Adjusted by {done} ({a.estimand})"
             + ("" if a.imputation is None else ", missing characteristics imputed"), a.cox))
        imp = a.imputation
        if imp is not None and imp.complete_case is not None:
            fits += ((f"Adjusted by {done}, complete cases only", imp.complete_case),)
        rows = pd.DataFrame({
            "Hazard ratio": [_num(f.to_frame().iloc[0]["hazard_ratio"]) for _, f in fits],
            f"{conf} CI": [f"{_num(f.to_frame().iloc[0]['hr_ci_low'])} to "
                           f"{_num(f.to_frame().iloc[0]['hr_ci_high'])}" for _, f in fits],
            "p": [_p(float(f.to_frame().iloc[0]["p_value"])) for _, f in fits],
        }, index=[words.capitalize(k) for k, _ in fits])
        ess = (f"Effective sample sizes after {done}: {a.ess['treated']:,.1f} youth in "
               f"{self.program_label} and {a.ess['control']:,.1f} in {self.comparison_label}.")
        return table(rows, caption="Hazard ratio of the program, adjusted and unadjusted",
                     total_rows=(), note=(
                         "Cox regression of the group alone on the same youth; adjusted: "
                         "weighted, with robust standard errors (as R coxph(weights = w, "
                         "robust = TRUE))"
                         + ("." if imp is None else
                            f", in each of {imp.m} imputed data sets, pooled by Rubin's rules "
                            "(as R mice::pool; fraction of missing information "
                            f"{imp.pooled.fmi:.2f}).") + f" {ess}"))

    @spoken
    def checks(self) -> Block:
        """'Checks': the proportional-hazards tests and what the estimators flagged.

        Returns
        -------
        Block
            The section's HTML (nothing computed when results are withheld).
        """
        if not self.reportable:
            return Block(paragraphs(
                f"The model checks are not shown: a group has fewer than {self.threshold} "
                "youth, and its tests would describe them."), text="Checks")
        t = self.ph.table
        shown = pd.DataFrame({"Chi-squared": [f"{v:.2f}" for v in t["chisq"]],
                              "df": t["df"].astype(int).astype(str).tolist(),
                              "p": [_p(v) for v in t["p_value"]]},
                             index=[words.capitalize(self.term_label(x)) if x != "GLOBAL"
                                    else "All together"
                                    for x in t["term"]])
        verdict = self.ph_verdict()
        balance = "" if self.adjusted is None else balance_section(
            self.adjusted, threshold=self.threshold, labels=self.labels,
            program_label=self.program_label.capitalize(),
            comparison_label=self.comparison_label, regression=False)
        return Block(balance + paragraphs(verdict) + table(
            shown, caption="Proportional-hazards test", total_rows=("All together",),
            note=f"Score test of each covariate's effect changing with time "
                 f"({self.ph.transform} transform), as R's cox.zph"
                 + ("." if self.adjusted is None else
                    ", on the unweighted Cox regression."))
            + cautions_html(self.cautions()), text="Checks")

    def ph_verdict(self) -> str:
        """What the proportional-hazards tests say, and what the headline does about it.

        Every term whose own test fails (its effect changes over time) is named.
        """
        t = self.ph.table.set_index("term")
        failing = self.ph_failing
        named = [f"{self.term_label(x).lower() if x == self.group else self.term_label(x)} "
                 f"({_p(float(t.loc[x, 'p_value']))})" for x in failing]
        glob = _p(self.ph.global_p)
        prog = self.ph_program_p
        if not failing and self.ph.global_p >= 0.05:
            return (f"No hazard ratio shows signs of changing over time (every term's test and "
                    f"the global test, {glob}, have p ≥ 0.05), so the Cox model's single "
                    "hazard ratio is a fair summary.")
        parts = []
        if failing:
            subject = "effects" if len(named) > 1 else "effect"
            parts.append(f"The {subject} on risk of {_join(named)} "
                         f"{words.agree(subject, 'changes')} over time (p < 0.05 in "
                         + ("their own tests): their hazard ratios average" if len(named) > 1
                            else "its own test): its hazard ratio averages")
                         + " over an effect that is not constant.")
        if self.ph_holds:
            parts.append(f"The program's own test ({_p(prog)}) and the global test ({glob}) "
                         "find no such change, so the program's single hazard ratio is kept as "
                         "the headline; the restricted mean time, which needs no such "
                         "assumption, is shown beside it.")
        else:
            which = (f"the global test ({glob})" if self.ph.global_p < 0.05 else
                     f"the program's own test ({_p(prog)})")
            parts.append(f"Because {which} rejects a constant hazard ratio, a single hazard "
                         "ratio would average over a changing effect, so the report leads with "
                         "the restricted mean time instead.")
        return " ".join(parts)

    @spoken
    def limitation_list(self) -> list[str]:
        """The design's limitations and the cautions that limit the conclusion.

        Returns
        -------
        list of str
            Sentences, also written to results.json.
        """
        items = [
            f"Youth were assigned to {self.program_label} or {self.comparison_label} at "
            "random, so the groups differed at entry only by chance." if self.randomized else
            f"Youth were not assigned to {self.program_label} at random: the hazard ratio "
            "adjusts for the characteristics in the model, not for others that may differ."
            if self.adjusted is None else
            f"Youth were not assigned to {self.program_label} at random: the weighting makes "
            "the groups alike on the characteristics listed, not on others that may differ.",
            "The curves assume that youth whose follow-up ended early had the same risk as "
            "those still followed.",
        ]
        if self.competing:
            items.append(f"In the Kaplan–Meier curves and the hazard ratio, youth who left for "
                         f"other reasons ({self.competing}) are treated as if they could still "
                         "have the event later: the curves show risk in the absence of those "
                         "exits"
                         + (", higher than the shares actually observed, which the cumulative "
                            "incidence table gives." if self.incidence is not None
                            and self.adjusted is None else
                            ", which is higher than the share who actually had the event."))
        if self.episodes is not None:
            items += self.episodes.limitations()
        return items + [str(c) for c in limiting(self.cautions())]

    @spoken
    def results_document(self) -> dict[str, Any]:
        """The method part of ``results.json``.

        It holds the headline (hazard ratio or restricted mean difference), every estimate that
        may be shown, counts and the proportional-hazards check.

        Returns
        -------
        dict
            The document :func:`evalkit.report.resultsdoc.write` writes.
        """
        hr = self.hr_row
        shown = self.reportable

        def val(x: float) -> float | None:
            return float(x) if shown else None

        r = self.rmst
        adj = self.adjusted
        if adj is not None:
            hr = adj.cox.to_frame().iloc[0]
            done = "weighting" if adj.method == "weighting" else "matching"
            headline: dict[str, Any] = {
                "estimand": f"hazard ratio (youth who {self.event_label}), "
                            f"{self.program_label} vs {self.comparison_label}, adjusted by "
                            f"{done} ({adj.estimand}) for {', '.join(adj.covariates)}",
                "estimate": val(hr["hazard_ratio"]), "ci_low": val(hr["hr_ci_low"]),
                "ci_high": val(hr["hr_ci_high"]), "p_value": val(hr["p_value"]),
                "units": "hazard ratio"}
        elif self.episodes is not None:
            hr = self.episodes.rate_row
            headline = {"estimand": f"rate ratio of all {self.episodes.label} (Andersen–Gill, "
                                    f"robust by youth), {self.program_label} vs "
                                    f"{self.comparison_label}",
                        "estimate": val(hr["hazard_ratio"]), "ci_low": val(hr["hr_ci_low"]),
                        "ci_high": val(hr["hr_ci_high"]), "p_value": val(hr["p_value"]),
                        "units": "rate ratio"}
        elif self.ph_holds:
            headline = {"estimand": f"hazard ratio (youth who {self.event_label}), "
                                    f"{self.program_label} vs {self.comparison_label}",
                        "estimate": val(hr["hazard_ratio"]), "ci_low": val(hr["hr_ci_low"]),
                        "ci_high": val(hr["hr_ci_high"]), "p_value": val(hr["p_value"]),
                        "units": "hazard ratio"}
        else:
            headline = {"estimand": f"difference in restricted mean time without the event "
                                    f"to {r.tau:g} {self.time_unit}",
                        "estimate": val(r.diff), "ci_low": val(r.diff_ci_low),
                        "ci_high": val(r.diff_ci_high), "p_value": val(r.diff_p_value),
                        "units": self.time_unit}
        headline.update({
            "alpha": self.cox.alpha,
            "n": self.cox.n if shown and self.totals_shown()["followed"] else None,
            "n_unit": self.population.plural,
            "effect_size": {"name": "hazard_ratio" if self.episodes is None else "rate_ratio",
                            "estimate": val(hr["hazard_ratio"]),
                            "ci_low": val(hr["hr_ci_low"]), "ci_high": val(hr["hr_ci_high"])},
            "suppressed": not shown,
            "digits": 2 if self.ph_holds or adj or self.episodes is not None else 1,
        })
        estimates = []
        if shown:
            if adj is not None:
                for label, fit in (("weighted", adj.cox), ("unadjusted", adj.unadjusted)):
                    for rec in shown_frame(fit).to_dict("records"):
                        estimates.append({**rec, "term": f"{label} hazard ratio: {rec['term']}"})
            if self.episodes is not None:
                for rec in shown_frame(self.episodes.rate).to_dict("records"):
                    estimates.append({**rec, "term": f"rate ratio: {rec['term']}"})
            for res in (self.cox, self.rmst):
                estimates += shown_frame(res).to_dict("records")
            for _, row in self.curves.at(self.times).iterrows():
                if not self.share_shown(row["group"], row["time"]):
                    continue
                estimates.append({"term": ("weighted " if adj is not None else "")
                                  + f"survival at {row['time']:g} ({self._label(row['group'])})",
                                  "estimate": row["surv"], "ci_low": row["ci_low"],
                                  "ci_high": row["ci_high"]})
            if self.incidence is not None:
                ci = self.incidence.at(self.times)
                for _, row in ci[ci["cause"].astype(str) == str(self.cause)].iterrows():
                    if not self.share_shown(row["group"], row["time"]):
                        continue
                    estimates.append({"term": f"cumulative incidence at {row['time']:g} "
                                              f"({self._label(row['group'])})",
                                      "estimate": row["estimate"], "ci_low": row["ci_low"],
                                      "ci_high": row["ci_high"]})
        counts, mask = self.counts.counts, self.counts.mask
        sample: dict[str, int | None] = {}
        hidden: list[str] = []
        for col, prefix in zip(counts.columns, ("program", "comparison", "all"), strict=True):
            for row, name in zip(counts.index, ("events", "censored", "followed"), strict=True):
                key = f"{prefix}_{name}"
                if mask.loc[row, col]:
                    sample[key] = None
                    hidden.append(key)
                else:
                    sample[key] = int(counts.loc[row, col])
        doc = resultsdoc.build(
            design=self.design(),
            outcome=({"name": self.duration, "label": f"time to event (youth who "
                      f"{self.event_label})", "units": self.time_unit,
                      "lower_is_better": False} if self.episodes is None else
                     {"name": self.episodes.label, "label": f"{self.episodes.label} per "
                      "youth (repeated episodes)", "units": "rate ratio",
                      "lower_is_better": self.lower_is_better}),
            headline=headline, estimates=estimates, sample=sample, suppressed=hidden,
            finding=self.headline(), evidence=self.evidence(),
            limitations=self.limitation_list(), cautions=self.cautions(),
        )
        doc["checks"] = {"proportional_hazards": {
            "global_chisq": float(self.ph.table.iloc[-1]["chisq"]),
            "global_p": self.ph.global_p, "program_p": self.ph_program_p,
            "failing_terms": [self.term_label(x) for x in self.ph_failing],
            "holds": self.ph_holds}}
        if adj is not None and shown:
            doc["checks"]["covariate_balance"] = covariate_balance(adj, threshold=self.threshold)
        if self.episodes is not None and shown:
            doc["checks"]["episodes"] = self.episodes.results()
        if self.subdistribution is not None and shown:
            f = self.subdistribution.to_frame().iloc[0]
            doc["checks"]["subdistribution"] = {
                "term": str(f["term"]), "shr": float(f["shr"]),
                "ci_low": float(f["shr_ci_low"]), "ci_high": float(f["shr_ci_high"]),
                "p_value": float(f["p_value"]), "cause": self.subdistribution.cause}
        return doc

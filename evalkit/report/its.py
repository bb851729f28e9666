"""Report sections for an interrupted time series: one jurisdiction's series around a change.

:class:`ItsReport` words and draws the results of
:func:`evalkit.methods.policy.its.interrupted_time_series` and its placebo refit
(:func:`~evalkit.methods.policy.its.placebo_its`): the series with the intervention marked, the
fitted trend before it and its continuation (the counterfactual), the level and slope changes
(as rate ratios for counts), the residual autocorrelation and the placebo date.

Privacy: the series is one jurisdiction's aggregate, so period labels (months, weeks) may be
shown, but a count below the privacy threshold may not. When the outcome is a count (a count
family, or whole numbers), the observed value of any period below the threshold is left out of
the figure, and no total or average that would give it away is printed anywhere (body,
appendix, ``results.json``); the model's fitted values are not counts and are shown. Period
labels are written in words ("January 2022"), never as the data write them.

The module runs past 600 lines because its one class writes every section of the report, as
the other designs' report modules do; the series' columns and periods are read in
:mod:`evalkit.methods.policy.its_columns`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evalkit.methods.policy.its import InterruptedTimeSeries
from evalkit.methods.policy.its_columns import (
    COUNT_FAMILIES,
    OFFSET_COLUMN,
    its_columns,
    its_data,
    parsed_periods,
    period_labels,
    period_word,
)
from evalkit.privacy import is_reportable
from evalkit.report import resultsdoc, words
from evalkit.report.base import Report
from evalkit.report.common import cautions_html, collect_cautions, interval, shown_frame
from evalkit.report.common import num as _num
from evalkit.report.common import p_text as _p
from evalkit.report.evidence import rate
from evalkit.report.figures import figure_block
from evalkit.report.figures_policy import acf_figure, its_series_figure
from evalkit.report.html import Block, paragraphs, table
from evalkit.report.words import Population, capitalize
from evalkit.results import Caution, jsonable, limiting

__all__ = ["ItsReport", "its_design", "its_columns", "its_data", "OFFSET_COLUMN"]

def its_design(unit_label: str = "county", intervention_label: str = "the intervention"
               ) -> dict[str, str]:
    """Design code and label of an interrupted time series (results.json ``design``)."""
    return {"code": "interrupted_time_series",
            "label": f"One {unit_label}'s series before and after {intervention_label} "
                     "(interrupted time series, no comparison series)"}


@dataclass
class ItsReport(Report):
    """The sections of an interrupted time series report.

    Parameters
    ----------
    data
        The validated series, one row per period.
    its
        :func:`~evalkit.methods.policy.its.interrupted_time_series` of the whole series.
    placebo
        :func:`~evalkit.methods.policy.its.placebo_its` (same options), or ``None`` when the
        pre-period is too short for it (``placebo_error`` then says why).
    outcome, time
        Column names.
    outcome_label, units
        The outcome in words and its units ("per month").
    intervention_label
        The intervention ("the screening protocol").
    unit_label
        The jurisdiction ("county").
    lower_is_better
        Direction of the outcome.
    offset_column
        The population column whose log is the offset (``None`` for none), for the wording.
    threshold
        The privacy threshold: observed counts below it are not shown.
    population
        What the people counted are called (``population_label``).
    labels
        Display names of columns.
    study_design
        Only ``"policy adoption"`` (the default) fits this report.
    placebo_error
        Why the placebo could not be fitted, when ``placebo`` is ``None``.
    """

    data: pd.DataFrame
    its: InterruptedTimeSeries
    placebo: InterruptedTimeSeries | None
    outcome: str
    time: str
    outcome_label: str = "the outcome"
    units: str = ""
    intervention_label: str = "the intervention"
    unit_label: str = "county"
    lower_is_better: bool = False
    offset_column: str | None = None
    threshold: int = 11
    population: Any = None
    labels: Any = None
    study_design: str | None = None
    placebo_error: str = ""

    def __post_init__(self) -> None:
        self.labels = dict(self.labels or {})
        self.population = Population.of(self.population)
        # a series around a policy or protocol is a policy-adoption design, as for did
        self.study_design = words.design_of(self.study_design, template="did")
        if self.study_design != "policy adoption":
            raise ValueError(f"design {self.study_design!r} does not fit an interrupted time "
                             "series (use 'policy adoption')")

    # -- facts -------------------------------------------------------------------------------
    @property
    def counts(self) -> bool:
        """Whether the outcome is a count (a count family, or whole numbers in every period)."""
        y = self.its.series["observed"].to_numpy(float)
        return self.its.family in COUNT_FAMILIES or bool(np.all(y == np.round(y)))

    @functools.cached_property
    def hidden(self) -> np.ndarray:
        """Periods whose observed count is below the privacy threshold (not shown)."""
        y = self.its.series["observed"].to_numpy(float)
        if not self.counts:
            return np.zeros(len(y), dtype=bool)
        return np.array([not is_reportable(round(v), self.threshold) for v in y])

    @functools.cached_property
    def labels_(self) -> pd.Series:
        """Each period of the fitted series in words."""
        return period_labels(self.its.series["time"]).reset_index(drop=True)

    @functools.cached_property
    def period(self) -> str:
        """What one period is: "month", "week", "year" or "period"."""
        return period_word(self.its.series["time"])

    @property
    def start_label(self) -> str:
        """The first intervention period in words."""
        return str(self.labels_.iloc[self.its.n_pre])

    def placebo_label(self) -> str:
        """The placebo period in words ('' without a placebo)."""
        if self.placebo is None:
            return ""
        return str(self.labels_.iloc[self.placebo.n_pre])

    @property
    def ratio(self) -> bool:
        """Whether the changes are rate ratios (count families)."""
        return self.its.rate_ratio is not None

    @property
    def placebo_p(self) -> float | None:
        """p-value of the placebo level change (``None`` without a placebo)."""
        return None if self.placebo is None else float(self.placebo.level.p_value)

    def _conf(self) -> str:
        return f"{self.its.confidence:.0%}"

    def _change(self, term: Any, *, per_period: bool = False, digits: int = 2,
                inner: bool = False) -> str:
        """A level or slope change with its interval, as the tables print it.

        ``inner``: for text already in parentheses ("rate ratio 1.002, 95% CI ...").
        """
        per = f" per {self.period}" if per_period else ""
        what = (f"rate ratio {_num(term.estimate, digits)}{per}" if self.ratio else
                f"{_num(term.estimate, digits)} {self.units}{per}".replace("  ", " "))
        ci = f"{self._conf()} CI {interval(term.ci_low, term.ci_high, digits)}"
        return f"{what}, {ci}" if inner else f"{what} ({ci})"

    def design(self) -> dict[str, str]:
        """Design code and label (results.json ``design``; see :func:`its_design`).

        Returns
        -------
        dict
            ``{"code": "interrupted_time_series", "label": ...}``.
        """
        return its_design(self.unit_label, self.intervention_label)

    def cautions(self) -> tuple[str, ...]:
        """The model's cautions, then the placebo fit's (which inform, not limit).

        Returns
        -------
        tuple of str
            Each caution once, small counts of people redacted.
        """
        placebo = [] if self.placebo is None else [
            Caution(f"Placebo fit: {c}", limits=False) for c in self.placebo.cautions]
        extra = [Caution(f"Placebo fit: {self.placebo_error}", limits=False)] \
            if self.placebo is None and self.placebo_error else []
        holder = _Cautions(tuple(placebo + extra))
        return collect_cautions([self.its, holder], threshold=self.threshold,
                                people=self.population.words())

    def evidence(self) -> dict[str, Any]:
        """Evidence rating and its reasons (rule ``interrupted_time_series``).

        Returns
        -------
        dict
            ``{"rating", "label", "reasons"}`` (see :mod:`evalkit.report.evidence`).
        """
        return rate("interrupted_time_series",
                    {"n_pre": self.its.n_pre, "n_post": self.its.n_post,
                     "placebo_p": self.placebo_p, "placebo_label": self.placebo_label(),
                     "unit_label": self.unit_label, "period": self.period,
                     "intervention_label": self.intervention_label},
                    collect_cautions([self.its], threshold=self.threshold,
                                     people=self.population.words()))

    def headline(self) -> str:
        """The change at the intervention, its direction and interval, in one sentence.

        Returns
        -------
        str
            The report's opening sentence, with what the design cannot rule out.
        """
        lv = self.its.level
        conf = self._conf()
        start = f"when {self.intervention_label} started ({self.start_label})"
        null = 1.0 if self.ratio else 0.0
        est = self.its.rate_ratio if self.ratio else lv
        assert est is not None
        if not (math.isfinite(est.ci_low) and math.isfinite(est.ci_high)):
            what = (f"{self.outcome_label} changed {start}, but no confidence interval could "
                    "be computed (see the cautions under Checks), so the change cannot be "
                    "judged")
        elif est.ci_low <= null <= est.ci_high:
            what = (f"the data show no clear change in {self.outcome_label} {start}, desired "
                    f"or unwanted: {self._change(est)}")
        else:
            way = words.direction(est.estimate, self.lower_is_better, ci_low=est.ci_low,
                                  ci_high=est.ci_high, null=null)
            verb = "fell" if est.estimate < null else "rose"
            if self.ratio:
                size, ci = words.percent_parts(lv.estimate, lv.ci_low, lv.ci_high,
                                               self.its.confidence)
                what = f"{self.outcome_label} {verb} by {size} ({ci}) {start}, {way}"
            else:
                what = (f"{self.outcome_label} {verb} by {_num(abs(est.estimate))} "
                        f"{self.units} ({conf} CI {_num(est.ci_low)} to {_num(est.ci_high)}) "
                        f"{start}, {way}").replace("  ", " ")
        slope = ""
        sl = self.its.slope_rate_ratio if self.ratio else self.its.slope
        if sl is not None and math.isfinite(sl.ci_low) and math.isfinite(sl.ci_high):
            slope = (" The trend afterwards did not change clearly" if sl.ci_low <= null
                     <= sl.ci_high else " The trend afterwards also changed") + \
                f" ({self._change(sl, per_period=True, digits=3, inner=True)})."
        return (f"In the {self.unit_label}'s series, {what}.{slope} With no comparison series, "
                "a change at the same time in anything else (another policy, how cases are "
                "recorded) would look the same.")

    # -- sections ----------------------------------------------------------------------------
    def glance_items(self) -> dict[str, str]:
        """Key facts of *At a glance*: design, the two changes, the placebo and the periods.

        Returns
        -------
        dict
            Label → value.
        """
        items = {"Design": self.design()["label"],
                 f"Change when {self.intervention_label} started":
                     self._change(self.its.rate_ratio if self.ratio else self.its.level)}
        sl = self.its.slope_rate_ratio if self.ratio else self.its.slope
        if sl is not None:
            items[f"Change in the trend per {self.period}"] = self._change(sl, digits=3)
        if self.placebo is not None:
            pl = self.placebo.rate_ratio if self.ratio else self.placebo.level
            items[f"Placebo date ({self.placebo_label()})"] = (
                f"{self._change(pl)}, {_p(self.placebo.level.p_value)}")
        items["Periods"] = (f"{self.its.n_pre} {self.period}s before, {self.its.n_post} from "
                            f"{self.start_label} on")
        return items

    def default_question(self) -> str:
        """The default question: did the outcome change at the start, beyond its trend.

        Returns
        -------
        str
            The question.
        """
        return (f"Did {self.outcome_label} in the {self.unit_label} change when "
                f"{self.intervention_label} started, beyond what its earlier trend and "
                "seasonal pattern would predict?")

    def data_section(self) -> Block:
        """'The data': the periods covered and, where no count is hidden, totals by part.

        Returns
        -------
        Block
            The section's HTML.
        """
        its = self.its
        first, last = self.labels_.iloc[0], self.labels_.iloc[-1]
        lines = [f"One {self.unit_label}'s series of {self.outcome_label}: {its.n} "
                 f"{self.period}s from {first} to {last}, {its.n_pre} before "
                 f"{self.intervention_label} started ({self.start_label}) and {its.n_post} "
                 "from then on. The data are aggregate "
                 + ("counts" if self.counts else "values") + f" for the whole {self.unit_label}"
                 f"; no individual {self.population.singular} appears in them."]
        if self.offset_column:
            lines.append(f"The {self.unit_label}'s population "
                         f"({words.label(self.offset_column, self.labels)}) enters the model "
                         "so that changes in population are not mistaken for changes in the "
                         "rate.")
        n_hidden = int(self.hidden.sum())
        y = its.series["observed"].to_numpy(float)
        post = its.series["post"].to_numpy(bool)
        parts = {f"Before {self.intervention_label}": ~post,
                 f"From {self.start_label} on": post}
        rows: dict[str, dict[str, str]] = {}
        for name, m in parts.items():
            row = {f"{capitalize(self.period)}s": str(int(m.sum()))}
            if n_hidden == 0:
                if self.counts:
                    row["Total"] = f"{int(round(y[m].sum())):,}"
                row[f"Average per {self.period}"] = _num(float(y[m].mean()), 1)
                row["Lowest"] = _num(float(y[m].min()), 0 if self.counts else 2)
                row["Highest"] = _num(float(y[m].max()), 0 if self.counts else 2)
            rows[name] = row
        note = None
        if n_hidden:
            note = (f"In {n_hidden} {self.period}{'s' * (n_hidden > 1)} the count was below "
                    f"the privacy threshold of {self.threshold}: those counts are not shown, "
                    "and neither are totals or averages that would give them away.")
        html = paragraphs(*lines) + table(
            pd.DataFrame.from_dict(rows, orient="index"),
            caption=f"{capitalize(self.outcome_label)} ({self.units})".replace(" ()", "")
            if self.units else capitalize(self.outcome_label), total_rows=(), note=note)
        return Block(html, text="The data")

    def method_section(self) -> Block:
        """'How it was evaluated': segmented regression, the counterfactual and the checks.

        Returns
        -------
        Block
            The section's HTML.
        """
        its = self.its
        fam = {"quasipoisson": "a quasi-Poisson regression of the counts (a Poisson model "
                               "whose standard errors allow the counts to vary more than "
                               "Poisson counts do)",
               "poisson": "a Poisson regression of the counts",
               "gaussian": "a linear regression"}[its.family]
        seasonal = (f" It also models a seasonal pattern ({its.harmonics} pair"
                    f"{'s' * (its.harmonics > 1)} of sine and cosine terms repeating every "
                    f"{its.period:g} {self.period}s)." if its.harmonics else "")
        offset = (" The log of the population is an offset, so the model describes the rate "
                  "per person and the changes are rate ratios." if its.offset else
                  " Changes are rate ratios." if self.ratio else "")
        hac = (f" Standard errors allow for autocorrelation up to {its.hac_lags} "
               f"{self.period}s (Newey–West)." if its.hac_lags is not None else "")
        return Block(paragraphs(
            f"The {_SERIES.get(self.period, '')}series is fitted with {fam}: a trend before "
            f"{self.intervention_label}, a step (change in level) when it started, and a change "
            f"in the trend from then on (segmented regression; Wagner et al. 2002, Lopez "
            f"Bernal et al. 2017).{seasonal}{offset}{hac}",
            f"What would have happened without {self.intervention_label} is estimated by "
            f"continuing the trend (and seasonal pattern) of the {its.n_pre} {self.period}s "
            "before it; the effect is the difference between what was observed and that "
            "continuation.",
            "Two checks follow: whether the model's residuals are still correlated from one "
            f"{self.period} to the next (the autocorrelation function and the Ljung–Box test), "
            "which would make the intervals too narrow; and a placebo date in the middle of "
            f"the period before {self.intervention_label}, where the same model should find "
            "no change.",
            f"Assumptions: without {self.intervention_label} the earlier trend would have "
            "continued, and nothing else that affects the outcome changed at the same time. "
            "There is no comparison series to check the second assumption.",
        ), text="How it was evaluated")

    def series_figure(self):
        """The series, the fitted model and its counterfactual, intervention marked.

        Observed values below the privacy threshold are not drawn.

        Returns
        -------
        matplotlib.figure.Figure
            :func:`~evalkit.report.figures_policy.its_series_figure`.
        """
        s = self.its.series
        obs = s["observed"].to_numpy(float).copy()
        obs[self.hidden] = np.nan
        frame = pd.DataFrame({"x": s["index"].to_numpy(float), "post": s["post"],
                              "observed": obs, "fitted": s["fitted"],
                              "counterfactual": s["counterfactual"]})
        ticks, tick_labels = self._ticks()
        n_hidden = int(self.hidden.sum())
        note = (f"Observed values of {n_hidden} {self.period}{'s' * (n_hidden > 1)} below the "
                f"privacy threshold of {self.threshold} are not drawn." if n_hidden else "")
        return its_series_figure(frame, ticks=ticks, tick_labels=tick_labels,
                                 intervention_label=f"{self.intervention_label} "
                                                    f"({self.start_label})",
                                 outcome_label=self.outcome_label,
                                 units=self.units, hidden_note=note)

    def _ticks(self) -> tuple[list[float], list[str]]:
        """Tick positions and labels: the first period of each year, by its year."""
        s = self.its.series
        p = parsed_periods(s["time"].reset_index(drop=True))
        idx = s["index"].to_numpy(float)
        if pd.api.types.is_datetime64_any_dtype(p):
            years = pd.DatetimeIndex(p).year
            first = np.flatnonzero(np.r_[True, np.diff(years) != 0])
            step = max(1, int(math.ceil(len(first) / 12)))
            first = first[::step]
            return [float(idx[i]) for i in first], [str(years[i]) for i in first]
        k = max(1, int(math.ceil(len(idx) / 10)))
        return [float(v) for v in idx[::k]], [f"{v:g}" for v in p.to_numpy(float)[::k]]

    def findings(self) -> Block:
        """'Findings': the series figure and the table of level and slope changes.

        Returns
        -------
        Block
            The section's HTML.
        """
        its = self.its
        conf = self._conf()
        shown = int((~self.hidden).sum())
        alt = (f"{capitalize(self.outcome_label)} by {self.period}, {self.labels_.iloc[0]} to "
               f"{self.labels_.iloc[-1]} ({shown} observed {self.period}s drawn), with the "
               f"fitted model and, from {self.start_label}, the earlier trend continued as a "
               f"dashed line; {self.intervention_label} marked by a dotted vertical line. "
               f"Change at the start: {self._change(its.rate_ratio if self.ratio else its.level)}.")
        html = figure_block(self.series_figure(), alt=alt, caption=(
            f"Points: observed {self.period}s (grey before, blue after). Solid lines: the "
            "fitted model. Dashed: the trend before, continued as if nothing had changed — "
            "the gap between the solid and dashed lines after the start is the estimated "
            "effect.")).html
        rows: dict[str, dict[str, str]] = {}
        terms = [(f"Change in level when {self.intervention_label} started", its.level,
                  its.rate_ratio, 2),
                 (f"Change in the trend per {self.period} from then on", its.slope,
                  its.slope_rate_ratio, 3),
                 (f"Trend per {self.period} before", its.trend, None, 3)]
        for name, term, rr, dg in terms:
            if term is None:
                continue
            if self.ratio:
                e = rr if rr is not None else _exp(term)
                rows[name] = {"Rate ratio": _num(e.estimate, dg),
                              f"{conf} CI": interval(e.ci_low, e.ci_high, dg),
                              "Change in percent": _pct_range(term), "p-value": _p(term.p_value)}
            else:
                rows[name] = {f"Estimate ({self.units})" if self.units else "Estimate":
                              _num(term.estimate, dg),
                              f"{conf} CI": interval(term.ci_low, term.ci_high, dg),
                              "p-value": _p(term.p_value)}
        what = {"quasipoisson": "quasi-Poisson", "poisson": "Poisson",
                "gaussian": "linear"}[its.family]
        note = (f"{capitalize(what)} segmented regression of {its.n} {self.period}s"
                + (f" with {its.harmonics} seasonal harmonic pair"
                   f"{'s' * (its.harmonics > 1)}" if its.harmonics else "")
                + ("; rate ratios above 1 are increases" if self.ratio else "")
                + (f"; Newey–West standard errors with {its.hac_lags} lags" if its.hac_lags
                   is not None else "") + ".")
        html += table(pd.DataFrame.from_dict(rows, orient="index"),
                      caption=f"Changes in {self.outcome_label} at {self.intervention_label}",
                      total_rows=(), note=note)
        html += paragraphs(self._effect_words())
        return Block(html, text="Findings")

    def _effect_words(self) -> str:
        """The level and slope changes in a sentence each, for readers."""
        its = self.its
        null = 1.0 if self.ratio else 0.0
        out = []
        lv = its.rate_ratio if self.ratio else its.level
        assert lv is not None
        clear = not (lv.ci_low <= null <= lv.ci_high)
        if self.ratio and clear:
            size, ci = words.percent_parts(its.level.estimate, its.level.ci_low,
                                           its.level.ci_high, its.confidence)
            out.append(f"When {self.intervention_label} started, {self.outcome_label} "
                       f"{'rose' if lv.estimate > 1 else 'fell'} by {size} ({ci}) compared "
                       "with the earlier trend.")
        else:
            change = (self._change(lv).replace("rate ratio ", "a rate ratio of ", 1)
                      if self.ratio else self._change(lv))
            out.append(f"When {self.intervention_label} started, {self.outcome_label} changed "
                       f"by {change} compared with the earlier trend"
                       + ("" if clear else ", a change the data cannot tell from none") + ".")
        sl = its.slope_rate_ratio if self.ratio else its.slope
        if sl is not None:
            flat = sl.ci_low <= null <= sl.ci_high
            out.append(f"After that, the trend per {self.period} "
                       + ("did not change clearly" if flat else "changed") + " ("
                       + self._change(sl, digits=3, inner=True) + ").")
        return " ".join(out)

    def acf_figure(self):
        """The residual autocorrelation function with its chance band.

        Returns
        -------
        matplotlib.figure.Figure
            :func:`~evalkit.report.figures_policy.acf_figure`.
        """
        return acf_figure(self.its.autocorrelation.acf, n=self.its.n,
                          confidence=self.its.confidence)

    def checks(self) -> Block:
        """'Checks': residual autocorrelation (figure and Ljung–Box), the placebo date, cautions.

        Returns
        -------
        Block
            The section's HTML.
        """
        its = self.its
        auto = its.autocorrelation
        lb = auto.ljung_box
        ok = lb.p_value >= its.alpha
        text = (f"Autocorrelation: after the model, one {self.period}'s residual "
                + ("shows no clear relation to the next ones" if ok else
                   "is still related to the next ones")
                + f" (Ljung–Box test of the {auto.residuals} residuals up to lag {lb.df:g}: "
                f"Q = {lb.statistic:.2f}, {_p(lb.p_value)})."
                + (" The intervals assume independent periods, which this supports." if ok
                   else " The intervals assume independent periods and may be too narrow."))
        if its.dispersion is not None:
            text += (f" The counts vary {its.dispersion:.2f} times as much as a Poisson model "
                     "expects" + ("; the quasi-Poisson standard errors allow for this."
                                  if its.family == "quasipoisson" else "."))
        acf = auto.acf
        alt = ("Residual autocorrelation by lag: " + "; ".join(
            f"lag {int(k)}: {v:.2f}" for k, v in acf.items()))
        html = paragraphs(text) + figure_block(self.acf_figure(), alt=alt, caption=(
            "Bars inside the dashed band are what chance alone would give.")).html
        html += self._placebo_html()
        return Block(html + cautions_html(self.cautions()), text="Checks")

    def _placebo_html(self) -> str:
        if self.placebo is None:
            return paragraphs("Placebo date: no placebo model could be fitted"
                              + (f" ({self.placebo_error})" if self.placebo_error else "")
                              + ", so this check is missing.")
        pl = self.placebo
        p = pl.level.p_value
        verdict = ("finds no clear change there, as it should" if p >= 0.05 else
                   "finds a change there although nothing started then: the model's trend "
                   "or seasonality may not fit the series, or something else changed")
        text = (f"Placebo date: the same model fitted to the {self.its.n_pre} {self.period}s "
                f"before {self.intervention_label} only, with a pretend start in "
                f"{self.placebo_label()}, {verdict} ({_p(p)} for the change in level).")
        conf = self._conf()
        rows: dict[str, dict[str, str]] = {}
        for name, term, rr, dg in (("Change in level", pl.level, pl.rate_ratio, 2),
                                   (f"Change in the trend per {self.period}", pl.slope,
                                    pl.slope_rate_ratio, 3)):
            if term is None:
                continue
            e = rr if rr is not None else term
            rows[name] = {("Rate ratio" if self.ratio else "Estimate"): _num(e.estimate, dg),
                          f"{conf} CI": interval(e.ci_low, e.ci_high, dg),
                          "p-value": _p(term.p_value)}
        return paragraphs(text) + table(
            pd.DataFrame.from_dict(rows, orient="index"),
            caption=f"Placebo start in {self.placebo_label()} (no change expected)",
            total_rows=())

    def limitation_list(self) -> list[str]:
        """The design's limitations and the cautions that limit the conclusion.

        Returns
        -------
        list of str
            Sentences, also written to results.json.
        """
        return [
            f"There is no comparison series: anything else that changed in the "
            f"{self.unit_label} when {self.intervention_label} started (another policy, "
            "publicity, how cases are found or recorded) would look like an effect.",
            f"The counterfactual continues the trend and seasonal pattern of the "
            f"{self.its.n_pre} {self.period}s before; the further past the start, the more "
            "the estimate rests on that trend holding.",
            f"The data are one {self.unit_label}'s aggregate "
            + ("counts" if self.counts else "values")
            + ": they say nothing about which "
            f"{self.population.plural} were affected or how.",
        ] + [str(c) for c in limiting(self.cautions())]

    def appendix_results(self) -> list[Any]:
        """The appendix's estimates: the model's terms, every coefficient, the placebo's.

        Returns
        -------
        list
            Results and ``(title, frame)`` pairs; none holds an observed count.
        """
        its = self.its
        out: list[Any] = [its, (f"{its._title}: every coefficient (log scale)" if self.ratio
                                else f"{its._title}: every coefficient",
                                its.coefficients)]
        if self.placebo is not None:
            out.append((f"Placebo start in {self.placebo_label()}",
                        shown_frame(self.placebo)))
        return out

    def results_document(self) -> dict[str, Any]:
        """The method part of ``results.json``.

        The headline is the level change (a rate ratio for counts); the estimates hold level,
        slope and trend on the model's scale and as rate ratios; the checks hold the
        autocorrelation, the placebo and the periods hidden for privacy.

        Returns
        -------
        dict
            The document :func:`evalkit.report.resultsdoc.write` writes.
        """
        its = self.its
        lv = its.rate_ratio if self.ratio else its.level
        assert lv is not None
        headline: dict[str, Any] = {
            "estimand": (f"change in level of {self.outcome_label} when "
                         f"{self.intervention_label} started"
                         + (" (rate ratio, segmented regression)" if self.ratio else
                            " (segmented regression)")),
            "estimate": lv.estimate, "ci_low": lv.ci_low, "ci_high": lv.ci_high,
            "alpha": its.alpha, "p_value": its.level.p_value, "n": its.n,
            "n_unit": f"{self.period}s",
            "units": "rate ratio" if self.ratio else self.units,
            "effect_size": None, "suppressed": False, "digits": 2,
        }
        if self.ratio:
            headline["percent_change"] = {
                "estimate": words.percent_change(its.level.estimate),
                "ci_low": words.percent_change(its.level.ci_low),
                "ci_high": words.percent_change(its.level.ci_high)}
        estimates = shown_frame(its).to_dict("records")
        for name, rr in (("level", its.rate_ratio), ("slope", its.slope_rate_ratio)):
            if rr is not None:
                estimates.append({"term": f"{name} (rate ratio)", "estimate": rr.estimate,
                                  "se": None, "ci_low": rr.ci_low, "ci_high": rr.ci_high,
                                  "p_value": rr.p_value})
        if self.placebo is not None:
            estimates += [{**e, "term": f"placebo {e['term']}"}
                          for e in shown_frame(self.placebo).to_dict("records")]
        n_hidden = int(self.hidden.sum())
        doc = resultsdoc.build(
            design=self.design(),
            outcome={"name": self.outcome, "label": self.outcome_label, "units": self.units,
                     "lower_is_better": self.lower_is_better},
            headline=headline, estimates=estimates,
            sample={f"{self.period}s": its.n, f"{self.period}s_before": its.n_pre,
                    f"{self.period}s_after": its.n_post,
                    f"{self.period}s_below_threshold": n_hidden},
            suppressed=([f"observed counts of {n_hidden} {self.period}s below the privacy "
                         "threshold"] if n_hidden else []),
            finding=self.headline(), evidence=self.evidence(),
            limitations=self.limitation_list(), cautions=self.cautions(),
        )
        lb = its.autocorrelation.ljung_box
        doc["checks"] = {
            "autocorrelation": {"residuals": its.autocorrelation.residuals,
                                "acf": [float(v) for v in its.autocorrelation.acf],
                                "ljung_box": {"statistic": lb.statistic, "df": lb.df,
                                              "p_value": lb.p_value}},
            "placebo": None if self.placebo is None else {
                "period": self.placebo_label(), "n_pre": self.placebo.n_pre,
                "n_post": self.placebo.n_post,
                "level": jsonable(vars(self.placebo.level)),
                "rate_ratio": (None if self.placebo.rate_ratio is None
                               else jsonable(vars(self.placebo.rate_ratio))),
                "no_change": bool(self.placebo.level.p_value >= 0.05)},
            "dispersion": its.dispersion,
            "periods": {"before": its.n_pre, "after": its.n_post, "unit": self.period,
                        "start": self.start_label},
            "family": its.family, "harmonics": its.harmonics,
        }
        return jsonable(doc)


@dataclass(frozen=True)
class _Cautions:
    """A holder of cautions for :func:`~evalkit.report.common.collect_cautions`."""

    cautions: tuple[str, ...]


#: The series' adjective by period ("The monthly series"); other periods get none.
_SERIES = {"month": "monthly ", "week": "weekly ", "year": "yearly "}


def _exp(term: Any) -> Any:
    """A log-scale term as a ratio (estimate and interval exponentiated)."""
    from evalkit.methods.policy.its import ItsTerm

    return ItsTerm(math.exp(term.estimate), math.nan, math.exp(term.ci_low),
                   math.exp(term.ci_high), term.p_value)


def _pct_range(term: Any) -> str:
    """A log-scale change as a signed percentage with its interval ("+29% (+10% to +52%)")."""
    vals = [words.percent_change(v) for v in (term.estimate, term.ci_low, term.ci_high)]
    # one decimal when a value would otherwise print as a signed zero ("−0%")
    digits = 0 if any(abs(v) >= 0.01 for v in vals) and not any(
        0 < abs(v) < 0.005 for v in vals) else 1

    def f(v: float) -> str:
        return f"{100 * v:+.{digits}f}%".replace("-", "−")

    if math.isnan(vals[1]) or math.isnan(vals[2]):
        return f"{f(vals[0])} (interval not estimable)"
    return f"{f(vals[0])} ({f(vals[1])} to {f(vals[2])})"

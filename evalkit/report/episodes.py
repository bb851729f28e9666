"""The repeated-episodes part of a time-to-event report (the survival template's ``episodes``).

:class:`EpisodeFindings` words and draws what :func:`~evalkit.methods.recurrent.mean_cumulative_function`
and an Andersen–Gill :func:`~evalkit.methods.cox.cox` found on ``(start, stop]`` rows: how many
episodes youth had on average by each configured day, and the rate ratio of all episodes with
standard errors robust to a youth's episodes being alike. :class:`~evalkit.report.survival.SurvivalReport`
places these in its sections; the time to the first episode stays the report's own subject.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from evalkit import privacy
from evalkit.methods.cox import CoxResult
from evalkit.methods.recurrent import MeanCumulative
from evalkit.report import words
from evalkit.report.common import num as _num
from evalkit.report.common import p_text as _p
from evalkit.report.figures import figure_block, mcf_figure, time_tick_step
from evalkit.report.html import esc, paragraphs, table

__all__ = ["EpisodeFindings"]


@dataclass
class EpisodeFindings:
    """What the report says about repeated episodes.

    Parameters
    ----------
    intervals
        The ``(start, stop]`` rows (:attr:`evalkit.methods.episodes.EpisodeData.intervals`).
    mcf
        :func:`~evalkit.methods.recurrent.mean_cumulative_function` by group.
    rate
        The Andersen–Gill Cox model of all episodes (the group first), clustered by youth.
    id, group
        Column names.
    days
        Times since entry at which the mean number of episodes is reported.
    label
        The episodes as a plural noun ("runaways").
    change, change_label
        The 0/1 time-varying column of ``intervals`` (``None`` without one) and its words.
    program_label, comparison_label, time_unit, threshold, labels
        As :class:`~evalkit.report.survival.SurvivalReport`.
    lower_is_better
        Whether fewer episodes are better.
    """

    intervals: pd.DataFrame
    mcf: MeanCumulative
    rate: CoxResult
    id: str
    group: str
    days: Sequence[float]
    label: str = "episodes"
    change: str | None = None
    change_label: str = "the change"
    program_label: str = "program"
    comparison_label: str = "comparison group"
    time_unit: str = "days"
    threshold: int = privacy.DEFAULT_THRESHOLD
    labels: Mapping[str, str] = field(default_factory=dict)
    lower_is_better: bool = True

    def __post_init__(self) -> None:
        self.threshold = privacy.check_threshold(self.threshold)
        self.labels = dict(self.labels or {})
        if not self.days:
            raise ValueError("days: give at least one time at which to report the mean "
                             "number of episodes")

    # -- facts -------------------------------------------------------------------------------
    @property
    def rate_row(self) -> pd.Series:
        """The program's row of the rate model (hazard ratio = rate ratio, robust interval)."""
        return self.rate.to_frame().iloc[0]

    def term_label(self, term: str) -> str:
        """How a term of the rate model is shown."""
        if term == self.group:
            return self.program_label.capitalize()
        if term == self.change:
            return words.capitalize(f"after {self.change_label}")
        return words.label(term, self.labels)

    def episodes_by_group(self) -> dict[int, tuple[int, float]]:
        """Per group value: the number of episodes and the follow-up time summed over youth."""
        iv = self.intervals
        g = iv[self.group].astype(float)
        out = {}
        for v in (1, 0):
            rows = iv[g == v]
            out[v] = (int(rows["event"].sum()),
                      float((rows["stop"] - rows["start"]).sum()))
        return out

    def mcf_at(self) -> pd.DataFrame:
        """The mean number of episodes at :attr:`days`, with whether each may be shown.

        A value is shown when the group still has at least the threshold of youth at risk, and
        the group's episodes by then are none or at least the threshold.
        """
        return self._mcf_table.copy()

    @cached_property
    def _mcf_table(self) -> pd.DataFrame:
        at = self.mcf.at(self.days)
        iv = self.intervals
        shown = []
        for g, t, n in zip(at["group"], at["time"], at["n_risk"], strict=True):
            rows = iv[iv[self.group].astype(float) == float(g)]
            k = int(rows.loc[rows["stop"] <= t, "event"].sum())
            shown.append(n >= self.threshold and privacy.is_reportable(k, self.threshold))
        return at.assign(shown=shown)

    def _mcf_value(self, g: int, t: float) -> tuple[float, float, float] | None:
        at = self.mcf_at()
        row = at[(at["group"].astype(float) == g) & (at["time"] == t)].iloc[0]
        if not row["shown"]:
            return None
        return float(row["mcf"]), float(row["ci_low"]), float(row["ci_high"])

    # -- words -------------------------------------------------------------------------------
    def headline(self) -> str:
        """Two sentences: the mean number of episodes by the last day, and the rate ratio."""
        t = max(self.days)
        prog, comp = self._mcf_value(1, t), self._mcf_value(0, t)
        if prog is not None and comp is not None:
            first = (f"By {t:g} {self.time_unit} after entry, youth in {self.program_label} had "
                     f"{_num(prog[0], 1)} {self.label} on average, against {_num(comp[0], 1)} "
                     f"in {self.comparison_label}.")
        else:
            first = (f"The mean number of {self.label} by {t:g} {self.time_unit} is withheld: "
                     f"fewer than {self.threshold} youth in a group were still followed, or "
                     f"had {self.label}, by then.")
        r = self.rate_row
        conf = f"{self.rate.confidence:.0%}"
        way = words.direction(float(r["hazard_ratio"]), self.lower_is_better,
                              ci_low=float(r["hr_ci_low"]), ci_high=float(r["hr_ci_high"]),
                              null=1.0)
        second = (f"Counting every one of their {self.label}, their rate was "
                  f"{_num(r['hazard_ratio'])} times that of {self.comparison_label} (rate "
                  f"ratio, {conf} CI {_num(r['hr_ci_low'])} to {_num(r['hr_ci_high'])}, "
                  f"allowing for a youth's {self.label} being alike){self._adjusting()}: "
                  f"{way}.")
        return f"{first} {second}"

    def _adjusting(self) -> str:
        covs = [self.term_label(t) for t in self.rate.terms[1:] if t != self.change]
        parts = [", ".join(covs)] if covs else []
        if self.change is not None:
            parts.append(f"{self.change_label} during follow-up")
        return ", adjusting for " + " and for ".join(parts) if parts else ""

    def glance_items(self) -> dict[str, str]:
        """Facts for *At a glance*: the rate ratio and the mean episodes by the last day."""
        r = self.rate_row
        conf = f"{self.rate.confidence:.0%}"
        items = {f"Rate ratio, all {self.label}": (
            f"{_num(r['hazard_ratio'])} ({conf} CI {_num(r['hr_ci_low'])} to "
            f"{_num(r['hr_ci_high'])})")}
        t = max(self.days)
        prog, comp = self._mcf_value(1, t), self._mcf_value(0, t)
        if prog is not None and comp is not None:
            items[f"Mean {self.label} per youth by {t:g} {self.time_unit}"] = (
                f"{_num(prog[0], 2)} vs {_num(comp[0], 2)}")
        return items

    def method_text(self) -> list[str]:
        """Paragraphs for *How it was evaluated*."""
        conf = f"{self.rate.confidence:.0%}"
        change = ("" if self.change is None else
                  f" {words.capitalize(self.change_label)} during follow-up enters the model as "
                  f"a characteristic that changes over time: a youth counts as before it up to "
                  f"the day it happened and as after it from then on.")
        return [
            f"Youth can have {self.label} more than once. The mean cumulative number of "
            f"{self.label} per youth (Nelson–Aalen) counts them over time since entry in each "
            f"group, allowing for youth followed for different lengths of time; its {conf} "
            f"confidence intervals allow for a youth's {self.label} being alike (robust "
            "standard errors), as R's survfit(id =).",
            f"The rate ratio compares how often youth in the two groups had {self.label} at "
            f"any moment, counting all of them (the Andersen–Gill model: a Cox regression on "
            f"the time between {self.label}), with standard errors robust to the "
            f"{self.label} of one youth being alike, as R's coxph(cluster = youth)."
            + change,
        ]

    def data_text(self) -> str:
        """How many episodes each group had over how much follow-up (a count only when shown)."""
        totals = self.episodes_by_group()
        parts = []
        for v, name in ((1, self.program_label), (0, self.comparison_label)):
            k, time = totals[v]
            count = (f"{k:,} {self.label}" if privacy.is_reportable(k, self.threshold) else
                     f"fewer than {self.threshold} {self.label}")
            parts.append(f"youth in {name} had {count} over {time:,.0f} {self.time_unit} of "
                         "follow-up")
        return paragraphs(words.capitalize(" and ".join(parts)) + ".")

    def findings_html(self) -> str:
        """The figure, the table at :attr:`days` and the rate model (Findings)."""
        conf = f"{self.mcf.confidence:.0%}"
        groups = {1: self.program_label.capitalize(), 0: self.comparison_label.capitalize()}
        horizon = max(max(self.days), 1.0)
        step = time_tick_step(horizon, self.time_unit)
        ticks = [float(x) for x in np.arange(0, horizon + step / 2, step)]
        at = self.mcf.at(ticks)
        at_risk = {g: at[at["group"].astype(float) == g]["n_risk"].tolist() for g in groups}
        fig = mcf_figure(self.mcf.table.assign(group=self.mcf.table["group"].astype(float)
                                               .astype(int).astype(str)),
                         groups={str(g): n for g, n in groups.items()}, time_unit=self.time_unit,
                         ticks=ticks, at_risk={str(g): v for g, v in at_risk.items()},
                         confidence=self.mcf.confidence, threshold=self.threshold,
                         label=self.label)
        table_at = self.mcf_at()
        rows: dict[str, dict[str, str]] = {}
        for t in self.days:
            row = {}
            for g, name in groups.items():
                r = table_at[(table_at["group"].astype(float) == g) & (table_at["time"] == t)]
                r = r.iloc[0]
                row[name] = (f"{_num(r['mcf'], 2)} ({_num(max(r['ci_low'], 0.0), 2)}–"
                             f"{_num(r['ci_high'], 2)})" if r["shown"] else privacy.SUPPRESSED)
            rows[f"By {t:g} {self.time_unit}"] = row
        alt = (f"Mean cumulative number of {self.label} per youth by time since entry. "
               + " ".join(f"At {t:g} {self.time_unit}: " + ", ".join(
                   f"{name} {v}" for name, v in row.items()) + "."
                   for t, row in zip(self.days, rows.values(), strict=True)))
        html = f"<h3>{esc(words.capitalize(self.label))}, first and later</h3>"
        html += figure_block(fig, alt=alt, caption=(
            f"Mean number of {self.label} per youth since entry ({conf} confidence bands); "
            f"curves stop where fewer than {self.threshold} youth remain at risk.")).html
        html += table(pd.DataFrame.from_dict(rows, orient="index"),
                      caption=f"Mean number of {self.label} per youth ({conf} CI)",
                      total_rows=(), note=(
                          "Nelson–Aalen estimate with robust confidence intervals (plain), as "
                          "R survfit(id =, ctype = 1). Withheld where fewer than "
                          f"{self.threshold} youth were still followed, or where a group had "
                          f"between 1 and {self.threshold - 1} {self.label} by then."))
        f = self.rate.to_frame()
        rates = pd.DataFrame({
            "Rate ratio": [_num(v) for v in f["hazard_ratio"]],
            f"{conf} CI": [f"{_num(a)} to {_num(b)}" for a, b in
                           zip(f["hr_ci_low"], f["hr_ci_high"], strict=True)],
            "p": [_p(v) for v in f["p_value"]],
        }, index=[words.capitalize(self.term_label(t)) for t in f["term"]])
        html += table(rates, caption=f"Rate ratio of all {self.label} (Andersen–Gill)",
                      total_rows=(), note=(
                          f"Cox regression on the time between {self.label} ({self.rate.ties} "
                          f"ties), {self.rate.n_clusters:,} youth, standard errors robust to "
                          f"a youth's {self.label} being alike, as R coxph(Surv(start, stop, "
                          "event) ~ ..., cluster = youth)."))
        return html

    def limitations(self) -> list[str]:
        """What the rate ratio cannot say."""
        return [
            f"The rate ratio assumes the program changes the rate of first and later "
            f"{self.label} alike, and by the same factor throughout follow-up; the "
            "proportional-hazards test in Checks concerns the time to the first one only. The "
            f"robust standard errors allow a youth's {self.label} to be alike, but not for "
            f"{self.label} that make later ones more likely."]

    def results(self) -> dict[str, Any]:
        """The part of ``results.json`` about repeated episodes (only what may be shown)."""
        r = self.rate_row
        at = self.mcf_at()
        return {
            "label": self.label,
            "rate_ratio": {"estimate": float(r["hazard_ratio"]),
                           "ci_low": float(r["hr_ci_low"]), "ci_high": float(r["hr_ci_high"]),
                           "p_value": float(r["p_value"]), "robust": True,
                           "terms": [self.term_label(t) for t in self.rate.terms]},
            "mean_cumulative": [
                {"group": self.program_label if float(g) == 1 else self.comparison_label,
                 "time": float(t), "estimate": float(m) if s else None,
                 "ci_low": float(lo) if s else None, "ci_high": float(hi) if s else None}
                for g, t, m, lo, hi, s in zip(at["group"], at["time"], at["mcf"], at["ci_low"],
                                              at["ci_high"], at["shown"], strict=True)],
        }

    def appendix_items(self) -> list[Any]:
        """What the technical appendix shows: the rate model and the table at :attr:`days`."""
        at = self.mcf_at()
        shown = at[at["shown"]].drop(columns=["shown", "n_risk"])
        shown = shown.assign(group=[self.program_label if float(g) == 1 else
                                    self.comparison_label for g in shown["group"]])
        return [(f"Andersen–Gill rate model of all {self.label} (robust standard errors by "
                 "youth)", self.rate.to_frame()),
                (f"Mean cumulative number of {self.label} at the reported days", shown)]

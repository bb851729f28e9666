"""The report of an evaluation whose estimator refused the data.

When the data are sound but too thin for an estimator's intervals to be trusted (for example a
staggered difference-in-differences with fewer adopting states than its intervals need), the
estimator raises :class:`~evalkit.exceptions.DesignRefused` rather than return a number that
would look exact and be wrong. :class:`RefusedReport` then fills every standard section: what
was asked, the data, why no estimate is given and which design fits instead. Its
``results.json`` has a null headline and the rating *Not estimated*, so the portfolio index lists
the program with the reason instead of a number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from evalkit.exceptions import DesignRefused
from evalkit.report import resultsdoc
from evalkit.report.common import appendix_block, bullets_block, glance_block, program_block
from evalkit.report.evidence import not_estimated
from evalkit.report.html import Block, paragraphs

__all__ = ["RefusedReport"]


@dataclass
class RefusedReport:
    """The sections of a report whose estimator refused the data.

    Parameters
    ----------
    refusal
        The :class:`~evalkit.exceptions.DesignRefused` the estimator raised; its ``reason`` and
        ``alternative`` are printed (its full message, which may name units, is not).
    design
        Design code and label (as the report would have had: ``{"code", "label"}``).
    outcome
        ``results.json`` outcome: name, label, units, lower_is_better.
    estimand
        What the evaluation set out to estimate, in words.
    method
        The method that was tried, in plain language (for *How it was evaluated*).
    data
        The data section's block (counts and periods the reader may see), if any.
    sample
        Counts for ``results.json`` ``sample`` (only counts the report may show).
    unit_label
        What a unit is ("state"), used in place of the estimator's word "unit".
    """

    refusal: DesignRefused
    design: Mapping[str, str]
    outcome: Mapping[str, Any]
    estimand: str
    method: str
    data: Block | None = None
    sample: Mapping[str, Any] = field(default_factory=dict)
    unit_label: str = ""

    @property
    def reason(self) -> str:
        text = self.refusal.reason or "The data cannot support this method's estimate."
        if self.unit_label:  # the estimator speaks of "units"; the reader of states, counties...
            text = re.sub(r"\bunit(s?)\b", lambda m: self.unit_label + m.group(1), text)
        return text

    @property
    def alternative(self) -> str:
        return self.refusal.alternative

    def headline(self) -> str:
        text = f"No estimate is given. {self.reason}"
        if self.alternative:
            text += f" A design that fits these data: {self.alternative}."
        return text

    def evidence(self) -> dict[str, Any]:
        return not_estimated(self.reason, self.alternative)

    # -- sections ----------------------------------------------------------------------------
    def glance(self) -> Block:
        ev = self.evidence()
        items = {"Design": self.design["label"], "Estimate": "not estimated",
                 "Evidence rating": ev["label"]}
        why = ["The method's own check of the data failed (see Checks), so no estimate and no "
               "rating of effectiveness can be given."]
        return glance_block(self.headline(), items, {**ev, "reasons": why})

    def program_section(self, description: str, question: str = "") -> Block:
        return program_block(description, question or f"What is the {self.estimand}?")

    def data_section(self) -> Block:
        return self.data if self.data is not None else Block(paragraphs(
            "The data passed every check of columns and values."), text="The data")

    def method_section(self) -> Block:
        return Block(paragraphs(self.method), text="How it was evaluated")

    def findings(self) -> Block:
        alt = (f"A design that fits these data is {self.alternative}." if self.alternative
               else "")
        return Block(paragraphs(self.reason, alt,
                                "An estimate from these data would look exact and could be "
                                "wrong, so none is shown."), text="Findings")

    def checks(self) -> Block:
        return Block(paragraphs(
            "Before estimating, the method checks that the data can support trustworthy "
            "intervals. That check failed: " + self.reason), text="Checks")

    def limitation_list(self) -> list[str]:
        return [self.reason]

    def limitations(self) -> Block:
        return bullets_block(self.limitation_list())

    def appendix(self, options: Mapping[str, Any], data_path: Any = None) -> Block:
        """The technical appendix: options, input hash and versions; no estimates."""
        return appendix_block(results=[], options=options, data_path=data_path)

    def results_document(self) -> dict[str, Any]:
        headline = {"estimand": self.estimand, "estimate": None, "ci_low": None,
                    "ci_high": None, "alpha": 0.05, "p_value": None, "n": None,
                    "units": str(self.outcome.get("units", "")), "effect_size": None,
                    "suppressed": False, "not_estimated": True}
        return resultsdoc.build(
            design=self.design, outcome=self.outcome, headline=headline, estimates=[],
            sample=dict(self.sample), suppressed=[], finding=self.headline(),
            evidence=self.evidence(), limitations=self.limitation_list(),
            cautions=[self.reason])

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
from collections.abc import Mapping
from typing import Any

from evalkit.exceptions import DesignRefused
from evalkit.report import resultsdoc
from evalkit.report.base import Report
from evalkit.report.evidence import not_estimated
from evalkit.report.html import Block, paragraphs

__all__ = ["RefusedReport"]


class RefusedReport(Report):
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

    Notes
    -----
    The design given is returned by :meth:`design`, as every report's is; the technical
    appendix (:meth:`~evalkit.report.base.Report.appendix`) shows no estimates.
    """

    def __init__(self, refusal: DesignRefused, design: Mapping[str, str],
                 outcome: Mapping[str, Any], estimand: str, method: str,
                 data: Block | None = None, sample: Mapping[str, Any] | None = None,
                 unit_label: str = "") -> None:
        self.refusal = refusal
        self.design_info = dict(design)
        self.outcome = outcome
        self.estimand = estimand
        self.method = method
        self.data = data
        self.sample = dict(sample or {})
        self.unit_label = unit_label

    @property
    def reason(self) -> str:
        """Why no estimate is given, in the reader's words (a unit named as in the report)."""
        text = self.refusal.reason or "The data cannot support this method's estimate."
        if self.unit_label:  # the estimator speaks of "units"; the reader of states, counties...
            text = re.sub(r"\bunit(s?)\b", lambda m: self.unit_label + m.group(1), text)
        return text

    @property
    def alternative(self) -> str:
        """A design that fits the data, as the estimator named it ("" when none)."""
        return self.refusal.alternative

    def headline(self) -> str:
        """That no estimate is given, why, and which design fits instead.

        Returns
        -------
        str
            The report's opening sentence.
        """
        text = f"No estimate is given. {self.reason}"
        if self.alternative:
            text += f" A design that fits these data: {self.alternative}."
        return text

    def design(self) -> dict[str, str]:
        """The design the evaluation set out to use (code and label).

        Returns
        -------
        dict
            ``{"code", "label"}`` as given.
        """
        return dict(self.design_info)

    def evidence(self) -> dict[str, Any]:
        """The rating *Not estimated*, with the reason.

        Returns
        -------
        dict
            :func:`~evalkit.report.evidence.not_estimated`.
        """
        return not_estimated(self.reason, self.alternative)

    def cautions(self) -> tuple[str, ...]:
        """The one caution: why the estimator refused the data.

        Returns
        -------
        tuple of str
            The reason.
        """
        return (self.reason,)

    # -- sections ----------------------------------------------------------------------------
    def glance_items(self) -> dict[str, str]:
        """The design and "not estimated".

        Returns
        -------
        dict
            Key facts of *At a glance*.
        """
        return {"Design": self.design_info["label"], "Estimate": "not estimated"}

    def rating_reasons(self, evidence: Mapping[str, Any]) -> list[str]:
        """Why there is no rating: the method's own check of the data failed.

        Parameters
        ----------
        evidence
            :meth:`evidence` (not used: its reasons repeat the headline).

        Returns
        -------
        list of str
            One sentence.
        """
        return ["The method's own check of the data failed (see Checks), so no estimate and "
                "no rating of effectiveness can be given."]

    def default_question(self) -> str:
        """What the evaluation set out to estimate, as a question.

        Returns
        -------
        str
            "What is the *estimand*?"
        """
        return f"What is the {self.estimand}?"

    def data_section(self) -> Block:
        """'The data': the block given, or that the data passed every check.

        Returns
        -------
        Block
            The section's HTML.
        """
        return self.data if self.data is not None else Block(paragraphs(
            "The data passed every check of columns and values."), text="The data")

    def method_section(self) -> Block:
        """'How it was evaluated': the method that was tried.

        Returns
        -------
        Block
            The section's HTML.
        """
        return Block(paragraphs(self.method), text="How it was evaluated")

    def findings(self) -> Block:
        """'Findings': why no estimate is shown and which design fits.

        Returns
        -------
        Block
            The section's HTML.
        """
        alt = (f"A design that fits these data is {self.alternative}." if self.alternative
               else "")
        return Block(paragraphs(self.reason, alt,
                                "An estimate from these data would look exact and could be "
                                "wrong, so none is shown."), text="Findings")

    def checks(self) -> Block:
        """'Checks': the method's check of the data, which failed.

        Returns
        -------
        Block
            The section's HTML.
        """
        return Block(paragraphs(
            "Before estimating, the method checks that the data can support trustworthy "
            "intervals. That check failed: " + self.reason), text="Checks")

    def limitation_list(self) -> list[str]:
        """The one limitation: the reason no estimate is given.

        Returns
        -------
        list of str
            The reason.
        """
        return [self.reason]

    def results_document(self) -> dict[str, Any]:
        """``results.json`` with a null headline and the rating *Not estimated*.

        Returns
        -------
        dict
            The document :func:`evalkit.report.resultsdoc.write` writes.
        """
        headline = {"estimand": self.estimand, "estimate": None, "ci_low": None,
                    "ci_high": None, "alpha": 0.05, "p_value": None, "n": None,
                    "units": str(self.outcome.get("units", "")), "effect_size": None,
                    "suppressed": False, "not_estimated": True}
        return resultsdoc.build(
            design=self.design(), outcome=self.outcome, headline=headline, estimates=[],
            sample=dict(self.sample), suppressed=[], finding=self.headline(),
            evidence=self.evidence(), limitations=self.limitation_list(),
            cautions=[self.reason])

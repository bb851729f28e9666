"""The report every design fills: its standard sections, in order, and the parts they share.

:class:`Report` declares the sections a template shows one by one (each returns a
:class:`~evalkit.report.html.Block`) and what ``results.json`` is built from. A design's report
(:class:`~evalkit.report.PrePostReport`, :class:`~evalkit.report.DiDReport`,
:class:`~evalkit.report.SurvivalReport`, and :class:`~evalkit.report.RefusedReport` when an
estimator refused the data) supplies what only it knows: its headline, findings, checks and
limitations. The shared parts are written here once: *At a glance* from the headline, key facts
and the evidence rating; *The program and the question*; *Limitations* from the list of
limitations; and the technical appendix from the results a report may show.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from evalkit.report.common import (
    appendix_block,
    bullets_block,
    glance_block,
    program_block,
)
from evalkit.report.html import Block
from evalkit.report.words import spoken

__all__ = ["Report", "SECTIONS"]

#: The standard sections of every report, in the order a template shows them (after the
#: title): the names of :class:`Report`'s section methods.
SECTIONS: tuple[str, ...] = (
    "glance", "program_section", "data_section", "method_section", "findings", "checks",
    "limitations", "appendix",
)


class Report(abc.ABC):
    """Base of every evaluation report: the standard sections and ``results.json``.

    A subclass supplies the abstract methods; the sections built the same way for every
    design (:meth:`glance`, :meth:`program_section`, :meth:`limitations`, :meth:`appendix`)
    are built here from its hooks (:meth:`glance_items`, :meth:`default_question`,
    :meth:`limitation_list`, :meth:`appendix_results`). A report about people has a
    ``population`` attribute; the shared sections then name it instead of "youth".
    """

    #: Names of the section methods, in the order of the rendered report.
    SECTIONS: ClassVar[tuple[str, ...]] = SECTIONS

    # -- what every design states ------------------------------------------------------------
    @abc.abstractmethod
    def headline(self) -> str:
        """One plain-language sentence stating the finding and what it can and cannot show.

        Returns
        -------
        str
            The sentence that opens the report and is ``finding`` in ``results.json``.
        """

    @abc.abstractmethod
    def design(self) -> dict[str, str]:
        """The design's code and label (``results.json`` ``design``).

        Returns
        -------
        dict
            ``{"code": ..., "label": ...}``; the code selects the evidence rule.
        """

    @abc.abstractmethod
    def evidence(self) -> dict[str, Any]:
        """The evidence rating and its reasons (see :mod:`evalkit.report.evidence`).

        Returns
        -------
        dict
            ``{"rating", "label", "reasons"}``.
        """

    @abc.abstractmethod
    def cautions(self) -> tuple[str, ...]:
        """What limits the results, headline first, as readers may see it.

        Returns
        -------
        tuple of str
            Each caution once (:func:`~evalkit.report.common.collect_cautions`).
        """

    @abc.abstractmethod
    def limitation_list(self) -> list[str]:
        """The limitations of the design and the data, as sentences.

        Returns
        -------
        list of str
            Shown under *Limitations* and written to ``results.json``.
        """

    @abc.abstractmethod
    def results_document(self) -> dict[str, Any]:
        """The method part of ``results.json`` (see :mod:`evalkit.report.resultsdoc`).

        Returns
        -------
        dict
            The document :func:`evalkit.report.resultsdoc.write` writes.
        """

    # -- sections each design writes ---------------------------------------------------------
    @abc.abstractmethod
    def data_section(self) -> Block:
        """'The data': who or what the evaluation covers, with counts a reader may see.

        Returns
        -------
        Block
            The section's HTML.
        """

    @abc.abstractmethod
    def method_section(self) -> Block:
        """'How it was evaluated', in plain words, with the design's assumptions.

        Returns
        -------
        Block
            The section's HTML.
        """

    @abc.abstractmethod
    def findings(self) -> Block:
        """'Findings': the estimates' tables and the standard figures.

        Returns
        -------
        Block
            The section's HTML.
        """

    @abc.abstractmethod
    def checks(self) -> Block:
        """'Checks': the design's own checks and what the estimators flagged.

        Returns
        -------
        Block
            The section's HTML.
        """

    # -- hooks of the shared sections --------------------------------------------------------
    @abc.abstractmethod
    def glance_items(self) -> dict[str, str]:
        """The key facts of *At a glance* (label → value), before the evidence rating.

        Returns
        -------
        dict
            Ordered facts; the design's label comes first.
        """

    def rating_reasons(self, evidence: Mapping[str, Any]) -> list[str]:
        """The reasons *At a glance* gives for the rating.

        Parameters
        ----------
        evidence
            :meth:`evidence`.

        Returns
        -------
        list of str
            By default the rating's own reasons.
        """
        return list(evidence["reasons"])

    @abc.abstractmethod
    def default_question(self) -> str:
        """The evaluation question worded from the design, when the config gives none.

        Returns
        -------
        str
            One question.
        """

    def appendix_results(self) -> list[Any]:
        """What the technical appendix may show: results, or ``(title, frame)`` pairs.

        Returns
        -------
        list
            Items for :func:`~evalkit.report.common.appendix_block`; none by default. A report
            lists only what its privacy rules allow the body to show.
        """
        return []

    # -- shared sections ---------------------------------------------------------------------
    @spoken
    def glance(self) -> Block:
        """'At a glance': the headline sentence, key facts, the rating and its reasons.

        Returns
        -------
        Block
            The section's HTML.
        """
        ev = self.evidence()
        items = {**self.glance_items(), "Evidence rating": ev["label"]}
        return glance_block(self.headline(), items, {**ev, "reasons": self.rating_reasons(ev)})

    def program_section(self, description: str, question: str = "") -> Block:
        """'The program and the question'.

        Parameters
        ----------
        description
            What the program does, from the config.
        question
            The evaluation question; :meth:`default_question` when empty.

        Returns
        -------
        Block
            The section's HTML.
        """
        return program_block(description, question or self.default_question())

    @spoken
    def limitations(self) -> Block:
        """'Limitations': :meth:`limitation_list` as a bulleted list.

        Returns
        -------
        Block
            The section's HTML.
        """
        return bullets_block(self.limitation_list())

    def appendix(self, options: Mapping[str, Any], data_path: str | Path | None = None
                 ) -> Block:
        """The technical appendix of the report.

        It shows the estimates a report may show, options, input hash and package versions.

        Parameters
        ----------
        options
            Every choice that changed a number (estimator options, alpha, privacy threshold).
        data_path
            The input file, whose SHA-256 is printed (its name only, not where it lives).

        Returns
        -------
        Block
            The appendix's HTML (:func:`~evalkit.report.common.appendix_block` of
            :meth:`appendix_results`).
        """
        return appendix_block(results=self.appendix_results(), options=options,
                              data_path=data_path)

    def sections(self, description: str, question: str = "", *,
                 options: Mapping[str, Any], data_path: str | Path | None = None
                 ) -> list[tuple[str, Block]]:
        """Every standard section, in the order of :data:`SECTIONS`.

        Parameters
        ----------
        description, question
            As for :meth:`program_section`.
        options, data_path
            As for :meth:`appendix`.

        Returns
        -------
        list of (str, Block)
            Section name and its HTML.
        """
        args: dict[str, Sequence[Any]] = {"program_section": (description, question),
                                          "appendix": (options, data_path)}
        return [(name, getattr(self, name)(*args.get(name, ()))) for name in self.SECTIONS]

"""Report sections shared by every template: title, program, method, limitations, appendix."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from evalkit.files import sha256_file
from evalkit.report.html import Block, esc, key_values, paragraphs, table
from evalkit.versions import REPORT_PACKAGES, package_versions  # re-exported

__all__ = [
    "glance_block",
    "num",
    "p_text",
    "interval",
    "title_block",
    "program_block",
    "bullets_block",
    "appendix_block",
    "package_versions",
    "sha256_file",
    "REPORT_PACKAGES",
    "collect_cautions",
    "cautions_html",
]

def num(x: float, digits: int = 2) -> str:
    """A number for readers: fixed decimals, thousands separators, a true minus sign.

    A negative number that rounds to zero is written without its sign ("0.00", not "−0.00").
    A number that could not be estimated (NaN) is written "—", never "nan".
    """
    if math.isnan(x):
        return "—"
    text = f"{x:,.{digits}f}"
    if text.startswith("-") and not text.strip("-0.,"):
        text = text[1:]
    return text.replace("-", "−")


def p_text(p: float) -> str:
    """A p-value as reports print it ("p not estimable" for NaN)."""
    if math.isnan(p):
        return "p not estimable"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def interval(lo: float, hi: float, digits: int = 2) -> str:
    """A confidence interval as "lo to hi" ("not estimable" when a limit is NaN)."""
    if math.isnan(lo) or math.isnan(hi):
        return "not estimable"
    return f"{num(lo, digits)} to {num(hi, digits)}"


def glance_block(headline: str, items: Mapping[str, str], evidence: Mapping[str, Any]) -> Block:
    """'At a glance': the headline sentence, key facts, and the evidence rating's reasons."""
    body = "".join(f"<dt>{esc(a)}</dt><dd>{esc(b)}</dd>" for a, b in items.items())
    reasons = "".join(f"<li>{esc(r)}</li>" for r in evidence["reasons"])
    return Block(
        f"<div class='ek-glance'><p class='ek-headline'>{esc(headline)}</p>"
        f"<dl>{body}</dl><p class='ek-note'>Why this rating:</p><ul class='ek-note'>"
        f"{reasons}</ul></div>",
        text=headline,
    )


def title_block(title: str, program: str, *, subtitle: str | None = None) -> Block:
    """The report's title and the program's name."""
    sub = subtitle or program
    return Block(
        f"<h1>{esc(title)}</h1><p class='ek-subtitle'>{esc(sub)}</p>",
        text=f"{title}\n{sub}",
    )


def program_block(description: str, question: str) -> Block:
    """'The program and the question': what the program does and what the evaluation asks."""
    return Block(
        paragraphs(description.strip()) + paragraphs("Evaluation question: " + question.strip()),
        text=f"{description.strip()}\n{question.strip()}",
    )


def bullets_block(items: Sequence[str], *, intro: str | None = None) -> Block:
    """A bulleted list (limitations, assumptions)."""
    body = "".join(f"<li>{esc(i)}</li>" for i in items)
    return Block(paragraphs(intro or "") + f"<ul>{body}</ul>", text="\n".join(items))


#: Columns per appendix table: a page (and a printed A4/Letter page) holds about this many.
APPENDIX_COLUMNS = 8


def _column_groups(columns: list[str]) -> list[list[str]]:
    """Split a tidy table's columns into groups of at most :data:`APPENDIX_COLUMNS`.

    Each group starts with ``term``.
    """
    if len(columns) <= APPENDIX_COLUMNS or "term" not in columns:
        return [columns]
    rest = [c for c in columns if c != "term"]
    size = APPENDIX_COLUMNS - 1
    return [["term", *rest[i:i + size]] for i in range(0, len(rest), size)]


def shown_frame(res: Any) -> pd.DataFrame:
    """``res.to_frame()`` with the columns reports have always shown, in their order.

    Every estimator's frame starts ``term, estimate, se, ci_low, ci_high, p_value``; reports
    and ``results.json`` keep the layout they were first published with: no p-value column
    for the DiD aggregations, group-time effects and Bacon decomposition, the two-way fixed
    effects' ``t`` before its p-value and interval, and a test's p-value after its statistic
    and degrees of freedom, and a Cox model's ``coef`` beside its ``estimate``.
    """
    from evalkit.methods.binary import McNemar
    from evalkit.methods.cox import CoxResult, PHTest
    from evalkit.methods.did import TWFE, Aggregate, Bacon, Staggered
    from evalkit.methods.groups import GroupComparison
    from evalkit.methods.prepost import PairedChange
    from evalkit.methods.signed_rank import SignedRank
    from evalkit.methods.survival import LogRank

    frame = res.to_frame()
    if isinstance(res, TWFE):
        return frame[["term", "estimate", "se", "t", "p_value", "ci_low", "ci_high"]]
    if isinstance(res, (Aggregate, Staggered, Bacon)):
        return frame.drop(columns="p_value")
    if isinstance(res, CoxResult):
        return frame.assign(coef=frame["estimate"])[[*frame.columns[:6], "coef",
                                                     *frame.columns[6:]]]
    if isinstance(res, (PairedChange, SignedRank, McNemar, GroupComparison, LogRank, PHTest)):
        cols = [c for c in frame.columns if c != "p_value"]
        at = cols.index("df" if "df" in cols else "statistic") + 1
        return frame[cols[:at] + ["p_value"] + cols[at:]]
    return frame


def appendix_block(
    *,
    results: Any,
    options: Mapping[str, Any],
    data_path: str | Path | None = None,
) -> Block:
    """Technical appendix: estimator output, options, input hash and package versions.

    Parameters
    ----------
    results
        A :class:`~evalkit.results.Result` (or several) whose tidy tables are shown, or
        ``(title, frame)`` pairs for tables a report has already cut to what it may show.
        Reports pass only what their privacy rules allow (e.g.
        :meth:`~evalkit.report.PrePostReport.appendix`).
    options
        Every choice that changed a number (estimator options, alpha, privacy threshold).
    data_path
        The input file, whose SHA-256 is printed so a reader can check which data were used.
        Only the file's name is shown, not where it lives. Anything that is not a file (the
        label of a database query) is shown as it is.
    """
    from evalkit.results import fmt_num, fmt_p

    items = results if isinstance(results, (list, tuple)) else [results]
    parts = ["<h3>Estimates</h3>"] if items else []
    for res in items:
        title, frame = res if isinstance(res, tuple) else (res._title, shown_frame(res))
        # a wide table would run off the page (and off a printed PDF): the standard columns
        # come first, the estimator's extra columns in a second table keyed by term
        for k, cols in enumerate(_column_groups(list(frame.columns))):
            cells = [[row[c] if c == "term" else (fmt_p(row[c]) if c == "p_value" else
                                                   fmt_num(row[c])) for c in cols]
                     for _, row in frame.iterrows()]
            caption = title if k == 0 else f"{title} (continued)"
            parts.append(table(pd.DataFrame(cells, columns=cols), caption=caption,
                               index=False, total_rows=()))
    parts.append("<h3>Options</h3>" + key_values({k: v for k, v in options.items()}))
    if data_path is not None:
        p = Path(data_path)
        if p.is_file():
            shown = {"data file": p.name, "SHA-256": sha256_file(p)}
        else:  # a database query (evalkit run passes its label; the manifest has the rest)
            shown = {"data": str(data_path)}
        parts.append("<h3>Input</h3>" + key_values(shown))
    parts.append("<h3>Software</h3>" + key_values(package_versions()))
    return Block("".join(parts), text="Technical appendix")


def collect_cautions(results: Sequence[Any], *, threshold: int | None = None,
                     people: Sequence[str] = (),
                     rename: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The cautions of ``results`` (``None`` entries skipped), in order and once each.

    Parameters
    ----------
    results
        Estimator results (each with a ``cautions`` tuple), headline first.
    threshold
        For reports about people: the privacy threshold. Counts of people below it in a
        caution's text are replaced by "fewer than *threshold*"
        (:func:`evalkit.privacy.redact_small_counts`); whether a caution limits the conclusion
        is kept.
    people
        The words for the people of this evaluation (e.g. ``("man", "men")``): counts of
        them are redacted too.
    rename
        Text to replace in each caution before redaction (a group named by its column and
        value, ``"group fin = 1"``, by the group's name; a column by its display label).
    """
    from evalkit.privacy import redact_small_counts
    from evalkit.results import Caution, merge_cautions

    merged = merge_cautions(*(getattr(r, "cautions", ()) for r in results if r is not None))
    if rename:
        def swap(text: str) -> str:
            for old in sorted(rename, key=len, reverse=True):
                text = text.replace(old, rename[old])
            return text

        merged = merge_cautions([Caution(swap(str(c)), limits=getattr(c, "limits", True))
                                 for c in merged])
    if threshold is None:
        return merged
    return merge_cautions([Caution(redact_small_counts(str(c), threshold, people=people),
                                   limits=getattr(c, "limits", True)) for c in merged])


def cautions_html(cautions: Sequence[str]) -> str:
    """The 'What the estimators flagged' list of a Checks section ('' when there is none)."""
    if not cautions:
        return ""
    items = "".join(f"<li>{esc(str(c))}</li>" for c in cautions)
    return ("<h3>What the estimators flagged</h3><p>Each estimate was checked for what limits "
            f"it; these cautions apply:</p><ul class='ek-cautions'>{items}</ul>")


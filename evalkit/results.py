"""Shared conventions of every estimator's result.

Every estimator in :mod:`evalkit.methods` returns a frozen dataclass that derives from
:class:`Result`. A result

* holds its numbers as typed fields (``estimate``, ``se``, ``ci_low``, ``ci_high``, ``p_value``,
  ``n``, ...) and the options that produced them (``alpha`` and any R-named choice);
* prints itself for people with :meth:`Result.summary` and in notebooks with ``_repr_html_``;
* gives machines a tidy frame with :meth:`Result.to_frame`: one row per term, with the columns
  ``term, estimate, se, ci_low, ci_high, p_value`` (plus any the estimator adds);
* converts to plain JSON-ready Python with :meth:`Result.to_dict`;
* carries ``cautions``: plain-language notes on what limits the numbers (dropped units, few
  clusters, an achieved confidence level below the requested one, a quantity that could not be
  estimated and why). ``summary()``, ``_repr_html_`` and ``to_dict()`` show them, reports print
  them under Checks and Limitations, and the evidence rating reads them.

Subclasses declare ``_title`` (a heading) and implement ``_terms()`` (the rows of ``to_frame``);
``_details()`` may add lines of text under the table.
"""

from __future__ import annotations

import dataclasses
import html
import math
from collections.abc import Sequence
from typing import Any, ClassVar, TypeVar

import numpy as np
import pandas as pd

from evalkit.exceptions import EvalOptionError

_T = TypeVar("_T")

__all__ = ["FRAME_COLUMNS", "Caution", "Result", "TestResult", "check_alpha", "check_option",
           "fmt_num", "fmt_p", "jsonable", "limiting", "merge_cautions"]

#: The columns every ``to_frame()`` starts with, in this order (others may follow).
FRAME_COLUMNS = ("term", "estimate", "se", "ci_low", "ci_high", "p_value")


class Caution(str):
    """A caution: its plain-language text, and whether it limits what can be concluded.

    A caution *is* its text (a ``str``), so results, reports and ``results.json`` treat it as
    one. ``limits`` says whether it limits the conclusion drawn from the number it is attached
    to (an interval that may be too narrow, an effect averaged over fewer units than asked):
    such cautions on a report's headline lower its evidence rating. Cautions that only inform
    (a cohort's own interval is wide; the normal approximation was used) set
    ``limits=False``. A plain string counts as limiting.

    Examples
    --------
    >>> c = Caution("Only 2 clusters: ...", limits=True)
    >>> c.limits, str(c)
    (True, 'Only 2 clusters: ...')
    """

    limits: bool

    def __new__(cls, text: str, *, limits: bool = True) -> Caution:
        """A caution with the text stripped of outer white space.

        Parameters
        ----------
        text
            The plain-language text (converted with ``str``).
        limits
            Whether the caution limits what can be concluded.

        Returns
        -------
        Caution
            The caution, equal as a string to the stripped text.
        """
        obj = super().__new__(cls, str(text).strip())
        obj.limits = bool(limits)
        return obj


def limiting(cautions: Any) -> tuple[str, ...]:
    """The cautions among ``cautions`` that limit what can be concluded (plain strings do)."""
    return tuple(c for c in merge_cautions(cautions) if getattr(c, "limits", True))


def merge_cautions(*groups: Any) -> tuple[str, ...]:
    """Join cautions (strings, :class:`Caution` or iterables of them) into one tuple.

    They are kept in order, once each. A text given both as limiting and not is kept once, as
    limiting.
    """
    out: list[str] = []
    for g in groups:
        if not g:
            continue
        items = (g,) if isinstance(g, str) else tuple(g)
        for c in items:
            c = c if isinstance(c, Caution) else Caution(str(c))
            if not c:
                continue
            if c in out:
                i = out.index(c)
                if c.limits and not getattr(out[i], "limits", True):
                    out[i] = c
                continue
            out.append(c)
    return tuple(out)


def check_alpha(alpha: float) -> float:
    """Validate a significance level and return it as a float."""
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"alpha must be a number between 0 and 1, not {alpha!r}") from None
    if not 0.0 < a < 1.0:
        raise ValueError(f"alpha must lie strictly between 0 and 1, not {alpha!r}")
    return a


def check_option(name: str, value: _T, allowed: Sequence[Any]) -> _T:
    """Check that option ``name`` has one of the ``allowed`` values and return it.

    Options are typed with :data:`typing.Literal` on the public functions; this helper checks
    them at run time, in one place, with one message.

    Raises
    ------
    EvalOptionError
        When ``value`` is not among ``allowed``; the message names the option, the value and
        every allowed value.

    Examples
    --------
    >>> check_option("ties", "efron", ("efron", "breslow"))
    'efron'
    """
    try:
        ok = value in allowed
    except TypeError:  # an unhashable or incomparable value is simply not allowed
        ok = False
    if not ok:
        raise EvalOptionError(name, value, allowed)
    return value


def fmt_num(x: Any, digits: int = 4) -> str:
    """Format a number for people: ``digits`` significant digits, '—' for missing."""
    if x is None:
        return "—"
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(v):
        return "—"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if v != 0 and (abs(v) >= 1e6 or abs(v) < 1e-4):
        return f"{v:.{digits - 1}e}"
    if abs(v) >= 10**digits:
        return f"{v:,.1f}"
    return f"{v:.{digits}g}"


def fmt_p(p: float | None) -> str:
    """Format a p-value the way journals print it (``< 0.001`` below one in a thousand)."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def jsonable(v: Any) -> Any:
    """Convert numpy / pandas values (recursively) to plain JSON-ready Python; NaN → None.

    Timestamps become ISO 8601 text and periods their text (``"2022-01"``).
    """
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if isinstance(v, (pd.Timestamp, pd.Period)):
        return str(v) if isinstance(v, pd.Period) else v.isoformat()
    if isinstance(v, np.ndarray):
        return jsonable(v.tolist())
    if isinstance(v, pd.DataFrame):
        return [{k: jsonable(x) for k, x in row.items()} for row in v.to_dict("records")]
    if isinstance(v, pd.Series):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    return v


def tidy_frame(rows: Any) -> pd.DataFrame:
    """A frame of ``rows`` (records or a frame) with :data:`FRAME_COLUMNS` first, in order.

    A contract column missing from ``rows`` is added as NaN; the other columns follow in
    their own order.
    """
    frame = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
    for c in FRAME_COLUMNS:
        if c not in frame.columns:
            frame[c] = "" if c == "term" else np.nan
    rest = [c for c in frame.columns if c not in FRAME_COLUMNS]
    return frame[[*FRAME_COLUMNS, *rest]]


@dataclasses.dataclass(frozen=True)
class Result:
    """Base class of estimator results (see the module docstring for the conventions)."""

    _title: ClassVar[str] = "Result"
    #: Fields shown in the options line of ``summary()`` rather than in the table.
    _options: ClassVar[tuple[str, ...]] = ("alpha",)

    #: Plain-language notes on what limits this result (see the module docstring). Keyword-only,
    #: so every subclass accepts ``cautions=...`` after its own fields.
    cautions: tuple[str, ...] = dataclasses.field(default=(), kw_only=True)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cautions", merge_cautions(self.cautions))

    # -- to be provided by subclasses -------------------------------------------------------
    def _terms(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _details(self) -> list[str]:
        return []

    # -- shared behaviour --------------------------------------------------------------------
    @property
    def confidence(self) -> float:
        """Confidence level of the intervals, ``1 - alpha``."""
        return 1.0 - float(getattr(self, "alpha", 0.05))

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: one row per term.

        The columns start ``term, estimate, se, ci_low, ci_high, p_value``
        (:data:`FRAME_COLUMNS`; a column a result does not have is NaN), then any columns the
        estimator adds.
        """
        return tidy_frame(self._terms())

    def to_dict(self) -> dict[str, Any]:
        """All fields as JSON-ready Python values (NaN becomes ``None``)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name.startswith("_"):
                continue
            out[f.name] = jsonable(getattr(self, f.name))
        return out

    def _options_text(self) -> str:
        parts = []
        for name in self._options:
            if hasattr(self, name):
                parts.append(f"{name}={getattr(self, name)!r}")
        return ", ".join(parts)

    def summary(self) -> str:
        """A plain-text summary: title, the table of terms, details and options."""
        frame = self.to_frame()
        shown = frame.copy()
        for c in shown.columns:
            if c == "p_value":
                shown[c] = shown[c].map(fmt_p)
            elif c != "term" and pd.api.types.is_numeric_dtype(shown[c]):
                shown[c] = shown[c].map(fmt_num)
        lines = [self._title, "=" * len(self._title)]
        lines += shown.to_string(index=False).splitlines()
        details = self._details()
        if details:
            lines.append("")
            lines += details
        if self.cautions:
            lines += ["", "Cautions:"] + [f"  - {c}" for c in self.cautions]
        opts = self._options_text()
        if opts:
            lines += ["", f"Options: {opts}"]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        frame = self.to_frame()
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
        body = []
        for _, row in frame.iterrows():
            cells = []
            for c in frame.columns:
                v = row[c]
                text = fmt_p(v) if c == "p_value" else (v if c == "term" else fmt_num(v))
                cells.append(f"<td>{html.escape(str(text))}</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        details = "".join(f"<p>{html.escape(d)}</p>" for d in self._details())
        if self.cautions:
            items = "".join(f"<li>{html.escape(c)}</li>" for c in self.cautions)
            details += f"<p><strong>Cautions</strong></p><ul>{items}</ul>"
        opts = self._options_text()
        opts_html = f"<p><small>Options: {html.escape(opts)}</small></p>" if opts else ""
        return (
            f"<div class='evalkit-result'><strong>{html.escape(self._title)}</strong>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
            f"{details}{opts_html}</div>"
        )


@dataclasses.dataclass(frozen=True)
class TestResult(Result):
    """The result of a hypothesis test: statistic, degrees of freedom, p-value and method.

    Modelled on linearmodels' ``WaldTestStatistic``. ``summary()``, ``to_dict()`` and
    ``cautions`` work as for every :class:`Result`; ``to_frame()`` has one row whose
    ``p_value`` is the test's (``estimate``, ``se`` and the interval are NaN unless a subclass
    adds them), followed by ``statistic`` and ``df``.

    Attributes
    ----------
    statistic
        The test statistic (NaN, with a caution, when the test could not be computed).
    df
        Its degrees of freedom (NaN where the reference distribution has none).
    p_value
        The p-value.
    method
        What was tested and how, in words ("Wald test, chi-squared").
    null
        The null hypothesis, in words ("every pre-adoption effect is zero").
    """

    __test__ = False  # not a pytest test class

    _title: ClassVar[str] = "Test"
    _options: ClassVar[tuple[str, ...]] = ()

    statistic: float
    df: float
    p_value: float
    method: str
    null: str = ""

    def _terms(self) -> list[dict[str, Any]]:
        nan = float("nan")
        return [{"term": self.method, "estimate": nan, "se": nan, "ci_low": nan,
                 "ci_high": nan, "p_value": self.p_value, "statistic": self.statistic,
                 "df": self.df}]

    def _details(self) -> list[str]:
        return [f"Null hypothesis: {self.null}."] if self.null else []

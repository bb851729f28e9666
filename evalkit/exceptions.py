"""Every error evalkit raises on purpose.

All derive from :class:`EvalkitError`, so a caller can catch the whole family at once. Each one
carries a message written for the evaluator who must fix the problem: it names the file, the
column or key, and the rows at fault.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = [
    "EvalkitError",
    "EvalDataError",
    "EvalOptionError",
    "DesignRefused",
    "DataProblem",
    "ConfigError",
    "PrivacyError",
]

#: How many row numbers a problem lists before it says "and N more".
MAX_ROWS_SHOWN = 8


class EvalkitError(Exception):
    """Base class of every error raised by evalkit."""


@dataclass(frozen=True)
class DataProblem:
    """One problem found in a data set.

    Attributes
    ----------
    column
        The column at fault, or ``None`` for a problem of the whole table (e.g. no rows).
    message
        What is wrong, in words ("values are not numbers").
    expected
        What was expected instead ("numbers between 0 and 80").
    rows
        Row labels at fault, as the user sees them (file line numbers for CSV, sheet rows for
        Excel, 1-based positions otherwise). Only the first few are kept for display; ``n_rows``
        holds the full count.
    n_rows
        How many rows have the problem.
    examples
        A few offending values, when showing them helps and is safe (never identifiers).
    """

    column: str | None
    message: str
    expected: str = ""
    rows: tuple[int, ...] = ()
    n_rows: int = 0
    examples: tuple[str, ...] = ()

    def describe(self, row_word: str = "row") -> str:
        """One line of text describing the problem."""
        where = f"column '{self.column}'" if self.column is not None else "table"
        text = f"{where}: {self.message}"
        if self.n_rows and not row_word:  # rows without numbers (a query's result)
            text += f" in {self.n_rows} row{'s' if self.n_rows != 1 else ''}"
        elif self.n_rows:
            shown = ", ".join(str(r) for r in self.rows[:MAX_ROWS_SHOWN])
            more = self.n_rows - min(len(self.rows), MAX_ROWS_SHOWN)
            plural = "s" if self.n_rows != 1 else ""
            text += f" in {self.n_rows} {row_word}{plural} ({row_word}{plural} {shown}"
            text += f", and {more} more)" if more > 0 else ")"
        if self.examples:
            text += "; e.g. " + ", ".join(repr(e) for e in self.examples)
        if self.expected:
            text += f"; expected {self.expected}"
        return text


class EvalDataError(EvalkitError, ValueError):
    """The data cannot be analysed as asked.

    Lists every problem found at once, so the evaluator can fix the file in one pass.

    Parameters
    ----------
    problems
        The problems found; a plain string is accepted for a single problem of the whole table.
    source
        Where the data came from (a file path, or a description such as ``"data frame"``).
    row_word
        What the row numbers count: ``"line"`` for CSV files, ``"row"`` otherwise; ``""``
        for rows that have no numbers a user could look up (a query's result): only how many
        rows is said.
    """

    def __init__(
        self,
        problems: Sequence[DataProblem] | str,
        *,
        source: str | None = None,
        row_word: str = "row",
    ) -> None:
        if isinstance(problems, str):
            problems = [DataProblem(column=None, message=problems)]
        self.problems: tuple[DataProblem, ...] = tuple(problems)
        self.source = source
        self.row_word = row_word
        super().__init__(self._format())

    def _format(self) -> str:
        head = f"{self.source}: " if self.source else ""
        if len(self.problems) == 1:
            return head + self.problems[0].describe(self.row_word)
        lines = [f"{head}{len(self.problems)} problems found"]
        lines += [f"  - {p.describe(self.row_word)}" for p in self.problems]
        return "\n".join(lines)

    def __reduce__(self):  # keep the error picklable across worker processes
        return (_rebuild_data_error, (self.problems, self.source, self.row_word))


def _rebuild_data_error(problems, source, row_word):
    return EvalDataError(problems, source=source, row_word=row_word)


class DesignRefused(EvalDataError):
    """The data are sound, but too thin for the estimator's intervals to be trusted.

    Raised instead of a number that would look exact and be wrong: for example a staggered
    difference-in-differences with fewer treated units than its intervals need. It is an
    :class:`EvalDataError` (so code catching data problems catches it too); a template catches it
    to print a report that says why no estimate is given and which design fits instead.

    Parameters
    ----------
    problems, source
        As for :class:`EvalDataError`.
    alternative
        The design that fits these data instead, in words ("synthetic control, built for one or
        a few treated units").
    reason
        Why no estimate is given, in plain language and without identifiers or row numbers, so
        a report can print it.
    """

    def __init__(self, problems: Sequence[DataProblem] | str, *, source: str | None = None,
                 alternative: str = "", reason: str = "", row_word: str = "row") -> None:
        self.alternative = alternative
        self.reason = reason
        super().__init__(problems, source=source, row_word=row_word)

    def __reduce__(self):
        return (_rebuild_refusal, (self.problems, self.source, self.alternative, self.reason,
                                   self.row_word))


def _rebuild_refusal(problems, source, alternative, reason, row_word):
    return DesignRefused(problems, source=source, alternative=alternative, reason=reason,
                         row_word=row_word)


@dataclass
class ConfigError(EvalkitError, ValueError):
    """An evaluation config is malformed: names the file and every key at fault."""

    path: str
    problems: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        if len(self.problems) == 1:
            return f"{self.path}: {self.problems[0]}"
        return f"{self.path}: {len(self.problems)} problems\n" + "\n".join(
            f"  - {p}" for p in self.problems
        )

    def __reduce__(self):
        return (ConfigError, (self.path, list(self.problems)))


class EvalOptionError(EvalkitError, ValueError):
    """An option was given a value it does not take.

    The message names the option, the value given and every value allowed, e.g.
    ``ties must be one of 'efron' or 'breslow', not 'exact'``. It is a :class:`ValueError`, so
    code that caught the plain ``ValueError`` raised before keeps working.

    Parameters
    ----------
    option
        The option's name (the keyword argument).
    value
        The value given.
    allowed
        The values the option takes.
    """

    def __init__(self, option: str, value: object, allowed: Sequence[object]) -> None:
        self.option = option
        self.value = value
        self.allowed = tuple(allowed)
        super().__init__(self._format())

    def _format(self) -> str:
        shown = [repr(a) for a in self.allowed]
        if len(shown) > 1:
            listed = ", ".join(shown[:-1]) + " or " + shown[-1]
            return f"{self.option} must be one of {listed}, not {self.value!r}"
        return f"{self.option} must be {shown[0] if shown else 'given'}, not {self.value!r}"

    def __reduce__(self):
        return (EvalOptionError, (self.option, self.value, self.allowed))


class PrivacyError(EvalkitError):
    """A report would disclose something it must not (an identifier, a small count)."""

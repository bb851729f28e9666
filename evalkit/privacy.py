"""Disclosure control for reports about children: small-cell suppression and leak checks.

Rules (see the README's "Privacy" section):

* Counts from 1 to ``threshold − 1`` are suppressed wherever a report shows counts (primary
  suppression). Zero is shown: it discloses nobody.
* Complementary suppression: wherever shown totals would let a reader recover a suppressed
  count by subtraction, further cells are suppressed, smallest first, until every row, column
  and margin has either no suppressed cell or at least two whose sum reaches the threshold.
* The threshold defaults to 11 and may be raised, never set below 5.
* A rendered report in which any identifier value from the input appears is refused with a
  :class:`~evalkit.exceptions.PrivacyError`.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from evalkit.exceptions import PrivacyError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DEFAULT_THRESHOLD",
    "MIN_THRESHOLD",
    "SUPPRESSED",
    "check_threshold",
    "is_reportable",
    "format_count",
    "suppress",
    "Suppressed",
    "find_identifiers",
    "check_no_identifiers",
    "redact_small_counts",
    "unique_text",
    "count_searchable",
]

DEFAULT_THRESHOLD = 11
MIN_THRESHOLD = 5
#: How a suppressed cell is shown.
SUPPRESSED = "suppressed"


def check_threshold(threshold: int) -> int:
    """Validate a suppression threshold (an integer of at least ``MIN_THRESHOLD``)."""
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Integral):
        raise ValueError(f"privacy threshold must be a whole number, not {threshold!r}")
    if threshold < MIN_THRESHOLD:
        raise ValueError(
            f"privacy threshold {threshold} is below the minimum of {MIN_THRESHOLD}: counts "
            "that small identify children"
        )
    return int(threshold)


def is_reportable(n: int | float, threshold: int = DEFAULT_THRESHOLD) -> bool:
    """Whether a count may be shown: zero, or at least ``threshold``."""
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return False
    return n == 0 or n >= check_threshold(threshold)


def format_count(n: int | float, threshold: int = DEFAULT_THRESHOLD) -> str:
    """A count as text, or ``"suppressed"`` when it is too small to show."""
    return f"{int(n):,}" if is_reportable(n, threshold) else SUPPRESSED


@dataclass(frozen=True)
class Suppressed:
    """A table of counts with its suppression pattern.

    Attributes
    ----------
    counts
        The counts, with margins (a ``"Total"`` row and, for two-way tables, column) when asked.
    mask
        ``True`` where a cell must not be shown.
    threshold
        The threshold applied.
    """

    counts: pd.DataFrame
    mask: pd.DataFrame
    threshold: int

    @property
    def n_suppressed(self) -> int:
        """How many cells are hidden."""
        return int(self.mask.to_numpy().sum())

    def display(self, *, percent_of: str | None = None) -> pd.DataFrame:
        """The table as text with suppressed cells replaced by ``"suppressed"``.

        Parameters
        ----------
        percent_of
            ``"column"`` or ``"row"``: append each count's share of its column (row) total in
            parentheses. A share is hidden wherever its count is.
        """
        import pandas as pd

        c = self.counts
        out = pd.DataFrame(index=c.index, columns=c.columns, dtype=object)
        for i in range(c.shape[0]):
            for j in range(c.shape[1]):
                if self.mask.iat[i, j]:
                    out.iat[i, j] = SUPPRESSED
                    continue
                v = c.iat[i, j]
                text = f"{int(v):,}"
                if percent_of is not None:
                    ti, tj = (c.shape[0] - 1, j) if percent_of == "column" else (i, c.shape[1] - 1)
                    total = c.iat[ti, tj]
                    # a share is shown only beside a shown total: with the total hidden, the
                    # share and the shown count would give it back
                    if total and not self.mask.iat[ti, tj]:
                        text += f" ({100 * v / total:.0f}%)"
                out.iat[i, j] = text
        return out

    def values(self) -> pd.DataFrame:
        """The counts as floats with suppressed cells set to NaN (for figures)."""
        return self.counts.astype(float).mask(self.mask)


def suppress(
    counts: pd.Series | pd.DataFrame | Sequence[int],
    threshold: int = DEFAULT_THRESHOLD,
    *,
    margins: bool = True,
    protect: Iterable[object] = (),
) -> Suppressed:
    """Apply primary and complementary suppression to a one- or two-way table of counts.

    Parameters
    ----------
    counts
        Non-negative whole counts: a Series (one-way) or DataFrame (two-way).
    threshold
        Smallest count that may be shown (default 11, never below 5).
    margins
        Whether totals are shown. They are added (``"Total"``) and protected too: a small total
        is suppressed, and no suppressed cell can be recovered from the totals.
    protect
        Cells that complementary suppression should leave visible when it has another choice
        (row labels of a one-way table, ``(row, column)`` pairs of a two-way one): the counts
        an analysis is based on, whose size the estimates reveal anyway (a t-test's degrees of
        freedom give its n). A total or another cell is hidden instead.

    Returns
    -------
    Suppressed
        The table (with margins) and its suppression mask.

    Examples
    --------
    >>> import pandas as pd
    >>> s = suppress(pd.Series({"completed": 40, "withdrew": 3, "moved": 12}))
    >>> s.display()[0].tolist()
    ['40', 'suppressed', 'suppressed', '55']
    """
    import numpy as np
    import pandas as pd

    threshold = check_threshold(threshold)
    one_way = not isinstance(counts, pd.DataFrame)
    frame = counts.copy() if isinstance(counts, pd.DataFrame) else pd.DataFrame(pd.Series(counts))
    arr = frame.to_numpy(dtype=float)
    if np.isnan(arr).any() or (arr < 0).any() or (np.floor(arr) != arr).any():
        raise ValueError("counts must be non-negative whole numbers")
    if margins:
        frame = frame.copy()
        frame.loc["Total"] = frame.sum(axis=0)
        if not one_way:
            frame["Total"] = frame.sum(axis=1)
    values = frame.to_numpy(dtype=float)
    mask = (values > 0) & (values < threshold)

    # Additive relations: (cells, total) index lists. Every row and column of the body sums to
    # its margin; the margins themselves sum to the grand total.
    relations: list[tuple[list[tuple[int, int]], tuple[int, int] | None]] = []
    nr, nc = values.shape
    if margins:
        br = nr - 1
        bc = nc - 1 if not one_way else nc
        for j in range(nc):  # each column (incl. the total column) sums to the total row
            relations.append(([(i, j) for i in range(br)], (br, j)))
        if not one_way:
            for i in range(nr):  # each row (incl. the total row) sums to the total column
                relations.append(([(i, j) for j in range(bc)], (i, bc)))
    keep = np.zeros_like(mask)
    rows, cols = list(frame.index), list(frame.columns)
    for label in protect:
        r, c = (label, cols[0]) if one_way else cast("tuple[object, object]", label)
        if r in rows and c in cols:
            keep[rows.index(r), cols.index(c)] = True
    _complement(values, mask, relations, threshold, keep)
    return Suppressed(
        counts=frame.astype("int64"),
        mask=pd.DataFrame(mask, index=frame.index, columns=frame.columns),
        threshold=threshold,
    )


def _complement(values, mask, relations, threshold, keep=None) -> None:
    changed = True
    while changed:
        changed = False
        for cells, total in relations:
            members = cells + ([total] if total is not None else [])
            hidden = [c for c in members if mask[c]]
            if not hidden:
                continue
            hidden_cells = [c for c in cells if mask[c]]
            hidden_sum = sum(values[c] for c in hidden_cells)
            total_shown = total is not None and not mask[total]
            needs = len(hidden) == 1 or (total_shown and 0 < hidden_sum < threshold)
            if not needs:
                continue
            free = [c for c in cells if not mask[c]]
            candidates = [c for c in free if keep is None or not keep[c]]
            if not candidates and total is not None and not mask[total]:
                candidates = [total]
            if not candidates:
                candidates = free
            if not candidates:
                continue
            # Prefer the smallest non-zero cell: hiding a zero protects little.
            candidates.sort(key=lambda c: (values[c] == 0, values[c]))
            mask[candidates[0]] = True
            changed = True


# -- identifier leak check --------------------------------------------------------------------

_DATA_URI = re.compile(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=\s]+")
#: Purely numeric identifiers shorter than this cannot be told apart from ordinary numbers.
MIN_NUMERIC_ID_LENGTH = 5


def _as_text(ids: Iterable[object]):
    """The values as stripped text in an Arrow array (missing values dropped).

    In that form the string operations run in C over millions of ids.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    from evalkit.data import outer_blanks

    if isinstance(ids, pd.Series) and pd.api.types.is_string_dtype(ids.dtype) \
            and ids.dtype != object:
        values = pa.array(ids)  # Arrow-backed text: no Python string per value
    elif isinstance(ids, pd.Series):
        values = ids.to_numpy(dtype=object)
    elif isinstance(ids, (pa.Array, pa.ChunkedArray)):
        values = ids
    else:
        values = pd.Series(list(ids), dtype=object).to_numpy()
    try:
        arr = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(
            values, type=pa.string(), from_pandas=True)
        if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
            arr = arr.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # numbers or mixed objects: as Python text
        clean = pd.Series(values, dtype=object)
        arr = pa.array(clean[clean.notna()].astype(str).to_numpy(), type=pa.string())
    if arr.null_count:
        arr = pc.drop_null(arr)
    if outer_blanks(arr):
        arr = pc.utf8_trim_whitespace(arr)  # a copy only when some value needs trimming
    return arr


def _too_short(arr):
    """Which values of an Arrow text array are too short to search.

    A value is too short when it is shorter than three characters, or purely numeric and
    shorter than ``MIN_NUMERIC_ID_LENGTH`` digits.
    """
    import pyarrow.compute as pc

    length = pc.utf8_length(arr)
    return pc.or_(pc.less(length, 3),
                  pc.and_(pc.less(length, MIN_NUMERIC_ID_LENGTH), pc.utf8_is_digit(arr)))


def unique_text(values: Iterable[object]):
    """The distinct values as stripped text (an Arrow array, missing and empty values dropped).

    This is the form in which the leak check takes millions of identifiers without copying
    them.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from evalkit.data import text_ranks

    arr = _as_text(values)
    empty = pc.equal(arr, "")
    if pc.any(empty).as_py():
        arr = pc.filter(arr, pc.invert(empty))
    if len(arr) == 0:
        return arr
    # distinct values through their ranks (first occurrence kept, in order): Arrow's
    # `unique` builds a hash table ten times the size of millions of ids
    ranks = text_ranks(arr)
    if np.bincount(ranks).max() <= 1:
        return arr
    order = np.argsort(ranks, kind="stable")
    first = np.ones(len(order), dtype=bool)
    first[1:] = ranks[order[1:]] != ranks[order[:-1]]
    keep = np.zeros(len(order), dtype=bool)
    keep[order[first]] = True
    return pc.filter(arr, pa.array(keep))


def count_searchable(values: Iterable[object]) -> dict[str, int]:
    """How many distinct values the leak check searches, and how many are too short to search.

    Too short means purely numeric and shorter than five digits, or shorter than three
    characters.
    """
    import pyarrow.compute as pc

    arr = unique_text(values)
    n_short = int(pc.sum(_too_short(arr)).as_py() or 0)
    return {"searched": len(arr) - n_short, "too_short_to_search": n_short}


#: Longest value searched through the candidate set; longer ones (rare) are searched one by one.
_MAX_TOKEN = 64


def find_identifiers(text: str, identifiers: Iterable[object]) -> list[str]:
    """Identifier values that occur in ``text`` as whole tokens.

    A value occurs as a whole token when it is neither preceded nor followed by an ASCII letter
    or digit. Embedded images (``data:`` URIs) are ignored. Purely numeric ids shorter than five
    digits and ids shorter than three characters are not searched: they cannot be told apart
    from ordinary numbers and words.

    The search grows with the size of the text, not with the number of identifiers: every span
    of the text that could be a whole token (it starts where no letter or digit precedes it and
    ends where none follows, up to 64 characters) goes into one set, and the values are matched
    against that set in one vectorized pass (Arrow). Millions of ids are checked against a
    report in about a second.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    body = _DATA_URI.sub("", text)
    ids = _as_text(identifiers)
    if len(ids) == 0:
        return []
    starts = [m.start() for m in re.finditer(r"(?<![A-Za-z0-9])\S", body)]
    ends = {m.end() for m in re.finditer(r"\S(?![A-Za-z0-9])", body)}
    # only spans as long as some identifier can match one: ids are usually of one or a few
    # lengths, so few spans are built
    lengths = sorted(int(n) for n in pc.unique(pc.utf8_length(ids)).to_pylist()
                     if n is not None and 0 < n <= _MAX_TOKEN)
    candidates: set[str] = {body[i:i + n] for i in starts for n in lengths if i + n in ends}
    hits: set[str] = set()
    if candidates:
        mask = pc.is_in(ids, value_set=pa.array(sorted(candidates), type=ids.type))
        hits.update(pc.unique(pc.filter(ids, mask)).to_pylist())
    for v in pc.unique(pc.filter(ids, pc.greater(pc.utf8_length(ids), _MAX_TOKEN))).to_pylist():
        if re.search(r"(?<![A-Za-z0-9])" + re.escape(v) + r"(?![A-Za-z0-9])", body):
            hits.add(v)
    return sorted(v for v in hits
                  if len(v) >= 3 and not (v.isdigit() and len(v) < MIN_NUMERIC_ID_LENGTH))


def check_no_identifiers(
    text: str, identifiers: Iterable[object], *, what: str, column: str | None = None
) -> int:
    """Raise :class:`PrivacyError` if any identifier value occurs in ``text``.

    The error says how many values were found and where, but never prints them.

    Returns
    -------
    int
        How many identifier values were too short to search (see :func:`find_identifiers`).
    """
    import pyarrow.compute as pc

    ids = _as_text(identifiers)  # converted once, searched and counted as Arrow text
    empty = pc.equal(ids, "")
    if pc.any(empty).as_py():
        ids = pc.filter(ids, pc.invert(empty))
    skipped = int(pc.sum(_too_short(ids)).as_py() or 0)
    found = find_identifiers(text, ids)
    if found:
        col = f" of column '{column}'" if column else ""
        body = _DATA_URI.sub("", text)
        first = min(body.find(f) for f in found)
        line = body.count("\n", 0, first) + 1
        raise PrivacyError(
            f"{what}: {len(found)} identifier value(s){col} from the input appear in the "
            f"rendered report (first on line {line}); the report was not written. Remove the "
            "output that shows them."
        )
    return skipped


#: Words after a number that make it something other than a count of people or records (sites,
#: years, a confidence level...): such numbers are left alone by :func:`redact_small_counts`.
_NOT_PEOPLE = (
    "cluster", "clusters", "site", "sites", "state", "states", "county", "counties", "agency",
    "agencies", "period", "periods", "year", "years", "month", "months", "week", "weeks", "day",
    "days", "degree", "degrees", "df", "iteration", "iterations", "decimal", "decimals",
    "digit", "digits", "draw", "draws", "sign", "signs", "point", "points", "standard",
    "percent", "percentage", "times", "cohort", "cohorts", "group", "groups", "categories",
    "category", "covariate", "covariates", "term", "terms", "level", "levels",
)
_SMALL_INT = re.compile(r"(?<![\w.,^/−–-])(\d+)(?![\w%^/]|[.,]\d|\s*[−–-]\s*\d)(\s+([A-Za-z]+))?")


#: Words before an upper bound ("fewer than 5"); a lower bound ("at least 3") is left alone.
_BOUND_BEFORE = re.compile(r"\b(?:fewer than|less than|at most|below|under)\s+$", re.I)
_LOWER_BEFORE = re.compile(r"\b(?:at least|more than|over|above)\s+$", re.I)
_RANGE_AFTER = re.compile(r"\s*\d")
_SENTENCE_END = re.compile(r"[.!?:]\s+$")


def redact_small_counts(text: str, threshold: int = DEFAULT_THRESHOLD, *,
                        people: Sequence[str] = ()) -> str:
    """Replace counts of people or records from 1 to ``threshold − 1`` in a sentence.

    Estimators write cautions such as "3 youth had no second score"; in a report about
    children that count is itself disclosive. Every whole number from 1 to ``threshold − 1``
    that stands alone (not part of a decimal, a percentage, a range or an identifier) becomes
    "fewer than ``threshold``", unless the next word shows it counts something other than
    people or records (sites, clusters, years, degrees of freedom...).

    Examples
    --------
    >>> redact_small_counts("3 youth had no second score; 2 sites; 95% level", 11)
    'fewer than 11 youth had no second score; 2 sites; 95% level'

    ``people`` names the words for the people of this evaluation (the configured population,
    e.g. ``("man", "men")``); a count followed by one of them is always redacted, even when
    the word would otherwise count something else.
    """
    thr = check_threshold(threshold)
    named = {w.lower() for w in people}

    def repl(m: re.Match[str]) -> str:
        n = int(m.group(1))
        word = (m.group(3) or "").lower()
        if not 1 <= n < thr or (word in _NOT_PEOPLE and word not in named):
            return m.group(0)
        # a bound below the threshold ("fewer than 5 events") says more than suppression
        # does: it is raised to the threshold ("fewer than 11 events")
        if _BOUND_BEFORE.search(text, 0, m.start()):
            return f"{thr}" + (m.group(2) or "")
        if _LOWER_BEFORE.search(text, 0, m.start()):  # "at least 3": not a count of anyone
            return m.group(0)
        if word == "to" and _RANGE_AFTER.match(text, m.end()):  # "10 to 20 youth": a range
            return m.group(0)
        start = not text[:m.start()].strip() or _SENTENCE_END.search(text, 0, m.start())
        return f"{'Fewer' if start else 'fewer'} than {thr}" + (m.group(2) or "")

    return _SMALL_INT.sub(repl, text)


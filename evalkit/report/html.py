"""Small HTML building blocks shared by every report section."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping

import pandas as pd

from evalkit.privacy import SUPPRESSED

__all__ = ["Block", "esc", "table", "key_values", "paragraphs"]


def esc(text: object) -> str:
    """Escape text for HTML."""
    return html.escape(str(text), quote=True)


class Block:
    """A piece of report HTML; notebooks display it through ``_repr_html_``.

    Blocks concatenate with ``+`` so a section can be assembled from parts.
    """

    def __init__(self, html_text: str, *, text: str | None = None) -> None:
        self.html = html_text
        self.text = text if text is not None else ""

    def _repr_html_(self) -> str:
        return self.html

    def __add__(self, other: Block) -> Block:
        return Block(self.html + other.html, text="\n".join(t for t in (self.text, other.text) if t))

    def __repr__(self) -> str:  # plain-text fallback, e.g. in a terminal
        return self.text or "<evalkit report block>"


def paragraphs(*texts: str, cls: str | None = None) -> str:
    """Paragraph tags for each non-empty text."""
    c = f" class='{cls}'" if cls else ""
    return "".join(f"<p{c}>{esc(t)}</p>" for t in texts if t)


def table(
    frame: pd.DataFrame,
    *,
    caption: str | None = None,
    index: bool = True,
    index_label: str = "",
    total_rows: Iterable[object] = ("Total",),
    note: str | None = None,
) -> str:
    """An accessible HTML table: the one renderer of every table in a report.

    Parameters
    ----------
    frame
        The cells, already worded for readers (numbers formatted, small counts replaced by
        ``"suppressed"``, which is styled as such).
    caption
        The table's caption.
    index
        Whether the frame's index is the first column (row headings).
    index_label
        Heading of the index column.
    total_rows
        Index values of rows styled as totals.
    note
        A note printed under the table.

    Returns
    -------
    str
        The table's HTML (and the note's).
    """
    totals = set(total_rows)
    cols = list(frame.columns)
    head = (f"<th scope='col'>{esc(index_label)}</th>" if index else "") + "".join(
        f"<th scope='col'>{esc(c)}</th>" for c in cols
    )
    rows = []
    for idx, row in frame.iterrows():
        cells = f"<th scope='row'>{esc(idx)}</th>" if index else ""
        for c in cols:
            v = row[c]
            cls = " class='ek-suppressed'" if v == SUPPRESSED else ""
            cells += f"<td{cls}>{esc(v)}</td>"
        tr_cls = " class='ek-total'" if idx in totals else ""
        rows.append(f"<tr{tr_cls}>{cells}</tr>")
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    out = (
        f"<table class='ek-table'>{cap}<thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    if note:
        out += f"<p class='ek-note'>{esc(note)}</p>"
    return out


def key_values(items: Mapping[str, object], *, cls: str = "ek-kv") -> str:
    """A definition list of label → value pairs."""
    body = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items.items())
    return f"<dl class='{cls}'>{body}</dl>"

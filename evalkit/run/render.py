"""Render an executed notebook as the funders' HTML report: no code, no network, one file."""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path

import nbformat

__all__ = ["to_html", "funder_notebook"]

_REPORT_DIR = Path(__file__).resolve().parents[1] / "report"


@lru_cache(maxsize=1)
def _exporter():
    from nbconvert import HTMLExporter

    return HTMLExporter(
        template_name="evalkit",
        extra_template_basedirs=[str(_REPORT_DIR / "templates")],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        exclude_anchor_links=True,
        embed_images=True,
    )


@lru_cache(maxsize=1)
def _css() -> str:
    return (_REPORT_DIR / "assets" / "report.css").read_text(encoding="utf-8")


def funder_notebook(nb: nbformat.NotebookNode, *, title: str) -> nbformat.NotebookNode:
    """A copy of ``nb`` holding only what funders see.

    Code is dropped by the exporter; here cells tagged ``remove_cell`` go, and so do outputs
    meant for evaluators only: warnings and other text written to stderr, and error outputs.
    """
    out = copy.deepcopy(nb)
    out.metadata["title"] = title
    keep = []
    for cell in out.cells:
        if "remove_cell" in cell.get("metadata", {}).get("tags", []):
            continue
        if cell.cell_type == "code":
            cell.outputs = [
                o for o in cell.outputs
                if not (o.output_type == "stream" and o.get("name") == "stderr")
                and o.output_type != "error"
            ]
        keep.append(cell)
    out.cells = keep
    return out


def to_html(nb: nbformat.NotebookNode, *, title: str) -> str:
    """The funder HTML of an executed notebook (all code hidden, styles inline)."""
    body, _ = _exporter().from_notebook_node(
        funder_notebook(nb, title=title), resources={"evalkit_css": _css()}
    )
    return body

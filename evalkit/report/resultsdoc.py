"""The ``results.json`` document: headline estimates in a stable, documented shape.

A template builds the method part with :func:`build` and writes it with :func:`write`; the
runner adds the evaluation's identity and run status (:func:`finalize`) and checks the shape
(:func:`problems`). The portfolio index and any other tool read this file, never the notebook.

Shape (``schema_version`` 1; fields marked * may be ``null``)::

    {
      "schema_version": 1,
      "slug": str, "title": str, "program": str, "template": str,      # added by the runner
      "status": "ok", "generated_at": ISO-8601 UTC,                      # added by the runner
      "design": {"code": str, "label": str},
      "outcome": {"name": str, "label": str, "units": str, "lower_is_better": bool},
      "headline": {
        "estimand": str, "estimate": float*, "ci_low": float*, "ci_high": float*,
        "alpha": float, "p_value": float*, "n": int*, "units": str,
        "n_unit": str,                          # optional: what n counts, plural ("youth",
                                                # "months", "states"); the index prints it
        "effect_size": {"name": str, "estimate": float*, "ci_low": float*, "ci_high": float*}*,
        "suppressed": bool,
        "digits": int,                          # optional: decimals the report prints the
                                                # estimate and its CI with (index uses it)
        "scale": "linear" | "log",              # optional: the outcome's scale
        "percent_change": {"estimate": float*, "ci_low": float*,
                           "ci_high": float*},  # optional, log scale: exp(b) − 1
        "not_estimated": bool                   # optional: true when the estimator refused
      },                                        # the data (rating "not_estimated")
      "estimates": [{"term": str, "estimate": float*, "se": float*, "ci_low": float*,
                     "ci_high": float*, "p_value": float*, ...}],
      "sample": {"<count name>": int* , ...},   # null where suppressed
      "suppressed": [str, ...],                 # names of counts hidden for privacy
      "finding": str,
      "evidence": {"rating": str, "label": str, "reasons": [str, ...]},
      "limitations": [str, ...],
      "cautions": [str, ...],                   # what the estimators flagged (see
                                                # evalkit.results.Result.cautions)
      "checks": {...}                           # optional: design checks (attrition, baseline
                                                # equivalence, parallel trends, ...)
    }

A prepost comparison adjusted by its ``adjust`` block leads with the adjusted effect
(``headline.estimand`` names the method and covariates), lists the adjusted and unadjusted
effects first in ``estimates``, and adds ``checks.covariate_balance``: ``method``,
``estimand``, ``missing``, ``covariates`` (rows of covariate, smd_raw, smd_adjusted,
variance_ratio), ``max_abs_smd_raw``, ``max_abs_smd_adjusted``, ``ess`` (treated, control) and
``n_incomplete`` (:func:`evalkit.report.weighting.covariate_balance`).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evalkit.results import jsonable

__all__ = ["SCHEMA_VERSION", "build", "write", "read", "finalize", "problems"]

SCHEMA_VERSION = 1

_REQUIRED = {
    "design": dict,
    "outcome": dict,
    "headline": dict,
    "estimates": list,
    "sample": dict,
    "suppressed": list,
    "finding": str,
    "evidence": dict,
    "limitations": list,
}
_HEADLINE = ("estimand", "estimate", "ci_low", "ci_high", "alpha", "p_value", "n", "units",
             "effect_size", "suppressed")


def build(
    *,
    design: Mapping[str, str],
    outcome: Mapping[str, Any],
    headline: Mapping[str, Any],
    estimates: Sequence[Mapping[str, Any]],
    sample: Mapping[str, Any],
    suppressed: list[str],
    finding: str,
    evidence: Mapping[str, Any],
    limitations: list[str],
    cautions: Sequence[str] = (),
) -> dict[str, Any]:
    """Assemble the method part of a results document (JSON-ready, NaN → null)."""
    doc = {
        "schema_version": SCHEMA_VERSION,
        "design": dict(design),
        "outcome": dict(outcome),
        "headline": dict(headline),
        "estimates": [dict(e) for e in estimates],
        "sample": dict(sample),
        "suppressed": list(suppressed),
        "finding": finding,
        "evidence": dict(evidence),
        "limitations": list(limitations),
        "cautions": [str(c) for c in cautions],
    }
    doc = jsonable(doc)
    found = problems(doc, partial=True)
    if found:
        raise ValueError("results document is malformed: " + "; ".join(found))
    return doc


def write(path: str | os.PathLike[str] | None, doc: Mapping[str, Any]) -> None:
    """Write ``doc`` as JSON to ``path`` (no-op when ``path`` is ``None``, as in JupyterLab)."""
    if path is None:
        return
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(p.suffix + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    tmp.replace(p)


def read(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a results document."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def finalize(doc: Mapping[str, Any], **identity: Any) -> dict[str, Any]:
    """Add the runner's fields (slug, title, program, template, status, generated_at)."""
    out = {"schema_version": SCHEMA_VERSION, **identity}
    out.update({k: v for k, v in doc.items() if k != "schema_version"})
    return out


def problems(doc: Mapping[str, Any], *, partial: bool = False) -> list[str]:
    """What is wrong with a results document's shape (empty when it is well formed)."""
    out: list[str] = []
    if doc.get("schema_version") != SCHEMA_VERSION:
        out.append(f"schema_version must be {SCHEMA_VERSION}")
    keys = dict(_REQUIRED)
    if not partial:
        keys.update({"slug": str, "title": str, "program": str, "template": str, "status": str})
    for key, typ in keys.items():
        if key not in doc:
            out.append(f"missing '{key}'")
        elif not isinstance(doc[key], typ):
            out.append(f"'{key}' must be a {typ.__name__}")
    cautions = doc.get("cautions", [])  # absent in documents written before cautions existed
    if not (isinstance(cautions, list) and all(isinstance(c, str) for c in cautions)):
        out.append("'cautions' must be a list of strings")
    head = doc.get("headline")
    if isinstance(head, dict):
        for key in _HEADLINE:
            if key not in head:
                out.append(f"headline is missing '{key}'")
        for key in ("estimate", "ci_low", "ci_high"):
            v = head.get(key)
            if v is not None and not (isinstance(v, (int, float)) and math.isfinite(v)):
                out.append(f"headline '{key}' must be a finite number or null")
        digits = head.get("digits")
        if digits is not None and not (isinstance(digits, int) and not isinstance(digits, bool)
                                       and 0 <= digits <= 6):
            out.append("headline 'digits' must be a whole number from 0 to 6")
    ev = doc.get("evidence")
    if isinstance(ev, dict):
        for key in ("rating", "label", "reasons"):
            if key not in ev:
                out.append(f"evidence is missing '{key}'")
    return out

"""Findings for information sharing: one row per evaluation and estimand, without the reports.

Clearinghouses and partner agencies can take a portfolio's findings as a table. ``evalkit
export --format csv|json`` reads every report's ``results.json`` under a reports folder and
writes one row per evaluation × estimand: the headline first (``role`` ``"headline"``), then
every other estimate the report shows (``role`` ``"estimate"``).

Schema (:data:`COLUMNS`, in order; ``*`` may be empty / ``null``):

=====================  =====================================================================
column                 meaning
=====================  =====================================================================
slug                   the evaluation's name (its config file's stem)
title, program         as the config gives them
template               prepost, survival, did or its
design                 design code (e.g. ``time_to_event_comparison``), as the evidence rules
design_label           the design in words
outcome_domain         the outcome domain the config names (e.g. ``placement stability``)
outcome                the outcome in words
role                   ``headline`` or ``estimate``
estimand               what is estimated (the headline's words, or the estimate's term)
estimate*              the estimate (null where the report withholds it)
ci_low*, ci_high*      its confidence interval (level ``1 − alpha``)
p_value*               its p-value
units                  units of the estimate (headline rows)
alpha*                 1 − confidence level (headline rows)
effect_size_name*      standardized effect size (``hedges_g_wwc``, ``hazard_ratio``, ...)
effect_size*           its estimate, ``effect_size_ci_low*``, ``effect_size_ci_high*``
n*                     people (or units) analysed; null where suppressed
n_unit*                what ``n`` counts, plural (``youth``, ``months``, ``states``)
suppressed             whether the headline is withheld for privacy
rating, rating_label   the evidence rating and its words
cautions               what the estimators flagged, joined by `` | ``
generated_at           when the report was made (UTC)
=====================  =====================================================================

Only what a report already shows is exported: results documents hold no row-level data, and
their small counts are null. The rows of each evaluation are checked again by the runner's leak
check against that evaluation's identifiers (its data file, read again): an evaluation whose
data can no longer be read, or whose rows would show one, is left out and named.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["COLUMNS", "ExportResult", "export_rows", "write_export"]

COLUMNS: tuple[str, ...] = (
    "slug", "title", "program", "template", "design", "design_label", "outcome_domain",
    "outcome", "role", "estimand", "estimate", "ci_low", "ci_high", "p_value", "units", "alpha",
    "effect_size_name", "effect_size", "effect_size_ci_low", "effect_size_ci_high", "n",
    "n_unit", "suppressed", "rating", "rating_label", "cautions", "generated_at",
)


@dataclass
class ExportResult:
    """Rows exported, and the evaluations left out with the reason for each."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    left_out: dict[str, str] = field(default_factory=dict)


def _num(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return float(x) if x == x else None  # NaN → null


def rows_of(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The export rows of one results document (headline first)."""
    h = doc.get("headline") or {}
    es = h.get("effect_size") or {}
    ev = doc.get("evidence") or {}
    design = doc.get("design") or {}
    outcome = doc.get("outcome") or {}
    common = {
        "slug": doc.get("slug"), "title": doc.get("title"), "program": doc.get("program"),
        "template": doc.get("template"), "design": design.get("code"),
        "design_label": design.get("label"), "outcome_domain": outcome.get("domain"),
        "outcome": outcome.get("label"), "rating": ev.get("rating"),
        "rating_label": ev.get("label"), "cautions": " | ".join(doc.get("cautions") or []),
        "generated_at": doc.get("generated_at"), "suppressed": bool(h.get("suppressed")),
    }
    n = h.get("n")
    rows = [{**common, "role": "headline", "estimand": h.get("estimand"),
             "estimate": _num(h.get("estimate")), "ci_low": _num(h.get("ci_low")),
             "ci_high": _num(h.get("ci_high")), "p_value": _num(h.get("p_value")),
             "units": h.get("units"), "alpha": _num(h.get("alpha")),
             "effect_size_name": es.get("name"), "effect_size": _num(es.get("estimate")),
             "effect_size_ci_low": _num(es.get("ci_low")),
             "effect_size_ci_high": _num(es.get("ci_high")),
             "n": int(n) if isinstance(n, int) and not isinstance(n, bool) else None,
             "n_unit": h.get("n_unit")}]
    for e in doc.get("estimates") or []:
        rows.append({**common, "role": "estimate", "estimand": str(e.get("term")),
                     "estimate": _num(e.get("estimate")), "ci_low": _num(e.get("ci_low")),
                     "ci_high": _num(e.get("ci_high")), "p_value": _num(e.get("p_value")),
                     "units": None, "alpha": None, "effect_size_name": None,
                     "effect_size": None, "effect_size_ci_low": None,
                     "effect_size_ci_high": None, "n": None, "n_unit": None})
    return [{c: r.get(c) for c in COLUMNS} for r in rows]


def _identifiers(slug: str, reports_dir: Path, runs: Mapping[str, Any]) -> dict:
    """The identifier values the leak check searches for in ``slug``'s rows.

    Read from the evaluation's config and data, as the run that made the report did. Raises
    ``LookupError`` with the reason when they cannot be read.
    """
    from evalkit.exceptions import ConfigError, EvalDataError
    from evalkit.run import checks
    from evalkit.run.config import load_config
    from evalkit.run.execute import _config_text

    manifest = reports_dir / slug / "manifest.json"
    try:
        path = json.loads(manifest.read_text(encoding="utf-8"))["config"]["path"]
    except (OSError, ValueError, KeyError, TypeError):
        path = (runs.get(slug) or {}).get("config")
    if not path:
        raise LookupError("its config is not recorded (no manifest.json)")
    try:
        cfg = load_config(path)
        data = cfg.load_data()
    except (ConfigError, EvalDataError, OSError) as exc:
        first = str(exc).splitlines()[0]
        raise LookupError(f"its config or data cannot be read to check the rows for "
                          f"identifiers ({first})") from None
    return checks.identifier_columns(data, cfg.id_column, cfg.privacy_threshold,
                                     known_text=_config_text(cfg),
                                     places=cfg.template.ids_are_places(cfg.parameters))


def export_rows(reports_dir: str | Path) -> ExportResult:
    """Every report's rows under ``reports_dir``, each evaluation's rows leak-checked.

    Returns
    -------
    ExportResult
        The rows (sorted by slug, headline first) and the evaluations left out with why.
    """
    from evalkit.exceptions import PrivacyError
    from evalkit.portfolio import RUNS_FILE, collect
    from evalkit.run import checks

    root = Path(reports_dir)
    try:
        runs = json.loads((root / RUNS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        runs = {}
    out = ExportResult()
    for doc in collect(root):
        slug = str(doc.get("slug"))
        rows = rows_of(doc)
        try:
            ids = _identifiers(slug, root, runs)
            checks.check(json.dumps(rows, ensure_ascii=False), ids, what=f"{slug} (export)")
        except LookupError as exc:
            out.left_out[slug] = str(exc)
            continue
        except PrivacyError as exc:
            out.left_out[slug] = str(exc)
            continue
        out.rows += rows
    return out


def _csv_text(rows: Iterable[Mapping[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if v is None else v) for k, v in r.items()})
    return buf.getvalue()


def write_export(result: ExportResult, fmt: str, path: str | Path | None = None) -> str:
    """The rows as CSV or JSON text, written to ``path`` when given (atomically).

    JSON is ``{"schema": {"columns": [...]}, "rows": [...]}``; CSV has the :data:`COLUMNS`
    header, empty cells for nulls.
    """
    if fmt == "csv":
        text = _csv_text(result.rows)
    elif fmt == "json":
        text = json.dumps({"schema": {"columns": list(COLUMNS), "version": 1},
                           "rows": result.rows}, indent=2, ensure_ascii=False) + "\n"
    else:
        raise ValueError(f"format must be csv or json, not {fmt!r}")
    if path is not None:
        p = Path(path)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(p)
    return text

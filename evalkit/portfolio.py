"""The portfolio: every evaluation's headline side by side, from its ``results.json``.

Build the same view from any folder of report folders::

    from evalkit import portfolio
    docs = portfolio.collect("reports")
    portfolio.table(docs)                       # a pandas DataFrame
    portfolio.write_index("reports")            # reports/index.html
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["collect", "table", "standardized", "pooled", "index_html", "write_index",
           "RUNS_FILE"]

#: Status of the latest run of each evaluation, kept beside the report folders.
RUNS_FILE = "runs.json"


#: Short names of standardized effect sizes in the index.
_EFFECT_NAMES = {"hedges_g_av": "g", "hedges_g_wwc": "g", "hazard_ratio": "HR",
                 "rate_ratio": "RR"}


def collect(reports_dir: str | Path) -> list[dict[str, Any]]:
    """Every ``<reports_dir>/<slug>/results.json``, sorted by slug."""
    root = Path(reports_dir)
    docs = []
    for path in sorted(root.glob("*/results.json")):
        if path.parent.name.startswith((".", "_")):
            continue
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        doc.setdefault("slug", path.parent.name)
        docs.append(doc)
    return docs


def _fmt(x: Any, digits: int = 2) -> str:
    if x is None:
        return "—"
    return f"{x:.{digits}f}".replace("-", "−")


def headline_digits(headline: Mapping[str, Any]) -> int:
    """Decimals to show a headline with.

    They are the report's own (``digits`` in results.json), else enough for the interval's
    width to show (at least two significant digits of it).
    """
    d = headline.get("digits")
    if isinstance(d, int) and not isinstance(d, bool):
        return d
    lo, hi = headline.get("ci_low"), headline.get("ci_high")
    if headline.get("units") == "hazard ratio":
        return 2
    if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and hi > lo:
        import math

        return int(min(4, max(1, 1 - math.floor(math.log10(hi - lo)))))
    return 1


def _percent(pc: Mapping[str, Any]) -> str:
    def f(x: Any) -> str:
        return "—" if x is None else f"{100 * x:.0f}%".replace("-", "−")
    return f"{f(pc.get('estimate'))} change ({f(pc.get('ci_low'))} to {f(pc.get('ci_high'))})"


def table(docs: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per evaluation: program, outcome, design, rating, effect with CI, n."""
    rows = []
    for d in docs:
        h = d.get("headline", {})
        es = h.get("effect_size") or {}
        rows.append(
            {
                "slug": d.get("slug"),
                "title": d.get("title"),
                "program": d.get("program"),
                "outcome": d.get("outcome", {}).get("label"),
                "design": d.get("design", {}).get("label"),
                "rating": d.get("evidence", {}).get("label"),
                "estimand": h.get("estimand"),
                "estimate": h.get("estimate"),
                "ci_low": h.get("ci_low"),
                "ci_high": h.get("ci_high"),
                "units": h.get("units"),
                "effect_size": es.get("name"),
                "effect_size_estimate": es.get("estimate"),
                "effect_size_ci_low": es.get("ci_low"),
                "effect_size_ci_high": es.get("ci_high"),
                "n": h.get("n"),
                "n_unit": h.get("n_unit"),
                "generated_at": d.get("generated_at"),
            }
        )
    return pd.DataFrame(rows)


_DESIGN_WORDS = {"one_group_prepost": "pre-post changes (not program effects)",
                 "comparison_group_prepost": "comparison-group effects"}

#: Effect sizes on the scale of Hedges' g, which can be compared and pooled across programs.
POOLABLE = ("hedges_g_av", "hedges_g_wwc")
#: Ratio effect sizes, drawn on their own log-scale forest plot (not pooled), and their
#: short names.
RATIOS = {"hazard_ratio": "HR", "rate_ratio": "RR"}


def standardized(docs: Sequence[Mapping[str, Any]], alpha: float = 0.05) -> pd.DataFrame:
    """Every program's standardized effect size.

    Columns: ``slug, title, domain, design, name, estimate, ci_low, ci_high, se`` (``se``
    recovered from the symmetric CI).
    """
    from scipy import special

    z = float(special.ndtri(1 - alpha / 2))
    rows = []
    for d in docs:
        es = (d.get("headline") or {}).get("effect_size") or {}
        if es.get("estimate") is None or es.get("ci_low") is None:
            continue
        name = es.get("name")
        est, lo, hi = es["estimate"], es["ci_low"], es["ci_high"]
        se = (hi - lo) / (2 * z) if name in POOLABLE else float("nan")
        rows.append({"slug": d.get("slug"), "title": d.get("title"),
                     "domain": (d.get("outcome") or {}).get("domain")
                     or (d.get("outcome") or {}).get("label"),
                     "design": (d.get("design") or {}).get("code"), "name": name,
                     "estimate": est, "ci_low": lo, "ci_high": hi, "se": se})
    return pd.DataFrame(rows)


def pooled(docs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Random-effects meta-analyses (REML, Hartung–Knapp) of programs that can be pooled.

    One is run wherever two or more programs share an outcome domain, an effect-size scale
    and a design.
    """
    return _pool(standardized(docs))


def _pool(eff: pd.DataFrame) -> list[dict[str, Any]]:
    from evalkit.methods.meta import meta_analysis

    out: list[dict[str, Any]] = []
    if eff.empty:
        return out
    eff = eff[eff["name"].isin(POOLABLE)]
    for (domain, name, design), grp in eff.groupby(["domain", "name", "design"]):
        if len(grp) < 2:
            continue
        res = meta_analysis(grp["estimate"], grp["se"] ** 2)
        out.append({"domain": domain, "effect_size": name, "design": design,
                    "programs": grp["title"].tolist(), "result": res})
    return out


def _forest_html(eff: pd.DataFrame, pools: list[dict[str, Any]]) -> str:
    from evalkit.report.figures import PALETTE, figure_block

    eff = eff[eff["name"].isin(POOLABLE)].sort_values(["domain", "estimate"])
    if eff.empty:
        return ""
    labels, est, lo, hi, colours = [], [], [], [], []
    for domain, grp in eff.groupby("domain", sort=True):
        for _, r in grp.iterrows():
            labels.append(f"{domain}: {r['title']}")
            est.append(r["estimate"]); lo.append(r["ci_low"]); hi.append(r["ci_high"])
            colours.append(PALETTE["blue"])
        for p in pools:
            if p["domain"] == domain:
                m = p["result"]
                labels.append(f"{domain}: pooled, {_DESIGN_WORDS.get(p['design'], p['design'])} "
                              f"({m.k})")
                est.append(m.estimate); lo.append(m.ci_low); hi.append(m.ci_high)
                colours.append(PALETTE["vermillion"])
    fig = forest_plot(labels, est, lo, hi, colours)
    alt = _forest_alt("standardized effects", labels, est, lo, hi)
    return figure_block(fig, alt=alt, caption=(
        "Hedges' g of each program (blue) and, where programs share a domain and design, the "
        "random-effects pooled estimate (red). Pre-post changes are not program effects.")).html


def _ratio_forest_html(eff: pd.DataFrame) -> str:
    """The hazard and rate ratios of the portfolio, one row per program ('' if none)."""
    from evalkit.report.figures import figure_block

    if eff.empty or not eff["name"].isin(RATIOS).any():
        return ""
    eff = eff[eff["name"].isin(RATIOS)].sort_values(["domain", "estimate"])
    labels = [f"{r['domain']}: {r['title']} ({RATIOS[r['name']]})" for _, r in eff.iterrows()]
    est, lo, hi = (eff[c].tolist() for c in ("estimate", "ci_low", "ci_high"))
    fig = forest_plot(labels, est, lo, hi, ratio=True)
    alt = _forest_alt("hazard and rate ratios", labels, est, lo, hi)
    return figure_block(fig, alt=alt, caption=(
        "Each program's hazard ratio (HR) or rate ratio (RR) with its 95% confidence interval, "
        "on a log scale: below 1, fewer or later events in the program group. Ratios of "
        "different outcomes and designs are shown side by side, not pooled.")).html


def _forest_alt(what: str, labels: Sequence[str], est: Sequence[float], lo: Sequence[float],
                hi: Sequence[float]) -> str:
    """A forest plot's text description: every row's label, estimate and interval."""
    return f"Forest plot of {what}: " + "; ".join(
        f"{lab} {e:.2f} ({a:.2f} to {b:.2f})" for lab, e, a, b in zip(labels, est, lo, hi,
                                                                       strict=True))


def forest_plot(labels: Sequence[str], est: Sequence[float], lo: Sequence[float],
                hi: Sequence[float], colours: Sequence[str] | None = None, *,
                ratio: bool = False):
    """The index's forest plot, drawn by :func:`evalkit.report.figures.index_forest_figure`."""
    from evalkit.report.figures import index_forest_figure

    return index_forest_figure(labels, est, lo, hi, colours, ratio=ratio)


def _pool_rows(pools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The pooled table's cells as the index prints them."""
    rows = []
    for p in pools:
        m = p["result"]
        rows.append({"domain": p["domain"],
                     "design": _DESIGN_WORDS.get(p["design"], p["design"]), "k": m.k,
                     "estimate": _fmt(m.estimate), "ci_low": _fmt(m.ci_low),
                     "ci_high": _fmt(m.ci_high), "pi_low": _fmt(m.pi_low),
                     "pi_high": _fmt(m.pi_high), "tau2": f"{m.tau2:.4f}",
                     "i2": f"{m.i2:.0f}"})
    return rows


def _index_row(slug: str, d: Mapping[str, Any] | None, run: Mapping[str, Any]
               ) -> dict[str, Any]:
    """One evaluation's cells of the index table (text; the template escapes it)."""
    row: dict[str, Any] = {"slug": slug, "doc": d, "failed": run.get("status") == "failed"}
    if d is None:
        return row
    h = d.get("headline", {})
    es = h.get("effect_size") or {}
    est = h.get("estimate")
    dg = headline_digits(h)
    effect = (f"{_fmt(est, dg)} {h.get('units', '')} "
              f"({_fmt(h.get('ci_low'), dg)} to {_fmt(h.get('ci_high'), dg)})"
              if est is not None else
              ("not estimated" if h.get("not_estimated") else "suppressed"))
    pc = h.get("percent_change") or {}
    short = _EFFECT_NAMES.get(str(es.get("name")), es.get("name") or "")
    row.update(
        title=d.get("title", slug), program=d.get("program", ""),
        outcome=d.get("outcome", {}).get("label", ""),
        design=d.get("design", {}).get("label", ""),
        rating=d.get("evidence", {}).get("label", ""),
        sort=est if est is not None else "", effect=effect,
        percent=(_percent(pc) if est is not None and pc.get("estimate") is not None
                 else None),
        # a headline that is itself the effect size (a hazard ratio) is not printed twice
        standardized=(f"{short} = {_fmt(es.get('estimate'))} ({_fmt(es.get('ci_low'))} to "
                      f"{_fmt(es.get('ci_high'))})" if es.get("estimate") is not None
                      and not _same_effect(h, es) else ""),
        # what n counts, in the report's words: youth, months, states
        n=(f"{h['n']:,} {h.get('n_unit') or ''}".strip() if isinstance(h.get("n"), int)
           else "—"),
        n_sort=h["n"] if isinstance(h.get("n"), int) else "",
        generated=(d.get("generated_at", "") or "")[:10],
    )
    return row


def _same_effect(headline: dict[str, Any], effect_size: dict[str, Any]) -> bool:
    """Whether the headline's estimate and interval are the effect size's."""
    return all(headline.get(k) is not None and headline.get(k) == effect_size.get(k)
               for k in ("estimate", "ci_low", "ci_high"))


def _template(name: str):
    """A template of ``evalkit/report/templates/portfolio`` that escapes its values.

    Values are escaped as report text is (:func:`evalkit.report.html.esc`); ``None`` prints
    nothing.
    """
    import jinja2
    from markupsafe import Markup

    from evalkit.report.html import esc

    def finalize(value: Any) -> Any:
        return value if isinstance(value, Markup) else Markup(esc("" if value is None
                                                                  else value))

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "report" / "templates"
                                       / "portfolio"),
        autoescape=True, undefined=jinja2.StrictUndefined, finalize=finalize)
    return env.get_template(name)


def index_html(
    docs: Sequence[Mapping[str, Any]],
    runs: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    title: str = "Program evaluations",
) -> str:
    """The portfolio page: a sortable table of every evaluation with a link to its report.

    The page is the template ``evalkit/report/templates/portfolio/index.html.j2``.

    Parameters
    ----------
    docs
        Results documents (see :func:`collect`).
    runs
        Latest run status per slug (``{"status": "ok"|"failed", "finished_at": ...,
        "message": ...}``); evaluations that failed and have no report are listed too.
    title
        The page's title and heading.

    Returns
    -------
    str
        The HTML page, self-contained (inline style, script and figure).
    """
    from markupsafe import Markup

    runs = dict(runs or {})
    by_slug = {d["slug"]: d for d in docs}
    eff = standardized(docs)
    pools = _pool(eff)
    slugs = sorted(set(by_slug) | set(runs))
    rows = [_index_row(slug, by_slug.get(slug), runs.get(slug, {})) for slug in slugs]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    n_failed = sum(1 for r in runs.values() if r.get("status") == "failed")
    summary = f"{len(slugs)} evaluation(s)" + (f", {n_failed} failed in the latest run"
                                               if n_failed else "")
    return _template("index.html.j2").render(
        title=title, summary=summary, stamp=stamp, rows=rows,
        standardized=bool(not eff.empty and eff["name"].isin(POOLABLE).any()),
        forest=Markup(_forest_html(eff, pools)) if not eff.empty else "",
        ratio_forest=Markup(_ratio_forest_html(eff)),
        pools=_pool_rows(pools))


def config_exists(path: str | None, reports_dir: str | Path) -> bool | None:
    """Whether a recorded config file still exists (``None`` when nothing was recorded).

    A relative path is looked up from the current folder and from the folder holding the
    reports folder (the project root in the default layout).
    """
    if not path:
        return None
    p = Path(path)
    if p.is_absolute():
        return p.is_file()
    return p.is_file() or (Path(reports_dir).resolve().parent / p).is_file()


def removed_configs(
    reports_dir: str | Path,
    docs: Sequence[Mapping[str, Any]],
    runs: Mapping[str, Mapping[str, Any]],
) -> set[str]:
    """Slugs whose config file no longer exists: they are left out of the index.

    The config of an evaluation is the one its latest run recorded (``runs.json``), or else
    the one in its report's ``manifest.json``. An evaluation that recorded no config is kept.
    The report folder itself is left on disk.
    """
    root = Path(reports_dir)
    gone = set()
    for slug in {d.get("slug") for d in docs} | set(runs):
        if slug is None:
            continue
        recorded = (runs.get(slug) or {}).get("config")
        if not recorded:
            try:
                manifest = json.loads((root / slug / "manifest.json").read_text("utf-8"))
                recorded = (manifest.get("config") or {}).get("path")
            except (OSError, ValueError, AttributeError):
                recorded = None
        if config_exists(recorded, root) is False:
            gone.add(slug)
    return gone


def write_index(
    reports_dir: str | Path, runs: Mapping[str, Mapping[str, Any]] | None = None
) -> Path:
    """Write ``<reports_dir>/index.html`` from the report folders and run statuses.

    When ``runs`` is not given, the statuses saved in ``<reports_dir>/runs.json`` are used.
    Evaluations whose config file no longer exists are left out (:func:`removed_configs`):
    the index lists the evaluations that are configured, not every folder ever written.
    """
    root = Path(reports_dir)
    root.mkdir(parents=True, exist_ok=True)
    if runs is None:
        runs_path = root / RUNS_FILE
        runs = json.loads(runs_path.read_text()) if runs_path.is_file() else {}
    docs = collect(root)
    gone = removed_configs(root, docs, runs)
    docs = [d for d in docs if d.get("slug") not in gone]
    runs = {k: v for k, v in runs.items() if k not in gone}
    out = root / "index.html"
    tmp = out.with_suffix(".html.tmp")
    tmp.write_text(index_html(docs, runs), encoding="utf-8")
    tmp.replace(out)
    return out

"""Standard report figures: one style, a colour-blind-safe palette, CIs always drawn, alt text.

Figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot state), rendered to
PNG and embedded in the HTML, so a report is a single self-contained file. Every figure the
reports draw lives here or, for the single-unit policy designs (synthetic DiD, interrupted time
series), in :mod:`evalkit.report.figures_policy`; no other module draws. This one runs past 600
lines for that reason.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from evalkit.report.html import Block, esc

__all__ = [
    "PALETTE", "new_figure", "figure_block", "prepost_figure", "categories_figure",
    "attrition_figure", "groups_figure", "km_figure", "mcf_figure", "time_tick_step",
    "forest_figure",
    "event_study_figure",
    "adoption_trends_figure", "index_forest_figure", "wrap_label", "clipped_texts", "love_plot",
    "overlap_bins", "overlap_histogram",
]

#: Okabe & Ito (2008) colour-blind-safe palette.
PALETTE = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "sky": "#56B4E9",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
    "black": "#000000",
    "grey": "#7F7F7F",
}

_RC: dict[Any, Any] = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e3e6eb",
    "grid.linewidth": 0.8,
    "legend.frameon": False,
    "savefig.dpi": 110,
}


def wrap_label(text: str, width: int = 40) -> str:
    """A long axis or row label broken into lines of at most ``width`` characters (at spaces).

    The label then fits beside or under its axis instead of being cut off.
    """
    import textwrap

    return "\n".join(textwrap.wrap(str(text), width=width, break_long_words=False,
                                   break_on_hyphens=False)) or str(text)


def clipped_texts(fig, tolerance: float = 1.0) -> list[str]:
    """The texts of ``fig`` that reach outside the figure as it is saved.

    The texts are titles, axis and tick labels, legends and annotations; those listed are the
    ones a reader would see cut off. Empty when every text fits.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    # tick labels of ticks outside an axis' view are kept by matplotlib but never drawn
    skip = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
                loc = tick.get_loc()
                if loc is None or not (lo - 1e-9 * (abs(lo) + 1) <= loc
                                       <= hi + 1e-9 * (abs(hi) + 1)):
                    skip.update({id(tick.label1), id(tick.label2)})
    out = []
    for t in fig.findobj(Text):
        if id(t) in skip or not t.get_visible() or not t.get_text().strip():
            continue
        e = t.get_window_extent(renderer)
        if (e.x0 < box.x0 - tolerance or e.y0 < box.y0 - tolerance
                or e.x1 > box.x1 + tolerance or e.y1 > box.y1 + tolerance):
            out.append(t.get_text())
    return out


def new_figure(ncols: int = 1, *, width: float = 8.0, height: float = 3.6):
    """A figure with the house style and ``ncols`` axes side by side."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(width, height), layout="constrained")
        axes = fig.subplots(1, ncols, squeeze=False)[0]
        for ax in axes:
            ax.set_axisbelow(True)
    return fig, list(axes)


def _note_seconds(seconds: float) -> None:
    """Note a figure's drawing time where ``evalkit run`` asked for it.

    The runner sums the notes into its manifest's ``figures`` timing; run elsewhere, nothing
    is written.
    """
    where = os.environ.get("EVALKIT_FIGURE_TIMES")
    if where:
        with contextlib.suppress(OSError), open(where, "a", encoding="utf-8") as f:
            f.write(f"{seconds:.6f}\n")


#: Resolution of the PNG figures (dots per inch).
_DPI = 110


def figure_block(fig, *, alt: str, caption: str | None = None) -> Block:
    """Embed a figure as a PNG with alt text and an optional caption.

    No text is cut off: when a title or label reaches outside the figure
    (:func:`clipped_texts`), the image is saved to the tight bounding box of everything drawn,
    and the figure element is marked ``data-ek-fit='expanded'`` (the standard figures wrap
    their labels so that this is not needed; tests check that they do).
    """
    if not alt or not alt.strip():
        raise ValueError("every figure needs alt text describing what it shows")
    # labels come from configs: "$x$" or "$$" in one is text, not mathtext to parse (a label
    # such as "cost in $ (2024 $)" would otherwise stop the report)
    from matplotlib.text import Text

    for t in fig.findobj(Text):
        t.set_parse_math(False)
    started = time.perf_counter()
    buf = io.BytesIO()
    # drawn once, at the resolution it is saved at: the check for cut-off text reads that
    # drawing, and a figure that fits is encoded from it as savefig would (same bytes)
    fig.set_dpi(_DPI)
    expand = bool(clipped_texts(fig))
    if expand:
        fig.savefig(buf, format="png", dpi=_DPI, bbox_inches="tight", pad_inches=0.05)
    else:
        import matplotlib.image

        matplotlib.image.imsave(buf, np.asarray(fig.canvas.buffer_rgba()), format="png",
                                origin="upper", dpi=_DPI)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    _note_seconds(time.perf_counter() - started)
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    fit = " data-ek-fit='expanded'" if expand else ""
    html_text = (
        f"<figure class='ek-figure'{fit}><img src='data:image/png;base64,{data}' "
        f"alt='{esc(alt)}'>{cap}</figure>"
    )
    return Block(html_text, text=f"[figure: {alt}]")


def _errorbar(ax, x, mean, lo, hi, *, color, label, hollow=False, offset=0.0):
    ax.errorbar(
        np.asarray(x, dtype=float) + offset,
        mean,
        yerr=[np.asarray(mean) - np.asarray(lo), np.asarray(hi) - np.asarray(mean)],
        fmt="o",
        color=color,
        mfc="white" if hollow else color,
        capsize=4,
        lw=1.6,
        ms=7,
        label=label,
    )


def prepost_figure(
    summary,
    change: Sequence[float],
    *,
    mean_change: float,
    ci_low: float,
    ci_high: float,
    outcome_label: str,
    pre_label: str,
    post_label: str,
    lower_is_better: bool,
    confidence: float,
    population=None,
):
    """Two panels: average scores at both times with CIs, and the spread of individual change.

    The second panel shows percentiles (10th, 25th, 50th, 75th, 90th) of the change, never
    individual values, so no single youth's scores can be read off the figure.

    Parameters
    ----------
    summary
        Frame from :func:`evalkit.methods.prepost.describe` (rows ``all_pre``, ``complete_pre``,
        ``complete_post``).
    change
        Individual changes (post − pre) of complete pairs; only percentiles are drawn.
    """
    from evalkit.report.words import Population

    pop = Population.of(population)
    fig, (ax1, ax2) = new_figure(2, width=9.0, height=3.6)
    conf = f"{confidence:.0%}"
    s = summary.set_index("sample")
    allp = s.loc["all_pre"]
    _errorbar(ax1, [0], [allp["mean"]], [allp["ci_low"]], [allp["ci_high"]],
              color=PALETTE["grey"], label=f"All enrolled (n={int(allp['n'])})", hollow=True,
              offset=-0.08)
    cp, cq = s.loc["complete_pre"], s.loc["complete_post"]
    _errorbar(ax1, [0, 1], [cp["mean"], cq["mean"]], [cp["ci_low"], cq["ci_low"]],
              [cp["ci_high"], cq["ci_high"]], color=PALETTE["blue"],
              label=f"Measured both times (n={int(cp['n'])})", offset=0.08)
    ax1.plot([0.08, 1.08], [cp["mean"], cq["mean"]], color=PALETTE["blue"], lw=1, alpha=0.6)
    ax1.set_xticks([0, 1], [pre_label.capitalize(), post_label.capitalize()])
    ax1.set_xlim(-0.5, 1.5)
    ax1.set_ylabel(wrap_label(f"{outcome_label} (points)", 32))
    ax1.set_title(wrap_label(f"Average score with {conf} CI", 34))
    ax1.legend(loc="best", fontsize=8)

    pct = np.percentile(np.asarray(change, dtype=float), [10, 25, 50, 75, 90])
    ax2.hlines(0.6, pct[0], pct[4], color=PALETTE["sky"], lw=2)
    ax2.barh(0.6, pct[3] - pct[1], left=pct[1], height=0.35, color=PALETTE["sky"], alpha=0.7,
             label=f"Middle half of {pop.plural} (25th–75th percentile)")
    ax2.vlines(pct[2], 0.42, 0.78, color=PALETTE["black"], lw=2, label="Median")
    ax2.errorbar([mean_change], [0.15], xerr=[[mean_change - ci_low], [ci_high - mean_change]],
                 fmt="D", color=PALETTE["vermillion"], capsize=4, lw=1.6, ms=6,
                 label=f"Mean change with {conf} CI")
    ax2.axvline(0, color=PALETTE["grey"], ls="--", lw=1)
    ax2.set_ylim(-0.2, 1.2)
    ax2.set_yticks([])
    better = "lower" if lower_is_better else "higher"
    ax2.set_xlabel(wrap_label(f"Change, {post_label} − {pre_label} (points; {better} is "
                              "better)", 48))
    ax2.set_title(wrap_label(f"Change per {pop.singular}: 10th to 90th percentile", 34))
    handles, labels = ax2.get_legend_handles_labels()
    keep = [(h, lab) for h, lab in zip(handles, labels, strict=True) if lab and not lab.startswith("_")]
    ax2.legend(*zip(*keep, strict=True), loc="upper left", fontsize=8, bbox_to_anchor=(0, 1.0))
    return fig


def categories_figure(shares: dict[str, float | None], *, title: str, alt_note: str = "",
                      population=None):
    """One horizontal stacked bar of category shares (None = suppressed, drawn grey together).

    Parameters
    ----------
    shares
        Category → share of youth (0–1), best category first; ``None`` for suppressed ones.
    """
    colours = [PALETTE["green"], PALETTE["sky"], PALETTE["grey"], PALETTE["vermillion"],
               PALETTE["purple"], PALETTE["yellow"]]
    fig, (ax,) = new_figure(1, width=8.0, height=2.2)
    left = 0.0
    hidden = 1.0 - sum(v for v in shares.values() if v is not None)
    for (name, v), colour in zip(shares.items(), colours, strict=False):
        if v is None or v <= 0:
            continue
        ax.barh(0, v, left=left, color=colour, label=f"{name} ({v:.0%})", height=0.6)
        if v >= 0.06:
            ax.text(left + v / 2, 0, f"{v:.0%}", ha="center", va="center", fontsize=9,
                    color="white" if colour != PALETTE["yellow"] else "black")
        left += v
    if any(v is None for v in shares.values()) and hidden > 1e-9:
        ax.barh(0, hidden, left=left, color="#d9d9d9", hatch="//", height=0.6,
                label="suppressed (small counts)")
    ax.set_xlim(0, 1)
    ax.set_yticks([])
    ax.xaxis.set_major_formatter(lambda x, _: f"{x:.0%}")
    from evalkit.report.words import Population

    ax.set_xlabel(f"Share of {Population.of(population).plural} measured both times")
    ax.set_title(title)
    ax.grid(False)
    # a legend outside the axes, placed by the layout so that it is never cut off
    fig.legend(loc="outside lower center", ncol=min(len(shares) + 1, 5), fontsize=8)
    return fig


def attrition_figure(table, *, overall: float, differential: float, boundary: str):
    """The WWC attrition boundary with this evaluation's overall and differential attrition.

    Parameters
    ----------
    table
        :func:`evalkit.methods.attrition.wwc_boundary`.
    overall, differential
        This evaluation's attrition (shares, 0–1).
    """
    fig, (ax,) = new_figure(1, width=7.0, height=3.8)
    for name, colour, style in (("cautious", PALETTE["blue"], "-"),
                                ("optimistic", PALETTE["orange"], "--")):
        t = table.dropna(subset=[name])
        ax.plot(t["overall"], t[name], style, color=colour,
                lw=2.2 if name == boundary else 1.2,
                label=f"{name.capitalize()} boundary" + (" (used)" if name == boundary else ""))
    t = table.dropna(subset=[boundary])
    ax.fill_between(t["overall"], 0, t[boundary], color=PALETTE["green"], alpha=0.12,
                    label="Low attrition")
    ax.plot([overall * 100], [differential * 100], "D", color=PALETTE["vermillion"], ms=9,
            label=f"This evaluation ({overall:.0%} overall, {differential * 100:.1f} points "
                  "differential)")
    ax.set_xlim(0, 65)
    ax.set_ylim(0, max(12.0, differential * 100 + 2))
    ax.set_xlabel("Overall attrition (%)")
    ax.set_ylabel("Differential attrition (percentage points)")
    ax.set_title("Attrition against the What Works Clearinghouse boundary")
    ax.legend(loc="upper right", fontsize=8)
    return fig


def groups_figure(summary, *, outcome_label: str, pre_label: str, post_label: str,
                  program_label: str, comparison_label: str, confidence: float,
                  population=None):
    """Average score by group at both times, with CIs.

    Parameters
    ----------
    summary
        Rows with columns ``group`` (1 program / 0 comparison), ``time`` (0 / 1), ``n``,
        ``mean``, ``ci_low``, ``ci_high``.
    """
    fig, (ax,) = new_figure(1, width=6.5, height=3.6)
    for g, colour, label, off in ((1, PALETTE["blue"], program_label, 0.06),
                                  (0, PALETTE["orange"], comparison_label, -0.06)):
        s = summary[summary["group"] == g].sort_values("time")
        _errorbar(ax, s["time"].to_numpy(), s["mean"].to_numpy(), s["ci_low"].to_numpy(),
                  s["ci_high"].to_numpy(), color=colour,
                  label=f"{label} (n={int(s['n'].min())})", offset=off)
        ax.plot(s["time"].to_numpy() + off, s["mean"].to_numpy(), color=colour, lw=1, alpha=0.6)
    ax.set_xticks([0, 1], [pre_label.capitalize(), post_label.capitalize()])
    ax.set_xlim(-0.5, 1.5)
    ax.set_ylabel(wrap_label(f"{outcome_label} (points)", 32))
    from evalkit.report.words import Population

    ax.set_title(wrap_label(f"Average score by group with {confidence:.0%} CI "
                            f"({Population.of(population).plural} measured both times)", 50))
    ax.legend(loc="best", fontsize=8)
    return fig


def time_tick_step(horizon: float, time_unit: str) -> float:
    """A step for the time axis that suits the unit (30 days, 13 weeks, 3 months...).

    The step gives at most 8 steps up to ``horizon``.
    """
    unit = time_unit.lower()
    steps = ((7, 14, 30, 60, 90, 180, 365) if unit.startswith("day") else
             (1, 2, 4, 13, 26, 52) if unit.startswith("week") else
             (1, 3, 6, 12, 24) if unit.startswith("month") else
             (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000))
    return float(next((s for s in steps if horizon / s <= 8), steps[-1] * np.ceil(
        horizon / (8 * steps[-1]))))


def _curve_axes():
    """A figure for curves over time: the curves' axes above, the number-at-risk table below."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(8.5, 4.8), layout="constrained")
        gs = fig.add_gridspec(2, 1, height_ratios=[4, 1.1])
        ax = fig.add_subplot(gs[0])
        tab_ax = fig.add_subplot(gs[1], sharex=ax)
    return fig, ax, tab_ax


def _number_at_risk(ax, tab_ax, *, groups: dict, ticks, at_risk: dict, threshold: int,
                    time_unit: str) -> None:
    """The number-at-risk table under curves; counts below ``threshold`` read "<threshold"."""
    ax.tick_params(labelbottom=False)
    tab_ax.set_xlabel(f"Time since entry ({time_unit})")
    tab_ax.set_yticks(range(len(groups)), [wrap_label(g, 22) for g in list(groups.values())[::-1]])
    tab_ax.grid(False)
    for spine in ("left", "top", "right"):
        tab_ax.spines[spine].set_visible(False)
    for row, g in enumerate(list(groups)[::-1]):
        for x, n in zip(ticks, at_risk[g], strict=True):
            txt = f"{int(n)}" if n >= threshold or n == 0 else f"<{threshold}"
            tab_ax.text(x, row, txt, ha="left" if x == 0 else "center", va="center", fontsize=8)
    tab_ax.set_ylim(-0.6, len(groups) - 0.4)
    tab_ax.set_title("Number at risk", fontsize=9, loc="left")
    ax.set_xlim(0, max(ticks) * 1.02)
    ax.set_xticks(ticks)


def km_figure(table, *, groups: dict, time_unit: str, ticks,
              at_risk: dict, confidence: float, threshold: int, weighted: bool = False):
    """Kaplan–Meier curves with CI bands and a number-at-risk table underneath.

    Curves stop where fewer than ``threshold`` youth remain at risk, so no step can be traced
    to one youth; at-risk counts below the threshold read "<threshold".

    Parameters
    ----------
    table
        :attr:`evalkit.methods.survival.KaplanMeier.table`.
    groups
        Group value → label, in drawing order.
    ticks
        Times for the x axis and the at-risk table.
    at_risk
        Group value → list of at-risk counts at ``ticks``.
    confidence
        Confidence level of the bands (for the title).
    threshold
        Privacy threshold.
    weighted
        Whether the curves are weighted (propensity or matching weights): the title says so.
    """
    colours = [PALETTE["blue"], PALETTE["orange"], PALETTE["green"], PALETTE["purple"]]
    fig, ax, tab_ax = _curve_axes()
    for (g, label), colour in zip(groups.items(), colours, strict=False):
        t = table[table["group"].astype(str) == str(g)]
        t = t[t["n_risk"] >= threshold]
        x = np.concatenate([[0.0], t["time"].to_numpy()])
        y = np.concatenate([[1.0], t["surv"].to_numpy()])
        lo = np.concatenate([[1.0], t["ci_low"].to_numpy()])
        hi = np.concatenate([[1.0], t["ci_high"].to_numpy()])
        ax.step(x, y, where="post", color=colour, lw=2, label=label)
        ax.fill_between(x, lo, hi, step="post", color=colour, alpha=0.15, lw=0)
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set_ylabel("Share still without the event")
    ax.set_title(("Weighted Kaplan–Meier" if weighted else "Kaplan–Meier")
                 + f" estimate with {confidence:.0%} confidence bands")
    ax.legend(loc="upper right")
    _number_at_risk(ax, tab_ax, groups=groups, ticks=ticks, at_risk=at_risk,
                    threshold=threshold, time_unit=time_unit)
    return fig


def mcf_figure(table, *, groups: dict, time_unit: str, ticks, at_risk: dict,
               confidence: float, threshold: int, label: str):
    """Mean cumulative number of episodes per youth, with CI bands and the numbers at risk.

    As :func:`km_figure`, curves stop where fewer than ``threshold`` youth remain at risk and
    at-risk counts below it read "<threshold".

    Parameters
    ----------
    table
        :attr:`evalkit.methods.recurrent.MeanCumulative.table` (``group, time, mcf, ci_low,
        ci_high, n_risk``).
    groups
        Group value → label, in drawing order.
    ticks, at_risk
        Times for the x axis and, per group, the youth at risk at each.
    confidence
        Confidence level of the bands.
    threshold
        Privacy threshold.
    label
        The episodes as a plural noun ("runaways"), for the axis.
    """
    colours = [PALETTE["blue"], PALETTE["orange"], PALETTE["green"], PALETTE["purple"]]
    fig, ax, tab_ax = _curve_axes()
    top = 0.0
    for (g, name), colour in zip(groups.items(), colours, strict=False):
        t = table[table["group"].astype(str) == str(g)]
        t = t[t["n_risk"] >= threshold]
        x = np.concatenate([[0.0], t["time"].to_numpy(dtype=float)])
        y = np.concatenate([[0.0], t["mcf"].to_numpy(dtype=float)])
        lo = np.concatenate([[0.0], np.maximum(t["ci_low"].to_numpy(dtype=float), 0.0)])
        hi = np.concatenate([[0.0], t["ci_high"].to_numpy(dtype=float)])
        ax.step(x, y, where="post", color=colour, lw=2, label=name)
        ax.fill_between(x, lo, hi, step="post", color=colour, alpha=0.15, lw=0)
        top = max(top, float(np.nanmax(hi)))
    ax.set_ylim(0, max(top * 1.05, 0.1))
    ax.set_ylabel(wrap_label(f"Mean {label} per youth", 30))
    ax.set_title(wrap_label(f"Mean cumulative number of {label} with {confidence:.0%} "
                            "confidence bands", 70))
    ax.legend(loc="upper left")
    _number_at_risk(ax, tab_ax, groups=groups, ticks=ticks, at_risk=at_risk,
                    threshold=threshold, time_unit=time_unit)
    return fig


def forest_figure(frame, *, title: str, xlabel: str, reference: float = 1.0, log: bool = True):
    """Estimates with CIs, one row per term (a forest plot)."""
    fig, (ax,) = new_figure(1, width=7.0, height=0.55 * len(frame) + 1.4)
    y = np.arange(len(frame))[::-1]
    est = frame["estimate"].to_numpy(float)
    lo, hi = frame["ci_low"].to_numpy(float), frame["ci_high"].to_numpy(float)
    ax.errorbar(est, y, xerr=[est - lo, hi - est], fmt="s", color=PALETTE["blue"], capsize=3,
                ms=6, lw=1.5)
    ax.axvline(reference, color=PALETTE["grey"], ls="--", lw=1)
    if log:
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(lambda v, _: f"{v:g}")
        ax.xaxis.set_minor_formatter(lambda v, _: "")
    ax.set_yticks(y, [wrap_label(t, 28) for t in frame["term"].tolist()])
    ax.set_xlabel(wrap_label(xlabel, 55))
    ax.set_title(wrap_label(title, 45))
    return fig


def event_study_figure(table, *, confidence: float, outcome_label: str, units: str):
    """Effects by years since adoption with their intervals (before adoption in grey).

    Parameters
    ----------
    table
        Rows ``key`` (years since adoption), ``estimate``, ``ci_low``, ``ci_high``: the table of a
        ``"dynamic"`` :class:`~evalkit.methods.did.Aggregate`.
    confidence
        Confidence level of the intervals (for the title).
    outcome_label, units
        The outcome in words and its units (for the y axis).
    """
    dyn = table
    conf = f"{confidence:.0%}"
    fig, (ax,) = new_figure(1, width=8.0, height=3.8)
    pre = dyn["key"] < 0
    for mask, colour, label in ((pre, PALETTE["grey"], "Before adoption"),
                                (~pre, PALETTE["blue"], "After adoption")):
        sub = dyn[mask]
        ax.errorbar(sub["key"], sub["estimate"], yerr=[sub["estimate"] - sub["ci_low"],
                                                       sub["ci_high"] - sub["estimate"]],
                    fmt="o", color=colour, capsize=3, label=label)
    ax.axhline(0, color=PALETTE["black"], lw=0.8)
    ax.axvline(-0.5, color=PALETTE["grey"], ls="--", lw=0.8)
    ax.set_xlabel("Years since adoption")
    ax.set_ylabel(wrap_label(f"Effect on {outcome_label} ({units})", 30))
    ax.set_title(f"Effect by years since adoption with {conf} CI")
    ax.legend(fontsize=8)
    return fig


def adoption_trends_figure(data, *, unit: str, time: str, first_treated: str, outcome: str,
                           never_treated: float = 0, outcome_label: str = "the outcome",
                           units: str = ""):
    """Yearly average outcome of earlier adopters, later adopters and units never adopting.

    Earlier adopters adopted at or before the median adoption year of the adopting units.

    Parameters
    ----------
    data
        The panel, one row per unit and period.
    unit, time, first_treated, outcome
        Column names.
    never_treated
        The ``first_treated`` code of units that never adopted.
    outcome_label, units
        The outcome in words and its units (for the y axis).
    """
    from matplotlib.ticker import MaxNLocator

    d = data
    first = d.groupby(unit)[first_treated].transform("first")
    label = np.where(first == never_treated, "Never adopted",
                     np.where(first <= first[first != never_treated].median(),
                              "Earlier adopters", "Later adopters"))
    means = d.assign(cohort=label).groupby(["cohort", time])[outcome].mean()
    fig, (ax,) = new_figure(1, width=8.0, height=3.6)
    for (name, colour) in (("Earlier adopters", PALETTE["blue"]),
                           ("Later adopters", PALETTE["orange"]),
                           ("Never adopted", PALETTE["grey"])):
        if name in means.index.get_level_values(0):
            m = means.loc[name]
            ax.plot(m.index, m.to_numpy(), marker="o", ms=3, color=colour, label=name)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("Year")
    ax.set_ylabel(wrap_label(f"{outcome_label.capitalize()} ({units})", 30))
    ax.set_title("Average outcome by adoption cohort")
    ax.legend(fontsize=8)
    return fig


def index_forest_figure(labels: Sequence[str], est: Sequence[float], lo: Sequence[float],
                        hi: Sequence[float], colours: Sequence[str] | None = None, *,
                        ratio: bool = False):
    """The portfolio index's forest plot of standardized effects, or of ratios.

    One row per label (wrapped onto several lines rather than cut off); programs are drawn as
    circles and pooled estimates (any colour but blue) as diamonds.

    Parameters
    ----------
    labels
        Row labels, top to bottom.
    est, lo, hi
        Hedges' g and its 95% interval per row (with ``ratio``, a hazard or rate ratio).
    colours
        Colour per row (default all :data:`PALETTE` blue).
    ratio
        Ratios: drawn on a log scale, with the line of no difference at 1.
    """
    colours = list(colours or [PALETTE["blue"]] * len(labels))
    wrapped = [wrap_label(x, 44) for x in labels]
    lines = sum(w.count("\n") + 1 for w in wrapped)
    fig, (ax,) = new_figure(1, width=9.0, height=0.3 * lines + 0.25 * len(labels) + 1.5)
    y = np.arange(len(labels))[::-1]
    for yy, e, a, b, c in zip(y, est, lo, hi, colours, strict=True):
        ax.errorbar([e], [yy], xerr=[[e - a], [b - e]], fmt="D" if c != PALETTE["blue"] else "o",
                    color=c, capsize=3)
    ax.axvline(1 if ratio else 0, color=PALETTE["grey"], ls="--", lw=1)
    ax.set_yticks(y, wrapped, fontsize=8)
    ax.set_ylim(-0.6, len(labels) - 0.4)  # rows half a row from the frame, however few
    if ratio:
        ax.set_xscale("log")
        left, right = ax.get_xlim()
        ticks = [t for t in (0.05, 0.1, 0.2, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 5, 10, 20)
                 if left <= t <= right]
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.xaxis.set_minor_formatter(lambda v, _: "")
        ax.set_xlabel("Hazard or rate ratio with 95% CI (log scale; 1 = no difference)")
        ax.set_title("Hazard and rate ratios by outcome domain")
    else:
        ax.set_xlabel("Standardized effect (Hedges' g) with 95% CI")
        ax.set_title("Standardized effects by outcome domain")
    return fig


def love_plot(balance, *, adjusted_label: str = "After adjustment",
              title: str = "Covariate balance before and after adjustment"):
    """The balance table's absolute standardized mean differences as a love plot.

    One row per covariate (top to bottom in the table's order): the |SMD| before adjustment
    (hollow) and after (filled), joined by a line, with reference lines at 0.05 and 0.25, the
    What Works Clearinghouse's baseline-equivalence thresholds (at most 0.05 satisfied; 0.05 to
    0.25 satisfied only with regression adjustment on the covariate; above 0.25 not satisfied).

    Parameters
    ----------
    balance
        A balance table (:func:`evalkit.weighting.balance_table`, ``Weights.balance``,
        ``Matched.balance``) with columns ``covariate``, ``smd_raw`` and ``smd_adjusted``.
        A covariate whose SMD is not defined (NaN) keeps its row with no point drawn.
    adjusted_label
        Legend text of the adjusted SMDs (for example ``"After weighting"``).
    title
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        The love plot.

    Raises
    ------
    ValueError
        A table without the columns above, or without rows.
    """
    missing = [c for c in ("covariate", "smd_raw", "smd_adjusted") if c not in balance.columns]
    if missing or len(balance) == 0:
        raise ValueError("a love plot needs a balance table with rows and the columns "
                         f"covariate, smd_raw and smd_adjusted (missing: {missing or 'rows'})")
    labels = [wrap_label(c, 30) for c in balance["covariate"].astype(str)]
    raw = np.abs(balance["smd_raw"].to_numpy(float))
    adj = np.abs(balance["smd_adjusted"].to_numpy(float))
    lines = sum(lab.count("\n") + 1 for lab in labels)
    fig, (ax,) = new_figure(1, width=7.5, height=0.28 * lines + 0.12 * len(labels) + 2.2)
    y = np.arange(len(labels))[::-1]
    for yy, a, b in zip(y, raw, adj, strict=True):
        if np.isfinite(a) and np.isfinite(b):
            ax.plot([a, b], [yy, yy], color=PALETTE["grey"], lw=1, alpha=0.6)
    ax.plot(raw, y, "o", color=PALETTE["orange"], mfc="white", mew=1.6, ms=7,
            label="Before adjustment")
    ax.plot(adj, y, "o", color=PALETTE["blue"], ms=7, label=adjusted_label)
    ax.axvline(0.05, color=PALETTE["green"], ls="--", lw=1.2,
               label="0.05: equivalent (WWC)")
    ax.axvline(0.25, color=PALETTE["vermillion"], ls="--", lw=1.2,
               label="0.25: not equivalent above (WWC)")
    finite = np.concatenate([raw[np.isfinite(raw)], adj[np.isfinite(adj)]])
    ax.set_xlim(0, max(0.3, float(finite.max()) * 1.08 if finite.size else 0.3))
    ax.set_ylim(-0.6, len(labels) - 0.4)
    ax.set_yticks(y, labels)
    ax.set_xlabel("Absolute standardized mean difference")
    ax.set_title(wrap_label(title, 60))
    fig.legend(loc="outside lower center", ncol=2, fontsize=8)
    return fig


def overlap_bins(ps, treated, threshold: int, *, bins: int = 20):
    """Propensity-score bins in which no group's count is below the privacy threshold.

    The scores are counted in ``bins`` equal-width bins on [0, 1] (edges on this fixed grid,
    so no edge reveals one youth's score); empty bins at either end are dropped, then adjacent
    bins are merged, left to right, until each group's count in every bin is zero or at least
    ``threshold`` (the rule of :func:`evalkit.privacy.is_reportable`: zero discloses nobody,
    and shows where the groups do not overlap). A remainder at the right end that is still too
    small is merged into the bins before it.

    Parameters
    ----------
    ps
        Propensity scores in [0, 1] (for example ``Weights.ps``).
    treated
        1 for program youth, 0 for comparison youth, aligned with ``ps``.
    threshold
        The privacy threshold (:func:`evalkit.privacy.check_threshold`).
    bins
        Number of equal-width bins before merging.

    Returns
    -------
    pandas.DataFrame
        One row per shown bin: ``left``, ``right``, ``n_treated``, ``n_control``.

    Raises
    ------
    ValueError
        Scores missing or outside [0, 1], a treatment that is not 0/1, lengths that differ, a
        group with no youth.
    evalkit.exceptions.PrivacyError
        A group has from 1 to ``threshold − 1`` youth in all: no binning can show it.
    """
    import pandas as pd

    from evalkit.exceptions import PrivacyError
    from evalkit.privacy import check_threshold, is_reportable

    threshold = check_threshold(threshold)
    p = np.asarray(ps, dtype=float)
    t = np.asarray(treated, dtype=float)
    if p.shape != t.shape or p.ndim != 1:
        raise ValueError(f"ps and treated must be 1-d and of equal length ({p.shape}, {t.shape})")
    if not (np.isfinite(p) & (p >= 0) & (p <= 1)).all():
        raise ValueError("propensity scores must be numbers from 0 to 1, with none missing")
    if not np.isin(t, (0.0, 1.0)).all():
        raise ValueError("treated must be 1 (program) or 0 (comparison) for every youth")
    groups = ((int((t == 1).sum()), "program"), (int((t == 0).sum()), "comparison"))
    for n, who in groups:
        if n == 0:
            raise ValueError(f"no {who} youth: the overlap histogram compares two groups")
    for n, who in groups:
        if not is_reportable(n, threshold):
            raise PrivacyError(f"the overlap histogram cannot be shown: the {who} group has "
                               f"fewer than {threshold} youth (the privacy threshold), so any "
                               "bin would show a small count")
    k = int(bins)
    idx = np.minimum((p * k).astype(int), k - 1)
    c1 = np.bincount(idx[t == 1], minlength=k)
    c0 = np.bincount(idx[t == 0], minlength=k)
    used = np.flatnonzero(c1 + c0)
    first, last = int(used[0]), int(used[-1])

    def ok(a: int, b: int) -> bool:
        return is_reportable(a, threshold) and is_reportable(b, threshold)

    out: list[list[int]] = []  # [first fine bin, last fine bin, n_treated, n_control]
    start, a, b = first, 0, 0
    for j in range(first, last + 1):
        a, b = a + int(c1[j]), b + int(c0[j])
        if ok(a, b):
            out.append([start, j, a, b])
            start, a, b = j + 1, 0, 0
    while (a or b) and out:  # a remainder too small to show: merge it backwards
        s, _, a0, b0 = out.pop()
        start, a, b = s, a + a0, b + b0
        if ok(a, b):
            out.append([start, last, a, b])
            a = b = 0
    if a or b:
        out.append([start, last, a, b])
    return pd.DataFrame({"left": [r[0] / k for r in out], "right": [(r[1] + 1) / k for r in out],
                         "n_treated": [r[2] for r in out], "n_control": [r[3] for r in out]})


def overlap_histogram(ps, treated, threshold: int, *, bins: int = 20,
                      program_label: str = "Program", comparison_label: str = "Comparison"):
    """Propensity-score histograms of the two groups, program above and comparison below.

    The bins are those of :func:`overlap_bins`, so no bin shows a count from 1 to
    ``threshold − 1``. Bars show each group's share per 1/``bins`` of the score (merged bins
    are wider and lower, so areas stay comparable); the number of youth per group is in the
    legend below the axes.

    Parameters
    ----------
    ps
        Propensity scores in [0, 1] (for example ``Weights.ps``).
    treated
        1 for program youth, 0 for comparison youth, aligned with ``ps``.
    threshold
        The privacy threshold.
    bins
        Number of equal-width bins before merging.
    program_label, comparison_label
        Names of the groups in the legend.

    Returns
    -------
    matplotlib.figure.Figure
        The mirrored histogram.

    Raises
    ------
    evalkit.exceptions.PrivacyError
        A group too small to show (see :func:`overlap_bins`, which also lists the other
        errors).
    """
    table = overlap_bins(ps, treated, threshold, bins=bins)
    n1, n0 = int(table["n_treated"].sum()), int(table["n_control"].sum())
    left = table["left"].to_numpy(float)
    width = (table["right"] - table["left"]).to_numpy(float)
    scale = 1.0 / (bins * width)
    h1 = table["n_treated"].to_numpy(float) / n1 * scale
    h0 = table["n_control"].to_numpy(float) / n0 * scale
    fig, (ax,) = new_figure(1, width=7.5, height=4.0)
    ax.bar(left, h1, width=width, align="edge", color=PALETTE["blue"], alpha=0.8,
           edgecolor="white", label=wrap_label(f"{program_label} (n={n1:,})", 40))
    ax.bar(left, -h0, width=width, align="edge", color=PALETTE["orange"], alpha=0.8,
           edgecolor="white", label=wrap_label(f"{comparison_label} (n={n0:,})", 40))
    ax.axhline(0, color=PALETTE["black"], lw=0.8)
    top = float(max(h1.max(), h0.max())) * 1.15
    ax.set_ylim(-top, top)
    ax.yaxis.set_major_formatter(lambda v, _: f"{abs(v) * 100:.3g}%")
    ax.set_xlim(0, 1)
    ax.set_xlabel("Propensity score (probability of being in the program)")
    ax.set_ylabel(wrap_label(f"Share of the group per {1 / bins:g} of the score", 30))
    ax.set_title(wrap_label("Overlap of propensity scores (bins merged so that no bin holds "
                            f"fewer than {threshold} youth)", 60))
    fig.legend(loc="outside lower center", ncol=2, fontsize=8)
    return fig

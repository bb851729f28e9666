"""Figures of the policy designs: synthetic DiD, interrupted time series, honest sensitivity.

They follow the style of :mod:`evalkit.report.figures` (its palette, :func:`new_figure` and
:func:`figure_block`), kept apart because that module is already long.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from evalkit.report.figures import PALETTE, new_figure, wrap_label

__all__ = ["acf_figure", "honest_figure", "its_series_figure", "placebo_figure",
           "synthdid_paths_figure", "unit_weights_figure"]


def synthdid_paths_figure(trajectories: pd.DataFrame, time_weights: pd.Series, *, start: Any,
                          outcome_label: str, units: str, treated_label: str,
                          synthetic_label: str):
    """The adopters' outcome and their synthetic comparison, with the adoption marked.

    As R ``synthdid_plot(overlay = 1)``: the comparison is the weighted average of the
    non-adopting units shifted by the time-weighted pre-adoption gap, so after adoption the
    gap between the lines is the effect. The time weights are drawn as bars along the bottom.

    Parameters
    ----------
    trajectories
        ``time``, ``treated``, ``synthetic_adjusted`` and ``post`` by period
        (:attr:`~evalkit.methods.policy.synthdid.SyntheticDiD.trajectories`).
    time_weights
        Weight of each pre-adoption period.
    start
        The first period with the policy.
    outcome_label, units
        The outcome in words and its units (y axis).
    treated_label, synthetic_label
        Legend entries.
    """
    tr = trajectories
    fig, (ax,) = new_figure(1, width=8.0, height=3.8)
    x = tr["time"].to_numpy(float)
    ax.plot(x, tr["treated"], color=PALETTE["blue"], marker="o", ms=3, lw=1.8,
            label=treated_label)
    ax.plot(x, tr["synthetic_adjusted"], color=PALETTE["orange"], ls="--", lw=1.8,
            label=synthetic_label)
    post = tr["post"].astype(bool).to_numpy()
    ax.fill_between(x[post], tr["treated"][post], tr["synthetic_adjusted"][post],
                    color=PALETTE["sky"], alpha=0.25, lw=0, label="Estimated effect")
    ax.axvline(float(start) - 0.5, color=PALETTE["grey"], ls=":", lw=1)
    lo, hi = ax.get_ylim()
    lam = time_weights.reindex(tr["time"]).fillna(0.0).to_numpy(float)
    if lam.max() > 0:
        ax.bar(x, lam / lam.max() * 0.12 * (hi - lo), bottom=lo, width=0.6,
               color=PALETTE["grey"], alpha=0.5, label="Weight of each year before adoption")
        ax.set_ylim(lo, hi)
    ax.set_xlabel("Year")
    ax.set_ylabel(wrap_label(f"{outcome_label} ({units})" if units else outcome_label, 32))
    ax.set_title("Before and after adoption, against the synthetic comparison")
    ax.legend(fontsize=8, loc="best")
    return fig


def unit_weights_figure(weights: pd.Series, *, unit_label: str, top: int = 12,
                        smallest: float = 0.005):
    """The comparison units with the largest weights, as horizontal bars.

    Parameters
    ----------
    weights
        Weight by comparison unit (summing to 1).
    unit_label
        What a unit is ("state").
    top
        How many units to show at most (the rest are summed into one bar).
    smallest
        Units with a smaller weight are summed into that bar too (a bar labelled 0.00 says
        nothing).
    """
    w = weights[weights > 0].sort_values(ascending=False)
    shown = w[w >= smallest].iloc[:top]
    top = len(shown)
    rest = float(w.iloc[top:].sum())
    labels = [str(k) for k in shown.index]
    values = list(shown.to_numpy(float))
    if rest > 0:
        labels.append(f"{len(w) - top} other {unit_label}s")
        values.append(rest)
    fig, (ax,) = new_figure(1, width=8.0, height=0.9 + 0.28 * len(values))
    y = np.arange(len(values))[::-1]
    ax.barh(y, values, color=PALETTE["blue"], height=0.6)
    for yy, v in zip(y, values, strict=True):
        ax.text(v, yy, f" {v:.2f}", va="center", fontsize=8)
    ax.set_yticks(y, labels)
    ax.set_xlim(0, max(values) * 1.18)
    ax.set_xlabel("Weight in the synthetic comparison")
    ax.set_title(f"Which {unit_label}s make up the comparison")
    ax.grid(axis="y", visible=False)
    return fig


def placebo_figure(replicates: Sequence[float] | np.ndarray, estimate: float, *, units: str,
                   unit_label: str):
    """The placebo estimates against the actual one.

    Each placebo estimate pretends that non-adopting units adopted at the same time; their
    spread is the standard error, and an actual estimate far outside them is unlikely to be
    chance.

    Parameters
    ----------
    replicates
        The placebo estimates.
    estimate
        The actual estimate.
    units
        The outcome's units (x axis).
    unit_label
        What a unit is ("state").
    """
    r = np.asarray(replicates, float)
    r = r[np.isfinite(r)]
    fig, (ax,) = new_figure(1, width=8.0, height=3.2)
    bins = int(np.clip(np.sqrt(r.size) * 2, 10, 40))
    ax.hist(r, bins=bins, color=PALETTE["grey"], alpha=0.7,
            label=f"Placebo estimates ({r.size} draws)")
    ax.axvline(estimate, color=PALETTE["vermillion"], lw=2, label="Actual estimate")
    ax.axvline(0, color=PALETTE["black"], lw=0.8)
    lo = min(float(r.min()) if r.size else estimate, estimate)
    hi = max(float(r.max()) if r.size else estimate, estimate)
    pad = 0.08 * (hi - lo or 1.0)
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_xlabel(wrap_label(f"Effect ({units})" if units else "Effect", 40))
    ax.set_ylabel("Placebo draws")
    ax.set_title(f"Placebo effects of non-adopting {unit_label}s")
    ax.legend(fontsize=8)
    return fig


def its_series_figure(series, *, ticks: Sequence[float], tick_labels: Sequence[str],
                      intervention_label: str, outcome_label: str, units: str = "",
                      hidden_note: str = ""):
    """An interrupted time series: observed points, the fitted model and its counterfactual.

    The fitted line is drawn before the intervention (the pre-period trend, with its
    seasonality) and after it; from the intervention on, the dashed line continues the
    pre-period trend as if nothing had changed (the counterfactual). A dashed vertical line
    marks the intervention.

    Parameters
    ----------
    series
        Rows ``x`` (period number), ``post`` (bool), ``observed`` (NaN where a value must not
        be shown, e.g. a count below the privacy threshold), ``fitted``, ``counterfactual``.
    ticks, tick_labels
        Positions and labels of the x axis (e.g. every January and its year).
    intervention_label
        The intervention in words ("the screening protocol (January 2022)"), for the
        marker's legend entry.
    outcome_label, units
        The outcome in words and its units (for the y axis).
    hidden_note
        A note under the axes saying which observed values are not drawn ('' for none).
    """
    from evalkit.report.words import capitalize as capitalize_first

    x = series["x"].to_numpy(float)
    post = series["post"].to_numpy(bool)
    obs = series["observed"].to_numpy(float)
    fig, (ax,) = new_figure(1, width=8.5, height=4.0)
    for mask, colour, label in ((~post, PALETTE["grey"], "Observed, before"),
                                (post, PALETTE["blue"], "Observed, after")):
        keep = mask & np.isfinite(obs)
        ax.plot(x[keep], obs[keep], "o", ms=3.5, color=colour, label=label)
    ax.plot(x[~post], series["fitted"].to_numpy(float)[~post], color=PALETTE["black"], lw=1.6,
            label="Fitted trend before")
    ax.plot(x[post], series["fitted"].to_numpy(float)[post], color=PALETTE["vermillion"],
            lw=1.8, label="Fitted after")
    at = int(np.argmax(post))
    cx = x[max(at - 1, 0):]
    ax.plot(cx, series["counterfactual"].to_numpy(float)[max(at - 1, 0):], ls="--",
            color=PALETTE["black"], lw=1.3, label="Trend before, continued (counterfactual)")
    ax.axvline(x[at] - 0.5, color=PALETTE["grey"], ls=":", lw=1.4,
               label=wrap_label(f"Start of {intervention_label}", 40))
    ax.set_xticks(list(ticks), list(tick_labels))
    ax.set_xlim(x.min() - 1, x.max() + 1)
    ax.set_ylabel(wrap_label(f"{capitalize_first(outcome_label)}"
                             + (f" ({units})" if units else ""), 34))
    ax.set_title(wrap_label(f"{capitalize_first(outcome_label)} before and after "
                            f"{intervention_label}", 70))
    fig.legend(loc="outside lower center", ncol=3, fontsize=8)
    if hidden_note:
        ax.set_xlabel(wrap_label(hidden_note, 90), fontsize=8)
    return fig


def acf_figure(acf, *, n: int, confidence: float = 0.95, title: str = ""):
    """Residual autocorrelation by lag, with the band of values expected from chance.

    Parameters
    ----------
    acf
        Autocorrelations indexed by lag (1, 2, ...).
    n
        Number of periods the residuals come from; the band is ``± z / sqrt(n)``, as R ``acf``
        draws it.
    confidence
        Confidence level of the band.
    title
        The figure's title (default: "Autocorrelation of the model's residuals").
    """
    from scipy import stats

    lags = np.asarray(acf.index, dtype=float)
    vals = np.asarray(acf, dtype=float)
    band = float(stats.norm.ppf(0.5 + confidence / 2)) / np.sqrt(n)
    fig, (ax,) = new_figure(1, width=7.0, height=3.2)
    ax.vlines(lags, 0, vals, color=PALETTE["blue"], lw=2)
    ax.plot(lags, vals, "o", ms=3.5, color=PALETTE["blue"])
    ax.axhline(0, color=PALETTE["black"], lw=0.8)
    for b in (band, -band):
        ax.axhline(b, color=PALETTE["vermillion"], ls="--", lw=1)
    lim = max(0.5, float(np.nanmax(np.abs(vals))) * 1.15 if len(vals) else 0.5, band * 1.3)
    ax.set_ylim(-lim, lim)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    if len(lags):  # whole lags, half a lag of margin (one lag alone is not drawn at 0.945–1.05)
        ax.set_xlim(float(lags.min()) - 0.5, float(lags.max()) + 0.5)
    ax.set_xlabel("Lag (periods)")
    ax.set_ylabel("Autocorrelation")
    ax.set_title(wrap_label(title or "Autocorrelation of the model's residuals "
                            f"(dashed: {confidence:.0%} band of chance)", 70))
    return fig



def honest_figure(panels: Sequence[tuple[str, Any]], *, units: str, label: str = "M̄"):
    """Robust confidence intervals against the allowed violation of parallel trends.

    As R ``HonestDiD::createSensitivityPlot_relativeMagnitudes``: for each parameter (the first
    period after adoption, the average over the periods after it), the original interval and
    the robust interval at each ``m``, with zero marked.

    Parameters
    ----------
    panels
        ``(title, result)`` pairs of :class:`~evalkit.methods.did.honest.HonestDiD` results.
    units
        The outcome's units (y axis).
    label
        The name of ``m`` on the x axis (``M̄`` for relative magnitudes, ``M`` for smoothness).
    """
    fig, axes = new_figure(len(panels), width=8.5, height=3.6)
    for ax, (title, res) in zip(axes, panels, strict=True):
        t = res.table
        m = t["m"].to_numpy(float)
        step = float(np.min(np.diff(m))) if m.size > 1 else 1.0
        x0 = m[0] - 1.2 * step
        lo, hi = res.original
        ax.errorbar([x0], [res.estimate], yerr=[[res.estimate - lo], [hi - res.estimate]],
                    fmt="o", color=PALETTE["grey"], capsize=3, label="Original interval")
        ok = np.isfinite(t["lb"].to_numpy(float)) & np.isfinite(t["ub"].to_numpy(float))
        mid = (t["lb"] + t["ub"]).to_numpy(float) / 2
        ax.errorbar(m[ok], mid[ok], yerr=[mid[ok] - t["lb"].to_numpy(float)[ok],
                                          t["ub"].to_numpy(float)[ok] - mid[ok]],
                    fmt="none", color=PALETTE["blue"], capsize=3, lw=1.6,
                    label="Robust interval")
        ax.axhline(0, color=PALETTE["black"], lw=0.8)
        if res.breakdown is not None:
            ax.axvline(res.breakdown, color=PALETTE["vermillion"], ls=":", lw=1.2,
                       label="Breakdown value")
        ax.set_xlim(x0 - step, m[-1] + step)
        ax.set_xlabel(f"{label}: allowed post-adoption divergence, times the largest before")
        ax.set_title(wrap_label(title, 40))
        ax.xaxis.label.set_size(8)
    axes[0].set_ylabel(wrap_label(f"Effect ({units})" if units else "Effect", 30))
    axes[0].legend(fontsize=7, loc="best")
    return fig

"""Report sections of the ``adjust:`` block: balance, overlap and the adjusted effect.

A comparison-group evaluation may adjust for baseline covariates (the config's
``parameters.adjust``). :mod:`evalkit.methods.adjustment` estimates it
(:func:`~evalkit.methods.adjustment.adjust_comparison` for a follow-up score,
:func:`~evalkit.methods.adjustment.adjust_survival` for time to an event); the builders here
word and draw the results for :class:`~evalkit.report.prepost.PrePostReport` and
:class:`~evalkit.report.survival.SurvivalReport`: the adjusted effect beside the unadjusted
one, the balance of every covariate before and after with the love plot, the effective sample
sizes and the propensity-score overlap in bins no smaller than the privacy threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from evalkit.exceptions import PrivacyError
from evalkit.methods.adjustment import Adjustment, Balanced
from evalkit.methods.balance import max_abs_smd
from evalkit.methods.inference import join_names
from evalkit.methods.weighted_effect import WeightedEffect
from evalkit.report import words
from evalkit.report.common import interval, num, p_text
from evalkit.report.figures import figure_block, love_plot, overlap_histogram
from evalkit.report.html import paragraphs, table

__all__ = ["balance_rows", "balance_section", "covariate_balance", "effect_section",
           "estimand_words"]

_ESTIMAND_WORDS = {
    "ATT": "the youth in the program (comparison youth are weighted or matched to resemble "
           "them)",
    "ATE": "all youth in the evaluation (both groups are weighted to resemble everyone)",
    "ATO": "the youth who could as well have been in either group (overlap weights)",
}


def estimand_words(estimand: str) -> str:
    """Whom an estimand's effect is about, in words (``"ATT"`` → the youth in the program)."""
    return {"ATT": "the youth in the program", "ATE": "all youth in the evaluation",
            "ATO": "the youth who could as well have been in either group"}[estimand]


def covariate_balance(adj: Balanced, *, threshold: int = 11) -> dict[str, Any]:
    """The balance summary ``results.json`` carries under ``checks.covariate_balance``.

    Parameters
    ----------
    adj
        Groups made alike by weighting or matching.
    threshold
        Privacy threshold: the number of youth with an imputed characteristic is ``None``
        when it is from 1 to ``threshold − 1``.

    Returns
    -------
    dict
        ``method``, ``estimand``, ``covariates`` (rows of covariate, smd_raw, smd_adjusted,
        variance_ratio; averaged over the imputed data sets with ``missing: impute``),
        ``max_abs_smd_raw``, ``max_abs_smd_adjusted``, ``ess`` (treated, control),
        ``n_incomplete``; with imputed characteristics also ``imputation``: ``m``, ``seed``,
        ``imputed`` (the characteristics imputed), ``n_imputed``, ``fmi``, ``df`` and
        ``complete_case`` (estimate, se, ci_low, ci_high, p_value of the complete-case
        adjusted effect, or ``None``).
    """
    b = adj.balance
    rows = b[["covariate", "smd_raw", "smd_adjusted", "variance_ratio"]]
    extra: dict[str, Any] = {}
    imp = adj.imputation
    if imp is not None:
        cc = imp.complete_case
        extra["imputation"] = {
            "m": imp.m, "seed": imp.seed, "imputed": list(imp.missing),
            "n_imputed": imp.n_imputed if imp.n_imputed >= threshold else None,
            "fmi": imp.pooled.fmi, "df": imp.pooled.df,
            "complete_case": None if cc is None else {
                k: float(cc.to_frame().iloc[0][k])
                for k in ("estimate", "se", "ci_low", "ci_high", "p_value")},
        }
    return {
        "method": adj.method, "estimand": adj.estimand, "missing": adj.missing,
        "covariates": rows.to_dict("records"),
        "max_abs_smd_raw": max_abs_smd(b, "smd_raw"),
        "max_abs_smd_adjusted": max_abs_smd(b, "smd_adjusted"),
        "ess": {k: float(v) for k, v in adj.ess.items()},
        "n_incomplete": adj.n_incomplete,
        **extra,
    }


def balance_rows(adj: Balanced, labels: Mapping[str, str]) -> pd.DataFrame:
    """The balance table as the report shows it.

    Its columns are covariate (display names from ``labels``), SMD before and after, and
    variance ratio.
    """
    b = adj.balance
    cats = set(getattr(adj, "categorical", ()) or ())
    return pd.DataFrame({
        "covariate": [_level_label(c, labels, cats) for c in b["covariate"]],
        "smd_raw": b["smd_raw"].to_numpy(float),
        "smd_adjusted": b["smd_adjusted"].to_numpy(float),
        "variance_ratio": b["variance_ratio"].to_numpy(float),
    })


def _level_label(name: str, labels: Mapping[str, str], categorical: set[str]) -> str:
    """A covariate's display name; a category's indicator ``site[North]`` reads "site: North"."""
    base, sep, rest = str(name).partition("[")
    if sep and rest.endswith("]") and base in categorical:
        return f"{words.label(base, labels)}: {rest[:-1]}"
    return words.label(name, labels)


def _done(adj: Adjustment) -> str:
    return "weighting" if adj.method == "weighting" else "matching"


def effect_section(adj: Adjustment, *, outcome_label: str, units: str, post_label: str,
                   comparison_label: str, labels: Mapping[str, str],
                   threshold: int = 11) -> str:
    """HTML of the adjusted program effect next to the unadjusted one (Findings).

    Parameters
    ----------
    adj
        :func:`evalkit.methods.adjustment.adjust_comparison`.
    outcome_label, units, post_label
        The outcome's words.
    comparison_label
        Name of the comparison group.
    labels
        Display names of columns.
    threshold
        Privacy threshold: with imputed characteristics, the complete-case youth counts are
        withheld when they would show that fewer than this many youth of a group had one
        missing.

    Returns
    -------
    str
        A table with a sentence on how the adjustment was made (with imputed characteristics,
        the complete-case estimate beside the pooled one).
    """
    e, u = adj.effect, adj.unadjusted
    conf = f"{1 - e.alpha:.0%}"
    covs = join_names([words.label(c, labels) for c in adj.covariates])
    imp = adj.imputation

    def youth(fit: Any) -> str:
        return f"{fit.n_treated:,} program, {fit.n_control:,} {comparison_label}"

    names = [f"Difference at {post_label}, unadjusted ({units})",
             f"Program effect at {post_label}, adjusted by {_done(adj)} ({units})"]
    est = [num(u.estimate, 1), num(e.estimate, 1)]
    cis = [interval(u.ci_low, u.ci_high, 1), interval(e.ci_low, e.ci_high, 1)]
    n = [youth(u), youth(e)]
    if imp is not None:
        names[1] = (f"Program effect at {post_label}, adjusted by {_done(adj)}, missing "
                    f"characteristics imputed ({units})")
        names.append(f"Same, complete cases only ({units})")
        cc = imp.complete_case
        if not isinstance(cc, WeightedEffect):
            est.append("not estimable")
            cis.append("")
            n.append("")
        else:
            est.append(num(cc.estimate, 1))
            cis.append(interval(cc.ci_low, cc.ci_high, 1))
            gaps = (e.n_treated - cc.n_treated, e.n_control - cc.n_control)
            n.append(youth(cc) if all(g == 0 or g >= threshold for g in gaps) else
                     f"withheld (fewer than {threshold} youth of a group missing a "
                     "characteristic)")
    names.append("Effect size of the adjusted effect (Hedges' g, WWC)")
    est.append(num(adj.g, 2))
    cis.append(interval(adj.g_ci_low, adj.g_ci_high, 2))
    n.append("")
    rows = pd.DataFrame({"Estimate": est, f"{conf} CI": cis, "Youth analysed": n},
                        index=names)
    how = ("Propensity-score weighting" if adj.method == "weighting" else
           "Nearest-neighbour matching on the propensity score")
    text = paragraphs(
        f"The groups differed at intake, so the program effect is estimated after making them "
        f"alike on {covs}. {how} estimates the effect for "
        f"{_ESTIMAND_WORDS[adj.estimand]}; the effect is then the difference in {outcome_label} at {post_label} from a "
        "weighted regression that also adjusts for the same characteristics (a 'doubly robust' "
        "estimate: it is right if either the weights or the regression are). The unadjusted "
        "difference compares the groups as they were and is shown only to see how much the "
        "adjustment matters.")
    df = f"{e.df:g}" if imp is None else f"{e.df:.1f}"
    note = (f"Adjusted effect: t = {e.t:.2f} with {df} degrees of freedom, "
            f"{p_text(e.p_value)}; "
            + ("standard errors as R survey::svyglm" if e.vcov == "survey" else
               "standard errors as R lm with sandwich::vcovCL on the matched pairs")
            + (f" in each of {imp.m} imputed data sets, pooled by Rubin's rules with "
               f"Barnard–Rubin degrees of freedom (as R mice::pool; fraction of missing "
               f"information {imp.pooled.fmi:.2f})." if imp is not None else ".")
            + (f" {adj.n_incomplete:,} youth with a {post_label} score but a missing "
               "characteristic are left out (complete cases)." if adj.n_incomplete else ""))
    if imp is not None:
        missing = join_names([words.label(c, labels) for c in imp.missing])
        text += paragraphs(
            f"Some youth had {missing} missing. Rather than leave them out, the missing "
            f"values were filled in {imp.m} times by multiple imputation (chained equations "
            "with predictive mean matching, from the other characteristics, the group and the "
            f"score at {post_label}; seed {imp.seed}); the weighting and the effect were estimated "
            "in each completed data set and pooled. The estimate from the youth with every "
            "characteristic recorded is shown beside it: if the two differ much, who has "
            "missing records matters to the finding.")
    return text + table(rows, caption=f"Program vs {comparison_label}: {outcome_label}, "
                        "adjusted and unadjusted", total_rows=(), note=note)


def balance_section(adj: Balanced, *, threshold: int, labels: Mapping[str, str],
                    program_label: str, comparison_label: str, regression: bool = True) -> str:
    """HTML of the balance checks (Checks).

    It holds the balance table before and after adjustment with the love plot, the effective
    sample sizes and the propensity-score overlap histogram (bins merged to the privacy
    threshold; withheld, with the reason, when a group is too small).

    Parameters
    ----------
    adj
        Groups made alike by weighting or matching
        (:func:`evalkit.methods.adjustment.adjust_comparison`, ``adjust_survival``).
    threshold
        Privacy threshold.
    labels
        Display names of columns.
    program_label, comparison_label
        Names of the groups.
    regression
        Whether the estimate's regression adjusts for every covariate (the doubly robust
        pre-post effect does; the weighted hazard ratio does not, so an |SMD| from 0.05 to
        0.25 is then not satisfied, as :func:`evalkit.report.evidence.balance_status` rates).

    Returns
    -------
    str
        The HTML.
    """
    rows = balance_rows(adj, labels)
    done = "weighting" if adj.method == "weighting" else "matching"
    frame = pd.DataFrame({
        "SMD before": [num(v, 2) for v in rows["smd_raw"]],
        f"SMD after {done}": [num(v, 2) for v in rows["smd_adjusted"]],
        "Variance ratio after": ["" if not np.isfinite(v) else num(v, 2)
                                 for v in rows["variance_ratio"]],
        "Baseline equivalence (WWC)": [_band(v, regression) for v in rows["smd_adjusted"]],
    }, index=[words.capitalize(c) for c in rows["covariate"]])
    parts = [paragraphs(
        "Were the groups alike at intake once adjusted? For each characteristic, the "
        "standardized mean difference (SMD) is the gap between the group averages in standard "
        "deviations; the variance ratio compares their spread (near 1 is alike).")]
    parts.append(table(frame, caption=f"Balance of the groups before and after {done}",
                       total_rows=(), note=(
                           "What Works Clearinghouse: an |SMD| up to 0.05 satisfies baseline "
                           "equivalence; 0.05 to 0.25 only with regression adjustment on that "
                           "characteristic "
                           + ("(the effect's regression adjusts for every one listed here)"
                              if regression else
                              "(the weighted hazard ratio makes none, so it is not satisfied)")
                           + "; above 0.25 it is not satisfied. Binary "
                           "characteristics have no variance ratio.")))
    fig = love_plot(rows, adjusted_label=f"After {done}")
    worst = rows.loc[rows["smd_adjusted"].abs().idxmax()] if len(rows) else None
    alt = ("Love plot of the absolute standardized mean differences before and after "
           f"{done}, one row per characteristic"
           + (f"; the largest after {done} is {worst['covariate']} at "
              f"{abs(worst['smd_adjusted']):.2f}." if worst is not None else "."))
    parts.append(figure_block(fig, alt=alt, caption=(
        f"Covariate balance before and after {done}, with the WWC thresholds")).html)
    e1, e0 = adj.ess["treated"], adj.ess["control"]
    parts.append(paragraphs(
        f"Effective sample sizes after {done}: {e1:,.1f} program youth and {e0:,.1f} "
        f"{comparison_label} youth. Weighting counts some youth more than others; the "
        "effective sample size is how many equally weighted youth would give the same "
        f"precision. Below {threshold}, a few youth would carry the comparison."))
    try:
        fig = overlap_histogram(adj.ps.to_numpy(float), adj.treated.to_numpy(int), threshold,
                                program_label=program_label,
                                comparison_label=words.capitalize(comparison_label))
    except PrivacyError:
        parts.append(paragraphs(
            "The overlap of propensity scores is not shown: a group has fewer than "
            f"{threshold} youth, so any bin would show a small count."))
    else:
        parts.append(paragraphs(
            "The propensity score is each youth's estimated chance of being in the program, "
            "given the characteristics above. Where only one group has scores, youth have no "
            "counterpart in the other group and the comparison rests on extrapolation."))
        parts.append(figure_block(fig, alt=(
            "Mirrored histograms of the propensity scores of program youth (above) and "
            f"{comparison_label} youth (below), in bins holding no fewer than {threshold} "
            "youth of a group (or none)."), caption="Overlap of the propensity scores").html)
    return "".join(parts)


def _band(smd: float, regression: bool = True) -> str:
    a = abs(smd)
    if not np.isfinite(a):
        return "not computed"
    if a <= 0.05:
        return "satisfied"
    if a <= 0.25:
        return ("satisfied with adjustment" if regression else
                "not satisfied (no regression adjustment)")
    return "not satisfied"

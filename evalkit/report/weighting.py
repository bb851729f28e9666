"""The ``adjust:`` block of comparison-group reports: propensity weighting or matching.

A pre-post comparison-group evaluation may adjust for baseline covariates (the config's
``parameters.adjust``: ``covariates``, ``method``, ``estimand``, ``missing``).
:func:`adjust_comparison` fits the weights (:func:`evalkit.weighting.propensity`) or the
matched sample (:func:`evalkit.weighting.match`) on the youth with a follow-up score and every
covariate (complete cases), and estimates the program effect on the follow-up score with the
doubly robust weighted regression (:func:`evalkit.weighting.effect` with every adjustment
covariate), next to the unadjusted difference in means. The section builders here word and
draw it for :class:`~evalkit.report.prepost.PrePostReport`. A time-to-event evaluation takes
the same block: :func:`adjust_survival` weights the Cox model and the Kaplan–Meier curves for
:class:`~evalkit.report.survival.SurvivalReport`, and both reports share the balance checks
(:func:`balance_section`, :func:`covariate_balance`). All numbers come from
:mod:`evalkit.weighting`, :mod:`evalkit.methods.cox` and :mod:`evalkit.methods.survival`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from evalkit.data import Column
from evalkit.exceptions import PrivacyError
from evalkit.methods.balance import max_abs_smd
from evalkit.methods.cox import CoxResult, Ties, cox
from evalkit.methods.effect_sizes import g_variance, hedges_g_wwc, improvement_index
from evalkit.methods.inference import join_names
from evalkit.methods.propensity import ess
from evalkit.methods.survival import ConfType, KaplanMeier, kaplan_meier
from evalkit.report import words
from evalkit.report.common import interval, num, p_text
from evalkit.report.figures import figure_block, love_plot, overlap_histogram
from evalkit.report.html import paragraphs, table
from evalkit.run.templates import ADJUST_CHOICES
from evalkit.weighting import Matched, WeightedEffect, Weights, effect, match, propensity

__all__ = ["ADJUST_DEFAULTS", "ADJUST_METHODS", "ADJUST_ESTIMANDS", "ADJUST_MISSING",
           "Adjustment", "Balanced", "SurvivalAdjustment", "adjust_columns",
           "adjust_comparison", "adjust_survival", "balance_rows",
           "balance_section", "covariate_balance", "effect_section", "estimand_words"]

#: Values each key of the ``adjust`` block may take (the first is the default).
ADJUST_METHODS = ADJUST_CHOICES["method"]
ADJUST_ESTIMANDS = ADJUST_CHOICES["estimand"]
ADJUST_MISSING = ADJUST_CHOICES["missing"]
ADJUST_DEFAULTS: dict[str, Any] = {k: v[0] for k, v in ADJUST_CHOICES.items()}

_ESTIMAND_WORDS = {
    "ATT": "the youth in the program (comparison youth are weighted or matched to resemble "
           "them)",
    "ATE": "all youth in the evaluation (both groups are weighted to resemble everyone)",
    "ATO": "the youth who could as well have been in either group (overlap weights)",
}


def adjust_columns(columns: Sequence[Column], adjust: Mapping[str, Any] | None
                   ) -> list[Column]:
    """The columns a pre-post analysis reads, with the ``adjust`` covariates added.

    Parameters
    ----------
    columns
        The pre-post columns (:func:`evalkit.methods.prepost.columns`).
    adjust
        The config's ``adjust`` block, or ``None`` (then ``columns`` is returned unchanged).

    Returns
    -------
    list of evalkit.data.Column
        ``columns`` followed by each adjustment covariate not already among them (numeric,
        labelled so that a column not found is traced to ``parameters.adjust.covariates``).
    """
    out = list(columns)
    if not adjust:
        return out
    have = {c.name for c in out}
    for name in adjust.get("covariates") or ():
        if name not in have:
            out.append(Column(name, label="covariate in parameters.adjust.covariates"))
            have.add(name)
    return out


@dataclasses.dataclass(frozen=True)
class Balanced:
    """Groups made alike on baseline covariates by weighting or matching.

    What the balance checks (:func:`balance_section`, :func:`covariate_balance`) read; the
    adjusted comparisons (:class:`Adjustment`, :class:`SurvivalAdjustment`) extend it.

    Attributes
    ----------
    method, estimand, missing, covariates
        The ``adjust`` block as run.
    fit
        The :class:`~evalkit.weighting.Weights` or :class:`~evalkit.weighting.Matched`
        result (its ``balance`` is the table before and after adjustment).
    ess
        Effective sample size per group (``"treated"``, ``"control"``).
    ps
        Propensity scores of the youth analysed (for the overlap histogram).
    treated
        0/1 group of the same youth.
    n_incomplete
        Youth left out for a missing covariate.
    """

    method: str
    estimand: str
    missing: str
    covariates: tuple[str, ...]
    fit: Weights | Matched
    ess: Mapping[str, float]
    ps: pd.Series
    treated: pd.Series
    n_incomplete: int

    @property
    def balance(self) -> pd.DataFrame:
        """The balance table: one row per covariate, before and after adjustment."""
        return self.fit.balance


@dataclasses.dataclass(frozen=True)
class Adjustment(Balanced):
    """A comparison adjusted for baseline covariates (:func:`adjust_comparison`).

    Attributes
    ----------
    effect
        The doubly robust program effect on the follow-up score (weighted regression on the
        treatment and every covariate).
    unadjusted
        The unweighted difference in follow-up means of the same youth.
    g, g_ci_low, g_ci_high, improvement_index
        The adjusted effect as WWC Hedges' g (over the unadjusted pooled SD of the follow-up
        score) and the improvement index.

    The attributes of :class:`Balanced` (method, covariates, fit, ess, ...) are inherited.
    """

    effect: WeightedEffect
    unadjusted: WeightedEffect
    g: float
    g_ci_low: float
    g_ci_high: float
    improvement_index: float

    @property
    def cautions(self) -> tuple[str, ...]:
        """The adjusted effect's cautions (those of the weights or the matching included)."""
        return tuple(self.effect.cautions)


def _spec(adjust: Mapping[str, Any]) -> dict[str, Any]:
    """The ``adjust`` block with defaults filled in and its method and missing checked."""
    spec = {**ADJUST_DEFAULTS, **{k: v for k, v in adjust.items() if v is not None}}
    if spec["method"] not in ADJUST_METHODS:
        raise ValueError(f"adjust.method must be one of {', '.join(ADJUST_METHODS)}")
    if spec["missing"] not in ADJUST_MISSING:
        raise ValueError("adjust.missing: only complete-case analysis is available")
    return spec


def _balance(complete: pd.DataFrame, group: str, spec: Mapping[str, Any], threshold: int,
             n_incomplete: int) -> dict[str, Any]:
    """Weights or a matched sample on ``complete``: the fields of :class:`Balanced`."""
    covs = tuple(spec["covariates"])
    method, estimand = spec["method"], spec["estimand"]
    fit: Weights | Matched
    if method == "weighting":
        fit = propensity(complete, group, covs, estimand=estimand, threshold=threshold)
        ps = fit.ps
        ess_ = dict(fit.ess)
    else:
        fit = match(complete, group, covs, threshold=threshold)
        ps = fit.distance
        t = complete[group].to_numpy(int)
        w = fit.weights.to_numpy(float)
        ess_ = {"treated": ess(w[(t == 1) & (w > 0)]), "control": ess(w[(t == 0) & (w > 0)])}
    return {"method": method, "estimand": "ATT" if method == "matching" else estimand,
            "missing": spec["missing"], "covariates": covs, "fit": fit, "ess": ess_, "ps": ps,
            "treated": complete[group].astype(int), "n_incomplete": n_incomplete}


def adjust_comparison(data: pd.DataFrame, post: str, group: str, adjust: Mapping[str, Any],
                      *, lower_is_better: bool = False, alpha: float = 0.05,
                      threshold: int = 11) -> Adjustment:
    """Adjust a program-vs-comparison difference at follow-up for baseline covariates.

    Parameters
    ----------
    data
        One row per youth (validated).
    post
        The follow-up score column (the outcome).
    group
        0/1 column: 1 for program youth.
    adjust
        ``covariates`` (list), ``method`` (``"weighting"`` or ``"matching"``), ``estimand``
        (``"ATT"``, ``"ATE"``, ``"ATO"``; matching estimates the ATT) and ``missing``
        (``"complete-case"``).
    lower_is_better
        Direction of the score (for the improvement index).
    alpha
        1 − confidence level.
    threshold
        Privacy threshold: an effective sample size below it draws a caution.

    Returns
    -------
    Adjustment

    Raises
    ------
    EvalDataError
        From :func:`evalkit.weighting.propensity`, :func:`~evalkit.weighting.match` or
        :func:`~evalkit.weighting.effect` (a constant covariate, perfect separation, no
        overlap, ...).
    """
    spec = _spec(adjust)
    covs = tuple(spec["covariates"])
    measured = data[data[post].notna()]
    complete = measured.dropna(subset=list(covs))
    base = _balance(complete, group, spec, threshold, int(len(measured) - len(complete)))
    fit = base["fit"]
    adjusted = effect(complete, post, group, weights=fit, covariates=covs, alpha=alpha)
    ones = pd.Series(1.0, index=complete.index)
    naive = effect(complete, post, group, weights=ones, alpha=alpha)
    y1 = complete.loc[complete[group] == 1, post]
    y0 = complete.loc[complete[group] == 0, post]
    g = hedges_g_wwc(adjusted.estimate, float(y1.std()), len(y1), float(y0.std()), len(y0))
    half = stats.norm.ppf(1 - alpha / 2) * np.sqrt(g_variance(g, len(y1), len(y0)))
    return Adjustment(
        **base, effect=adjusted, unadjusted=naive, g=g, g_ci_low=g - half,
        g_ci_high=g + half, improvement_index=improvement_index(
            g, lower_is_better=lower_is_better))


@dataclasses.dataclass(frozen=True)
class SurvivalAdjustment(Balanced):
    """A time-to-event comparison adjusted for baseline covariates (:func:`adjust_survival`).

    Attributes
    ----------
    data
        The youth analysed (every adjustment covariate recorded), with their weight in the
        column named ``weight``.
    weight
        Name of the weight column in ``data``.
    cox
        The weighted Cox model of the group alone, robust standard errors (R
        ``coxph(..., weights = w, robust = TRUE)``).
    unadjusted
        The unweighted Cox model of the group alone on the same youth.
    km
        The weighted Kaplan–Meier curves by group (R ``survfit(..., weights = w)``).
    km_unweighted
        The unweighted curves of the same youth: their numbers at risk are youth.

    The attributes of :class:`Balanced` (method, covariates, fit, ess, ...) are inherited.
    """

    data: pd.DataFrame
    weight: str
    cox: CoxResult
    unadjusted: CoxResult
    km: KaplanMeier
    km_unweighted: KaplanMeier

    @property
    def cautions(self) -> tuple[str, ...]:
        """The weighted hazard ratio's cautions and those of the weights or the matching."""
        return tuple(self.cox.cautions) + tuple(getattr(self.fit, "cautions", ()))


def adjust_survival(data: pd.DataFrame, duration: str, event: str, group: str,
                    adjust: Mapping[str, Any], *, ties: Ties = "efron",
                    conf_type: ConfType = "log",
                    alpha: float = 0.05, threshold: int = 11) -> SurvivalAdjustment:
    """Adjust a program-vs-comparison time-to-event comparison for baseline covariates.

    The propensity weights (or matching weights) are fitted on the youth with every covariate
    recorded; the hazard ratio is then the weighted Cox model of the group alone with robust
    standard errors, and the Kaplan–Meier curves are weighted.

    Parameters
    ----------
    data
        One row per youth (validated).
    duration, event
        Time to the event or the end of follow-up, and 1 if the event happened.
    group
        0/1 column: 1 for program youth.
    adjust
        ``covariates``, ``method``, ``estimand`` and ``missing`` (as
        :func:`adjust_comparison`).
    ties, conf_type, alpha
        Options of the Cox model and the Kaplan–Meier curves.
    threshold
        Privacy threshold: an effective sample size below it draws a caution.

    Returns
    -------
    SurvivalAdjustment

    Raises
    ------
    EvalDataError
        From :func:`evalkit.weighting.propensity` or :func:`~evalkit.weighting.match` (a
        constant covariate, perfect separation, no overlap, ...).
    """
    spec = _spec(adjust)
    covs = list(spec["covariates"])
    complete = data.dropna(subset=covs)
    base = _balance(complete, group, spec, threshold, int(len(data) - len(complete)))
    weight = next(n for n in ("weight", "adjust_weight", "_adjust_weight")
                  if n not in complete.columns)
    frame = complete.assign(**{weight: base["fit"].weights.reindex(complete.index)})
    hazard = cox(frame, duration, event, [group], ties=ties, alpha=alpha, weights=weight,
                 robust=True)
    naive = cox(frame, duration, event, [group], ties=ties, alpha=alpha)
    km = kaplan_meier(frame, duration, event, group=group, conf_type=conf_type, alpha=alpha,
                      weights=weight)
    km0 = kaplan_meier(frame, duration, event, group=group, conf_type=conf_type, alpha=alpha)
    return SurvivalAdjustment(**base, data=frame, weight=weight, cox=hazard, unadjusted=naive,
                              km=km, km_unweighted=km0)


def estimand_words(estimand: str) -> str:
    """Whom an estimand's effect is about, in words (``"ATT"`` → the youth in the program)."""
    return {"ATT": "the youth in the program", "ATE": "all youth in the evaluation",
            "ATO": "the youth who could as well have been in either group"}[estimand]


def covariate_balance(adj: Balanced) -> dict[str, Any]:
    """The balance summary ``results.json`` carries under ``checks.covariate_balance``.

    Returns
    -------
    dict
        ``method``, ``estimand``, ``covariates`` (rows of covariate, smd_raw, smd_adjusted,
        variance_ratio), ``max_abs_smd_raw``, ``max_abs_smd_adjusted``, ``ess`` (treated,
        control), ``n_incomplete``.
    """
    b = adj.balance
    rows = b[["covariate", "smd_raw", "smd_adjusted", "variance_ratio"]]
    return {
        "method": adj.method, "estimand": adj.estimand, "missing": adj.missing,
        "covariates": rows.to_dict("records"),
        "max_abs_smd_raw": max_abs_smd(b, "smd_raw"),
        "max_abs_smd_adjusted": max_abs_smd(b, "smd_adjusted"),
        "ess": {k: float(v) for k, v in adj.ess.items()},
        "n_incomplete": adj.n_incomplete,
    }


def balance_rows(adj: Balanced, labels: Mapping[str, str]) -> pd.DataFrame:
    """The balance table as the report shows it.

    Its columns are covariate (display names from ``labels``), SMD before and after, and
    variance ratio.
    """
    b = adj.balance
    return pd.DataFrame({
        "covariate": [words.label(c, labels) for c in b["covariate"]],
        "smd_raw": b["smd_raw"].to_numpy(float),
        "smd_adjusted": b["smd_adjusted"].to_numpy(float),
        "variance_ratio": b["variance_ratio"].to_numpy(float),
    })


def _done(adj: Adjustment) -> str:
    return "weighting" if adj.method == "weighting" else "matching"


def effect_section(adj: Adjustment, *, outcome_label: str, units: str, post_label: str,
                   comparison_label: str, labels: Mapping[str, str]) -> str:
    """HTML of the adjusted program effect next to the unadjusted one (Findings).

    Parameters
    ----------
    adj
        :func:`adjust_comparison`.
    outcome_label, units, post_label
        The outcome's words.
    comparison_label
        Name of the comparison group.
    labels
        Display names of columns.

    Returns
    -------
    str
        A table with a sentence on how the adjustment was made.
    """
    e, u = adj.effect, adj.unadjusted
    conf = f"{1 - e.alpha:.0%}"
    covs = join_names([words.label(c, labels) for c in adj.covariates])
    rows = pd.DataFrame(
        {"Estimate": [num(u.estimate, 1), num(e.estimate, 1), num(adj.g, 2)],
         f"{conf} CI": [interval(u.ci_low, u.ci_high, 1), interval(e.ci_low, e.ci_high, 1),
                        interval(adj.g_ci_low, adj.g_ci_high, 2)],
         "Youth analysed": [f"{u.n_treated:,} program, {u.n_control:,} {comparison_label}",
                            f"{e.n_treated:,} program, {e.n_control:,} {comparison_label}",
                            ""]},
        index=[f"Difference at {post_label}, unadjusted ({units})",
               f"Program effect at {post_label}, adjusted by {_done(adj)} ({units})",
               "Effect size of the adjusted effect (Hedges' g, WWC)"])
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
    note = (f"Adjusted effect: t = {e.t:.2f} with {e.df:g} degrees of freedom, "
            f"{p_text(e.p_value)}; "
            + ("standard errors as R survey::svyglm." if e.vcov == "survey" else
               "standard errors as R lm with sandwich::vcovCL on the matched pairs.")
            + (f" {adj.n_incomplete:,} youth with a {post_label} score but a missing "
               "characteristic are left out (complete cases)." if adj.n_incomplete else ""))
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
        Groups made alike by weighting or matching (:func:`adjust_comparison`,
        :func:`adjust_survival`).
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

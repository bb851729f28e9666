"""Comparisons adjusted for baseline covariates: the ``adjust:`` block of an evaluation.

A comparison-group evaluation may adjust for baseline covariates (a config's
``parameters.adjust``: ``covariates``, ``method``, ``estimand``, ``missing``).
:func:`adjust_comparison` fits the weights (:func:`evalkit.weighting.propensity`) or the
matched sample (:func:`evalkit.weighting.match`) on the youth with a follow-up score and every
covariate (complete cases), and estimates the program effect on the follow-up score with the
doubly robust weighted regression (:func:`evalkit.weighting.effect` with every adjustment
covariate), next to the unadjusted difference in means. :func:`adjust_survival` does the same
for a time-to-event outcome: a weighted Cox model (robust standard errors) and weighted
Kaplan–Meier curves. The reports word and draw the results (:mod:`evalkit.report.weighting`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from evalkit.data import Column
from evalkit.methods.cox import CoxResult, Ties, cox
from evalkit.methods.effect_sizes import g_variance, hedges_g_wwc, improvement_index
from evalkit.methods.matching import Matched, match
from evalkit.methods.propensity import Weights, ess, propensity
from evalkit.methods.survival import ConfType, KaplanMeier, kaplan_meier
from evalkit.methods.weighted_effect import WeightedEffect, effect

__all__ = ["ADJUST_CHOICES", "ADJUST_DEFAULTS", "ADJUST_ESTIMANDS", "ADJUST_METHODS",
           "ADJUST_MISSING", "ADJUST_MISSING_PLANNED", "Adjustment", "Balanced",
           "SurvivalAdjustment", "adjust_columns", "adjust_comparison", "adjust_survival"]

#: The keys of the ``adjust`` block and the values each may take (the first is the default;
#: ``covariates`` is a list of columns and has none).
ADJUST_CHOICES: dict[str, tuple[str, ...]] = {
    "method": ("weighting", "matching"),
    "estimand": ("ATT", "ATE", "ATO"),
    "missing": ("complete-case",),
}
#: Values of ``adjust.missing`` that are planned but not available yet.
ADJUST_MISSING_PLANNED = ("impute",)
ADJUST_METHODS = ADJUST_CHOICES["method"]
ADJUST_ESTIMANDS = ADJUST_CHOICES["estimand"]
ADJUST_MISSING = ADJUST_CHOICES["missing"]
ADJUST_DEFAULTS: dict[str, Any] = {k: v[0] for k, v in ADJUST_CHOICES.items()}


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

"""Comparisons adjusted for baseline covariates: the ``adjust:`` block of an evaluation.

A comparison-group evaluation may adjust for baseline covariates (a config's
``parameters.adjust``: ``covariates``, ``method``, ``estimand``, ``missing``).
:func:`adjust_comparison` fits the weights (:func:`evalkit.weighting.propensity`) or the
matched sample (:func:`evalkit.weighting.match`) on the youth with a follow-up score and every
covariate (complete cases), and estimates the program effect on the follow-up score with the
doubly robust weighted regression (:func:`evalkit.weighting.effect` with every adjustment
covariate), next to the unadjusted difference in means.
:func:`evalkit.methods.adjustment_survival.adjust_survival` does the same for a time-to-event
outcome: a weighted Cox model (robust standard errors) and weighted Kaplan–Meier curves. The
reports word and draw the results (:mod:`evalkit.report.weighting`).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from evalkit.data import Column
from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.methods.cox import CoxResult
from evalkit.methods.effect_sizes import (
    g_variance,
    hedges_g_wwc,
    improvement_index,
    pooled_sd,
)
from evalkit.methods.groups import no_spread_problem
from evalkit.methods.matching import Matched, match
from evalkit.methods.options import (  # re-exported here
    ADJUST_CHOICES,
    ADJUST_IMPUTE_DEFAULTS,
    ADJUST_MISSING_PLANNED,
)
from evalkit.methods.propensity import Weights, ess, propensity, treatment_vector
from evalkit.methods.weighted_effect import WeightedEffect, effect
from evalkit.missing import PooledEstimate, impute, pool
from evalkit.results import Caution, Result, merge_cautions

__all__ = ["ADJUST_CHOICES", "ADJUST_DEFAULTS", "ADJUST_ESTIMANDS", "ADJUST_IMPUTE_DEFAULTS",
           "ADJUST_METHODS", "ADJUST_MISSING", "ADJUST_MISSING_PLANNED", "Adjustment",
           "Balanced", "Imputation", "adjust_columns", "adjust_comparison"]

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
        ``columns`` followed by each adjustment covariate not already among them (numeric, or
        text for those listed in ``adjust.categorical``; labelled so that a column not found
        is traced to ``parameters.adjust.covariates``).
    """
    out = list(columns)
    if not adjust:
        return out
    have = {c.name for c in out}
    categorical = set(adjust.get("categorical") or ())
    for name in adjust.get("covariates") or ():
        if name not in have:
            if name in categorical:
                out.append(Column(name, kind="string",
                                  label="categorical covariate in parameters.adjust"))
            else:
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
    categorical
        The covariates expanded to one indicator per category (``adjust.categorical``).
    imputation
        With ``missing: impute``: the imputations and the complete-case estimate beside the
        pooled one (:class:`Imputation`); ``None`` otherwise (or when no covariate was
        missing, so nothing was imputed).
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
    imputation: Imputation | None = dataclasses.field(default=None, kw_only=True)
    categorical: tuple[str, ...] = dataclasses.field(default=(), kw_only=True)

    @property
    def balance(self) -> pd.DataFrame:
        """The balance table: one row per covariate, before and after adjustment.

        With imputed covariates, the mean over the imputed data sets.
        """
        if self.imputation is not None:
            return self.imputation.balance
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


@dataclasses.dataclass(frozen=True)
class Imputation:
    """Missing covariates filled in by multiple imputation (``adjust.missing: impute``).

    Attributes
    ----------
    m, seed
        Number of imputed data sets and the seed of their random draws.
    pooled
        The adjusted effect pooled over the imputed data sets by Rubin's rules with the
        Barnard–Rubin degrees of freedom (:func:`evalkit.missing.pool`, as R ``mice::pool``).
    estimates, ses
        The adjusted effect and its standard error in each imputed data set.
    complete_case
        The same adjusted effect (or weighted Cox model) on the youth with every covariate
        recorded, shown beside it; ``None`` when it cannot be estimated
        (``complete_case_error`` says why).
    complete_case_error
        Why the complete-case estimate could not be made, or ``None``.
    n_imputed
        Youth with at least one covariate imputed.
    missing
        Youth missing each covariate (covariates with none left out).
    balance
        The balance table averaged over the imputed data sets (the mean of each column, as
        cobalt's summary across imputations).
    """

    m: int
    seed: int
    pooled: PooledEstimate
    estimates: tuple[float, ...]
    ses: tuple[float, ...]
    complete_case: WeightedEffect | CoxResult | None
    complete_case_error: str | None
    n_imputed: int
    missing: Mapping[str, int]
    balance: pd.DataFrame


def _spec(adjust: Mapping[str, Any]) -> dict[str, Any]:
    """The ``adjust`` block with defaults filled in and its method and missing checked."""
    spec = {**ADJUST_DEFAULTS, **ADJUST_IMPUTE_DEFAULTS,
            **{k: v for k, v in adjust.items() if v is not None}}
    if spec["method"] not in ADJUST_METHODS:
        raise ValueError(f"adjust.method must be one of {', '.join(ADJUST_METHODS)}")
    if spec["missing"] not in ADJUST_MISSING:
        raise ValueError(f"adjust.missing must be one of {', '.join(ADJUST_MISSING)}")
    m = spec["imputations"]
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 2:
        raise ValueError(f"adjust.imputations must be a whole number of at least 2, not {m!r}")
    cats = list(spec.get("categorical") or ())
    stray = [c for c in cats if c not in spec["covariates"]]
    if stray:
        raise ValueError(f"adjust.categorical names {', '.join(stray)}, not among "
                         "adjust.covariates")
    spec["categorical"] = cats
    return spec


def _as_categories(data: pd.DataFrame, spec: Mapping[str, Any], threshold: int,
                   source: str = "data frame") -> pd.DataFrame:
    """``data`` with the categorical covariates as pandas categories, each level checked.

    A level held by fewer than ``threshold`` youth would both make its propensity unstable and
    put a small group's characteristic into the balance table, so it is refused (the message
    gives the count of such levels, not their values).
    """
    cats = list(spec.get("categorical") or ())
    if not cats:
        return data
    problems = []
    out = data.copy()
    for c in cats:
        values = out[c].astype("string").str.strip()
        counts = values.value_counts()
        small = counts[counts < threshold]
        if counts.size < 2:
            problems.append(DataProblem(c, "has one category only among the youth analysed",
                                        "a categorical covariate with at least two categories"))
        elif small.size:
            problems.append(DataProblem(
                c, f"{small.size} of its {counts.size} categories hold fewer than {threshold} "
                "youth", f"categories of at least {threshold} youth each (merge the small "
                "ones, e.g. into 'other')"))
        out[c] = pd.Categorical(values)
    if problems:
        raise EvalDataError(problems, source=source)
    return out


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
            "treated": complete[group].astype(int), "n_incomplete": n_incomplete,
            "categorical": tuple(spec.get("categorical") or ())}


def _impute_covariates(frame: pd.DataFrame, predictors: Sequence[str],
                       spec: Mapping[str, Any]) -> tuple[list[pd.DataFrame], dict[str, int]]:
    """The imputed copies of ``frame`` and the youth missing each covariate.

    Each numeric covariate with gaps is imputed from ``predictors`` and the covariates without
    gaps; a complete categorical covariate informs the imputations through its indicators. A
    categorical covariate with gaps cannot be imputed here (the chained equations are linear
    models with predictive mean matching): that is an error naming it.
    """
    covs = list(spec["covariates"])
    cats = set(spec.get("categorical") or ())
    gaps = {c: int(frame[c].isna().sum()) for c in covs}
    bad = [c for c in covs if gaps[c] and c in cats]
    if bad:
        raise EvalDataError([DataProblem(c, f"categorical and missing for {gaps[c]} youth: "
                                         "categories cannot be imputed",
                                         "a recorded category for every youth, or "
                                         "'missing: complete-case'") for c in bad])
    todo = [c for c in covs if gaps[c]]
    extra = {}
    for c in covs:
        if c in cats:
            dummies = pd.get_dummies(frame[c], prefix=f"__{c}", drop_first=True, dtype=float)
            extra.update({str(k): v for k, v in dummies.items()})
    work = frame.assign(**extra) if extra else frame
    numeric = [c for c in covs if not gaps[c] and c not in cats]
    frames = impute(work, todo, m=int(spec["imputations"]), seed=int(spec["seed"]),
                    predictors=[*predictors, *numeric, *extra])
    if extra:
        frames = [f.drop(columns=list(extra)) for f in frames]
    return frames, {c: n for c, n in gaps.items() if n}


def _mean_balance(tables: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """The balance tables of the imputed data sets averaged column by column."""
    first = tables[0]
    numeric = [c for c in first.columns if pd.api.types.is_numeric_dtype(first[c])
               and not pd.api.types.is_bool_dtype(first[c])]
    mean = sum(t[numeric].to_numpy(float) for t in tables) / len(tables)
    out = first.copy()
    out[numeric] = mean
    return out


def _across(fits: Sequence[Result]) -> tuple[Caution, ...]:
    """The cautions of the imputed data sets, one per kind.

    Cautions that differ only in their numbers (``33 program youth ...`` in one data set,
    ``30 ...`` in another) are one kind: it is given once, with the figures of the first data
    set that has it and the number of data sets that have it.
    """
    kinds: dict[str, list[str]] = {}
    for f in fits:
        for c in dict.fromkeys(f.cautions):
            kinds.setdefault(re.sub(r"\d+(?:[.,]\d+)*", "#", str(c)), []).append(c)
    out = []
    for texts in kinds.values():
        c = texts[0]
        limits = getattr(c, "limits", True)
        if len(texts) == len(fits) and len(set(texts)) == 1:
            out.append(Caution(c, limits=limits))
        else:
            where = ("In every imputed data set" if len(texts) == len(fits) else
                     f"In {len(texts)} of the {len(fits)} imputed data sets")
            out.append(Caution(where
                               + (" (figures of the first)" if len(set(texts)) > 1 else "")
                               + f": {c}", limits=limits))
    return tuple(out)


def _pooled_effect(pooled: PooledEstimate, fits: Sequence[WeightedEffect],
                   measured: pd.DataFrame, group: str) -> WeightedEffect:
    """The pooled effect in the shape of one imputed data set's :class:`WeightedEffect`."""
    first = fits[0]
    t = measured[group].to_numpy(int)
    notes = merge_cautions(pooled.cautions, _across(fits))
    return dataclasses.replace(
        first, estimate=pooled.estimate, se=pooled.se, ci_low=pooled.ci_low,
        ci_high=pooled.ci_high, t=pooled.estimate / pooled.se if pooled.se > 0 else math.nan,
        df=pooled.df, p_value=pooled.p_value, n=len(measured), n_treated=int((t == 1).sum()),
        n_control=int((t == 0).sum()), cautions=notes, imputations=pooled.m,
        terms=first.terms.iloc[0:0])


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
        (``"ATT"``, ``"ATE"``, ``"ATO"``; matching estimates the ATT), ``missing``
        (``"complete-case"`` or ``"impute"``) and, with ``impute``, ``imputations`` (default
        20) and ``seed`` (default 1).
    lower_is_better
        Direction of the score (for the improvement index).
    alpha
        1 − confidence level.
    threshold
        Privacy threshold: an effective sample size below it draws a caution.

    Returns
    -------
    Adjustment
        With ``missing: impute``, ``effect`` is the adjusted effect pooled over the imputed data
        sets (Rubin's rules) and ``imputation`` holds the complete-case estimate beside it;
        the balance, effective sample sizes and propensity scores are averaged over the
        imputed data sets.

    Raises
    ------
    EvalDataError
        From :func:`evalkit.weighting.propensity`, :func:`~evalkit.weighting.match` or
        :func:`~evalkit.weighting.effect` (a constant covariate, perfect separation, no
        overlap, ...), or from :func:`evalkit.missing.impute` (a covariate missing for every
        youth); a follow-up score that does not vary within either group.

    Notes
    -----
    Only youth with a follow-up score are analysed (their covariates are imputed; a missing
    follow-up is attrition, which the report's attrition check rates). Each imputed data set
    gets its own weights or matches and its own doubly robust effect; the effects are pooled
    with :func:`evalkit.missing.pool` with ``n − k`` complete-data degrees of freedom (the
    regression's residual df), as ``mice::pool`` — the "within" approach to weighting after
    imputation (Granger et al. 2019).

    References
    ----------
    Granger, E., Sergeant, J. C., & Lunt, M. (2019). Avoiding pitfalls when combining multiple
    imputation and propensity scores. *Statistics in Medicine*, 38, 5120–5132.
    """
    spec = _spec(adjust)
    covs = tuple(spec["covariates"])
    measured = _as_categories(data[data[post].notna()], spec, threshold)
    complete = measured.dropna(subset=list(covs))
    n_out = int(len(measured) - len(complete))
    _check_post_varies(measured if spec["missing"] == "impute" and n_out else complete, post,
                       group)
    if spec["missing"] == "impute" and n_out:
        return _adjust_imputed(measured, complete, post, group, spec,
                               lower_is_better=lower_is_better, alpha=alpha,
                               threshold=threshold)
    base = _balance(complete, group, spec, threshold, n_out)
    adjusted, naive = _effects(complete, post, group, base["fit"], covs, alpha)
    return Adjustment(**base, effect=adjusted, unadjusted=naive,
                      **_sizes(adjusted.estimate, complete, post, group, alpha,
                               lower_is_better))


def _effects(frame: pd.DataFrame, post: str, group: str, fit: Weights | Matched,
             covs: Sequence[str], alpha: float) -> tuple[WeightedEffect, WeightedEffect]:
    """The doubly robust effect with ``fit``'s weights, and the unweighted difference."""
    adjusted = effect(frame, post, group, weights=fit, covariates=tuple(covs), alpha=alpha)
    ones = pd.Series(1.0, index=frame.index)
    return adjusted, effect(frame, post, group, weights=ones, alpha=alpha)


def _check_post_varies(frame: pd.DataFrame, post: str, group: str) -> None:
    """Refuse a follow-up score that does not vary within either group.

    As :func:`~evalkit.methods.groups.compare_groups`: the effect size divides by the
    within-group standard deviation, and the regression fits every score exactly.
    """
    t = treatment_vector(frame, group)
    y = pd.to_numeric(frame[post], errors="coerce")
    sds = [(float(y[t == g].std(ddof=1)), int((t == g).sum())) for g in (1, 0)]
    if not pooled_sd(sds[0][0], sds[0][1], sds[1][0], sds[1][1]) > 0:
        raise EvalDataError([no_spread_problem(post)])


def _sizes(estimate: float, frame: pd.DataFrame, post: str, group: str, alpha: float,
           lower_is_better: bool) -> dict[str, Any]:
    """Hedges' g (WWC) of ``estimate`` with its interval, and the improvement index."""
    t = treatment_vector(frame, group)
    y1 = frame.loc[t == 1, post]
    y0 = frame.loc[t == 0, post]
    g = hedges_g_wwc(estimate, float(y1.std()), len(y1), float(y0.std()), len(y0))
    half = stats.norm.ppf(1 - alpha / 2) * np.sqrt(g_variance(g, len(y1), len(y0)))
    return {"g": g, "g_ci_low": g - half, "g_ci_high": g + half,
            "improvement_index": improvement_index(g, lower_is_better=lower_is_better)}


def _adjust_imputed(measured: pd.DataFrame, complete: pd.DataFrame, post: str, group: str,
                    spec: Mapping[str, Any], *, lower_is_better: bool, alpha: float,
                    threshold: int) -> Adjustment:
    """:func:`adjust_comparison` with the missing covariates imputed (``missing: impute``)."""
    covs = tuple(spec["covariates"])
    # the outcome is in each covariate's imputation model (leaving it out would bias the
    # effect towards zero)
    frames, gaps = _impute_covariates(measured, [group, post], spec)
    bases, fits, naives = [], [], []
    for frame in frames:
        base = _balance(frame, group, spec, threshold, 0)
        adjusted, naive = _effects(frame, post, group, base["fit"], covs, alpha)
        bases.append(base)
        fits.append(adjusted)
        naives.append(naive)
    pooled = pool([f.estimate for f in fits], [f.se for f in fits],
                  df_complete=float(fits[0].df), alpha=alpha)
    try:
        cc_base = _balance(complete, group, spec, threshold, len(measured) - len(complete))
        cc: WeightedEffect | None = _effects(complete, post, group, cc_base["fit"], covs,
                                             alpha)[0]
        cc_error = None
    except (EvalDataError, ValueError) as exc:
        cc, cc_error = None, str(exc)
    imputation = Imputation(
        m=len(frames), seed=int(spec["seed"]), pooled=pooled,
        estimates=tuple(f.estimate for f in fits), ses=tuple(f.se for f in fits),
        complete_case=cc, complete_case_error=cc_error,
        n_imputed=int(measured[list(covs)].isna().any(axis=1).sum()), missing=gaps,
        balance=_mean_balance([b["fit"].balance for b in bases]))
    first = bases[0]
    ess_ = {k: float(np.mean([b["ess"][k] for b in bases])) for k in ("treated", "control")}
    ps = sum(b["ps"].reindex(measured.index) for b in bases) / len(bases)
    estimate = _pooled_effect(pooled, fits, measured, group)
    return Adjustment(
        **{**first, "ess": ess_, "ps": ps, "treated": measured[group].astype(int)},
        effect=estimate, unadjusted=naives[0], imputation=imputation,
        **_sizes(estimate.estimate, measured, post, group, alpha, lower_is_better))

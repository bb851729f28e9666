"""Time-to-event comparisons adjusted for baseline covariates (the ``adjust:`` block).

:func:`adjust_survival` fits propensity weights (or a matched sample) as
:func:`evalkit.methods.adjustment.adjust_comparison` does, then estimates the hazard ratio of
the group alone by a weighted Cox model with robust standard errors, beside the unadjusted one,
and weighted Kaplan–Meier curves. With ``missing: impute`` each imputed data set gets its own
weights and Cox model and the log hazard ratios are pooled by Rubin's rules
(:class:`PooledHazardRatio`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from evalkit.exceptions import EvalDataError
from evalkit.methods.adjustment import (
    Balanced,
    Imputation,
    _across,
    _as_categories,
    _balance,
    _impute_covariates,
    _mean_balance,
    _spec,
)
from evalkit.methods.cox import CoxResult, Ties, cox
from evalkit.methods.survival import ConfType, KaplanMeier, kaplan_meier
from evalkit.missing import PooledEstimate, pool
from evalkit.results import Result, merge_cautions

__all__ = ["PooledHazardRatio", "SurvivalAdjustment", "adjust_survival", "nelson_aalen_at"]


@dataclasses.dataclass(frozen=True)
class PooledHazardRatio(Result):
    """A weighted Cox model's hazard ratio pooled over imputed data sets (Rubin's rules).

    Each imputed data set gets its own weights and its own weighted Cox model of the group
    alone with robust standard errors; the log hazard ratios and their robust standard errors
    are pooled by :func:`evalkit.missing.pool` (large-sample complete-data degrees of freedom,
    as R ``mice::pool`` for a ``coxph`` fit), and the interval uses the t distribution with the
    Barnard–Rubin degrees of freedom.

    Attributes
    ----------
    term
        The group column.
    pooled
        The pooled log hazard ratio (:class:`~evalkit.missing.PooledEstimate`).
    n, n_events
        Youth and events analysed (every youth; covariates imputed).
    """

    _title: ClassVar[str] = "Weighted Cox regression, pooled over imputations"
    _options: ClassVar[tuple[str, ...]] = ("alpha",)

    term: str
    pooled: PooledEstimate
    n: int
    n_events: int
    alpha: float = 0.05

    def to_frame(self) -> pd.DataFrame:
        """The program term: log hazard ratio, then the hazard ratio, as :class:`CoxResult`.

        Returns
        -------
        pandas.DataFrame
            ``term, estimate, se, ci_low, ci_high, p_value, hazard_ratio, hr_ci_low,
            hr_ci_high, df, fmi``.
        """
        p = self.pooled
        return pd.DataFrame([{
            "term": self.term, "estimate": p.estimate, "se": p.se, "ci_low": p.ci_low,
            "ci_high": p.ci_high, "p_value": p.p_value, "hazard_ratio": math.exp(p.estimate),
            "hr_ci_low": math.exp(p.ci_low), "hr_ci_high": math.exp(p.ci_high), "df": p.df,
            "fmi": p.fmi}])

    def _terms(self) -> list[dict[str, Any]]:
        return self.to_frame().to_dict("records")

    def _details(self) -> list[str]:
        return [f"n = {self.n}, events = {self.n_events}; {self.pooled.m} imputed data sets, "
                f"each a weighted Cox model with robust standard errors (R coxph(weights = w, "
                f"robust = TRUE)), pooled by Rubin's rules (R mice::pool); t with "
                f"{self.pooled.df:.1f} Barnard–Rubin df; fraction of missing information "
                f"{self.pooled.fmi:.3f}."]


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
        ``coxph(..., weights = w, robust = TRUE)``); with imputed covariates, its hazard
        ratio pooled over the imputed data sets (:class:`PooledHazardRatio`).
    unadjusted
        The unweighted Cox model of the group alone on the same youth.
    km
        The weighted Kaplan–Meier curves by group (R ``survfit(..., weights = w)``); with
        imputed covariates, weighted by each youth's weight averaged over the imputed data
        sets.
    km_unweighted
        The unweighted curves of the same youth: their numbers at risk are youth.

    The attributes of :class:`Balanced` (method, covariates, fit, ess, ...) are inherited.
    """

    data: pd.DataFrame
    weight: str
    cox: CoxResult | PooledHazardRatio
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
        ``covariates``, ``method``, ``estimand``, ``missing`` (and ``imputations``, ``seed``)
        as :func:`adjust_comparison`. With ``missing: impute`` the covariates are imputed from
        the other covariates, the group, the event indicator and the Nelson–Aalen cumulative
        hazard at each youth's time (White & Royston 2009); each imputed data set gets its own
        weights and weighted Cox model, and the log hazard ratios are pooled by Rubin's rules
        (:class:`PooledHazardRatio`), with the complete-case hazard ratio beside them.
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
    data = _as_categories(data, spec, threshold)
    complete = data.dropna(subset=covs)
    weight = next(n for n in ("weight", "adjust_weight", "_adjust_weight")
                  if n not in complete.columns)
    if spec["missing"] == "impute" and len(complete) < len(data):
        return _survival_imputed(data, complete, duration, event, group, spec, weight,
                                 ties=ties, conf_type=conf_type, alpha=alpha,
                                 threshold=threshold)
    base = _balance(complete, group, spec, threshold, int(len(data) - len(complete)))
    frame = complete.assign(**{weight: base["fit"].weights.reindex(complete.index)})
    hazard = cox(frame, duration, event, [group], ties=ties, alpha=alpha, weights=weight,
                 robust=True)
    naive = cox(frame, duration, event, [group], ties=ties, alpha=alpha)
    km = kaplan_meier(frame, duration, event, group=group, conf_type=conf_type, alpha=alpha,
                      weights=weight)
    km0 = kaplan_meier(frame, duration, event, group=group, conf_type=conf_type, alpha=alpha)
    return SurvivalAdjustment(**base, data=frame, weight=weight, cox=hazard, unadjusted=naive,
                              km=km, km_unweighted=km0)


def nelson_aalen_at(data: pd.DataFrame, duration: str, event: str) -> np.ndarray:
    """The marginal Nelson–Aalen cumulative hazard at each youth's own time.

    The predictor that carries the outcome into the imputation model of a covariate in a Cox
    analysis, with the event indicator (White & Royston 2009).

    Parameters
    ----------
    data
        One row per youth.
    duration, event
        Time to the event or the end of follow-up, and 1 if the event happened.

    Returns
    -------
    numpy.ndarray
        ``H(t_i)``, in the order of ``data``'s rows.

    References
    ----------
    White, I. R., & Royston, P. (2009). Imputing missing covariate values for the Cox model.
    *Statistics in Medicine*, 28, 1982–1998.
    """
    t = data[duration].to_numpy(float)
    d = data[event].to_numpy(float)
    times, inverse = np.unique(t, return_inverse=True)
    deaths = np.bincount(inverse, weights=d, minlength=times.size)
    leaving = np.bincount(inverse, minlength=times.size).astype(float)
    at_risk = leaving[::-1].cumsum()[::-1]
    return np.cumsum(deaths / at_risk)[inverse]


def _survival_imputed(data: pd.DataFrame, complete: pd.DataFrame, duration: str, event: str,
                      group: str, spec: Mapping[str, Any], weight: str, *, ties: Ties,
                      conf_type: ConfType, alpha: float, threshold: int) -> SurvivalAdjustment:
    """:func:`adjust_survival` with the missing covariates imputed (``missing: impute``)."""
    helper = next(n for n in ("_cumhaz", "__cumhaz") if n not in data.columns)
    frame0 = data.assign(**{helper: nelson_aalen_at(data, duration, event)})
    covs = list(spec["covariates"])
    frames, gaps = _impute_covariates(frame0, [group, event, helper], spec)
    frames = [f.drop(columns=[helper]) for f in frames]
    bases, fits = [], []
    for f in frames:
        base = _balance(f, group, spec, threshold, 0)
        w = f.assign(**{weight: base["fit"].weights.reindex(f.index)})
        fits.append(cox(w, duration, event, [group], ties=ties, alpha=alpha, weights=weight,
                        robust=True))
        bases.append(base)
    rows = [c.to_frame().iloc[0] for c in fits]
    pooled = pool([float(r["estimate"]) for r in rows], [float(r["se"]) for r in rows],
                  alpha=alpha)
    try:
        cc_base = _balance(complete, group, spec, threshold, len(data) - len(complete))
        ccw = complete.assign(**{weight: cc_base["fit"].weights.reindex(complete.index)})
        cc: CoxResult | None = cox(ccw, duration, event, [group], ties=ties, alpha=alpha,
                                   weights=weight, robust=True)
        cc_error = None
    except (EvalDataError, ValueError) as exc:
        cc, cc_error = None, str(exc)
    imputation = Imputation(
        m=len(frames), seed=int(spec["seed"]), pooled=pooled,
        estimates=tuple(float(r["estimate"]) for r in rows),
        ses=tuple(float(r["se"]) for r in rows), complete_case=cc, complete_case_error=cc_error,
        n_imputed=int(data[covs].isna().any(axis=1).sum()),
        missing=gaps, balance=_mean_balance([b["fit"].balance for b in bases]))
    mean_w = sum(b["fit"].weights.reindex(data.index).fillna(0.0) for b in bases) / len(bases)
    frame = data.assign(**{weight: mean_w})
    notes = merge_cautions(pooled.cautions, _across(fits))
    hazard = PooledHazardRatio(term=group, pooled=pooled, n=len(data),
                               n_events=int(data[event].sum()), alpha=alpha, cautions=notes)
    naive = cox(frame, duration, event, [group], ties=ties, alpha=alpha)
    km = kaplan_meier(frame, duration, event, group=group, conf_type=conf_type, alpha=alpha,
                      weights=weight)
    km0 = kaplan_meier(frame, duration, event, group=group, conf_type=conf_type, alpha=alpha)
    first = bases[0]
    ess_ = {k: float(np.mean([b["ess"][k] for b in bases])) for k in ("treated", "control")}
    ps = sum(b["ps"].reindex(data.index) for b in bases) / len(bases)
    return SurvivalAdjustment(
        **{**first, "ess": ess_, "ps": ps, "treated": data[group].astype(int)},
        imputation=imputation, data=frame, weight=weight, cox=hazard, unadjusted=naive, km=km,
        km_unweighted=km0)

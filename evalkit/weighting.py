"""Comparison-group designs: propensity weighting, matching, balance and weighted effects.

Program youth are compared with youth who were not in the program, and the groups differ at
intake. This module gives the adjustments reviewers expect (as R's WeightIt, MatchIt, cobalt
and survey provide them)::

    from evalkit import weighting
    w = weighting.propensity(df, "program", ["age", "prior_runaways", "placement"],
                             estimand="ATT")
    w.balance                      # balance before and after, cobalt's SMDs
    res = weighting.effect(df, "outcome", "program", weights=w.weights,
                           covariates=["age", "prior_runaways", "placement"])
    m = weighting.match(df, "program", ["age", "prior_runaways"], ratio=1, caliper=0.2)
    weighting.effect(df, "outcome", "program", weights=m)   # lm + vcovCL on the pairs

The implementations live in :mod:`evalkit.methods.propensity`, :mod:`.matching`,
:mod:`.balance` and :mod:`.weighted_effect`.
"""

from __future__ import annotations

from evalkit.methods.adjustment import Adjustment, adjust_columns, adjust_comparison
from evalkit.methods.adjustment_survival import SurvivalAdjustment, adjust_survival
from evalkit.methods.balance import BALANCE_COLUMNS, balance_table
from evalkit.methods.matching import Matched, match
from evalkit.methods.propensity import Weights, propensity
from evalkit.methods.weighted_effect import WeightedEffect, effect

__all__ = ["Adjustment", "BALANCE_COLUMNS", "Matched", "SurvivalAdjustment", "WeightedEffect",
           "Weights", "adjust_columns", "adjust_comparison", "adjust_survival", "balance_table",
           "effect", "match", "propensity"]

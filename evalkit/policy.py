"""Designs for one state, county or city that adopts a law or a protocol: ``evalkit.policy``.

Synthetic control (Abadie, Diamond & Hainmueller 2010), synthetic difference-in-differences
(Arkhangelsky et al. 2021, as R ``synthdid``) and interrupted time series (segmented
regression). The estimators themselves are documented in :mod:`evalkit.methods.policy`.
"""

from evalkit.methods.policy import (
    InterruptedTimeSeries,
    ItsTerm,
    SingleUnitDiD,
    SyntheticControl,
    SyntheticDiD,
    interrupted_time_series,
    placebo_its,
    pre_fit_ratio,
    single_unit_did,
    synthetic_control,
    synthetic_did,
)

__all__ = ["InterruptedTimeSeries", "ItsTerm", "SingleUnitDiD", "SyntheticControl",
           "SyntheticDiD", "interrupted_time_series", "placebo_its", "pre_fit_ratio",
           "single_unit_did",
           "synthetic_control", "synthetic_did"]

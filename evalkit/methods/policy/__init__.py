"""Designs for one adopting unit: synthetic control, synthetic DiD and interrupted time series.

* :func:`synthetic_control` — Abadie, Diamond & Hainmueller (2010), with in-space placebos;
* :func:`synthetic_did` — Arkhangelsky et al. (2021), as R ``synthdid``;
* :func:`single_unit_did` — synthetic DiD beside synthetic control and plain DiD, what the did
  template runs when too few units adopt;
* :func:`interrupted_time_series` and :func:`placebo_its` — segmented regression with Fourier
  seasonality, Newey–West or quasi-Poisson inference.
"""

from evalkit.methods.policy.its import (
    InterruptedTimeSeries,
    ItsTerm,
    ResidualAutocorrelation,
    interrupted_time_series,
    placebo_its,
)
from evalkit.methods.policy.single_unit import SingleUnitDiD, pre_fit_ratio, single_unit_did
from evalkit.methods.policy.synth import SyntheticControl, simplex_least_squares, synthetic_control
from evalkit.methods.policy.synthdid import SyntheticDiD, synthetic_did

__all__ = ["InterruptedTimeSeries", "ItsTerm", "ResidualAutocorrelation", "SingleUnitDiD",
           "SyntheticControl", "SyntheticDiD", "interrupted_time_series", "placebo_its",
           "pre_fit_ratio", "simplex_least_squares", "single_unit_did", "synthetic_control",
           "synthetic_did"]

"""Designs for one adopting unit: synthetic control, synthetic DiD and interrupted time series.

* :func:`synthetic_control` — Abadie, Diamond & Hainmueller (2010), with in-space placebos;
* :func:`synthetic_did` — Arkhangelsky et al. (2021), as R ``synthdid``;
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
from evalkit.methods.policy.synth import SyntheticControl, simplex_least_squares, synthetic_control

__all__ = ["InterruptedTimeSeries", "ItsTerm", "ResidualAutocorrelation", "SyntheticControl",
           "interrupted_time_series", "placebo_its", "simplex_least_squares",
           "synthetic_control"]

"""Time-to-event analysis under one short name: ``evalkit.survival``.

Collects :mod:`evalkit.methods.survival` (Kaplan–Meier, log-rank), :mod:`evalkit.methods.rmst`
(restricted mean survival time), :mod:`evalkit.methods.competing` (cumulative incidence),
:mod:`evalkit.methods.fine_gray` (subdistribution hazards, as R ``cmprsk::crr``),
:mod:`evalkit.methods.recurrent` (repeated episodes: the mean cumulative function and
``(start, stop]`` intervals), :mod:`evalkit.methods.episodes` (an episode file as the survival
template reads it) and :mod:`evalkit.methods.cox` (Cox regression, on the engine of
:mod:`evalkit.methods.cox_fit`).
"""

from evalkit.methods.competing import CumulativeIncidence, cumulative_incidence
from evalkit.methods.cox import CoxResult, PHTest, concordance, cox, ph_test
from evalkit.methods.episodes import EpisodeData, episode_columns, episode_data
from evalkit.methods.fine_gray import FineGray, fine_gray
from evalkit.methods.recurrent import MeanCumulative, mean_cumulative_function, split_episodes
from evalkit.methods.rmst import RMST, rmst
from evalkit.methods.survival import (
    KaplanMeier,
    LogRank,
    columns,
    kaplan_meier,
    logrank,
    survival_columns,
)

__all__ = [
    "CoxResult",
    "CumulativeIncidence",
    "cumulative_incidence",
    "EpisodeData",
    "episode_columns",
    "episode_data",
    "FineGray",
    "fine_gray",
    "MeanCumulative",
    "mean_cumulative_function",
    "split_episodes",
    "PHTest",
    "KaplanMeier",
    "LogRank",
    "RMST",
    "columns",
    "concordance",
    "cox",
    "kaplan_meier",
    "logrank",
    "ph_test",
    "rmst",
    "survival_columns",
]

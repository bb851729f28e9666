"""Time-to-event analysis under one short name: ``evalkit.survival``.

Collects :mod:`evalkit.methods.survival` (Kaplan–Meier, log-rank), :mod:`evalkit.methods.rmst`
(restricted mean survival time), :mod:`evalkit.methods.competing` (cumulative incidence) and
:mod:`evalkit.methods.cox` (Cox regression, on the engine of :mod:`evalkit.methods.cox_fit`).
"""

from evalkit.methods.competing import CumulativeIncidence, cumulative_incidence
from evalkit.methods.cox import CoxResult, PHTest, concordance, cox, ph_test
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

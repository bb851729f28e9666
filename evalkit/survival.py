"""Time-to-event analysis under one short name: ``evalkit.survival``.

Collects :mod:`evalkit.methods.survival` (Kaplan–Meier, log-rank, RMST) and
:mod:`evalkit.methods.cox` (Cox regression).
"""

from evalkit.methods.cox import CoxResult, PHTest, concordance, cox, ph_test
from evalkit.methods.survival import (
    RMST,
    CumulativeIncidence,
    cumulative_incidence,
    KaplanMeier,
    LogRank,
    kaplan_meier,
    logrank,
    rmst,
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
    "concordance",
    "cox",
    "kaplan_meier",
    "logrank",
    "ph_test",
    "rmst",
    "survival_columns",
]

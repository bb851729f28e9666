"""Difference-in-differences under one short name: ``evalkit.did``.

The estimators themselves are documented in :mod:`evalkit.methods.did`.
"""

from evalkit.methods.did import (
    TWFE,
    Aggregate,
    Bacon,
    EventStudy,
    PoissonTWFE,
    Staggered,
    TwoByTwo,
    WildBootstrap,
    bacon_decomposition,
    columns,
    demean,
    event_study,
    multiplier_bootstrap,
    poisson_twfe,
    staggered,
    twfe,
    two_by_two,
    wild_cluster_bootstrap,
)

__all__ = [
    "Aggregate", "Bacon", "EventStudy", "PoissonTWFE", "Staggered", "TWFE", "TwoByTwo",
    "WildBootstrap", "bacon_decomposition", "columns", "demean", "event_study",
    "multiplier_bootstrap", "poisson_twfe", "staggered", "twfe", "two_by_two",
    "wild_cluster_bootstrap",
]

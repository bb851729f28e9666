"""Difference-in-differences under one short name: ``evalkit.did``.

The estimators themselves are documented in :mod:`evalkit.methods.did`.
"""

from evalkit.methods.did import (
    TWFE,
    Aggregate,
    Bacon,
    EventStudy,
    HonestDiD,
    PoissonTWFE,
    Staggered,
    TwoByTwo,
    WildBootstrap,
    bacon_decomposition,
    columns,
    demean,
    event_study,
    honest_did,
    multiplier_bootstrap,
    poisson_twfe,
    sensitivity_pair,
    staggered,
    twfe,
    two_by_two,
    wild_cluster_bootstrap,
)

__all__ = [
    "Aggregate", "Bacon", "EventStudy", "HonestDiD", "PoissonTWFE", "Staggered", "TWFE", "TwoByTwo",
    "WildBootstrap", "bacon_decomposition", "columns", "demean", "event_study",
    "honest_did", "multiplier_bootstrap", "poisson_twfe", "sensitivity_pair", "staggered", "twfe", "two_by_two",
    "wild_cluster_bootstrap",
]

"""Difference-in-differences under one short name: ``evalkit.did`` (see
:mod:`evalkit.methods.did`)."""

from evalkit.methods.did import (
    TWFE,
    Aggregate,
    Bacon,
    EventStudy,
    Staggered,
    TwoByTwo,
    bacon_decomposition,
    demean,
    event_study,
    staggered,
    twfe,
    two_by_two,
)

__all__ = [
    "Aggregate", "Bacon", "EventStudy", "Staggered", "TWFE", "TwoByTwo",
    "bacon_decomposition", "demean", "event_study", "staggered", "twfe", "two_by_two",
]

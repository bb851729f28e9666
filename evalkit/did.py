"""Difference-in-differences under one short name: ``evalkit.did`` (see
:mod:`evalkit.methods.did`)."""

from evalkit.methods.did import TWFE, Aggregate, Staggered, demean, staggered, twfe

__all__ = ["Aggregate", "Staggered", "TWFE", "demean", "staggered", "twfe"]

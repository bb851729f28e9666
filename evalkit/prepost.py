"""Pre-post designs under one short name: ``evalkit.prepost``.

Collects the estimators of :mod:`evalkit.methods.prepost` (continuous scores),
:mod:`evalkit.methods.signed_rank`, :mod:`evalkit.methods.binary` (0/1 outcomes),
:mod:`evalkit.methods.reliable_change`, :mod:`evalkit.methods.attrition` and
:mod:`evalkit.methods.groups` (comparison groups).
"""

from evalkit.methods.attrition import Attrition, attrition
from evalkit.methods.binary import (
    McNemar,
    ProportionComparison,
    compare_proportions,
    mcnemar,
)
from evalkit.methods.groups import GroupComparison, compare_groups, describe_groups
from evalkit.methods.prepost import (
    PairedChange,
    columns,
    describe,
    hedges_j,
    paired_change,
)
from evalkit.methods.reliable_change import ReliableChange, reliable_change
from evalkit.methods.signed_rank import SignedRank, signed_rank

__all__ = [
    "Attrition",
    "GroupComparison",
    "McNemar",
    "PairedChange",
    "ProportionComparison",
    "ReliableChange",
    "SignedRank",
    "attrition",
    "columns",
    "compare_groups",
    "compare_proportions",
    "describe",
    "describe_groups",
    "hedges_j",
    "mcnemar",
    "paired_change",
    "reliable_change",
    "signed_rank",
]

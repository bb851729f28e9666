"""Difference-in-differences: two-way fixed effects and staggered adoption.

State laws and policies (e.g. safe-harbor laws) start in different years in different states.
This package estimates their effects with two-way fixed-effects regression and, where adoption
is staggered, with Callaway & Sant'Anna's group-time average treatment effects, which stay
unbiased when effects differ between adoption cohorts and grow over time.

One module per estimator: :mod:`.twfe` (two-way fixed effects and demeaning),
:mod:`.staggered` (Callaway & Sant'Anna), :mod:`.event_study`, :mod:`.two_by_two`,
:mod:`.bacon` (Goodman-Bacon decomposition) and :mod:`.bootstrap` (wild cluster and multiplier
bootstraps).
"""

from evalkit.methods.did.bacon import Bacon, bacon_decomposition
from evalkit.methods.did.bootstrap import multiplier_bootstrap, wild_cluster_bootstrap
from evalkit.methods.did.event_study import EventStudy, event_study
from evalkit.methods.did.staggered import Aggregate, Staggered, staggered
from evalkit.methods.did.twfe import TWFE, VCOV_TYPES, demean, twfe
from evalkit.methods.did.two_by_two import TwoByTwo, two_by_two

__all__ = ["twfe", "TWFE", "demean", "staggered", "Staggered", "Aggregate", "event_study",
           "multiplier_bootstrap", "wild_cluster_bootstrap", "VCOV_TYPES",
           "EventStudy", "two_by_two", "TwoByTwo", "bacon_decomposition", "Bacon"]

"""Difference-in-differences: two-way fixed effects and staggered adoption.

State laws and policies (e.g. safe-harbor laws) start in different years in different states.
This package estimates their effects with two-way fixed-effects regression and, where adoption
is staggered, with Callaway & Sant'Anna's group-time average treatment effects, which stay
unbiased when effects differ between adoption cohorts and grow over time.

One module per estimator or layer, as pyfixest's ``did/`` and R did's files are split:

* :mod:`.demeaning` — sweeping out unit and period effects;
* :mod:`.twfe` — two-way fixed-effects regression (its variances in
  :mod:`evalkit.methods.inference`);
* :mod:`.staggered` — Callaway & Sant'Anna group-time effects (R's ``att_gt.R``,
  ``compute.att_gt.R``), with :mod:`.drdid` for its 2×2 comparisons with covariates;
* :mod:`.aggregate` — their aggregations and pre-trend tests (R's ``compute.aggte.R``);
* :mod:`.bootstrap` — wild cluster and multiplier bootstraps (R's ``mboot.R``);
* :mod:`.bacon` — Goodman-Bacon decomposition;
* :mod:`.honest` — Rambachan & Roth's sensitivity to violations of parallel trends (R
  HonestDiD), with :mod:`.honest_rm` and :mod:`.honest_sd`;
* :mod:`.event_study` — event-study regression (covariates, weights, variance types as twfe);
* :mod:`.poisson` — Poisson pseudo-maximum likelihood with two-way fixed effects (fixest's
  ``fepois``), for counts;
* :mod:`.two_by_two` — the canonical 2×2;
* :mod:`.columns` — the columns a panel evaluation reads.
"""

from evalkit.methods.did.aggregate import Aggregate
from evalkit.methods.did.bacon import Bacon, bacon_decomposition
from evalkit.methods.did.bootstrap import (
    WildBootstrap,
    multiplier_bootstrap,
    wild_cluster_bootstrap,
)
from evalkit.methods.did.columns import columns
from evalkit.methods.did.demeaning import demean
from evalkit.methods.did.event_study import EventStudy, event_study
from evalkit.methods.did.honest import HonestDiD, honest_did, sensitivity_pair
from evalkit.methods.did.poisson import POISSON_VCOV_TYPES, PoissonTWFE, poisson_twfe
from evalkit.methods.did.staggered import Staggered, staggered
from evalkit.methods.did.twfe import TWFE, VCOV_TYPES, twfe
from evalkit.methods.did.two_by_two import TwoByTwo, two_by_two

__all__ = ["twfe", "TWFE", "demean", "staggered", "Staggered", "Aggregate", "event_study",
           "multiplier_bootstrap", "wild_cluster_bootstrap", "VCOV_TYPES",
           "EventStudy", "two_by_two", "TwoByTwo", "bacon_decomposition", "Bacon",
           "WildBootstrap", "columns", "poisson_twfe", "PoissonTWFE", "POISSON_VCOV_TYPES", "honest_did",
           "HonestDiD", "sensitivity_pair"]

"""A policy adopted by too few units for staggered DiD: synthetic DiD beside its two relatives.

When fewer units adopt a policy than :data:`evalkit.methods.did.staggered.MIN_TREATED_UNITS`,
the Callaway–Sant'Anna intervals cover the truth far less often than they claim, and the did
template switches to :func:`single_unit_did`. It estimates the effect by synthetic
difference-in-differences with placebo standard errors (the headline) and, on the same panel
and the same placebo draws, the synthetic control and the plain difference-in-differences
estimates that synthetic DiD sits between (Arkhangelsky et al. 2021, Table 1), and it measures
how closely the weighted comparison tracked the adopters before adoption.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pandas as pd

from evalkit.methods.policy.synthdid import SyntheticDiD, synthetic_did
from evalkit.results import check_alpha

__all__ = ["SingleUnitDiD", "pre_fit_ratio", "single_unit_did"]


@dataclasses.dataclass(frozen=True)
class SingleUnitDiD:
    """Result of :func:`single_unit_did`.

    Attributes
    ----------
    sdid, sc, did
        :class:`~evalkit.methods.policy.synthdid.SyntheticDiD` results of the three estimators
        (``estimator="sdid"``, ``"sc"``, ``"did"``) with placebo standard errors from the same
        seed.
    pre_fit_ratio
        How closely the synthetic DiD comparison tracked the adopters before adoption: the
        root mean squared deviation of the pre-adoption gap (adopters minus weighted
        comparison) from its mean, over the standard deviation of the adopters'
        own year-to-year changes before adoption (:func:`pre_fit_ratio`). Near or below 1 the
        comparison moved with the adopters as closely as they move from one year to the next.
    pre_fit_rmse
        The numerator of ``pre_fit_ratio``, in the outcome's units.
    """

    sdid: SyntheticDiD
    sc: SyntheticDiD
    did: SyntheticDiD
    pre_fit_ratio: float
    pre_fit_rmse: float

    @property
    def cautions(self) -> tuple[str, ...]:
        """The headline (synthetic DiD) estimate's cautions."""
        return tuple(self.sdid.cautions)

    def to_frame(self) -> pd.DataFrame:
        """The three estimates, one row each (synthetic DiD first).

        Returns
        -------
        pandas.DataFrame
            ``term, estimate, se, ci_low, ci_high, p_value``.
        """
        names = {"sdid": "synthetic difference-in-differences", "sc": "synthetic control",
                 "did": "difference-in-differences (unweighted)"}
        rows = []
        for key in ("sdid", "sc", "did"):
            r = getattr(self, key)
            rows.append({"term": names[key], "estimate": r.estimate, "se": r.se,
                         "ci_low": r.ci_low, "ci_high": r.ci_high, "p_value": r.p_value})
        return pd.DataFrame(rows)


def pre_fit_ratio(fit: SyntheticDiD) -> tuple[float, float]:
    """How closely a synthetic DiD comparison tracked the treated units before adoption.

    Parameters
    ----------
    fit
        A :class:`~evalkit.methods.policy.synthdid.SyntheticDiD` result.

    Returns
    -------
    ratio, rmse
        ``rmse`` is the root mean squared deviation of the pre-adoption gap
        ``treated − synthetic`` from its mean over the pre-adoption periods (synthetic DiD
        allows a constant difference; what it needs is a gap that stays level, i.e. parallel
        paths); ``ratio`` divides it
        by the standard deviation of the treated mean's changes from one pre-adoption period to
        the next (NaN when that is zero or there are fewer than three pre-periods).
    """
    tr = fit.trajectories
    pre = tr[~tr["post"].astype(bool)]
    gap = (pre["treated"] - pre["synthetic"]).to_numpy(float)
    rmse = float(np.sqrt(np.mean((gap - gap.mean()) ** 2)))
    steps = np.diff(pre["treated"].to_numpy(float))
    sd = float(np.std(steps, ddof=1)) if steps.size >= 2 else math.nan
    ratio = rmse / sd if sd > 0 else math.nan
    return ratio, rmse


def single_unit_did(data: pd.DataFrame, outcome: str, unit: str, time: str, treatment: str,
                    *, reps: int = 200, seed: int | None = 1,
                    alpha: float = 0.05) -> SingleUnitDiD:
    """Synthetic DiD, synthetic control and plain DiD of one (or a few) adopting units.

    Parameters
    ----------
    data
        A balanced panel, one row per unit and period, all adopters adopting in the same
        period (a block design, as R ``synthdid`` requires).
    outcome, unit, time, treatment
        Column names; ``treatment`` is 1 from adoption on in adopting units.
    reps
        Placebo draws for the standard errors (R ``replications``, default 200).
    seed
        Seed of the placebo draws; each estimator draws the same placebo assignments.
    alpha
        One minus the confidence level.

    Returns
    -------
    SingleUnitDiD

    Raises
    ------
    EvalDataError
        From :func:`~evalkit.methods.policy.synthdid.synthetic_did`: an unbalanced panel,
        adopters adopting in different periods, too few comparison units for the placebo.

    References
    ----------
    Arkhangelsky, D., Athey, S., Hirshberg, D. A., Imbens, G. W., & Wager, S. (2021).
    Synthetic difference-in-differences. *American Economic Review*, 111(12), 4088–4118.
    """
    alpha = check_alpha(alpha)
    kw: dict[str, Any] = {"se_method": "placebo", "reps": reps, "seed": seed, "alpha": alpha}
    fits = {e: synthetic_did(data, outcome, unit, time, treatment, estimator=e, **kw)
            for e in ("sdid", "sc", "did")}
    ratio, rmse = pre_fit_ratio(fits["sdid"])
    return SingleUnitDiD(sdid=fits["sdid"], sc=fits["sc"], did=fits["did"],
                         pre_fit_ratio=ratio, pre_fit_rmse=rmse)

"""The columns a difference-in-differences evaluation of a panel reads."""

from __future__ import annotations

from collections.abc import Sequence

from evalkit.data import Column


def columns(outcome: str, unit: str, time: str, first_treated: str, treatment: str, *,
            covariates: Sequence[str] = (), weights: str | None = None,
            offset: str | None = None, family: str = "gaussian", panel: bool = True,
            cluster: str | None = None) -> list[Column]:
    """The column specs of a staggered-adoption panel (for :func:`evalkit.data.load`).

    Parameters
    ----------
    outcome
        The outcome column.
    unit
        The panel unit (a state, county or agency), read as text.
    time
        The period, in whole numbers (e.g. years).
    first_treated
        The first period with the policy; empty (or the never-treated value) for units that
        never adopt.
    treatment
        1 in periods with the policy, 0 before.
    covariates
        Numeric covariates.
    weights
        Sampling or population weights (positive numbers), or ``None``.
    offset
        The log exposure (log population) of a count outcome, or ``None``.
    family
        ``"gaussian"`` or ``"poisson"`` (a count outcome: 0 or more).
    panel
        ``False`` for repeated cross-sections: ``unit`` then identifies each respondent (one
        row each, never repeated) and ``cluster`` names their jurisdiction.
    cluster
        The cluster column (R's ``clustervars``), e.g. the state, or ``None``.

    Returns
    -------
    list of evalkit.data.Column
        The specs ``evalkit run`` checks before the analysis and the template loads with.
    """
    if panel:
        first = [Column(unit, kind="string", allow_missing=False, label="panel unit",
                        text=True)]
    else:
        first = [Column(unit, kind="id", label="respondent id (one row per respondent)")]
    if cluster and cluster != unit:
        first.append(Column(cluster, kind="string", allow_missing=False, text=True,
                            label="cluster (jurisdiction)"))
    return [*first,
            Column(time, kind="integer", allow_missing=False, label="period"),
            Column(first_treated, kind="integer", allow_missing=True,
                   label="first period with the policy (empty or the never-treated value "
                         "for none)"),
            Column(treatment, kind="binary", allow_missing=False,
                   label="1 in periods with the policy"),
            Column(outcome, allow_missing=False, min=0 if family == "poisson" else None,
                   label="count" if family == "poisson" else "outcome"),
            *[Column(c, allow_missing=False, label="covariate") for c in covariates],
            *([Column(weights, allow_missing=False, min=0, label="weight")] if weights else []),
            *([Column(offset, allow_missing=False, label="log population (offset)")]
              if offset else [])]

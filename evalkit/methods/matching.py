"""Nearest-neighbour matching on the propensity score with R MatchIt 4.x's defaults.

The defaults are ``method = "nearest"``, ``distance = "glm"`` and ``m.order = "largest"``; the
public entry point is :func:`evalkit.weighting.match`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from scipy import special

from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.methods.balance import balance_frame, max_abs_smd
from evalkit.methods.propensity import (
    _check_constant,
    fit_logit,
    model_matrix,
    separation_check,
    treatment_vector,
)
from evalkit.privacy import DEFAULT_THRESHOLD
from evalkit.results import Caution, Result, check_option

__all__ = ["Matched", "match", "matching_weights", "nearest_neighbour"]


def nearest_neighbour(distance: np.ndarray, t: np.ndarray, *, ratio: int = 1,
                      replace: bool = False, caliper: float | None = None) -> np.ndarray:
    """MatchIt's nearest-neighbour rule: the match matrix.

    The matrix has one row per treated unit, in data order, and ``ratio`` columns of control
    row positions, -1 where unmatched.

    Without replacement, treated units are matched in decreasing order of ``distance``
    (``m.order = "largest"``), in rounds: each takes its r-th control in round r, and a unit
    without a first control within the caliper stays unmatched. With replacement, in data
    order, each takes its ``ratio`` nearest controls. The nearest control has the smallest
    ``|distance difference|``; among equal differences, the one met first walking outward
    from the treated unit's place in the data sorted by distance (left, then right), as
    MatchIt's ``nn_matchC_vec``. ``caliper`` is in distance units.
    """
    n = len(t)
    order = np.argsort(distance, kind="stable")
    pos = np.empty(n, np.int64)
    pos[order] = np.arange(n)
    ctrl = order[t[order] == 0]            # controls sorted by distance
    cpos = pos[ctrl]                       # their places in the full order
    cdist = distance[ctrl]
    t_idx = np.flatnonzero(t == 1)
    cal = np.inf if caliper is None else float(caliper)
    mm = np.full((len(t_idx), ratio), -1, np.int64)

    if replace:
        for i, u in enumerate(t_idx):
            j = int(np.searchsorted(cpos, pos[u]))
            lo, hi = max(0, j - ratio), min(len(ctrl), j + ratio)
            cand = np.arange(lo, hi)
            dd = np.abs(cdist[cand] - distance[u])
            k = cpos[cand] - pos[u]
            step = np.where(k < 0, -2 * k - 1, 2 * k)
            o = np.lexsort((step, dd))
            o = o[dd[o] <= cal][:ratio]
            mm[i, :len(o)] = ctrl[cand[o]]
        return mm

    # without replacement: the nearest eligible control below / above a sorted slot, found by
    # pointers that skip used controls (union-find with path compression)
    nc = len(ctrl)
    alive = np.ones(nc, bool)
    down = np.arange(nc)
    up = np.arange(nc)

    def find(j: int, ptr: np.ndarray, stop: int) -> int:
        root = j
        while root != stop and not alive[root]:
            root = ptr[root]
        while j != stop and not alive[j]:
            nxt = ptr[j]
            ptr[j] = root
            j = nxt
        return root

    ord_t = t_idx[np.argsort(-distance[t_idx], kind="stable")]
    row_of = {int(u): i for i, u in enumerate(t_idx)}
    ok = np.ones(len(t_idx), bool)
    n_alive = nc
    for r in range(ratio):
        for u in ord_t:
            i = row_of[int(u)]
            if not ok[i] or n_alive == 0:
                continue
            j = int(np.searchsorted(cpos, pos[u]))
            a, b = find(j - 1, down, -1) if j > 0 else -1, find(j, up, nc) if j < nc else nc
            best, best_key = -1, None
            for c in (a, b):
                if 0 <= c < nc:
                    dd = abs(cdist[c] - distance[u])
                    k = int(cpos[c] - pos[u])
                    key = (dd, -2 * k - 1 if k < 0 else 2 * k)
                    if best_key is None or key < best_key:
                        best, best_key = c, key
            if best < 0 or best_key is None or best_key[0] > cal:
                if r == 0:
                    ok[i] = False
                continue
            mm[i, r] = ctrl[best]
            alive[best] = False
            down[best] = best - 1
            up[best] = best + 1
            n_alive -= 1
    return mm


def matching_weights(mm: np.ndarray, t: np.ndarray) -> np.ndarray:
    """MatchIt's matching weights for the ATT.

    Matched treated units weigh 1; each control weighs ``Σ 1/k`` over the treated units it is
    matched to (k: that unit's controls), scaled so the control weights sum to the number of
    matched controls.
    """
    w = np.zeros(len(t))
    t_idx = np.flatnonzero(t == 1)
    k = (mm >= 0).sum(axis=1)
    has = k > 0
    w[t_idx[has]] = 1.0
    rows, cols = np.nonzero(mm >= 0)
    np.add.at(w, mm[rows, cols], 1.0 / k[rows])
    c0 = t == 0
    s = w[c0].sum()
    if s > 0:
        w[c0] *= (w[c0] > 0).sum() / s
    return w


@dataclasses.dataclass(frozen=True)
class Matched(Result):
    """Result of :func:`evalkit.weighting.match`.

    Attributes
    ----------
    weights
        Matching weights (0 for unmatched youth), a Series aligned with the data's index.
    subclass
        The matched pair or set of each youth (nullable integers, ``<NA>`` for unmatched
        youth; all ``<NA>`` when matching with replacement, as MatchIt, since a control may
        belong to several sets).
    n_matched
        Matched youth per group, ``{"treated": ..., "control": ...}``.
    balance
        The balance table (ATT standardization).
    distance
        The distance matched on (the propensity score, or its logit with
        ``distance="linear.logit"``).
    match_matrix
        One row per program youth (index labels), ``ratio`` columns holding the index labels
        of its matched comparison youth.
    coef
        The logit's coefficients.
    ratio, replace, caliper, distance_type
        The options used (``caliper`` in SDs of the distance, as MatchIt's default
        ``std.caliper = TRUE``).
    """

    _title: ClassVar[str] = "Nearest-neighbour matching"
    _options: ClassVar[tuple[str, ...]] = ("ratio", "replace", "caliper", "distance_type")

    weights: pd.Series
    subclass: pd.Series
    n_matched: Mapping[str, int]
    balance: pd.DataFrame
    distance: pd.Series
    match_matrix: pd.DataFrame
    coef: pd.Series
    n_treated: int
    n_control: int
    ratio: int = 1
    replace: bool = False
    caliper: float | None = None
    distance_type: str = "logit"

    def _terms(self) -> list[dict[str, Any]]:
        nan = float("nan")
        return [{"term": f"matched {g} youth", "estimate": float(self.n_matched[g]), "se": nan,
                 "ci_low": nan, "ci_high": nan, "p_value": nan}
                for g in ("treated", "control")]

    def _details(self) -> list[str]:
        return [f"{self.n_matched['treated']} of {self.n_treated} program youth matched to "
                f"{self.n_matched['control']} of {self.n_control} comparison youth; largest "
                f"|SMD| {max_abs_smd(self.balance, 'smd_raw'):.3f} before and "
                f"{max_abs_smd(self.balance, 'smd_adjusted'):.3f} after matching."]


def match(
    data: pd.DataFrame,
    treatment: str,
    covariates: Sequence[str],
    *,
    method: Literal["nearest"] = "nearest",
    ratio: int = 1,
    replace: bool = False,
    caliper: float | None = None,
    distance: Literal["logit", "linear.logit"] = "logit",
    threshold: int = DEFAULT_THRESHOLD,
) -> Matched:
    """Nearest-neighbour matching of comparison youth to program youth on the propensity score.

    The estimand is the ATT.

    Parameters
    ----------
    data
        One row per youth, no missing values in ``treatment`` or ``covariates``.
    treatment
        0/1 column: 1 for program youth.
    covariates
        Baseline covariates of the logit propensity model (categorical ones as
        ``column[level]`` indicators).
    method
        ``"nearest"`` (greedy nearest neighbour, MatchIt's default).
    ratio
        Comparison youth per program youth.
    replace
        Whether a comparison youth may be matched to several program youth.
    caliper
        Largest allowed distance between matched youth, in standard deviations of the
        distance over all youth (MatchIt's ``std.caliper = TRUE``); ``None`` for no caliper.
    distance
        ``"logit"``: the propensity score from the logistic regression (MatchIt's
        ``distance = "glm"``, ``link = "logit"``); ``"linear.logit"``: its linear predictor.
    threshold
        Privacy threshold: fewer matched program youth than this is refused.

    Returns
    -------
    Matched

    Raises
    ------
    EvalDataError
        As :func:`evalkit.weighting.propensity` for the model; also when a caliper leaves
        fewer matched pairs than ``threshold``.

    Notes
    -----
    Equals MatchIt 4.x ``matchit(treat ~ ..., method = "nearest", distance = "glm",
    m.order = "largest")`` with ``ratio``, ``replace`` and ``caliper``: the pairs, the
    weights (``weights_matrixC``) and the subclasses. Treated units are ordered by the
    propensity score, largest first, without replacement; in the order of the data with
    replacement (MatchIt's choice then). The reference values in
    ``tests/reference/weighting_reference.R`` write this rule out in R, since MatchIt 4.5.1
    as built in Debian computes distances with an integer absolute value (MatchIt #163).

    References
    ----------
    Ho, D. E., Imai, K., King, G., & Stuart, E. A. (2011). MatchIt: Nonparametric
    preprocessing for parametric causal inference. *Journal of Statistical Software*, 42(8).

    Stuart, E. A. (2010). Matching methods for causal inference: A review and a look
    forward. *Statistical Science*, 25, 1–21.
    """
    check_option("method", method, ("nearest",))
    check_option("distance", distance, ("logit", "linear.logit"))
    if int(ratio) != ratio or ratio < 1:
        raise ValueError(f"ratio must be a whole number of at least 1, not {ratio!r}")
    ratio = int(ratio)
    if caliper is not None and not float(caliper) > 0:
        raise ValueError(f"caliper must be a positive number of SDs, not {caliper!r}")
    source = "data frame"
    t = treatment_vector(data, treatment, source)
    Xi, names = model_matrix(data, covariates, source, intercept=True)
    names = names[1:]
    cautions: list[Caution] = _check_constant(Xi[:, 1:], names, t, source)
    beta, ps, _, converged = fit_logit(t, Xi)
    cautions += separation_check(beta, ps, converged, Xi, names, source, t)
    # youth with the same covariates get bit-for-bit the same distance (a matrix product may
    # round rows differently), so that ties are broken as MatchIt breaks them
    Xu, inv = np.unique(Xi, axis=0, return_inverse=True)
    eta = (Xu @ beta)[inv.ravel()]
    dist = special.expit(eta) if distance == "logit" else eta
    cal = None if caliper is None else float(caliper) * float(np.std(dist, ddof=1))
    n1, n0 = int((t == 1).sum()), int((t == 0).sum())
    if not replace and n0 < n1 * ratio:
        cautions.append(Caution(f"There are {n0} comparison youth for {n1} program youth at "
                                f"{ratio} each without replacement: some program youth get "
                                "fewer matches or none.", limits=True))
    mm = nearest_neighbour(dist, t, ratio=ratio, replace=replace, caliper=cal)
    w = matching_weights(mm, t)
    n_m = {"treated": int((w[t == 1] > 0).sum()), "control": int((w[t == 0] > 0).sum())}
    if n_m["treated"] < threshold:
        raise EvalDataError([DataProblem(treatment, f"only {n_m['treated']} program youth "
                                         f"found a match within the caliper of {caliper} SD",
                                         f"at least {threshold} matched pairs (the privacy "
                                         "threshold): a wider caliper, or weighting")],
                            source=source)
    if n_m["treated"] < n1:
        cautions.append(Caution(f"{n1 - n_m['treated']} of {n1} program youth found no "
                                "comparison youth within the caliper and are left out: the "
                                "effect describes the matched program youth only.",
                                limits=True))
    index = data.index
    t_idx = np.flatnonzero(t == 1)
    sub = pd.array([pd.NA] * len(t), dtype="Int64")
    if not replace:
        sub_np = np.full(len(t), -1, np.int64)
        for i in np.flatnonzero((mm >= 0).any(axis=1)):
            sub_np[t_idx[i]] = i + 1
            sub_np[mm[i][mm[i] >= 0]] = i + 1
        sub = pd.array(np.where(sub_np > 0, sub_np, 0), dtype="Int64")
        sub[sub_np <= 0] = pd.NA
    labels = np.asarray(index, dtype=object)
    mm_frame = pd.DataFrame(
        [[labels[c] if c >= 0 else None for c in row] for row in mm],
        index=index[t_idx], columns=[str(j + 1) for j in range(ratio)])
    weights = pd.Series(w, index=index, name="weights")
    weights.attrs["kind"] = "matching"
    bal = balance_frame(data, t, covariates, w, "ATT", source)
    return Matched(
        weights=weights, subclass=pd.Series(sub, index=index, name="subclass"),
        n_matched=n_m, balance=bal, distance=pd.Series(dist, index=index, name="distance"),
        match_matrix=mm_frame, coef=pd.Series(beta, index=["(Intercept)", *names]),
        n_treated=n1, n_control=n0, ratio=ratio, replace=bool(replace),
        caliper=None if caliper is None else float(caliper), distance_type=distance,
        cautions=tuple(cautions))

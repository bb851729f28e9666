"""The 2×2 comparisons of :func:`~evalkit.methods.did.staggered.staggered` with covariates.

When it conditions on covariates, each comparison is a doubly robust, outcome-regression or
inverse-probability-weighted ATT with its influence function, as R's ``DRDID``
(``drdid_panel``, ``reg_did_panel``, ``std_ipw_did_panel``).
"""

from __future__ import annotations

import numpy as np
from scipy import special


class _CellFailed(Exception):
    """A 2×2 comparison cannot be estimated (R sets its ATT(g, t) to NA)."""


def _logit(X: np.ndarray, d: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """Logistic-regression propensity scores by Newton–Raphson (as R's glm, with ``weights``).

    Without ``w`` every observation weighs 1 (the same arithmetic as before weights existed).
    """
    beta = np.zeros(X.shape[1])
    with np.errstate(all="ignore"):
        for _ in range(100):
            p = special.expit(X @ beta)
            W = p * (1 - p) if w is None else w * p * (1 - p)
            try:
                step = np.linalg.solve((X * W[:, None]).T @ X,
                                       X.T @ (d - p if w is None else w * (d - p)))
            except np.linalg.LinAlgError:
                raise _CellFailed("the propensity model is singular") from None
            if not np.all(np.isfinite(step)):
                raise _CellFailed("the propensity model did not converge")
            beta += step
            if np.max(np.abs(step)) < 1e-12:
                break
        else:
            raise _CellFailed("the propensity model did not converge")
    return np.minimum(special.expit(X @ beta), 1 - 1e-6)


def _overlap_fails(X: np.ndarray, d: np.ndarray) -> bool:
    """R's overlap guard: the preliminary propensity logit fits some unit at 0.999 or more."""
    if X.shape[1] == 1:
        return bool(d.mean() >= 0.999)
    try:
        ps = _logit(X, d)
    except _CellFailed:
        return True
    return bool(np.max(ps) >= 0.999)



def cell_guards(X: np.ndarray, d: np.ndarray, method: str) -> None:
    """R ``did``'s per-cell guards: overlap (``dr``, ``ipw``) and control collinearity.

    Raises :class:`_CellFailed` (R sets the cell's ATT(g, t) to NA) when the covariates
    separate the cohort from its comparison units, or when those units' covariates are
    collinear.
    """
    if method in ("dr", "ipw") and _overlap_fails(X, d):
        raise _CellFailed("the covariates separate this cohort from its comparison units "
                          "(propensity scores of 0.999 or more)")
    if method in ("dr", "reg"):
        Xc = X[d == 0]
        if Xc.shape[0] == 0 or 1 / np.linalg.cond(Xc.T @ Xc, 1) < np.finfo(float).eps:
            raise _CellFailed("the covariates of the comparison units are collinear")

def _did_2x2(dy: np.ndarray, d: np.ndarray, X: np.ndarray, method: str
             ) -> tuple[float, np.ndarray]:
    """ATT of one 2×2 comparison with covariates and its influence function.

    The influence function has one value per unit of the comparison; the estimators are those
    of DRDID's ``drdid_panel``, ``reg_did_panel`` and ``std_ipw_did_panel``.
    """
    n = dy.size
    ctrl = 1 - d
    cell_guards(X, d, method)
    with np.errstate(all="ignore"):
        try:
            beta = np.linalg.lstsq(X[ctrl == 1], dy[ctrl == 1], rcond=None)[0]
            fitted = X @ beta
            XpX_inv = np.linalg.inv((X * ctrl[:, None]).T @ X / n)
        except np.linalg.LinAlgError:
            if method != "ipw":
                raise _CellFailed("the outcome regression is singular") from None
            fitted, XpX_inv = np.zeros(n), np.zeros((X.shape[1], X.shape[1]))
        lin_ols = (ctrl * (dy - fitted))[:, None] * X @ XpX_inv
        if method == "reg":
            eta_t = np.mean(d * dy) / d.mean()
            eta_c = np.mean(d * fitted) / d.mean()
            inf_t = (d * dy - d * eta_t) / d.mean()
            inf_c = ((d * fitted - d * eta_c)
                     + lin_ols @ (d[:, None] * X).mean(axis=0)) / d.mean()
            return float(eta_t - eta_c), inf_t - inf_c
        ps = _logit(X, d)
        W = ps * (1 - ps)
        try:
            lin_ps = ((d - ps)[:, None] * X) @ np.linalg.inv((X * W[:, None]).T @ X / n)
        except np.linalg.LinAlgError:
            raise _CellFailed("the propensity model is singular") from None
        w_t = d
        w_c = ps * ctrl / (1 - ps)
        if method == "ipw":
            eta_t = np.mean(w_t * dy) / w_t.mean()
            eta_c = np.mean(w_c * dy) / w_c.mean()
            inf_t = (w_t * dy - w_t * eta_t) / w_t.mean()
            m2 = (w_c * (dy - eta_c))[:, None] * X
            inf_c = ((w_c * dy - w_c * eta_c) + lin_ps @ m2.mean(axis=0)) / w_c.mean()
            return float(eta_t - eta_c), inf_t - inf_c
        r = dy - fitted
        eta_t = np.mean(w_t * r) / w_t.mean()
        eta_c = np.mean(w_c * r) / w_c.mean()
        inf_t = ((w_t * r - w_t * eta_t)
                 - lin_ols @ (w_t[:, None] * X).mean(axis=0)) / w_t.mean()
        m2 = ((w_c * (r - eta_c))[:, None] * X).mean(axis=0)
        m3 = (w_c[:, None] * X).mean(axis=0)
        inf_c = ((w_c * r - w_c * eta_c) + lin_ps @ m2 - lin_ols @ m3) / w_c.mean()
        return float(eta_t - eta_c), inf_t - inf_c

"""Sweeping out fixed effects: exact two-way demeaning and alternating projections."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["demean"]


def demean(values: np.ndarray, codes: Sequence[np.ndarray], *, weights: np.ndarray | None = None,
           tol: float = 1e-13, max_iter: int = 10_000) -> np.ndarray:
    """Sweep out several sets of fixed effects by alternating projections.

    All columns of ``values`` are demeaned within the groups of each factor in ``codes`` in
    turn (one sparse matrix product per factor), until the largest group mean removed falls
    below ``tol``; one pass is exact for a single factor or a balanced two-way panel.

    References
    ----------
    Gaure, S. (2013). OLS with multiple high dimensional category variables. *Computational
    Statistics & Data Analysis*, 66, 8–18.
    """
    from scipy import sparse

    x = np.array(values, dtype=float, copy=True)
    if x.ndim == 1:
        x = x[:, None]
    n = x.shape[0]
    w = np.ones(n) if weights is None else np.asarray(weights, float)
    if len(codes) == 2:
        small, big = sorted(codes, key=lambda c: int(c.max()))
        if int(small.max()) + 1 <= 2000:
            return _two_way_exact(x, big, small, w)
    mats = []
    for c in codes:
        levels = int(c.max()) + 1
        ind = sparse.csr_matrix((w, (c, np.arange(n))), shape=(levels, n))
        size = np.asarray(ind.sum(axis=1)).ravel()
        mats.append((c, ind, size))
    for _ in range(max_iter):
        biggest = 0.0
        for c, ind, size in mats:
            means = (ind @ x) / size[:, None]
            x -= means[c]
            biggest = max(biggest, float(np.abs(means).max()))
        if biggest < tol or len(codes) == 1:
            break
    return x


def _two_way_exact(x: np.ndarray, big: np.ndarray, small: np.ndarray,
                   w: np.ndarray) -> np.ndarray:
    """Two-way demeaning solved exactly when one factor has few levels (e.g. periods).

    Concentrating out the many-level factor leaves a small linear system for the few-level
    effects: ``C γ = r`` with ``C = diag(W_t) − S' diag(1/W_u) S``, ``S`` the weight of each
    (unit, period) cell. One pass, no iteration, for balanced and unbalanced panels alike.
    """
    from scipy import sparse

    n = x.shape[0]
    nb, ns = int(big.max()) + 1, int(small.max()) + 1
    Db = sparse.csr_matrix((w, (big, np.arange(n))), shape=(nb, n))  # weighted unit sums
    Ds = sparse.csr_matrix((w, (small, np.arange(n))), shape=(ns, n))  # weighted period sums
    Wb = np.asarray(Db.sum(axis=1)).ravel()
    Ws = np.asarray(Ds.sum(axis=1)).ravel()
    S = (Db @ sparse.csr_matrix((np.ones(n), (np.arange(n), small)), shape=(n, ns))).toarray() \
        if nb * ns <= 5e7 else None
    if S is None:  # too many cells for a dense S: fall back to sparse products
        S = Db @ sparse.csr_matrix((np.ones(n), (np.arange(n), small)), shape=(n, ns))
        C = np.diag(Ws) - (S.T @ sparse.diags(1 / Wb) @ S).toarray()
    else:
        C = np.diag(Ws) - (S.T / Wb) @ S
    zb = Db @ x  # nb × k weighted unit sums
    r = Ds @ x - S.T @ (zb / Wb[:, None])
    gamma = np.linalg.lstsq(C, r, rcond=None)[0]  # C is singular by one (a constant)
    x -= gamma[small]
    x -= ((Db @ x) / Wb[:, None])[big]
    return x

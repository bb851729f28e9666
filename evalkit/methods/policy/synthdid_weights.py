"""Frank–Wolfe solvers for the unit and time weights of synthetic difference-in-differences.

The weights of R ``synthdid`` (Arkhangelsky et al. 2021) solve, on the unit simplex,

    minimise  zeta² ‖x‖² + ‖A x − b‖² / n

by Frank–Wolfe with exact line search (``sc.weight.fw`` in the package's ``solver.R``), run
twice: a first pass of at most 100 iterations, then ``sparsify`` (weights at most a quarter of
the largest set to zero) and a second pass of at most ``max_iter`` iterations. Each pass stops
once an iteration lowers the objective by no more than ``min_decrease²``.

:func:`frank_wolfe` solves a *batch* of such problems in lock step, so the 200 problems of a
placebo or bootstrap standard error cost one vectorised loop instead of 200 Python loops. Each
problem keeps its own stopping rule, so every one ends exactly where R's solver would end it
alone. Problems of different sizes (bootstrap draws) are padded: padded rows are zero and
padded columns are never chosen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["collapsed_form", "frank_wolfe", "solve_weights", "sparsify", "weight_problem"]

#: Iterations of the first pass, before ``sparsify`` (R ``max.iter.pre.sparsify = 100``).
MAX_ITER_PRE_SPARSIFY = 100


def collapsed_form(Y: np.ndarray, n0: int, t0: int) -> np.ndarray:
    """The ``(n0 + 1) × (t0 + 1)`` collapsed panel of R ``synthdid``'s ``collapsed.form``.

    Control rows and pre-period columns are kept; the treated rows are averaged into one row
    and the post-period columns into one column.

    References
    ----------
    R package synthdid, ``utils.R``: ``collapsed.form``.
    """
    top = np.column_stack([Y[:n0, :t0], Y[:n0, t0:].mean(axis=1)])
    bottom = np.append(Y[n0:, :t0].mean(axis=0), Y[n0:, t0:].mean())
    return np.vstack([top, bottom])


def sparsify(v: np.ndarray) -> np.ndarray:
    """R ``synthdid``'s ``sparsify_function``, row by row: zero weights ≤ max / 4, renormalise.

    References
    ----------
    R package synthdid, ``synthdid.R``: ``sparsify_function``.
    """
    v = np.array(v, dtype=float, copy=True)
    v[v <= v.max(axis=-1, keepdims=True) / 4] = 0.0
    return v / v.sum(axis=-1, keepdims=True)


def weight_problem(Yc: np.ndarray, *, kind: str, intercept: bool) -> tuple[np.ndarray, np.ndarray]:
    """The design ``A`` and target ``b`` of the lambda or omega problem of a collapsed panel.

    ``kind="lambda"``: rows are control units, columns the pre-periods, target the units'
    post-period mean. ``kind="omega"``: rows are pre-periods, columns the control units,
    target the treated mean. With ``intercept`` each column (of ``A`` and ``b`` together) is
    centred, as R's ``sc.weight.fw(..., intercept = TRUE)``.

    References
    ----------
    R package synthdid, ``synthdid.R`` (``synthdid_estimate``) and ``solver.R``
    (``sc.weight.fw``).
    """
    n0, t0 = Yc.shape[0] - 1, Yc.shape[1] - 1
    M = Yc[:n0, :] if kind == "lambda" else Yc[:, :t0].T
    if intercept:
        M = M - M.mean(axis=0)
    return np.ascontiguousarray(M[:, :-1]), np.ascontiguousarray(M[:, -1])


def frank_wolfe(
    A: np.ndarray,
    b: np.ndarray,
    x0: np.ndarray,
    *,
    zeta: float,
    min_decrease: float,
    max_iter: int,
    n_rows: np.ndarray | None = None,
    n_cols: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Frank–Wolfe with exact line search for a batch of simplex-constrained ridge problems.

    Problem ``k`` minimises ``zeta² ‖x‖² + ‖A[k] x − b[k]‖² / n_rows[k]`` over the simplex in
    its first ``n_cols[k]`` coordinates, starting from ``x0[k]``, with the step and stopping
    rule of R ``synthdid``'s ``fw.step`` / ``sc.weight.fw``: the vertex of the smallest
    half-gradient ``A'(Ax − b) + n·zeta²·x``; the exact line-search step clipped to [0, 1];
    stop after ``max_iter`` iterations or once an iteration (from the second on) lowers the
    objective by no more than ``min_decrease²``.

    Parameters
    ----------
    A, b, x0
        Arrays of shape ``(B, n, p)``, ``(B, n)`` and ``(B, p)``; padded rows of ``A`` and
        ``b`` must be zero and padded entries of ``x0`` zero.
    zeta, min_decrease, max_iter
        As R's ``zeta``, ``min.decrease`` and ``max.iter``.
    n_rows, n_cols
        Each problem's real number of rows and columns (default: all).

    Returns
    -------
    x : numpy.ndarray
        The weights, shape ``(B, p)``.
    iterations : numpy.ndarray
        The iterations each problem ran.

    References
    ----------
    R package synthdid, ``solver.R``: ``fw.step`` and ``sc.weight.fw``.
    """
    A = np.asarray(A, dtype=float)
    b = np.asarray(b, dtype=float)
    x = np.array(x0, dtype=float, copy=True)
    B, n, p = A.shape
    rows = np.full(B, n, dtype=float) if n_rows is None else np.asarray(n_rows, dtype=float)
    cols = np.full(B, p) if n_cols is None else np.asarray(n_cols)
    zeta2 = float(zeta) ** 2
    eta_all = rows * zeta2
    pad_all = np.arange(p)[None, :] >= cols[:, None]
    iterations = np.zeros(B, dtype=int)
    min_dec2 = float(min_decrease) ** 2
    if B == 1:
        r, c = int(rows[0]), int(cols[0])
        x1, it = _frank_wolfe_one(A[0, :r, :c], b[0, :r], x[0, :c], zeta2, min_dec2, max_iter)
        x[0, :c] = x1
        return x, np.array([it])

    # Working copies of the problems still running; finished ones are written back to x.
    # The half-gradient A'(Ax - b) + eta x is kept up to date through the Gram matrix A'A:
    # a step x += s (e_i - x) moves A'Ax by s (A'A[:, i] - A'Ax), an O(p) update per
    # problem instead of an O(np) product.
    # Columns of A and of A'A (symmetric) are gathered as rows of flat (B·p, ·) views.
    idx = np.arange(B)
    bw, xw = b, x.copy()
    eta, nr, pad = eta_all, rows, pad_all
    ATw = np.ascontiguousarray(A.transpose(0, 2, 1))
    G = np.matmul(ATw, A)
    Atb = np.einsum("kpn,kn->kp", ATw, b)
    Ax = np.einsum("kpn,kp->kn", ATw, xw)
    Gx = np.einsum("kpq,kq->kp", G, xw)
    prev = np.full(B, np.nan)
    t = 0
    padded = bool(pad.any())
    base = np.arange(B) * p
    with np.errstate(divide="ignore", invalid="ignore"):
        while t < max_iter and idx.size:
            t += 1
            half_grad = Gx - Atb + eta[:, None] * xw
            i = (np.where(pad, np.inf, half_grad) if padded else half_grad).argmin(axis=1)
            at = base[:idx.size] + i
            dx = -xw
            dx.reshape(-1)[at] += 1.0
            d_err = np.take(ATw.reshape(-1, n), at, axis=0) - Ax
            num = -np.einsum("kp,kp->k", half_grad, dx)
            dx2 = np.einsum("kp,kp->k", dx, dx)
            den = np.einsum("kn,kn->k", d_err, d_err) + eta * dx2
            # R's fw.step leaves x unchanged when it already is the chosen vertex (dx == 0)
            step = np.where(dx2 > 0, np.minimum(np.maximum(num / den, 0.0), 1.0), 0.0)
            xw = xw + step[:, None] * dx
            Ax = Ax + step[:, None] * d_err
            Gx = Gx + step[:, None] * (np.take(G.reshape(-1, p), at, axis=0) - Gx)
            err = Ax - bw
            val = zeta2 * np.einsum("kp,kp->k", xw, xw) + np.einsum("kn,kn->k", err, err) / nr
            if t >= 2:
                done = ~(prev - val > min_dec2)
                if t == max_iter:
                    done[:] = True
            else:
                done = np.full(idx.size, t == max_iter)
            if done.any():
                x[idx[done]] = xw[done]
                iterations[idx[done]] = t
                keep = ~done
                idx, ATw, bw, xw, G, Atb = (idx[keep], ATw[keep], bw[keep], xw[keep], G[keep],
                                            Atb[keep])
                Ax, Gx, val, eta, nr = Ax[keep], Gx[keep], val[keep], eta[keep], nr[keep]
                pad = pad[keep]
                padded = bool(pad.any())
            prev = val
    if idx.size:  # max_iter == 0
        x[idx] = xw
    return x, iterations


def _frank_wolfe_one(A: np.ndarray, b: np.ndarray, x: np.ndarray, zeta2: float,
                     min_dec2: float, max_iter: int) -> tuple[np.ndarray, int]:
    """:func:`frank_wolfe` for one problem, on vectors (fewer array operations per step)."""
    n = A.shape[0]
    eta = n * zeta2
    AT = np.ascontiguousarray(A.T)
    H = AT @ A
    Atb = AT @ b
    Ax = A @ x
    Hx = H @ x
    prev = math.nan
    t = 0
    while t < max_iter:
        t += 1
        half_grad = Hx - Atb + eta * x
        i = int(half_grad.argmin())
        dx = -x
        dx[i] += 1.0
        dx2 = float(dx @ dx)
        if dx2 > 0:  # R's fw.step leaves x unchanged when it already is the chosen vertex
            d_err = AT[i] - Ax
            step = -float(half_grad @ dx) / (float(d_err @ d_err) + eta * dx2)
            step = min(1.0, max(0.0, step))
            x = x + step * dx
            Ax = Ax + step * d_err
            Hx = Hx + step * (H[i] - Hx)
        err = Ax - b
        val = zeta2 * float(x @ x) + float(err @ err) / n
        if t >= 2 and not prev - val > min_dec2:
            break
        prev = val
    return x, t


def solve_weights(
    problems: Sequence[tuple[np.ndarray, np.ndarray]],
    inits: Sequence[np.ndarray | None],
    *,
    zeta: float,
    min_decrease: float,
    max_iter: int,
) -> list[np.ndarray]:
    """R ``synthdid``'s two-pass weights for each ``(A, b)`` problem, solved as one batch.

    The first pass runs at most 100 iterations from the initial weights (uniform when
    ``None``); ``sparsify`` of its solution starts the second pass of at most ``max_iter``
    iterations. Problems of different sizes are padded (zero rows, never-chosen columns).

    Returns
    -------
    list of numpy.ndarray
        The weights of each problem.

    References
    ----------
    R package synthdid, ``synthdid.R``: ``synthdid_estimate`` (``sparsify``,
    ``max.iter.pre.sparsify``).
    """
    B = len(problems)
    n = max(a.shape[0] for a, _ in problems)
    p = max(a.shape[1] for a, _ in problems)
    A = np.zeros((B, n, p))
    b = np.zeros((B, n))
    x0 = np.zeros((B, p))
    n_rows = np.empty(B, dtype=int)
    n_cols = np.empty(B, dtype=int)
    for k, ((a, bb), init) in enumerate(zip(problems, inits, strict=True)):
        r, c = a.shape
        A[k, :r, :c] = a
        b[k, :r] = bb
        x0[k, :c] = np.full(c, 1.0 / c) if init is None else init
        n_rows[k], n_cols[k] = r, c
    x, _ = frank_wolfe(A, b, x0, zeta=zeta, min_decrease=min_decrease,
                       max_iter=MAX_ITER_PRE_SPARSIFY, n_rows=n_rows, n_cols=n_cols)
    x = sparsify(x)
    x, _ = frank_wolfe(A, b, x, zeta=zeta, min_decrease=min_decrease, max_iter=max_iter,
                       n_rows=n_rows, n_cols=n_cols)
    return [x[k, :n_cols[k]] for k in range(B)]

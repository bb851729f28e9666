"""Relative-magnitude bounds (ΔRM) with the conditional-least-favorable hybrid confidence set.

This follows R ``HonestDiD``'s ``computeConditionalCS_DeltaRM`` (``deltarm.R``), the
Andrews–Roth–Pakes conditional test with nuisance parameters (``arp-nuisance.R``) and without
them (``arp-nonuisance.R``), with the least-favorable first stage of size ``alpha / 10``. The
confidence set is found, as R finds it, by testing every point of an evenly spaced grid and
taking the union over the location ``s`` of the largest pre-period violation and its sign.

The linear programs are small: the moment inequalities ``y - X δ <= η σ`` have as many rows as
twice the post-periods and one nuisance parameter fewer than post-periods. Their dual feasible
set ``{γ >= 0, γ'σ = 1, X'γ = 0}`` does not depend on the tested value, so its vertices are
enumerated once and every linear program (over the grid, and over R's 1,000 least-favorable
simulation draws) is a maximum over them. When there are too many vertices to enumerate the
programs are solved one by one with HiGHS.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize

from evalkit.methods.did.honest_common import (
    r_quantile,
    r_rmvnorm,
    truncnorm_quantile,
    truncnorm_quantile_scalar,
)

__all__ = ["rm_confidence_set"]

#: Enumerate the dual vertices when at most this many bases must be tried.
MAX_BASES = 200_000
_TOL_LAMBDA = 1e-6  # R's tol_lambda: binding moments
_EPS = np.finfo(float).eps


def create_a_rm(num_pre: int, num_post: int, mbar: float, s: int,
                max_positive: bool) -> np.ndarray:
    """R's ``.create_A_RM``: ``A δ <= 0`` for ΔRM at location ``s`` and sign (t = 0 dropped)."""
    t = num_pre + num_post
    atilde = np.zeros((t, t + 1))
    for r in range(t):
        atilde[r, r:r + 2] = (-1.0, 1.0)
    v = np.zeros(t + 1)
    v[num_pre + s - 1:num_pre + s + 1] = (-1.0, 1.0)
    if not max_positive:
        v = -v
    a_ub = np.vstack([np.tile(v, (num_pre, 1)), np.tile(mbar * v, (num_post, 1))])
    a = np.vstack([atilde - a_ub, -atilde - a_ub])
    a = a[(a * a).sum(axis=1) > 1e-10]
    return np.delete(a, num_pre, axis=1)


def construct_gamma(l_vec: np.ndarray) -> np.ndarray:
    """R's ``.construct_Gamma``: an invertible matrix whose first row is ``l'``.

    The pivots of the reduced row echelon form of ``[l, I]`` are ``l`` and every unit vector
    except the one at the last non-zero entry of ``l``.
    """
    t = l_vec.size
    last = int(np.flatnonzero(l_vec)[-1])
    rows = [l_vec] + [np.eye(t)[j] for j in range(t) if j != last]
    return np.vstack(rows)


@dataclass
class _DualLP:
    """``η(y) = min_δ max_i (y_i - X_i δ) / σ_i`` and its dual solution, for many ``y``."""

    sd: np.ndarray
    x: np.ndarray
    vertices: np.ndarray | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        w = np.column_stack([self.sd, self.x])
        m, k1 = w.shape
        if np.linalg.matrix_rank(w) < k1 or math.comb(m, k1) > MAX_BASES:
            return
        idx = np.array(list(itertools.combinations(range(m), k1)))
        mats = np.transpose(w[idx], (0, 2, 1))  # W_S' (k1 × k1) per basis
        cond = np.linalg.cond(mats)
        ok = np.isfinite(cond) & (cond < 1e12)
        idx, mats = idx[ok], mats[ok]
        e1 = np.zeros(k1)
        e1[0] = 1.0
        sol = np.linalg.solve(mats, np.broadcast_to(e1, (mats.shape[0], k1))[..., None])[..., 0]
        feasible = np.all(sol >= -1e-12 * np.abs(sol).max(axis=1, keepdims=True), axis=1)
        idx, sol = idx[feasible], np.clip(sol[feasible], 0.0, None)
        gam = np.zeros((idx.shape[0], m))
        np.put_along_axis(gam, idx, sol, axis=1)
        # drop repeats of a degenerate vertex, keeping the first
        _, first = np.unique(np.round(gam, 12), axis=0, return_index=True)
        self.vertices = gam[np.sort(first)]

    def eta(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """η, the dual solution λ and a failure flag for each row of ``y``."""
        y = np.atleast_2d(y)
        if self.vertices is not None:
            if self.vertices.shape[0] == 0:  # primal unbounded
                n = y.shape[0]
                return (np.full(n, np.nan), np.zeros((n, self.sd.size)),
                        np.ones(n, dtype=bool))
            vals = y @ self.vertices.T
            best = np.argmax(vals, axis=1)
            return (vals[np.arange(y.shape[0]), best], self.vertices[best],
                    np.zeros(y.shape[0], dtype=bool))
        etas, lams, bad = [], [], []
        c = np.zeros(1 + self.x.shape[1])
        c[0] = 1.0
        a_ub = -np.column_stack([self.sd, self.x])
        for row in y:
            res = optimize.linprog(c, A_ub=a_ub, b_ub=-row, bounds=(None, None),
                                   method="highs-ds")
            ok = res.status == 0
            etas.append(res.fun if ok else np.nan)
            lams.append(-res.ineqlin.marginals if ok else np.zeros(self.sd.size))
            bad.append(not ok)
        return np.array(etas), np.array(lams), np.array(bad)

    def max_program(self, f: np.ndarray) -> tuple[float, np.ndarray]:
        """R's ``.max_program``: ``max f'γ`` over the dual set, and the maximizer."""
        if self.vertices is not None and self.vertices.shape[0]:
            vals = self.vertices @ f
            i = int(np.argmax(vals))
            return float(vals[i]), self.vertices[i]
        w = np.column_stack([self.sd, self.x])
        beq = np.zeros(w.shape[1])
        beq[0] = 1.0
        res = optimize.linprog(-f, A_eq=w.T, b_eq=beq, bounds=(0, None), method="highs")
        if res.status != 0:
            return float("nan"), np.zeros(self.sd.size)
        return float(-res.fun), res.x


def _roundeps(x: float) -> float:
    return 0.0 if abs(x) < _EPS ** 0.75 else x


def _vlo_vup_dual(eta: float, s_t: np.ndarray, gamma: np.ndarray, sigma: np.ndarray,
                  lp: _DualLP) -> tuple[float, float]:
    """R's ``.vlo_vup_dual_fn``: truncation bounds by the shortcut iteration and bisection."""
    tol_c = tol_eq = 1e-6
    gsg = float(gamma @ sigma @ gamma)
    sigma_b = math.sqrt(gsg)
    low_initial = min(-100.0, eta - 20 * sigma_b)
    high_initial = max(100.0, eta + 20 * sigma_b)
    maxiters, switchiters = 10000, 10
    bvec = sigma @ gamma / gsg

    def check(c: float) -> tuple[bool, np.ndarray]:
        val, sol = lp.max_program(s_t + bvec * c)
        return bool(abs(c - val) <= tol_eq), sol

    if not check(eta)[0]:
        return eta, math.inf

    def bound(start: float, upper: bool) -> float:
        honest, sol = check(start)
        if honest:
            return math.inf if upper else -math.inf
        dif, iters = 0.0, 1
        mid = _roundeps(float(sol @ s_t)) / (1 - float(sol @ bvec))
        honest, sol = check(mid)
        while not honest and iters < maxiters:
            iters += 1
            if iters >= switchiters:
                dif = tol_c + 1
                break
            mid = _roundeps(float(sol @ s_t)) / (1 - float(sol @ bvec))
            honest, sol = check(mid)
        low, high = (eta, mid) if upper else (mid, eta)
        while dif > tol_c and iters < maxiters:
            iters += 1
            mid = (high + low) / 2
            if check(mid)[0] == upper:
                low = mid
            else:
                high = mid
            dif = high - low
        return mid

    return bound(low_initial, False), bound(high_initial, True)


def _lf_cv_nuisance(x: np.ndarray, sigma: np.ndarray, kappa: float, lp: _DualLP,
                    seed: int, sims: int = 1000) -> float:
    """R's ``.compute_least_favorable_cv`` with nuisance parameters."""
    xi = r_rmvnorm(sims, sigma, seed)
    eta, _, bad = lp.eta(xi)
    eta = np.where(bad, np.nan, eta)
    return r_quantile(eta, 1 - kappa)


def _lf_cv_no_nuisance(sigma: np.ndarray, kappa: float, seed: int, sims: int = 1000) -> float:
    xi = r_rmvnorm(sims, sigma, seed) / np.sqrt(np.diag(sigma))
    return r_quantile(xi.max(axis=1), 1 - kappa)


def _arp_nuisance_accept(y: np.ndarray, x: np.ndarray, sigma: np.ndarray, alpha: float,
                         kappa: float, lf_cv: float, lp: _DualLP) -> np.ndarray:
    """R's ``.lp_conditional_test_fn`` with the LF hybrid, for every row of ``y``: 1 accepts."""
    n, m = y.shape
    k = x.shape[1]
    eta, lam, bad = lp.eta(y)
    accept = np.ones(n)
    mod_size = (alpha - kappa) / (1 - kappa)
    first = ~bad & (eta > lf_cv)
    accept[first] = 0.0
    todo = np.flatnonzero(~bad & ~first)
    if todo.size == 0:
        return accept
    sd = np.sqrt(np.diag(sigma))
    binding = lam[todo] > _TOL_LAMBDA
    keys = [b.tobytes() for b in binding]
    groups: dict[bytes, list[int]] = {}
    for pos, key in zip(todo, keys, strict=True):
        groups.setdefault(key, []).append(int(pos))
    for rows_list in groups.values():
        rows = np.array(rows_list)
        b_idx = lam[rows[0]] > _TOL_LAMBDA
        degenerate = int(b_idx.sum()) != k + 1
        xb = x[b_idx]
        full_rank = xb.size > 0 and min(xb.shape) > 0 and \
            np.linalg.matrix_rank(xb) == min(xb.shape)
        if degenerate or not full_rank:
            for r in rows:
                accept[r] = _dual_test(y[r], x, sigma, eta[r], lam[r], lf_cv, mod_size, lp)
            continue
        bc = ~b_idx
        wb = np.column_stack([sd[b_idx], xb])
        wb_inv = np.linalg.inv(wb)
        s_b = np.eye(m)[b_idx]
        s_bc = np.eye(m)[bc]
        gamma_b = np.column_stack([sd[bc], x[bc]]) @ wb_inv @ s_b - s_bc
        v_b = wb_inv[0] @ s_b
        sigma2_b = float(v_b @ sigma @ v_b)
        sigma_b = math.sqrt(sigma2_b)
        rho = gamma_b @ sigma @ v_b / sigma2_b
        yy = y[rows]
        with np.errstate(divide="ignore", invalid="ignore"):
            cand = (-(yy @ gamma_b.T)) / rho + (yy @ v_b)[:, None]
        pos_r, neg_r = rho > 0, rho < 0
        vlo = cand[:, pos_r].max(axis=1) if pos_r.any() else np.full(rows.size, -np.inf)
        vup = cand[:, neg_r].min(axis=1) if neg_r.any() else np.full(rows.size, np.inf)
        zlo = vlo / sigma_b
        zup = np.minimum(vup, lf_cv) / sigma_b
        maxstat = eta[rows] / sigma_b
        inside = (zlo <= maxstat) & (maxstat <= zup)
        res = np.ones(rows.size)
        if inside.any():
            cval = np.maximum(0.0, truncnorm_quantile(1 - mod_size, zlo[inside], zup[inside]))
            res[inside] = 1.0 - (maxstat[inside] > cval)
        accept[rows] = res
    return accept


def _dual_test(y: np.ndarray, x: np.ndarray, sigma: np.ndarray, eta: float, lam: np.ndarray,
               lf_cv: float, mod_size: float, lp: _DualLP) -> float:
    """The dual branch of R's ``.lp_conditional_test_fn`` (degenerate or rank-deficient)."""
    gsg = float(lam @ sigma @ lam)
    if abs(gsg) < _EPS:
        return 0.0 if eta > 0 else 1.0
    s_t = y - (sigma @ lam) * float(lam @ y) / gsg
    vlo, vup = _vlo_vup_dual(eta, s_t, lam, sigma, lp)
    sigma_b = math.sqrt(gsg)
    maxstat = eta / sigma_b
    zlo = vlo / sigma_b
    zup = min(vup, lf_cv) / sigma_b
    if not (zlo <= maxstat <= zup):
        return 1.0
    cval = max(0.0, truncnorm_quantile_scalar(1 - mod_size, zlo, zup))
    return 0.0 if maxstat > cval else 1.0


def _no_nuisance_accept(betahat: np.ndarray, sigma: np.ndarray, a: np.ndarray,
                        num_pre: int, grid: np.ndarray, alpha: float, kappa: float,
                        seed: int) -> np.ndarray:
    """R's ``.APR_computeCI_NoNuis`` with ``.testInIdentifiedSet_LF_Hybrid`` (one post-period)."""
    sa = a @ sigma @ a.T
    lf_cv = _lf_cv_no_nuisance(sa, kappa, seed)
    st = np.sqrt(np.diag(sa))
    at = a / st[:, None]
    dt = np.zeros(a.shape[0])  # d = 0 for ΔRM
    base = at @ betahat - dt
    slope = at[:, num_pre]
    moments = base[None, :] - np.outer(grid, slope)
    loc = np.argmax(moments, axis=1)
    maxm = moments[np.arange(grid.size), loc]
    accept = np.where(maxm > lf_cv, 0.0, 1.0)
    alphatilde = (alpha - kappa) / (1 - kappa)
    for j in np.unique(loc[maxm <= lf_cv]):
        rows = np.flatnonzero((loc == j) & (maxm <= lf_cv))
        g = at[j]
        abar = at - at[j]
        dbar = dt - dt[j]
        gsg = float(g @ sigma @ g)
        sigmabar = math.sqrt(gsg)
        c = sigma @ g / gsg
        ys = betahat[None, :] - np.outer(grid[rows], np.eye(betahat.size)[num_pre])
        z = ys - np.outer(ys @ g, c)
        ac = abar @ c
        with np.errstate(divide="ignore", invalid="ignore"):
            obj = (dbar[None, :] - z @ abar.T) / ac
        neg, pos = ac < 0, ac > 0
        vlo = obj[:, neg].max(axis=1) if neg.any() else np.full(rows.size, -np.inf)
        vup = obj[:, pos].min(axis=1) if pos.any() else np.full(rows.size, np.inf)
        crit = np.maximum(0.0, truncnorm_quantile(1 - alphatilde, vlo, vup, dt[j], sigmabar))
        accept[rows] = 1.0 - (maxm[rows] + dt[j] > crit)
    return accept


def rm_confidence_set(betahat: np.ndarray, sigma: np.ndarray, num_pre: int, num_post: int,
                      l_vec: np.ndarray, mbar: float, *, alpha: float = 0.05,
                      grid_points: int = 1000, seed: int = 0) -> tuple[float, float, bool]:
    """The C-LF confidence set for ``l'τ`` under ΔRM(Mbar).

    As R's ``computeConditionalCS_DeltaRM(..., hybrid_flag = "LF")``.

    Returns
    -------
    (lb, ub, open_end)
        The smallest and largest accepted grid points (NaN when none is accepted) and whether
        an end of the grid was accepted (R warns that the set may then be longer).

    References
    ----------
    Rambachan, A., & Roth, J. (2023). A more credible approach to parallel trends. *Review of
    Economic Studies*, 90(5), 2555–2591. Andrews, I., Roth, J., & Pakes, A. (2023). Inference
    for linear conditional moment inequalities. *Review of Economic Studies*, 90(6).
    R package ``HonestDiD`` 0.2.8, ``deltarm.R`` and ``arp-nuisance.R``.
    """
    kappa = alpha / 10
    post = slice(num_pre, num_pre + num_post)
    sd_theta = math.sqrt(float(l_vec @ sigma[post, post] @ l_vec))
    grid = np.linspace(-20 * sd_theta, 20 * sd_theta, grid_points)
    accept = np.zeros(grid_points)
    gamma_inv = np.linalg.inv(construct_gamma(l_vec)) if num_post > 1 else None
    for s in range(-(num_pre - 1), 1):
        for positive in (True, False):
            a = create_a_rm(num_pre, num_post, mbar, s, positive)
            if num_post == 1:
                a = a[a[:, -1] != 0]
                acc = _no_nuisance_accept(betahat, sigma, a, num_pre, grid, alpha, kappa, seed)
            else:
                rows = np.flatnonzero(np.any(a[:, num_pre:] != 0, axis=1))
                assert gamma_inv is not None
                agi = a[:, num_pre:] @ gamma_inv
                x = agi[np.ix_(rows, np.arange(1, num_post))]
                a1 = agi[rows, 0]
                yv = (a @ betahat)[rows]
                sig_y = (a @ sigma @ a.T)[np.ix_(rows, rows)]
                lp = _DualLP(np.sqrt(np.diag(sig_y)), x)
                # R draws these with its default seed 0 whatever `seed` is
                lf_cv = _lf_cv_nuisance(x, sig_y, kappa, lp, 0)
                ys = yv[None, :] - np.outer(grid, a1)
                acc = _arp_nuisance_accept(ys, x, sig_y, alpha, kappa, lf_cv, lp)
            accept = np.maximum(accept, acc)
    if not accept.any():
        return float("nan"), float("nan"), False
    hit = grid[accept == 1]
    return float(hit.min()), float(hit.max()), bool(accept[0] == 1 or accept[-1] == 1)

"""Smoothness bounds (ΔSD) with the optimal fixed-length confidence interval (FLCI).

This follows R ``HonestDiD``'s ``findOptimalFLCI`` (``flci.R``): among affine estimators
``l_pre'β_pre + l'β_post`` it picks the one whose interval ``estimate ± cv(M·bias/sd)·sd`` is
shortest, where ``bias`` is the worst-case bias over ΔSD(1) and ``cv`` the 1 − alpha quantile of
a folded normal. R searches the standard deviation ``h`` between the least-variance estimator
(``hMin``) and the unbiased-under-linear-trends one (``h0``) by bisection on a numerical
derivative, and takes the folded-normal quantile from 10^6 draws after ``set.seed(0)``; both
are reproduced here, the draws bit for bit (:mod:`.honest_common`).

For a given ``h``, R minimizes the worst-case bias with CVXR/ECOS. In terms of the cumulative
weights ``c_j = w_1 + … + w_j`` (``c_K`` fixed by the target) the problem is to minimize
``Σ|c_j|`` over an ellipsoid. Its solution is, for some set of non-zero ``c_j`` with fixed
signs, the minimizer of a linear function over an ellipsoid in a subspace, which has a closed
form; every pattern of signs is tried (3^(K−1) of them for K pre-periods) and the best
consistent one is exact. Beyond 11 pre-periods the problem is solved numerically (SLSQP).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from evalkit.methods.did.honest_common import FoldedNormalQuantile

__all__ = ["flci", "sd_upper_bound_mpre"]

#: Patterns of signs are enumerated up to this many free cumulative weights (K − 1).
MAX_ENUMERATED = 10


def _diff_matrix(k: int) -> np.ndarray:
    """R's ``WtoLPreMat``: 1 on the diagonal, −1 below it."""
    m = np.eye(k)
    for col in range(k - 1):
        m[col + 1, col] = -1.0
    return m


@dataclass
class _BiasProblem:
    """Worst-case bias of the affine estimator as a function of its standard deviation."""

    sigma: np.ndarray
    num_pre: int
    l_vec: np.ndarray

    def __post_init__(self) -> None:
        k, npost = self.num_pre, self.l_vec.size
        s_pre = self.sigma[:k, :k]
        s_prepost = self.sigma[:k, k:]
        lmat = _diff_matrix(k)
        q = lmat.T @ s_pre @ lmat  # variance in w: w'Qw + a'w + c0
        a = 2 * lmat.T @ s_prepost @ self.l_vec
        c0 = float(self.l_vec @ self.sigma[k:, k:] @ self.l_vec)
        t = np.arange(1, npost + 1)
        self.target = float(t @ self.l_vec)  # c_K: sum of the weights
        self.constant = sum(abs(float(np.arange(1, s + 1) @ self.l_vec[npost - s:]))
                            for s in range(1, npost + 1)) - self.target
        d = _diff_matrix(k)  # w = D c
        d1, dk = d[:, :k - 1], d[:, k - 1]
        self.p = d1.T @ q @ d1
        self.q = d1.T @ (2 * q @ dk * self.target + a)
        self.r = float(self.target**2 * dk @ q @ dk + self.target * a @ dk + c0)
        self.d = d
        self._w_quad = (q, a, c0)
        self.free = k - 1
        if self.free:
            cstar = np.linalg.lstsq(2 * self.p, -self.q, rcond=None)[0]
            self.var_min = float(cstar @ self.p @ cstar + self.q @ cstar + self.r)
        else:
            self.var_min = self.r
        self._patterns = self._enumerate() if 0 < self.free <= MAX_ENUMERATED else None

    def _enumerate(self) -> dict[str, np.ndarray]:
        n = self.free
        m_list, dir_list, sig_list, v_list, sm_list, nrm_list = [], [], [], [], [], []
        for size in range(1, n + 1):
            for sup in itertools.combinations(range(n), size):
                idx = list(sup)
                pss = self.p[np.ix_(idx, idx)]
                qs = self.q[idx]
                try:
                    inv = np.linalg.inv(pss)
                except np.linalg.LinAlgError:
                    continue
                center = -inv @ qs / 2
                vmin = self.r - float(qs @ inv @ qs) / 4
                signs = np.array(list(itertools.product((-1.0, 1.0), repeat=size)))
                g = signs @ inv  # rows: P^{-1} σ
                nrm = np.sqrt(np.einsum("ij,ij->i", g, signs))
                full_m = np.zeros((signs.shape[0], n))
                full_m[:, idx] = center
                full_dir = np.zeros((signs.shape[0], n))
                full_dir[:, idx] = g / nrm[:, None]
                full_sig = np.zeros((signs.shape[0], n))
                full_sig[:, idx] = signs
                m_list.append(full_m)
                dir_list.append(full_dir)
                sig_list.append(full_sig)
                v_list.append(np.full(signs.shape[0], vmin))
                sm_list.append(signs @ center)
                nrm_list.append(nrm)
        return {"m": np.vstack(m_list), "dir": np.vstack(dir_list), "sig": np.vstack(sig_list),
                "v": np.concatenate(v_list), "sm": np.concatenate(sm_list),
                "nrm": np.concatenate(nrm_list)}

    def variance_of_c(self, c_free: np.ndarray) -> float:
        return float(c_free @ self.p @ c_free + self.q @ c_free + self.r)

    def solve(self, h: float) -> tuple[float, np.ndarray | None]:
        """Minimal worst-case bias (R's objective, M = 1) with sd ≤ h, and the weights ``w``.

        Returns ``(inf, None)`` when no estimator has sd ≤ h.
        """
        h2 = h * h
        tol = 1e-10 * max(h2, abs(self.r), 1e-300)
        if h2 < self.var_min - tol:
            return math.inf, None
        base = self.constant + abs(self.target)
        if self.free == 0:
            return base, self._w(np.zeros(0))
        best_val, best_c = (0.0, np.zeros(self.free)) if self.r <= h2 else (math.inf, None)
        if self._patterns is not None:
            pt = self._patterns
            rho2 = h2 - pt["v"]
            ok = rho2 >= -tol
            rho = np.sqrt(np.clip(rho2, 0.0, None))
            cs = pt["m"] - rho[:, None] * pt["dir"]
            scale = 1e-9 * (abs(self.target) + np.abs(cs).max(axis=1) + 1e-300)
            consistent = np.all(pt["sig"] * cs >= -scale[:, None], axis=1) & ok
            vals = np.where(consistent, np.abs(cs).sum(axis=1), np.inf)
            i = int(np.argmin(vals))
            if vals[i] < best_val:
                best_val, best_c = float(vals[i]), cs[i]
        else:
            best_val, best_c = self._numeric(h2, best_val, best_c)
        if best_c is None:  # h at the least variance, within rounding
            best_c = np.linalg.lstsq(2 * self.p, -self.q, rcond=None)[0]
            best_val = float(np.abs(best_c).sum())
        return base + best_val, self._w(best_c)

    def _numeric(self, h2: float, best_val: float,
                 best_c: np.ndarray | None) -> tuple[float, np.ndarray | None]:
        n = self.free
        start = np.linalg.lstsq(2 * self.p, -self.q, rcond=None)[0]
        x0 = np.concatenate([start, np.abs(start) + 1e-12])
        cons = [{"type": "ineq", "fun": lambda x: x[n:] - x[:n]},
                {"type": "ineq", "fun": lambda x: x[n:] + x[:n]},
                {"type": "ineq", "fun": lambda x: h2 - self.variance_of_c(x[:n])}]
        res = optimize.minimize(lambda x: x[n:].sum(), x0, method="SLSQP", constraints=cons,
                                options={"ftol": 1e-14, "maxiter": 1000})
        c = res.x[:n]
        val = float(np.abs(c).sum())
        if val < best_val:
            return val, c
        return best_val, best_c

    def _w(self, c_free: np.ndarray) -> np.ndarray:
        c = np.append(c_free, self.target)
        return self.d @ c


def _l_pre(w: np.ndarray) -> np.ndarray:
    return _diff_matrix(w.size) @ w


def flci(betahat: np.ndarray, sigma: np.ndarray, num_pre: int, num_post: int,
         l_vec: np.ndarray, m_values: np.ndarray, *, alpha: float = 0.05,
         num_points: int = 100, seed: int = 0) -> list[tuple[float, float, bool]]:
    """Optimal FLCIs for ``l'τ`` under ΔSD(M), one per M, as R's ``findOptimalFLCI``.

    Returns
    -------
    list of (lb, ub, numeric)
        The interval for each M, and whether the worst-case bias was found numerically
        (more than 11 pre-periods) rather than exactly.

    References
    ----------
    Rambachan, A., & Roth, J. (2023). A more credible approach to parallel trends. *Review of
    Economic Studies*, 90(5), 2555–2591. Armstrong, T. B., & Kolesár, M. (2018). Optimal
    inference in a class of regression models. *Econometrica*, 86(2), 655–683. R package
    ``HonestDiD`` 0.2.8, ``flci.R``.
    """
    prob = _BiasProblem(sigma, num_pre, l_vec)
    qf = FoldedNormalQuantile(seed=seed)
    p = 1 - alpha
    h0 = math.sqrt(max(prob.r, 0.0))
    h_min = math.sqrt(max(prob.var_min, 0.0))
    numeric = prob._patterns is None and prob.free > 0
    cache: dict[float, tuple[float, np.ndarray | None]] = {}

    def bias(h: float) -> tuple[float, np.ndarray | None]:
        if h not in cache:
            cache[h] = prob.solve(h)
        return cache[h]

    out = []
    for m in m_values:
        m = float(m)

        def f(h: float, m: float = m) -> float:
            val = bias(h)[0]
            if not math.isfinite(val):
                return math.nan
            return qf(p, m * val / h) * h

        hstar = _bisection(f, h_min, h0, num_points)
        if math.isnan(hstar):
            grid = np.linspace(h_min, h0, num_points)
            lengths = [f(h) for h in grid]
            finite = [i for i, v in enumerate(lengths) if not math.isnan(v)]
            i = min(finite, key=lambda j: lengths[j])
            hstar = float(grid[i])
        val, w = bias(hstar)
        assert w is not None
        half = qf(p, m * val / hstar) * hstar
        vec = np.concatenate([_l_pre(w), l_vec])
        centre = float(vec @ betahat)
        out.append((centre - half, centre + half, numeric))
    return out


def _bisection(f, a: float, b: float, num_points: int) -> float:
    """R's ``.findOptimalCIDerivativeBisection`` (NaN when it fails)."""
    failtol = math.sqrt(np.finfo(float).eps)
    dif = min((b - a) / num_points, abs(b) * np.finfo(float).eps ** (1 / 3))
    if not dif > 0:  # a single estimator (one pre-period): nothing to search
        return b
    fa, fb = f(a), f(b)
    fpa = (f(a + dif) - fa) / dif
    fpb = (f(b - dif) - fb) / -dif
    it = 1
    maxiter = 10 * math.ceil(math.log(abs(b - a) / dif) / math.log(2))
    if fpa > fpb or math.isnan(fa) or math.isnan(fb) or math.isnan(fpa) or math.isnan(fpb):
        return math.nan
    if fpb < 0:
        return b
    if fpa > 0:
        return a
    failed = False
    while not failed and abs(b - a) > dif:
        it += 1
        x = (a + b) / 2
        fpx = (f(x + dif) - f(x - dif)) / (2 * dif)
        failed = (fpx > fpb + failtol) or (fpx + failtol < fpa) or it > maxiter
        if fpx > 0:
            b = x
        else:
            a = x
    return math.nan if failed else (a + b) / 2


def sd_upper_bound_mpre(betahat: np.ndarray, sigma: np.ndarray, num_pre: int,
                        alpha: float = 0.05) -> float:
    """R's ``DeltaSD_upperBound_Mpre``: the end of R's default grid of M.

    The largest one-sided upper bound of the pre-period second differences (with δ_0 = 0).

    References
    ----------
    R package ``HonestDiD`` 0.2.8, ``ublbM_functions.R``.
    """
    from scipy import special

    atilde = np.zeros((num_pre - 1, num_pre + 1))
    for r in range(num_pre - 1):
        atilde[r, r:r + 3] = (1.0, -2.0, 1.0)
    atilde = atilde[:, :num_pre]
    a = np.vstack([atilde, -atilde])
    b = betahat[:num_pre]
    s = sigma[:num_pre, :num_pre]
    se = np.sqrt(np.diag(a @ s @ a.T))
    return float(np.max(a @ b + special.ndtri(1 - alpha) * se))

"""Numerical pieces shared by the honest sensitivity analyses (R ``HonestDiD``).

R's ``HonestDiD`` draws random numbers at two places: the least-favorable critical value of the
conditional-least-favorable hybrid (1,000 draws of ``mvtnorm::rmvnorm`` after
``set.seed(0)``) and the folded-normal quantile of the FLCI (10^6 draws of ``rnorm`` after
``set.seed(0)``). To give R's numbers rather than numbers that differ from them by simulation
noise, this module reproduces R's default generator: Mersenne-Twister seeded as R's
``set.seed`` seeds it, and normals by R's ``"Inversion"`` rule. It also holds R's quantile
(type 7) and the truncated-normal quantile of ``TruncatedNormal::norminvp``.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import special

__all__ = ["r_rnorm", "r_rmvnorm", "r_quantile", "truncnorm_quantile",
           "truncnorm_quantile_scalar"]

_TWO_M32 = 2.3283064365386963e-10  # 2^-32, R's MT_genrand scaling
_BIG = 134217728.0  # 2^27, R's norm_rand (INVERSION)


def _r_generator(seed: int) -> np.random.MT19937:
    """Mersenne-Twister in the state R's ``set.seed(seed)`` leaves it (R's ``RNG_Init``)."""
    s = int(seed) & 0xFFFFFFFF
    for _ in range(50):  # R's initial scrambling
        s = (69069 * s + 1) & 0xFFFFFFFF
    key = np.empty(625, dtype=np.uint32)
    for j in range(625):
        s = (69069 * s + 1) & 0xFFFFFFFF
        key[j] = s
    bg = np.random.MT19937()
    # the first word is R's position counter (set to 624 by FixupSeeds)
    bg.state = {"bit_generator": "MT19937", "state": {"key": key[1:], "pos": 624}}
    return bg


def _r_unif(bg: np.random.MT19937, n: int) -> np.ndarray:
    u = bg.random_raw(n).astype(float) * _TWO_M32
    # R's fixup keeps draws inside (0, 1)
    i2_32m1 = 2.328306437080797e-10
    u[u <= 0.0] = 0.5 * i2_32m1
    u[1.0 - u <= 0.0] = 1.0 - 0.5 * i2_32m1
    return u


def r_rnorm(n: int, seed: int = 0) -> np.ndarray:
    """``set.seed(seed); rnorm(n)`` in R (Mersenne-Twister, Inversion).

    References
    ----------
    R Core Team, ``src/main/RNG.c`` and ``src/nmath/snorm.c`` (``norm_rand``, ``INVERSION``).
    """
    u = _r_unif(_r_generator(seed), 2 * n)
    return special.ndtri((np.floor(_BIG * u[0::2]) + u[1::2]) / _BIG)


@functools.lru_cache(maxsize=2)
def _cached_rnorm(n: int, seed: int) -> np.ndarray:
    z = r_rnorm(n, seed)
    z.setflags(write=False)
    return z


def r_rmvnorm(n: int, sigma: np.ndarray, seed: int = 0) -> np.ndarray:
    """``set.seed(seed); mvtnorm::rmvnorm(n, sigma = sigma)`` (its default ``"eigen"`` method).

    The draws are ``Z R`` with ``Z`` the ``n × d`` standard normals filled by row and ``R`` the
    symmetric square root ``V diag(sqrt(max(λ, 0))) V'`` of ``sigma``.
    """
    sigma = np.asarray(sigma, float)
    d = sigma.shape[0]
    lam, vec = np.linalg.eigh((sigma + sigma.T) / 2)
    root = (vec * np.sqrt(np.maximum(lam, 0.0))) @ vec.T
    z = r_rnorm(n * d, seed).reshape(n, d)
    return z @ root


def r_quantile(x: np.ndarray, p: float) -> float:
    """R's ``quantile(x, p)`` (type 7) of a vector, NaN values removed."""
    x = np.asarray(x, float)
    x = x[~np.isnan(x)]
    n = x.size
    index = 1 + (n - 1) * p
    lo = int(np.floor(index))
    hi = int(np.ceil(index))
    part = np.partition(x, sorted({lo - 1, hi - 1}))
    q = float(part[lo - 1])
    h = index - lo
    if index > lo and part[hi - 1] != q:
        q = (1 - h) * q + h * float(part[hi - 1])
    return q


def _kth_of_two(a: np.ndarray, b: np.ndarray, k: int) -> float:
    """The k-th smallest (0-based) of the union of two sorted arrays."""
    lo, hi = max(0, k + 1 - b.size), min(k + 1, a.size)
    while lo < hi:  # i = how many come from a
        i = (lo + hi) // 2
        j = k + 1 - i
        if j > 0 and i < a.size and b[j - 1] > a[i]:
            lo = i + 1
        else:
            hi = i
    i = lo
    j = k + 1 - i
    cands = []
    if i > 0:
        cands.append(a[i - 1])
    if j > 0:
        cands.append(b[j - 1])
    return float(max(cands))


class FoldedNormalQuantile:
    """R ``HonestDiD``'s ``.qfoldednormal``: a quantile of ``|Z + mu|`` from 10^6 normal draws.

    R draws ``rnorm(1e6)`` after ``set.seed(0)`` on every call and takes the type-7 quantile of
    ``abs(draws + mu)``. The same draws are used here, sorted once, so each quantile is read off
    in logarithmic time (the order statistics of ``|Z + mu|`` merge two sorted runs).
    """

    def __init__(self, num_sims: int = 10**6, seed: int = 0) -> None:
        self.z = np.sort(_cached_rnorm(num_sims, seed))

    def __call__(self, p: float, mu: float) -> float:
        z = self.z
        n = z.size
        cut = int(np.searchsorted(z, -mu, side="left"))
        # values z + mu for z >= -mu ascend; -(z + mu) for z < -mu ascend read backwards
        up = z[cut:] + mu
        down = -(z[:cut][::-1] + mu)
        index = 1 + (n - 1) * p
        lo = int(np.floor(index))
        hi = int(np.ceil(index))
        q = _kth_of_two(up, down, lo - 1)
        if index > lo:
            q_hi = _kth_of_two(up, down, hi - 1)
            if q_hi != q:
                h = index - lo
                q = (1 - h) * q + h * q_hi
        return q


def _phinv(p: np.ndarray, lo: np.ndarray, up: np.ndarray) -> np.ndarray:
    flip = up < 0
    lo2 = np.where(flip, -lo, lo)
    up2 = np.where(flip, -up, up)
    pl = special.ndtr(-lo2)  # upper tails
    pu = special.ndtr(-up2)
    x = -special.ndtri(pl + (pu - pl) * p)
    return np.where(flip, -x, x)


def _qfun(x: np.ndarray) -> np.ndarray:
    return np.exp(0.5 * x**2 + special.log_ndtr(-x))


def _normq(p: np.ndarray, lo: np.ndarray, up: np.ndarray) -> np.ndarray:
    x = np.full(lo.shape, np.nan)
    big = lo > 1e5
    x[big] = np.sqrt(lo[big] ** 2 - 2 * np.log1p(p[big] * np.expm1(lo[big] ** 2 / 2
                                                                      - up[big] ** 2 / 2)))
    rest = ~big
    if rest.any():
        p1, l1, u1 = p[rest], lo[rest], up[rest]
        ql = _qfun(l1)
        qu = np.where(np.isinf(u1), 0.0, _qfun(np.where(np.isinf(u1), 0.0, u1)))
        l2, u2 = l1**2, u1**2
        xx = np.sqrt(l2 - 2 * np.log1p(p1 * np.expm1(l2 / 2 - u2 / 2)))
        for _ in range(200):
            delta = (-_qfun(xx) + (1 - p1) * np.exp(0.5 * (xx**2 - l2)) * ql
                     + p1 * np.exp(0.5 * (xx**2 - u2)) * qu)
            xx = xx - delta
            if np.max(np.abs(delta)) <= 1e-10:
                break
        x[rest] = xx
    return x


def truncnorm_quantile_scalar(p: float, lo: float, up: float) -> float:
    """:func:`truncnorm_quantile` of a standard normal for one interval (no array overhead)."""
    if p >= 1:
        return up
    if p <= 0:
        return lo
    if lo > 35 or up < -35:
        return float(truncnorm_quantile(p, lo, up)[0])
    flip = up < 0
    a, b = (-lo, -up) if flip else (lo, up)
    pl = special.ndtr(-a)
    x = -float(special.ndtri(pl + (special.ndtr(-b) - pl) * p))
    return -x if flip else x


def truncnorm_quantile(p: float, lo: np.ndarray | float, up: np.ndarray | float,
                       mu: np.ndarray | float = 0.0, sd: np.ndarray | float = 1.0) -> np.ndarray:
    """Quantile ``p`` of N(mu, sd²) truncated to ``[lo, up]`` (vectorized over the bounds).

    As R ``HonestDiD``'s ``.norminvp_generalized``, which standardizes and calls
    ``TruncatedNormal::norminvp``: the inverse-CDF formula on upper-tail probabilities, with
    Newton's method beyond 35 standard deviations.

    References
    ----------
    Botev, Z. I. (2017). The normal law under linear restrictions: simulation and estimation
    via minimax tilting. *JRSS B*, 79(1), 125–148 (R package ``TruncatedNormal``).
    """
    mu_a = np.asarray(mu, float)
    sd_a = np.asarray(sd, float)
    a, b, mu_a, sd_a = np.broadcast_arrays(np.atleast_1d((np.asarray(lo, float) - mu_a) / sd_a),
                                           np.atleast_1d((np.asarray(up, float) - mu_a) / sd_a),
                                           np.atleast_1d(mu_a), np.atleast_1d(sd_a))
    a = a.astype(float).copy()
    b = b.astype(float).copy()
    if p >= 1:
        q = b
    elif p <= 0:
        q = a
    else:
        pp = np.full(a.shape, float(p))
        q = np.full(a.shape, np.nan)
        right = a > 35
        left = (b < -35) & ~right
        mid = ~(right | left)
        if right.any():
            q[right] = _normq(pp[right], a[right], b[right])
        if left.any():
            q[left] = -_normq(1 - pp[left], -b[left], -a[left])
        if mid.any():
            q[mid] = _phinv(pp[mid], a[mid], b[mid])
    return mu_a + q * sd_a

"""The Cox partial-likelihood engine that :func:`evalkit.methods.cox.cox` builds on.

It computes risk-set sums per stratum (Breslow and Efron ties), Newton–Raphson with step
halving, singular-column detection and Harrell's concordance, as R's ``survival``
(``coxph.fit``, ``agreg``, ``concordance``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from evalkit.exceptions import DataProblem, EvalDataError

__all__ = ["concordance"]


@dataclass
class _Stratum:
    X: np.ndarray  # centered covariates, rows sorted by time
    time: np.ndarray
    event: np.ndarray
    w: np.ndarray
    rows: np.ndarray  # original row positions
    entry: np.ndarray | None = None  # interval starts of (start, stop] data, else None
    ut: np.ndarray = field(init=False)
    start: np.ndarray = field(init=False)  # first row of each distinct time
    u_of_row: np.ndarray = field(init=False)
    dead: np.ndarray = field(init=False)
    wx_dead: np.ndarray = field(init=False)  # Σ w x over the events
    ties: dict = field(init=False, default_factory=dict)  # (u, f, mw) by tie method, lazily

    def __post_init__(self) -> None:
        # rows are sorted by time, so distinct times start where the time changes
        new = np.concatenate([[True], self.time[1:] != self.time[:-1]])
        self.start = np.flatnonzero(new)
        self.ut = self.time[self.start]
        self.u_of_row = np.cumsum(new) - 1
        self.dead = self.event > 0
        self.wx_dead = (self.w[:, None] * self.X)[self.dead].sum(axis=0)
        self._dcount = np.add.reduceat(self.dead.astype(float), self.start)
        self._dw = np.add.reduceat(np.where(self.dead, self.w, 0.0), self.start)
        # covariates one per row of a contiguous array, so that the per-time sums and the
        # weighted cross-products run along contiguous memory; the events on their own
        self.XT = np.ascontiguousarray(self.X.T)
        self.dead_rows = np.flatnonzero(self.dead)
        du = self.u_of_row[self.dead_rows]
        self.dead_start = np.flatnonzero(np.concatenate([[True], du[1:] != du[:-1]])) \
            if du.size else np.zeros(0, int)
        self.dead_u = du[self.dead_start]
        self.XdT = np.ascontiguousarray(self.XT[:, self.dead_rows])
        self.w_dead = self.w[self.dead_rows]
        self._buf: np.ndarray | None = None
        # (start, stop] data: a row is at risk at the distinct times u with kr <= u <= its own
        # (kr counts the distinct times at or before its start), R's rule start < t <= stop
        self.kr = (np.searchsorted(self.ut, self.entry, side="right")
                   if self.entry is not None else None)

    def buffer(self) -> np.ndarray:
        """Scratch space shaped like ``XT``, reused by every likelihood evaluation."""
        if self._buf is None:
            self._buf = np.empty_like(self.XT)
        return self._buf

    def tie_rows(self, efron: bool):
        """The (time, tie) rows for Efron or Breslow, built once per method."""
        if efron not in self.ties:
            self.ties[efron] = _tie_rows(self._dcount, self._dw, efron)
        return self.ties[efron]


def _rcumsum(a: np.ndarray) -> np.ndarray:
    return a[::-1].cumsum(axis=0)[::-1]


def _tie_rows(dcount: np.ndarray, dw: np.ndarray, efron: bool):
    """The (time, tie) rows of the partial likelihood: time index, Efron fraction, weight."""
    has = np.flatnonzero(dcount > 0)
    if not efron:
        return has, np.zeros(has.size), dw[has]
    reps = dcount[has].astype(int)
    u = np.repeat(has, reps)
    j = np.arange(u.size) - np.repeat(np.cumsum(reps) - reps, reps)
    f = j / np.repeat(reps, reps)
    return u, f, np.repeat(dw[has] / reps, reps)


@dataclass
class _TimeSums:
    """Risk-set sums of one stratum at one coefficient vector, per distinct time."""

    s: _Stratum
    eta: np.ndarray
    ex: np.ndarray
    r: np.ndarray
    rd: np.ndarray
    S1: np.ndarray
    D1: np.ndarray
    u: np.ndarray  # time index of each (time, tie) row
    f: np.ndarray  # Efron fraction of each row
    mw: np.ndarray  # weight of each row (mean case weight of the time's deaths)
    Dj: np.ndarray  # denominator of each row
    a0: np.ndarray  # Σ mw/Dj per time
    a1: np.ndarray  # Σ mw f/Dj per time
    loglik: float

    def mean(self) -> np.ndarray:
        """Σ over the rows of each time of the expected covariate (the compensator of x)."""
        return self.S1 * self.a0[:, None] - self.D1 * self.a1[:, None]

    def info(self, h: np.ndarray | None = None) -> np.ndarray:
        """Σ_t h_t · I_t, the information contributed at each time t weighted by ``h``.

        Each I_t is ``Σ_j mw/Dj · (S2 − f D2) − Σ_j mw/Dj² · (S1 − f D1)(S1 − f D1)'``; the
        S2 and D2 parts are folded into one weighted cross-product of the rows, so no
        per-time p×p array is ever built.
        """
        s = self.s
        nu = s.start.size
        h = np.ones(nu) if h is None else h
        wts = self.mw / self.Dj**2
        b0 = np.bincount(self.u, weights=wts, minlength=nu) * h
        b1 = np.bincount(self.u, weights=wts * self.f, minlength=nu) * h
        b2 = np.bincount(self.u, weights=wts * self.f * self.f, minlength=nu) * h
        ui = s.u_of_row
        if s.kr is None:
            row_w = self.r * np.cumsum(h * self.a0)[ui] - self.rd * (h * self.a1)[ui]
        else:
            ca = np.cumsum(h * self.a0)
            row_w = self.r * (ca[ui] - _before_entry(s, ca)) - self.rd * (h * self.a1)[ui]
        out = np.multiply(s.XT, row_w, out=s.buffer()) @ s.X
        S1, D1 = self.S1, self.D1
        cross = (S1 * b1[:, None]).T @ D1
        out -= (S1 * b0[:, None]).T @ S1
        out += cross + cross.T
        out -= (D1 * b2[:, None]).T @ D1
        return out


def _time_sums(s: _Stratum, beta: np.ndarray, efron: bool) -> _TimeSums:
    """Risk-set sums per distinct time: ``S`` over everyone at risk, ``D`` over that time's events.

    ``S`` is summed backwards from the last time, as R's C code does, so small late risk sets
    are not swamped. Covariates are centred, as R centres them, which keeps the sums of ``r·x``
    from cancelling.
    """
    w = s.w
    eta = beta @ s.XT
    ex = np.exp(eta)
    r = w * ex
    idx = s.start
    nu = idx.size
    p = s.XT.shape[0]
    if s.kr is None:
        S0 = _rcumsum(np.add.reduceat(r, idx))
        S1 = _rcumsum(np.add.reduceat(np.multiply(s.XT, r, out=s.buffer()), idx, axis=1).T)
    else:
        S0, S1 = _entry_sums(s, r)
    r_dead = r[s.dead_rows]
    rd = np.zeros_like(r)
    rd[s.dead_rows] = r_dead
    D0 = np.zeros(nu)
    D1 = np.zeros((nu, p))
    if r_dead.size:
        D0[s.dead_u] = np.add.reduceat(r_dead, s.dead_start)
        D1[s.dead_u] = np.add.reduceat(s.XdT * r_dead, s.dead_start, axis=1).T
    u, f, mw = s.tie_rows(efron)
    Dj = S0[u] - f * D0[u]
    inv = mw / Dj
    a0 = np.bincount(u, weights=inv, minlength=nu)
    a1 = np.bincount(u, weights=inv * f, minlength=nu)
    loglik = float((s.w_dead * eta[s.dead_rows]).sum() - (mw * np.log(Dj)).sum())
    return _TimeSums(s, eta, ex, r, rd, S1, D1, u, f, mw, Dj, a0, a1, loglik)


def _entry_sums(s: _Stratum, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Risk-set sums of (start, stop] rows: added at their stop, removed before their start.

    Walking back from the last time, a row joins at its stop time and leaves once the times
    reach its start (as R's ``agfit4`` does), so the running sums stay the size of the risk
    set rather than being a difference of two totals.
    """
    idx = s.start
    nu = idx.size
    kr = s.kr
    assert kr is not None
    S0 = _rcumsum(np.add.reduceat(r, idx) - np.bincount(kr, weights=r, minlength=nu + 1)[1:])
    xr = np.multiply(s.XT, r, out=s.buffer())
    add = np.add.reduceat(xr, idx, axis=1)
    for j in range(add.shape[0]):
        add[j] -= np.bincount(kr, weights=xr[j], minlength=nu + 1)[1:]
    return S0, _rcumsum(add.T)


def _before_entry(s: _Stratum, c: np.ndarray) -> np.ndarray:
    """Per row, the cumulated per-time values ``c`` up to the last time before its entry."""
    assert s.kr is not None
    pad = np.concatenate([np.zeros((1,) + c.shape[1:]), c])
    return pad[s.kr]


def _stratum_terms(s: _Stratum, beta: np.ndarray, efron: bool, need_info: bool = True,
                   need_resid: bool = False):
    """Log partial likelihood, score and information of one stratum (and score residuals).

    Efron's terms at a time with ``d`` tied deaths average over ``j = 0..d-1`` denominators
    ``S0 − (j/d)·D0``; every sum over ``j`` is a scalar per time, so the p×p algebra is done
    once per distinct time, not once per death.
    """
    ts = _time_sums(s, beta, efron)
    X = s.X
    dead = s.event > 0
    score = s.wx_dead - ts.mean().sum(axis=0)
    info = ts.info() if need_info else None
    resid = None
    if need_resid:
        u, f, Dj = ts.u, ts.f, ts.Dj
        nu = s.start.size
        A = (ts.S1[u] - f[:, None] * ts.D1[u]) / Dj[:, None]
        haz = ts.mw / Dj  # hazard increment of each (time, tie) row
        ev = np.zeros((nu, X.shape[1]))
        np.add.at(ev, u, haz[:, None] * A)
        ef = np.zeros_like(ev)
        np.add.at(ef, u, (f * haz)[:, None] * A)
        abar = np.zeros_like(ev)
        cnt = np.bincount(u, minlength=nu).astype(float)
        np.add.at(abar, u, A)
        abar = abar / np.maximum(cnt, 1)[:, None]
        C, E = np.cumsum(ts.a0), np.cumsum(ev, axis=0)
        ui = s.u_of_row
        ex = ts.ex
        if s.kr is not None:
            C_in = C[ui] - _before_entry(s, C)
            E_in = E[ui] - _before_entry(s, E)
        else:
            C_in, E_in = C[ui], E[ui]
        resid = (-(ex[:, None] * (X * C_in[:, None] - E_in))
                 + np.where(dead[:, None], X - abar[ui], 0.0)
                 + np.where(dead[:, None], ex[:, None] * (X * ts.a1[ui][:, None] - ef[ui]),
                            0.0))
    return ts.loglik, score, info, resid


def _fit_terms(strata: list[_Stratum], beta, efron, need_info=True, need_resid=False):
    ll, U, I, R = 0.0, 0.0, 0.0, []
    for s in strata:
        a, b, c, d = _stratum_terms(s, beta, efron, need_info, need_resid)
        ll += a
        U = U + b
        if need_info:
            I = I + c
        if need_resid:
            R.append(d)
    return ll, U, I, R


def _prior_weight_below(r: np.ndarray, w: np.ndarray) -> np.ndarray:
    """For each position i, the total weight of earlier positions j < i with ``r[j] < r[i]``.

    ``r`` holds non-negative integer ranks. A bottom-up merge over blocks of doubling size,
    each level a few vectorized passes: O(n log² n) with no Python loop over elements.
    """
    n = r.size
    out = np.zeros(n)
    if n < 2:
        return out
    m = int(r.max()) + 1
    order = np.arange(n)
    size = 1
    while size < n:
        b = order // size
        pair = b // 2
        left = (b % 2) == 0
        key = pair * m + r[order]
        kl = key[left]
        cw = np.concatenate([[0.0], np.cumsum(w[order[left]])])
        right = ~left
        q = key[right]
        hi = np.searchsorted(kl, q, side="left")
        lo = np.searchsorted(kl, pair[right] * m, side="left")
        out[order[right]] += cw[hi] - cw[lo]
        order = order[np.argsort(key, kind="stable")]
        size *= 2
    return out


def _concordance_counts(time, event, risk, w, entry=None):
    """Weighted concordant, discordant and tied-risk pair counts of one stratum.

    With ``entry`` ((start, stop] data), an event is compared with the rows at risk at its
    time, ``entry < t <= stop``, other than the events at that same time: the counts over
    every row with a later stop (or censored at ``t``) less those over the rows that have
    not yet entered, ``entry >= t``.
    """
    rt = np.unique(time, return_inverse=True)[1]
    key = 2 * rt + (event == 0)  # a censored time sorts after events at the same time
    rx = np.unique(risk, return_inverse=True)[1]
    # processing order: later keys first, so "earlier in the order" means "longer time";
    # within a key, order by risk so that same-key pairs are never counted
    order_a = np.lexsort((-rx, -key))  # same key: higher risk first -> not "below"
    order_b = np.lexsort((rx, -key))  # same key: lower risk first -> not "above"
    below = np.empty(time.size)
    below[order_a] = _prior_weight_below(rx[order_a], w[order_a])
    top = rx.max()
    above = np.empty(time.size)
    above[order_b] = _prior_weight_below(top - rx[order_b], w[order_b])
    # total weight with a strictly greater key
    ks, inv = np.unique(key, return_inverse=True)
    wk = np.bincount(inv, weights=w, minlength=ks.size)
    greater = wk[::-1].cumsum()[::-1] - wk
    ev = event > 0
    we = w[ev]
    below_e, above_e, at_risk = below[ev], above[ev], greater[inv][ev]
    if entry is not None:
        nb, na, nt = _not_entered(np.asarray(entry, float), time[ev], rx, rx[ev], w)
        below_e, above_e, at_risk = below_e - nb, above_e - na, at_risk - nt
    conc = float((we * below_e).sum())
    disc = float((we * above_e).sum())
    tied = float((we * (at_risk - below_e - above_e)).sum())
    return conc, disc, tied


def _not_entered(entry, t_ev, rx, rx_ev, w):
    """Per event, the weight of rows with ``entry >= t`` and lower, higher and any risk rank.

    Rows and events go in one sequence by time from the last back (at the same time, rows
    before events), so the rows "earlier" than an event are those that enter at or after its
    time; events carry no weight of their own.
    """
    n, m = entry.size, t_ev.size
    tt = np.concatenate([entry, t_ev])
    is_ev = np.concatenate([np.zeros(n, bool), np.ones(m, bool)])
    rr = np.concatenate([rx, rx_ev])
    ww = np.concatenate([w, np.zeros(m)])
    order = np.lexsort((is_ev, -tt))
    below = np.empty(n + m)
    below[order] = _prior_weight_below(rr[order], ww[order])
    above = np.empty(n + m)
    above[order] = _prior_weight_below(int(rr.max()) - rr[order], ww[order])
    total = np.empty(n + m)
    total[order] = np.cumsum(ww[order])
    return below[n:], above[n:], total[n:]


def concordance(time: np.ndarray, event: np.ndarray, risk: np.ndarray,
                strata: np.ndarray | None = None, weights: np.ndarray | None = None) -> dict:
    """Harrell's concordance of a risk score with survival, counted as R's ``concordance``.

    A pair is comparable when the shorter time is an event (an event tied with a censored
    time counts the censored one as longer; two events at the same time are not compared).
    It is concordant when the earlier event has the higher risk score; tied scores count
    one half. Pairs are formed within strata only; with weights, a pair counts the product
    of its weights.

    Returns
    -------
    dict
        ``concordance, concordant, discordant, tied_risk`` (weighted pair counts).
    """
    time = np.asarray(time, float)
    event = np.asarray(event, float)
    risk = np.asarray(risk, float)
    w = np.ones_like(time) if weights is None else np.asarray(weights, float)
    strata = np.zeros(time.size, int) if strata is None else np.asarray(strata)
    conc = disc = tied = 0.0
    for s in np.unique(strata):
        m = strata == s
        c, d, t = _concordance_counts(time[m], event[m], risk[m], w[m])
        conc, disc, tied = conc + c, disc + d, tied + t
    denom = conc + disc + tied
    return {"concordance": (conc + tied / 2) / denom if denom else float("nan"),
            "concordant": conc, "discordant": disc, "tied_risk": tied}


@dataclass
class _Fit:
    beta: np.ndarray
    loglik: float
    score_vec: np.ndarray
    info: np.ndarray
    loglik_null: float
    score_stat: float
    iterations: int
    converged: bool
    singular: list


def covariate_spread(parts: list[_Stratum]) -> tuple[float, np.ndarray]:
    """The summed event weights and each covariate's weighted variance over every row.

    Their product is the information a covariate would carry if every risk set had its
    overall spread: the scale against which :func:`_singular_columns` judges an information
    that should be zero.
    """
    X = np.concatenate([s.X for s in parts])
    w = np.concatenate([s.w for s in parts])
    events = float(sum(s.w[s.dead].sum() for s in parts))
    mean = np.average(X, axis=0, weights=w)
    return events, np.average((X - mean) ** 2, axis=0, weights=w)


def _singular_columns(I: np.ndarray, toler: float = np.finfo(float).eps ** 0.75,
                      scale: np.ndarray | None = None) -> list[int]:
    """Columns that R's ``cholesky2`` finds redundant in an information matrix.

    The matrix is first put on the correlation scale (R scales the covariates before fitting),
    then factored ``LDL'``: a pivot below ``toler`` times the largest diagonal marks its column
    as singular (``toler`` is ``coxph.control``'s ``toler.chol``).

    A covariate that does not vary within any risk set has an information of zero, which
    arithmetic leaves as rounding noise (1e-17 where R may get exactly 0). Put on its own
    scale, that noise would pass as a pivot of 1; so with ``scale`` (the information each
    column would carry at its overall spread, :func:`covariate_spread`), a diagonal at or
    below ``toler`` times its scale marks the column as singular first.
    """
    d = np.diag(I).copy()
    bad = [j for j in range(d.size) if not (math.isfinite(d[j]) and d[j] > 0)
           or (scale is not None and d[j] <= toler * scale[j])]
    ok = [j for j in range(d.size) if j not in bad]
    if not ok:
        return bad
    unit = np.zeros_like(d)
    unit[ok] = 1 / np.sqrt(d[ok])
    M = I * unit[:, None] * unit[None, :]
    M = M.copy()
    n = d.size
    for i in range(n):
        pivot = M[i, i]
        if i in bad or not math.isfinite(pivot) or pivot < toler:
            if i not in bad:
                bad.append(i)
            continue
        for j in range(i + 1, n):
            t = M[j, i] / pivot
            M[j, j] -= t * t * pivot
            M[j + 1:, j] -= t * M[j + 1:, i]
            M[j, i] = t
    return sorted(bad)


def _newton(parts: list[_Stratum], efron: bool, p: int, max_iter: int, eps: float,
            scale: np.ndarray) -> _Fit:
    """Newton–Raphson with step halving, by the rules of R survival's ``coxfit6.c``.

    Convergence is judged first: the fit is done as soon as the new log-likelihood differs
    from the best so far by a relative ``eps`` or less, ``|1 − best/new| <= eps``. Only
    otherwise does a lower log-likelihood trigger step halving (each halving uses an
    iteration, and R's halvings get more aggressive: the new point moves to
    ``(new + k·old)/(k + 1)``). A log-likelihood that differs from the last one only by
    rounding (a plateau at the last digits of a sum over a million rows) therefore ends the
    fit instead of starting a run of halvings on noise.

    ``scale``: each covariate's information at its overall spread (:func:`covariate_spread`),
    against which a singular information is judged.
    """
    beta = np.zeros(p)
    ll0, U0, I0, _ = _fit_terms(parts, beta, efron)
    singular = _singular_columns(I0, scale=scale)
    if singular:
        return _Fit(beta, ll0, U0, I0, ll0, float("nan"), 0, False, singular)
    step = _solve(I0, U0)
    score_stat = float(U0 @ step) if step is not None else float("nan")
    if step is None or not math.isfinite(ll0):
        return _Fit(beta, ll0, U0, I0, ll0, score_stat, 0, False, [])
    best, U, I = ll0, U0, I0
    new = beta + step
    halving = 0
    for it in range(1, max_iter + 1):
        ll_new, U_new, I_new, _ = _fit_terms(parts, new, efron)
        finite = (math.isfinite(ll_new) and bool(np.all(np.isfinite(U_new)))
                  and bool(np.all(np.isfinite(I_new))))
        if finite and abs(ll_new - best) <= eps * abs(ll_new):
            return _Fit(new, ll_new, U_new, I_new, ll0, score_stat, it, True, [])
        if not finite or ll_new < best:
            halving += 1
            new = (new + halving * beta) / (halving + 1)
            continue
        halving = 0
        step = _solve(I_new, U_new)
        if step is None:
            return _Fit(new, ll_new, U_new, I_new, ll0, score_stat, it, False,
                        _singular_columns(I_new, scale=scale) or list(range(p)))
        best, beta, U, I = ll_new, new, U_new, I_new
        new = beta + step
    # out of iterations: R returns the last accepted point with a warning
    return _Fit(beta, best, U, I, ll0, score_stat, max_iter, False, [])


def _solve(I: np.ndarray, U: np.ndarray) -> np.ndarray | None:
    """``I⁻¹ U`` by Cholesky, or ``None`` when ``I`` is not positive definite."""
    try:
        c = np.linalg.cholesky(I)
    except np.linalg.LinAlgError:
        return None
    y = np.linalg.solve(c, U)
    out = np.linalg.solve(c.T, y)
    return out if np.all(np.isfinite(out)) else None


def _check_intervals(start: np.ndarray, stop: np.ndarray, start_col: str, stop_col: str,
                     youth: np.ndarray | None, source: str | None, after_timefix: bool = False
                     ) -> None:
    """Refuse (start, stop] rows whose interval is empty or reversed (R's ``Surv`` drops them).

    Rows are named 1-based, with the number of youth concerned when a cluster (youth) column
    is given; identifiers themselves are not shown.
    """
    bad = np.flatnonzero(~(stop > start))
    if not bad.size:
        return
    who = ""
    if youth is not None:
        k = int(np.unique(youth[bad]).size)
        who = f" ({k} youth)" if k != 1 else " (1 youth)"
    why = (" once times that differ only by rounding are made equal (R's timefix)"
           if after_timefix else "")
    raise EvalDataError([DataProblem(
        start_col, f"has intervals that end at or before they start{who}{why}: '{stop_col}' "
        f"must be later than '{start_col}' on every row", f"'{start_col}' < '{stop_col}' "
        "(each row the interval (start, stop] of follow-up)",
        rows=tuple(int(i) + 1 for i in bad[:8]), n_rows=int(bad.size))], source=source)

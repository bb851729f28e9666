"""The 2×2 comparisons of repeated cross-sections and weighted panels, as R's ``DRDID``.

:func:`~evalkit.methods.did.staggered.staggered` uses these for ``panel=False`` (and for
unbalanced panels with ``allow_unbalanced_panel=True``, which R's ``did`` estimates as repeated
cross-sections): the doubly robust (``drdid_rc``), normalized inverse-probability-weighted
(``std_ipw_did_rc``) and outcome-regression (``reg_did_rc``) estimators of Sant'Anna & Zhao
(2020), each with its influence function (one value per observation of the comparison), and
with sampling weights normalised to mean one as DRDID normalises ``i.weights``.

:func:`did_panel_weighted` is the weighted form of the panel estimators (``drdid_panel``,
``reg_did_panel``, ``std_ipw_did_panel``) used when ``staggered`` is given ``weights=``.

As in DRDID, comparison observations whose propensity score reaches ``TRIM_LEVEL`` (0.995)
are left out of the propensity-weighted terms (``trim.level``).

References
----------
Sant'Anna, P. H. C., & Zhao, J. (2020). Doubly robust difference-in-differences estimators.
*Journal of Econometrics*, 219(1), 101–122.

R package ``DRDID`` (``drdid_rc.R``, ``std_ipw_did_rc.R``, ``reg_did_rc.R``,
``drdid_panel.R``, ``std_ipw_did_panel.R``, ``reg_did_panel.R``),
https://github.com/pedrohcgs/DRDID.
"""

from __future__ import annotations

import numpy as np

from evalkit.methods.did.drdid import _CellFailed, _logit, cell_guards

__all__ = ["TRIM_LEVEL", "did_rc", "did_panel_weighted"]

#: DRDID's ``trim.level``: comparison observations with a propensity score at or above this
#: are left out of the propensity-weighted terms.
TRIM_LEVEL = 0.995


def _wlogit(X: np.ndarray, d: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted logistic-regression propensity scores (R's ``glm`` with ``weights``)."""
    if X.shape[1] == 1:  # intercept only: the MLE is the weighted share treated
        return np.full(d.size, min(float(np.sum(w * d) / np.sum(w)), 1 - 1e-6))
    return _logit(X, d, w)


def _wols(X: np.ndarray, y: np.ndarray, w: np.ndarray, keep: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least squares on the rows ``keep``.

    Returns the fitted values for every row and the asymptotic linear representation of the
    coefficients (DRDID's ``asy.lin.rep.ols``).
    """
    n = y.size
    wk = w * keep
    if X.shape[1] == 1:
        sw = wk.sum()
        if sw <= 0:
            raise _CellFailed("the outcome regression has no observations")
        mu = float(np.sum(wk * y) / sw)
        fitted = np.full(n, mu)
        xpx = sw / n
        return fitted, (wk * (y - fitted) / xpx)[:, None]
    xtx = (X * wk[:, None]).T @ X
    try:
        beta = np.linalg.solve(xtx, X.T @ (wk * y))
    except np.linalg.LinAlgError:
        raise _CellFailed("the outcome regression is singular") from None
    fitted = X @ beta
    xpx = xtx / n
    if 1 / np.linalg.cond(xpx, 1) < np.finfo(float).eps:
        raise _CellFailed("the outcome regression is singular")
    return fitted, ((wk * (y - fitted))[:, None] * X) @ np.linalg.inv(xpx)


def _ps_linrep(X: np.ndarray, d: np.ndarray, w: np.ndarray, ps: np.ndarray) -> np.ndarray:
    """Asymptotic linear representation of the logit coefficients (DRDID's ``asy.lin.rep.ps``)."""
    n = d.size
    W = ps * (1 - ps) * w
    try:
        hess = np.linalg.inv((X * W[:, None]).T @ X) * n
    except np.linalg.LinAlgError:
        raise _CellFailed("the propensity model is singular") from None
    return ((w * (d - ps))[:, None] * X) @ hess


def did_rc(y: np.ndarray, post: np.ndarray, d: np.ndarray, X: np.ndarray,
           w: np.ndarray | None, method: str) -> tuple[float, np.ndarray]:
    """ATT of one repeated-cross-section 2×2 comparison and its influence function.

    Parameters
    ----------
    y, post, d
        Outcome, 1 for the later period of the comparison, 1 for the treated cohort; one value
        per observation.
    X
        Covariates with an intercept column (a column of ones for none).
    w
        Sampling weights (``None`` for equal weights); normalised to mean one.
    method
        ``"dr"`` (R's ``DRDID::drdid_rc``), ``"ipw"`` (``std_ipw_did_rc``) or ``"reg"``
        (``reg_did_rc``).

    Returns
    -------
    tuple
        The ATT and its influence function (one value per observation, mean zero).

    Raises
    ------
    _CellFailed
        When R's ``did`` would report the cell as NA (overlap fails, a collinear or singular
        design).

    References
    ----------
    Sant'Anna & Zhao (2020), Section 3 (repeated cross-sections); R ``DRDID::drdid_rc``,
    ``DRDID::std_ipw_did_rc``, ``DRDID::reg_did_rc``.
    """
    cell_guards(X, d, method)
    n = y.size
    w = np.ones(n) if w is None else w / w.mean()
    with np.errstate(all="ignore"):
        if X.shape[1] == 1 and (method == "reg" or np.sum(w * d) / n < TRIM_LEVEL):
            return _means_rc(y, post, d, w)
        if method == "reg":
            return _reg_rc(y, post, d, X, w)
        ps = _wlogit(X, d, w)
        trim = np.where(d == 0, ps < TRIM_LEVEL, True)
        lin_ps = _ps_linrep(X, d, w, ps)
        if method == "ipw":
            return _ipw_rc(y, post, d, X, w, ps, trim, lin_ps)
        return _dr_rc(y, post, d, X, w, ps, trim, lin_ps)


def _means_rc(y: np.ndarray, post: np.ndarray, d: np.ndarray, w: np.ndarray
              ) -> tuple[float, np.ndarray]:
    """The three estimators without covariates (and without trimming).

    They are then the same difference of weighted means of the four cohort × period cells,
    with the same influence function.
    """
    n = y.size
    code = (2 * d + post).astype(np.intp)  # 0: comparison before, 1: after, 2: cohort before, 3
    sw = np.bincount(code, weights=w, minlength=4)
    means = np.bincount(code, weights=w * y, minlength=4) / sw
    sign = np.array([1.0, -1.0, -1.0, 1.0])
    att = float(sign @ means)
    return att, sign[code] * w * (y - means[code]) / (sw[code] / n)


def _reg_rc(y: np.ndarray, post: np.ndarray, d: np.ndarray, X: np.ndarray, w: np.ndarray
            ) -> tuple[float, np.ndarray]:
    out_pre, lin_pre = _wols(X, y, w, (d == 0) & (post == 0))
    out_post, lin_post = _wols(X, y, w, (d == 0) & (post == 1))
    w_tpre, w_tpost, w_c = w * d * (1 - post), w * d * post, w * d
    eta_tpre = np.mean(w_tpre * y) / w_tpre.mean()
    eta_tpost = np.mean(w_tpost * y) / w_tpost.mean()
    reg_cont = w_c * (out_post - out_pre)
    eta_c = reg_cont.mean() / w_c.mean()
    att = (eta_tpost - eta_tpre) - eta_c
    inf_treat = ((w_tpost * y - w_tpost * eta_tpost) / w_tpost.mean()
                 - (w_tpre * y - w_tpre * eta_tpre) / w_tpre.mean())
    m1 = (w_c[:, None] * X).mean(axis=0)
    inf_cont = (reg_cont - w_c * eta_c + lin_post @ m1 - lin_pre @ m1) / w_c.mean()
    return float(att), inf_treat - inf_cont


def _ipw_rc(y: np.ndarray, post: np.ndarray, d: np.ndarray, X: np.ndarray, w: np.ndarray,
            ps: np.ndarray, trim: np.ndarray, lin_ps: np.ndarray) -> tuple[float, np.ndarray]:
    odds = ps / (1 - ps)
    w_tpre, w_tpost = trim * w * d * (1 - post), trim * w * d * post
    w_cpre = trim * w * odds * (1 - d) * (1 - post)
    w_cpost = trim * w * odds * (1 - d) * post
    parts = []
    for wt in (w_tpre, w_tpost, w_cpre, w_cpost):
        eta = wt * y / wt.mean()
        a = eta.mean()
        parts.append((a, eta - wt * a / wt.mean()))
    (a_tpre, i_tpre), (a_tpost, i_tpost), (a_cpre, i_cpre), (a_cpost, i_cpost) = parts
    att = (a_tpost - a_tpre) - (a_cpost - a_cpre)
    m2_pre = ((w_cpre * (y - a_cpre))[:, None] * X).mean(axis=0) / w_cpre.mean()
    m2_post = ((w_cpost * (y - a_cpost))[:, None] * X).mean(axis=0) / w_cpost.mean()
    inf_cont = i_cpost - i_cpre + lin_ps @ (m2_post - m2_pre)
    return float(att), (i_tpost - i_tpre) - inf_cont


def _dr_rc(y: np.ndarray, post: np.ndarray, d: np.ndarray, X: np.ndarray, w: np.ndarray,
           ps: np.ndarray, trim: np.ndarray, lin_ps: np.ndarray) -> tuple[float, np.ndarray]:
    c_pre, lin_c_pre = _wols(X, y, w, (d == 0) & (post == 0))
    c_post, lin_c_post = _wols(X, y, w, (d == 0) & (post == 1))
    t_pre, lin_t_pre = _wols(X, y, w, (d == 1) & (post == 0))
    t_post, lin_t_post = _wols(X, y, w, (d == 1) & (post == 1))
    out_c = post * c_post + (1 - post) * c_pre
    odds = ps / (1 - ps)
    w_tpre, w_tpost = trim * w * d * (1 - post), trim * w * d * post
    w_cpre = trim * w * odds * (1 - d) * (1 - post)
    w_cpost = trim * w * odds * (1 - d) * post
    w_d, w_dt1, w_dt0 = trim * w * d, trim * w * d * post, trim * w * d * (1 - post)
    r = y - out_c

    def term(wt: np.ndarray, v: np.ndarray) -> tuple[float, np.ndarray, float]:
        m = wt.mean()
        eta = wt * v / m
        a = float(eta.mean())
        return a, eta - wt * a / m, m

    a_tpre, i_tpre, m_tpre = term(w_tpre, r)
    a_tpost, i_tpost, m_tpost = term(w_tpost, r)
    a_cpre, i_cpre, m_cpre = term(w_cpre, r)
    a_cpost, i_cpost, m_cpost = term(w_cpost, r)
    a_dpost, i_e1, m_d = term(w_d, t_post - c_post)
    a_dt1, i_e2, m_dt1 = term(w_dt1, t_post - c_post)
    a_dpre, i_e3, _ = term(w_d, t_pre - c_pre)
    a_dt0, i_e4, m_dt0 = term(w_dt0, t_pre - c_pre)
    att = ((a_tpost - a_tpre) - (a_cpost - a_cpre) + (a_dpost - a_dt1) - (a_dpre - a_dt0))
    mean_x = lambda v: (v[:, None] * X).mean(axis=0)  # noqa: E731
    inf_treat_or = (lin_c_post @ (-mean_x(w_tpost * post) / m_tpost)
                    + lin_c_pre @ (-mean_x(w_tpre * (1 - post)) / m_tpre))
    m2_pre = mean_x(w_cpre * (y - out_c - a_cpre)) / m_cpre
    m2_post = mean_x(w_cpost * (y - out_c - a_cpost)) / m_cpost
    inf_cont_ps = lin_ps @ (m2_post - m2_pre)
    inf_cont_or = (lin_c_post @ (-mean_x(w_cpost * post) / m_cpost)
                   + lin_c_pre @ (-mean_x(w_cpre * (1 - post)) / m_cpre))
    inf_eff = (i_e1 - i_e2) - (i_e3 - i_e4)
    mom_post = mean_x(w_d / m_d - w_dt1 / m_dt1)
    mom_pre = mean_x(w_d / m_d - w_dt0 / m_dt0)
    inf_or = (lin_t_post - lin_c_post) @ mom_post - (lin_t_pre - lin_c_pre) @ mom_pre
    inf_treat = i_tpost - i_tpre + inf_treat_or
    inf_cont = i_cpost - i_cpre + inf_cont_ps + inf_cont_or
    return float(att), inf_treat - inf_cont + inf_eff + inf_or


def did_panel_weighted(dy: np.ndarray, d: np.ndarray, X: np.ndarray, w: np.ndarray,
                       method: str) -> tuple[float, np.ndarray]:
    """ATT of one weighted panel 2×2 comparison and its influence function.

    Parameters
    ----------
    dy, d
        Change in the outcome and 1 for the treated cohort, one value per unit.
    X
        Covariates with an intercept column (a column of ones for none).
    w
        Sampling weights (normalised to mean one).
    method
        ``"dr"`` (R's ``DRDID::drdid_panel``), ``"ipw"`` (``std_ipw_did_panel``) or ``"reg"``
        (``reg_did_panel``).

    Returns
    -------
    tuple
        The ATT and its influence function (one value per unit).

    References
    ----------
    Sant'Anna & Zhao (2020), Section 3 (panel data); R ``DRDID::drdid_panel``,
    ``DRDID::std_ipw_did_panel``, ``DRDID::reg_did_panel`` with ``i.weights``.
    """
    cell_guards(X, d, method)
    w = w / w.mean()
    with np.errstate(all="ignore"):
        if method == "reg":
            fitted, lin_ols = _wols(X, dy, w, d == 0)
            w_t = w * d
            eta_t = np.mean(w_t * dy) / w_t.mean()
            eta_c = np.mean(w_t * fitted) / w_t.mean()
            inf_t = (w_t * dy - w_t * eta_t) / w_t.mean()
            inf_c = (w_t * fitted - w_t * eta_c + lin_ols @ (w_t[:, None] * X).mean(axis=0)
                     ) / w_t.mean()
            return float(eta_t - eta_c), inf_t - inf_c
        ps = _wlogit(X, d, w)
        trim = np.where(d == 0, ps < TRIM_LEVEL, True)
        lin_ps = _ps_linrep(X, d, w, ps)
        w_t = trim * w * d
        w_c = trim * w * ps * (1 - d) / (1 - ps)
        if method == "ipw":
            eta_t = np.mean(w_t * dy) / w_t.mean()
            eta_c = np.mean(w_c * dy) / w_c.mean()
            inf_t = (w_t * dy - w_t * eta_t) / w_t.mean()
            m2 = ((w_c * (dy - eta_c))[:, None] * X).mean(axis=0)
            inf_c = (w_c * dy - w_c * eta_c + lin_ps @ m2) / w_c.mean()
            return float(eta_t - eta_c), inf_t - inf_c
        fitted, lin_ols = _wols(X, dy, w, d == 0)
        r = dy - fitted
        eta_t = np.mean(w_t * r) / w_t.mean()
        eta_c = np.mean(w_c * r) / w_c.mean()
        inf_t = (w_t * r - w_t * eta_t - lin_ols @ (w_t[:, None] * X).mean(axis=0)
                 ) / w_t.mean()
        m2 = ((w_c * (r - eta_c))[:, None] * X).mean(axis=0)
        m3 = (w_c[:, None] * X).mean(axis=0)
        inf_c = (w_c * r - w_c * eta_c + lin_ps @ m2 - lin_ols @ m3) / w_c.mean()
        return float(eta_t - eta_c), inf_t - inf_c

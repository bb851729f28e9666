"""Two-way fixed-effects regression.

Its variances live in :mod:`evalkit.methods.inference`, its demeaning in :mod:`.demeaning`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, get_args

import numpy as np
import pandas as pd
from scipy import special

from evalkit.data import Column, source_of, validate
from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.methods.did.bootstrap import (
    BootstrapWeights,
    WildBootstrap,
    wild_cluster_bootstrap,
)
from evalkit.methods.did.demeaning import demean
from evalkit.methods.inference import (
    FEW_CLUSTERS,
    FEW_TREATED_CLUSTERS,
    FEW_UNTREATED_CLUSTERS,
    SE_RTOL,
    cluster_cautions,
    crv1_vcov,
    hc1_vcov,
    iid_vcov,
    zero_se,
)
from evalkit.methods.inference import join_names as _join
from evalkit.results import Caution, Result, check_alpha, check_option, merge_cautions

#: Variance estimators of :func:`twfe`.
Vcov = Literal["iid", "hetero", "CRV1"]
VCOV_TYPES: tuple[str, ...] = get_args(Vcov)

# FEW_* and cluster_cautions are imported here by older code; they live in methods.inference.
__all__ = ["TWFE", "VCOV_TYPES", "Vcov", "twfe", "demean", "row_labels", "cluster_cautions",
           "FEW_CLUSTERS", "FEW_TREATED_CLUSTERS", "FEW_UNTREATED_CLUSTERS"]


def row_labels(data: pd.DataFrame, mask: np.ndarray) -> tuple[tuple[int, ...], int]:
    """Row numbers (as the user sees them: file lines for CSV files) of the rows in ``mask``."""
    meta = data.attrs.get("evalkit_origin")
    offset = meta["offset"] if isinstance(meta, dict) and "offset" in meta else 1
    idx = np.flatnonzero(mask)
    return tuple(int(i) + offset for i in idx[:20]), int(idx.size)


@dataclass(frozen=True)
class TWFE(Result):
    """Result of :func:`twfe`.

    Attributes
    ----------
    terms, coef, se
        Regressors, coefficients and standard errors.
    df
        Degrees of freedom of the t distribution used for p-values and CIs.
    n_obs, n_units, r2_within
        Observations, panel units and the within R².
    vcov
        ``"iid"``, ``"hetero"`` or ``"CRV1"``; ``n_clusters`` with CRV1.
    """

    _title: ClassVar[str] = "Two-way fixed effects"
    _options: ClassVar[tuple[str, ...]] = ("vcov", "alpha")

    terms: tuple[str, ...]
    coef: np.ndarray = field(repr=False)
    se: np.ndarray = field(repr=False)
    df: float
    n_obs: int
    n_units: int
    r2_within: float
    vcov: Vcov = "CRV1"
    n_clusters: int | None = None
    alpha: float = 0.05
    cov: np.ndarray = field(default=None, repr=False, compare=False)  # type: ignore[arg-type]
    wild: WildBootstrap | None = None

    @property
    def estimate(self) -> float:
        """The first regressor's coefficient (the treatment effect)."""
        return float(self.coef[0])

    def to_frame(self) -> pd.DataFrame:
        """One row per regressor: ``term, estimate, se, ci_low, ci_high, p_value, t``.

        Inference is t-based, with :attr:`df` degrees of freedom.
        """
        t = self.coef / self.se
        q = float(special.stdtrit(self.df, 1 - self.alpha / 2))
        return pd.DataFrame({
            "term": list(self.terms), "estimate": self.coef, "se": self.se,
            "ci_low": self.coef - q * self.se, "ci_high": self.coef + q * self.se,
            "p_value": 2 * special.stdtr(self.df, -np.abs(t)), "t": t,
        })

    def _terms(self) -> list[dict[str, Any]]:
        return self.to_frame().to_dict("records")

    def _details(self) -> list[str]:
        cl = f", {self.n_clusters} clusters" if self.n_clusters else ""
        return [f"{self.n_obs} observations, {self.n_units} units{cl}; within R² = "
                f"{self.r2_within:.4f}; {self.vcov} standard errors, {self.df:g} df."]


def twfe(
    data: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    treatment: str | Sequence[str],
    *,
    covariates: Sequence[str] = (),
    vcov: Vcov = "CRV1",
    cluster: str | None = None,
    weights: str | None = None,
    alpha: float = 0.05,
    wild_bootstrap: int | None = None,
    bootstrap_weights: BootstrapWeights = "rademacher",
    seed: int | None = None,
) -> TWFE:
    """Two-way fixed-effects regression: outcome on treatment with unit and time effects.

    Parameters
    ----------
    data
        A panel: one row per unit and period (unbalanced panels are fine).
    outcome, unit, time
        Column names.
    treatment
        The treatment regressor, or a list of regressors (e.g. a treatment and its lag).
    covariates
        Further time-varying regressors.
    vcov
        ``"iid"`` (conventional), ``"hetero"`` (HC1) or ``"CRV1"`` (clustered by ``cluster``,
        default the unit, with the small-sample factor of Stata's ``xtreg, fe vce(cluster)``:
        ``G/(G−1) · (N−1)/(N−K)`` with ``K`` the regressors, the constant and the fixed
        effects not nested in the clusters, and ``G − 1`` df).
    cluster
        Cluster column for CRV1 and the wild bootstrap (default ``unit``).
    weights
        Regression-weight column (non-negative). Rows of weight zero are left out of the fit
        and of the counts of observations and degrees of freedom, as R's ``lm`` does, and the
        result says how many.
    alpha
        1 − confidence level.
    wild_bootstrap, bootstrap_weights, seed
        Draws of the restricted wild cluster bootstrap for the first regressor (recommended
        when clusters are few), its weights (``"rademacher"`` or ``"webb"``) and seed; the
        result's ``wild`` holds the p-value and CI (see :func:`wild_cluster_bootstrap`; with
        Rademacher weights and ``2**G <= wild_bootstrap`` every sign pattern is enumerated).

    Raises
    ------
    EvalDataError
        For missing or non-numeric values, a unit observed twice in a period, weights that
        are all zero, an outcome with no variation within units and periods (e.g. constant),
        regressors collinear with the unit and period effects, and a cluster-robust standard
        error (or wild bootstrap) asked of a single cluster.

    Notes
    -----
    With ``vcov="iid"`` the degrees of freedom are ``N − K − (units + periods − 1)``, as in
    Wooldridge's Example 14.1 and R's ``plm``/``fixest`` with ``vcov = "iid"``.

    A standard error that is zero up to rounding (see :func:`zero_se`) is never shown as
    exact: it is reported as NaN, with its p-value and interval, and a caution says why —
    no degrees of freedom left, an outcome fitted exactly, or (two units, or two clusters
    that split treated from untreated) a cluster-robust variance that the fixed effects
    make zero. The result also cautions when clusters, or treated clusters, are few.

    References
    ----------
    Wooldridge, J. M. (2020). *Introductory Econometrics*, 7th ed., ch. 14.

    Cameron, A. C., & Miller, D. L. (2015). A practitioner's guide to cluster-robust
    inference. *Journal of Human Resources*, 50, 317–372.

    MacKinnon, J. G., & Webb, M. D. (2017). Wild bootstrap inference for wildly different
    cluster sizes. *Journal of Applied Econometrics*, 32, 233–254.
    """
    alpha = check_alpha(alpha)
    check_option("vcov", vcov, VCOV_TYPES)
    treat = [treatment] if isinstance(treatment, str) else list(treatment)
    if not treat:
        raise ValueError("treatment must name at least one regressor")
    regs = treat + list(covariates)
    if len(set(regs)) != len(regs):
        raise ValueError("a regressor is listed twice")
    cols = [Column(outcome, allow_missing=False), Column(unit, kind="string", allow_missing=False),
            Column(time, allow_missing=False)]
    cols += [Column(r, allow_missing=False) for r in regs]
    cl = cluster or unit
    if cl not in (unit, time) and cl not in regs and cl != outcome:
        cols.append(Column(cl, kind="string", allow_missing=False))
    if weights is not None:
        cols.append(Column(weights, min=0, allow_missing=False))
    clean = validate(data, cols)
    source = source_of(data)
    cautions: list[str] = []
    dup = clean.duplicated([unit, time], keep=False).to_numpy()
    if dup.any():
        rows, count = row_labels(data, dup)
        raise EvalDataError([DataProblem(unit, f"{count} rows repeat a unit and period",
                                         "one row per unit and period", rows, count)],
                            source=source)
    if weights is not None:
        zero = clean[weights].to_numpy(float) == 0
        if zero.all():
            raise EvalDataError([DataProblem(weights, "every weight is zero",
                                             "positive weights on the rows to analyse")],
                                source=source)
        if zero.any():
            rows, count = row_labels(data, zero)
            shown = ", ".join(map(str, rows[:8])) + (", ..." if count > 8 else "")
            many = count > 1
            cautions.append(Caution(
                f"{count} row{'s' if many else ''} with zero weight in '{weights}' "
                f"(row{'s' if many else ''} {shown}) {'were' if many else 'was'} left out of "
                "the regression and of the counts of observations and degrees of freedom, as "
                "R's lm does.", limits=False))
            clean = clean.loc[~zero]
    y = clean[outcome].to_numpy(float)
    if np.ptp(y) == 0:
        raise EvalDataError([DataProblem(outcome, f"is constant (every value is {y[0]:g})",
                                         "an outcome that varies")], source=source)
    uc = pd.factorize(clean[unit])[0]
    tc = pd.factorize(clean[time])[0]
    n = len(clean)
    if uc.max() + 1 == n:
        raise EvalDataError([DataProblem(time, "every unit is observed in only one period, so "
                                         "the unit effects absorb every observation",
                                         "units observed in at least two periods")],
                            source=source)
    w = clean[weights].to_numpy(float) if weights is not None else None
    X = clean[regs].to_numpy(float)
    Z = demean(np.column_stack([y, X]), [uc, tc], weights=w)
    yd, Xd = Z[:, 0], Z[:, 1:]
    sw = np.sqrt(w) if w is not None else np.ones(n)
    Xw, yw = Xd * sw[:, None], yd * sw
    k = X.shape[1]
    y_norm = float(np.linalg.norm(yw))
    if not y_norm > 1e-11 * float(np.linalg.norm(y * sw)):
        raise EvalDataError([DataProblem(outcome, "does not vary once unit and period effects "
                                         "are removed (it is a sum of a unit part and a period "
                                         "part), so there is nothing for the treatment to "
                                         "explain", "an outcome that varies within units and "
                                         "periods")], source=source)
    x_norm = np.linalg.norm(Xw, axis=0)
    raw_norm = np.linalg.norm(X * sw[:, None], axis=0)
    flat = ~(x_norm > 1e-11 * raw_norm)
    if flat.any() or _rank(Xw / x_norm) < k:
        which = [r for r, f in zip(regs, flat, strict=True) if f] or regs
        raise EvalDataError([DataProblem(None, "the regressor" + ("s " if len(which) > 1 else " ")
                                         + ", ".join(which) + (" are" if len(which) > 1 else
                                                               " is") + " collinear with the "
                                         "unit and period effects" + ("" if flat.any() else
                                                                      " or with each other"),
                                         "regressors that vary within units and periods")],
                            source=source)
    XtX_inv = np.linalg.inv(Xw.T @ Xw)
    beta = XtX_inv @ (Xw.T @ yw)
    resid = yw - Xw @ beta
    n_units, n_times = int(uc.max() + 1), int(tc.max() + 1)
    # within R² as xtreg, fe reports it: period effects count as explained variation
    y_within = demean(y, [uc], weights=w)[:, 0] * sw
    sst = float(y_within @ y_within)
    r2 = 1 - float(resid @ resid) / sst if sst > 0 else float("nan")
    rss = float(resid @ resid)
    exact_fit = not rss > (SE_RTOL * y_norm) ** 2
    n_clusters = None
    gc = None
    if vcov == "CRV1" or wild_bootstrap is not None:
        gc = pd.factorize(clean[cl])[0]
        if gc.max() < 1:
            raise EvalDataError([DataProblem(cl, f"puts all {n} rows in one cluster",
                                             "at least 2 clusters for cluster-robust standard "
                                             "errors or the wild cluster bootstrap (or "
                                             "vcov='iid' / 'hetero' without it)")],
                                source=source)
    undefined = np.zeros(k, bool)  # standard errors that cannot be estimated at all
    n_params = k + n_units + n_times - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        if vcov in ("iid", "hetero"):
            df = n - n_params
            if df <= 0:
                undefined[:] = True
                cautions.append(Caution(
                    f"The regression has {n} observations and {n_params} parameters ({k} "
                    f"regressor{'s' if k > 1 else ''}, {n_units} unit and {n_times - 1} period "
                    "effects), so no degrees of freedom are left to estimate the standard "
                    "error: the standard error, p-value and confidence interval are not "
                    "reported.", limits=True))
                V = np.full((k, k), np.nan)
            elif vcov == "iid":
                V = iid_vcov(XtX_inv, rss, df)
            else:
                V = hc1_vcov(XtX_inv, Xw, resid, n, df)
        else:
            assert gc is not None  # the cluster codes are made for CRV1 above
            G = int(gc.max() + 1)
            # K counts the regressors, the constant and every fixed effect not nested in the
            # clusters (Stata's xtreg, fe vce(cluster)): unit effects drop out when units sit
            # inside clusters, period effects count T − 1.
            K = k + 1
            for codes, levels in ((uc, n_units), (tc, n_times)):
                nested = _nested(codes, gc)
                if not nested:
                    K += levels - 1
            if n - K <= 0:
                undefined[:] = True
                cautions.append(Caution(
                    f"The regression has {n} observations and {K} parameters that count "
                    "towards the cluster-robust small-sample correction, so the cluster-robust "
                    "standard error cannot be computed: the standard error, p-value and "
                    "confidence interval are not reported.", limits=True))
                V = np.full((k, k), np.nan)
            else:
                V = crv1_vcov(XtX_inv, Xw, resid, gc, n, K)
            df = G - 1
            n_clusters = G
    se = np.sqrt(np.clip(np.diag(V), 0, None))
    se = np.where(np.isnan(np.diag(V)), np.nan, se)
    scale = y_norm / x_norm
    tiny = zero_se(se, beta, scale) & ~undefined
    if tiny.any():
        names = _join([regs[i] for i in np.flatnonzero(tiny)])
        if exact_fit:
            cautions.append(Caution(
                "The regression reproduces every observed outcome exactly (no residual "
                "variation is left), so the standard error of " + names + " is zero only up "
                "to rounding and cannot be estimated: it is not reported, nor its p-value and "
                "confidence interval.", limits=True))
        elif vcov == "CRV1":
            cautions.append(Caution(
                f"With only {n_clusters} clusters ('{cl}') the cluster-robust standard error "
                f"of {names} is zero up to rounding: the unit and period effects absorb all "
                "the variation between clusters, so it cannot be estimated and is not reported, "
                "nor its p-value and confidence interval. Inference needs more clusters.",
                limits=True))
        else:
            cautions.append(Caution(
                f"The standard error of {names} is zero up to rounding and cannot be "
                "estimated: it is not reported, nor its p-value and confidence interval.",
                limits=True))
    bad = tiny | undefined
    if bad.any():
        se = np.where(bad, np.nan, se)
        V = V.copy()
        V[bad, :] = np.nan
        V[:, bad] = np.nan
    binary = all(np.isin(clean[t].to_numpy(float), (0.0, 1.0)).all() for t in treat)
    treated_rows = (clean[treat].to_numpy(float) != 0).any(axis=1) if binary else None
    if vcov == "CRV1" and gc is not None and not bad.all():
        remedy = ("Use the wild cluster bootstrap (wild_bootstrap=9999) for the p-value and "
                  "confidence interval of the treatment effect." if wild_bootstrap is None else
                  "Report the wild cluster bootstrap p-value and confidence interval instead.")
        cautions += cluster_cautions(gc, cl, treated=treated_rows, remedy=remedy)
    wild = None
    if wild_bootstrap is not None:
        wild = wild_cluster_bootstrap(Xw, yw, clean[cl].to_numpy(), 0, draws=wild_bootstrap,
                                      weights=bootstrap_weights, seed=seed, alpha=alpha)
        cautions += list(wild.cautions)
    return TWFE(terms=tuple(regs), coef=beta, se=se, df=float(df), n_obs=n,
                n_units=n_units, r2_within=float(r2), vcov=vcov, n_clusters=n_clusters,
                alpha=alpha, cov=V, wild=wild, cautions=merge_cautions(cautions))


def _rank(Z: np.ndarray) -> int:
    """``numpy.linalg.matrix_rank(Z)`` of a tall matrix, without its SVD when it is clearly full.

    A well-conditioned Gram matrix ``Z'Z`` (k × k) proves full column rank at a fraction of the
    cost of the n × k SVD; otherwise the SVD decides, exactly as before.
    """
    k = Z.shape[1]
    if k == 0:
        return 0
    eig = np.linalg.eigvalsh(Z.T @ Z)
    if eig[0] > 1e-8 * eig[-1]:
        return k
    return int(np.linalg.matrix_rank(Z))


def _nested(codes: np.ndarray, clusters: np.ndarray) -> bool:
    """Whether every level of ``codes`` lies inside one cluster."""
    _, first = np.unique(codes, return_index=True)
    owner = np.empty(int(codes.max()) + 1, dtype=clusters.dtype)
    owner[codes[first]] = clusters[first]
    return bool((owner[codes] == clusters).all())

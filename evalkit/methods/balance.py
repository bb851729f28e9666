"""Covariate balance before and after weighting or matching, and the shared covariate matrix.

Balance is measured with cobalt's default standardized mean differences and variance ratios.
The covariate matrix is the one every comparison-group method builds (categorical covariates
as ``column[level]`` indicators).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.results import check_option

__all__ = ["BALANCE_COLUMNS", "balance_frame", "balance_table", "covariate_matrix",
           "max_abs_smd"]

#: The columns of every balance table, in order (``type``, ``mean_treated_raw`` and
#: ``mean_control_raw`` follow).
BALANCE_COLUMNS = ("covariate", "mean_treated", "mean_control", "smd_raw", "smd_adjusted",
                   "variance_ratio")


def _is_categorical(s: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s))


def covariate_matrix(data: pd.DataFrame, covariates: Sequence[str], source: str | None = None,
                     *, full_dummies: bool = False) -> tuple[np.ndarray, list[str]]:
    """The covariates as a float matrix and its column names.

    Numeric and boolean columns enter as they are. Other columns (text, categorical) become
    indicators named ``column[level]``: every level but the first (the reference, as R's
    treatment contrasts; levels in the categorical's order, else sorted) or, with
    ``full_dummies``, every level (as cobalt's balance tables).

    Raises
    ------
    EvalDataError
        Covariates not found, or with missing values (naming the rows).
    """
    X, names, ref = design(data, covariates, source)
    if full_dummies or not any(ref):
        return X, names
    keep = [j for j, r in enumerate(ref) if not r]
    return X[:, keep], [names[j] for j in keep]


def design(data: pd.DataFrame, covariates: Sequence[str], source: str | None = None, *,
           lead: Sequence[tuple[str, np.ndarray]] = (), rows: np.ndarray | None = None
           ) -> tuple[np.ndarray, list[str], list[bool]]:
    """A column-major design matrix: the ``lead`` columns, then the covariates.

    The ``lead`` columns are an intercept and the treatment; every level of a categorical
    covariate becomes a ``column[level]`` indicator.

    Returns the matrix (rows selected by the boolean ``rows`` if given), its column names,
    and for each column whether it is a reference level (the first level of a categorical
    covariate, left out of a regression). See :func:`covariate_matrix` for the errors.
    """
    covariates = list(covariates)
    if not covariates:
        raise EvalDataError([DataProblem(None, "no covariates given",
                                         "at least one baseline covariate")], source=source)
    problems = [DataProblem(c, "column not found", "a baseline covariate")
                for c in covariates if c not in data.columns]
    if problems:
        raise EvalDataError(problems, source=source)
    for c in covariates:
        na = data[c].isna().to_numpy()
        if rows is not None:
            na = na & rows
        if na.any():
            where = tuple(int(i) + 1 for i in np.flatnonzero(na)[:8])
            problems.append(DataProblem(c, "missing values", "a value for every youth (drop "
                                        "incomplete rows, or impute with "
                                        "evalkit.missing.impute)", rows=where,
                                        n_rows=int(na.sum())))
    if problems:
        raise EvalDataError(problems, source=source)
    cols: list[np.ndarray] = []
    names: list[str] = []
    ref: list[bool] = []
    for name, col in lead:
        cols.append(np.asarray(col, float))
        names.append(name)
        ref.append(False)
    for c in covariates:
        s = data[c]
        if _is_categorical(s):
            if isinstance(s.dtype, pd.CategoricalDtype):
                levels = [lv for lv in s.cat.categories if (s == lv).any()]
            else:
                s = s.astype(str)
                levels = sorted(s.unique())
            for i, lv in enumerate(levels):
                v = (s == lv).to_numpy(float)
                cols.append(v if rows is None else v[rows])
                names.append(f"{c}[{lv}]")
                ref.append(i == 0)
        else:
            v = s.to_numpy(float)
            cols.append(v if rows is None else v[rows])
            names.append(str(c))
            ref.append(False)
    n = len(cols[0])
    X = np.empty((n, len(cols)), order="F")
    for j, v in enumerate(cols):
        X[:, j] = v
    return X, names, ref


def _binary_columns(X: np.ndarray) -> np.ndarray:
    """Which columns take exactly two values (one pass per column, no sorting)."""
    out = np.zeros(X.shape[1], bool)
    for j in range(X.shape[1]):
        x = X[:, j]
        a = x[0]
        other = x != a
        if not other.any():
            continue
        b = x[int(np.argmax(other))]
        out[j] = bool(((x == a) | (x == b)).all())
    return out


def _wvar(x: np.ndarray, w: np.ndarray | None, binary: np.ndarray) -> np.ndarray:
    """Cobalt's ``col.w.v``: the weighted variance of each column.

    The variance is ``Σw(x−m)²/(1 − Σw²)`` with normalised weights (the usual ``n − 1``
    variance when ``w`` is ``None``), and ``p(1 − p)`` for binary columns.
    """
    if w is None:
        m = x.mean(axis=0)
        v = x.var(axis=0, ddof=1) if len(x) > 1 else np.full(x.shape[1], np.nan)
    else:
        w = w / w.sum()
        m = w @ x
        v = (w @ (x - m) ** 2) / (1.0 - np.dot(w, w))
    return np.maximum(np.where(binary, m * (1.0 - m), v), 0.0)


def balance_frame(data: pd.DataFrame, t: np.ndarray, covariates: Sequence[str],
                  weights: np.ndarray | None, estimand: str,
                  source: str | None = None, *,
                  full: tuple[np.ndarray, list[str]] | None = None) -> pd.DataFrame:
    """The balance table for a treatment vector ``t`` already checked.

    See :func:`balance_table`; ``full`` passes the covariate matrix with every level when the
    caller has built it.
    """
    X, names = full if full is not None else covariate_matrix(data, covariates, source,
                                                              full_dummies=True)
    binary = _binary_columns(X)
    if binary.any():
        X = X.copy(order="F")
    for j in np.flatnonzero(binary):  # cobalt: 0 stays 0, else the lower value becomes 0
        lo, hi = X[:, j].min(), X[:, j].max()
        zero = 0.0 if (lo == 0.0 or hi == 0.0) else lo
        X[:, j] = (X[:, j] != zero).astype(float)
    t1, t0 = t == 1, t == 0
    X1, X0 = X[t1], X[t0]
    v1, v0 = _wvar(X1, None, binary), _wvar(X0, None, binary)
    raw1, raw0 = X1.mean(axis=0), X0.mean(axis=0)
    if weights is None:
        w = None
        m1, m0, a1, a0 = raw1, raw0, v1, v0
    else:
        w = np.asarray(weights, float)
        w1, w0 = w[t1], w[t0]
        m1, m0 = w1 @ X1 / w1.sum(), w0 @ X0 / w0.sum()
        a1, a0 = _wvar(X1, w1, binary), _wvar(X0, w0, binary)
    if estimand == "ATT":
        denom = np.sqrt(v1)
    elif estimand == "ATC":
        denom = np.sqrt(v0)
    elif estimand == "ATE":
        denom = np.sqrt((v1 + v0) / 2.0)
    else:  # ATO: cobalt's "weighted", the SD of the whole sample under the weights
        denom = np.sqrt(_wvar(X, w if w is not None else np.ones(len(t)), binary))
    with np.errstate(divide="ignore", invalid="ignore"):
        smd_raw = np.where(denom > 0, (raw1 - raw0) / denom, np.nan)
        smd_adj = np.where(denom > 0, (m1 - m0) / denom, np.nan)
        vr = np.where(binary, np.nan, a1 / a0)
    return pd.DataFrame({"covariate": names, "mean_treated": m1, "mean_control": m0,
                         "smd_raw": smd_raw, "smd_adjusted": smd_adj, "variance_ratio": vr,
                         "type": np.where(binary, "binary", "continuous"),
                         "mean_treated_raw": raw1, "mean_control_raw": raw0})


def balance_table(data: pd.DataFrame, treatment: str, covariates: Sequence[str],
                  weights: str | pd.Series | np.ndarray | None = None, *,
                  estimand: str = "ATT") -> pd.DataFrame:
    """Covariate balance between program and comparison youth, before and after adjustment.

    Parameters
    ----------
    data
        One row per youth.
    treatment
        0/1 column: 1 for program youth.
    covariates
        Baseline covariates; categorical ones appear as one row per level, ``column[level]``.
    weights
        Weights (a column name, or a Series aligned with the data's index such as
        ``Weights.weights`` or ``Matched.weights``); ``None`` for the unadjusted table.
    estimand
        ``"ATT"`` standardizes by the program group's SD, ``"ATE"`` by the pooled SD
        ``√((s₁² + s₀²)/2)``, ``"ATC"`` by the comparison group's, ``"ATO"`` by the SD of
        the whole weighted sample (cobalt's defaults for each estimand).

    Returns
    -------
    pandas.DataFrame
        One row per covariate: ``covariate, mean_treated, mean_control`` (weighted means),
        ``smd_raw`` (before adjustment), ``smd_adjusted``, ``variance_ratio`` (weighted
        program over comparison variance; NaN for binary covariates), then ``type``
        (``"binary"`` or ``"continuous"``) and the unweighted means ``mean_treated_raw``,
        ``mean_control_raw``.

    Notes
    -----
    The standard deviations come from the unadjusted sample, for the raw and the adjusted
    difference alike, as cobalt's ``bal.tab``: ``n − 1`` variances for continuous covariates,
    ``p(1 − p)`` for binary ones. Unlike cobalt's default (``binary = "raw"``), binary
    covariates are standardized too (cobalt's ``binary = "std"``), because the What Works
    Clearinghouse's baseline-equivalence rule reads a standardized difference for every
    covariate.

    References
    ----------
    Greifer, N. cobalt: Covariate Balance Tables and Plots (R package), ``bal.tab``,
    ``col_w_smd``.

    Austin, P. C. (2009). Balance diagnostics for comparing the distribution of baseline
    covariates between treatment groups in propensity-score matched samples. *Statistics in
    Medicine*, 28, 3083–3107.
    """
    from evalkit.methods.propensity import treatment_vector

    estimand = check_option("estimand", estimand, ("ATT", "ATE", "ATC", "ATO"))
    source = "data frame"
    t = treatment_vector(data, treatment, source)
    w = None
    if weights is not None:
        w = weights_vector(data, weights, source)
    return balance_frame(data, t, covariates, w, estimand, source)


def weights_vector(data: pd.DataFrame, weights: str | pd.Series | np.ndarray,
                   source: str | None = None, name: str = "weights") -> np.ndarray:
    """Weights checked to be finite and non-negative, with some positive.

    They may be given as a column name, a Series aligned with the data's index, or an array.
    """
    if isinstance(weights, str):
        if weights not in data.columns:
            raise EvalDataError([DataProblem(weights, "column not found", "weights")],
                                source=source)
        w, label = data[weights], weights
    elif isinstance(weights, pd.Series):
        w, label = weights.reindex(data.index), name
    else:
        w, label = pd.Series(np.asarray(weights, float), index=data.index), name
    w = pd.to_numeric(w, errors="coerce").to_numpy(float)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        rows = tuple(int(i) + 1 for i in np.flatnonzero(bad)[:8])
        raise EvalDataError([DataProblem(label, "weights missing, negative or not finite",
                                         "a weight of 0 or more for every youth", rows=rows,
                                         n_rows=int(bad.sum()))], source=source)
    if not (w > 0).any():
        raise EvalDataError([DataProblem(label, "every weight is zero",
                                         "positive weights")], source=source)
    return w


def max_abs_smd(table: pd.DataFrame, column: str = "smd_adjusted") -> float:
    """The largest absolute standardized mean difference in a balance table."""
    v = np.abs(table[column].to_numpy(float))
    return float(np.nanmax(v)) if np.isfinite(v).any() else float("nan")

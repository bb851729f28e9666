"""Group-time effects from repeated cross-sections and unbalanced panels.

:func:`~evalkit.methods.did.staggered.staggered` calls :func:`staggered_rc` for
``panel=False`` and for an unbalanced panel with ``allow_unbalanced_panel=True``. It follows
the repeated-cross-section branch of R's ``did`` (``pre_process_did.R`` and
``compute.att_gt.R``): each ATT(g, t) compares the observations of the cohort and of its
comparison units in the two periods with DRDID's repeated-cross-section estimators
(:mod:`.drdid_rc`); each cell's influence function is scaled by n / (observations in the
cell) and summed within unit, so that an unbalanced panel keeps one influence-function row per
unit (R's unit-level clustering) and a repeated cross-section one row per observation.

References
----------
Callaway, B., & Sant'Anna, P. H. C. (2021). Difference-in-differences with multiple time
periods. *Journal of Econometrics*, 225, 200–230 (Section 4, repeated cross-sections).

R package ``did`` 2.5 (``pre_process_did.R``, ``compute.att_gt.R``),
https://github.com/bcallaway11/did.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from evalkit.data import Column, source_of, validate
from evalkit.exceptions import DataProblem, DesignRefused, EvalDataError
from evalkit.methods.did.aggregate import _fmt, _names, _wald, pretest_result
from evalkit.methods.did.drdid import _CellFailed
from evalkit.methods.did.drdid_rc import did_rc
from evalkit.results import Caution

__all__ = ["staggered_rc"]


def _problem(column: str | None, what: str, expected: str, source: str | None
             ) -> EvalDataError:
    return EvalDataError([DataProblem(column, what, expected)], source=source)


def check_weights(values: np.ndarray, weights: str, labels: np.ndarray, what: str,
                  source: str | None) -> None:
    """Refuse sampling weights that are zero, negative or not finite, naming the rows' units.

    ``labels`` names each row (the unit, or the row number for repeated cross-sections) and
    ``what`` says what the labels are (``"unit(s)"`` or ``"row(s)"``).
    """
    bad = ~np.isfinite(values) | (values <= 0)
    if bad.any():
        names = _names([str(u) for u in pd.unique(labels[bad])])
        raise _problem(weights, f"{int(bad.sum())} weight(s) are zero, negative or missing "
                       f"({what} {names})", "a positive sampling weight in every row", source)


def _one_cluster(cluster: str | Sequence[str] | None, unit: str | None) -> str | None:
    """R's ``clustervars``: the unit plus at most one other variable; returns the other one."""
    names = [cluster] if cluster is None or isinstance(cluster, str) else list(cluster)
    others = [c for c in dict.fromkeys(names) if c is not None and c != unit]
    if len(others) > 1:
        raise ValueError("cluster: at most one cluster variable besides the unit is supported "
                         f"(as R's did); got {others}")
    return others[0] if others else None


def _balanced(data: pd.DataFrame, unit: str | None, time: str) -> bool:
    """R's test of ``allow_unbalanced_panel``: every unit observed once in every period."""
    if unit is None or unit not in data.columns or time not in data.columns:
        return True  # the panel path reports the missing column
    return len(data) == data[unit].nunique() * data[time].nunique()


def _missing_as_never(subset: pd.DataFrame, first_treated: str) -> tuple[float, pd.DataFrame]:
    """Code missing adoption periods as never treated, with a value no unit adopts at."""
    if first_treated not in subset.columns:
        return 0.0, subset
    col = subset[first_treated]
    missing = col.isna().to_numpy()
    if col.dtype == object or pd.api.types.is_string_dtype(col.dtype):
        missing |= col.astype("string").str.strip().eq("").fillna(False).to_numpy(dtype=bool)
    periods = pd.to_numeric(col[~missing], errors="coerce")
    code = 0.0 if not (periods == 0).any() else float(min(periods.min(), 0)) - 1
    if missing.any():
        attrs = dict(subset.attrs)
        subset = subset.assign(**{first_treated: col.astype(object).where(~missing, code)})
        subset.attrs = attrs
    return code, subset


def _panel_clusters(data: pd.DataFrame, cluster: str, unit_values: Any, uc: np.ndarray, n: int,
                    source: str | None) -> np.ndarray:
    """Each panel unit's cluster code; refuses a missing cluster or one that varies in a unit."""
    raw = data[cluster] if cluster in data.columns else None
    if raw is None:
        raise EvalDataError([DataProblem(cluster, "required column is missing",
                                         "a cluster identifier for every unit")],
                            source=source)
    cvals = raw.to_numpy(object)
    miss = pd.isna(raw).to_numpy()
    if miss.any():
        miss_rows = np.flatnonzero(miss)
        bad_units = pd.unique(unit_values[uc[miss_rows]])
        raise EvalDataError([DataProblem(cluster, "missing cluster identifiers for unit(s) "
                                         f"{_names([str(u) for u in bad_units])}",
                                         "a cluster identifier in every row",
                                         rows=tuple(int(r) + 1 for r in miss_rows[:8]),
                                         n_rows=int(miss_rows.size))], source=source)
    ccode_rows = pd.factorize(pd.Series(cvals).astype(str))[0]
    first_code = np.full(n, -1)
    first_code[uc[::-1]] = ccode_rows[::-1]
    moving = first_code[uc] != ccode_rows
    if moving.any():
        bad_units = pd.unique(unit_values[uc[moving]])
        raise EvalDataError([DataProblem(cluster, f"changes within {len(bad_units)} unit(s) "
                                         f"({_names([str(u) for u in bad_units])})",
                                         "one cluster per unit (time-invariant, as R's "
                                         "did requires)")], source=source)
    return first_code


def staggered_rc(
    data: pd.DataFrame, outcome: str, unit: str | None, time: str, first_treated: str, *,
    control_group: str, anticipation: int, base_period: str, covariates: Sequence[str],
    est_method: str, never_treated: float | None, cluster: str | None,
    weights: str | None, panel: bool, alpha: float, bootstrap: int | None,
    seed: int | None,
) -> Any:
    """Callaway & Sant'Anna group-time effects from repeated cross-sections or unbalanced panels.

    As R's ``att_gt(panel = FALSE)`` and ``att_gt(allow_unbalanced_panel = TRUE)``.
    The arguments are those of :func:`~evalkit.methods.did.staggered.staggered`, already
    checked; ``panel=False`` means repeated cross-sections (``unit`` may be ``None``), and
    ``panel=True`` here means an unbalanced panel.

    Returns
    -------
    Staggered
        With ``n_units`` the observations (repeated cross-sections) or units (unbalanced
        panel) whose influence functions enter the standard errors.

    References
    ----------
    R ``did::att_gt(panel = FALSE)`` and ``did::att_gt(allow_unbalanced_panel = TRUE)``
    (``compute.att_gt.R``, repeated-cross-section branch).
    """
    from evalkit.methods.did.staggered import (
        FEW_TREATED_UNITS,
        MIN_TREATED_UNITS,
        SMALL_GROUP_BASE,
        Staggered,
    )
    covariates = list(covariates)
    source = source_of(data)
    needed = [c for c in dict.fromkeys([outcome, unit if panel else None, time, first_treated,
                                        weights, cluster, *covariates]) if c]
    subset = data[[c for c in needed if c in data.columns]]
    subset.attrs = dict(data.attrs)
    if never_treated is None:
        never_treated, subset = _missing_as_never(subset, first_treated)
    specs = [Column(outcome, allow_missing=False),
             Column(time, kind="integer", allow_missing=False),
             Column(first_treated, kind="integer", allow_missing=False),
             *[Column(c, allow_missing=False) for c in covariates]]
    if panel and unit:
        specs.append(Column(unit, kind="string", allow_missing=False))
    if weights:
        specs.append(Column(weights, allow_missing=True))  # checked below
    clean = validate(subset, specs)
    cautions: list[Any] = []
    n_rows = len(clean)
    y = clean[outcome].to_numpy(float)
    tt = clean[time].to_numpy(float)
    g = clean[first_treated].to_numpy(float)
    if panel:
        ids, unit_values = pd.factorize(clean[unit])
        labels = np.asarray(unit_values, dtype=object)[ids]
        what = "unit(s)"
    else:
        ids = np.arange(n_rows)
        labels = np.arange(1, n_rows + 1)
        what = "row(s)"
    X = np.column_stack([np.ones(n_rows), *[clean[c].to_numpy(float) for c in covariates]])
    w = None
    if weights:
        w = clean[weights].to_numpy(float)
        check_weights(w, weights, labels, what, source)
        w = w / w.mean()
    negative = (g < 0) & (g != never_treated)
    if negative.any():
        raise _problem(first_treated, f"negative adoption periods in {what} "
                       f"{_names([str(u) for u in pd.unique(labels[negative])])}",
                       f"{_fmt(never_treated)} for never treated, or the period of adoption",
                       source)
    clusters_row = None
    if cluster is not None:
        raw = data[cluster] if cluster in data.columns else None
        if raw is None:
            raise _problem(cluster, "required column is missing",
                           "a cluster identifier in every row", source)
        miss = pd.isna(raw).to_numpy()
        if miss.any():
            raise _problem(cluster, f"missing cluster identifiers in {what} "
                           f"{_names([str(u) for u in pd.unique(labels[miss])])}",
                           "a cluster identifier in every row", source)
        clusters_row = pd.factorize(raw.astype(str))[0]
    if panel:
        order = np.lexsort((tt, ids))
        same = ids[order][1:] == ids[order][:-1]
        for col, vals, expected in ((first_treated, g, "one adoption period per unit"),
                                    (time, tt, "every unit observed at most once per period"),
                                    (cluster, clusters_row, "one cluster per unit "
                                     "(time-invariant, as R's did requires)")):
            if vals is None:
                continue
            v = vals[order]
            diff = same & ((v[1:] == v[:-1]) if col == time else (v[1:] != v[:-1]))
            if diff.any():
                bad = pd.unique(unit_values[ids[order][1:][diff]])
                verb = "repeats a period in" if col == time else "changes within"
                raise _problem(col, f"{verb} {len(bad)} unit(s) "
                               f"({_names([str(u) for u in bad])})", expected, source)

    # -- cohorts, as R's pre_process_did ------------------------------------------------------
    periods = np.unique(tt)
    if periods.size < 2:
        raise _problem(time, f"only one period ({_fmt(periods[0])})", "at least two periods",
                       source)
    never = g == never_treated
    late = ~never & (g > periods.max() + anticipation)
    if late.any():
        cautions.append(Caution(
            f"Cohort(s) {_names([_fmt(c) for c in np.unique(g[late])])} adopt after the last "
            f"period in the data ({_fmt(periods.max())}); as in R's did, they are treated as "
            "never treated and serve as comparison units.", limits=False))
        g = np.where(late, never_treated, g)
        never = g == never_treated
    keep = np.ones(n_rows, dtype=bool)
    latest_only = None
    if not never.any():
        if control_group == "nevertreated":
            raise _problem(first_treated, "no never-treated units",
                           "never-treated units, or control_group='notyettreated' (which, as "
                           "R's did, uses the last cohort as comparison)", source)
        latest_only = g.max()
        keep &= tt < latest_only - anticipation
        cautions.append(Caution(
            f"No unit stays untreated: as in R's did, the last cohort ({_fmt(latest_only)}) "
            "serves only as a comparison group, so its own effect is not estimated, and "
            f"periods from {_fmt(latest_only - anticipation)} on are left out.",
            limits=False))
    first = np.unique(tt[keep])[0] if keep.any() else periods[0]
    early = ~never & (g <= first + anticipation)
    if early.any():
        cautions.append(Caution(
            f"{len(pd.unique(labels[early]))} {what} already treated in the first period "
            f"({_fmt(first)}) are dropped, as R's did does: cohort(s) "
            f"{_names([_fmt(c) for c in np.unique(g[early])])}.", limits=False))
        keep &= ~early
    if not keep.all():
        y, tt, g, X, never, labels = y[keep], tt[keep], g[keep], X[keep], never[keep], \
            labels[keep]
        w = None if w is None else w[keep]
        clusters_row = None if clusters_row is None else clusters_row[keep]
        ids = pd.factorize(ids[keep])[0] if panel else np.arange(int(keep.sum()))
    periods = np.unique(tt)
    if periods.size < 2:
        raise _problem(time, "fewer than two periods left", "at least two periods", source)
    n_t = periods.size
    first = periods[0]
    glist = np.unique(g[~never & (g > first + anticipation)])
    if latest_only is not None:
        glist = glist[glist < latest_only]
    if glist.size == 0:
        raise _problem(first_treated, "no cohort adopts within the data after the first period",
                       f"the period each unit is first treated, {_fmt(never_treated)} if never "
                       "treated", source)
    n = int(ids.max()) + 1
    unit_g = np.empty(n)
    unit_g[ids] = g
    treated_units = np.isin(unit_g, glist)
    n_treated = int(treated_units.sum())
    noun = "units" if panel else "treated observations"
    if not panel and clusters_row is not None:
        # repeated cross-sections of people within jurisdictions: the policy varies by
        # cluster, so the intervals need enough treated clusters, not treated respondents
        n_treated = int(np.unique(clusters_row[np.isin(g, glist)]).size)
        noun = "clusters (e.g. states)"
    if not panel and clusters_row is None:
        cautions.append(Caution(
            "The repeated cross-sections are not clustered: the standard errors treat every "
            "observation as independent, although a policy is adopted by whole jurisdictions. "
            "Give the jurisdiction as the cluster (R's clustervars) unless the observations "
            "are the jurisdictions themselves.", limits=True))
    if n_treated < MIN_TREATED_UNITS:
        problem = DataProblem(first_treated, f"only {n_treated} treated {noun} adopt within "
                              f"the data; the Callaway & Sant'Anna intervals need at least "
                              f"{MIN_TREATED_UNITS}", f"at least {MIN_TREATED_UNITS} treated "
                              f"{noun}")
        raise DesignRefused([problem], source=source,
                            alternative="a design built for one or a few treated units, such "
                                        "as synthetic control or a comparative case study",
                            reason=f"Only {n_treated} {noun} adopted within the years "
                                   f"observed; the Callaway–Sant'Anna method needs at least "
                                   f"{MIN_TREATED_UNITS}, so no estimate is given.")
    if n_treated < FEW_TREATED_UNITS:
        cautions.append(Caution(
            f"Only {n_treated} treated {noun}: with fewer than {FEW_TREATED_UNITS} the 95% "
            "intervals tend to be too narrow.", limits=True))
    reqsize = len(covariates) + SMALL_GROUP_BASE
    size = {c: np.sum(g == c) / n_t for c in np.unique(g)}  # R: observations per period
    if control_group == "nevertreated" and size.get(never_treated, 0) < reqsize:
        raise _problem(first_treated, f"only {size.get(never_treated, 0):g} never-treated "
                       "observations per period, too few to serve as a reliable comparison "
                       "(R's did stops here too)", f"at least {reqsize} never-treated "
                       "observations per period, or control_group='notyettreated'", source)
    small = [c for c in glist if size[c] < reqsize]
    if small:
        cautions.append(Caution(
            f"Cohort(s) {_names([_fmt(c) for c in small])} have fewer than {reqsize} "
            "observations per period: their own group-time effects rest on very few "
            "observations and are unreliable.", limits=False))
    clusters = None
    if clusters_row is not None:
        cu = np.empty(n, dtype=np.int64)
        cu[ids] = clusters_row
        clusters = pd.factorize(cu)[0]
    unit_w = None
    if w is not None:  # R's aggte: the mean weight of each unit's observations
        unit_w = np.bincount(ids, weights=w, minlength=n) / np.bincount(ids, minlength=n)

    # -- group-time effects (R's compute.att_gt, repeated cross-sections) ---------------------
    order = np.argsort(tt, kind="stable")
    bounds = np.searchsorted(tt[order], periods, side="left")
    rows_by_t = [np.sort(order[bounds[k]:(bounds[k + 1] if k + 1 < n_t else None)])
                 for k in range(n_t)]
    rows, ref_flags, failed = [], [], []
    universal = base_period == "universal"
    t_start = 0 if universal else 1
    # one influence-function column per cell, filled in place (column-major: one column a cell)
    inf_mat = np.zeros((n, glist.size * (n_t - t_start)), order="F")
    for gg in glist:
        pret_g = int(np.flatnonzero(periods + anticipation < gg)[-1])
        for cur in range(t_start, n_t):
            t = periods[cur]
            post_cell = gg <= t
            pret = pret_g if (universal or post_cell) else cur - 1
            if universal and pret == cur:
                rows.append({"group": gg, "time": t, "att": 0.0, "post": 0})
                ref_flags.append(True)
                continue
            idx = np.concatenate([rows_by_t[cur], rows_by_t[pret]])
            gc = g[idx]
            G = gc == gg
            if control_group == "nevertreated":
                C = gc == never_treated
            else:
                thr = periods[max(cur, pret)] + anticipation
                C = (gc == never_treated) | ((gc > thr) & (gc != gg))
            sel = idx[G | C]
            G = G[G | C].astype(float)
            post = (tt[sel] == t).astype(float)
            label = f"ATT({_fmt(gg)}, {_fmt(t)})"
            att, inf_cell = float("nan"), None
            absent = [periods[k] for k, p in ((cur, 1.0), (pret, 0.0))
                      if not np.any((G == 1) & (post == p))]
            if absent and not panel:
                raise _problem(time, f"cohort {_fmt(gg)} has no observations in period(s) "
                               f"{_names([_fmt(p) for p in absent])}, needed for {label}",
                               "every adoption cohort observed in every period (repeated "
                               "cross-sections)", source)
            if absent:
                failed.append(f"{label}: cohort {_fmt(gg)} is not observed in "
                              f"{_names([_fmt(p) for p in absent])}")
            elif not (np.any((G == 0) & (post == 1)) and np.any((G == 0) & (post == 0))):
                failed.append(f"{label} has no comparison units in both periods")
            else:
                try:
                    att, inf_cell = did_rc(y[sel], post, G, X[sel],
                                           None if w is None else w[sel], est_method)
                except _CellFailed as exc:
                    failed.append(f"{label}: {exc}")
                else:
                    if not (np.isfinite(att) and np.all(np.isfinite(inf_cell))):
                        failed.append(f"{label}: the estimate is not a finite number")
                        att, inf_cell = float("nan"), None
            cell_inf = inf_mat[:, len(rows)]
            if inf_cell is None:
                cell_inf[:] = np.nan
            else:
                cell_inf[:] = np.bincount(ids[sel], weights=inf_cell * (n / sel.size), minlength=n)
            rows.append({"group": gg, "time": t, "att": att, "post": int(post_cell)})
            ref_flags.append(False)
    if failed:
        cautions.append(Caution(
            f"{len(failed)} group-time effect(s) could not be estimated and are missing "
            f"(NaN), as R's did reports NA: {'; '.join(failed[:5])}"
            + (f"; and {len(failed) - 5} more" if len(failed) > 5 else "")
            + ". Averages of the effects can only leave them out.", limits=True))
    table = pd.DataFrame(rows, columns=["group", "time", "att", "post"])
    reference = np.array(ref_flags, dtype=bool)
    common: dict[str, Any] = dict(
        n_units=n, n_treated=n_treated, control_group=control_group, base_period=base_period,
        anticipation=int(anticipation), est_method=est_method, cluster=cluster, alpha=alpha,
        bootstrap=bootstrap, seed=seed, panel=panel, allow_unbalanced_panel=panel,
        weights=weights, _inf=inf_mat, _cohort=unit_g, _clusters=clusters, _periods=periods,
        _reference=reference, _unit_weights=unit_w)
    draft = Staggered(att_gt=table, pretest=None, **common)
    ses, crit = draft._ses(inf_mat)
    att_v = table["att"].to_numpy(float)
    z = float(special.ndtri(1 - alpha / 2))
    table = table.assign(se=ses, ci_low=att_v - z * ses, ci_high=att_v + z * ses)
    if crit is not None:
        table = table.assign(band_low=att_v - crit * ses, band_high=att_v + crit * ses)
    table = table[[c for c in ["group", "time", "att", "se", "ci_low", "ci_high", "band_low",
                               "band_high", "post"] if c in table.columns]]
    if reference.any():
        cautions.append(Caution("With a universal base period the effect in each cohort's "
                                "base period is 0 by construction and has no standard error.",
                                limits=False))
    if clusters is not None and bootstrap is not None:
        pretest = pretest_result(float("nan"), 0.0, float("nan"))
        cautions.append(Caution(
            "The pre-trend tests are not reported with a cluster variable and the bootstrap "
            "(as in R's did); judge pre-trends from the bootstrap bands.", limits=True))
    else:
        pre_idx = np.flatnonzero((table["group"] > table["time"]).to_numpy())
        pretest = _wald(att_v[pre_idx], inf_mat[:, pre_idx], clusters, "", cautions,
                        limits=False)
    if clusters is not None and int(clusters.max()) + 1 < 30:
        cautions.append(Caution(
            f"Standard errors are clustered on '{cluster}' with only "
            f"{int(clusters.max()) + 1} clusters; with fewer than about 30 clusters "
            "cluster-robust standard errors tend to be too small.", limits=True))
    return Staggered(att_gt=table, pretest=pretest, crit_value=crit,
                     cautions=tuple(cautions), **common)

"""Aggregations of group-time effects, as R ``did``'s ``compute.aggte.R``.

``"simple"``, ``"group"``, ``"dynamic"`` (event study) and ``"calendar"`` averages of the
ATT(g, t) of :func:`~evalkit.methods.did.staggered.staggered`, with standard errors from the
influence functions (including the estimation of the cohort-size weights), and the Wald
pre-trend tests of the pre-adoption effects.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, get_args

import numpy as np
import pandas as pd
from scipy import special

from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.results import Caution, Result, TestResult, check_option, merge_cautions

if TYPE_CHECKING:  # pragma: no cover
    from evalkit.methods.did.staggered import Staggered

__all__ = ["Aggregate", "AggregationKind", "aggregate"]

#: The aggregations of R's ``aggte(type = ...)``.
AggregationKind = Literal["simple", "group", "dynamic", "calendar"]

#: Standard errors at or below this are treated as zero, as R's ``did`` does
#: (``se[se <= sqrt(.Machine$double.eps) * 10] <- NA``).
_SE_ZERO = math.sqrt(np.finfo(float).eps) * 10


def _fmt(v: float) -> str:
    return f"{v:g}"


def _names(values: Sequence[Any], k: int = 5) -> str:
    shown = ", ".join(str(v) for v in list(values)[:k])
    more = len(values) - min(len(values), k)
    return shown + (f" and {more} more" if more > 0 else "")


@dataclass(frozen=True)
class Aggregate(Result):
    """An aggregation of group-time effects (:meth:`Staggered.aggregate`).

    Attributes
    ----------
    kind
        ``"simple"``, ``"group"``, ``"dynamic"`` or ``"calendar"``.
    estimate, se, ci_low, ci_high, p_value
        The overall average effect (``se``, the interval and the p-value are NaN, with a
        caution, when the standard error is numerically zero). The p-value is two-sided, from
        the normal distribution: ``2 Φ(−|estimate / se|)``.
    table
        The per-group, per-event-time or per-period effects (``key, estimate, se, ci_low,
        ci_high, p_value``, and ``band_low, band_high`` with the bootstrap); empty for
        ``"simple"``.
    pretest
        For ``"dynamic"``: Wald test (:class:`~evalkit.results.TestResult`) that every
        pre-adoption event-time effect is zero (``None`` when the window holds no
        pre-adoption event time; NaN, with a caution, when it cannot be computed).
    cov
        For ``"dynamic"``: the covariance of the event-time effects in the order of
        ``table`` (from their influence functions, clustered when the estimate is; R's
        ``aggte`` ``inf.function`` as ``HonestDiD``'s ``honest_did.AGGTEobj`` reads it), for
        :func:`evalkit.methods.did.honest.honest_did`; ``None`` otherwise.
    """

    _title: ClassVar[str] = "Aggregated treatment effect"
    _options: ClassVar[tuple[str, ...]] = ("kind", "alpha")

    kind: AggregationKind
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    table: pd.DataFrame
    p_value: float = float("nan")
    alpha: float = 0.05
    pretest: TestResult | None = None
    crit_value: float | None = None
    cov: np.ndarray | None = dataclasses.field(default=None, repr=False, compare=False)

    def _terms(self) -> list[dict[str, Any]]:
        rows = [{"term": f"overall ({self.kind})", "estimate": self.estimate, "se": self.se,
                 "ci_low": self.ci_low, "ci_high": self.ci_high, "p_value": self.p_value}]
        rows += [{"term": f"{self.kind} {_fmt(r['key'])}", "estimate": r["estimate"],
                  "se": r["se"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                  "p_value": r["p_value"]}
                 for _, r in self.table.iterrows()]
        return rows


def normal_p_value(estimate: Any, se: Any) -> Any:
    """Two-sided p-value of ``estimate / se`` against the standard normal, ``2 Φ(−|z|)``.

    The p-value is NaN where the standard error is NaN.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return 2 * special.ndtr(-np.abs(np.asarray(estimate, float) / np.asarray(se, float)))


def aggregate(res: Staggered, kind: AggregationKind = "simple", *,
              balance_e: int | None = None, min_e: float = -math.inf,
              max_e: float = math.inf, na_rm: bool = False) -> Aggregate:
    """Average the ATT(g, t) of ``res`` into one effect, as R ``did::aggte``.

    This is the computation behind
    :meth:`Staggered.aggregate <evalkit.methods.did.staggered.Staggered.aggregate>`, whose
    docstring describes the kinds, the event-time rules and ``na_rm``.
    """
    check_option("kind", kind, get_args(AggregationKind))
    cautions: list[str] = list(res.cautions)
    table = res.att_gt
    g = table["group"].to_numpy(float)
    t = table["time"].to_numpy(float)
    att = table["att"].to_numpy(float)
    inf = res._inf
    cohort = res._cohort
    ref_cell = (np.zeros(att.size, dtype=bool) if res._reference is None
                else np.asarray(res._reference, dtype=bool))
    missing = np.isnan(att)
    if missing.any():
        cells = [f"ATT({_fmt(a)}, {_fmt(b)})" for a, b in zip(g[missing], t[missing], strict=True)]
        if not na_rm:
            raise EvalDataError([DataProblem(None, f"{int(missing.sum())} group-time "
                                             f"effect(s) could not be estimated "
                                             f"({_names(cells)})",
                                             "every ATT(g, t) estimated, or na_rm=True "
                                             "to aggregate the others (as R's aggte)")])
        keep = ~missing
        all_groups = np.unique(g)
        g, t, att, inf = g[keep], t[keep], att[keep], inf[:, keep]
        ref_cell = ref_cell[keep]
        cautions.append(Caution(
            f"The {kind} aggregation leaves out {len(cells)} group-time effect(s) that "
            f"could not be estimated ({_names(cells)}), so it averages over fewer "
            "cohorts and periods than the data hold.", limits=True))
        if kind == "group":
            ok = [gg for gg in np.unique(g) if np.any((g == gg) & (gg <= t))]
            lost = [gg for gg in all_groups if gg not in ok]
            if not ok:
                raise EvalDataError("no cohort has an estimated post-treatment effect; "
                                    "the group aggregation cannot be computed")
            if lost:
                cautions.append(Caution(
                    f"Cohort(s) {_names([_fmt(x) for x in lost])} have no estimated "
                    "effect after adoption and are left out of the group aggregation, so "
                    "its overall effect does not describe them.", limits=True))
            keep = np.isin(g, ok)
            g, t, att, inf = g[keep], t[keep], att[keep], inf[:, keep]
            ref_cell = ref_cell[keep]
    if att.size == 0:
        raise EvalDataError("no group-time effect could be estimated; nothing to aggregate")
    groups = np.unique(g)
    # R recodes periods (and adoption dates that are not periods) to their positions 1, 2, …
    positions = np.unique(np.concatenate([res._periods, groups]))
    gi = np.searchsorted(positions, g) + 1.0
    ti = np.searchsorted(positions, t) + 1.0
    uw = getattr(res, "_unit_weights", None)
    # R's pg: the (weighted) share of units in each cohort; 1{G = g} becomes w 1{G = g}
    member: Any = ((lambda gg: (cohort == gg).astype(float)) if uw is None
                   else (lambda gg: uw * (cohort == gg)))
    pg_group = np.array([np.mean(member(gg)) for gg in groups])
    pg = pg_group[np.searchsorted(groups, g)]
    e = t - g
    z = float(special.ndtri(1 - res.alpha / 2))

    def wif(idx: np.ndarray) -> np.ndarray:
        spg = pg[idx].sum()
        centered = np.column_stack([member(g[k]) - pg[k] for k in idx])
        return centered / spg - np.outer(centered.sum(axis=1), pg[idx] / spg**2)

    def combine(keep: np.ndarray) -> tuple[float, np.ndarray]:
        idx = np.flatnonzero(keep)
        if idx.size == 0:
            raise EvalDataError(f"no group-time effects fall in the requested {kind} "
                                "aggregation (check min_e, max_e and balance_e)")
        wts = pg[idx] / pg[idx].sum()
        return float(att[idx] @ wts), inf[:, idx] @ wts + wif(idx) @ att[idx]

    def finish(est: float, this: np.ndarray, rows: list[dict[str, Any]],
               pieces_inf: np.ndarray | None, pretest: TestResult | None,
               fixed: list[bool] | None = None) -> Aggregate:
        crit = None
        if pieces_inf is not None and pieces_inf.shape[1]:
            ses, crit = res._ses(pieces_inf)
            if not res.bootstrap:
                crit = None
            for row, s in zip(rows, ses, strict=True):
                row.update(se=s, ci_low=row["estimate"] - z * s,
                           ci_high=row["estimate"] + z * s,
                           p_value=float(normal_p_value(row["estimate"], s)))
                if crit is not None:
                    row.update(band_low=row["estimate"] - crit * s,
                               band_high=row["estimate"] + crit * s)
            # reference rows: made only of a universal base period's reference cells
            fixed = fixed or [False] * len(rows)
            bad = [_fmt(r["key"]) for r, f in zip(rows, fixed, strict=True)
                   if not np.isfinite(r["se"]) and not f]
            ref = [_fmt(r["key"]) for r, f in zip(rows, fixed, strict=True)
                   if not np.isfinite(r["se"]) and f]
            if ref:
                cautions.append(Caution(f"The {kind} effect for {_names(ref)} is the "
                                        "reference period, 0 by construction, so it has "
                                        "no standard error or interval.", limits=False))
            if bad:
                cautions.append(Caution(
                    f"The {kind} effects for {_names(bad)} have no standard error: their "
                    "estimated sampling variance is zero (for example an outcome that does "
                    "not change), so no interval is shown for them. This concerns those "
                    "rows only, not the overall effect.", limits=False))
        se = float(res._ses(this[:, None])[0][0])
        if not np.isfinite(se):
            cautions.append(Caution(
                f"The overall {kind} effect has no standard error: its estimated sampling "
                "variance is zero (for example an outcome that does not change), so no "
                "interval or test is shown and its uncertainty cannot be judged.",
                limits=True))
        cov = (_variance(pieces_inf, res._clusters) if kind == "dynamic"
               and pieces_inf is not None and pieces_inf.shape[1] else None)
        return Aggregate(kind, est, se, est - z * se, est + z * se, pd.DataFrame(rows),
                         p_value=float(normal_p_value(est, se)),
                         alpha=res.alpha, pretest=pretest, crit_value=crit, cov=cov,
                         cautions=merge_cautions(cautions))

    post = (gi <= ti) & (ti <= gi + max_e)
    if kind == "simple":
        est, this = combine(post)
        return finish(est, this, [], None, None)
    rows: list[dict[str, Any]] = []
    pieces: list[tuple[float, float, np.ndarray]] = []
    pretest = None
    if kind == "group":
        for gg in groups:
            idx = np.flatnonzero((g == gg) & post)
            if idx.size == 0:
                raise EvalDataError(f"cohort {_fmt(gg)} has no post-treatment effect "
                                    "within max_e")
            pieces.append((gg, float(att[idx].mean()), inf[:, idx].mean(axis=1)))
        ests = np.array([p[1] for p in pieces])
        infs = np.column_stack([p[2] for p in pieces])
        wts = pg_group / pg_group.sum()
        centered = np.column_stack([member(gg) - pgv
                                    for gg, pgv in zip(groups, pg_group, strict=True)])
        w_inf = (centered / pg_group.sum()
                 - np.outer(centered.sum(axis=1), pg_group / pg_group.sum() ** 2))
        overall_inf = infs @ wts + w_inf @ ests
        overall = float(ests @ wts)
    elif kind == "dynamic":
        include = np.ones(g.size, dtype=bool)
        eseq = np.unique(e)
        if balance_e is not None:
            t_last, t_first = t.max(), positions[0]
            include = (t_last - g) >= balance_e
            eseq = np.unique(e[include])
            eseq = eseq[(eseq <= balance_e) & (eseq >= balance_e - t_last + t_first)]
        eseq = eseq[(eseq >= min_e) & (eseq <= max_e)]
        if eseq.size == 0:
            raise EvalDataError("no event times fall within the requested window; adjust "
                                "min_e, max_e and balance_e")
        fixed_rows = []
        for ee in eseq:
            est, this = combine((e == ee) & include)
            pieces.append((ee, est, this))
            fixed_rows.append(bool(np.all(ref_cell[(e == ee) & include])))
        post_pieces = [p for p in pieces if p[0] >= 0]
        if not post_pieces:
            raise EvalDataError("no event time at or after adoption falls within the "
                                "requested window (min_e, max_e)")
        overall = float(np.mean([p[1] for p in post_pieces]))
        overall_inf = np.column_stack([p[2] for p in post_pieces]).mean(axis=1)
    else:  # calendar: R ignores min_e, max_e and balance_e here
        for tt in np.unique(ti[ti >= gi.min()]):
            keep = (ti == tt) & (gi <= ti)
            if keep.any():
                est, this = combine(keep)
                pieces.append((positions[int(tt) - 1], est, this))
        overall = float(np.mean([p[1] for p in pieces]))
        overall_inf = np.column_stack([p[2] for p in pieces]).mean(axis=1)
    rows = [{"key": key, "estimate": est} for key, est, _ in pieces]
    pieces_inf = np.column_stack([p[2] for p in pieces])
    fixed = None
    if kind == "dynamic":
        pretest = _event_pretest(res, pieces, cautions)
        fixed = fixed_rows
    return finish(overall, overall_inf, rows, pieces_inf, pretest, fixed)


def _event_pretest(res: Staggered, pieces: list[tuple[float, float, np.ndarray]],
                   cautions: list[str]) -> TestResult | None:
    """Wald test of the pre-adoption event-time effects (None when the window has none)."""
    pre = [p for p in pieces if p[0] < 0]
    if not pre:
        return None
    if res._clusters is not None and res.bootstrap:
        return pretest_result(float("nan"), 0.0, float("nan"), "event-time")
    b = np.array([p[1] for p in pre])
    F = np.column_stack([p[2] for p in pre])
    return _wald(b, F, res._clusters, "event-time", cautions)


def _variance(F: np.ndarray, clusters: np.ndarray | None) -> np.ndarray:
    """R's ``V`` of the influence functions, divided by n: ``t(F) F / n²`` (or cluster sums)."""
    n = F.shape[0]
    if clusters is not None:
        S = np.zeros((int(clusters.max()) + 1, F.shape[1]))
        np.add.at(S, clusters, F)
        return S.T @ S / n / n
    return F.T @ F / n / n


def _wald(b: np.ndarray, F: np.ndarray, clusters: np.ndarray | None, what: str,
          cautions: list[str], *, limits: bool = True) -> TestResult:
    """R's pre-test: drop cells with NA or zero variance, refuse a singular covariance.

    ``limits`` marks the cautions of a test that cannot be computed as limiting the
    conclusion; the group-time test's are informative only, because reports rely on the
    event-time test of the dynamic aggregation (which carries its own).
    """
    nan = pretest_result(float("nan"), 0.0, float("nan"), what)
    test = f"The {what} pre-trend test" if what else "The pre-trend test"

    def refuse(why: str) -> TestResult:
        cautions.append(Caution(f"{test} cannot be computed: {why}", limits=limits))
        return nan

    if b.size == 0:
        return refuse("there are no pre-treatment effects (every cohort adopts too early in "
                      "the data).")
    finite = np.isfinite(b) & np.all(np.isfinite(F), axis=0)
    var = np.full(b.size, np.nan)
    if finite.any():
        var[finite] = np.diag(_variance(F[:, finite], clusters))
    usable = finite & (np.sqrt(np.where(np.isfinite(var), var, 0)) > _SE_ZERO)
    if not usable.any():
        return refuse("every pre-treatment effect has zero or missing sampling variance (for "
                      "example the outcome does not change before adoption, or the cells "
                      "could not be estimated), so there is nothing to test.")
    V = _variance(F[:, usable], clusters)
    cond = np.linalg.cond(V, 1)
    if not np.isfinite(cond) or 1 / cond <= np.finfo(float).eps:
        return refuse("the pre-treatment effects are perfectly dependent on one another "
                      "(singular covariance matrix).")
    bu = b[usable]
    stat = float(bu @ np.linalg.solve(V, bu))
    q = int(usable.sum())
    return pretest_result(stat, float(q), float(special.chdtrc(q, stat)), what)


def pretest_result(statistic: float, df: float, p_value: float, what: str = "") -> TestResult:
    """The pre-trend test as a :class:`~evalkit.results.TestResult`.

    Parameters
    ----------
    statistic, df, p_value
        Wald chi-squared statistic, its degrees of freedom (the pre-treatment effects
        tested) and p-value; NaN (and 0 df) when the test cannot be computed.
    what
        ``"event-time"`` for the test of the dynamic aggregation, ``""`` for the test of
        the group-time effects.
    """
    cells = "event-time effect" if what == "event-time" else "group-time effect ATT(g, t)"
    return TestResult(statistic=float(statistic), df=float(df), p_value=float(p_value),
                      method="Wald test (chi-squared) of parallel pre-trends",
                      null=f"every pre-adoption {cells} is zero")

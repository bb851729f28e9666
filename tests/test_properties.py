"""Property-based tests over every public estimator, on the small and messy data evaluations have.

For frames of 1 to 60 rows with missing values, ties, constant columns, one group, one cluster,
one treated unit and unbalanced panels, every public estimator must

* return its result or raise :class:`~evalkit.exceptions.EvalDataError` — never another
  exception;
* never show a standard error of (numerically) zero beside a finite estimate;
* never leave a headline number NaN without a caution saying why.

The examples are generated from a fixed database-free, derandomized profile (``ci``), so every run
tries the same cases; set ``EVALKIT_HYPOTHESIS_PROFILE=explore`` to search more widely.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import evalkit.did as did
import evalkit.prepost as prepost
import evalkit.survival as surv
from evalkit.exceptions import EvalDataError
from evalkit.methods.meta import meta_analysis
from evalkit.results import FRAME_COLUMNS, Result

settings.register_profile(
    "ci", max_examples=25, derandomize=True, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "explore", max_examples=400, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("EVALKIT_HYPOTHESIS_PROFILE", "ci"))

#: The numbers each result leads with: NaN in any of them needs a caution.
HEADLINE = {
    "PairedChange": ("mean_diff", "se", "ci_low", "ci_high", "p_value"),
    "SignedRank": ("estimate", "ci_low", "ci_high", "p_value"),
    "McNemar": ("diff", "diff_ci_low", "diff_ci_high", "p_value"),
    "GroupComparison": ("estimate", "se", "ci_low", "ci_high", "p_value"),
    "ProportionComparison": ("diff", "diff_ci_low", "diff_ci_high", "p_value"),
    "ReliableChange": ("s_diff",),
    "Attrition": ("overall",),
    "CoxResult": ("coef", "se"),
    "RMST": ("diff", "diff_se", "diff_ci_low", "diff_ci_high", "diff_p_value"),
    "LogRank": ("statistic", "p_value"),
    "PHTest": (),
    "KaplanMeier": (),
    "CumulativeIncidence": (),
    "Aggregate": ("estimate", "se", "ci_low", "ci_high", "p_value"),
    "Staggered": (),
    "TWFE": ("coef", "se"),
    "TwoByTwo": ("estimate", "se", "ci_low", "ci_high", "p_value"),
    "EventStudy": (),
    "Bacon": ("twfe",),
    "MetaAnalysis": ("estimate", "se", "ci_low", "ci_high", "p_value"),
}
#: (estimate, standard error) pairs that must never show a zero standard error.
SE_PAIRS = {
    "PairedChange": [("mean_diff", "se")],
    "GroupComparison": [("estimate", "se"), ("change_diff", "change_diff_se")],
    "RMST": [("diff", "diff_se")],
    "Aggregate": [("estimate", "se")],
    "TWFE": [("coef", "se")],
    "CoxResult": [("coef", "se")],
    "TwoByTwo": [("estimate", "se")],
    "MetaAnalysis": [("estimate", "se")],
}
#: Tables of estimates whose standard-error column is checked the same way.
SE_TABLES = {"Staggered": ("att_gt", "att", "se"), "EventStudy": ("table", "estimate", "se"),
             "Aggregate": ("table", "estimate", "se")}


def _as_array(v: Any) -> np.ndarray:
    return np.atleast_1d(np.asarray(v, dtype=float))


def _zero_se(est: np.ndarray, se: np.ndarray) -> bool:
    both = np.isfinite(est) & np.isfinite(se)
    tiny = se <= 1e-10 * np.maximum(1.0, np.abs(est))
    return bool(np.any(both & tiny))


def check_result(res: Any) -> None:
    """The three properties every result must have."""
    assert isinstance(res, Result), f"{type(res).__name__} is not a Result"
    name = type(res).__name__
    assert isinstance(res.cautions, tuple) and all(isinstance(c, str) for c in res.cautions)
    for field in HEADLINE[name]:
        values = _as_array(getattr(res, field))
        if np.isnan(values).any():
            assert res.cautions, f"{name}.{field} is NaN and no caution says why"
    for est_f, se_f in SE_PAIRS.get(name, []):
        est, se = _as_array(getattr(res, est_f)), _as_array(getattr(res, se_f))
        assert not _zero_se(est, se), f"{name}.{se_f} is zero beside a finite {est_f}: {se}"
    if name in SE_TABLES:
        attr, est_c, se_c = SE_TABLES[name]
        tab = getattr(res, attr)
        if tab is not None and len(tab) and est_c in tab and se_c in tab:
            est, se = tab[est_c].to_numpy(float), tab[se_c].to_numpy(float)
            assert not _zero_se(est, se), f"{name}.{attr} has a zero {se_c}"
            if np.isnan(se[np.isfinite(est)]).any() or np.isnan(est).any():
                assert res.cautions, f"{name}.{attr} has NaN entries and no caution says why"
    frame = res.to_frame()
    assert tuple(frame.columns[:6]) == FRAME_COLUMNS, f"{name}.to_frame() columns"
    text = res.summary()
    assert isinstance(text, str) and text


def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call an estimator: its result (checked) or ``None`` after an ``EvalDataError``."""
    try:
        res = fn(*args, **kwargs)
    except EvalDataError as err:
        assert str(err), "an EvalDataError must say what is wrong"
        return None
    check_result(res)
    return res


# -- shapes ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Shape:
    """How a small frame is built: size, missingness, ties and degenerate columns."""

    n: int
    seed: int
    missing: float
    distinct: int  # 0 = continuous values; k = values drawn from k levels (ties)
    constant_pre: bool
    constant_post: bool
    groups: int  # 1 = everyone in one group, 2 = program and comparison
    clusters: int


shapes = st.builds(
    Shape,
    n=st.integers(1, 60),
    seed=st.integers(0, 2**16),
    missing=st.sampled_from([0.0, 0.0, 0.1, 0.5, 1.0]),
    distinct=st.sampled_from([0, 0, 2, 3, 5]),
    constant_pre=st.booleans(),
    constant_post=st.sampled_from([False, False, True]),
    groups=st.sampled_from([1, 2, 2]),
    clusters=st.sampled_from([1, 2, 3, 8]),
)


def _values(rng: np.random.Generator, n: int, distinct: int, loc: float) -> np.ndarray:
    if distinct:
        return rng.integers(0, distinct, n).astype(float) + loc
    return np.round(rng.normal(loc, 8.0, n), 2)


def prepost_frame(s: Shape) -> pd.DataFrame:
    rng = np.random.default_rng(s.seed)
    pre = np.full(s.n, 30.0) if s.constant_pre else _values(rng, s.n, s.distinct, 30.0)
    post = (np.full(s.n, 28.0) if s.constant_post
            else pre + _values(rng, s.n, s.distinct, -2.0) - (s.distinct and 1))
    post = np.where(rng.random(s.n) < s.missing, np.nan, post)
    group = rng.integers(0, 2, s.n) if s.groups == 2 else np.ones(s.n, dtype=int)
    return pd.DataFrame({
        "case_id": [f"K-{i:05d}" for i in range(s.n)],
        "pre": pre, "post": post, "group": group,
        "site": rng.integers(0, s.clusters, s.n),
        "age": np.round(rng.normal(15, 1.5, s.n)),
        "yes_pre": rng.integers(0, 2, s.n) if not s.constant_pre else np.ones(s.n, dtype=int),
        "yes_post": np.where(rng.random(s.n) < s.missing, np.nan,
                             rng.integers(0, 2, s.n).astype(float)),
    })


def survival_frame(s: Shape) -> pd.DataFrame:
    rng = np.random.default_rng(s.seed)
    group = rng.integers(0, 2, s.n) if s.groups == 2 else np.ones(s.n, dtype=int)
    scale = np.where(group == 1, 120.0, 80.0)
    t = rng.exponential(scale)
    t = np.ceil(t / 30.0) * 30.0 if s.distinct else np.ceil(t)
    if s.constant_pre:
        t = np.full(s.n, 60.0)
    censor_share = s.missing  # reuse: 0 (all events) ... 1 (all censored)
    event = (rng.random(s.n) >= censor_share).astype(int)
    if s.constant_post:
        event[group == 0] = 0  # the comparison group is all censored
    return pd.DataFrame({"days": t, "event": event, "group": group,
                         "age": np.round(rng.normal(15, 1.5, s.n)),
                         "site": rng.integers(0, s.clusters, s.n),
                         "exit": np.where(event == 1, rng.integers(1, 3, s.n), 0)})


@dataclass(frozen=True)
class Panel:
    """A small state-by-year panel: who adopts when, spacing of years, balance."""

    units: int
    periods: int
    seed: int
    treated: int
    spacing: int
    late_cohort: bool
    first_period_cohort: bool
    drop: float
    constant: bool


panels = st.builds(
    Panel,
    units=st.integers(2, 26),
    periods=st.integers(1, 7),
    seed=st.integers(0, 2**16),
    treated=st.integers(0, 22),  # the staggered estimator needs 10 treated units to run
    spacing=st.sampled_from([1, 1, 2]),
    late_cohort=st.booleans(),
    first_period_cohort=st.booleans(),
    drop=st.sampled_from([0.0, 0.0, 0.1]),
    constant=st.sampled_from([False, False, False, True]),
)


def panel_frame(p: Panel) -> pd.DataFrame:
    rng = np.random.default_rng(p.seed)
    years = 2000 + p.spacing * np.arange(p.periods)
    first = np.zeros(p.units)
    k = min(p.treated, p.units)
    if k and p.periods > 1:
        first[:k] = rng.choice(years[1:], size=k)
    if p.late_cohort and p.units > k:
        first[k] = years[-1] + 3 * p.spacing  # adopts after the data end
    if p.first_period_cohort and p.units > k + 1:
        first[k + 1] = years[0]
    rows = []
    for u in range(p.units):
        for y in years:
            treated = first[u] > 0 and y >= first[u]
            val = 5.0 if p.constant else (u * 0.3 + (y - 2000) * 0.1 - 1.0 * treated
                                          + rng.normal(0, 0.5))
            rows.append((f"S{u:02d}", int(y), first[u], val, int(treated), u % 3,
                         rng.normal()))
    df = pd.DataFrame(rows, columns=["state", "year", "first", "y", "d", "region", "x"])
    if p.drop:
        df = df[rng.random(len(df)) >= p.drop].reset_index(drop=True)
    return df


# -- pre-post ------------------------------------------------------------------------------------

@given(shapes)
def test_prepost_one_group_estimators(s):
    df = prepost_frame(s)
    run(prepost.paired_change, df, pre="pre", post="post")
    run(prepost.signed_rank, df, pre="pre", post="post")
    run(prepost.reliable_change, df, "pre", "post", reliability=0.8)
    run(prepost.attrition, df, "pre", "post")
    run(prepost.mcnemar, df, pre="yes_pre", post="yes_post")
    for fn in (prepost.describe,):
        try:
            out = fn(df, "pre", "post")
        except EvalDataError:
            continue
        assert isinstance(out, pd.DataFrame)


@given(shapes)
def test_prepost_comparison_group_estimators(s):
    df = prepost_frame(s)
    run(prepost.compare_groups, df, "pre", "post", "group")
    run(prepost.compare_groups, df, "pre", "post", "group", covariates=["age"], cluster="site")
    run(prepost.compare_proportions, df, "yes_post", "group")
    run(prepost.attrition, df, "pre", "post", group="group")
    try:
        out = prepost.describe_groups(df, "pre", "post", "group")
    except EvalDataError:
        return
    assert isinstance(out, pd.DataFrame)


@given(st.lists(st.tuples(st.floats(-3, 3), st.floats(0.0, 2.0)), min_size=1, max_size=8))
def test_meta_analysis(studies):
    effects = [e for e, _ in studies]
    variances = [v for _, v in studies]
    run(meta_analysis, effects, variances)
    run(meta_analysis, effects, variances, method="DL", hartung_knapp=False)


# -- time to event -------------------------------------------------------------------------------

@given(shapes)
def test_survival_estimators(s):
    df = survival_frame(s)
    run(surv.kaplan_meier, df, "days", "event", group="group")
    run(surv.logrank, df, "days", "event", "group")
    tau = float(df["days"].min()) if len(df) else 1.0
    run(surv.rmst, df, "days", "event", "group", tau=max(tau, 1.0))
    fit = run(surv.cox, df, "days", "event", ["group", "age"])
    if fit is not None:
        run(surv.ph_test, fit)
    run(surv.cox, df, "days", "event", ["group"], cluster="site")
    run(surv.cox, df, "days", "event", ["group"], ties="breslow", robust=True)
    run(surv.cumulative_incidence, df, "days", "exit", group="group")


# -- difference-in-differences ---------------------------------------------------------------------

@given(panels)
def test_staggered_and_its_aggregations(p):
    df = panel_frame(p)
    res = run(did.staggered, df, "y", "state", "year", "first")
    if res is not None:
        for kind in ("simple", "dynamic", "group", "calendar"):
            run(res.aggregate, kind)
    res = run(did.staggered, df, "y", "state", "year", "first", control_group="notyettreated",
              base_period="universal")
    if res is not None:
        run(res.aggregate, "dynamic")


@given(panels)
def test_twfe_event_study_and_bacon(p):
    df = panel_frame(p)
    run(did.twfe, df, "y", "state", "year", "d")
    run(did.twfe, df, "y", "state", "year", "d", vcov="iid")
    run(did.twfe, df, "y", "state", "year", "d", cluster="region", wild_bootstrap=99, seed=1)
    run(did.event_study, df, "y", "state", "year", "first", window=(-2, 2))
    run(did.bacon_decomposition, df, "y", "state", "year", "d")


@given(panels)
def test_two_by_two(p):
    df = panel_frame(p)
    if len(df):
        mid = df["year"].median()
        df = df.assign(treated=(df["first"] > 0).astype(int),
                       post=(df["year"] >= mid).astype(int))
    else:
        df = df.assign(treated=[], post=[])
    run(did.two_by_two, df, "y", "treated", "post")
    run(did.two_by_two, df, "y", "treated", "post", cluster="region")


# -- the checker itself can fail ------------------------------------------------------------------

def test_the_checker_catches_a_zero_se_and_an_unexplained_nan():
    from evalkit.methods.did import TwoByTwo

    base = dict(estimate=1.0, se=0.0, ci_low=1.0, ci_high=1.0, p_value=0.0, n=4,
                means=pd.DataFrame(), vcov="HC2", alpha=0.05, wild=None)
    with pytest.raises(AssertionError, match="zero"):
        check_result(TwoByTwo(**base))
    with pytest.raises(AssertionError, match="no caution"):
        check_result(TwoByTwo(**{**base, "se": math.nan}))
    check_result(TwoByTwo(**{**base, "se": math.nan}, cautions=("The SE is undefined.",)))


@given(st.lists(st.one_of(st.none(), st.sampled_from(["A-1", " A-1", "A-1 ", "a-1", "00001",
                                                       "1", "é", "e\u0301", "", "  "]),
                          st.text(max_size=4)), max_size=40))
def test_duplicate_ids_found_as_pandas_finds_them(values):
    """The Arrow ranking that finds repeated ids marks exactly the rows pandas'
    ``duplicated(keep=False)`` marks, for text with blanks, accents, case and missing cells."""
    from evalkit.data import _duplicated

    s = pd.Series(values, dtype="string").str.strip()
    missing = s.isna().to_numpy()
    expected = s.duplicated(keep=False).to_numpy() & ~missing
    assert (_duplicated(s) & ~missing).tolist() == expected.tolist()


@given(st.lists(st.one_of(st.none(), st.sampled_from(["A-1", " A-1", "", "00001", "1"]),
                          st.text(max_size=3)), max_size=40))
def test_distinct_identifiers_as_arrow_unique(values):
    """The rank-based distinct values the leak check searches are Arrow's ``unique`` of the
    stripped, non-empty text, in order of first occurrence."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from evalkit.privacy import unique_text

    arr = pc.utf8_trim_whitespace(pc.drop_null(pa.array(values, type=pa.string())))
    expected = pc.unique(pc.filter(arr, pc.not_equal(arr, ""))).to_pylist()
    assert unique_text(values).to_pylist() == expected


@given(st.lists(st.one_of(st.none(), st.text(alphabet=st.sampled_from(
    ["a", "1", " ", "\t", "\u00a0", "\u2003", "\n", "é"]), max_size=4)), max_size=20))
def test_outer_blanks_seen_as_arrow_trims_them(values):
    """Text is stripped (copied) only when needed: the check on first and last characters
    says a value has outer blanks exactly when Arrow's trim would change it."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from evalkit.data import outer_blanks

    arr = pa.array(values, type=pa.large_string())
    trimmed = pc.utf8_trim_whitespace(arr)
    expected = any(a is not None and a != b for a, b in zip(arr.to_pylist(),
                                                           trimmed.to_pylist(), strict=True))
    assert outer_blanks(arr) == expected

"""The non-staggered DiD estimators on tiny and degenerate panels (issue 9).

Each either gives R's answer (with a caution where a number is limited) or raises an
EvalDataError naming the column; never a raw exception and never a standard error of
(numerically) zero shown as exact. Wild cluster bootstrap values under full enumeration come from
tests/reference/wild_enumeration_reference.R (hand enumeration with base R and sandwich).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE

from evalkit.did import (
    bacon_decomposition,
    event_study,
    twfe,
    two_by_two,
    wild_cluster_bootstrap,
)
from evalkit.exceptions import EvalDataError


def _panel(n_units: int, periods, first: dict, *, y=None, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    d = pd.DataFrame([(u, t) for u in range(n_units) for t in periods], columns=["u", "t"])
    d["ft"] = d["u"].map(lambda u: first.get(u, 0))
    d["D"] = ((d["ft"] > 0) & (d["t"] >= d["ft"])).astype(int)
    d["y"] = rng.normal(size=len(d)) if y is None else y
    return d


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "mpdta.csv")


# -- 1. no standard error of (numerically) zero shown as exact ---------------------------------

def test_twfe_two_units_two_periods_gives_the_dd_and_no_standard_error():
    d = pd.DataFrame({"u": [1, 1, 2, 2], "t": [1, 2, 1, 2], "y": [1.0, 2.0, 3.0, 5.5],
                      "D": [0, 0, 0, 1]})
    for vcov in ("CRV1", "iid", "hetero"):
        res = twfe(d, "y", "u", "t", "D", vcov=vcov)
        assert res.coef[0] == pytest.approx((5.5 - 3.0) - (2.0 - 1.0), rel=1e-12)
        row = res.to_frame().iloc[0]
        assert np.isnan(res.se[0]) and np.isnan(row["p_value"]) and np.isnan(row["ci_low"])
        assert res.cautions, vcov
    iid = twfe(d, "y", "u", "t", "D", vcov="iid")
    assert "no degrees of freedom" in iid.cautions[0] and "4 parameters" in iid.cautions[0]


def test_twfe_two_units_cluster_robust_se_is_zero_in_exact_arithmetic_so_not_reported():
    # with two clusters and period effects the two clusters' scores are equal and sum to zero:
    # the CRV1 variance is exactly 0 (the issue saw 3e-16 shown as exact)
    d = _panel(2, [1, 2, 3], {1: 2}, seed=4)
    res = twfe(d, "y", "u", "t", "D")
    assert np.isnan(res.se[0]) and res.n_clusters == 2
    assert any("only 2 clusters" in c and "zero up to rounding" in c for c in res.cautions)
    assert np.isnan(res.to_frame()["p_value"].iloc[0])
    # the iid SE exists (1 residual df) and equals the dummy regression's
    iid = twfe(d, "y", "u", "t", "D", vcov="iid")
    X = np.column_stack([np.ones(6), d["D"], d["u"] == 1, d["t"] == 2, d["t"] == 3]).astype(float)
    beta, *_ = np.linalg.lstsq(X, d["y"], rcond=None)
    resid = d["y"] - X @ beta
    se = np.sqrt(resid @ resid / 1 * np.linalg.inv(X.T @ X)[1, 1])
    assert iid.se[0] == pytest.approx(se, rel=1e-9) and not iid.cautions


def test_twfe_exact_fit_with_residual_df_reports_no_standard_error():
    d = _panel(5, [1, 2, 3, 4], {3: 3, 4: 2})
    d["y"] = 0.7 * d["u"] + 0.3 * d["t"] ** 2 + 2.0 * d["D"]  # unit + period + effect, no noise
    res = twfe(d, "y", "u", "t", "D", vcov="iid")
    assert res.coef[0] == pytest.approx(2.0, rel=1e-10)
    assert np.isnan(res.se[0]) and "reproduces every observed outcome exactly" in res.cautions[0]


def test_twfe_refuses_an_outcome_without_within_variation():
    d = _panel(4, [1, 2, 3], {2: 2})
    d["y"] = 5.0
    with pytest.raises(EvalDataError, match="column 'y': is constant"):
        twfe(d, "y", "u", "t", "D")
    d["y"] = d["u"] * 2.0 + d["t"]  # a unit part plus a period part
    with pytest.raises(EvalDataError, match="column 'y': does not vary once unit and period"):
        twfe(d, "y", "u", "t", "D")


# -- 2. zero weights: dropped as R's lm does -----------------------------------------------------

def test_twfe_zero_weights_are_dropped_as_lm_does():
    d = _panel(8, [1, 2, 3, 4], {5: 3, 6: 2, 7: 3}, seed=2)
    d["w"] = np.random.default_rng(3).uniform(0.5, 2, len(d))
    d.loc[d["u"] == 0, "w"] = 0.0  # a whole unit of zero weight (was: LinAlgError)
    d.loc[[9, 30], "w"] = 0.0
    res = twfe(d, "y", "u", "t", "D", weights="w", vcov="iid")
    kept = d[d["w"] > 0]
    again = twfe(kept, "y", "u", "t", "D", weights="w", vcov="iid")
    assert res.coef[0] == pytest.approx(again.coef[0], rel=1e-12)
    assert res.se[0] == pytest.approx(again.se[0], rel=1e-12)
    assert res.n_obs == len(kept) == 26 and res.n_units == 7
    # lm(y ~ D + factor(u) + factor(t), weights = w): df.residual counts non-zero weights only
    X = pd.get_dummies(kept[["u", "t"]].astype(str), drop_first=True).astype(float)
    X = np.column_stack([np.ones(len(kept)), kept["D"], X])
    sw = np.sqrt(kept["w"].to_numpy())
    beta, *_ = np.linalg.lstsq(X * sw[:, None], kept["y"] * sw, rcond=None)
    r = (kept["y"] - X @ beta) * sw
    df = len(kept) - X.shape[1]
    se = np.sqrt(r @ r / df * np.linalg.inv((X * sw[:, None]).T @ (X * sw[:, None]))[1, 1])
    assert res.coef[0] == pytest.approx(beta[1], rel=1e-9)
    assert res.se[0] == pytest.approx(se, rel=1e-9) and res.df == df
    note = res.cautions[0]
    assert "6 rows with zero weight in 'w'" in note and "rows 1, 2, 3, 4, 10, 31" in note
    assert note.limits is False
    with pytest.raises(EvalDataError, match="column 'w': every weight is zero"):
        twfe(d.assign(w=0.0), "y", "u", "t", "D", weights="w")


# -- 3. wild cluster bootstrap: full enumeration, ties counted ------------------------------------

def _ols_design(design: str):
    d = pd.read_csv(REFERENCE / "wild_enumeration_data.csv")
    d = d[d["design"] == design]
    X = np.column_stack([np.ones(len(d)), d["x"]])
    return X, d["y"].to_numpy(), d["cluster"].to_numpy()


def test_wild_bootstrap_with_two_clusters_has_p_one_half():
    # closed form: with 2 clusters the 4 sign patterns are ±(1, 1), which reproduce |t|, and
    # ±(1, −1), which share one |t*|; ties count, so p is 0.5 or 1 (the issue saw p = 0.0)
    X, y, g = _ols_design("ols_G2")
    out = wild_cluster_bootstrap(X, y, g, 1, draws=999, seed=1)
    assert out.enumerated and out.draws == 4 and out.clusters == 2
    assert out.p_value == 0.5 and out.min_p_value == 0.5
    assert out.p_value_strict == 0.0  # boottest / fwildclusterboot count only |t*| > |t|
    assert out.ci_low == -np.inf and out.ci_high == np.inf
    assert "never fall below 0.5" in out.cautions[0]
    # by hand: refit the four bootstrap samples
    from evalkit.methods.groups import robust_ols

    codes = pd.factorize(g)[0]
    u = y - y.mean()  # restricted model under beta_x = 0: intercept only

    def t_of(yy):
        return robust_ols(yy, X, ["c", "x"], codes, 0.05)[0]["t"].iloc[1]

    t = t_of(y)
    ts = [t_of(y.mean() + np.array(v)[codes] * u) for v in itertools.product((1, -1), repeat=2)]
    assert sorted(abs(x) >= abs(t) * (1 - 1e-9) for x in ts) == [False, False, True, True]


@pytest.mark.parametrize("design", ["ols_G2", "ols_G3", "ols_G4", "ols_G6", "ols_G8",
                                    "twfe_G5"])
def test_wild_bootstrap_enumeration_equals_r_hand_enumeration(design):
    ref = pd.read_csv(REFERENCE / "wild_enumeration_R.csv").set_index("design").loc[design]
    if design.startswith("ols"):
        X, y, g = _ols_design(design)
        out = wild_cluster_bootstrap(X, y, g, 1, draws=999, seed=5)
    else:
        d = pd.read_csv(REFERENCE / "wild_enumeration_data.csv")
        d = d[d["design"] == design]
        res = twfe(d, "y", "unit", "period", "x", cluster="cluster", wild_bootstrap=999)
        assert res.coef[0] == pytest.approx(ref["estimate"], rel=1e-10)
        out = res.wild
        assert any("never fall below 0.0625" in c for c in res.cautions)
    G = int(ref["G"])
    assert out.enumerated and out.draws == 2**G and out.clusters == G
    assert out.p_value == ref["p_value"]
    assert out.p_value_strict == ref["p_value_strict"]
    for end in ("ci_low", "ci_high"):
        if np.isinf(ref[end]):
            assert getattr(out, end) == ref[end]
        else:
            assert getattr(out, end) == pytest.approx(ref[end], rel=1e-8)
    # ties come in pairs (v and −v give the same |t*|), and the floor is 2 / 2^G
    assert (out.p_value * 2**G) % 2 == 0 and out.p_value >= 2 / 2**G


def test_wild_enumeration_does_not_depend_on_the_seed_and_cautions_on_coarse_p_values():
    X, y, g = _ols_design("ols_G6")
    a = wild_cluster_bootstrap(X, y, g, 1, draws=999, seed=1)
    b = wild_cluster_bootstrap(X, y, g, 1, draws=5000, seed=2)
    assert a.to_dict() == b.to_dict()
    assert "32 distinct values" in a.cautions[0] and "0.0313" in a.cautions[0]
    # 2^G > draws: random Rademacher draws, as fwildclusterboot (2^G <= B enumerates)
    X8, y8, g8 = _ols_design("ols_G8")
    rnd = wild_cluster_bootstrap(X8, y8, g8, 1, draws=199, seed=1)
    assert not rnd.enumerated and rnd.draws == 199
    # Webb weights are drawn, never enumerated; with 2 clusters they cannot reach 0.05 either
    X2, y2, g2 = _ols_design("ols_G2")
    webb = wild_cluster_bootstrap(X2, y2, g2, 1, draws=999, weights="webb", seed=1)
    assert not webb.enumerated and webb.min_p_value == pytest.approx(2 / 36)
    assert "never fall below 0.0556" in webb.cautions[0]


def test_wild_bootstrap_refuses_one_cluster_and_an_undefined_t():
    X, y, _ = _ols_design("ols_G3")
    with pytest.raises(EvalDataError, match="at least 2 clusters"):
        wild_cluster_bootstrap(X, y, np.zeros(len(y)), 1, draws=999)
    # two clusters that are the treated and untreated units: CRV1 is zero, t undefined
    d = _panel(6, [1, 2, 3, 4], {3: 3, 4: 3, 5: 3}, seed=1)
    d["c"] = (d["u"] >= 3).astype(int)
    res = twfe(d, "y", "u", "t", "D", cluster="c", wild_bootstrap=999)
    assert np.isnan(res.se[0]) and np.isnan(res.wild.p_value)
    assert any("bootstrap cannot test" in c for c in res.cautions)


# -- 4. two_by_two ------------------------------------------------------------------------------

def _two_by_two_data(n_clusters: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    d = pd.DataFrame({"c": np.repeat(np.arange(n_clusters), 8)})
    d["treated"] = (d["c"] % 2).astype(int)
    d["post"] = np.tile([0, 1], len(d) // 2)
    d["y"] = d["treated"] + d["post"] + 0.5 * d["treated"] * d["post"] + rng.normal(size=len(d))
    return d


def test_two_by_two_one_cluster_names_the_column():
    d = _two_by_two_data(4).assign(site="A")
    with pytest.raises(EvalDataError, match="column 'site': puts all 32 rows in one cluster"):
        two_by_two(d, "y", "treated", "post", cluster="site")


def test_two_by_two_two_clusters_that_are_the_groups_has_no_standard_error():
    d = _two_by_two_data(2)
    res = two_by_two(d, "y", "treated", "post", cluster="c")
    m = d.groupby(["treated", "post"])["y"].mean()
    assert res.estimate == pytest.approx((m[1, 1] - m[1, 0]) - (m[0, 1] - m[0, 0]), rel=1e-10)
    assert np.isnan(res.se) and np.isnan(res.p_value) and np.isnan(res.ci_low)
    assert any("numerically zero" in c or "zero up to rounding" in c for c in res.cautions)
    assert any("Only 2 clusters" in c for c in res.cautions)


def test_two_by_two_few_clusters_cautions_and_enumerates_the_wild_bootstrap():
    d = _two_by_two_data(6, seed=3)
    res = two_by_two(d, "y", "treated", "post", cluster="c", wild_bootstrap=999)
    assert np.isfinite(res.se) and res.se > 0
    assert any("Only 6 clusters" in c for c in res.cautions)
    assert res.wild.enumerated and res.wild.draws == 64
    assert res.wild.p_value >= 2 / 64
    many = two_by_two(_two_by_two_data(40, seed=3), "y", "treated", "post", cluster="c")
    assert not any("clusters" in c for c in many.cautions)


def test_two_by_two_one_observation_per_cell_and_constant_outcome():
    d = pd.DataFrame({"y": [1.0, 2.0, 3.0, 5.0], "treated": [0, 0, 1, 1], "post": [0, 1, 0, 1]})
    res = two_by_two(d, "y", "treated", "post")
    assert res.estimate == pytest.approx(1.0) and np.isnan(res.se)
    assert "single observation" in res.cautions[0]
    with pytest.raises(EvalDataError, match="column 'y': is constant"):
        two_by_two(d.assign(y=2.0), "y", "treated", "post")


# -- 5. event_study -----------------------------------------------------------------------------

def test_event_study_constant_outcome_and_missing_columns_are_data_errors(mpdta):
    with pytest.raises(EvalDataError, match="column 'flat': is constant"):
        event_study(mpdta.assign(flat=1.0), "flat", "countyreal", "year", "first.treat")
    with pytest.raises(EvalDataError, match="column 'county': required column is missing"):
        event_study(mpdta, "lemp", "county", "year", "first.treat")
    with pytest.raises(EvalDataError, match="column 'state'"):
        event_study(mpdta, "lemp", "countyreal", "year", "first.treat", cluster="state")


def test_event_study_pretest_with_fewer_clusters_than_pre_periods_is_explained(mpdta):
    d = mpdta.assign(region=mpdta["countyreal"] % 3)
    es = event_study(d, "lemp", "countyreal", "year", "first.treat", window=(-4, 3),
                     cluster="region")
    assert np.isnan(es.pretest.p_value) and es.pretest.df == 3
    assert any("pre-adoption trends cannot be computed" in c and "rank" in c
               for c in es.cautions)
    assert any("Only 3 clusters" in c for c in es.cautions)
    ok = event_study(mpdta, "lemp", "countyreal", "year", "first.treat", window=(-4, 3))
    assert 0 < ok.pretest.p_value < 1 and not ok.cautions


# -- 6. tiny panels: a result or an EvalDataError, never another exception -----------------------

TINY = {
    "two units, two periods": (_panel(2, [1, 2], {1: 2}), True),
    "two units, three periods": (_panel(2, [1, 2, 3], {1: 2}), True),
    "one period": (_panel(3, [1], {1: 1, 2: 1}), False),
    "all adopt together, none untreated": (_panel(4, [1, 2, 3], {0: 2, 1: 2, 2: 2, 3: 2}),
                                           False),
    "always treated and later adopters": (_panel(4, [1, 2, 3], {0: 1, 1: 2, 2: 2, 3: 2}), True),
    "staggered, none untreated": (_panel(4, [1, 2, 3, 4], {0: 2, 1: 2, 2: 3, 3: 3}), True),
    "one treated unit": (_panel(5, [1, 2, 3], {4: 2}), True),
    "missing outcome": (_panel(4, [1, 2, 3], {2: 2}).assign(
        y=lambda f: f["y"].mask(f.index == 3)), False),
}


@pytest.mark.parametrize("case", list(TINY))
def test_twfe_and_bacon_on_tiny_panels(case):
    d, estimable = TINY[case]
    for call in (lambda: twfe(d, "y", "u", "t", "D"),
                 lambda: twfe(d, "y", "u", "t", "D", vcov="iid"),
                 lambda: bacon_decomposition(d, "y", "u", "t", "D"),
                 lambda: event_study(d, "y", "u", "t", "ft", window=(-2, 2))):
        try:
            res = call()
        except EvalDataError as exc:
            assert str(exc)
            continue
        frame = res.to_frame()
        if "se" in frame and hasattr(res, "coef"):
            se = np.asarray(res.se, float)
            assert not ((se == 0) | (se < 1e-8 * np.abs(res.coef))).any()
            if np.isnan(se).any():
                assert res.cautions
    if estimable:
        b = bacon_decomposition(d, "y", "u", "t", "D")
        assert (b.table["weight"] * b.table["estimate"]).sum() == pytest.approx(b.twfe,
                                                                                abs=1e-12)
    else:
        with pytest.raises(EvalDataError):
            twfe(d, "y", "u", "t", "D")


def test_bacon_and_twfe_name_the_problem_on_tiny_panels():
    with pytest.raises(EvalDataError, match="column 't': has a single period"):
        bacon_decomposition(TINY["one period"][0], "y", "u", "t", "D")
    with pytest.raises(EvalDataError, match="column 't': every unit is observed in only one"):
        twfe(TINY["one period"][0], "y", "u", "t", "D")
    with pytest.raises(EvalDataError, match="timing does not vary"):
        bacon_decomposition(TINY["all adopt together, none untreated"][0], "y", "u", "t", "D")
    with pytest.raises(EvalDataError, match="column 'y': values are missing"):
        bacon_decomposition(TINY["missing outcome"][0], "y", "u", "t", "D")
    b = bacon_decomposition(TINY["staggered, none untreated"][0], "y", "u", "t", "D")
    share = b.table.loc[b.table["type"] == "later vs earlier treated", "weight"].sum()
    assert b.cautions[0].startswith(f"{share:.0%} of the two-way fixed-effects estimate")


# -- 7. clusters: one refused, few cautioned --------------------------------------------------

def test_twfe_one_cluster_is_refused_and_few_clusters_cautioned():
    d = _panel(30, [1, 2, 3, 4], {u: 3 for u in range(10)}, seed=8)
    with pytest.raises(EvalDataError, match="column 'c': puts all 120 rows in one cluster"):
        twfe(d.assign(c="all"), "y", "u", "t", "D", cluster="c")
    few = twfe(d.assign(c=d["u"] % 5), "y", "u", "t", "D", cluster="c")
    assert np.isfinite(few.se[0]) and few.n_clusters == 5
    assert any("Only 5 clusters" in c and "wild cluster bootstrap" in c for c in few.cautions)
    # 30 clusters, 10 of them treated: CRV1 covered 92.8% with 10 treated of 50 in the
    # coverage self-check, so fewer than 20 treated clusters are cautioned
    some = twfe(d, "y", "u", "t", "D")
    assert any("Only 10 of the 30 clusters ('u') contain treated" in c for c in some.cautions)
    many = twfe(_panel(40, [1, 2, 3, 4], {u: 3 for u in range(20)}, seed=8), "y", "u", "t", "D")
    assert many.cautions == ()  # 40 clusters, 20 treated
    one = twfe(_panel(30, [1, 2, 3, 4], {0: 3}, seed=8), "y", "u", "t", "D")
    assert any("Only 1 of the 30 clusters ('u') contains treated" in c for c in one.cautions)


def test_few_untreated_clusters_use_their_own_threshold():
    # 35 treated and 15 untreated states covered 94.7% in the coverage self-check: no caution;
    # 5 untreated clusters of 40 are cautioned
    from evalkit.methods.did.twfe import FEW_UNTREATED_CLUSTERS

    d = _panel(50, [1, 2, 3, 4], {u: 3 for u in range(35)}, seed=9)
    assert not any("no treated observations" in c for c in twfe(d, "y", "u", "t", "D").cautions)
    few = _panel(40, [1, 2, 3, 4], {u: 3 for u in range(35)}, seed=9)
    assert 40 - 35 < FEW_UNTREATED_CLUSTERS
    assert any("Only 5 of the 40 clusters ('u') contain no treated" in c
               for c in twfe(few, "y", "u", "t", "D").cautions)

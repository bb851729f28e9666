"""Synthetic difference in differences against R synthdid and Arkhangelsky et al. (2021).

Reference values: ``tests/reference/synthdid_prop99_R.R`` (R synthdid at commit 70c1ce3) wrote
``synthdid_prop99_R.csv`` (estimates, regularisation, standard errors) and
``synthdid_prop99_R_weights.csv`` (omega, lambda) on ``california_prop99.csv``; the published
Table 1 of the paper gives DID −27.3, SC −19.6, SDID −15.6. ``synthdid_replicates_R.R`` wrote
R's placebo and bootstrap replicate estimates for given draws (``synthdid_replicates_R.csv``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evalkit.exceptions import EvalDataError, EvalOptionError
from evalkit.methods.policy.synthdid import synthetic_did

REF = Path(__file__).parent / "reference"
COLS = ("PacksPerCapita", "State", "Year", "treated")


@pytest.fixture(scope="module")
def prop99() -> pd.DataFrame:
    return pd.read_csv(REF / "california_prop99.csv", sep=";")


@pytest.fixture(scope="module")
def multi(prop99: pd.DataFrame) -> pd.DataFrame:
    """The R script's second panel: California, Nevada and Utah treated from 1989."""
    d = prop99.copy()
    d["treated"] = (d["State"].isin(["California", "Nevada", "Utah"])
                    & (d["Year"] >= 1989)).astype(int)
    return d


@pytest.fixture(scope="module")
def ref() -> pd.DataFrame:
    r = pd.read_csv(REF / "synthdid_prop99_R.csv", na_values=["NA"])
    return r.set_index(["panel", "estimator", "quantity"])["value"]


@pytest.fixture(scope="module")
def ref_weights() -> pd.DataFrame:
    return pd.read_csv(REF / "synthdid_prop99_R_weights.csv")


def fit(d: pd.DataFrame, **kw):
    return synthetic_did(d, *COLS, **kw)


@pytest.fixture(scope="module")
def jk(prop99, multi):
    """Jackknife fits (no random draws) of both panels, by (panel, estimator)."""
    cache: dict = {}

    def get(panel: str, estimator: str):
        if (panel, estimator) not in cache:
            d = prop99 if panel == "prop99" else multi
            cache[panel, estimator] = fit(d, estimator=estimator, se_method="jackknife")
        return cache[panel, estimator]

    return get


@pytest.mark.parametrize(("estimator", "published"),
                         [("sdid", -15.6), ("sc", -19.6), ("did", -27.3)])
def test_prop99_estimates_match_R_and_the_published_table(jk, ref, estimator, published):
    r = jk("prop99", estimator)
    assert r.estimate == pytest.approx(ref["prop99", estimator, "estimate"], rel=1e-6)
    assert round(r.estimate, 1) == published  # Arkhangelsky et al. (2021), Table 1
    for q, ours in (("zeta.omega", r.zeta_omega), ("zeta.lambda", r.zeta_lambda),
                    ("min.decrease", r.min_decrease)):
        assert ours == pytest.approx(ref["prop99", estimator, q], rel=1e-9)
    # one treated unit: R's jackknife returns NA
    assert np.isnan(r.se) and np.isnan(r.ci_low) and np.isnan(r.p_value)
    assert any("jackknife standard error is undefined" in c for c in r.cautions)
    assert (r.n_treated, r.n_control, r.n_pre, r.n_post) == (1, 38, 19, 12)
    assert r.treated_units == ("California",) and r.start == 1989


@pytest.mark.parametrize("panel", ["prop99", "prop99_multi"])
@pytest.mark.parametrize("estimator", ["sdid", "sc", "did"])
def test_weights_match_R(jk, ref, ref_weights, panel, estimator):
    r = jk(panel, estimator)
    w = ref_weights[(ref_weights.panel == panel) & (ref_weights.estimator == estimator)]
    omega = w[w.type == "omega"].set_index("name")["weight"]
    lam = w[w.type == "lambda"].set_index("name")["weight"]
    assert list(r.unit_weights.index) == list(omega.index)
    assert list(r.time_weights.index.astype(str)) == list(lam.index.astype(str))
    np.testing.assert_allclose(r.unit_weights.to_numpy(), omega.to_numpy(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(r.time_weights.to_numpy(), lam.to_numpy(), rtol=0, atol=1e-6)
    if panel == "prop99_multi":
        assert r.estimate == pytest.approx(ref[panel, estimator, "estimate"], rel=1e-6)
        # the fixed-weights jackknife is deterministic: R's value to 1e-6
        assert r.se == pytest.approx(ref[panel, estimator, "se.jackknife"], rel=1e-6)
        assert len(r.replicates) == 39


def test_weights_lie_on_the_simplex(jk):
    for estimator in ("sdid", "sc", "did"):
        r = jk("prop99", estimator)
        assert (r.unit_weights >= 0).all() and r.unit_weights.sum() == pytest.approx(1)
        lam = r.time_weights
        assert (lam >= 0).all()
        # sc_estimate compares post-period levels: its time weights are all zero
        assert lam.sum() == pytest.approx(0 if estimator == "sc" else 1)
    did = jk("prop99", "did")
    assert np.allclose(did.unit_weights, 1 / 38) and np.allclose(did.time_weights, 1 / 19)


def test_did_is_the_plain_difference_of_mean_changes(jk, multi):
    r = jk("prop99_multi", "did")
    treated = multi["State"].isin(["California", "Nevada", "Utah"])
    post = multi["Year"] >= 1989
    m = multi.groupby([treated, post])["PacksPerCapita"].mean()
    by_hand = (m[True, True] - m[True, False]) - (m[False, True] - m[False, False])
    assert r.estimate == pytest.approx(by_hand, rel=1e-12)


def test_trajectories_reproduce_the_estimate(jk, prop99):
    r = jk("prop99", "sdid")
    tr = r.trajectories
    cal = prop99[prop99.State == "California"].sort_values("Year")["PacksPerCapita"]
    np.testing.assert_allclose(tr["treated"], cal.to_numpy())
    pre, post = ~tr["post"].to_numpy(), tr["post"].to_numpy()
    lam = r.time_weights.to_numpy()
    gap = tr["treated"] - tr["synthetic"]
    assert gap[post].mean() - gap[pre] @ lam == pytest.approx(r.estimate, rel=1e-10)
    adjusted_gap = (tr["treated"] - tr["synthetic_adjusted"])[pre] @ lam
    assert adjusted_gap == pytest.approx(0, abs=1e-9)
    assert list(tr.columns) == ["time", "treated", "synthetic", "synthetic_adjusted", "post"]


def test_placebo_se_is_near_Rs_with_many_replications(prop99, ref):
    # R: 1000 placebo replications (set.seed(20210101)). The draws differ across generators,
    # so the standard errors agree only up to Monte Carlo error (about 4% here).
    r = fit(prop99, se_method="placebo", reps=400, seed=7)
    assert r.se == pytest.approx(ref["prop99", "sdid", "se.placebo.1000"], rel=0.10)
    assert r.replicates.shape == (400,)
    assert r.se == pytest.approx(np.std(r.replicates), rel=1e-12)
    did = fit(prop99, estimator="did", se_method="placebo", reps=4000, seed=7)
    assert did.se == pytest.approx(ref["prop99", "did", "se.placebo.500"], rel=0.10)


def test_did_placebo_replicates_are_placebo_differences_in_differences(prop99):
    """Algorithm 4 with uniform weights: each replicate is the 2×2 DiD of means with the
    last control of a random permutation treated (the permutations of the seed's generator)."""
    r = fit(prop99, estimator="did", se_method="placebo", reps=25, seed=3)
    Y = prop99[prop99.State != "California"].pivot(index="State", columns="Year",
                                                   values="PacksPerCapita").to_numpy()
    rng = np.random.default_rng(3)
    expected = []
    for _ in range(25):
        Z = Y[rng.permutation(38)]
        c, t = Z[:37], Z[37]
        expected.append((t[19:].mean() - t[:19].mean()) - (c[:, 19:].mean() - c[:, :19].mean()))
    np.testing.assert_allclose(r.replicates, expected, rtol=1e-12)


class _GivenDraws:
    """Stands in for the generator: returns R's draws (0-based) one after another."""

    def __init__(self, draws):
        self._draws = iter(draws)

    def permutation(self, n):
        return next(self._draws)

    def integers(self, low, high, size):
        return next(self._draws)


@pytest.mark.parametrize("estimator", ["sdid", "sc", "did"])
def test_replicates_match_R_draw_by_draw(jk, multi, estimator):
    """Given R's own placebo permutations and bootstrap draws, each replicate estimate (weights
    re-solved from the full-sample ones with the full-sample regularisation) equals R's."""
    from evalkit.methods.policy import synthdid as sd

    ref = pd.read_csv(REF / "synthdid_replicates_R.csv")
    r = jk("prop99_multi", estimator)
    Y, _, _, n0, t0, _ = sd._panel(multi, *COLS)
    opts = sd._Opts(estimator, r.zeta_omega, r.zeta_lambda, r.min_decrease)
    omega, lam = r.unit_weights.to_numpy(), r.time_weights.to_numpy()
    for kind in ("placebo", "bootstrap"):
        rows = ref[(ref.kind == kind) & (ref.estimator == estimator)]
        draws = _GivenDraws([np.array(s.split(), dtype=int) - 1 for s in rows["draw"]])
        if kind == "placebo":
            ours = sd._placebo(Y, n0, t0, opts, omega, lam, len(rows), draws)
        else:
            ours, _ = sd._bootstrap(Y, n0, t0, opts, omega, lam, len(rows), draws)
        np.testing.assert_allclose(ours, rows["estimate"], rtol=1e-7, atol=1e-7)


def test_bootstrap_se_is_near_Rs(multi, ref):
    # R: 500 draws (set.seed(20210101)); ours 100 draws: Monte Carlo error about 8%
    r = fit(multi, se_method="bootstrap", reps=100, seed=11)
    assert r.se == pytest.approx(ref["prop99_multi", "sdid", "se.bootstrap.500"], rel=0.15)
    assert r.replicates.shape == (100,) and np.isfinite(r.replicates).all()


def test_same_seed_same_draws():
    d = _toy(n_controls=8, n_treated=2)
    for se_method, estimator in (("placebo", "sdid"), ("bootstrap", "did")):
        a = toy_fit(d, estimator=estimator, se_method=se_method, reps=6, seed=5)
        b = toy_fit(d, estimator=estimator, se_method=se_method, reps=6, seed=5)
        c = toy_fit(d, estimator=estimator, se_method=se_method, reps=6, seed=6)
        np.testing.assert_array_equal(a.replicates, b.replicates)
        assert a.se == b.se and a.seed == 5
        assert not np.array_equal(a.replicates, c.replicates)


def test_interval_p_value_and_frame(prop99):
    r = fit(prop99, estimator="did", se_method="placebo", reps=50, seed=1, alpha=0.1)
    z = stats.norm.ppf(0.95)
    assert r.ci_low == pytest.approx(r.estimate - z * r.se)
    assert r.ci_high == pytest.approx(r.estimate + z * r.se)
    assert r.p_value == pytest.approx(2 * stats.norm.sf(abs(r.estimate / r.se)))
    f = r.to_frame()
    assert list(f.columns[:6]) == ["term", "estimate", "se", "ci_low", "ci_high", "p_value"]
    assert f["term"].tolist() == ["ATT"] and f.loc[0, "estimator"] == "did"
    assert "Options: estimator='did'" in r.summary()
    assert r.to_dict()["reps"] == 50


def test_one_treated_unit_bootstrap_is_undefined(prop99):
    r = fit(prop99, estimator="did", se_method="bootstrap", reps=10, seed=1)
    assert np.isnan(r.se) and r.replicates.size == 0
    assert any("bootstrap standard error is undefined" in c for c in r.cautions)


def _toy(n_controls: int = 6, n_treated: int = 1, periods: int = 8, start: int = 5,
         seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_controls + n_treated):
        level = rng.normal(10, 2)
        for t in range(periods):
            treated = int(u >= n_controls and t >= start)
            rows.append({"unit": f"u{u}", "time": t, "y": level + 0.3 * t + rng.normal()
                         + 2 * treated, "d": treated})
    return pd.DataFrame(rows)


def toy_fit(d: pd.DataFrame, **kw):
    return synthetic_did(d, "y", "unit", "time", "d", **kw)


def test_cautions_few_controls_and_one_donor():
    d = _toy()
    r = toy_fit(d, reps=20, seed=1)
    assert any("Only 6 control units supply the placebo draws" in c for c in r.cautions)
    # the treated unit copies one donor: synthetic control puts all weight on it
    base = d[d.unit == "u2"].set_index("time")["y"]
    d.loc[d.unit == "u6", "y"] = (base + 2 * (base.index >= 5)).to_numpy()
    sc = toy_fit(d, estimator="sc", reps=20, seed=1)
    assert sc.unit_weights.idxmax() == "u2"
    assert any("u2, carries" in c for c in sc.cautions)


def test_unbalanced_panel_names_unit_and_time():
    d = _toy()
    d = d[~((d.unit == "u3") & (d.time == 2))]
    with pytest.raises(EvalDataError, match=r"unbalanced.*u3 \(2\)"):
        toy_fit(d)


def test_repeated_cell_is_refused():
    d = _toy()
    d = pd.concat([d, d.iloc[[4]]])
    with pytest.raises(EvalDataError, match="u0 at 4"):
        toy_fit(d)


def test_staggered_adoption_names_units():
    d = _toy(n_treated=2)
    d.loc[(d.unit == "u7") & (d.time == 5), "d"] = 0
    with pytest.raises(EvalDataError, match=r"staggered.*u6 at 5.*u7 at 6"):
        toy_fit(d)


def test_treatment_turning_off_is_refused():
    d = _toy()
    d.loc[(d.unit == "u6") & (d.time == 7), "d"] = 0
    with pytest.raises(EvalDataError, match="turns off again.*u6"):
        toy_fit(d)


@pytest.mark.parametrize("change", ["not_binary", "none_treated", "all_treated", "no_pre",
                                    "missing"])
def test_bad_treatment_or_outcome(change):
    d = _toy()
    if change == "not_binary":
        d.loc[d.index[-1], "d"] = 2
    elif change == "none_treated":
        d["d"] = 0
    elif change == "all_treated":
        d["d"] = (d.time >= 5).astype(int)
    elif change == "no_pre":
        d["d"] = (d.unit == "u6").astype(int)
    else:
        d.loc[3, "y"] = np.nan
    with pytest.raises(EvalDataError):
        toy_fit(d)


def test_placebo_needs_more_controls_than_treated():
    d = _toy(n_controls=3, n_treated=3)
    with pytest.raises(EvalDataError, match="more control units than treated"):
        toy_fit(d)
    r = toy_fit(d, se_method="bootstrap", reps=30, seed=2)
    assert np.isfinite(r.se) and r.replicates.shape == (30,)


def test_bad_options():
    d = _toy()
    with pytest.raises(EvalOptionError):
        toy_fit(d, estimator="mc")
    with pytest.raises(EvalOptionError):
        toy_fit(d, se_method="wild")
    with pytest.raises(ValueError, match="reps"):
        toy_fit(d, reps=1)

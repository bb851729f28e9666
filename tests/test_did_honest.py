"""honest_did against R HonestDiD 0.2.8 (tests/reference/honest_*, see honest_README.md)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.exceptions import EvalDataError, EvalOptionError
from evalkit.methods.did.event_study import EventStudy, _pretest
from evalkit.methods.did.honest import honest_did
from evalkit.methods.did.honest_common import (
    FoldedNormalQuantile,
    r_rmvnorm,
    r_rnorm,
    truncnorm_quantile,
)

REF = Path(__file__).parent / "reference"


def _inputs(name: str) -> tuple[np.ndarray, np.ndarray]:
    d = pd.read_csv(REF / f"honest_{name}_inputs.csv")
    return d["betahat"].to_numpy(), d.drop(columns="betahat").to_numpy()


@pytest.fixture(scope="module")
def medicaid() -> tuple[np.ndarray, np.ndarray]:
    return _inputs("medicaid")


@pytest.fixture(scope="module")
def ref() -> pd.DataFrame:
    return pd.read_csv(REF / "honest_reference_R.csv")


def _case(ref: pd.DataFrame, case: str) -> pd.DataFrame:
    return ref[ref["case"] == case].reset_index(drop=True)


# -- R's random numbers ---------------------------------------------------------------------

def test_r_random_numbers_and_truncated_normal(medicaid):
    _, sigma = medicaid
    r = pd.read_csv(REF / "honest_rng_R.csv")
    np.testing.assert_allclose(r_rnorm(6), r.loc[r.what == "rnorm", "value"], rtol=1e-14)
    np.testing.assert_allclose(r_rmvnorm(3, sigma[5:7, 5:7]).ravel(),
                               r.loc[r.what == "rmvnorm", "value"], rtol=1e-10)
    tn = [truncnorm_quantile(0.95, -1, 2)[0], truncnorm_quantile(0.9, -3, -0.5)[0],
          truncnorm_quantile(0.5, 36, math.inf)[0], truncnorm_quantile(0.975, -math.inf, 0.3)[0]]
    np.testing.assert_allclose(tn, r.loc[r.what == "norminvp", "value"], rtol=1e-12)
    q = FoldedNormalQuantile()(0.95, 0.7)
    assert q == pytest.approx(float(r.loc[r.what == "qfolded", "value"].iloc[0]), rel=1e-14)


# -- relative magnitudes --------------------------------------------------------------------

@pytest.mark.parametrize("case, kw", [
    ("rm_first", dict(m=[0.5, 1, 1.5, 2])),
    ("rm_avg", dict(m=[0, 0.5, 1, 1.5, 2], l_vec=[0.5, 0.5])),
    ("rm_second", dict(m=[0, 1], l_vec=[0, 1])),
])
def test_relative_magnitudes_equal_r(medicaid, ref, case, kw):
    b, s = medicaid
    res = honest_did(b, s, num_pre=5, num_post=2, **kw)
    want = _case(ref, case)
    np.testing.assert_allclose(res.table["m"], want["m"])
    np.testing.assert_allclose(res.table["lb"], want["lb"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(res.table["ub"], want["ub"], rtol=1e-9, atol=1e-12)
    assert (res.table["method"] == "C-LF").all()


def test_relative_magnitudes_one_post_period_and_alpha(medicaid, ref):
    b, s = medicaid
    one = honest_did(b[:6], s[:6, :6], num_pre=5, num_post=1, m=[0, 0.5, 1, 2])
    want = _case(ref, "rm_onepost")
    np.testing.assert_allclose(one.table[["lb", "ub"]], want[["lb", "ub"]], rtol=1e-9)
    two = honest_did(b[3:], s[3:, 3:], num_pre=2, num_post=2, m=[0.5, 1.5], alpha=0.1)
    want = _case(ref, "rm_twopre")
    np.testing.assert_allclose(two.table[["lb", "ub"]], want[["lb", "ub"]], rtol=1e-9)


def test_relative_magnitudes_default_grid_original_and_breakdown(medicaid, ref):
    b, s = medicaid
    res = honest_did(b, s, num_pre=5, num_post=2)
    want = _case(ref, "rm_default")
    np.testing.assert_allclose(res.table["m"], np.linspace(0, 2, 10))
    np.testing.assert_allclose(res.table[["lb", "ub"]], want[["lb", "ub"]], rtol=1e-9)
    orig = _case(ref, "original_first")
    assert res.original == pytest.approx((orig.lb[0], orig.ub[0]), rel=1e-12)
    # the robust interval contains the original one's centre and widens with Mbar
    assert (res.table["lb"].diff().dropna() <= 1e-12).all()
    assert (res.table["ub"].diff().dropna() >= -1e-12).all()
    covers = res.table[(res.table["lb"] <= 0) & (res.table["ub"] >= 0)]
    assert res.breakdown == pytest.approx(covers["m"].min())
    assert (res.table.loc[res.table["m"] < res.breakdown, "lb"] > 0).all()
    frame = res.to_frame()
    assert list(frame.columns[:6]) == ["term", "estimate", "se", "ci_low", "ci_high", "p_value"]
    assert frame["term"].iloc[0] == "original" and frame["term"].iloc[1] == "Mbar=0"
    assert frame["estimate"].iloc[3] == pytest.approx(b[5])


# -- smoothness -----------------------------------------------------------------------------

def test_flci_equals_readme(medicaid, ref):
    b, s = medicaid
    res = honest_did(b, s, num_pre=5, num_post=2, method="smoothness",
                     m=[0, 0.01, 0.02, 0.03, 0.04, 0.05])
    want = _case(ref, "readme_sd_first")
    assert (res.table["method"] == "FLCI").all()
    # M > 0: R's conic solver and the exact bias agree to rounding
    np.testing.assert_allclose(res.table[["lb", "ub"]].iloc[1:], want[["lb", "ub"]].iloc[1:],
                               rtol=0, atol=1e-8)
    # M = 0: R's interval is its solver's approximation of the least-variance estimator
    np.testing.assert_allclose(res.table[["lb", "ub"]].iloc[:1], want[["lb", "ub"]].iloc[:1],
                               rtol=0, atol=3e-5)
    # the README's breakdown: significant up to M = 0.02, not at 0.03
    assert res.breakdown == pytest.approx(0.03)


def test_flci_at_zero_is_least_variance_linear_extrapolation(medicaid):
    """At M = 0 the FLCI is the least-variance estimator unbiased under linear trends."""
    b, s = medicaid
    k, t = 5, 2
    lv = np.array([0.3, 0.7])
    res = honest_did(b, s, num_pre=k, num_post=t, method="smoothness", m=[0.0], l_vec=lv)
    # minimize v's v subject to v_post = l and v_pre' t_pre = -l' t_post (closed form)
    times = np.r_[np.arange(-k, 0), np.arange(1, t + 1)]
    spp, spo = s[:k, :k], s[:k, k:]
    # v_pre = -inv(Spp)(Spo l + mu t_pre), mu set by the constraint
    ti = times[:k]
    a = np.linalg.solve(spp, spo @ lv)
    c = np.linalg.solve(spp, ti)
    mu = (lv @ times[k:] - ti @ a) / (ti @ c)
    v = np.r_[-a - mu * c, lv]
    sd = math.sqrt(v @ s @ v)
    half = FoldedNormalQuantile()(0.95, 0.0) * sd
    lb, ub = res.table.loc[0, ["lb", "ub"]]
    assert (ub - lb) / 2 == pytest.approx(half, rel=1e-9)
    assert (ub + lb) / 2 == pytest.approx(v @ b, abs=1e-12)


def test_smoothness_default_grid(medicaid, ref):
    b, s = medicaid
    res = honest_did(b, s, num_pre=5, num_post=2, method="smoothness")
    mub = float(_case(ref, "sd_default_Mub")["m"].iloc[0])
    np.testing.assert_allclose(res.table["m"], np.linspace(0, mub, 10), rtol=1e-12)
    widths = (res.table["ub"] - res.table["lb"]).to_numpy()
    assert np.all(np.diff(widths) > 0)


# -- convenience form and bad input ---------------------------------------------------------

def _event_study(b: np.ndarray, s: np.ndarray) -> EventStudy:
    rel = [-6, -5, -4, -3, -2, 0, 1]
    table = pd.DataFrame({"rel_time": rel, "estimate": b, "se": np.sqrt(np.diag(s))})
    table = pd.concat([table, pd.DataFrame({"rel_time": [-1], "estimate": [0.0]})])
    return EventStudy(table=table.sort_values("rel_time").reset_index(drop=True),
                      pretest=_pretest(math.nan, 0.0, math.nan), window=(-6, 1))


def test_event_study_result(medicaid):
    b, s = medicaid
    es = _event_study(b, s)
    with pytest.raises(EvalDataError, match="does not carry the covariance"):
        honest_did(es)
    object.__setattr__(es, "cov", s)
    got = honest_did(es, m=[1.0])
    want = honest_did(b, s, num_pre=5, num_post=2, m=[1.0])
    pd.testing.assert_frame_equal(got.table, want.table)
    assert any("pools event times" in c for c in got.cautions)
    with pytest.raises(EvalDataError, match="num_pre=4 does not match"):
        honest_did(es, num_pre=4)
    shifted = dataclasses.replace(es, reference=-2)
    object.__setattr__(shifted, "cov", s)
    with pytest.raises(EvalDataError, match="reference period"):
        honest_did(shifted)


def test_bad_input(medicaid):
    b, s = medicaid
    with pytest.raises(EvalDataError, match="does not match the 7"):
        honest_did(b, s, num_pre=4, num_post=2)
    with pytest.raises(EvalDataError, match="square"):
        honest_did(b, s[:, :6], num_pre=5, num_post=2)
    bad = s.copy()
    bad[0, 1] += 1e-3
    with pytest.raises(EvalDataError, match="not symmetric"):
        honest_did(b, bad, num_pre=5, num_post=2)
    neg = s - 2e-4 * np.eye(7)
    with pytest.raises(EvalDataError, match="positive semi-definite"):
        honest_did(b, neg, num_pre=5, num_post=2)
    with pytest.raises(EvalDataError, match="l_vec has 3"):
        honest_did(b, s, num_pre=5, num_post=2, l_vec=[1, 0, 0])
    with pytest.raises(EvalDataError, match="at least 0"):
        honest_did(b, s, num_pre=5, num_post=2, m=[-1])
    with pytest.raises(EvalDataError, match="at least 1"):
        honest_did(b, s, num_pre=0, num_post=7)
    with pytest.raises(EvalOptionError):
        honest_did(b, s, num_pre=5, num_post=2, method="conditional")  # type: ignore[arg-type]


def test_flci_with_controls_equals_readme_print():
    """The README's printed FLCI table for the event study with a control (3 digits)."""
    b, s = _inputs("medicaid_controls")
    res = honest_did(b, s, num_pre=5, num_post=2, method="smoothness",
                     m=[0, 0.01, 0.02, 0.03, 0.04, 0.05])
    printed = [(0.0264, 0.0607), (0.0128, 0.0788), (0.00186, 0.0908), (-0.00814, 0.101),
               (-0.0181, 0.111), (-0.0281, 0.121)]
    for (lb, ub), (plb, pub) in zip(res.table[["lb", "ub"]].to_numpy(), printed, strict=True):
        assert float(f"{lb:.3g}") == plb and float(f"{ub:.3g}") == pub


def test_an_event_study_with_covariates_gives_its_event_time_covariance():
    from conftest import SAMPLE

    from evalkit.methods.did.event_study import event_study

    sh = pd.read_csv(SAMPLE / "safe_harbor_panel.csv")
    es = event_study(sh, "arrests_per_100k", "state", "year", "first_law_year",
                     window=(-3, 3), covariates=["reports_per_100k"])
    assert es.cov.shape[0] == es.sigma.shape[0] + 1  # the covariate's row and column
    direct = honest_did(es.betahat, es.sigma, num_pre=2, num_post=4, m=[0.5, 1.0])
    via = honest_did(es, m=[0.5, 1.0])
    assert (via.num_pre, via.num_post) == (2, 4)
    assert np.allclose(via.table[["lb", "ub"]], direct.table[["lb", "ub"]], rtol=1e-12)


def test_a_dynamic_aggregation_carries_the_covariance_of_its_event_time_effects():
    from conftest import REFERENCE

    from evalkit.did import staggered

    mp = pd.read_csv(REFERENCE / "mpdta.csv")
    cs = staggered(mp, "lemp", "countyreal", "year", "first.treat", base_period="universal")
    dyn = cs.aggregate("dynamic")
    se = np.sqrt(np.diag(dyn.cov))
    ref = dyn.table["key"].to_numpy() == -1
    # the analytic standard errors are the square roots of its diagonal (0 at the reference)
    assert np.allclose(se[~ref], dyn.table["se"].to_numpy(float)[~ref], rtol=1e-12)
    assert se[ref] == pytest.approx(0, abs=1e-15)
    keep = ~ref
    direct = honest_did(dyn.table["estimate"].to_numpy(float)[keep],
                        dyn.cov[np.ix_(keep, keep)], num_pre=int((dyn.table["key"] < -1).sum()),
                        num_post=int((dyn.table["key"] >= 0).sum()), m=[0.5, 1.0])
    via = honest_did(dyn, m=[0.5, 1.0])
    assert np.allclose(via.table[["lb", "ub"]], direct.table[["lb", "ub"]], rtol=1e-12)
    assert cs.aggregate("simple").cov is None

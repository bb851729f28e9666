"""Synthetic control (evalkit.methods.policy.synth) against R Synth, published weights and
pysyncon; closed forms, permutation p-values and bad input.

References (tests/reference/synth_README.md): R Synth 1.1-8 output in synth_reference_R.csv
(script synth_reference.R); Abadie, Diamond & Hainmueller (2010, Table 2) for California;
Abadie & Gardeazabal (2003) for the Basque Country (Cataluna 0.851, Madrid 0.149)."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE
from scipy.optimize import minimize

from evalkit.exceptions import EvalDataError
from evalkit.methods.policy.synth import simplex_least_squares, synthetic_control

P = "PacksPerCapita"
CA_LAGS = [(P, 1975), (P, 1980), (P, 1988), (P, range(1970, 1989))]
BASQUE = "Basque Country (Pais Vasco)"
BASQUE_PREDICTORS = (
    [(c, range(1964, 1970)) for c in ("school.illit", "school.prim", "school.med",
                                      "school.high", "school.post.high", "invest")]
    + [("gdpcap", range(1960, 1970))]
    + [(c, range(1961, 1970, 2)) for c in ("sec.agriculture", "sec.energy", "sec.industry",
                                          "sec.construction", "sec.services.venta",
                                          "sec.services.nonventa")]
    + [("popdens", 1969)])


@functools.cache
def prop99() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "california_prop99.csv", sep=";")


@functools.cache
def basque() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "synth_basque.csv")


@functools.cache
def r_ref() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "synth_reference_R.csv")


def r_values(case: str, kind: str) -> pd.Series:
    ref = r_ref()
    sel = ref[(ref["case"] == case) & (ref["kind"] == kind)]
    return pd.Series(sel["value"].to_numpy(), index=sel["name"].to_numpy())


@functools.cache
def california():
    return synthetic_control(prop99(), P, "State", "Year", "California", 1989)


def panel(rng: np.random.Generator, n_units: int = 7, n_times: int = 12) -> pd.DataFrame:
    """Donors d1.. with smooth random paths; the treated unit is 0.3 d1 + 0.7 d2 exactly."""
    t = np.arange(2000, 2000 + n_times)
    paths = {f"d{i}": 50 + rng.normal(0, 5) + np.cumsum(rng.normal(0, 2, n_times))
             for i in range(1, n_units)}
    paths["T"] = 0.3 * paths["d1"] + 0.7 * paths["d2"]
    rows = [{"unit": u, "year": y, "y": v, "x": v / 10 + 1} for u, p in paths.items()
            for y, v in zip(t, p, strict=True)]
    return pd.DataFrame(rows)


# -- R Synth and published numbers --------------------------------------------------------------

def test_california_lagged_outcomes_match_r_synth_weights():
    # predictors=None: V is set to the variances (closed form); R synth() with that custom.v
    r = california()
    rw = r_values("ca_all_varv", "w")
    assert r.v_method == "closed form"
    np.testing.assert_allclose(r.v_weights.to_numpy(), r_values("ca_all_varv", "v").to_numpy(),
                               atol=1e-8)
    np.testing.assert_allclose(r.weights.reindex(rw.index).to_numpy(), rw.to_numpy(),
                               atol=2e-3)  # kernlab::ipop stops at margin 5e-4
    # exact W fits at least as well as ipop's
    assert r.pre_rmspe**2 <= r_values("ca_all_varv", "loss").iloc[0] + 1e-9
    assert r.pre_rmspe**2 == pytest.approx(2.7554, abs=0.02)


def test_california_donors_are_those_of_adh_2010():
    # ADH (2010, Table 2), with income, price, youth share and beer that this file lacks:
    # Colorado 0.164, Connecticut 0.069, Montana 0.199, Nevada 0.234, Utah 0.334
    w = california().weights
    adh = ["Colorado", "Connecticut", "Montana", "Nevada", "Utah"]
    assert w[adh].sum() > 0.9
    assert set(w.nlargest(4).index) == {"Utah", "Montana", "Nevada", "Connecticut"}
    assert w.min() >= 0 and w.sum() == pytest.approx(1, abs=1e-12)
    g = california().gaps
    assert g["gap"][g["time"] >= 1989].mean() == pytest.approx(california().estimate)
    assert california().estimate < -15  # ADH: sales about 20 packs lower by 2000


def test_basque_reproduces_abadie_gardeazabal_weights():
    d = basque()
    r = synthetic_control(d, "gdpcap", "regionname", "year", BASQUE, 1970,
                          predictors=BASQUE_PREDICTORS, placebo=False)
    assert r.weights["Cataluna"] == pytest.approx(0.851, abs=2e-3)
    assert r.weights["Madrid (Comunidad De)"] == pytest.approx(0.149, abs=2e-3)
    assert r.pre_rmspe**2 == pytest.approx(r_values("basque", "loss").iloc[0], rel=1e-3)
    # 14 predictors for 10 pre-periods: Synth accepts it; we caution
    assert any("14 predictors for 10 pre-period" in c for c in r.cautions)
    # with R's V, R's W
    rv = r_values("basque", "v").to_numpy()
    r2 = synthetic_control(d, "gdpcap", "regionname", "year", BASQUE, 1970,
                           predictors=BASQUE_PREDICTORS, placebo=False, custom_v=rv)
    rw = r_values("basque", "w")
    np.testing.assert_allclose(r2.weights.reindex(rw.index).to_numpy(), rw.to_numpy(),
                               atol=1e-3)


def test_california_four_predictors_fit_better_than_r():
    # four predictors: California lies inside the donors' hull, many W match them exactly.
    # R's ipop picks an interior W; ties here go to the best pre-period fit.
    d = prop99()
    for case, v in (("ca_lags_equalv", [0.25] * 4),
                    ("ca_lags", r_values("ca_lags", "v").to_numpy())):
        r = synthetic_control(d, P, "State", "Year", "California", 1989, predictors=CA_LAGS,
                              placebo=False, custom_v=v)
        np.testing.assert_allclose(r.balance["synthetic"], r.balance["treated"], atol=1e-3)
        assert r.pre_rmspe**2 < r_values(case, "loss").iloc[0]
    r = synthetic_control(d, P, "State", "Year", "California", 1989, predictors=CA_LAGS,
                          placebo=False)
    assert r.v_method == "optimised"
    assert r.pre_rmspe**2 <= r_values("ca_lags", "loss").iloc[0]
    assert r.balance.loc["PacksPerCapita (1975)", "treated"] == pytest.approx(127.1, abs=1e-4)
    assert r.balance.loc["PacksPerCapita (mean 1970–1988)", "donor_mean"] == pytest.approx(
        prop99().query("State != 'California' and Year < 1989")[P].mean())


# -- pysyncon (test-only peer) -----------------------------------------------------------------

def test_pysyncon_same_v_same_weights():
    # pysyncon 1.7.0 with R Synth's V, computed once by tests/reference/synth_pysyncon.py
    import json

    peer = json.loads((REFERENCE / "synth_pysyncon.json").read_text())
    d = basque()
    controls = sorted(set(d["regionname"]) - {BASQUE})
    v = r_values("basque", "v").to_numpy()
    ours = synthetic_control(d, "gdpcap", "regionname", "year", BASQUE, 1970,
                             predictors=BASQUE_PREDICTORS, placebo=False, custom_v=v)
    theirs = pd.Series(peer["weights"]).reindex(controls)
    np.testing.assert_allclose(ours.weights.reindex(controls), theirs, atol=1e-3)
    assert ours.pre_rmspe**2 <= peer["loss_V"] + 1e-9


# -- closed forms and properties ---------------------------------------------------------------

@pytest.mark.parametrize("predictors", [None, ["x", ("y", 2003), ("y", range(2000, 2008))]])
def test_exact_convex_combination_is_recovered(predictors):
    d = panel(np.random.default_rng(1))
    r = synthetic_control(d, "y", "unit", "year", "T", 2008, predictors=predictors,
                          placebo=False)
    assert r.weights["d1"] == pytest.approx(0.3, abs=1e-6)
    assert r.weights["d2"] == pytest.approx(0.7, abs=1e-6)
    assert r.pre_rmspe == pytest.approx(0, abs=1e-6)
    assert r.estimate == pytest.approx(0, abs=1e-5)
    assert not any(c.limits for c in r.cautions if "placebo" not in c.lower())


def test_simplex_least_squares_matches_a_generic_solver():
    rng = np.random.default_rng(7)
    for _ in range(5):
        A, b = rng.normal(size=(6, 15)), rng.normal(size=6) * 3
        w = simplex_least_squares(A, b)
        ref = minimize(lambda x, A=A, b=b: np.sum((A @ x - b) ** 2), np.full(15, 1 / 15),
                       method="SLSQP", bounds=[(0, 1)] * 15,
                       constraints=[{"type": "eq", "fun": lambda x: x.sum() - 1}],
                       options={"ftol": 1e-14, "maxiter": 500})
        assert w.min() >= 0 and w.sum() == pytest.approx(1)
        assert np.sum((A @ w - b) ** 2) <= ref.fun + 1e-9


def test_placebo_p_value_and_gaps():
    r = california()
    st = r.placebo_stats
    assert len(st) == r.n_units == 39 and st["treated"].sum() == 1
    ratios = st["post_pre_ratio"].to_numpy()
    assert r.p_value == pytest.approx(np.mean(ratios >= r.post_pre_ratio))
    assert 1 / 39 <= r.p_value <= 1
    assert r.p_value == pytest.approx(3 / 39)  # Virginia and Missouri: tiny pre-RMSPE
    keep = st["pre_rmspe"] ** 2 <= 5 * r.pre_rmspe**2
    assert r.p_value_restricted == pytest.approx(1 / keep.sum())
    assert r.placebo_gaps.shape == (38 * 31, 3)
    # a placebo equals a fit of that donor as treated, without California
    d = prop99()
    one = synthetic_control(d[d["State"] != "California"], P, "State", "Year", "Utah", 1989,
                            placebo=False)
    pg = r.placebo_gaps[r.placebo_gaps["unit"] == "Utah"]
    np.testing.assert_allclose(pg["gap"].to_numpy(), one.gaps["gap"].to_numpy(), atol=1e-9)
    frame = r.to_frame()
    assert list(frame["term"]) == ["ATT"] and frame["se"].isna().all()
    assert frame["p_value"].iloc[0] == r.p_value
    assert "Utah" in r.summary() and r.to_dict()["n_donors"] == 38


def test_placebos_with_optimised_v_on_a_small_panel():
    rng = np.random.default_rng(3)
    d = panel(rng, n_units=6, n_times=10)
    d.loc[(d["unit"] == "T") & (d["year"] >= 2007), "y"] += 30  # a large effect
    r = synthetic_control(d, "y", "unit", "year", "T", 2007,
                          predictors=["x", ("y", 2002), ("y", 2006)])
    assert r.p_value == pytest.approx(1 / 6)  # largest ratio of the 6 units
    assert r.estimate == pytest.approx(30, abs=0.5)
    assert any("1/6" in c and c.limits for c in r.cautions)  # cannot reach 0.05


# -- bad input ---------------------------------------------------------------------------------

def test_bad_units_and_times():
    d = panel(np.random.default_rng(2))
    with pytest.raises(EvalDataError, match="no unit 'Z'"):
        synthetic_control(d, "y", "unit", "year", "Z", 2008)
    with pytest.raises(EvalDataError, match="no period 1999"):
        synthetic_control(d, "y", "unit", "year", "T", 1999)
    with pytest.raises(EvalDataError, match="first period"):
        synthetic_control(d, "y", "unit", "year", "T", 2000)
    with pytest.raises(EvalDataError, match="repeat a unit and time"):
        synthetic_control(pd.concat([d, d.head(1)]), "y", "unit", "year", "T", 2008)
    with pytest.raises(EvalDataError, match="'nope'"):
        synthetic_control(d, "nope", "unit", "year", "T", 2008)
    with pytest.raises(EvalDataError, match="on or after the intervention"):
        synthetic_control(d, "y", "unit", "year", "T", 2008, predictors=[("y", 2009)])
    last = synthetic_control(d, "y", "unit", "year", "T", 2011, placebo=False)
    assert last.n_post == 1 and any("last period" in c for c in last.cautions)


def test_missing_years():
    d = panel(np.random.default_rng(4))
    gap = d[~((d["unit"] == "d3") & d["year"].isin([2002, 2003]))]
    r = synthetic_control(gap, "y", "unit", "year", "T", 2008, placebo=False)
    assert "d3" not in r.weights.index and r.n_donors == 5
    note = next(c for c in r.cautions if "left out" in c)
    assert "d3 (2002, 2003)" in note
    with pytest.raises(EvalDataError, match="treated unit 'T' has no value in periods 2001"):
        synthetic_control(d[~((d["unit"] == "T") & (d["year"] == 2001))], "y", "unit",
                          "year", "T", 2008)


def test_treated_outside_the_hull_is_cautioned():
    d = panel(np.random.default_rng(5))
    d.loc[d["unit"] == "T", "y"] += 40  # above every donor in every period
    r = synthetic_control(d, "y", "unit", "year", "T", 2008)
    note = next(c for c in r.cautions if "Poor pre-period fit" in c)
    assert note.limits
    assert "above every donor in 8 pre-period(s)" in note
    assert f"by {r.pre_rmspe:.4g}" in note

"""event_study with covariates, weights and vcov against R lm + sandwich with fixest's factor.

R reference: tests/reference/event_study_reference.R (the numbers of fixest::feols(y ~
i(rel, ref = -1) + x | state + year, weights = ~w, cluster = ~state)).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.exceptions import EvalDataError, EvalOptionError
from evalkit.methods.did.event_study import event_study

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "tests" / "reference"
COEF = pd.read_csv(REF / "event_study_reference_coef.csv")
COV = pd.read_csv(REF / "event_study_reference_cov.csv")
PRE = pd.read_csv(REF / "event_study_reference_pretest.csv").set_index("case")
CASES = {  # name: (window, covariates, weights, vcov)
    "cov_weights_crv1": ((-5, 5), ("reports_per_100k",), "w", "CRV1"),
    "weights_hetero": ((-3, 3), (), "w", "hetero"),
    "cov_iid": ((-5, 5), ("reports_per_100k",), None, "iid"),
    "default_crv1": ((-5, 5), (), None, "CRV1"),
}


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    d = pd.read_csv(ROOT / "data" / "sample" / "safe_harbor_panel.csv")
    idx = {s: i for i, s in enumerate(sorted(d["state"].unique()))}
    return d.assign(w=1 + (d["state"].map(idx) % 7) / 2 + (d["year"] - 2000) / 10)


def _fit(panel, name):
    window, cov, w, vcov = CASES[name]
    return event_study(panel, "arrests_per_100k", "state", "year", "first_law_year",
                       window=window, covariates=cov, weights=w, vcov=vcov)


@pytest.mark.parametrize("name", list(CASES))
def test_coefficients_and_covariance_equal_fixest_via_r(panel, name):
    es = _fit(panel, name)
    ref = COEF[COEF["case"] == name].set_index("term")
    assert list(es.terms) == list(ref.index)
    tab = es.table[es.table["rel_time"] != -1]
    rows = pd.concat([tab.assign(term=[f"rel {k}" for k in tab["rel_time"]]),
                      es.covariate_table]).set_index("term")
    for col in ("estimate", "se", "ci_low", "ci_high", "p_value"):
        np.testing.assert_allclose(rows.loc[ref.index, col], ref[col], rtol=1e-8, atol=1e-12,
                                   err_msg=col)
    assert es.df == ref["df"].iloc[0]
    k = len(es.terms)
    V = COV[COV["case"] == name]["value"].to_numpy().reshape(k, k, order="F")
    np.testing.assert_allclose(es.cov, V, rtol=1e-8, atol=1e-14)
    m = len(es.table) - 1
    np.testing.assert_allclose(es.sigma, V[:m, :m], rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(es.betahat, ref["estimate"].to_numpy()[:m], rtol=1e-8)
    assert es.pretest.statistic == pytest.approx(PRE.loc[name, "statistic"], rel=1e-8)
    assert es.pretest.df == PRE.loc[name, "df"]
    assert es.pretest.p_value == pytest.approx(PRE.loc[name, "p_value"], rel=1e-7)


def test_options_are_recorded_and_default_is_unchanged(panel):
    es = _fit(panel, "cov_weights_crv1")
    assert (es.vcov, es.covariates, es.weights) == ("CRV1", ("reports_per_100k",), "w")
    assert es.n_obs == 1020 and es.n_clusters == 51
    assert "cluster-robust" in es.pretest.method
    assert "heteroskedasticity-robust" in _fit(panel, "weights_hetero").pretest.method
    assert "classical" in _fit(panel, "cov_iid").pretest.method
    d = es.to_dict()
    assert d["weights"] == "w" and d["vcov"] == "CRV1"
    # no options: the same as before the options existed
    plain = event_study(panel, "arrests_per_100k", "state", "year", "first_law_year")
    pd.testing.assert_frame_equal(plain.table, _fit(panel, "default_crv1").table)
    assert plain.covariate_table is not None and plain.covariate_table.empty
    # weights change the estimates (they are used), constant weights do not
    same = event_study(panel.assign(c=3.0), "arrests_per_100k", "state", "year",
                       "first_law_year", weights="c")
    np.testing.assert_allclose(same.table["estimate"], plain.table["estimate"], rtol=1e-10)
    np.testing.assert_allclose(same.table["se"], plain.table["se"], rtol=1e-10)


def test_zero_and_negative_weights(panel):
    w = panel["w"].copy()
    w[(panel["state"] == "AL").to_numpy()] = 0.0
    es = event_study(panel.assign(w=w), "arrests_per_100k", "state", "year",
                     "first_law_year", weights="w")
    assert es.n_obs == 1000 and es.n_clusters == 50
    assert any("zero weight" in c for c in es.cautions)
    dropped = event_study(panel[panel["state"] != "AL"], "arrests_per_100k", "state", "year",
                          "first_law_year", weights="w")
    np.testing.assert_allclose(es.table["estimate"], dropped.table["estimate"], rtol=1e-10)
    np.testing.assert_allclose(es.table["se"], dropped.table["se"], rtol=1e-10)
    assert list(es.table["n_units"]) == list(dropped.table["n_units"])
    with pytest.raises(EvalDataError, match="'w'"):
        event_study(panel.assign(w=-panel["w"]), "arrests_per_100k", "state", "year",
                    "first_law_year", weights="w")
    with pytest.raises(EvalOptionError):
        event_study(panel, "arrests_per_100k", "state", "year", "first_law_year",
                    vcov="HC3")  # type: ignore[arg-type]
    with pytest.raises(EvalDataError, match="nope"):
        event_study(panel, "arrests_per_100k", "state", "year", "first_law_year",
                    covariates=["nope"])

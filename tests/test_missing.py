"""evalkit.missing against R: Rubin's rules with Barnard–Rubin df (mice 3.15 pool.scalar and
pool on a mira), attrition weights (glm); imputation's guarantees and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit import missing
from evalkit.exceptions import EvalDataError
from evalkit.results import FRAME_COLUMNS

REF = Path(__file__).parent / "reference"


@pytest.fixture(scope="module")
def ref() -> dict:
    return json.loads((REF / "weighting_reference.json").read_text())


@pytest.mark.parametrize("case", range(4))
def test_pool_equals_mice_pool_scalar(ref, case):
    c = ref["pool"][case]
    r = missing.pool(c["Q"], c["se"], df_complete=c["df_complete"])
    for got, key in ((r.estimate, "estimate"), (r.ubar, "ubar"), (r.b, "b"), (r.t_var, "t"),
                     (r.df, "df"), (r.riv, "r"), (r.fmi, "fmi"), (r.ci_low, "ci_low"),
                     (r.ci_high, "ci_high")):
        assert got == pytest.approx(c[key], rel=1e-12), key
    assert r.se == pytest.approx(np.sqrt(c["t"]), rel=1e-12)


def test_pool_equals_mice_pool_on_imputed_regressions(ref):
    c = ref["pool_mira"]
    r = missing.pool(c["Q"], c["se"], df_complete=c["df_complete"])
    assert r.estimate == pytest.approx(c["estimate"], rel=1e-12)
    assert r.se == pytest.approx(c["std_error"], rel=1e-12)
    assert r.df == pytest.approx(c["df"], rel=1e-12)
    assert r.ci_low == pytest.approx(c["ci_low"], rel=1e-12)
    assert r.ci_high == pytest.approx(c["ci_high"], rel=1e-12)
    assert r.fmi == pytest.approx(c["fmi"], rel=1e-12)
    assert r.p_value == pytest.approx(c["p_value"], rel=1e-10)
    assert tuple(r.to_frame().columns[:6]) == FRAME_COLUMNS


def test_pool_bad_input():
    with pytest.raises(ValueError, match="at least 2"):
        missing.pool([1.0], [0.1])
    with pytest.raises(ValueError, match="differ in length"):
        missing.pool([1.0, 2.0], [0.1])


def test_attrition_weights_equal_glm(ref):
    d = pd.read_csv(REF / "lalonde.csv")
    a = ref["attrition"]
    d["observed"] = a["observed"]
    aw = missing.attrition_weights(d, "observed", ["age", "educ", "married", "re75"])
    np.testing.assert_allclose(aw.p_observed, a["p"], rtol=1e-7)
    np.testing.assert_allclose(aw.weights, a["weights"], rtol=1e-7)
    assert aw.n_observed + aw.n_missing == len(d)
    assert aw.weights.index.equals(d.index)


def test_attrition_everyone_observed_refused():
    d = pd.DataFrame({"o": [1] * 20, "x": np.arange(20.0)})
    with pytest.raises(EvalDataError, match="every youth is observed"):
        missing.attrition_weights(d, "o", ["x"])


def _with_holes(seed=0, n=150):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    d = pd.DataFrame({"x": x, "y": 2 * x + rng.normal(size=n),
                      "k": rng.integers(0, 2, n).astype(float), "id": np.arange(n)},
                     index=pd.RangeIndex(100, 100 + n))
    d.loc[rng.random(n) < 0.3, "y"] = np.nan
    d.loc[rng.random(n) < 0.2, "k"] = np.nan
    return d


def test_impute_fills_only_missing_values_reproducibly():
    d = _with_holes()
    frames = missing.impute(d, ["y", "k"], m=3, seed=5, predictors=["x"], burn_in=3, between=1)
    again = missing.impute(d, ["y", "k"], m=3, seed=5, predictors=["x"], burn_in=3, between=1)
    assert len(frames) == 3
    miss = d["y"].isna()
    for f, g in zip(frames, again, strict=True):
        pd.testing.assert_frame_equal(f, g)
        assert not f[["y", "k"]].isna().any().any()
        assert f.index.equals(d.index)
        pd.testing.assert_series_equal(f.loc[~miss, "y"], d.loc[~miss, "y"])
        # predictive mean matching: imputed values are observed values
        assert set(f.loc[miss, "y"]) <= set(d["y"].dropna())
        assert set(f["k"]) <= {0.0, 1.0}
    # the draws differ between completed data sets
    assert not frames[0].loc[miss, "y"].equals(frames[1].loc[miss, "y"])
    # and carry the relation to x: the imputed y track 2x
    imputed = pd.concat([f.loc[miss] for f in frames])
    assert np.corrcoef(imputed["x"], imputed["y"])[0, 1] > 0.7


def test_impute_entirely_missing_column_refused():
    d = _with_holes().assign(z=np.nan)
    with pytest.raises(EvalDataError, match="'z'.*every value is missing"):
        missing.impute(d, ["y", "z"], m=2, seed=1)
    with pytest.raises(EvalDataError, match="'nope'.*not found"):
        missing.impute(d, ["nope"], m=2, seed=1)

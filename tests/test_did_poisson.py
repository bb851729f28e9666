"""poisson_twfe against R (glm + sandwich with fixest's small-sample factor) and pyfixest."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.exceptions import EvalDataError, EvalOptionError
from evalkit.methods.did.poisson import poisson_twfe, weighted_two_way_demean

REF = Path(__file__).parent / "reference"
CASES = {  # name: (vcov, cluster, offset)
    "crv1_unit_offset": ("CRV1", None, "log_pop"),
    "iid_offset": ("iid", None, "log_pop"),
    "hetero_offset": ("hetero", None, "log_pop"),
    "crv1_region_offset": ("CRV1", "region", "log_pop"),
    "crv1_unit_no_offset": ("CRV1", None, None),
}


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return pd.read_csv(REF / "poisson_panel.csv")


def _r_reference() -> dict[str, dict[str, float]]:
    out = {}
    for line in (REF / "poisson_reference.txt").read_text().splitlines():
        m = re.match(r"(\w+) (coef=.*)", line)
        if m:
            out[m.group(1)] = {k: float(v) for k, v in re.findall(r"(\w+)=(\S+)", m.group(2))}
    return out


R = _r_reference()
PYFIXEST = json.loads((REF / "poisson_pyfixest.json").read_text())["cases"]


@pytest.mark.parametrize("name", list(CASES))
def test_matches_r_glm_with_fixest_small_sample_factor(panel, name):
    vcov, cluster, offset = CASES[name]
    res = poisson_twfe(panel, "arrests", "unit", "period", "treated", offset=offset,
                       vcov=vcov, cluster=cluster)
    ref = R[name]
    assert res.estimate == pytest.approx(ref["coef"], rel=1e-10)
    # glm's variance uses the IRLS weights of the last step, as fixest does (equal to 1e-12);
    # sandwich's scores use the final working residuals, so sandwich SEs agree to ~1e-8
    assert res.se == pytest.approx(ref["se"], rel=1e-11 if vcov == "iid" else 5e-8)
    assert res.p_value == pytest.approx(ref["p"], rel=1e-6, abs=1e-30)
    assert res.ci_low == pytest.approx(ref["ci_low"], rel=1e-7)
    assert res.ci_high == pytest.approx(ref["ci_high"], rel=1e-7)
    assert res.n == ref["n"] == 627


@pytest.mark.parametrize("name", list(CASES))
def test_matches_pyfixest_fepois(panel, name):
    vcov, cluster, offset = CASES[name]
    res = poisson_twfe(panel, "arrests", "unit", "period", "treated", offset=offset,
                       vcov=vcov, cluster=cluster)
    ref = PYFIXEST[name]
    assert res.estimate == pytest.approx(ref["coef"], rel=1e-10)
    assert res.se == pytest.approx(ref["se"], rel=5e-8)
    assert res.n == ref["nobs"]


def test_all_zero_units_and_periods_are_dropped_with_a_caution(panel):
    res = poisson_twfe(panel, "arrests", "unit", "period", "treated", offset="log_pop")
    assert (res.n_dropped, res.n_units_dropped, res.n_periods_dropped) == (93, 3, 1)
    assert (res.n_units, res.n_periods, res.n_clusters) == (57, 11, 57)
    text = " ".join(res.cautions)
    assert "3 units (u57, u58, u59) and 1 period (1)" in text and "93 observations" in text
    # dropping them by hand gives the same fit and no caution about dropping
    kept = panel[~panel["unit"].isin(["u57", "u58", "u59"]) & (panel["period"] != 1)]
    again = poisson_twfe(kept, "arrests", "unit", "period", "treated", offset="log_pop")
    assert again.estimate == pytest.approx(res.estimate, rel=1e-12)
    assert again.se == pytest.approx(res.se, rel=1e-12)
    assert again.n_dropped == 0 and not any("dropped" in c for c in again.cautions)


def test_rate_ratio_and_interval_are_the_exponentiated_coefficient(panel):
    res = poisson_twfe(panel, "arrests", "unit", "period", "treated", offset="log_pop",
                       alpha=0.1)
    assert res.rate_ratio == pytest.approx(np.exp(res.coefficient))
    assert res.rate_ratio_ci == pytest.approx(np.exp(np.array(res.ci)))
    assert res.ci_high - res.estimate == pytest.approx(1.6448536269514722 * res.se)
    row = res.to_frame().iloc[0]
    assert row["term"] == "treated" and row["rate_ratio"] == res.rate_ratio
    assert res.converged and res.iterations <= 10
    assert res.to_dict()["offset"] == "log_pop" and res.to_dict()["vcov"] == "CRV1"


def test_rates_are_allowed_with_a_caution_and_scale_free(panel):
    # Poisson PML is invariant to rescaling the outcome: the coefficient does not change
    rate = panel.assign(rate=panel["arrests"] / 2.5)
    res = poisson_twfe(rate, "rate", "unit", "period", "treated", offset="log_pop")
    base = poisson_twfe(panel, "arrests", "unit", "period", "treated", offset="log_pop")
    assert res.estimate == pytest.approx(base.estimate, rel=1e-9)
    assert res.se == pytest.approx(base.se, rel=1e-7)
    note = [c for c in res.cautions if "not a whole number" in c]
    assert note and not note[0].limits


def test_negative_outcome_names_rows_and_units(panel):
    bad = panel.copy()
    bad.loc[[5, 40], "arrests"] = -1
    with pytest.raises(EvalDataError) as err:
        poisson_twfe(bad, "arrests", "unit", "period", "treated")
    msg = str(err.value)
    assert "negative in 2 rows" in msg and "u00, u03" in msg and "arrests" in msg


def test_infinite_offset_is_refused(panel):
    bad = panel.copy()
    bad.loc[7, "log_pop"] = -np.inf
    with pytest.raises(EvalDataError, match="log exposure"):
        poisson_twfe(bad, "arrests", "unit", "period", "treated", offset="log_pop")
    bad.loc[7, "log_pop"] = np.nan
    with pytest.raises(EvalDataError, match="log_pop"):
        poisson_twfe(bad, "arrests", "unit", "period", "treated", offset="log_pop")


def test_bad_options_and_degenerate_data(panel):
    with pytest.raises(EvalOptionError):
        poisson_twfe(panel, "arrests", "unit", "period", "treated", vcov="HC3")  # type: ignore[arg-type]
    with pytest.raises(EvalDataError, match="collinear"):
        poisson_twfe(panel.assign(d=1.0), "arrests", "unit", "period", "d")
    with pytest.raises(EvalDataError, match="zero in every row"):
        poisson_twfe(panel.assign(arrests=0), "arrests", "unit", "period", "treated")
    with pytest.raises(EvalDataError, match="repeat a unit and period"):
        poisson_twfe(pd.concat([panel, panel.iloc[:2]]), "arrests", "unit", "period", "treated")
    with pytest.raises(EvalDataError, match="one cluster"):
        poisson_twfe(panel.assign(c="a"), "arrests", "unit", "period", "treated", cluster="c")
    short = poisson_twfe(panel, "arrests", "unit", "period", "treated", glm_iter=1)
    assert not short.converged and any("did not converge" in c for c in short.cautions)


def test_weighted_two_way_demean_equals_least_squares_on_dummies():
    rng = np.random.default_rng(3)
    u = rng.integers(0, 9, 80)
    t = rng.integers(0, 5, 80)
    u, t = pd.factorize(u)[0], pd.factorize(t)[0]
    w = rng.uniform(0.2, 3, 80)
    x = rng.normal(size=(80, 2))
    D = np.column_stack([np.eye(u.max() + 1)[u], np.eye(t.max() + 1)[t][:, 1:]])
    sw = np.sqrt(w)[:, None]
    coef = np.linalg.lstsq(D * sw, x * sw, rcond=None)[0]
    expected = x - D @ coef
    assert np.allclose(weighted_two_way_demean(x, u, t, w), expected, atol=1e-12)

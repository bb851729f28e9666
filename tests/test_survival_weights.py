"""Weighted Kaplan–Meier and weighted Cox regression against R survival 3.5-3.

The reference values come from tests/reference/survival_weights_reference.R (``survfit`` and
``coxph`` with ATT weights from a ``glm`` logit, whole-number weights, zero weights and robust
variances); the data are stored in the JSON it wrote.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE

from evalkit.exceptions import EvalDataError
from evalkit.survival import cox, kaplan_meier
from evalkit.weighting import propensity


@functools.cache
def reference() -> dict[str, Any]:
    """The R output (read once)."""
    return json.loads((REFERENCE / "survival_weights_reference.json").read_text())


def data() -> pd.DataFrame:
    return pd.DataFrame(reference()["data"])


def r_frame(case: str, part: str) -> pd.DataFrame:
    frame = pd.DataFrame(reference()["km"][case][part]).astype({"group": str})
    return frame.astype({c: float for c in frame.columns if c != "group"})


# case in the reference -> arguments of kaplan_meier
CASES: dict[str, dict[str, Any]] = {
    "att_log": {"weights": "w"},
    "att_log-log": {"weights": "w", "conf_type": "log-log"},
    "att_plain": {"weights": "w", "conf_type": "plain"},
    "att_greenwood": {"weights": "w", "robust": False},
    "att_one_curve": {"weights": "w", "group": None},
    "att_alpha10": {"weights": "w", "alpha": 0.10},
    "integer": {"weights": "w_int"},
    "integer_robust": {"weights": "w_int", "robust": True},
    "zero": {"weights": "w_zero"},
    "unweighted_robust": {"robust": True},
}
TABLE = [("n_risk", "n_risk"), ("n_event", "n_event"), ("n_censor", "n_censor"),
         ("surv", "surv"), ("std_err", "std_err"), ("ci_low", "lower"), ("ci_high", "upper")]


def fit(case: str, frame: pd.DataFrame | None = None):
    kw = {"group": "group", **CASES[case]}
    return kaplan_meier(data() if frame is None else frame, "time", "status", **kw)


def assert_close(ours: pd.Series | np.ndarray, theirs: pd.Series | np.ndarray, what: str,
                 rtol: float = 1e-10) -> None:
    a, b = np.asarray(ours, float), np.asarray(theirs, float)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=f"{what}: missing values")
    np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-13, err_msg=what)


@pytest.mark.parametrize("case", list(CASES))
def test_km_table_equals_survfit(case):
    km = fit(case)
    r = r_frame(case, "table")
    ours = km.table.astype({"group": str})
    both = r.merge(ours, on=["group", "time"], how="left", suffixes=("_r", ""),
                   indicator=True)
    only_r = both[both["_merge"] == "left_only"]
    # every time R lists, including those of rows whose weight is 0 (with zero counts)
    assert only_r.empty and len(ours) == len(r)
    both = both[both["_merge"] == "both"]
    for col, rcol in TABLE:
        assert_close(both[col], both[rcol if rcol != col else f"{col}_r"], f"{case} {col}")


@pytest.mark.parametrize("case", list(CASES))
def test_km_medians_and_at_equal_survfit(case):
    km = fit(case)
    r = r_frame(case, "median").set_index("group")
    med = km.median.astype({"group": str}).set_index("group").loc[r.index]
    assert_close(med["median"], r["median"], "median")
    assert_close(med["ci_low"], r["lower"], "median lower")
    assert_close(med["ci_high"], r["upper"], "median upper")
    assert_close(med["events"], r["events"], "weighted events")
    if "weights" in CASES[case]:
        assert_close(med["n_weighted"], r["n"], "weighted n")
        w = data()[CASES[case]["weights"]]
        assert med["n"].sum() == (w > 0).sum()
    r_at = r_frame(case, "at")
    at = km.at([4, 10, 25, 40]).astype({"group": str})
    for col, rcol in [("n_risk", "n_risk"), ("surv", "surv"), ("std_err", "std_err"),
                      ("ci_low", "lower"), ("ci_high", "upper")]:
        assert_close(at[col], r_at[rcol], f"at {col}")


@pytest.mark.parametrize("robust, case", [(None, "tiny_robust"), (False, "tiny_greenwood")])
def test_km_curve_that_drops_to_zero_equals_survfit(robust, case):
    km = kaplan_meier(pd.DataFrame(reference()["tiny"]), "time", "status", weights="w",
                      robust=robust)
    r = r_frame(case, "table")
    for col, rcol in TABLE:
        assert_close(km.table[col], r[rcol], f"{case} {col}")
    # R: a robust standard error of 0 where the curve is 0, Greenwood's undefined
    last = km.table["std_err"].iloc[-1]
    assert last == 0.0 if robust is None else np.isnan(last)
    assert any("drops to 0" in c for c in km.cautions)
    r_at = r_frame(case, "at")
    at = km.at([1, 2.5, 3])
    assert_close(at["n_risk"], r_at["n_risk"], "at n_risk")
    assert_close(at["ci_low"], r_at["lower"], "at ci_low")


def test_robust_follows_r_default():
    # non-integer weights: the robust variance; whole numbers: Greenwood on weighted counts
    assert fit("att_log").robust and not fit("integer").robust
    assert reference()["km"]["att_log"]["logse"] is False
    assert reference()["km"]["integer"]["logse"] is True
    plain = kaplan_meier(data(), "time", "status", group="group")
    assert not plain.robust and plain.weights is None
    assert list(plain.median.columns) == ["group", "n", "events", "median", "ci_low", "ci_high"]


def test_unit_weights_give_the_unweighted_curve():
    d = data().assign(one=1.0)
    plain = kaplan_meier(d, "time", "status", group="group", conf_type="log-log")
    ones = kaplan_meier(d, "time", "status", group="group", conf_type="log-log", weights="one")
    pd.testing.assert_frame_equal(plain.table, ones.table, rtol=1e-12)
    pd.testing.assert_frame_equal(plain.median, ones.median.drop(columns="n_weighted"),
                                  check_dtype=False)


def test_propensity_weights_series_on_another_index():
    d = data()
    r = reference()
    shifted = d.set_index(pd.RangeIndex(100, 100 + len(d)))
    w = propensity(shifted, "group", ["x", "z"], estimand="ATT")
    assert_close(w.coef.to_numpy(), [r["ps_coef"][k] for k in ("(Intercept)", "x", "z")],
                 "logit", rtol=1e-8)
    assert_close(w.weights.to_numpy(), d["w"], "ATT weights", rtol=1e-8)
    # the Series aligns by label, even in another order; the Weights object works as well
    for weights in (w.weights.sample(frac=1, random_state=1), w):
        km = kaplan_meier(shifted, "time", "status", group="group", weights=weights)
        assert km.robust
        assert_close(km.table["surv"], r_frame("att_log", "table")["surv"], "surv", rtol=1e-8)
        assert_close(km.table["std_err"], r_frame("att_log", "table")["std_err"], "std_err",
                     rtol=1e-7)


# -- bad weights -------------------------------------------------------------------------------

@pytest.mark.parametrize("change, words", [
    (lambda w: w.mask(w.index.isin([3, 7]), -0.5), "weights are negative in 2 rows (rows 4, 8)"),
    (lambda w: w.mask(w.index == 5, np.nan), "weights are missing in 1 row (row 6)"),
    (lambda w: w.mask(w.index == 9, np.inf), "weights are infinite in 1 row (row 10)"),
    (lambda w: w * 0, "every weight is zero"),
    (lambda w: w.astype(object).mask(w.index == 0, "heavy"), "not numbers in 1 row (row 1)"),
])
def test_bad_weight_values_are_named(change, words):
    d = data()
    d["bad"] = change(d["w"])
    with pytest.raises(EvalDataError, match=r"column 'bad'") as err:
        kaplan_meier(d, "time", "status", group="group", weights="bad")
    assert words in str(err.value)


def test_zero_weights_throughout_a_group():
    d = data()
    d["w0"] = d["w"].where(d["group"] == 1, 0.0)
    with pytest.raises(EvalDataError, match="every weight is zero in group group = 0"):
        kaplan_meier(d, "time", "status", group="group", weights="w0")


def test_misaligned_or_missing_weights():
    d = data()
    with pytest.raises(EvalDataError, match="'nope': weights column is missing"):
        kaplan_meier(d, "time", "status", weights="nope")
    short = pd.Series(d["w"].to_numpy()[:150], index=range(150), name="ps_w")
    with pytest.raises(EvalDataError, match=r"column 'ps_w': no weight for these rows.* in 10 "
                                            r"rows \(rows 151, 152"):
        kaplan_meier(d, "time", "status", weights=short)
    dup = pd.Series(1.0, index=[0] * len(d))
    with pytest.raises(EvalDataError, match="duplicate labels"):
        kaplan_meier(d, "time", "status", weights=dup)
    with pytest.raises(EvalDataError, match="3 weights for 160 rows"):
        kaplan_meier(d, "time", "status", weights=np.ones(3))


# -- weighted Cox regression -------------------------------------------------------------------

@pytest.mark.parametrize("case, covariates, ties", [
    ("efron", ["x", "group"], "efron"),
    ("breslow", ["x", "group"], "breslow"),
    ("efron_x_z", ["x", "z", "group"], "efron"),
])
def test_weighted_robust_cox_equals_coxph(case, covariates, ties):
    r = reference()["cox"][case]
    res = cox(data(), "time", "status", covariates, weights="w", robust=True, ties=ties)
    assert_close(res.coef, r["coef"], "coef", rtol=1e-9)
    assert res.robust_se is not None
    assert_close(res.robust_se, r["robust_se"], "robust se", rtol=1e-9)
    assert_close(res.se, r["se"], "model-based se", rtol=1e-9)
    assert_close([res.loglik_null, res.loglik], r["loglik"], "log-likelihood", rtol=1e-12)
    assert (res.n, res.n_events) == (r["n"], r["nevent"])
    frame = res.to_frame().set_index("term")
    assert_close(frame.loc[covariates, "se"], r["robust_se"], "reported se", rtol=1e-9)

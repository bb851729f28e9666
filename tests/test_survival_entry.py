"""Kaplan–Meier with delayed entry (``start=``) against R survival 3.5-3.

Reference: tests/reference/recurrent_reference.R (survfit(Surv(entry, exit, event) ~ group)).
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.exceptions import EvalDataError, EvalOptionError
from evalkit.methods.survival import kaplan_meier

REF = Path(__file__).parent / "reference"


@pytest.fixture(scope="module")
def first() -> pd.DataFrame:
    ints = pd.read_csv(REF / "recurrent_intervals_R.csv")
    return ints[ints["episode"] == 1].reset_index(drop=True)


@pytest.mark.parametrize("conf_type", ["log", "log-log", "plain"])
def test_matches_survfit_with_entry(first, conf_type):
    r_ref = pd.read_csv(REF / "recurrent_km_entry_R.csv")
    r_ref = r_ref[r_ref["conf_type"] == conf_type].reset_index(drop=True)
    tab = kaplan_meier(first, "stop", "event", start="start", group="group",
                       conf_type=conf_type).table
    assert list(tab["group"]) == list(r_ref["group"])
    np.testing.assert_array_equal(tab["time"], r_ref["time"])
    for ours, ref in [("n_risk", "n_risk"), ("n_event", "n_event"), ("n_censor", "n_censor")]:
        np.testing.assert_array_equal(tab[ours], r_ref[ref])
    for ours, ref in [("surv", "surv"), ("std_err", "std_err"), ("ci_low", "lower"),
                      ("ci_high", "upper")]:
        np.testing.assert_allclose(tab[ours], r_ref[ref], rtol=1e-12, atol=1e-14)


def test_medians_and_at_match_r(first):
    km = kaplan_meier(first, "stop", "event", start="start", group="group")
    med = pd.read_csv(REF / "recurrent_km_entry_median_R.csv")
    np.testing.assert_array_equal(km.median[["median", "ci_low", "ci_high"]].to_numpy(),
                                  med[["median", "lower", "upper"]].to_numpy())
    np.testing.assert_array_equal(km.median["events"], med["events"])
    at_ref = pd.read_csv(REF / "recurrent_km_entry_at_R.csv")
    at = km.at([0, 30, 45.5, 100, 365])
    np.testing.assert_array_equal(at["n_risk"], at_ref["n_risk"])
    for ours, ref in [("surv", "surv"), ("std_err", "std_err"), ("ci_low", "lower"),
                      ("ci_high", "upper")]:
        np.testing.assert_allclose(at[ours], at_ref[ref], rtol=1e-12, atol=1e-14)
    assert km.start == "start"


def test_entry_at_zero_equals_right_censored_fit(first):
    data = first.assign(zero=0.0, dur=first["stop"])
    a = kaplan_meier(data, "dur", "event", start="zero", group="group").table
    b = kaplan_meier(data, "dur", "event", group="group").table
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-13)


def test_delayed_entry_changes_risk_set(first):
    # ignoring entry counts youth before they entered: more at risk, a higher curve
    with_entry = kaplan_meier(first, "stop", "event", start="start").table
    without = kaplan_meier(first, "stop", "event").table
    assert (with_entry["n_risk"].to_numpy() <= without["n_risk"].to_numpy()).all()
    assert (with_entry["n_risk"] < without["n_risk"]).any()


def test_reversed_interval_names_rows(first):
    bad = first.copy()
    bad.loc[[3, 7], "start"] = bad.loc[[3, 7], "stop"]
    with pytest.raises(EvalDataError, match=r"ends at or before it starts.*rows 4, 8"):
        kaplan_meier(bad, "stop", "event", start="start")


def test_weights_with_start_refused(first):
    with pytest.raises(EvalOptionError):
        kaplan_meier(first, "stop", "event", start="start", weights=np.ones(len(first)))

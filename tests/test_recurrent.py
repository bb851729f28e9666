"""Mean cumulative function and split_episodes against R survival 3.5-3.

Reference: tests/reference/recurrent_reference.R (survfit(Surv(start, stop, event) ~ group,
id = youth, ctype = 1); intervals built in R from recurrent_episodes.csv).
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.exceptions import EvalDataError
from evalkit.methods.recurrent import mean_cumulative_function, split_episodes

REF = Path(__file__).parent / "reference"


@pytest.fixture(scope="module")
def ints() -> pd.DataFrame:
    return pd.read_csv(REF / "recurrent_intervals_R.csv")


@pytest.fixture(scope="module")
def eps() -> pd.DataFrame:
    return pd.read_csv(REF / "recurrent_episodes.csv")


def test_mcf_matches_survfit_robust(ints):
    ref = pd.read_csv(REF / "recurrent_mcf_R.csv")
    r = mean_cumulative_function(ints, "start", "stop", "event", "youth", group="group")
    tab = r.table
    assert r.robust  # R: id given and some youth has more than one event
    assert list(tab["group"]) == list(ref["group"])
    np.testing.assert_array_equal(tab["time"], ref["time"])
    for c in ["n_risk", "n_event", "n_censor"]:
        np.testing.assert_array_equal(tab[c], ref[c])
    for ours, theirs in [("mcf", "cumhaz"), ("se", "std_chaz"), ("ci_low", "plain_lower"),
                         ("ci_high", "plain_upper")]:
        np.testing.assert_allclose(tab[ours], ref[theirs], rtol=1e-12, atol=1e-14)
    log = mean_cumulative_function(ints, "start", "stop", "event", "youth", group="group",
                                   conf_type="log").table
    np.testing.assert_allclose(log["ci_low"], ref["log_lower"], rtol=1e-12)
    np.testing.assert_allclose(log["ci_high"], ref["log_upper"], rtol=1e-12)


def test_mcf_nonrobust_matches_survfit_without_id(ints):
    ref = pd.read_csv(REF / "recurrent_mcf_noid_R.csv")
    tab = mean_cumulative_function(ints, "start", "stop", "event", "youth", group="group",
                                   robust=False).table
    np.testing.assert_allclose(tab["se"], ref["std_chaz"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(tab["mcf"], ref["cumhaz"], rtol=1e-12)


def test_mcf_at_matches_summary_times(ints):
    ref = pd.read_csv(REF / "recurrent_mcf_at_R.csv")
    at = mean_cumulative_function(ints, "start", "stop", "event", "youth",
                                  group="group").at([0, 30, 45.5, 100, 365])
    np.testing.assert_array_equal(at["n_risk"], ref["n_risk"])
    np.testing.assert_allclose(at["mcf"], ref["cumhaz"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(at["se"], ref["std_chaz"], rtol=1e-12, atol=1e-15)


def test_mcf_robust_chunks_agree(ints, monkeypatch):
    import evalkit.methods.recurrent as rec

    whole = mean_cumulative_function(ints, "start", "stop", "event", "youth").table
    monkeypatch.setattr(rec, "_CHUNK_CELLS", 50)  # a few youth per block
    chunked = mean_cumulative_function(ints, "start", "stop", "event", "youth").table
    np.testing.assert_allclose(chunked["se"], whole["se"], rtol=1e-12)


def test_mcf_one_event_per_youth_is_not_robust(ints):
    first = ints[ints["episode"] == 1]
    r = mean_cumulative_function(first, "start", "stop", "event", "youth")
    assert not r.robust
    assert r.to_frame().columns[:6].tolist() == ["term", "estimate", "se", "ci_low",
                                                 "ci_high", "p_value"]


def test_mcf_overlap_is_an_error(ints):
    bad = ints.copy()
    bad.loc[1, "start"] = bad.loc[0, "stop"] - 5  # Y001's second interval starts too early
    with pytest.raises(EvalDataError, match=r"overlap \(1 youth\).*rows 1, 2"):
        mean_cumulative_function(bad, "start", "stop", "event", "youth")


def test_split_episodes_rebuilds_r_intervals(eps, ints):
    out = split_episodes(eps, "youth", "entered", "followup_end", "run_start",
                         episode_end="run_end", origin=0, keep=["group"])
    assert list(out.columns) == ["youth", "start", "stop", "event", "episode", "group"]
    assert list(out["youth"]) == list(ints["youth"])
    assert list(out["group"]) == list(ints["group"])
    for c in ["start", "stop", "event", "episode"]:
        np.testing.assert_array_equal(out[c].to_numpy(dtype=float),
                                      ints[c].to_numpy(dtype=float))


def test_split_episodes_dates_and_default_origin():
    day = pd.Timestamp("2023-01-01")
    d = pd.DataFrame({"id": ["a", "a", "b"],
                      "entry": [day, day, day + pd.Timedelta(days=3)],
                      "end": [day + pd.Timedelta(days=100)] * 2 + [day + pd.Timedelta(days=50)],
                      "ep": [day + pd.Timedelta(days=10), day + pd.Timedelta(days=40), pd.NaT]})
    out = split_episodes(d, "id", "entry", "end", "ep")
    assert out[["start", "stop", "event", "episode"]].to_numpy().tolist() == [
        [0, 10, 1, 1], [10, 40, 1, 2], [40, 100, 0, 3], [0, 47, 0, 1]]
    text = d.assign(**{c: d[c].dt.strftime("%Y-%m-%d") for c in ["entry", "end", "ep"]})
    pd.testing.assert_frame_equal(split_episodes(text, "id", "entry", "end", "ep"), out)


def _base():
    return pd.DataFrame({"id": ["a", "a", "b", "b"], "entry": [0, 0, 5, 5],
                         "exit": [100, 100, 80, 80], "ep": [10.0, 30.0, 20.0, 60.0],
                         "back": [15.0, 35.0, 25.0, 70.0], "n": [1, 2, 1, 2]})


@pytest.mark.parametrize("change, message", [
    ({"ep": [10.0, 12.0, 20.0, 60.0]}, r"overlap .*\(1 youth\).*rows 1, 2"),
    ({"back": [15.0, 35.0, 18.0, 70.0]}, r"ends before it begins \(1 youth\).*row 3"),
    ({"ep": [0.0, 30.0, 20.0, 60.0]}, r"at or before entry \(1 youth\).*row 1"),
    ({"ep": [10.0, 30.0, 20.0, 90.0]}, r"after the end of follow-up \(1 youth\)"),
    ({"n": [2, 1, 1, 2]}, r"out of order.*\(1 youth\).*rows 1, 2"),
    ({"exit": [100, 100, 5, 5]}, r"ends at or before entry \(1 youth\)"),
    ({"entry": [0, 1, 5, 5]}, r"differs between rows of the same youth \(1 youth\)"),
])
def test_split_episodes_errors(change, message):
    d = _base().assign(**change)
    with pytest.raises(EvalDataError, match=message):
        split_episodes(d, "id", "entry", "exit", "ep", episode_end="back", number="n")


def test_split_episodes_gaps_and_last_episode_open():
    d = _base()
    d.loc[3, "back"] = np.nan  # b still away at the end of follow-up
    out = split_episodes(d, "id", "entry", "exit", "ep", episode_end="back", number="n",
                         origin=0)
    assert out[["start", "stop", "event", "episode"]].to_numpy().tolist() == [
        [0, 10, 1, 1], [15, 30, 1, 2], [35, 100, 0, 3], [5, 20, 1, 1], [25, 60, 1, 2]]


def test_a_kept_column_that_is_empty_for_a_youth_is_not_a_difference():
    from evalkit.methods.recurrent import split_episodes

    d = pd.DataFrame({"youth": ["A", "A", "B"], "entry": [0, 0, 0], "exit": [100, 100, 50],
                      "day": [10, 40, None], "changed": [pd.NA, pd.NA, 20]})
    d["changed"] = d["changed"].astype("Int64")
    iv = split_episodes(d, "youth", "entry", "exit", "day", keep=["changed"])
    assert iv.groupby("youth")["changed"].first().isna().tolist() == [True, False]
    d.loc[1, "changed"] = 5
    with pytest.raises(EvalDataError, match="changed.*differs between rows of the same youth"):
        split_episodes(d, "youth", "entry", "exit", "day", keep=["changed"])


# -- time-varying 0/1 covariates (switches) against R tmerge(tdc()) ---------------------------
# Reference: tests/reference/recurrent_switch_reference.R.

def _switched(path: Path) -> pd.DataFrame:
    return split_episodes(pd.read_csv(path), "youth_id", "entry_day", "exit_day",
                          "runaway_day", keep=["specialized", "age"],
                          switches={"changed": "placement_change_day"})


@pytest.mark.parametrize("data, ref", [
    (REF / "recurrent_switch_edges.csv", "recurrent_switch_edges_R.csv"),
    (REF.parent.parent / "data" / "sample" / "runaway_episodes.csv",
     "recurrent_switch_sample_R.csv")])
def test_switches_equal_tmerge_tdc(data, ref):
    out, r = _switched(data), pd.read_csv(REF / ref)
    assert list(out["youth_id"]) == list(r["youth_id"])
    for ours, theirs in [("start", "tstart"), ("stop", "tstop"), ("event", "event"),
                         ("changed", "changed"), ("age", "age")]:
        np.testing.assert_array_equal(out[ours].to_numpy(float), r[theirs].to_numpy(float))


def test_andersen_gill_with_a_switch_equals_coxph():
    from evalkit.survival import cox

    rows = _switched(REF.parent.parent / "data" / "sample" / "runaway_episodes.csv")
    ref = pd.read_csv(REF / "recurrent_switch_ag_R.csv")
    fit = cox(rows, "stop", "event", ["specialized", "changed", "age"], start="start",
              cluster="youth_id")
    f = fit.to_frame()
    np.testing.assert_allclose(f["estimate"], ref["coef"], rtol=1e-10)
    np.testing.assert_allclose(f["robust_se"], ref["robust_se"], rtol=1e-9)
    np.testing.assert_allclose(f["model_se"], ref["se"], rtol=1e-9)
    mcf = mean_cumulative_function(rows, "start", "stop", "event", "youth_id",
                                   group="specialized").at([90, 180, 365])
    rm = pd.read_csv(REF / "recurrent_switch_mcf_R.csv")
    np.testing.assert_array_equal(mcf["n_risk"], rm["n_risk"])
    np.testing.assert_allclose(mcf["mcf"], rm["cumhaz"], rtol=1e-12)
    np.testing.assert_allclose(mcf["se"], rm["std_chaz"], rtol=1e-12)


def test_switches_keep_the_follow_up_and_the_episodes():
    """Cutting at a switch adds rows but no time at risk and no episode (with gaps too)."""
    d = _base().assign(change=[50.0, 50.0, 22.0, 22.0])
    plain = split_episodes(d, "id", "entry", "exit", "ep", episode_end="back", origin=0)
    cut = split_episodes(d, "id", "entry", "exit", "ep", episode_end="back", origin=0,
                         switches={"moved": "change"})
    assert len(cut) == len(plain) + 1  # a is cut on day 50; b changes while away
    for frame in (plain, cut):
        frame["t"] = frame["stop"] - frame["start"]
    pd.testing.assert_series_equal(cut.groupby("id")["t"].sum(), plain.groupby("id")["t"].sum())
    assert cut["event"].sum() == plain["event"].sum()
    assert cut.groupby("id")["moved"].apply(lambda m: m.is_monotonic_increasing).all()
    # b is away from day 20 to 25, so its change on day 22 falls in a gap: no cut, 1 after
    b = cut[cut["id"] == "b"]
    assert b[["start", "stop", "moved"]].to_numpy().tolist() == [
        [5, 20, 0], [25, 60, 1], [70, 80, 1]]


@pytest.mark.parametrize("change, message", [
    ([50.0, 51.0, 22.0, 22.0], r"change.*differs between rows of the same youth "
                               r"\(1 youth\)"),
    (["soon", "soon", 22.0, 22.0], r"change.*time is not a number \(1 youth\)"),
])
def test_switch_errors(change, message):
    d = _base().assign(change=change)
    with pytest.raises(EvalDataError, match=message):
        split_episodes(d, "id", "entry", "exit", "ep", switches={"moved": "change"})


def test_switch_name_clash_and_all_empty_dates():
    with pytest.raises(ValueError, match="'event' are already columns"):
        split_episodes(_base(), "id", "entry", "exit", "ep", switches={"event": "back"})
    day = pd.Timestamp("2023-01-01")
    d = pd.DataFrame({"id": ["a"], "entry": [day], "end": [day + pd.Timedelta(days=9)],
                      "ep": [pd.NaT], "change": [np.nan]})
    out = split_episodes(d, "id", "entry", "end", "ep", switches={"moved": "change"})
    assert out[["start", "stop", "moved"]].to_numpy().tolist() == [[0, 9, 0]]

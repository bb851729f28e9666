"""The repeated-episodes sample: delayed entry, a placement change during follow-up, many runaways.

``data/sample/runaway_episodes.csv`` documents its true rate ratio (0.70 for specialized
placement) and mean cumulative numbers of episodes (``truth.json``, Monte Carlo); the
Andersen–Gill rate ratio and the mean cumulative function must cover them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLE

from evalkit.survival import cox, mean_cumulative_function, split_episodes


@pytest.fixture(scope="module")
def episodes() -> pd.DataFrame:
    return pd.read_csv(SAMPLE / "runaway_episodes.csv")


@pytest.fixture(scope="module")
def intervals(episodes) -> pd.DataFrame:
    iv = split_episodes(episodes, "youth_id", "entry_day", "exit_day", "runaway_day",
                        keep=["specialized", "placement_change_day"])
    entry = episodes.groupby("youth_id")["entry_day"].first()
    change = (iv["placement_change_day"] - iv["youth_id"].map(entry)).astype(float)
    # split the interval in which the placement changed: a time-varying covariate
    cut = (iv["start"] < change) & (change < iv["stop"])
    before = iv[cut].assign(stop=change[cut], event=0)
    after = iv[cut].assign(start=change[cut])
    out = pd.concat([iv[~cut], before, after]).sort_values(["youth_id", "start"])
    out["changed"] = (out["start"] >= change.reindex(out.index)).astype(int)
    return out.reset_index(drop=True)


def test_the_file_is_what_the_readme_describes(episodes, truth):
    t = truth["episodes"]
    assert episodes["youth_id"].nunique() == t["n_youth"] == 400
    per_youth = episodes.groupby("youth_id")
    assert (per_youth["entry_day"].nunique() == 1).all()
    assert (episodes["entry_day"] <= 90).all()  # program entry up to 90 days after
    assert ((episodes["runaway_day"] > episodes["entry_day"])
            | episodes["runaway_day"].isna()).all()


def test_andersen_gill_covers_the_true_rate_ratio(intervals, truth):
    ag = cox(intervals, "stop", "event", ["specialized", "changed"], start="start",
             cluster="youth_id")
    row = ag.to_frame().set_index("term").loc["specialized"]
    assert row["hr_ci_low"] <= truth["episodes"]["true_rate_ratio"] <= row["hr_ci_high"]
    assert ag.robust_se is not None and ag.n_clusters == 400


def test_the_mean_cumulative_function_covers_the_truth(intervals, truth):
    t = truth["episodes"]
    mcf = mean_cumulative_function(intervals, "start", "stop", "event", "youth_id",
                                   group="specialized").at(t["mcf_days"])
    for g, name in ((0, "usual_care"), (1, "specialized")):
        rows = mcf[mcf["group"].astype(int) == g]
        for day, lo, hi in zip(rows["time"], rows["ci_low"], rows["ci_high"], strict=True):
            assert lo <= t[f"mcf_{name}_day{int(day)}"] <= hi, (name, day)
    assert np.all(np.diff(mcf[mcf["group"].astype(int) == 0]["mcf"]) > 0)

"""The survival template's ``episodes`` block: config rules, the runner's checks and the report.

The report's rate ratio and mean cumulative numbers are checked against R on the sample
(tests/reference/recurrent_switch_reference.R: tmerge, coxph(cluster =), survfit(id =)) and
against the sample's documented truth (data/sample/truth.json "episodes").
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import EVALUATIONS, REFERENCE, SAMPLE, sample_config

from evalkit.exceptions import ConfigError
from evalkit.report import resultsdoc
from evalkit.report.episodes import EpisodeFindings
from evalkit.run import run_evaluation
from evalkit.run.config import load_config
from evalkit.survival import cox, episode_data, mean_cumulative_function

SPEC = {"entry": "entry_day", "exit": "exit_day", "day": "runaway_day",
        "change": "placement_change_day"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    reports = tmp_path_factory.mktemp("reports")
    outcome = run_evaluation(EVALUATIONS / "runaway-episodes.yaml", reports)
    assert outcome.ok, outcome.message
    folder = reports / "runaway-episodes"
    return resultsdoc.read(folder / "results.json"), (folder / "report.html").read_text()


def test_the_report_equals_r_on_the_sample(run):
    doc, _ = run
    ag = pd.read_csv(REFERENCE / "recurrent_switch_ag_R.csv").set_index("term")
    h = doc["headline"]
    assert h["units"] == "rate ratio" and h["effect_size"]["name"] == "rate_ratio"
    assert h["estimate"] == pytest.approx(math.exp(ag.loc["specialized", "coef"]), rel=1e-9)
    assert h["ci_low"] == pytest.approx(ag.loc["specialized", "lower"], rel=1e-8)
    assert h["ci_high"] == pytest.approx(ag.loc["specialized", "upper"], rel=1e-8)
    mcf = pd.read_csv(REFERENCE / "recurrent_switch_mcf_R.csv")
    got = doc["checks"]["episodes"]["mean_cumulative"]
    names = {0: "usual care", 1: "specialized placement"}
    for g, t, v in zip(mcf["group"], mcf["time"], mcf["cumhaz"], strict=True):
        (row,) = [r for r in got if r["group"] == names[g] and r["time"] == t]
        assert row["estimate"] == pytest.approx(v, rel=1e-12)


def test_the_report_covers_the_documented_truth(run, truth):
    doc, _ = run
    t = truth["episodes"]
    h = doc["headline"]
    assert h["ci_low"] <= t["true_rate_ratio"] <= h["ci_high"]
    for r in doc["checks"]["episodes"]["mean_cumulative"]:
        name = "specialized" if r["group"] == "specialized placement" else "usual_care"
        assert r["ci_low"] <= t[f"mcf_{name}_day{int(r['time'])}"] <= r["ci_high"]


def test_the_report_reads_as_one_report(run):
    doc, html = run
    # 2.2 and 3.4: R's survfit cumhaz at day 365 (recurrent_switch_mcf_R.csv: 2.198, 3.371)
    assert doc["finding"].startswith("By 365 days after entry, youth in specialized placement "
                                     "had 2.2 runaways on average, against 3.4 in usual care.")
    assert "adjusting for age and for a placement change during follow-up" in doc["finding"]
    for text in ("Rate ratio of all runaways (Andersen–Gill)", "Mean number of runaways per "
                 "youth", "After a placement change", "The first of the runaways",
                 "Cox regression, time to the first of the runaways"):
        assert text in html, text
    # At a glance counts youth, and those who had any runaway (not runaways: there are more)
    episodes = pd.read_csv(SAMPLE / "runaway_episodes.csv")
    youth = episodes["youth_id"].nunique()
    ran = episodes.loc[episodes["runaway_day"].notna(), "youth_id"].nunique()
    assert ran < episodes["runaway_day"].notna().sum()
    assert f"{youth:,} ({ran:,} with any runaways)" in html
    # the time to the first runaway is still reported in full
    assert any(e["term"] == "specialized" for e in doc["estimates"])
    assert not any("RRE-" in str(v) for v in doc.values())


def test_the_first_episode_is_the_first_interval_that_ends_in_one():
    d = pd.read_csv(SAMPLE / "runaway_episodes.csv")
    ep = episode_data(d, "youth_id", SPEC, group="specialized", covariates=["age"])
    first = ep.first.set_index("youth_id")
    by_hand = d.groupby("youth_id").agg(entry=("entry_day", "first"), exit=("exit_day", "first"),
                                        run=("runaway_day", "min"))
    wait = by_hand["run"].fillna(by_hand["exit"]) - by_hand["entry"]
    np.testing.assert_array_equal(first.loc[by_hand.index, "time_to_first"], wait)
    np.testing.assert_array_equal(first.loc[by_hand.index, "first_episode"],
                                  by_hand["run"].notna().astype(int))
    assert ep.n_youth == 400 and ep.change == "after_change"


# -- config rules ------------------------------------------------------------------------------

def _problems(path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value.problems


def test_defaults_are_filled_in(tmp_path):
    eps = {"entry": "entry_day", "exit": "exit_day", "day": "runaway_day"}
    cfg = load_config(sample_config(tmp_path, "runaway-episodes", episodes=eps))
    assert cfg.parameters["episodes"] == {**eps, "days": [30, 90, 180], "label": "episodes",
                                          "change": None, "change_label": "the change"}


@pytest.mark.parametrize("change, message", [
    ({"duration": "days"}, "'parameters.duration' cannot be used with 'parameters.episodes'"),
    ({"event_type": "why"}, "competing exits are not analysed with repeated episodes"),
    ({"adjust": {"covariates": ["age"]}}, "'parameters.adjust' cannot be used with"),
    ({"episodes": {"entry": "entry_day", "exit": "exit_day"}},
     "missing required key 'parameters.episodes.day'"),
    ({"episodes": {**SPEC, "dya": [1]}}, "unknown key 'parameters.episodes.dya'"),
    ({"episodes": {**SPEC, "days": [0, 90]}}, "'parameters.episodes.days' must be a list of "
                                              "positive times"),
    ({"episodes": {**SPEC, "exit": 7}}, "'parameters.episodes.exit' must be a column name"),
    ({"episodes": None}, "missing required key 'parameters.duration' (time from entry to the "
                         "event or the end of follow-up), needed unless 'parameters.episodes' "
                         "is given"),
])
def test_config_problems_are_named(tmp_path, change, message):
    problems = _problems(sample_config(tmp_path, "runaway-episodes", **change))
    assert any(message in p for p in problems), problems


def test_a_typo_in_an_episodes_key_gets_a_suggestion(tmp_path):
    problems = _problems(sample_config(tmp_path, "runaway-episodes",
                                       episodes={**SPEC, "chnage_label": "x"}))
    assert any("did you mean 'change_label'" in p for p in problems), problems


# -- the runner's checks -----------------------------------------------------------------------

def test_bad_episodes_fail_naming_file_rows_and_no_id(tmp_path):
    d = pd.read_csv(SAMPLE / "runaway_episodes.csv")
    d.loc[3, "runaway_day"] = d.loc[3, "entry_day"] - 1  # an episode before entry
    data = tmp_path / "eps.csv"
    d.to_csv(data, index=False)
    bad = sample_config(tmp_path, "runaway-episodes", "bad", data=data)
    out = run_evaluation(bad, tmp_path / "reports")
    assert not out.ok and out.stage == "data"
    assert "eps.csv" in out.message and "line 5" in out.message
    assert "an episode at or before entry (1 youth)" in out.message
    assert d.loc[3, "youth_id"] not in out.message
    assert not (tmp_path / "reports" / "bad").exists()


def test_days_beyond_follow_up_are_refused_before_the_notebook(tmp_path):
    path = sample_config(tmp_path, "runaway-episodes", episodes={**SPEC, "days": [90, 400]})
    out = run_evaluation(path, tmp_path / "reports")
    assert not out.ok and out.stage == "data"
    assert "parameters.episodes.days" in out.message and "400 days" in out.message


# -- privacy -----------------------------------------------------------------------------------

def _findings(rows: pd.DataFrame, threshold: int, days=(5, 50)) -> EpisodeFindings:
    mcf = mean_cumulative_function(rows, "start", "stop", "event", "id", group="g")
    rate = cox(rows, "stop", "event", ["g"], start="start", cluster="id")
    return EpisodeFindings(rows, mcf, rate, id="id", group="g", days=list(days),
                           label="runaways", threshold=threshold)


def _small(n: int = 30, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    recs = []
    for i in range(n):
        g, t, k = i % 2, 0.0, 1
        end = float(rng.integers(20, 60))
        while True:
            gap = float(rng.integers(1, 30))
            if t + gap >= end:
                recs.append((f"y{i}", t, end, 0, k, g))
                break
            recs.append((f"y{i}", t, t + gap, 1, k, g))
            t, k = t + gap, k + 1
    return pd.DataFrame(recs, columns=["id", "start", "stop", "event", "episode", "g"])


def test_a_mean_is_withheld_where_few_youth_remain_or_few_episodes_were_seen():
    rows = _small()
    f = _findings(rows, threshold=11)
    at = f.mcf_at()
    for _, r in at.iterrows():
        grp = rows[rows["g"] == float(r["group"])]
        k = grp.loc[grp["stop"] <= r["time"], "event"].sum()
        expect = r["n_risk"] >= 11 and (k == 0 or k >= 11)
        assert bool(r["shown"]) == bool(expect)
    assert not at["shown"].all()  # day 50: fewer than 11 youth of 15 still followed
    doc = f.results()
    hidden = [m for m in doc["mean_cumulative"] if m["estimate"] is None]
    assert hidden and all(m["ci_low"] is None for m in hidden)
    html = f.findings_html()
    assert "suppressed" in html
    # every mean at the last day (50) is withheld here: the headline says so, with no number
    assert f.headline().startswith("The mean number of runaways by 50 days is withheld")


def test_a_small_count_of_episodes_is_not_printed():
    rows = _small()
    rows.loc[rows["g"] == 1, "event"] = 0
    rows.loc[rows.index[(rows["g"] == 1)][:3], "event"] = 1  # 3 episodes in group 1
    f = _findings(rows, threshold=11, days=(5,))
    text = f.data_text()
    assert "fewer than 11 runaways" in text and " 3 runaways" not in text


def test_a_change_no_youth_crosses_is_refused_naming_its_column(tmp_path):
    from evalkit.data import load
    from evalkit.exceptions import EvalDataError
    from evalkit.survival import episode_columns

    d = pd.read_csv(SAMPLE / "runaway_episodes.csv").assign(placement_change_day=0)
    path = tmp_path / "changed.csv"
    d.to_csv(path, index=False)
    data = load(path, episode_columns("youth_id", SPEC, group="specialized"))
    with pytest.raises(EvalDataError, match=r"changed.csv: column 'placement_change_day': "
                                            r"every youth is after the change throughout"):
        episode_data(data, "youth_id", SPEC, group="specialized")

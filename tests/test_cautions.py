"""Cautions: one convention on every result, printed by reports, read by the evidence rating."""

from __future__ import annotations

import dataclasses
import json
import pickle

import numpy as np
import pandas as pd
import pytest

from evalkit.methods.prepost import paired_change
from evalkit.privacy import redact_small_counts
from evalkit.report import Outcome, PrePostReport, resultsdoc
from evalkit.report.common import collect_cautions
from evalkit.report.evidence import RATINGS, rate
from evalkit.results import Caution, limiting, merge_cautions


def _frame(n: int = 60, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pre = rng.normal(40, 10, n).round()
    return pd.DataFrame({"case_id": [f"C-{i:05d}" for i in range(n)], "pre": pre,
                         "post": (pre + rng.normal(-4, 5, n)).round()})


def test_every_result_accepts_cautions_and_shows_them():
    res = paired_change(_frame(), pre="pre", post="post")
    flagged = dataclasses.replace(res, cautions=("Scores were rounded.",))
    assert flagged.cautions == ("Scores were rounded.",)
    assert "Cautions:" in flagged.summary() and "Scores were rounded." in flagged.summary()
    assert "Scores were rounded." in flagged._repr_html_()
    assert flagged.to_dict()["cautions"] == ["Scores were rounded."]
    assert json.dumps(flagged.to_dict()["cautions"]) == '["Scores were rounded."]'


def test_cautions_merge_in_order_once_and_keep_whether_they_limit():
    a = Caution("Few clusters.", limits=True)
    b = Caution("A cohort is small.", limits=False)
    merged = merge_cautions([a, b], "Few clusters.", ["", b])
    assert merged == ("Few clusters.", "A cohort is small.")
    assert [c.limits for c in merged] == [True, False]
    # the same text given as informative and as limiting is kept once, as limiting
    assert merge_cautions(b, "A cohort is small.")[0].limits is True
    assert limiting([a, b, "plain text limits"]) == ("Few clusters.", "plain text limits")
    back = pickle.loads(pickle.dumps(b))  # results cross worker processes
    assert back == b and back.limits is False


def test_limiting_cautions_lower_the_rating_and_lead_the_reasons():
    checks = {"pretest_p": 0.6}
    plain = rate("staggered_did", checks)
    assert plain["rating"] == "meets_with_reservations"
    informative = rate("staggered_did", checks, [Caution("A cohort is small.", limits=False)])
    assert informative == plain
    lowered = rate("staggered_did", checks, ["Only 3 clusters: the interval may be too narrow."])
    assert lowered["rating"] == "limited" and lowered["label"] == RATINGS["limited"]
    assert lowered["reasons"][0] == "Only 3 clusters: the interval may be too narrow."
    assert any(RATINGS["meets_with_reservations"] in r for r in lowered["reasons"])
    # flagged and descriptive results keep their rating; the caution joins the reasons
    flagged = rate("staggered_did", {"pretest_p": 0.01}, ["Few clusters."])
    assert flagged["rating"] == "flagged" and flagged["reasons"][-1] == "Few clusters."
    one = rate("one_group_prepost", {}, ["Few clusters."])
    assert one["rating"] == "descriptive" and "Few clusters." in one["reasons"]
    surv = rate("time_to_event_comparison", {"ph_holds": True}, ["Few clusters."])
    assert surv["rating"] == "limited"


@pytest.mark.parametrize("text, expected", [
    ("3 youth had no second score.", "Fewer than 11 youth had no second score."),
    ("n = 7, in 2 sites", "n = fewer than 11, in 2 sites"),
    ("Only 1 of the 4 pairs changed.", "Only fewer than 11 of the fewer than 11 pairs changed."),
    ("95% level, 87.5% achieved, 1,000 draws, 12 youth", "95% level, 87.5% achieved, "
                                                        "1,000 draws, 12 youth"),
    ("0 events in the comparison group", "0 events in the comparison group"),
    ("cohorts of 2-5 states; 3 clusters; 4 degrees of freedom",
     "cohorts of 2-5 states; 3 clusters; 4 degrees of freedom"),
])
def test_small_counts_of_people_are_redacted_from_cautions(text, expected):
    assert redact_small_counts(text, 11) == expected


def test_reports_print_redacted_cautions_everywhere_and_rate_with_them():
    df = _frame()
    res = paired_change(df, pre="pre", post="post")
    res = dataclasses.replace(res, cautions=(
        Caution("4 youth had scores outside the usual range.", limits=True),
        Caution("The normal approximation was used.", limits=False)))
    rep = PrePostReport(df, res, Outcome("symptom score", lower_is_better=True), threshold=11)
    assert rep.cautions() == ("Fewer than 11 youth had scores outside the usual range.",
                              "The normal approximation was used.")
    html = rep.checks().html
    assert "What the estimators flagged" in html
    assert "Fewer than 11 youth had scores outside" in html and ">4 youth" not in html
    lims = rep.limitation_list()
    assert "Fewer than 11 youth had scores outside the usual range." in lims
    assert "The normal approximation was used." not in lims  # informs, does not limit
    doc = rep.results_document()
    assert doc["cautions"] == list(rep.cautions())
    assert resultsdoc.problems(doc, partial=True) == []
    assert "4 youth" not in json.dumps(doc)


def test_collect_cautions_skips_missing_results_and_keeps_the_headline_first():
    a = paired_change(_frame(), pre="pre", post="post")
    a = dataclasses.replace(a, cautions=("first",))
    b = dataclasses.replace(a, cautions=("second", "first"))
    assert collect_cautions([a, None, b]) == ("first", "second")


def test_results_document_rejects_malformed_cautions():
    doc = {"schema_version": 1, "cautions": "not a list"}
    assert "'cautions' must be a list of strings" in resultsdoc.problems(doc, partial=True)


@pytest.mark.parametrize("text, expected", [
    # an upper bound below the threshold is raised to it, never doubled
    ("Few events (fewer than 5): rough.", "Few events (fewer than 11): rough."),
    ("a cell with fewer than 5 youth", "a cell with fewer than 11 youth"),
    # a lower bound is left as it is: raising it would make it false
    ("at least 3 pairs changed", "at least 3 pairs changed"),
])
def test_bounds_are_raised_to_the_threshold_not_redacted_twice(text, expected):
    assert redact_small_counts(text, 11) == expected


def test_a_range_of_sizes_is_not_a_count():
    assert redact_small_counts("covered 92% with 10 to 20 youth", 11) == (
        "covered 92% with 10 to 20 youth")

"""evalkit.report: wording, suppression and the results document of a pre-post report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.methods.prepost import paired_change
from evalkit.privacy import SUPPRESSED
from evalkit.report import Outcome, PrePostReport, resultsdoc
from evalkit.report.evidence import rate


def _data(n: int, lost: int, change: float, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pre = rng.normal(40, 10, n).round()
    post = (pre + rng.normal(change, 5, n)).round()
    post[:lost] = np.nan
    return pd.DataFrame({"case_id": [f"X-{i:05d}" for i in range(n)], "pre": pre, "post": post})


def _report(df: pd.DataFrame, threshold: int = 11) -> PrePostReport:
    return PrePostReport(df, paired_change(df, pre="pre", post="post"),
                         Outcome("symptom score", lower_is_better=True, pre_label="intake",
                                 post_label="six months"), threshold=threshold)


def test_headline_words_direction_and_the_design_limit():
    down = _report(_data(80, 10, -6.0))
    assert down.headline().startswith("Average symptom score fell by")
    assert "cannot be attributed to the program" in down.headline()
    flat = _report(_data(80, 10, 0.0, seed=3))
    assert flat.change.ci_low < 0 < flat.change.ci_high
    assert flat.headline().startswith("Average symptom score did not change clearly")


def test_small_counts_are_suppressed_in_the_data_section_and_results():
    rep = _report(_data(60, 4, -5.0))  # 4 lost to follow-up: below 11
    html = rep.data_section().html
    assert SUPPRESSED in html and ">4<" not in html
    doc = rep.results_document()
    assert doc["sample"]["lost_to_follow_up"] is None
    # complementary suppression hides the total, not the 56 analysed: the t-test's degrees of
    # freedom give the analysed n away, and 60 − 56 would then give the 4
    assert doc["sample"]["measured_twice"] == 56
    assert doc["sample"]["enrolled"] is None
    assert {"lost_to_follow_up", "enrolled"} <= set(doc["suppressed"])
    assert "7%" not in " ".join(doc["evidence"]["reasons"])
    assert "4 youth" not in rep.checks().html and "7%" not in rep.glance().html


def test_too_few_completers_withholds_estimates():
    rep = _report(_data(20, 12, -5.0), threshold=11)  # 8 measured twice
    assert not rep.reportable
    assert "results are withheld" in rep.headline()
    doc = rep.results_document()
    assert doc["headline"]["estimate"] is None and doc["headline"]["suppressed"] is True
    assert doc["estimates"] == []
    assert "<img" not in rep.findings().html


def test_results_document_is_well_formed_and_json_safe(tmp_path):
    rep = _report(_data(80, 20, -4.0))
    doc = rep.results_document()
    assert resultsdoc.problems(doc, partial=True) == []
    path = tmp_path / "r.json"
    resultsdoc.write(path, doc)
    back = resultsdoc.read(path)
    assert back["headline"]["estimate"] == pytest.approx(rep.change.mean_diff)
    full = resultsdoc.finalize(back, slug="s", title="t", program="p", template="prepost",
                               status="ok")
    assert resultsdoc.problems(full) == []
    assert "missing 'slug'" in resultsdoc.problems(back)


def test_every_figure_has_alt_text():
    from evalkit.report import figure_block, new_figure

    fig, _ = new_figure()
    with pytest.raises(ValueError, match="alt text"):
        figure_block(fig, alt=" ")


def test_prepost_evidence_rule():
    r = rate("one_group_prepost", {"attrition": 0.3})
    assert r["rating"] == "descriptive" and "30%" in " ".join(r["reasons"])
    with pytest.raises(ValueError, match="no evidence rule"):
        rate("astrology", {})


@pytest.mark.parametrize("design, checks, rating", [
    ("one_group_prepost", {"attrition": 0.1}, "descriptive"),
    ("comparison_group_prepost", {"baseline_status": "not satisfied", "baseline_g": 0.3},
     "flagged"),
    ("comparison_group_prepost", {"baseline_status": "satisfied with adjustment",
                                  "baseline_g": 0.1, "low_attrition": False},
     "meets_with_reservations"),
    ("comparison_group_prepost", {"baseline_status": "satisfied", "baseline_g": 0.01},
     "meets_with_reservations"),
    ("staggered_did", {"pretest_p": 0.01}, "flagged"),
    ("staggered_did", {"pretest_p": 0.4}, "meets_with_reservations"),
    ("time_to_event_comparison", {"ph_holds": False}, "comparison_unverified"),
])
def test_every_row_of_the_evidence_rule_table(design, checks, rating):
    r = rate(design, checks)
    assert r["rating"] == rating and r["reasons"]
    if rating == "flagged":
        assert "differed" in r["reasons"][0]
    if checks.get("low_attrition") is False:
        assert any("high under the WWC" in x for x in r["reasons"])
    if checks.get("ph_holds") is False:
        assert any("restricted mean" in x for x in r["reasons"])


def test_wide_appendix_tables_are_split_so_nothing_runs_off_the_page():
    from evalkit.report.common import APPENDIX_COLUMNS, appendix_block

    frame = pd.DataFrame({"term": ["a", "b"], **{f"c{i}": [1.0, 2.0] for i in range(12)}})
    html = appendix_block(results=[("Wide", frame)], options={}).html
    tables = html.split("<table")[1:]
    assert len(tables) == 2 and "Wide (continued)" in tables[1]
    for t in tables:
        header = t.split("</thead>")[0]
        assert header.count("<th scope") <= APPENDIX_COLUMNS and "<th scope='col'>term</th>" in header
    assert all(f">c{i}<" in html for i in range(12))  # every column is still shown

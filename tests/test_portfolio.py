"""evalkit.portfolio: collect results documents and build the index from any folder."""

from __future__ import annotations

import json
import re

import pytest

from evalkit import portfolio


def _doc(slug: str, estimate: float | None) -> dict:
    return {
        "schema_version": 1, "slug": slug, "title": f"T {slug}", "program": "P",
        "template": "prepost", "status": "ok", "generated_at": "2026-01-02T00:00:00+00:00",
        "design": {"code": "one_group_prepost", "label": "Pre-post"},
        "outcome": {"name": "y", "label": "score", "units": "points", "lower_is_better": True},
        "headline": {"estimand": "mean change", "estimate": estimate, "ci_low": -2.0,
                     "ci_high": 1.0, "alpha": 0.05, "p_value": 0.2, "n": 40,
                     "units": "points", "suppressed": False,
                     "effect_size": {"name": "hedges_g_av", "estimate": -0.1, "ci_low": -0.3,
                                     "ci_high": 0.1}},
        "estimates": [], "sample": {}, "suppressed": [], "finding": "f",
        "evidence": {"rating": "descriptive", "label": "Descriptive", "reasons": []},
        "limitations": [],
    }


def test_collect_table_and_index(tmp_path):
    for slug, est in (("b-prog", -0.5), ("a-prog", None)):
        (tmp_path / slug).mkdir()
        (tmp_path / slug / "results.json").write_text(json.dumps(_doc(slug, est)))
    (tmp_path / "_failed").mkdir()
    docs = portfolio.collect(tmp_path)
    assert [d["slug"] for d in docs] == ["a-prog", "b-prog"]
    t = portfolio.table(docs)
    assert list(t["slug"]) == ["a-prog", "b-prog"] and t.loc[1, "estimate"] == -0.5
    runs = {"b-prog": {"status": "failed"}, "c-prog": {"status": "failed"}}
    out = portfolio.write_index(tmp_path, runs)
    html = out.read_text()
    assert "href='a-prog/report.html'" in html and "href='b-prog/report.html'" in html
    assert "latest run failed — showing the report of 2026-01-02" in html
    assert "c-prog" in html and "failed — no report yet" in html
    assert "suppressed" in html  # a-prog's estimate is withheld
    assert "3 evaluation(s), 2 failed in the latest run" in html


def test_programs_sharing_a_domain_and_design_are_pooled(tmp_path):
    from evalkit.methods.meta import meta_analysis

    docs = []
    for slug, g, lo, hi, design in (("a", -0.6, -0.8, -0.4, "one_group_prepost"),
                                    ("b", -0.2, -0.35, -0.05, "one_group_prepost"),
                                    ("c", -0.5, -0.8, -0.2, "comparison_group_prepost")):
        d = _doc(slug, -1.0)
        d["design"]["code"] = design
        d["outcome"]["domain"] = "trauma symptoms"
        d["headline"]["effect_size"] = {"name": "hedges_g_av", "estimate": g, "ci_low": lo,
                                        "ci_high": hi}
        docs.append(d)
    eff = portfolio.standardized(docs)
    # the SE is recovered from the symmetric 95% CI
    assert eff.set_index("slug").loc["a", "se"] == pytest.approx(0.2 / 1.959963984540054)
    pools = portfolio.pooled(docs)
    assert len(pools) == 1 and pools[0]["design"] == "one_group_prepost"
    se = eff.set_index("slug").loc[["a", "b"], "se"]
    direct = meta_analysis([-0.6, -0.2], se.to_numpy() ** 2)
    assert pools[0]["result"].estimate == pytest.approx(direct.estimate)
    html = portfolio.index_html(docs)
    assert "Programs pooled by outcome domain" in html and "data:image/png;base64" in html


def test_the_index_escapes_text_as_reports_do():
    d = _doc("x'y", -0.5)
    d["title"] = "A <b>'new'</b> & \"tested\" program"
    page = portfolio.index_html([d], {"x'y": {"status": "ok"}})
    assert "<b>" not in page
    assert "A &lt;b&gt;&#x27;new&#x27;&lt;/b&gt; &amp; &quot;tested&quot; program" in page
    assert "href='x&#x27;y/report.html'" in page


def test_the_index_is_one_line_of_html_outside_its_style_and_script():
    docs = [_doc("a", -0.5), _doc("b", None)]
    docs[0]["headline"]["percent_change"] = {"estimate": -0.1, "ci_low": -0.2, "ci_high": 0.0}
    page = portfolio.index_html(docs, {"a": {"status": "failed"}, "c": {"status": "failed"}})
    outside = re.sub(r"<style>.*?</style>|<script>.*?</script>", "", page, flags=re.S)
    assert "\n" not in outside and outside.startswith("<!DOCTYPE html>")
    assert "−10% change (−20% to 0%)" in page
    assert outside.split("</table>")[0].count("<tr>") == 4  # heading, three evaluations


def test_a_hazard_ratio_headline_is_not_printed_twice(tmp_path):
    """A survival headline is its own effect size: the index shows it once; a mean change
    keeps its standardized effect (Hedges' g) beneath."""
    hr = {"estimate": 0.62, "ci_low": 0.51, "ci_high": 0.76}
    surv = _doc("surv", 0.62)
    surv["headline"].update(hr, units="hazard ratio",
                            effect_size={"name": "hazard_ratio", **hr})
    for slug, doc in (("surv", surv), ("pre", _doc("pre", -0.5))):
        (tmp_path / slug).mkdir()
        (tmp_path / slug / "results.json").write_text(json.dumps(doc))
    html = portfolio.write_index(tmp_path, {}).read_text()
    table = html.split("</table>")[0]  # (the ratio forest plot's text description repeats it)
    assert table.count("0.51 to 0.76") == 1 and "HR =" not in html
    assert "g = −0.10" in html or "g = -0.10" in html


def test_the_n_column_says_what_each_n_counts_and_sorts_by_the_number():
    docs = []
    for slug, n, unit in (("a-youth", 1234, "youth"), ("b-months", 84, "months"),
                          ("c-old", 40, None)):
        d = _doc(slug, -0.5)
        d["headline"]["n"] = n
        if unit:
            d["headline"]["n_unit"] = unit
        docs.append(d)
    html = portfolio.index_html(docs)
    assert "<td class='num' data-sort='1234'>1,234 youth</td>" in html
    assert "<td class='num' data-sort='84'>84 months</td>" in html
    # a results document written before n_unit existed shows the bare number
    assert "<td class='num' data-sort='40'>40</td>" in html
    units = portfolio.table(docs)["n_unit"]
    assert list(units[:2]) == ["youth", "months"] and units.isna().iloc[2]


def test_hazard_and_rate_ratios_get_their_own_forest_plot_and_nothing_is_pooled():
    docs = []
    for slug, name, est in (("surv", "hazard_ratio", (0.62, 0.51, 0.76)),
                            ("episodes", "rate_ratio", (0.66, 0.55, 0.79))):
        d = _doc(slug, est[0])
        d["outcome"]["domain"] = "placement stability"
        d["headline"].update(estimate=est[0], ci_low=est[1], ci_high=est[2],
                             effect_size={"name": name, "estimate": est[0], "ci_low": est[1],
                                          "ci_high": est[2]})
        docs.append(d)
    html = portfolio.index_html(docs)
    assert "<h2>Hazard and rate ratios</h2>" in html
    assert "placement stability: T surv (HR) 0.62 (0.51 to 0.76)" in html
    assert "placement stability: T episodes (RR) 0.66 (0.55 to 0.79)" in html
    # no standardized effect in this portfolio: no empty section for them, and no pooling
    assert "Standardized effects" not in html and "Programs pooled" not in html
    # with a g beside them, both sections
    both = portfolio.index_html([*docs, _doc("pre", -0.5)])
    assert "<h2>Standardized effects</h2>" in both and "<h2>Hazard and rate ratios</h2>" in both

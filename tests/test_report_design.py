"""Words that must not mislead: the design stated, the randomized evidence rules, population
and column labels, the proportional-hazards checks, the index's precision and figures whose
text is never cut off."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE, SAMPLE

from evalkit import portfolio
from evalkit.report import figures
from evalkit.report.evidence import rate
from evalkit.report.survival import SurvivalReport
from evalkit.results import Caution
from evalkit.survival import cox, kaplan_meier, logrank, ph_test, rmst

LONG = ("number of homicides, robberies and aggravated assaults reported to the police per "
        "100,000 residents")


# -- evidence rules of randomized designs ------------------------------------------------------

@pytest.mark.parametrize("checks, rating", [
    ({"low_attrition": True, "baseline_status": "not satisfied"}, "meets_standards"),
    ({"low_attrition": False, "baseline_status": "satisfied"}, "meets_with_reservations"),
    ({"low_attrition": False, "baseline_status": "satisfied with adjustment"},
     "meets_with_reservations"),
    ({"low_attrition": False, "baseline_status": "not satisfied", "baseline_g": 0.4},
     "flagged"),
    ({"low_attrition": None}, "meets_with_reservations"),
])
def test_randomized_prepost_is_rated_by_attrition_against_the_wwc_boundary(checks, rating):
    out = rate("randomized_prepost", {**checks, "arms": "the program or the waiting list"})
    assert out["rating"] == rating
    assert out["reasons"][0 if rating != "flagged" else 1] == (
        "Youth were assigned to the program or the waiting list at random.")


def test_randomized_time_to_event_meets_standards_unless_cautions_limit_it():
    out = rate("randomized_time_to_event", {"ph_holds": True, "arms": "aid or no aid"})
    assert out["rating"] == "meets_standards"
    assert "attrition as the WWC boundary measures it does not arise" in out["reasons"][1]
    limited = rate("randomized_time_to_event", {}, [Caution("Few events.", limits=True)])
    assert limited["rating"] == "limited"
    assert rate("randomized_time_to_event", {},
                [Caution("Informative.", limits=False)])["rating"] == "meets_standards"


def test_the_readme_rule_table_has_the_randomized_rows():
    from conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    for code in ("randomized_prepost", "randomized_time_to_event"):
        assert code in readme


# -- survival: Rossi, randomized, labels, population, PH checks ----------------------------------

@pytest.fixture(scope="module")
def rossi():
    return pd.read_csv(REFERENCE / "rossi.csv")


def _rossi_report(d, ph=None, **kw) -> SurvivalReport:
    fit = cox(d, "week", "arrest", ["fin", "age", "prio"])
    return SurvivalReport(
        d, kaplan_meier(d, "week", "arrest", group="fin"), logrank(d, "week", "arrest", "fin"),
        fit, ph or ph_test(fit), rmst(d, "week", "arrest", "fin", tau=52, order=(0, 1)),
        duration="week", event="arrest", group="fin", program_label="financial aid",
        comparison_label="no financial aid", event_label="were arrested again",
        time_unit="weeks", times=(13, 26, 52), **kw)


def test_a_randomized_survival_report_says_so_everywhere(rossi):
    rep = _rossi_report(rossi, study_design="randomized",
                        population={"singular": "man", "plural": "men"},
                        labels={"prio": "prior convictions", "age": "age at release"})
    assert rep.design()["code"] == "randomized_time_to_event"
    assert rep.evidence()["rating"] == "meets_standards"
    text = " ".join([rep.headline(), rep.method_section().html, rep.findings().html,
                     rep.checks().html, rep.limitations().html, str(rep.evidence())])
    assert "not assigned" not in text and "not formed at random" not in text
    assert "Men were assigned to financial aid or no financial aid at random" in text
    assert "youth" not in text.replace("data:image", "")[:0] + _words(text)
    assert "prior convictions" in text and ">prio<" not in text
    # the same data without the design key keep today's wording
    old = _rossi_report(rossi)
    assert old.design()["code"] == "time_to_event_comparison"
    assert "Youth were not assigned to financial aid at random" in " ".join(
        old.limitation_list())


def _words(html: str) -> str:
    import re

    html = re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+", "", html)
    return " ".join(re.findall(r"[A-Za-z]+", re.sub(r"<[^>]+>", " ", html))).lower()


def test_checks_name_every_covariate_whose_hazard_ratio_changes(rossi):
    rep = _rossi_report(rossi, labels={"age": "age at release"})
    # R cox.zph (km transform): fin p = 0.80, age p = 0.012, prio p = 0.47, global p = 0.068
    t = rep.ph.table.set_index("term")["p_value"]
    assert t["age"] == pytest.approx(0.0119, abs=5e-4) and rep.ph.global_p > 0.05
    verdict = rep.ph_verdict()
    assert "age at release (p = 0.012)" in verdict and "changes over time" in verdict
    assert "look constant" not in rep.checks().html
    assert rep.ph_holds and "program's single hazard ratio is kept" in verdict
    assert rep.results_document()["checks"]["proportional_hazards"]["failing_terms"] == [
        "age at release"]


def test_the_program_terms_own_test_decides_the_headline(rossi):
    fit = cox(rossi, "week", "arrest", ["fin", "age", "prio"])
    ph = ph_test(fit)
    table = ph.table.copy()
    table.loc[table["term"] == "fin", "p_value"] = 0.01  # the program's effect changes
    rep = _rossi_report(rossi, ph=dataclasses.replace(ph, table=table))
    assert not rep.ph_holds and rep.headline_result() is rep.rmst
    assert "restricted mean" in rep.ph_verdict() and "program's own test" in rep.ph_verdict()
    assert "the program's hazard ratio did not stay constant" in rep.headline()
    assert "financial aid (p = 0.010)" in rep.ph_verdict()


def test_survival_headline_says_whether_the_change_is_desired(rossi):
    rep = _rossi_report(rossi)
    assert rep.headline().endswith("no clear change in either direction.")
    worse = _rossi_report(rossi, lower_is_better=False)
    assert worse.headline().endswith("no clear change in either direction.")


# -- pre-post: randomized, population, log outcomes ---------------------------------------------

def _prepost(**kw):
    from evalkit import prepost
    from evalkit.report import Outcome, PrePostReport

    d = pd.read_csv(SAMPLE / "lifeskills_waitlist.csv")
    prog = d[d["in_program"] == 1]
    return PrePostReport(
        d, prepost.paired_change(prog, pre="ts_intake", post="ts_6mo"),
        Outcome("trauma symptom score", lower_is_better=True, post_label="six months"),
        comparison=prepost.compare_groups(d, "ts_intake", "ts_6mo", "in_program",
                                          covariates=["age"], lower_is_better=True),
        attrition=prepost.attrition(d, "ts_intake", "ts_6mo", group="in_program"),
        group="in_program", comparison_label="waiting list", **kw)


def test_a_randomized_prepost_report_states_the_design():
    rep = _prepost(study_design="randomized", population="participants",
                   labels={"age": "age at intake"})
    assert rep.design()["code"] == "randomized_prepost"
    text = " ".join([rep.headline(), rep.method_section().html, rep.limitations().html])
    assert "assigned at random to the program or to the waiting list" in text
    assert "not assigned at random" not in text and "youth" not in _words(text)
    assert "age at intake" in text
    # high attrition (26%, cautious boundary) and baseline g = 0.22: with reservations
    assert rep.evidence()["rating"] == "meets_with_reservations"
    assert rep.headline().count("a desired change") == 1
    with pytest.raises(ValueError, match="does not fit"):
        _prepost(study_design="one group")


def test_a_log_outcome_is_also_a_percentage_change():
    rep = _prepost(outcome_scale="log")
    k = rep.comparison
    pct = np.expm1([k.estimate, k.ci_low, k.ci_high])
    assert f"about {abs(100 * pct[0]):.0f}%" in rep.headline()
    doc = rep.results_document()
    assert doc["headline"]["percent_change"]["estimate"] == pytest.approx(pct[0])
    assert doc["headline"]["scale"] == "log" and doc["headline"]["digits"] == 1


# -- the index uses the report's precision ------------------------------------------------------

def _doc(**headline):
    base = {"estimand": "e", "estimate": 0.1104, "ci_low": 0.0345, "ci_high": 0.1863,
            "alpha": 0.05, "p_value": 0.004, "n": 50, "units": "log points",
            "effect_size": None, "suppressed": False}
    return {"slug": "castle", "title": "Castle", "program": "p", "headline": {**base, **headline},
            "outcome": {"label": "homicides"}, "design": {"label": "d"},
            "evidence": {"label": "Flagged"}}


def test_the_index_shows_the_precision_the_report_used():
    page = portfolio.index_html([_doc(digits=2, percent_change={
        "estimate": 0.1167, "ci_low": 0.0351, "ci_high": 0.2048})])
    assert "0.11 log points (0.03 to 0.19)" in page and "0.1 log points" not in page
    assert "12% change (4% to 20%)" in page
    # documents written before digits existed: enough decimals for the interval's width
    assert "0.11 log points (0.03 to 0.19)" in portfolio.index_html([_doc()])
    assert portfolio.headline_digits({"ci_low": -8.0, "ci_high": -3.4}) == 1
    assert portfolio.headline_digits({"units": "hazard ratio"}) == 2


# -- no text is cut off -------------------------------------------------------------------------

def test_the_clipping_check_finds_a_label_that_is_cut_off():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3, 2))
    ax = fig.add_subplot()
    ax.set_ylabel("a label far too long to fit in a small figure of three inches " * 2)
    assert figures.clipped_texts(fig)
    block = figures.figure_block(fig, alt="test")
    assert "data-ek-fit='expanded'" in block.html  # saved to the tight box instead


def test_standard_figures_with_long_labels_cut_no_text():
    frame = pd.DataFrame({"term": ["Financial aid", LONG, "prior convictions in adult court"],
                          "estimate": [0.7, 1.1, 1.3], "ci_low": [0.5, 0.9, 1.1],
                          "ci_high": [1.0, 1.3, 1.5]})
    figs = {"forest": figures.forest_figure(frame, title=f"Hazard ratios: {LONG}",
                                            xlabel=f"Hazard ratio (log scale): {LONG}")}
    summary = pd.DataFrame({"sample": ["all_pre", "complete_pre", "complete_post"],
                            "n": [100, 80, 80], "mean": [40.0, 41.0, 35.0],
                            "ci_low": [38.0, 39.0, 33.0], "ci_high": [42.0, 43.0, 37.0]})
    figs["prepost"] = figures.prepost_figure(
        summary, np.linspace(-20, 10, 80), mean_change=-6, ci_low=-8, ci_high=-4,
        outcome_label=LONG, pre_label="intake interview", post_label="six-month follow-up",
        lower_is_better=True, confidence=0.95, population=("participant", "participants"))
    g = pd.DataFrame({"group": [1, 1, 0, 0], "time": [0, 1, 0, 1], "n": [80] * 4,
                      "mean": [40, 35, 41, 40], "ci_low": [38, 33, 39, 38],
                      "ci_high": [42, 37, 43, 42]})
    figs["groups"] = figures.groups_figure(
        g, outcome_label=LONG, pre_label="intake", post_label="six months",
        program_label="Program", comparison_label="Waiting list", confidence=0.95)
    figs["categories"] = figures.categories_figure(
        {"Improved": None, "Unchanged": 0.78, "Deteriorated": None},
        title="Reliable change per participant", population="participants")
    figs["km"] = figures.km_figure(
        pd.DataFrame({"group": [1, 1, 0, 0], "time": [1.0, 5.0, 2.0, 6.0], "n_risk": [50] * 4,
                      "surv": [0.9, 0.8, 0.85, 0.7], "ci_low": [0.8, 0.7, 0.75, 0.6],
                      "ci_high": [1.0, 0.9, 0.95, 0.8]}),
        groups={1: "Specialized foster and group placements with trauma-trained caregivers",
                0: "Usual care"}, time_unit="days", ticks=[0, 2, 4, 6],
        at_risk={1: [50, 50, 50, 50], 0: [50, 50, 50, 50]}, confidence=0.95, threshold=11)
    for name, fig in figs.items():
        assert figures.clipped_texts(fig) == [], name


def test_did_figures_and_the_index_forest_plot_cut_no_text():
    from evalkit import did
    from evalkit.report.did import DiDReport

    d = pd.read_csv(SAMPLE / "safe_harbor_panel.csv")
    args = dict(outcome="arrests_per_100k", unit="state", time="year",
                first_treated="first_law_year")
    cs = did.staggered(d, args["outcome"], "state", "year", "first_law_year")
    rep = DiDReport(d, cs, cs.aggregate("simple"), cs.aggregate("dynamic", min_e=-5, max_e=5),
                    did.twfe(d, args["outcome"], "state", "year", "safe_harbor"),
                    did.bacon_decomposition(d, args["outcome"], "state", "year", "safe_harbor"),
                    **args, outcome_label=LONG, units="log points per 100,000 residents")
    for fig in (rep.event_study_figure(), rep.trends_figure()):
        assert figures.clipped_texts(fig) == []
    labels = [f"trauma symptoms: {LONG}", "school: Survivor mentoring — Site B: trauma "
              "symptoms from intake to six months", "x: pooled, comparison-group effects (3)"]
    fig = portfolio.forest_plot(labels, [0.2, -0.4, 0.1], [0.0, -0.7, -0.1], [0.4, -0.1, 0.3])
    assert figures.clipped_texts(fig) == []
    fig = portfolio.forest_plot(labels[:2], [0.62, 1.4], [0.51, 0.9], [0.76, 2.2], ratio=True)
    assert figures.clipped_texts(fig) == []
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert "1" in ticks and "0.5" in ticks and "2" in ticks  # plain numbers on the log scale


def test_a_plural_outcome_takes_a_plural_verb():
    from evalkit.report import Outcome

    rep = _prepost()
    plural = dataclasses.replace(rep, outcome=Outcome("symptom counts", lower_is_better=True))
    assert "symptom counts were measured at" in plural.method_section().html
    assert "trauma symptom score was measured at" in rep.method_section().html


def test_dollar_signs_in_labels_are_text_not_mathtext():
    # a label with "$x$" or "$$" crashed the Findings cell with a mathtext ParseException
    from evalkit.report.figures import figure_block, new_figure

    fig, (ax,) = new_figure(1)
    ax.plot([0, 1], [0, 1], label="cost in $ (2024 $$) and $x^{$")
    ax.set_ylabel("spending, $x$ per youth")
    ax.set_title("$$ unbalanced $")
    ax.legend()
    html = figure_block(fig, alt="a line").html
    assert "<img" in html

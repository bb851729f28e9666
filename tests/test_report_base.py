"""evalkit.report.base: every report has the standard sections, built the same way."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLE

import evalkit.report as report_pkg
from evalkit import did, portfolio
from evalkit.exceptions import DesignRefused
from evalkit.methods.prepost import paired_change
from evalkit.report import Outcome, PrePostReport, RefusedReport
from evalkit.report.base import SECTIONS, Report
from evalkit.report.common import appendix_block, bullets_block
from evalkit.report.did import DiDReport
from evalkit.report.html import esc
from evalkit.report.survival import SurvivalReport
from evalkit.survival import cox, kaplan_meier, logrank, ph_test, rmst

PANEL = SAMPLE / "safe_harbor_panel.csv"


def _prepost() -> PrePostReport:
    rng = np.random.default_rng(3)
    pre = rng.normal(40, 10, 80).round()
    post = (pre + rng.normal(-3, 5, 80)).round()
    post[:12] = np.nan
    d = pd.DataFrame({"pre": pre, "post": post})
    return PrePostReport(d, paired_change(d, pre="pre", post="post"),
                         Outcome("symptom score", lower_is_better=True), population="men")


def _survival() -> SurvivalReport:
    rng = np.random.default_rng(0)
    g = np.repeat([1, 0], 150)
    t = np.ceil(np.minimum(rng.exponential(np.where(g == 1, 120, 70)),
                           rng.uniform(60, 400, 300)))
    d = pd.DataFrame({"days": t, "event": (t < 200).astype(int), "g": g,
                      "age": rng.integers(12, 18, 300)})
    fit = cox(d, "days", "event", ["g", "age"])
    return SurvivalReport(d, kaplan_meier(d, "days", "event", group="g"),
                          logrank(d, "days", "event", "g"), fit, ph_test(fit),
                          rmst(d, "days", "event", "g", tau=60, order=(0, 1)), duration="days",
                          event="event", group="g", times=(30, 60))


@pytest.fixture(scope="module")
def did_parts():
    d = pd.read_csv(PANEL)
    cs = did.staggered(d, "arrests_per_100k", "state", "year", "first_law_year")
    return d, cs, dict(simple=cs.aggregate("simple"),
                       dynamic=cs.aggregate("dynamic", min_e=-3, max_e=3),
                       all_leads=cs.aggregate("dynamic"),
                       twfe=did.twfe(d, "arrests_per_100k", "state", "year", "safe_harbor"),
                       bacon=did.bacon_decomposition(d, "arrests_per_100k", "state", "year",
                                                     "safe_harbor"))


def _did(did_parts) -> DiDReport:
    d, cs, r = did_parts
    return DiDReport(d, cs, r["simple"], r["dynamic"], r["twfe"], r["bacon"], unit="state",
                     time="year", first_treated="first_law_year", outcome="arrests_per_100k",
                     all_leads=r["all_leads"])


def _refused() -> RefusedReport:
    err = DesignRefused("only 2 treated unit(s)", reason="Only 2 units adopted the law.",
                        alternative="a synthetic control")
    return RefusedReport(err, design={"code": "staggered_did", "label": "States adopting"},
                         outcome={"name": "y", "label": "arrests", "units": "per 100,000"},
                         estimand="average effect of the law", method="Group-time effects.",
                         unit_label="state")


@pytest.mark.parametrize("make", ["prepost", "survival", "did", "refused"])
def test_every_report_has_the_standard_sections_in_order(make, did_parts):
    rep = {"prepost": _prepost, "survival": _survival, "refused": _refused,
           "did": lambda: _did(did_parts)}[make]()
    assert isinstance(rep, Report)
    got = rep.sections("What the program does.", options={"alpha": 0.05}, data_path=PANEL)
    assert [name for name, _ in got] == list(SECTIONS)
    blocks = dict(got)
    assert all(b.html for b in blocks.values())
    assert blocks["limitations"].html == bullets_block(rep.limitation_list()).html
    glance = blocks["glance"].html
    assert f"<dt>Evidence rating</dt><dd>{esc(rep.evidence()['label'])}</dd>" in glance
    assert glance.index("<dt>Design</dt>") < glance.index("<dt>Evidence rating</dt>")
    assert "Evaluation question: " in blocks["program_section"].html
    assert blocks["program_section"].html.endswith(
        f"Evaluation question: {esc(rep.default_question())}</p>")
    assert "SHA-256" in blocks["appendix"].html
    assert rep.results_document()["design"] == rep.design()


def test_the_population_is_named_in_the_shared_sections():
    rep = _prepost()
    text = rep.glance().html + rep.limitations().html + rep.default_question()
    assert "youth" not in text.lower() and "men" in text


def test_a_design_that_leaves_out_a_section_cannot_be_built():
    class Partial(Report):
        def headline(self): return ""
        def design(self): return {"code": "x", "label": "x"}
        def evidence(self): return {"rating": "x", "label": "x", "reasons": []}
        def cautions(self): return ()
        def limitation_list(self): return []
        def results_document(self): return {}
        def data_section(self): ...
        def method_section(self): ...
        def checks(self): ...
        def glance_items(self): return {}
        def default_question(self): return "?"

    with pytest.raises(TypeError, match="findings"):
        Partial()


def test_the_did_appendix_shows_what_the_template_passes(did_parts):
    d, cs, r = did_parts
    rep = _did(did_parts)
    options = {"alpha": 0.05}
    want = appendix_block(results=[r["simple"], r["dynamic"], r["all_leads"], r["twfe"],
                                   r["bacon"], cs], options=options, data_path=PANEL)
    assert rep.appendix(options, PANEL).html == want.html


def test_a_refused_report_keeps_its_design_and_shows_no_estimates():
    rep = _refused()
    assert rep.design() == {"code": "staggered_did", "label": "States adopting"}
    assert rep.design_info == rep.design()
    assert "<h3>Estimates</h3>" not in rep.appendix({"alpha": 0.05}).html
    assert rep.reason == "Only 2 states adopted the law."
    assert rep.results_document()["cautions"] == [rep.reason] == list(rep.cautions())


_SOURCES = [*sorted(Path(report_pkg.__file__).parent.glob("*.py")),
            Path(portfolio.__file__)]


def test_figures_are_drawn_only_in_the_figures_module():
    drawing = re.compile(r"\bnew_figure\(|\bFigure\(|\bax\d?\.\w+\(|\.errorbar\(")
    for path in _SOURCES:
        if path.name not in ("figures.py", "figures_policy.py"):
            assert not drawing.search(path.read_text()), path.name


def test_report_tables_have_one_renderer():
    for path in _SOURCES:
        if path.name not in ("html.py", "portfolio.py"):
            assert "<table" not in path.read_text(), path.name

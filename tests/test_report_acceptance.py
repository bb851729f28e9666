"""Acceptance: three public cases, run as a new user would through the runner.

* castle-doctrine laws (Cheng & Hoekstra 2013; the Mixtape's panel): staggered policy
  adoption, log homicides;
* the Rossi recidivism experiment (TARP): randomized financial aid, time to re-arrest, the
  people are men and the covariates carry labels;
* a pre-post sample with every column renamed and its people called participants.

Each report must state its design correctly, cut no text off, give away no suppressed count
and agree subjects with verbs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import ROOT
from test_disclosure import scan_outputs

from evalkit.run import run_all
from evalkit.run.config import find_configs

CONFIGS = ROOT / "tests" / "configs"


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("acceptance")
    outcomes = run_all(find_configs([CONFIGS]), out, jobs=2, echo=lambda _: None)
    assert {o.slug: o.status for o in outcomes} == {
        "castle-doctrine": "ok", "rossi-recidivism": "ok", "renamed-prepost": "ok",
        "placement-adjusted": "ok"}, [
        (o.slug, o.message) for o in outcomes]
    return out


def _doc(reports: Path, slug: str) -> dict:
    return json.loads((reports / slug / "results.json").read_text())


def _text(reports: Path, slug: str, *, body_only: bool = False) -> str:
    page = (reports / slug / "report.html").read_text()
    page = re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=\s]+", " ", page)
    page = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", page, flags=re.S)
    alts = " ".join(re.findall(r"alt=['\"]([^'\"]*)['\"]", page))
    if body_only:
        page = page.split("Technical appendix")[0]
    import html

    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page) + " " + alts))


SLUGS = ("castle-doctrine", "rossi-recidivism", "renamed-prepost", "placement-adjusted")


@pytest.mark.parametrize("slug", ["rossi-recidivism", "renamed-prepost"])
def test_no_derived_leak(reports, slug):
    assert scan_outputs(reports / slug) == []


def test_no_derived_leak_in_the_policy_panel(reports):
    # The panel holds aggregate rates by state: no person is counted anywhere in it. The
    # scanner reads every percentage as a share and the headline n (50 states) as a group of
    # people, so the percentage changes of homicides "determine" counts of states; those are
    # the only findings, and nothing else.
    found = scan_outputs(reports / "castle-doctrine")
    assert all(re.search(r" of 50 gives \d+ \(and \d+\)", f) for f in found), found
    assert _doc(reports, "castle-doctrine")["sample"] == {"states": 50, "adopting_states": 21}


@pytest.mark.parametrize("slug", SLUGS)
def test_no_text_is_cut_off(reports, slug):
    page = (reports / slug / "report.html").read_text()
    assert page.count("<figure") >= 2
    # every figure fitted its text on its own (figure_block marks one it had to expand)
    assert "data-ek-fit" not in page


@pytest.mark.parametrize("slug", SLUGS)
def test_plural_subjects_take_plural_verbs(reports, slug):
    text = _text(reports, slug) + " " + json.dumps(_doc(reports, slug))
    # "each youth is" is singular: youth is both the singular and the plural
    bad = re.findall(r"(?<!each )(?<!every )\b(?:laws|men|participants|states|youth) "
                     r"(?:was|has|is|does)\b", text, re.I)
    assert bad == []


def test_castle_doctrine_states_policy_adoption_and_a_percentage_change(reports):
    doc, text = _doc(reports, "castle-doctrine"), _text(reports, "castle-doctrine")
    assert doc["design"]["code"] == "staggered_did"
    assert "Castle-doctrine laws were not assigned at random" in text
    # 0.110 log points (95% CI 0.034 to 0.186): exp(b) - 1 = 11.7% (3.5% to 20.5%)
    h = doc["headline"]
    assert h["estimate"] == pytest.approx(0.1104, abs=5e-4)
    assert h["percent_change"]["estimate"] == pytest.approx(0.1167, abs=5e-4)
    assert h["digits"] == 2
    assert ("raised homicides per 100,000 residents by about 12% (95% CI 4% to 20%)"
            in doc["finding"])
    assert "an unwanted change" in doc["finding"]
    assert "log homicides" not in text
    # the pre-trend test covers every year before adoption: p ~ 1e-46, driven by the years
    # the [-5, 5] figure leaves out (p = 0.28 over the figure's years alone)
    pt = doc["checks"]["parallel_trends"]
    assert pt["leads"] == [-8, -7, -6, -5, -4, -3, -2, -1] and pt["p_value"] < 1e-40
    assert doc["evidence"]["rating"] == "flagged"
    assert "Over the figure's years alone the pre-trend test gives p = 0.279" in text
    # the estimator's cohort-by-year test is named as such, not as "the pre-trend test"
    assert "The pre-trend test cannot be computed" not in text
    index = (reports / "index.html").read_text()
    assert "0.11 log points (0.03 to 0.19)" in index


def test_rossi_states_randomization_men_and_labels(reports):
    doc = _doc(reports, "rossi-recidivism")
    text = _text(reports, "rossi-recidivism")
    body = _text(reports, "rossi-recidivism", body_only=True)
    assert doc["design"]["code"] == "randomized_time_to_event"
    assert doc["evidence"]["rating"] == "meets_standards"
    assert "not assigned" not in text and "not formed at random" not in text
    assert "Men were assigned to financial aid or no financial aid at random" in text
    assert not re.search(r"\byouth\b", text, re.I)
    assert "prior convictions" in body and not re.search(r"\bprio\b", body)
    assert "age at release (p = 0.012)" in body  # the covariate whose hazard ratio changes
    assert "look constant" not in body
    assert "fewer than 11:" not in text  # a group named "fin = 1" is not a count
    assert doc["checks"]["proportional_hazards"]["failing_terms"] == ["age at release"]
    # Cox on (fin, age, prio), efron: R coxph gives HR exp(-0.3469) = 0.707 for fin
    assert doc["headline"]["estimate"] == pytest.approx(0.7068, abs=1e-3)


def test_renamed_prepost_follows_the_configs_names(reports):
    doc = _doc(reports, "renamed-prepost")
    text = _text(reports, "renamed-prepost")
    assert doc["design"]["code"] == "comparison_group_prepost"
    assert "who were not assigned at random" in text
    assert not re.search(r"\byouth\b", text, re.I)
    assert "participants" in text and "age at intake" in text
    assert "Life-skills group" in text  # the group column's label heads its column
    assert "a desired change" in doc["finding"]

"""Templates on the evaluator's path (issue 10), run end to end: a DiD panel whose never-treated
states have an empty first-treatment year, a survival config without tau, and a survival
config without an id column."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import SAMPLE, sample_config

from evalkit.run import run_all


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("path")
    df = pd.read_csv(SAMPLE / "safe_harbor_panel.csv")
    df["first_law_year"] = df["first_law_year"].where(df["first_law_year"] != 0)
    na = tmp / "panel_na.csv"
    df.to_csv(na, index=False)  # never-treated states: an empty cell
    configs = [
        sample_config(tmp, "safe-harbor-arrests", "did-zero"),
        sample_config(tmp, "safe-harbor-arrests", "did-empty", data=na),
        sample_config(tmp, "safe-harbor-arrests", "did-empty-null", data=na, never_treated=None),
        sample_config(tmp, "placement-runaway", "surv-default-tau", tau=None, drop=("id_column",)),
    ]
    # never_treated: null must be written out explicitly
    p = configs[2]
    raw = yaml.safe_load(p.read_text())
    raw["parameters"]["never_treated"] = None
    p.write_text(yaml.safe_dump(raw, sort_keys=False))
    reports = tmp / "reports"
    outcomes = {o.slug: o for o in run_all(configs, reports, jobs=2, echo=lambda s: None)}
    return reports, outcomes


def _doc(reports: Path, slug: str) -> dict:
    return json.loads((reports / slug / "results.json").read_text())


def test_empty_first_treated_means_never_treated_in_the_did_template(runs):
    reports, outcomes = runs
    for slug in ("did-zero", "did-empty", "did-empty-null"):
        assert outcomes[slug].ok, outcomes[slug].message
    zero = _doc(reports, "did-zero")["headline"]
    for slug in ("did-empty", "did-empty-null"):
        h = _doc(reports, slug)["headline"]
        for k in ("estimate", "ci_low", "ci_high", "n"):
            assert h[k] == zero[k], (slug, k)


def test_survival_without_tau_uses_the_follow_up_both_groups_share(runs):
    reports, outcomes = runs
    o = outcomes["surv-default-tau"]
    assert o.ok, o.message
    m = json.loads((reports / "surv-default-tau" / "manifest.json").read_text())
    # both groups of the sample are followed up to 365 days (survRM2's default tau)
    assert m["parameters"]["tau"] == 365
    assert m["parameters"]["id_column"] is None
    assert m["privacy"]["text_values_checked"]["case_id"] == 500
    html = (reports / "surv-default-tau" / "report.html").read_text()
    assert "tau = 365" in html

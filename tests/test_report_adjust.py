"""The prepost ``adjust:`` block: config checks, report sections, evidence bands, results.json.

A comparison-group evaluation adjusted by propensity weighting or matching shows balance before
and after, effective sample sizes and the propensity overlap, leads with the doubly robust
effect, and rates baseline equivalence on every covariate (WWC: |SMD| ≤ 0.05 satisfied,
0.05–0.25 only with regression adjustment, > 0.25 not satisfied).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import SAMPLE

from evalkit import prepost, report, weighting
from evalkit.exceptions import ConfigError, EvalDataError
from evalkit.report import resultsdoc
from evalkit.report.evidence import balance_status, rate
from evalkit.run.config import load_config
from evalkit.weighting import adjust_comparison

DATA = SAMPLE / "advocacy_referrals.csv"
COVS = ["age", "prior_runaways", "prior_placements", "justice_involved", "ts_intake"]


def _config(folder: Path, adjust, **params) -> Path:
    raw = {
        "title": "Advocacy", "program": "Advocacy", "description": "Referred youth.",
        "template": "prepost", "data": str(DATA), "id_column": "case_id",
        "parameters": {"pre": "ts_intake", "post": "ts_6mo", "outcome_label": "score",
                       "lower_is_better": True, "group": "in_program", "adjust": adjust,
                       **params},
    }
    path = folder / "adv.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value.problems


# -- config ----------------------------------------------------------------------------------
def test_adjust_block_gets_its_defaults(tmp_path):
    cfg = load_config(_config(tmp_path, {"covariates": ["age", "ts_intake"]}))
    assert cfg.parameters["adjust"] == {"covariates": ["age", "ts_intake"],
                                        "method": "weighting", "estimand": "ATT",
                                        "missing": "complete-case"}
    names = [c.name for c in cfg.template.columns(cfg.parameters, cfg.id_column)]
    assert "age" in names and names.count("ts_intake") == 1


def test_imputation_keys_get_their_defaults_only_when_imputing(tmp_path):
    cfg = load_config(_config(tmp_path, {"covariates": ["age"], "missing": "impute"}))
    assert cfg.parameters["adjust"] == {"covariates": ["age"], "method": "weighting",
                                        "estimand": "ATT", "missing": "impute",
                                        "imputations": 20, "seed": 1}
    cfg = load_config(_config(tmp_path, {"covariates": ["age"], "missing": "impute",
                                         "imputations": 5, "seed": 0}))
    assert (cfg.parameters["adjust"]["imputations"], cfg.parameters["adjust"]["seed"]) == (5, 0)


def test_no_adjust_block_means_no_adjustment(tmp_path):
    path = _config(tmp_path, None)
    assert load_config(path).parameters["adjust"] is None


@pytest.mark.parametrize("adjust, expected", [
    ({"covariates": ["age"], "method": "reweighting"},
     "'parameters.adjust.method' must be one of weighting, matching, not 'reweighting'"),
    ({"covariates": ["age"], "estimand": "ATC"},
     "'parameters.adjust.estimand' must be one of ATT, ATE, ATO, not 'ATC'"),
    ({"covariates": ["age"], "missing": "multiple"},
     "'parameters.adjust.missing' must be one of complete-case, impute, not 'multiple'"),
    ({"covariates": ["age"], "seed": 3},
     "'parameters.adjust.seed' is used only with 'missing: impute'"),
    ({"covariates": ["age"], "missing": "impute", "imputations": 1},
     "'parameters.adjust.imputations' must be a whole number of at least 2, not 1"),
    ({"covariates": ["age"], "method": "matching", "estimand": "ATE"},
     "'parameters.adjust.estimand': matching estimates the effect on program youth (ATT)"),
    ({"method": "weighting"}, "missing required key 'parameters.adjust.covariates'"),
    ({"covariates": []}, "'parameters.adjust.covariates' must be a non-empty list"),
    ({"covariates": ["age", "age"]}, "'parameters.adjust.covariates' names age more than once"),
    ({"covariates": ["in_program"]}, "must not include the group column 'in_program'"),
    ({"covariates": ["age"], "metod": "matching"},
     "unknown key 'parameters.adjust.metod' (known: covariates, categorical, method, "
     "estimand, missing, imputations, seed) (did you mean 'method'?)"),
    (["age"], "parameters.adjust: must be a mapping {covariates"),
])
def test_bad_adjust_blocks_are_named_by_key(tmp_path, adjust, expected):
    probs = _problems(_config(tmp_path, adjust))
    assert any(expected in p for p in probs), probs
    assert len(probs) == 1


def test_adjust_needs_a_comparison_group(tmp_path):
    probs = _problems(_config(tmp_path, {"covariates": ["age"]}, group=None))
    assert probs == ["'parameters.adjust' needs 'parameters.group' (it adjusts a "
                     "comparison-group design)"]


def test_an_unknown_covariate_is_named_with_its_key_when_the_data_are_checked(tmp_path):
    cfg = load_config(_config(tmp_path, {"covariates": ["age", "prior_runawys"]}))
    with pytest.raises(EvalDataError) as info:
        cfg.load_data()
    text = str(info.value)
    assert "'prior_runawys'" in text and "parameters.adjust.covariates" in text


# -- evidence rule ---------------------------------------------------------------------------
def _balance(*smds: float) -> dict[str, float]:
    table = pd.DataFrame({"covariate": [f"x{i}" for i in range(len(smds))],
                          "smd_adjusted": smds})
    return dict(zip(table["covariate"], table["smd_adjusted"], strict=True))


def test_every_covariate_within_005_is_satisfied():
    ev = rate("comparison_group_prepost", {"balance": _balance(0.01, -0.05, 0.0)})
    assert ev["rating"] == "meets_with_reservations"
    assert any("alike at intake on every characteristic used (3" in r for r in ev["reasons"])
    assert balance_status(_balance(0.05, -0.03))[0] == "satisfied"


def test_a_covariate_between_005_and_025_is_satisfied_by_the_regression_adjustment():
    ev = rate("comparison_group_prepost", {"balance": _balance(0.01, -0.12, 0.25)})
    assert ev["rating"] == "meets_with_reservations"
    why = next(r for r in ev["reasons"] if "differed somewhat" in r)
    assert "x1 (SMD -0.12), x2 (SMD 0.25)" in why and "x0" not in why
    assert "only because the estimate's regression adjusts for each of them" in why
    assert balance_status(_balance(0.051))[0] == "satisfied with adjustment"


def test_a_covariate_above_025_flags_the_rating_naming_it():
    ev = rate("comparison_group_prepost",
              {"balance": _balance(0.30, 0.1, -0.26), "balance_method": "matching"})
    assert ev["rating"] == "flagged"
    first = ev["reasons"][0]
    assert first.startswith("After matching, the groups still differed too much at intake on "
                            "x0 (SMD 0.30), x2 (SMD -0.26)")
    assert any("x1 (SMD 0.10)" in r for r in ev["reasons"])
    # a covariate whose SMD could not be computed does not pass either
    assert balance_status(_balance(0.0, float("nan")))[0] == "not satisfied"


def test_without_balance_the_intake_rule_is_unchanged():
    checks = {"baseline_status": "satisfied with adjustment", "baseline_g": 0.1}
    assert rate("comparison_group_prepost", checks)["reasons"][-1] == (
        "The groups differed somewhat at intake (g = 0.10); the analysis adjusts for the "
        "intake score, as WWC requires.")


# -- report ----------------------------------------------------------------------------------
def _report(adjust=None, threshold: int = 11) -> report.PrePostReport:
    data = pd.read_csv(DATA)
    prog = data[data["in_program"] == 1]
    comparison = prepost.compare_groups(data, "ts_intake", "ts_6mo", "in_program",
                                        lower_is_better=True)
    adjusted = (None if adjust is None else
                adjust_comparison(data, "ts_6mo", "in_program", adjust, lower_is_better=True,
                                  threshold=threshold))
    return report.PrePostReport(
        data, prepost.paired_change(prog, pre="ts_intake", post="ts_6mo"),
        report.Outcome("trauma symptom score", lower_is_better=True, post_label="six months"),
        threshold=threshold, comparison=comparison, group="in_program",
        attrition=prepost.attrition(data, "ts_intake", "ts_6mo", group="in_program"),
        comparison_label="usual services", adjusted=adjusted,
        labels={"ts_intake": "intake score"})


@pytest.fixture(scope="module")
def plain():
    return _report()


@pytest.fixture(scope="module")
def weighted():
    return _report({"covariates": COVS})


def test_adjusted_report_shows_balance_ess_overlap_and_both_effects(weighted):
    checks, findings = weighted.checks().html, weighted.findings().html
    assert "Balance of the groups before and after weighting" in checks
    assert "Covariate balance before and after weighting" in checks  # love plot caption
    assert "Effective sample sizes after weighting: 180.0 program youth" in checks
    assert "Overlap of the propensity scores" in checks
    assert "Intake score" in checks  # display labels
    assert "adjusted and unadjusted" in findings
    e = weighted.adjusted.effect
    assert f"score {abs(e.estimate):.1f} points lower than comparable youth" in (
        weighted.headline())
    assert weighted.glance_items()["Program effect"].startswith(
        f"{e.estimate:.1f}".replace("-", "−"))


def test_unadjusted_report_has_none_of_the_adjustment_sections(plain):
    html = plain.checks().html + plain.findings().html + plain.glance().html
    for text in ("Balance of the groups", "Effective sample sizes", "Overlap of the propensity",
                 "adjusted and unadjusted", "Unadjusted difference"):
        assert text not in html
    assert "Were the groups alike at intake?" in html
    assert "covariate_balance" not in plain.results_document()["checks"]


def test_results_document_carries_the_adjusted_headline_and_balance(weighted):
    doc = weighted.results_document()
    assert resultsdoc.problems(doc, partial=True) == []
    a = weighted.adjusted
    assert doc["headline"]["estimate"] == pytest.approx(a.effect.estimate, abs=0)
    assert doc["headline"]["n"] == a.effect.n
    bal = doc["checks"]["covariate_balance"]
    assert [r["covariate"] for r in bal["covariates"]] == COVS
    assert bal["max_abs_smd_adjusted"] == pytest.approx(
        np.abs(a.balance["smd_adjusted"]).max())
    assert bal["ess"]["control"] == pytest.approx(a.fit.ess["control"])
    terms = [e["term"] for e in doc["estimates"]]
    assert terms[:2] == [
        "program effect adjusted by weighting: program effect (doubly robust weighted "
        "regression)",
        "program difference, unadjusted: program effect (weighted difference in means)"]
    assert doc["estimates"][0]["estimate"] == pytest.approx(a.effect.estimate, abs=0)
    assert doc["estimates"][1]["estimate"] == pytest.approx(a.unadjusted.estimate, abs=0)
    # every covariate within 0.25 after weighting: satisfied through the regression adjustment
    assert any("only because the estimate's regression adjusts" in r
               for r in doc["evidence"]["reasons"])


def test_weight_cautions_reach_the_report_and_lower_the_rating():
    # threshold 100: the comparison group's effective sample size (92.2) falls below it
    rep = _report({"covariates": COVS}, threshold=100)
    assert rep.adjusted.ess["control"] < 100
    assert any("effective sample size" in c for c in rep.cautions())
    ev = rep.evidence()
    assert ev["rating"] == "limited"
    assert any("effective sample size" in r for r in ev["reasons"])


def test_matching_adjustment_equals_weighting_effect_on_the_matched_sample():
    data = pd.read_csv(DATA)
    adj = adjust_comparison(data, "ts_6mo", "in_program",
                            {"covariates": COVS, "method": "matching"})
    cc = data.dropna(subset=["ts_6mo"])
    m = weighting.match(cc, "in_program", COVS)
    ref = weighting.effect(cc, "ts_6mo", "in_program", weights=m, covariates=COVS)
    assert adj.effect.estimate == pytest.approx(ref.estimate, rel=1e-12)
    assert adj.effect.se == pytest.approx(ref.se, rel=1e-12)
    assert adj.estimand == "ATT" and adj.ess["treated"] == pytest.approx(180.0)


# -- the sample evaluation -------------------------------------------------------------------
def test_the_advocacy_evaluation_renders_the_weighted_effect_and_covers_the_truth(
        tmp_path, truth):
    from conftest import EVALUATIONS

    from evalkit.run import run_evaluation

    cfg = load_config(EVALUATIONS / "advocacy-referrals.yaml")
    outcome = run_evaluation(cfg.path, tmp_path)
    assert outcome.ok, outcome.message
    doc = resultsdoc.read(tmp_path / "advocacy-referrals" / "results.json")
    assert resultsdoc.problems(doc) == []
    adjust = cfg.parameters["adjust"]
    data = pd.read_csv(DATA).dropna(subset=["ts_6mo", *adjust["covariates"]])
    w = weighting.propensity(data, "in_program", adjust["covariates"], estimand="ATT")
    ref = weighting.effect(data, "ts_6mo", "in_program", weights=w,
                           covariates=adjust["covariates"])
    h = doc["headline"]
    assert (h["estimate"], h["ci_low"], h["ci_high"], h["n"]) == pytest.approx(
        (ref.estimate, ref.ci_low, ref.ci_high, ref.n), rel=1e-12)
    t = truth["advocacy"]
    assert h["ci_low"] <= t["true_att_completers"] <= h["ci_high"]
    naive = doc["estimates"][1]
    assert naive["term"].startswith("program difference, unadjusted")
    assert not naive["ci_low"] <= t["true_att_completers"] <= naive["ci_high"]
    html = (tmp_path / "advocacy-referrals" / "report.html").read_text()
    assert "Balance of the groups before and after weighting" in html
    assert "Overlap of the propensity scores" in html


# -- imputed characteristics -----------------------------------------------------------------
def _holed_report(threshold: int = 11) -> report.PrePostReport:
    """The advocacy data with prior runaways missing for some youth, imputed."""
    data = pd.read_csv(DATA)
    rng = np.random.default_rng(3)
    data.loc[rng.random(len(data)) < 0.2, "prior_runaways"] = np.nan
    prog = data[data["in_program"] == 1]
    comparison = prepost.compare_groups(data, "ts_intake", "ts_6mo", "in_program",
                                        lower_is_better=True)
    adjusted = adjust_comparison(
        data, "ts_6mo", "in_program",
        {"covariates": COVS, "missing": "impute", "imputations": 5, "seed": 2},
        lower_is_better=True, threshold=threshold)
    return report.PrePostReport(
        data, prepost.paired_change(prog, pre="ts_intake", post="ts_6mo"),
        report.Outcome("trauma symptom score", lower_is_better=True, post_label="six months"),
        threshold=threshold, comparison=comparison, group="in_program",
        attrition=prepost.attrition(data, "ts_intake", "ts_6mo", group="in_program"),
        comparison_label="usual services", adjusted=adjusted,
        labels={"prior_runaways": "prior runaway episodes"})


def test_imputed_report_shows_the_complete_case_estimate_beside_the_pooled_one():
    rep = _holed_report()
    a, imp = rep.adjusted, rep.adjusted.imputation
    findings = rep.findings().html
    assert "missing characteristics imputed" in findings
    assert "Same, complete cases only" in findings
    cc = imp.complete_case
    assert f"{cc.estimate:.1f}".replace("-", "−") in findings
    assert "Some youth had prior runaway episodes missing" in findings
    assert "pooled by Rubin&#x27;s rules with Barnard–Rubin degrees of freedom" in findings
    doc = rep.results_document()
    assert resultsdoc.problems(doc, partial=True) == []
    got = doc["checks"]["covariate_balance"]["imputation"]
    assert got["m"] == 5 and got["seed"] == 2 and got["imputed"] == ["prior_runaways"]
    assert got["n_imputed"] == imp.n_imputed >= 11
    assert got["complete_case"]["estimate"] == pytest.approx(cc.estimate, abs=0)
    assert doc["headline"]["estimate"] == pytest.approx(a.effect.estimate, abs=0)
    terms = [e["term"] for e in doc["estimates"]]
    assert any("complete cases" in t for t in terms)
    appendix = rep.appendix({"alpha": 0.05}).html
    assert "complete cases only" in appendix and "pooled over 5 imputations" in appendix


def test_imputed_counts_below_the_threshold_are_withheld():
    rep = _holed_report(threshold=120)  # more than the youth of a group with a gap
    findings = rep.findings().html
    imp = rep.adjusted.imputation
    gaps = (rep.adjusted.effect.n_treated - imp.complete_case.n_treated,
            rep.adjusted.effect.n_control - imp.complete_case.n_control)
    assert 0 < min(gaps) < 120
    assert "withheld (fewer than 120 youth of a group missing a characteristic)" in findings
    assert f"{imp.complete_case.n_treated:,} program" not in findings
    assert rep.results_document()["checks"].get("covariate_balance", {}).get(
        "imputation", {}).get("n_imputed") is None


def test_an_evaluation_with_imputed_characteristics_runs_end_to_end(tmp_path):
    from conftest import EVALUATIONS

    from evalkit.run import run_evaluation

    data = pd.read_csv(DATA)
    rng = np.random.default_rng(4)
    data.loc[rng.random(len(data)) < 0.2, "prior_placements"] = np.nan
    data.to_csv(tmp_path / "holed.csv", index=False)
    raw = yaml.safe_load((EVALUATIONS / "advocacy-referrals.yaml").read_text())
    raw["data"] = str(tmp_path / "holed.csv")
    raw["parameters"]["adjust"].update(missing="impute", imputations=5, seed=3)
    path = tmp_path / "holed.yaml"
    path.write_text(yaml.safe_dump(raw))
    outcome = run_evaluation(path, tmp_path / "out")
    assert outcome.ok, outcome.message
    doc = resultsdoc.read(tmp_path / "out" / "holed" / "results.json")
    assert resultsdoc.problems(doc) == []
    ref = adjust_comparison(data, "ts_6mo", "in_program", raw["parameters"]["adjust"],
                            lower_is_better=True)
    assert doc["headline"]["estimate"] == pytest.approx(ref.effect.estimate, rel=1e-12)
    assert doc["checks"]["covariate_balance"]["imputation"]["imputed"] == ["prior_placements"]
    html = (tmp_path / "out" / "holed" / "report.html").read_text()
    assert "Same, complete cases only" in html


# -- categorical covariates ------------------------------------------------------------------
def test_categorical_covariates_are_declared_and_checked(tmp_path):
    cfg = load_config(_config(tmp_path, {"covariates": ["age", "site"],
                                         "categorical": ["site"]}))
    assert cfg.parameters["adjust"]["categorical"] == ["site"]
    site = next(c for c in cfg.template.columns(cfg.parameters, cfg.id_column)
                if c.name == "site")
    assert site.kind == "string"
    probs = _problems(_config(tmp_path, {"covariates": ["age"], "categorical": ["site"]}))
    assert probs == ["'parameters.adjust.categorical' names site, not among "
                     "'parameters.adjust.covariates'"]


def test_a_categorical_covariate_is_balanced_by_its_categories():
    data = pd.read_csv(DATA)
    adj = adjust_comparison(data, "ts_6mo", "in_program",
                            {"covariates": ["age", "prior_runaways", "site"],
                             "categorical": ["site"]})
    frame = data[data["ts_6mo"].notna()].assign(site=lambda d: pd.Categorical(d["site"]))
    w = weighting.propensity(frame, "in_program", ["age", "prior_runaways", "site"])
    ref = weighting.effect(frame, "ts_6mo", "in_program", weights=w,
                           covariates=["age", "prior_runaways", "site"])
    assert adj.effect.estimate == pytest.approx(ref.estimate, rel=1e-12)
    assert adj.effect.se == pytest.approx(ref.se, rel=1e-12)
    rows = report.weighting.balance_rows(adj, {"site": "site of referral"})
    assert "site of referral: North" in set(rows["covariate"])
    assert adj.categorical == ("site",)


def test_a_category_held_by_few_youth_is_refused_without_naming_it():
    data = pd.read_csv(DATA)
    data.loc[data.index[:4], "site"] = "Island"
    with pytest.raises(EvalDataError) as info:
        adjust_comparison(data, "ts_6mo", "in_program",
                          {"covariates": ["age", "site"], "categorical": ["site"]})
    text = str(info.value)
    assert "column 'site': 1 of its 5 categories hold fewer than 11 youth" in text
    assert "Island" not in text


def test_a_missing_category_cannot_be_imputed():
    data = pd.read_csv(DATA)
    data.loc[data.index[:30], "site"] = np.nan
    with pytest.raises(EvalDataError, match="categories cannot be imputed"):
        adjust_comparison(data, "ts_6mo", "in_program",
                          {"covariates": ["age", "site"], "categorical": ["site"],
                           "missing": "impute", "imputations": 2})


def test_a_complete_category_informs_the_imputation_of_another_covariate():
    data = pd.read_csv(DATA)
    data.loc[data.index[::5], "age"] = np.nan
    adj = adjust_comparison(data, "ts_6mo", "in_program",
                            {"covariates": ["age", "prior_runaways", "site"],
                             "categorical": ["site"], "missing": "impute", "imputations": 3,
                             "seed": 4})
    imp = adj.imputation
    assert imp is not None and list(imp.missing) == ["age"] and imp.m == 3
    assert "site" not in imp.missing and np.isfinite(adj.effect.estimate)

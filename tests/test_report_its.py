"""The its template end to end: the sample's true effect, the report, privacy and bad configs."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, SAMPLE, sample_config

from evalkit.exceptions import ConfigError, EvalDataError
from evalkit.methods.policy.its import interrupted_time_series, placebo_its
from evalkit.report import resultsdoc
from evalkit.report.evidence import rate
from evalkit.report.its import ItsReport, its_columns, its_data, period_labels
from evalkit.results import Caution
from evalkit.run import run_all
from evalkit.run.config import load_config
from evalkit.run.templates import columns, notebook_parameters

CONFIG = "county-identifications"
#: Months of the privacy case set below the threshold of 11, and the counts they get.
LOW = {"2018-02": 4, "2019-07": 7, "2023-03": 9}


def _low_data(folder) -> tuple[pd.DataFrame, object]:
    d = pd.read_csv(SAMPLE / "county_identifications.csv")
    for month, n in LOW.items():
        d.loc[d["month"] == month, "youth_identified"] = n
    path = folder / "low_months.csv"
    d.to_csv(path, index=False)
    return d, path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("its")
    _, low = _low_data(tmp)
    configs = [sample_config(tmp, CONFIG),
               sample_config(tmp, CONFIG, "its-low-months", data=low),
               sample_config(tmp, CONFIG, "its-outside", intervention="2030-01")]
    reports = tmp / "reports"
    outcomes = {o.slug: o for o in run_all(configs, reports, jobs=2, echo=lambda _: None)}
    return reports, outcomes


def _html(reports, slug: str) -> str:
    return (reports / slug / "report.html").read_text(encoding="utf-8")


def test_the_sample_recovers_the_true_level_and_slope_rate_ratios(runs, truth):
    reports, outcomes = runs
    assert outcomes[CONFIG].ok, outcomes[CONFIG].message
    doc = resultsdoc.read(reports / CONFIG / "results.json")
    assert resultsdoc.problems(doc) == []
    t = truth["hotline"]
    h = doc["headline"]
    assert doc["design"]["code"] == "interrupted_time_series"
    assert h["units"] == "rate ratio"
    assert h["ci_low"] <= t["true_level_rate_ratio"] <= h["ci_high"]
    # the numbers data/sample/README.md documents for this file
    assert h["estimate"] == pytest.approx(1.29, abs=0.005)
    assert (h["ci_low"], h["ci_high"]) == pytest.approx((1.10, 1.52), abs=0.005)
    assert h["percent_change"]["estimate"] == pytest.approx(h["estimate"] - 1)
    est = {e["term"]: e for e in doc["estimates"]}
    slope = est["slope (rate ratio)"]
    assert slope["ci_low"] <= t["true_slope_rate_ratio_per_month"] <= slope["ci_high"]
    assert doc["sample"] == {"months": 84, "months_before": t["n_pre_months"],
                             "months_after": 84 - t["n_pre_months"],
                             "months_below_threshold": 0}
    assert doc["evidence"]["rating"] == "meets_with_reservations"
    placebo = doc["checks"]["placebo"]
    assert placebo["period"] == "January 2020" and placebo["no_change"] is True
    assert {"placebo level", "placebo slope"} <= set(est)
    lb = doc["checks"]["autocorrelation"]["ljung_box"]
    assert 0 < lb["p_value"] <= 1 and len(doc["checks"]["autocorrelation"]["acf"]) == 21


def test_the_report_shows_every_section_the_figures_and_the_change_in_words(runs):
    reports, _ = runs
    html = _html(reports, CONFIG)
    for section in ("At a glance", "The program and the question", "The data",
                    "How it was evaluated", "Findings", "Checks", "Limitations",
                    "Technical appendix"):
        assert f">{section}<" in html, section
    assert "rose by 29% (95% CI 10% to 52%) when the screening protocol started" in html
    assert "Ljung–Box" in html and "Placebo start in January 2020" in html
    imgs = re.findall(r"<img\b[^>]*>", html)
    assert len(imgs) == 2 and all(re.search(r"alt=['\"][^'\"]{40,}", i) for i in imgs)
    # months are written in words, never as the data write them (the leak check's values)
    assert not re.search(r"\b20\d\d-\d\d\b", html)
    assert "import evalkit" not in html


def test_counts_below_the_threshold_appear_nowhere(runs, tmp_path):
    reports, outcomes = runs
    assert outcomes["its-low-months"].ok, outcomes["its-low-months"].message
    html = _html(reports, "its-low-months")
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", html)
    assert not {str(n) for n in LOW.values()} & {c.strip() for c in cells}
    alts = " ".join(re.findall(r"alt='([^']*)'", html))
    assert not re.search(r"(?<![\d.,])[479](?![\d.,%])", alts)
    assert "below the privacy threshold of 11" in html
    doc = resultsdoc.read(reports / "its-low-months" / "results.json")
    assert doc["sample"]["months_below_threshold"] == len(LOW)
    assert doc["suppressed"] and "observed" not in str(doc["estimates"])
    # no total, average or lowest count of a part that holds a hidden month is shown
    assert "Lowest" not in html and "Total" not in html

    # the figure leaves the hidden months' points out (the fitted lines stay)
    d, _ = _low_data(tmp_path)
    d["lp"] = np.log(d["child_population"])
    fit = interrupted_time_series(d, "youth_identified", "month", "2022-01",
                                  family="quasipoisson", offset="lp", harmonics=1)
    rep = ItsReport(d, fit, None, outcome="youth_identified", time="month")
    drawn = np.concatenate([ln.get_ydata() for ln in rep.series_figure().axes[0].lines
                            if ln.get_linestyle() == "None"])
    assert len(drawn) == 84 - len(LOW)
    assert not set(LOW.values()) & set(drawn.tolist())


def test_an_intervention_outside_the_series_names_the_key(runs):
    _, outcomes = runs
    o = outcomes["its-outside"]
    assert not o.ok and o.stage == "data"  # found before the notebook runs
    assert "parameters.intervention '2030-01' is not a period of the series" in o.message
    assert "January 2018 to December 2024" in o.message


def test_config_errors_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"missing required key 'parameters.intervention'"):
        load_config(sample_config(tmp_path, CONFIG, "a", intervention=None))
    with pytest.raises(ConfigError, match=r"'parameters.hac_lags' is for family gaussian"):
        load_config(sample_config(tmp_path, CONFIG, "b", hac_lags=3))
    with pytest.raises(ConfigError, match=r"'parameters.population' is the offset"):
        load_config(sample_config(tmp_path, CONFIG, "c", family="gaussian"))
    with pytest.raises(ConfigError, match=r"'parameters.harmonics' \(6\) must be below"):
        load_config(sample_config(tmp_path, CONFIG, "d", harmonics=6))
    with pytest.raises(ConfigError, match=r"parameters.intervention: must be non-empty text"):
        load_config(sample_config(tmp_path, CONFIG, "e", intervention=202201))


def test_its_data_checks_the_periods_and_the_population():
    d = pd.read_csv(SAMPLE / "county_identifications.csv")
    out, offset = its_data(d, time="month", intervention="2022-01",
                           population="child_population")
    assert offset is not None and np.allclose(np.exp(out[offset]), d["child_population"])
    with pytest.raises(EvalDataError, match=r"parameters.placebo '2023-01' is not before"):
        its_data(d, time="month", intervention="2022-01", placebo="2023-01")
    d.loc[5, "child_population"] = 0
    with pytest.raises(EvalDataError, match=r"child_population.*not positive in 1 periods"):
        its_data(d, time="month", intervention="2022-01", population="child_population")
    weeks = pd.Series(pd.date_range("2021-01-04", periods=3, freq="7D").strftime("%Y-%m-%d"))
    assert period_labels(weeks).tolist()[0] == "week of 4 January 2021"
    assert period_labels(pd.Series([3, 4])).tolist() == ["period 3", "period 4"]


def test_the_load_cell_reads_the_registry_columns():
    import nbformat

    cells = nbformat.read(ROOT / "templates" / "its.ipynb", as_version=4).cells
    load = next(c.source for c in cells if c.source.startswith("# Load"))
    assert "its_columns(outcome, time, population=population, family=family)" in load
    values = notebook_parameters("its")
    assert columns("its", values, None) == its_columns(
        values["outcome"], values["time"], population=values["population"],
        family=values["family"])


def test_the_evidence_rule_for_an_interrupted_time_series():
    base = {"n_pre": 48, "n_post": 36, "placebo_p": 0.3, "unit_label": "county",
            "period": "month", "intervention_label": "the protocol"}
    assert rate("interrupted_time_series", base)["rating"] == "meets_with_reservations"
    flagged = rate("interrupted_time_series", {**base, "placebo_p": 0.01})
    assert flagged["rating"] == "flagged" and "placebo" in flagged["reasons"][0]
    assert rate("interrupted_time_series", {**base, "n_post": 2})["rating"] == "flagged"
    assert rate("interrupted_time_series", {**base, "n_pre": 6})["rating"] == "limited"
    assert rate("interrupted_time_series", {**base, "placebo_p": None})["rating"] == "limited"
    lowered = rate("interrupted_time_series", base,
                   [Caution("The residuals are autocorrelated.", limits=True)])
    assert lowered["rating"] == "limited"
    kept = rate("interrupted_time_series", base, [Caution("Note.", limits=False)])
    assert kept["rating"] == "meets_with_reservations"


def test_a_gaussian_series_of_rates_reads_in_its_units():
    rng = np.random.default_rng(7)
    t = np.arange(40)
    y = 20 + 0.1 * t + 3.0 * (t >= 24) + rng.normal(0, 0.8, 40)
    d = pd.DataFrame({"year": 1980 + t, "rate": y})
    fit = interrupted_time_series(d, "rate", "year", 2004, hac_lags=2)
    placebo = placebo_its(d, "rate", "year", 2004, hac_lags=2)
    rep = ItsReport(d, fit, placebo, outcome="rate", time="year",
                    outcome_label="the arrest rate", units="per 100,000",
                    intervention_label="the law", unit_label="state")
    assert not rep.counts and not rep.hidden.any()
    head = rep.headline()
    assert re.search(r"the arrest rate rose by \d\.\d\d per 100,000 \(95% CI", head)
    doc = rep.results_document()
    assert doc["headline"]["units"] == "per 100,000" and "percent_change" not in doc["headline"]
    assert doc["headline"]["ci_low"] <= 3.0 <= doc["headline"]["ci_high"]
    html = "".join(b.html for _, b in rep.sections("A law.", options={"alpha": 0.05}))
    assert "Newey–West" in html and "year 2004" in html and "The yearly series" in html
    assert rep.period == "year" and "period" not in rep.headline()


def test_validate_names_a_placebo_after_the_intervention(tmp_path):
    from evalkit.run.checks import preflight
    from evalkit.run.config import load_config

    cfg = load_config(sample_config(tmp_path, CONFIG, "its-late-placebo", placebo="2023-01"))
    found = preflight(cfg, cfg.load_data())
    assert [(f.level, f.key) for f in found] == [("error", "parameters.placebo")]
    assert "is not before the intervention" in found[0].message


def test_a_term_without_a_standard_error_reads_not_estimable_never_nan():
    d = pd.DataFrame({"year": range(2000, 2005), "rate": [7.4, 7.6, 7.44, 11.93, 9.28]})
    fit = interrupted_time_series(d, "rate", "year", 2002, hac_lags=0)
    assert np.isnan(fit.trend.ci_low)
    rep = ItsReport(d, fit, None, outcome="rate", time="year", outcome_label="the arrest rate",
                    units="per 100,000", intervention_label="the law", unit_label="state")
    html = "".join(b.html for _, b in rep.sections("A law.", options={"alpha": 0.05}))
    assert re.search(r"Trend per \w+ before</th><td>0.200</td><td>not estimable", html)
    assert not re.search(r"\bnan\b", html, re.I)
    assert "zero up to rounding" in html


def test_period_words_name_years_and_leave_other_numbers_periods():
    years = pd.Series([2001, 2003, 2005])  # biennial survey years
    assert period_labels(years).tolist() == ["year 2001", "year 2003", "year 2005"]
    assert period_labels(pd.Series([1, 2, 3])).tolist() == ["period 1", "period 2", "period 3"]
    assert period_labels(pd.Series([2001.5, 2002.5])).tolist()[0] == "period 2001.5"

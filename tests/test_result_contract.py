"""One result contract: every public estimator's ``to_frame()`` starts with ``term, estimate,
se, ci_low, ci_high, p_value``; tests return a :class:`~evalkit.results.TestResult`; bad
option values raise :class:`~evalkit.EvalOptionError` naming the option and what it takes."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from conftest import REFERENCE, SAMPLE
from scipy import special

import evalkit
from evalkit import did, policy, prepost, survival
from evalkit.data import load
from evalkit.exceptions import EvalOptionError
from evalkit.methods import meta
from evalkit.results import FRAME_COLUMNS, Result, TestResult


@functools.cache
def data(name: str) -> pd.DataFrame:
    """Sample data (read once)."""
    if name == "mpdta":
        return pd.read_csv(REFERENCE / "mpdta.csv")
    if name in ("safe_harbor_panel", "navigator_law_panel", "county_identifications"):
        return pd.read_csv(SAMPLE / f"{name}.csv")
    return load(SAMPLE / f"{name}.csv")


@functools.cache
def build(name: str) -> Result:
    """The result of one public estimator on small data."""
    site, waitlist = data("mentoring_site_a"), data("lifeskills_waitlist")
    pl, panel, mp = data("placement_runaway"), data("safe_harbor_panel"), data("mpdta")
    if name.startswith("aggregate "):
        return build("staggered").aggregate(name.split()[1])
    two = mp[mp["first.treat"].isin([0, 2006]) & mp["year"].isin([2005, 2006])]
    two = two.assign(treated=(two["first.treat"] > 0).astype(int),
                     post=(two["year"] == 2006).astype(int), state=two["countyreal"] // 1000)
    cases: dict[str, Callable[[], Result]] = {
        "paired_change": lambda: prepost.paired_change(site, pre="ts_intake", post="ts_6mo"),
        "signed_rank": lambda: prepost.signed_rank(site, pre="ts_intake", post="ts_6mo"),
        "mcnemar": lambda: prepost.mcnemar(site, pre="school_intake", post="school_6mo"),
        "reliable_change": lambda: prepost.reliable_change(site, "ts_intake", "ts_6mo",
                                                           reliability=0.8),
        "attrition": lambda: prepost.attrition(site, "ts_intake", "ts_6mo"),
        "compare_groups": lambda: prepost.compare_groups(waitlist, "ts_intake", "ts_6mo",
                                                         "in_program", covariates=["age"]),
        "compare_proportions": lambda: prepost.compare_proportions(waitlist, "school_6mo",
                                                                   "in_program"),
        "kaplan_meier": lambda: survival.kaplan_meier(pl, "days", "ran_away",
                                                      group="specialized"),
        "logrank": lambda: survival.logrank(pl, "days", "ran_away", "specialized"),
        "cox": lambda: survival.cox(pl, "days", "ran_away", ["specialized", "age"]),
        "ph_test": lambda: survival.ph_test(build("cox")),
        "rmst": lambda: survival.rmst(pl, "days", "ran_away", "specialized", tau=180),
        "cumulative_incidence": lambda: survival.cumulative_incidence(
            pl, "days", "outcome", group="specialized"),
        "staggered": lambda: did.staggered(mp, "lemp", "countyreal", "year", "first.treat"),
        "twfe": lambda: did.twfe(panel, "arrests_per_100k", "state", "year", "safe_harbor",
                                 wild_bootstrap=199, seed=1),
        "wild_cluster_bootstrap": lambda: build("twfe").wild,
        "event_study": lambda: did.event_study(panel, "arrests_per_100k", "state", "year",
                                               "first_law_year", window=(-3, 3)),
        "two_by_two": lambda: did.two_by_two(two, "lemp", "treated", "post", cluster="state",
                                             wild_bootstrap=199, seed=1),
        "bacon_decomposition": lambda: did.bacon_decomposition(
            panel, "arrests_per_100k", "state", "year", "safe_harbor"),
        "meta_analysis": lambda: meta.meta_analysis([0.2, 0.35, 0.5], [0.01, 0.02, 0.03]),
        "poisson_twfe": lambda: did.poisson_twfe(
            pd.read_csv(REFERENCE / "poisson_panel.csv"), "arrests", "unit", "period", "treated",
            offset="log_pop"),
        "honest_did": lambda: did.honest_did(build("event_study"), m=[0.5, 1.0]),
        "fine_gray": lambda: survival.fine_gray(pl, "days", "outcome", ["specialized", "age"]),
        "mean_cumulative_function": lambda: survival.mean_cumulative_function(
            pd.read_csv(REFERENCE / "recurrent_intervals_R.csv"), "start", "stop", "event",
            "youth", group="group"),
        "synthetic_control": lambda: policy.synthetic_control(
            data("navigator_law_panel"), "runaways_per_1k", "state", "year", "MN", 2015,
            placebo=False),
        "synthetic_did": lambda: policy.synthetic_did(
            data("navigator_law_panel"), "runaways_per_1k", "state", "year", "navigator_law",
            reps=20, seed=1),
        "interrupted_time_series": lambda: policy.interrupted_time_series(
            data("county_identifications"), "youth_identified", "month", "2022-01",
            family="quasipoisson", harmonics=1),
    }
    return cases[name]()


ESTIMATORS = ["paired_change", "signed_rank", "mcnemar", "reliable_change", "attrition",
              "compare_groups", "compare_proportions", "kaplan_meier", "logrank", "cox",
              "ph_test", "rmst", "cumulative_incidence", "staggered", "aggregate simple",
              "aggregate group", "aggregate dynamic", "aggregate calendar", "twfe",
              "wild_cluster_bootstrap", "event_study", "two_by_two", "bacon_decomposition",
              "meta_analysis", "poisson_twfe", "honest_did", "fine_gray",
              "mean_cumulative_function", "synthetic_control", "synthetic_did",
              "interrupted_time_series"]


def _public_result_types() -> set[type]:
    out = set()
    for module in (did, prepost, survival, meta, policy):
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if inspect.isclass(obj) and issubclass(obj, Result):
                out.add(obj)
    return out


def test_every_public_result_type_is_walked():
    # a new public estimator must be added to ESTIMATORS, or this fails
    missing = _public_result_types() - {type(build(n)) for n in ESTIMATORS}
    assert not missing, sorted(t.__name__ for t in missing)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_to_frame_starts_with_the_contract_columns(name):
    res = build(name)
    frame = res.to_frame()
    assert tuple(frame.columns[:6]) == FRAME_COLUMNS, list(frame.columns)
    assert len(frame) >= 1
    assert all(isinstance(t, str) for t in frame["term"])
    for c in FRAME_COLUMNS[1:]:
        assert pd.api.types.is_float_dtype(frame[c]), f"{c} is {frame[c].dtype}"
    # summary, HTML and JSON-ready dict work on every result
    assert res.summary() and res._repr_html_().startswith("<div")
    assert isinstance(res.to_dict(), dict)


def test_tests_are_test_results():
    cs, dyn, tw = build("staggered"), build("aggregate dynamic"), build("twfe")
    es, tt = build("event_study"), build("two_by_two")
    for test in (cs.pretest, dyn.pretest, es.pretest, tw.wild, tt.wild):
        assert isinstance(test, TestResult)
        assert isinstance(test.method, str) and test.method
        assert 0 <= test.p_value <= 1
    # R did::att_gt on mpdta: "P-value for pre-test of parallel trends assumption: 0.16812"
    assert cs.pretest.p_value == pytest.approx(0.16812, abs=5e-6) and cs.pretest.df == 5
    assert dyn.pretest.statistic == pytest.approx(
        special.chdtri(dyn.pretest.df, dyn.pretest.p_value), rel=1e-6)
    assert isinstance(tw.wild, did.WildBootstrap) and tw.wild.clusters == 51
    frame = tw.wild.to_frame()
    assert frame.loc[0, "ci_low"] == tw.wild.ci_low and frame.loc[0, "p_value"] == tw.wild.p_value


def test_aggregate_p_value_is_the_two_sided_normal_p():
    for agg in (build(n) for n in ESTIMATORS if n.startswith("aggregate ")):
        # as the report computed it before the aggregate carried it
        assert agg.p_value == float(2 * special.ndtr(-abs(agg.estimate / agg.se)))
        assert agg.to_frame().loc[0, "p_value"] == agg.p_value
        for _, row in agg.table.iterrows():
            z = row["estimate"] / row["se"]
            assert row["p_value"] == pytest.approx(2 * special.ndtr(-abs(z)), rel=1e-12)
    # R did::aggte(type = "simple") on mpdta: ATT -0.0399512751551763, SE 0.0120340127701854
    simple = build("aggregate simple")
    z = -0.0399512751551763 / 0.0120340127701854
    assert simple.p_value == pytest.approx(2 * special.ndtr(-abs(z)), rel=1e-6)


def test_twfe_frame_keeps_its_t_based_inference():
    tw = build("twfe")
    row = tw.to_frame().iloc[0]
    assert row["p_value"] == pytest.approx(2 * special.stdtr(tw.df, -abs(row["t"])))
    q = special.stdtrit(tw.df, 0.975)
    assert row["ci_high"] - row["ci_low"] == pytest.approx(2 * q * tw.se[0])


# -- options --------------------------------------------------------------------------------


OPTIONS: list[tuple[str, Callable[..., Any], dict[str, Any], str]] = [
    ("alternative", lambda d, **k: prepost.signed_rank(d, pre="ts_intake", post="ts_6mo", **k),
     {"alternative": "both"}, "two-sided"),
    ("boundary", lambda d, **k: prepost.attrition(d, "ts_intake", "ts_6mo", **k),
     {"boundary": "liberal"}, "optimistic"),
    ("criterion", lambda d, **k: prepost.reliable_change(d, "ts_intake", "ts_6mo",
                                                         reliability=0.8, **k),
     {"criterion": "d"}, "'c' or None"),
]


@pytest.mark.parametrize("option, call, kwargs, allowed", OPTIONS,
                         ids=[o[0] for o in OPTIONS])
def test_bad_prepost_options_name_the_option_and_the_allowed_values(option, call, kwargs,
                                                                     allowed):
    with pytest.raises(EvalOptionError, match=option) as err:
        call(data("mentoring_site_a"), **kwargs)
    assert allowed in str(err.value) and repr(kwargs[option]) in str(err.value)
    assert isinstance(err.value, ValueError) and isinstance(err.value, evalkit.EvalkitError)
    assert err.value.option == option


def test_bad_survival_did_and_meta_options():
    placement, mpdta = data("placement_runaway"), data("mpdta")
    calls = [
        (lambda: survival.cox(placement, "days", "ran_away", ["age"], ties="exact"), "ties",
         ("efron", "breslow")),
        (lambda: survival.kaplan_meier(placement, "days", "ran_away", conf_type="arcsin"),
         "conf_type", ("log", "log-log", "plain")),
        (lambda: did.staggered(mpdta, "lemp", "countyreal", "year", "first.treat",
                               control_group="never"), "control_group",
         ("nevertreated", "notyettreated")),
        (lambda: did.staggered(mpdta, "lemp", "countyreal", "year", "first.treat",
                               est_method="ols"), "est_method", ("dr", "reg", "ipw")),
        (lambda: meta.meta_analysis([0.1, 0.2], [0.01, 0.02], method="HE"), "method",
         ("REML", "DL")),
    ]
    for call, option, allowed in calls:
        with pytest.raises(EvalOptionError) as err:
            call()
        assert err.value.option == option and err.value.allowed == allowed
        assert str(err.value).startswith(f"{option} must be one of ")


def test_aggregate_kind_is_checked():
    cs = build("staggered")
    with pytest.raises(EvalOptionError, match="kind must be one of 'simple', 'group', "
                                              "'dynamic' or 'calendar', not 'weekly'"):
        cs.aggregate("weekly")


def test_option_error_survives_pickling():
    import pickle

    err = pickle.loads(pickle.dumps(EvalOptionError("ties", "exact", ("efron", "breslow"))))
    assert str(err) == "ties must be one of 'efron' or 'breslow', not 'exact'"
    assert err.option == "ties" and err.allowed == ("efron", "breslow")

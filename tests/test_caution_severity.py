"""Whether each caution limits what can be concluded (``Caution.limits``).

A caution limits the conclusion when the result's own numbers are weaker than they look (an
interval that may be too narrow, an average over fewer cells than asked, a check that could not
be run, an achieved confidence level below the one asked for); it only informs when it names a
convention or a part of the output that is not the headline (a small cohort's own cells, the
two-way fixed-effects number that the Bacon decomposition describes). Limiting cautions on a
report's headline lower its evidence rating, so the flag matters as much as the text.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE, SAMPLE

from evalkit import prepost as pp
from evalkit.did import bacon_decomposition, staggered, twfe
from evalkit.methods.did.staggered import MIN_TREATED_UNITS
from evalkit.methods.meta import meta_analysis
from evalkit.privacy import redact_small_counts
from evalkit.results import Caution, limiting

ARGS = ("lemp", "countyreal", "year", "first.treat")

SMALL = pd.DataFrame({
    "pre": [10, 12, 9, 14, 11, 13, 8, 15, 12, 10],
    "post": [12, 15, 9, 17, 10, 16, 9, 18, 15, 11],
    "group": [0, 0, 0, 0, 0, 1, 1, 1, 1, 1],
    "cl3": list("abcabcabca"),
})


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "mpdta.csv")


def one(cautions, text: str) -> Caution:
    """The single caution containing ``text``; every caution must be an explicit Caution."""
    assert all(isinstance(c, Caution) for c in cautions), cautions
    hits = [c for c in cautions if text in c]
    assert len(hits) == 1, (text, cautions)
    return hits[0]


def test_few_clusters_in_a_group_comparison_limit_it():
    res = pp.compare_groups(SMALL, "pre", "post", "group", cluster="cl3")
    assert one(res.cautions, "Only 3 clusters in 'cl3'").limits is True
    # a secondary figure that cannot be estimated informs only: the adjusted effect stands
    # (every youth in a group changed by the same amount)
    flat = SMALL.assign(post=SMALL.pre + np.where(SMALL.group == 0, 1.0, 2.0))
    part = pp.compare_groups(flat, "pre", "post", "group")
    assert one(part.cautions, "difference in mean change cannot be estimated").limits is False


def test_signed_rank_below_the_requested_level_limits_and_the_normal_approximation_informs():
    few = pd.DataFrame({"pre": [0, 0, 0, 0], "post": [1, 2, 3, 5]})
    res = pp.signed_rank(few, "pre", "post")
    assert res.achieved_confidence < 0.95
    c = one(res.cautions, "cannot reach the requested 95% confidence")
    assert c.limits is True
    # the count of youth is written so that a report's redaction hides it
    assert "4 youth" in c and "fewer than 11 youth" in redact_small_counts(c, 11)
    tied = pd.DataFrame({"pre": [0] * 12, "post": [1, 1, 2, 2, 3, 3, 4, 5, 6, -1, -2, 7]})
    assert one(pp.signed_rank(tied, "pre", "post").cautions,
               "normal approximation").limits is False


def test_a_small_paired_sample_limits_the_interval_and_its_count_is_redacted():
    d = pd.DataFrame({"pre": [10, 12, 9, 14, 11, 13], "post": [12, 15, 9, 17, 10, 16]})
    c = one(pp.paired_change(d, "pre", "post").cautions, "measured both times")
    assert c.limits is True
    assert redact_small_counts(c, 11).startswith("Fewer than 11 youth were measured")


def test_staggered_small_cohorts_inform_but_few_treated_units_limit(mpdta):
    panel = pd.read_csv(SAMPLE / "safe_harbor_panel.csv")
    res = staggered(panel, "reports_per_100k", "state", "year", "first_law_year")
    small = one(res.cautions, "fewer than 5 units")
    assert small.limits is False
    simple = res.aggregate("simple")
    assert small in simple.cautions and small not in limiting(simple.cautions)

    keep = mpdta.groupby("countyreal")["first.treat"].first()
    ids = list(keep[keep == 0].index) + list(keep[keep > 0].index[:MIN_TREATED_UNITS])
    few = staggered(mpdta[mpdta["countyreal"].isin(ids)], *ARGS)
    c = one(few.cautions, f"Only {MIN_TREATED_UNITS} treated units")
    assert c.limits is True and c in limiting(few.aggregate("simple").cautions)


def test_staggered_r_rules_inform_and_missing_variance_limits_only_the_overall(mpdta):
    late = mpdta.assign(**{"first.treat": mpdta["first.treat"].replace(2007, 2009)})
    assert one(staggered(late, *ARGS).cautions, "never treated").limits is False
    flat = staggered(mpdta.assign(lemp=5.0), *ARGS)
    assert one(flat.cautions, "sampling variance of zero").limits is False
    assert one(flat.cautions, "pre-trend test cannot be computed").limits is False
    simple = flat.aggregate("simple")
    assert one(simple.cautions, "overall simple effect has no standard error").limits is True
    dyn = flat.aggregate("dynamic")
    # the event-time pre-trend test is the design check the report relies on
    assert one(dyn.cautions, "event-time pre-trend test cannot be computed").limits is True
    assert one(dyn.cautions, "have no standard error").limits is False
    # an event time whose effect is 0 because nothing changes is not a reference period
    assert not any("reference period" in c for c in dyn.cautions)


def test_bacon_share_of_later_vs_earlier_comparisons_informs(mpdta):
    ft = mpdta["first.treat"]
    d = mpdta.assign(D=((ft > 0) & (mpdta["year"] >= ft)).astype(int))
    b = bacon_decomposition(d, "lemp", "countyreal", "year", "D")
    share = b.table.loc[b.table["type"] == "later vs earlier treated", "weight"].sum()
    assert share > 0
    assert one(b.cautions, "already-treated units as the comparison group").limits is False
    assert limiting(b.cautions) == ()


def test_twfe_few_clusters_and_a_coarse_wild_bootstrap_limit(mpdta):
    ft = mpdta["first.treat"]
    d = mpdta.assign(D=((ft > 0) & (mpdta["year"] >= ft)).astype(int),
                     region=mpdta["countyreal"] % 5)
    res = twfe(d, "lemp", "countyreal", "year", "D", cluster="region", wild_bootstrap=999,
               seed=1)
    assert one(res.cautions, "Only 5 clusters").limits is True
    assert one(res.cautions, "possible sign patterns").limits is True
    # zero weights dropped as R's lm does only inform
    w = d.assign(w=np.where(np.arange(len(d)) == 0, 0.0, 1.0))
    assert one(twfe(w, "lemp", "countyreal", "year", "D", weights="w").cautions,
               "zero weight").limits is False


def test_two_programs_limit_a_meta_analysis():
    res = meta_analysis([0.2, 0.4], [0.01, 0.02])
    assert one(res.cautions, "Only 2 programs").limits is True

"""evalkit.report.survival: wording, privacy and the results document of a survival report."""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.privacy import SUPPRESSED
from evalkit.report import resultsdoc
from evalkit.report.survival import SurvivalReport
from evalkit.survival import (
    cox,
    cumulative_incidence,
    kaplan_meier,
    logrank,
    ph_test,
    rmst,
)


def _data(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat([1, 0], n // 2)
    t = rng.exponential(np.where(g == 1, 120, 70))
    c = rng.uniform(60, 400, n)
    other = rng.exponential(600, n)
    time = np.ceil(np.minimum.reduce([t, c, other]))
    kind = np.select([time == np.ceil(t), time == np.ceil(other)], [1, 2], 0)
    return pd.DataFrame({"days": time, "event": (kind == 1).astype(int), "kind": kind,
                         "g": g, "age": rng.integers(12, 18, n)})


def _report(d: pd.DataFrame, *, incidence: bool = True, threshold: int = 11) -> SurvivalReport:
    km = kaplan_meier(d, "days", "event", group="g")
    fit = cox(d, "days", "event", ["g", "age"])
    return SurvivalReport(
        d, km, logrank(d, "days", "event", "g"), fit, ph_test(fit),
        rmst(d, "days", "event", "g", tau=60, order=(0, 1)), duration="days", event="event",
        group="g", program_label="the program", comparison_label="usual care",
        event_label="ran away", times=(30, 60), threshold=threshold,
        competing="reunification" if incidence else "",
        incidence=cumulative_incidence(d, "days", "kind", group="g") if incidence else None)


def test_headline_uses_cumulative_incidence_when_competing_exits_are_recorded():
    d = _data(400)
    rep = _report(d)
    ci = rep.incidence.at([60])
    prog = ci[(ci["group"] == "1") & (ci["cause"] == "1")]["estimate"].iloc[0]
    assert f"{100 * prog:.0f}% of youth in the program ran away" in rep.headline()
    km_only = _report(d, incidence=False)
    surv = km_only.km.at([60])
    one_minus = 1 - surv[surv["group"] == "1"]["surv"].iloc[0]
    assert f"{100 * one_minus:.0f}% of youth in the program ran away" in km_only.headline()
    assert one_minus > prog  # 1 - KM overstates the share when other exits compete


def test_results_document_and_checks():
    rep = _report(_data(400))
    doc = rep.results_document()
    assert resultsdoc.problems(doc, partial=True) == []
    assert doc["design"]["code"] == "time_to_event_comparison"
    assert doc["headline"]["effect_size"]["name"] == "hazard_ratio"
    assert doc["checks"]["proportional_hazards"]["holds"] in (True, False)
    assert any(e["term"].startswith("cumulative incidence at 60") for e in doc["estimates"])


def test_small_groups_are_withheld_and_small_counts_suppressed():
    d = _data(400)
    small = pd.concat([d[d["g"] == 0], d[d["g"] == 1].head(8)])
    rep = _report(small, incidence=False)
    assert not rep.reportable and "withheld" in rep.headline()
    doc = rep.results_document()
    assert doc["headline"]["estimate"] is None and doc["estimates"] == []
    assert SUPPRESSED in rep.data_section().html
    assert "<img" not in rep.findings().html

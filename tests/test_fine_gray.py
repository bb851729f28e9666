"""Fine–Gray regression against R's cmprsk::crr (tests/reference/fine_gray_*)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.exceptions import EvalDataError
from evalkit.methods.cox import cox
from evalkit.methods.fine_gray import FineGray, fine_gray
from evalkit.results import FRAME_COLUMNS

REF = Path(__file__).parent / "reference"
ROOT = Path(__file__).parent.parent
SYNTH = pd.read_csv(REF / "fine_gray_synth.csv")
RUNAWAY = pd.read_csv(ROOT / "data" / "sample" / "placement_runaway.csv")
R = pd.read_csv(REF / "fine_gray_R.csv")
COV3 = ["group", "age", "score"]
COV4 = ["specialized", "age", "prior_runaways", "prior_placements"]


def _recoded() -> pd.DataFrame:
    d = SYNTH.copy()
    even = (np.arange(len(d)) + 1) % 2 == 0
    d["status"] = np.where(d.status == 0, 9, np.where((d.status == 2) & even, 3, d.status))
    return d


CASES = {
    "synth_cause1": (lambda: SYNTH, "time", "status", COV3, {"cause": 1}),
    "synth_cause2": (lambda: SYNTH, "time", "status", COV3, {"cause": 2}),
    "synth_group_only": (lambda: SYNTH, "time", "status", ["group"], {}),
    "synth_recoded": (_recoded, "time", "status", COV3, {"cause": 1, "censored": 9}),
    "synth_maxiter1": (lambda: SYNTH, "time", "status", COV3, {"max_iter": 1}),
    "synth_nocens": (lambda: SYNTH[SYNTH.status != 0], "time", "status", COV3, {}),
    "runaway_cause1": (lambda: RUNAWAY, "days", "outcome", ["specialized", "age"], {}),
    "runaway4_cause1": (lambda: RUNAWAY, "days", "outcome", COV4, {"cause": 1}),
    "runaway4_cause2": (lambda: RUNAWAY, "days", "outcome", COV4, {"cause": 2}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_matches_crr(name: str) -> None:
    make, t, e, cov, kw = CASES[name]
    res = fine_gray(make(), t, e, cov, **kw)
    ref = R[R.fit == name]
    assert list(ref.term) == list(res.terms)
    np.testing.assert_allclose(res.coef, ref.coef, rtol=1e-6)
    np.testing.assert_allclose(res.se, ref.se, rtol=1e-6)
    var = np.array([[float(x) for x in row.split(";")] for row in ref.var_row])
    np.testing.assert_allclose(res.var, var, rtol=1e-6, atol=1e-12)
    assert res.loglik == pytest.approx(ref.loglik.iloc[0], rel=1e-9)
    assert res.loglik_null == pytest.approx(ref.loglik_null.iloc[0], rel=1e-9)
    assert res.converged == bool(ref.converged.iloc[0])
    assert res.n == ref.n.iloc[0]


def test_not_converged_is_cautioned() -> None:
    res = fine_gray(SYNTH, "time", "status", COV3, max_iter=1)
    assert not res.converged and res.iterations == 1
    assert any("did not converge" in c for c in res.cautions)
    assert fine_gray(SYNTH, "time", "status", COV3).iterations > 1


def test_result_shape_and_intervals() -> None:
    res = fine_gray(RUNAWAY, "days", "outcome", ["specialized", "age"], alpha=0.1)
    assert isinstance(res, FineGray)
    frame = res.to_frame()
    assert list(frame.columns[:6]) == list(FRAME_COLUMNS)
    assert list(frame.columns[6:]) == ["shr", "shr_ci_low", "shr_ci_high"]
    z = 1.6448536269514722
    np.testing.assert_allclose(frame.ci_low, res.coef - z * res.se)
    np.testing.assert_allclose(frame.shr_ci_high, np.exp(res.coef + z * res.se))
    np.testing.assert_allclose(res.ci, np.column_stack([res.ci_low, res.ci_high]))
    assert frame.p_value.iloc[0] == pytest.approx(
        math.erfc(abs(res.coef[0] / res.se[0]) / math.sqrt(2)))
    counts = RUNAWAY.outcome.value_counts()
    assert res.n_events == {"1": counts[1], "2": counts[2]}
    assert res.n_censored == counts[0]
    assert res.to_dict()["n_events"] == {"1": int(counts[1]), "2": int(counts[2])}
    assert "Fine–Gray" in res.summary()


def test_text_event_codes() -> None:
    d = SYNTH.assign(status=SYNTH.status.map({0: "none", 1: "runaway", 2: "reunified"}))
    res = fine_gray(d, "time", "status", COV3, cause="runaway", censored="none")
    ref = fine_gray(SYNTH, "time", "status", COV3)
    np.testing.assert_allclose(res.coef, ref.coef, rtol=1e-12)
    np.testing.assert_allclose(res.se, ref.se, rtol=1e-12)
    assert res.n_events == {"reunified": 133, "runaway": 198}


def test_no_competing_events_is_cox_breslow_robust() -> None:
    # Without competing events every weight is 1: the model is Cox's with Breslow ties and
    # crr's sandwich is the robust (Lin–Wei) variance (a tight gtol: crr's default stops
    # about 1e-6 short of coxph's maximum).
    d = SYNTH[SYNTH.status != 2].assign(event=lambda x: (x.status == 1).astype(int))
    fg = fine_gray(d, "time", "status", COV3, gtol=1e-12, max_iter=50)
    cx = cox(d, "time", "event", COV3, ties="breslow", robust=True)
    np.testing.assert_allclose(fg.coef, cx.coef, rtol=1e-6)
    assert cx.robust_se is not None
    np.testing.assert_allclose(fg.se, cx.robust_se, rtol=1e-6)


def test_row_order_does_not_matter() -> None:
    shuffled = SYNTH.sample(frac=1.0, random_state=3)
    a = fine_gray(SYNTH, "time", "status", COV3)
    b = fine_gray(shuffled, "time", "status", COV3)
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-10)
    np.testing.assert_allclose(a.se, b.se, rtol=1e-10)


def test_absent_cause_names_event_type() -> None:
    with pytest.raises(EvalDataError, match="status") as err:
        fine_gray(SYNTH, "time", "status", COV3, cause=4)
    assert "no events of cause 4" in str(err.value)


def test_no_events_of_cause_after_subsetting() -> None:
    with pytest.raises(EvalDataError, match="no events of cause 2"):
        fine_gray(SYNTH[SYNTH.status != 2], "time", "status", COV3, cause=2)


def test_missing_and_constant_covariates_are_named() -> None:
    d = SYNTH.copy()
    d.loc[[3, 7], "age"] = np.nan
    with pytest.raises(EvalDataError, match="age"):
        fine_gray(d, "time", "status", COV3)
    with pytest.raises(EvalDataError, match="ghost"):
        fine_gray(SYNTH, "time", "status", ["group", "ghost"])
    with pytest.raises(EvalDataError, match="flat.*constant"):
        fine_gray(SYNTH.assign(flat=1.0), "time", "status", ["group", "flat"])
    with pytest.raises(EvalDataError, match="collinear"):
        fine_gray(SYNTH.assign(age2=SYNTH.age * 2), "time", "status", ["age", "age2"])


def test_negative_duration_and_bad_options() -> None:
    with pytest.raises(EvalDataError, match="time"):
        fine_gray(SYNTH.assign(time=SYNTH.time - 10), "time", "status", COV3)
    with pytest.raises(ValueError, match="different"):
        fine_gray(SYNTH, "time", "status", COV3, cause=0, censored=0)
    with pytest.raises(ValueError):
        fine_gray(SYNTH, "time", "status", [])
    with pytest.raises(ValueError):
        fine_gray(SYNTH, "time", "status", COV3, alpha=1.5)


def test_few_events_caution() -> None:
    small = SYNTH.iloc[:40]
    res = fine_gray(small, "time", "status", COV3)
    assert any("events of cause 1 for 3 covariates" in c for c in res.cautions)
    assert not fine_gray(SYNTH, "time", "status", COV3).cautions


def test_the_survival_report_shows_the_subdistribution_hazard_ratio(tmp_path):
    from conftest import EVALUATIONS, SAMPLE

    from evalkit.report import resultsdoc
    from evalkit.run import run_evaluation

    outcome = run_evaluation(EVALUATIONS / "placement-runaway.yaml", tmp_path)
    assert outcome.ok, outcome.message
    doc = resultsdoc.read(tmp_path / "placement-runaway" / "results.json")
    pl = pd.read_csv(SAMPLE / "placement_runaway.csv")
    ref = fine_gray(pl, "days", "outcome", ["specialized", "prior_runaways",
                                            "prior_placements", "age"], cause=1)
    got = doc["checks"]["subdistribution"]
    assert got["term"] == "specialized"
    assert got["shr"] == pytest.approx(float(ref.shr[0]), rel=1e-12)
    html = (tmp_path / "placement-runaway" / "report.html").read_text()
    assert "Subdistribution (Fine–Gray)" in html and "Two hazard ratios answer two" in html

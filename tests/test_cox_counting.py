"""Cox regression on (start, stop] data: time-varying covariates, delayed entry, recurrent
events (Andersen–Gill, Prentice–Williams–Peterson), checked against R survival's ``coxph``."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.exceptions import EvalDataError
from evalkit.methods.cox import cox, ph_test

REF = Path(__file__).parent / "reference"
COVS = ["x1", "x2", "z"]
MODELS = {"ag": {"cluster": "id"}, "pwp": {"cluster": "id", "strata": "ep"},
          "weighted": {"cluster": "id", "weights": "w"}, "plain": {}}


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return pd.read_csv(REF / "cox_counting_data.csv")


@pytest.fixture(scope="module")
def ref() -> pd.DataFrame:
    return pd.read_csv(REF / "cox_counting_R.csv", keep_default_na=False)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("model", list(MODELS))
def test_matches_r_coxph_counting(data, ref, model, ties):
    """coxph(Surv(start, stop, event) ~ x1 + x2 + z, cluster = id, ...) in R survival 3.5-3."""
    fit = cox(data, "stop", "event", COVS, start="start", ties=ties, **MODELS[model])
    r = ref[(ref.model == model) & (ref.ties == ties)]

    def get(q):
        return r[r.quantity == q].value.astype(float).to_numpy()

    np.testing.assert_allclose(fit.coef, get("coef"), rtol=0, atol=1e-10)
    np.testing.assert_allclose(fit.se, get("se"), rtol=1e-9)
    if model == "plain":
        assert fit.robust_se is None
        assert fit.wald == pytest.approx(get("wald")[0], rel=1e-9)
    else:
        np.testing.assert_allclose(fit.robust_se, get("robust_se"), rtol=1e-9)
        assert fit.n_clusters == 400
    assert fit.loglik == pytest.approx(get("loglik")[0], rel=1e-12)
    assert fit.loglik_null == pytest.approx(get("loglik_null")[0], rel=1e-12)
    assert fit.score == pytest.approx(get("score")[0], rel=1e-9)
    assert fit.concordance == pytest.approx(get("concordance")[0], rel=1e-12)
    assert fit.n == get("n")[0] and fit.n_events == get("nevent")[0]
    assert fit.iterations == get("iter")[0]
    assert fit.start == "start" and fit.to_dict()["start"] == "start"


def test_tie_rule_closed_form():
    """At an event time t, an interval ending at t is at risk and one starting at t is not.

    Rows (start, stop], event, x: A (0,5] 1 x=1; B (5,8] 1 x=0; C (0,8] 0 x=0;
    D (0,5] 0 x=1; G (0,3] 1 x=0. Risk sets: t=3 {A, C, D, G}, t=5 {A, C, D} (not B),
    t=8 {B, C}. The log-likelihood at zero is -log(4·3·2); the score equation
    1 = y/(y+1) + 2y/(2y+1), y = exp(b), gives y = 1/sqrt(2), b = -log(2)/2.
    """
    d = pd.DataFrame({"start": [0, 5, 0, 0, 0], "stop": [5, 8, 8, 5, 3],
                      "event": [1, 1, 0, 0, 1], "x": [1, 0, 0, 1, 0]})
    for ties in ("efron", "breslow"):
        fit = cox(d, "stop", "event", ["x"], start="start", ties=ties)
        assert fit.loglik_null == pytest.approx(-math.log(24), rel=1e-14)
        assert fit.coef[0] == pytest.approx(-math.log(2) / 2, abs=1e-9)


def _split(d: pd.DataFrame, at: float) -> pd.DataFrame:
    """Each row whose (0, time] covers ``at`` split into (0, at] (censored) and (at, time]."""
    d = d.assign(start=0.0, id=np.arange(len(d)))
    cut = d[d.time > at]
    first = cut.assign(time=float(at), event=0)
    second = cut.assign(start=float(at))
    return pd.concat([d[d.time <= at], first, second], ignore_index=True)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_split_follow_up_gives_the_same_fit(ties):
    """Splitting follow-up at a day with tied events changes nothing, robust SEs included."""
    rng = np.random.default_rng(3)
    n = 300
    X = rng.normal(size=(n, 2))
    t = np.ceil(rng.exponential(20 * np.exp(-X @ [0.5, -0.3])))
    c = np.ceil(rng.uniform(1, 60, n))
    d = pd.DataFrame({"time": np.minimum(t, c), "event": (t <= c).astype(int),
                      "a": X[:, 0], "b": X[:, 1], "w": rng.uniform(0.5, 2, n)})
    at = float(d.time[d.event == 1].value_counts().idxmax())  # the day with most events
    one = cox(d.assign(id=np.arange(n)), "time", "event", ["a", "b"], ties=ties,
              cluster="id", weights="w")
    many = cox(_split(d, at), "time", "event", ["a", "b"], start="start", ties=ties,
               cluster="id", weights="w")
    np.testing.assert_allclose(many.coef, one.coef, rtol=1e-10)
    np.testing.assert_allclose(many.se, one.se, rtol=1e-10)
    np.testing.assert_allclose(many.robust_se, one.robust_se, rtol=1e-10)
    assert many.loglik == pytest.approx(one.loglik, rel=1e-13)
    assert many.concordance == pytest.approx(one.concordance, rel=1e-13)
    assert many.n == len(_split(d, at)) and many.n_events == one.n_events
    # start = 0 everywhere is the single-interval model
    zero = cox(d.assign(s=0.0), "time", "event", ["a", "b"], start="s", ties=ties)
    plain = cox(d, "time", "event", ["a", "b"], ties=ties)
    np.testing.assert_allclose(zero.coef, plain.coef, rtol=1e-12)
    np.testing.assert_allclose(zero.se, plain.se, rtol=1e-12)
    assert zero.concordance == pytest.approx(plain.concordance, rel=1e-14)


def test_delayed_entry_changes_the_fit(data):
    """Ignoring late entry (start = 0) fits different risk sets, so a different model."""
    late = cox(data, "stop", "event", COVS, start="start")
    ignored = cox(data.assign(start=0.0), "stop", "event", COVS, start="start")
    assert abs(late.loglik - ignored.loglik) > 1


def test_reversed_or_empty_intervals_are_named(data):
    d = data.copy()
    d.loc[[3, 10], "stop"] = d.loc[[3, 10], "start"]  # zero length
    d.loc[20, "start"] = d.loc[20, "stop"] + 5  # reversed
    with pytest.raises(EvalDataError) as e:
        cox(d, "stop", "event", COVS, start="start", cluster="id")
    p = e.value.problems[0]
    assert p.column == "start" and p.rows == (4, 11, 21) and p.n_rows == 3
    assert "3 youth" in p.message


def test_rounding_collapses_an_interval():
    d = pd.DataFrame({"start": [0, 1.0, 0, 0], "stop": [1.0, 1.0 + 1e-12, 3, 2],
                      "event": [1, 1, 0, 1], "x": [0, 1, 1, 0]})
    with pytest.raises(EvalDataError, match="timefix") as e:
        cox(d, "stop", "event", ["x"], start="start")
    assert e.value.problems[0].rows == (2,)


@pytest.mark.parametrize("bad", [-1.0, np.nan])
def test_negative_or_missing_start(data, bad):
    d = data.copy()
    d.loc[7, "start"] = bad
    with pytest.raises(EvalDataError) as e:
        cox(d, "stop", "event", COVS, start="start")
    assert any(p.column == "start" for p in e.value.problems)


def test_ph_test_refuses_counting_fit(data):
    fit = cox(data, "stop", "event", COVS, start="start")
    with pytest.raises(ValueError, match="start, stop"):
        ph_test(fit)


def test_a_time_varying_covariate_missing_on_some_intervals_is_named():
    import numpy as np
    import pandas as pd

    from evalkit.exceptions import EvalDataError
    from evalkit.methods.cox import cox

    d = pd.read_csv(Path(__file__).parent / "reference" / "cox_counting_data.csv")
    d.loc[d.index[3:6], "z"] = np.nan
    with pytest.raises(EvalDataError, match=r"column 'z': values are missing in 3 rows "
                                            r"\(rows 4, 5, 6\)"):
        cox(d, "stop", "event", ["x1", "z"], start="start")

"""A missing first-treatment period means never treated (issue 10, the evaluator's path).

``staggered(..., never_treated=None)`` reads a missing ``first_treated`` as never treated; the
numbers must be R's ``did`` on the same panel coded with 0 (``mpdta``, R did 2.5.0).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE

from evalkit.did import staggered


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "mpdta.csv")


def test_missing_first_treated_is_never_treated_as_r_codes_zero(mpdta):
    # R did 2.5.0 att_gt(..., control_group = "nevertreated", bstrap = FALSE) on first.treat = 0
    r = pd.read_csv(REFERENCE / "mpdta_attgt_nevertreated_R.csv")
    na = mpdta.assign(**{"first.treat": mpdta["first.treat"].where(mpdta["first.treat"] != 0)})
    assert na["first.treat"].isna().sum() == 309 * 5
    res = staggered(na, "lemp", "countyreal", "year", "first.treat", never_treated=None)
    m = res.att_gt.merge(r, on=["group", "time"], suffixes=("", "_r"))
    assert len(m) == 12
    np.testing.assert_allclose(m["att"], m["att_r"], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(m["se"], m["se_r"], rtol=1e-9)
    # aggte(type = "simple"): -0.0399512751551763 (SE 0.0120340127701854)
    assert res.aggregate("simple").estimate == pytest.approx(-0.0399512751551763, rel=1e-10)


def test_missing_first_treated_read_from_a_file_as_empty_text(mpdta, tmp_path):
    from evalkit.data import read

    p = tmp_path / "panel.csv"
    mpdta.assign(**{"first.treat": mpdta["first.treat"].map(lambda v: "" if v == 0 else
                                                             str(v))}).to_csv(p, index=False)
    res = staggered(read(p), "lemp", "countyreal", "year", "first.treat", never_treated=None)
    ref = staggered(mpdta, "lemp", "countyreal", "year", "first.treat")
    np.testing.assert_array_equal(res.att_gt["att"], ref.att_gt["att"])


def test_with_never_treated_none_period_zero_is_an_adoption_period():
    # periods 0..5; cohorts adopt in periods 0 (dropped: treated in the first period, as R),
    # 2 and 3; never-treated units have no adoption period at all
    rng = np.random.default_rng(11)
    first = [0] * 3 + [2] * 12 + [3] * 12 + [np.nan] * 15
    rows = [(f"u{u}", t, f, u * 0.1 + t + (0 if np.isnan(f) or t < f else 1.0)
             + rng.normal(0, 0.1)) for u, f in enumerate(first) for t in range(6)]
    df = pd.DataFrame(rows, columns=["id", "t", "g", "y"])
    res = staggered(df, "y", "id", "t", "g", never_treated=None)
    assert sorted(res.att_gt["group"].unique()) == [2, 3]
    assert any("already treated in the first period" in str(c) for c in res.cautions)
    # the effect built in is 1 after adoption
    assert res.aggregate("simple").estimate == pytest.approx(1.0, abs=0.1)

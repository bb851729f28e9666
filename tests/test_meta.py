"""Random-effects meta-analysis against R metafor 3.8-1 (tests/reference/meta_reference.R)."""

from __future__ import annotations

import pytest
from conftest import r_reference

from evalkit.methods.meta import meta_analysis

YI = [-0.63, -0.21, -0.48, -0.35, -0.10]
VI = [0.0070, 0.0115, 0.0234, 0.0150, 0.0300]
CASES = {
    "reml_knha": (YI, VI, "REML", True),
    "reml_z": (YI, VI, "REML", False),
    "dl_z": (YI, VI, "DL", False),
    "dl_knha": (YI, VI, "DL", True),
    "two_reml_knha": ([-0.63, -0.21], [0.0070, 0.0115], "REML", True),
    "homog_reml_knha": ([0.30, 0.32, 0.29, 0.31], [0.02, 0.03, 0.025, 0.04], "REML", True),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_equals_metafor_rma(case):
    y, v, method, hk = CASES[case]
    r = r_reference("meta_reference.txt", case)
    res = meta_analysis(y, v, method=method, hartung_knapp=hk)
    # metafor stops its REML Fisher scoring when tau² moves by less than 1e-5, so its REML
    # numbers carry that error; DerSimonian-Laird is closed-form and agrees to rounding
    rel = 1e-4 if method == "REML" else 1e-8
    assert res.tau2 == pytest.approx(r["tau2"], rel=rel, abs=1e-9)
    assert res.estimate == pytest.approx(r["estimate"], rel=rel)
    assert res.se == pytest.approx(r["se"], rel=rel)
    assert (res.ci_low, res.ci_high) == pytest.approx((r["ci_low"], r["ci_high"]), rel=rel)
    assert (res.pi_low, res.pi_high) == pytest.approx((r["pi_low"], r["pi_high"]), rel=rel)
    assert res.p_value == pytest.approx(r["pval"], rel=10 * rel)
    assert res.i2 == pytest.approx(r["I2"], rel=rel, abs=1e-8)
    assert res.q == pytest.approx(r["QE"], rel=1e-9)


def test_input_checks():
    with pytest.raises(ValueError, match="at least two"):
        meta_analysis([0.1], [0.01])
    with pytest.raises(ValueError, match="positive"):
        meta_analysis([0.1, 0.2], [0.01, 0.0])
    with pytest.raises(ValueError, match="REML"):
        meta_analysis([0.1, 0.2], [0.01, 0.02], method="PM")

"""pyfixest fepois on poisson_panel.csv -> poisson_pyfixest.json (reference for poisson_twfe).

Run in an environment with pyfixest (not needed by the test suite):
    python3.11 -m venv /tmp/peer && /tmp/peer/bin/pip install pyfixest
    /tmp/peer/bin/python tests/reference/poisson_pyfixest.py
"""

import json
from pathlib import Path

import pandas as pd
import pyfixest as pf

here = Path(__file__).parent
d = pd.read_csv(here / "poisson_panel.csv")
cases = {
    "crv1_unit_offset": ("arrests ~ treated | unit + period", {"CRV1": "unit"}, "log_pop"),
    "iid_offset": ("arrests ~ treated | unit + period", "iid", "log_pop"),
    "hetero_offset": ("arrests ~ treated | unit + period", "hetero", "log_pop"),
    "crv1_region_offset": ("arrests ~ treated | unit + period", {"CRV1": "region"}, "log_pop"),
    "crv1_unit_no_offset": ("arrests ~ treated | unit + period", {"CRV1": "unit"}, None),
}
out = {"pyfixest": pf.__version__, "fixef_tol": 1e-10, "iwls_tol": 1e-10, "cases": {}}
for name, (fml, vcov, offset) in cases.items():
    fit = pf.fepois(fml, data=d, vcov=vcov, offset=offset, fixef_tol=1e-10, iwls_tol=1e-10)
    tidy = fit.tidy().loc["treated"]
    out["cases"][name] = {"coef": float(tidy["Estimate"]), "se": float(tidy["Std. Error"]),
                          "p": float(tidy["Pr(>|t|)"]), "ci_low": float(tidy["2.5%"]),
                          "ci_high": float(tidy["97.5%"]), "nobs": int(fit._N)}
(here / "poisson_pyfixest.json").write_text(json.dumps(out, indent=2) + "\n")
print(json.dumps(out, indent=2))

"""ATT(g,t) and analytic SEs on mpdta from csdid (the Python port of R's did), for scenarios
the shipped R output does not cover: covariates with each estimation method, and the
not-yet-treated comparison group.

R's did is not installable here (not in Debian; CRAN unreachable); csdid reproduces the shipped
R never-treated results to 1e-6, and its dr-with-lpop estimates equal those printed in R did's
README (-0.0145, -0.0764, -0.1404, -0.1069 for cohort 2004). Run with csdid installed (it needs
pandas < 3):

    /tmp/bench/bin/python tests/reference/mpdta_csdid_reference.py
"""

import contextlib
import io
from pathlib import Path

import pandas as pd
from csdid.att_gt import ATTgt

HERE = Path(__file__).resolve().parent
data = pd.read_csv(HERE / "mpdta.csv")
rows = []
for control in ("nevertreated", "notyettreated"):
    for xformla, label in ((None, "none"), ("lemp~lpop", "lpop")):
        for method in ("dr", "reg", "ipw"):
            if label == "none" and method != "dr":
                continue  # identical without covariates
            with contextlib.redirect_stdout(io.StringIO()):
                fit = ATTgt(yname="lemp", gname="first.treat", idname="countyreal",
                            tname="year", data=data, control_group=control,
                            xformla=xformla).fit(est_method=method, bstrap=False)
            r = fit.results
            for g, t, att, se in zip(r["group"], r["year"], r["att"], r["se"], strict=True):
                rows.append({"control_group": control, "covariates": label,
                             "est_method": method, "group": int(g), "time": int(t),
                             "att": att, "se": se})
out = pd.DataFrame(rows)
out.to_csv(HERE / "mpdta_csdid_reference.csv", index=False, float_format="%.15g")
print(out.groupby(["control_group", "covariates", "est_method"]).size())

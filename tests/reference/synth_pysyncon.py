"""pysyncon 1.7.0 on the Basque data with R Synth's V: the weights and loss in synth_pysyncon.json.

pysyncon is a cross-check of the synthetic control weights given V (R Synth is the reference,
synth_reference_R.csv). Run from the repository root with pysyncon installed:
    python tests/reference/synth_pysyncon.py
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pysyncon

HERE = Path(__file__).resolve().parent
BASQUE = "Basque Country (Pais Vasco)"

d = pd.read_csv(HERE / "synth_basque.csv")
ref = pd.read_csv(HERE / "synth_reference_R.csv")
v = ref[(ref["case"] == "basque") & (ref["kind"] == "v")]["value"].to_numpy()
controls = sorted(set(d["regionname"]) - {BASQUE})
dp = pysyncon.Dataprep(
    foo=d, predictors=["school.illit", "school.prim", "school.med", "school.high",
                       "school.post.high", "invest"],
    predictors_op="mean", time_predictors_prior=range(1964, 1970),
    special_predictors=[("gdpcap", range(1960, 1970), "mean")]
    + [(c, range(1961, 1970, 2), "mean") for c in (
        "sec.agriculture", "sec.energy", "sec.industry", "sec.construction",
        "sec.services.venta", "sec.services.nonventa")] + [("popdens", [1969], "mean")],
    dependent="gdpcap", unit_variable="regionname", time_variable="year",
    treatment_identifier=BASQUE, controls_identifier=controls,
    time_optimize_ssr=range(1960, 1970))
s = pysyncon.Synth()
s.fit(dp, custom_V=v)
out = {"pysyncon": "1.7.0", "weights": dict(zip(controls, np.asarray(s.W).tolist(), strict=True)),
       "loss_V": float(s.loss_V)}
(HERE / "synth_pysyncon.json").write_text(json.dumps(out, indent=1) + "\n")

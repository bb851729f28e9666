"""Writes wild_enumeration_data.csv (run from the repository root; deterministic)."""

import numpy as np
import pandas as pd

rng = np.random.default_rng(20261128)
rows = []
for G in (2, 3, 4, 6, 8):
    for g in range(G):
        m = 3 + g % 3
        shock = rng.normal()
        for _ in range(m):
            x = rng.normal() + 0.5 * shock
            y = 0.3 * x + shock + rng.normal()
            rows.append({"design": f"ols_G{G}", "cluster": f"c{g}", "unit": "", "period": 0,
                         "x": round(x, 4), "y": round(y, 4)})
for u in range(10):
    shock = rng.normal()
    first = {1: 3, 2: 4, 5: 2, 6: 3, 9: 4}.get(u, 0)
    for t in range(1, 5):
        d = int(first > 0 and t >= first)
        rows.append({"design": "twfe_G5", "cluster": f"r{u // 2}", "unit": f"u{u}", "period": t,
                     "x": d, "y": round(shock + 0.2 * t + 0.5 * d + rng.normal(), 4)})
pd.DataFrame(rows).to_csv("tests/reference/wild_enumeration_data.csv", index=False)

"""Make poisson_panel.csv: a synthetic panel of counts for the poisson_twfe references.

60 units in 10 regions over 12 periods; adoption staggered from period 5 (a third of the
units never adopt); populations grow at unit-specific rates; counts are Poisson with mean pop × exp(unit + period + 0.25·treated),
overdispersed by a gamma factor. Units 57–59 have a tiny population and no counts at all, and
period 1 has no counts anywhere (reporting had not started), so fixest drops 3 units and 1
period. Run: python tests/reference/poisson_make_panel.py
"""

from pathlib import Path

import numpy as np
import pandas as pd

rng = np.random.default_rng(20261129)
U, T = 60, 12
unit = np.repeat(np.arange(U), T)
period = np.tile(np.arange(1, T + 1), U)
first = rng.choice([0, 5, 7, 9, 11], size=U, p=[1 / 3, 1 / 6, 1 / 6, 1 / 6, 1 / 6])
treated = ((first[unit] > 0) & (period >= first[unit])).astype(int)
growth = rng.uniform(-0.02, 0.05, U)
pop = np.round(rng.uniform(2e4, 4e5, U))[unit] * (1 + growth[unit]) ** (period - 1)
a = rng.normal(0, 0.4, U)[unit]
g = (0.03 * period + rng.normal(0, 0.05, T)[period - 1])
mean = pop / 1e4 * np.exp(a + g + 0.25 * treated) * rng.gamma(4.0, 0.25, U * T)
y = rng.poisson(mean)
y[unit >= 57] = 0
y[period == 1] = 0
df = pd.DataFrame({"unit": [f"u{u:02d}" for u in unit], "region": [f"r{u % 10}" for u in unit],
                   "period": period, "first_treated": first[unit], "treated": treated,
                   "log_pop": np.log(pop).round(8), "arrests": y})
df.to_csv(Path(__file__).with_name("poisson_panel.csv"), index=False)
print(df.groupby("treated").arrests.describe())

"""Coverage of the staggered estimator's 95% intervals by number of treated units.

How ``MIN_TREATED_UNITS`` and ``FEW_TREATED_UNITS`` in ``evalkit/methods/did/staggered.py``
were chosen. Not part of the test suite (it takes minutes). Run from the repository root:

    .venv/bin/python tests/reference/did_staggered_coverage_simulation.py 2000

Design: 30 never-treated units and ``n1`` treated units, periods 1-4, one cohort adopting in
period 3; y = unit effect + period effect + 1 × treated-and-adopted + N(0, 1) error; seeded.
Reports how often the 95% interval of the ``"simple"`` aggregate and of ATT(3, 3) covers 1.
Output of the run with 2,000 replications: ``did_staggered_coverage_simulation.txt``.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
S = importlib.import_module("evalkit.methods.did.staggered")
S.MIN_TREATED_UNITS = 1  # measure what the refusal protects against


def panel(rng: np.random.Generator, n1: int, n0: int = 30, T: int = 4, g: int = 3,
          effect: float = 1.0) -> pd.DataFrame:
    n = n0 + n1
    a = rng.normal(size=n)[:, None]
    b = rng.normal(size=T)[None, :]
    first = np.r_[np.full(n1, g), np.zeros(n0)]
    tt = np.arange(1, T + 1)[None, :]
    y = a + b + effect * ((first[:, None] > 0) & (tt >= first[:, None])) \
        + rng.normal(size=(n, T))
    return pd.DataFrame({"id": np.repeat(np.arange(n), T).astype(str),
                         "t": np.tile(np.arange(1, T + 1), n),
                         "first": np.repeat(first, T).astype(int), "y": y.ravel()})


def main(reps: int) -> None:
    for n1 in [1, 2, 3, 5, 8, 10, 15, 20]:
        rng = np.random.default_rng(20261128 + n1)
        cov_s = cov_c = 0
        t0 = time.time()
        for _ in range(reps):
            res = S.staggered(panel(rng, n1), "y", "id", "t", "first")
            a = res.aggregate("simple")
            cov_s += a.ci_low <= 1.0 <= a.ci_high
            c = res.att_gt.set_index(["group", "time"]).loc[(3, 3)]
            cov_c += c.ci_low <= 1.0 <= c.ci_high
        print(f"n_treated={n1:3d} simple-coverage={cov_s / reps:.3f} "
              f"cell(3,3)-coverage={cov_c / reps:.3f} ({time.time() - t0:.1f}s)", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)

"""Synthetic difference in differences: evalkit vs the Python ``synthdid`` package, one run.

SDID on the California Proposition 99 panel (39 states, 1970–2000, California treated from
1989) with a placebo standard error of 200 replications, timed for evalkit's
``synthetic_did`` and for the ``synthdid`` package (``Synthdid(...).fit()`` and its
``placebo_se``), with the times and their ratio printed.

The ``synthdid`` package pins pandas 1.5, which evalkit cannot import, so it runs in its own
interpreter, started from this script as a subprocess that times itself:

    python3.11 -m venv /tmp/sdpeer && /tmp/sdpeer/bin/pip install synthdid
    .venv/bin/python benchmarks/bench_policy.py --peer-python /tmp/sdpeer/bin/python

Without ``--peer-python`` (or ``SYNTHDID_PYTHON``) the package is imported in this interpreter
when it can be, and skipped otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "reference" / "california_prop99.csv"

# Run by the peer interpreter: fit, then the package's placebo standard error, timed inside.
PEER = """
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import numpy as np, pandas as pd
from synthdid.synthdid import Synthdid
from synthdid.vcov import placebo_se
d = pd.read_csv(sys.argv[1], sep=";")
reps, seed = int(sys.argv[2]), int(sys.argv[3])
np.random.seed(seed)
t0 = time.perf_counter()
m = Synthdid(d, "State", "Year", "treated", "PacksPerCapita").fit()
se = placebo_se(m.data_ref, n_reps=reps)
print(json.dumps({"seconds": time.perf_counter() - t0, "estimate": float(np.ravel(m.att)[0]),
                  "se": float(se)}))
"""


def run_evalkit(data: pd.DataFrame, reps: int, seed: int) -> dict[str, float]:
    """evalkit's SDID with placebo SE: seconds, estimate, se."""
    sys.path.insert(0, str(ROOT))
    from evalkit.methods.policy.synthdid import synthetic_did

    t0 = time.perf_counter()
    r = synthetic_did(data, "PacksPerCapita", "State", "Year", "treated", estimator="sdid",
                      se_method="placebo", reps=reps, seed=seed)
    return {"seconds": time.perf_counter() - t0, "estimate": r.estimate, "se": r.se}


def run_peer(python: str | None, reps: int, seed: int) -> dict[str, float] | None:
    """The synthdid package's fit and placebo SE, in ``python`` or in this interpreter."""
    cmd = [python or sys.executable, "-c", PEER, str(DATA), str(reps), str(seed)]
    if python is None:
        try:
            import synthdid  # noqa: F401
        except ImportError:
            return None
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        print("synthdid package failed:\n" + out.stderr[-2000:], file=sys.stderr)
        return None
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--peer-python", default=os.environ.get("SYNTHDID_PYTHON"),
                    help="interpreter with the synthdid package installed")
    args = ap.parse_args()
    data = pd.read_csv(DATA, sep=";")
    ours = run_evalkit(data, args.reps, args.seed)
    peer = run_peer(args.peer_python, args.reps, args.seed)
    print(f"SDID, California Proposition 99, placebo SE with {args.reps} replications")
    print(f"{'':18}{'seconds':>10}{'estimate':>12}{'se':>9}")
    print(f"{'evalkit':18}{ours['seconds']:10.2f}{ours['estimate']:12.4f}{ours['se']:9.3f}")
    if peer is None:
        print("synthdid package: not available (pass --peer-python)")
        return
    print(f"{'synthdid package':18}{peer['seconds']:10.2f}{peer['estimate']:12.4f}"
          f"{peer['se']:9.3f}")
    print(f"evalkit is {peer['seconds'] / ours['seconds']:.1f}x faster")


if __name__ == "__main__":
    main()

"""Kaplan–Meier, log-rank and Cox (Efron) on 1,000,000 subjects: evalkit vs lifelines and
statsmodels, on the same data in one process.

lifelines pins pandas < 3, so run this in an environment made for the benchmark only:

    python3.11 -m venv /tmp/bench && /tmp/bench/bin/pip install "pandas<3" lifelines \\
        statsmodels pyyaml && /tmp/bench/bin/pip install --no-deps -e .
    /tmp/bench/bin/python benchmarks/bench_survival.py [--n 1000000] [--skip-slow]

Two time grids: whole days (729 distinct values, many ties) and continuous times (no ties).
Prints seconds per library, the ratio of the faster peer to evalkit, and the largest
difference between the coefficients.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

COVS = [f"x{j}" for j in range(5)]


def make_data(n: int, daily: bool, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    X[:, 0] = rng.integers(0, 2, n)
    beta = np.array([-0.5, 0.3, 0.2, -0.1, 0.05])
    t = rng.exponential(1 / (0.004 * np.exp(X @ beta)))
    c = rng.uniform(0, 729, n)
    time_ = np.minimum(t, c)
    if daily:
        time_ = np.minimum(np.ceil(time_), 729)
    df = pd.DataFrame(X, columns=COVS)
    df["time"] = time_
    df["event"] = (t <= c).astype(int)
    return df


def timed(fn, repeat: int = 1):
    best = float("inf")
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--skip-slow", action="store_true", help="skip the peers' Cox fits")
    ap.add_argument("--grid", choices=("daily", "continuous", "both"), default="both")
    args = ap.parse_args()

    import lifelines
    import statsmodels
    import statsmodels.api as sm
    from lifelines import CoxPHFitter, KaplanMeierFitter
    from lifelines.statistics import logrank_test

    from evalkit.survival import cox, kaplan_meier, logrank

    print(f"n = {args.n:,}; lifelines {lifelines.__version__}, statsmodels "
          f"{statsmodels.__version__}, pandas {pd.__version__}")
    grids = {"daily": (True,), "continuous": (False,), "both": (True, False)}[args.grid]
    for daily in grids:
        df = make_data(args.n, daily)
        grid = "daily times" if daily else "continuous times"
        print(f"\n== {grid}: {df['time'].nunique():,} distinct times, "
              f"{df['event'].mean():.0%} events")
        rows = []

        t_ek, km = timed(lambda: kaplan_meier(df, "time", "event"))
        t_ll, kl = timed(lambda: KaplanMeierFitter().fit(df["time"], df["event"]))
        t_sm, ks = timed(lambda: sm.SurvfuncRight(df["time"], df["event"]))
        diff = np.max(np.abs(km.table["surv"].to_numpy()
                             - kl.survival_function_.iloc[1:, 0].to_numpy()[:len(km.table)]))
        rows.append(("Kaplan–Meier", t_ek, t_ll, t_sm, diff))

        g0 = df["x0"] == 1
        t_ek, lr = timed(lambda: logrank(df, "time", "event", "x0"))
        t_ll, ll = timed(lambda: logrank_test(df.loc[g0, "time"], df.loc[~g0, "time"],
                                              df.loc[g0, "event"], df.loc[~g0, "event"]))
        t_sm, ls = timed(lambda: sm.duration.survdiff(df["time"], df["event"], df["x0"]))
        rows.append(("log-rank", t_ek, t_ll, t_sm, abs(lr.statistic - ll.test_statistic)))

        t_ek, fit = timed(lambda: cox(df, "time", "event", COVS))
        if args.skip_slow:
            t_ll = t_sm = float("nan")
            diff = float("nan")
        else:
            t_ll, cl = timed(lambda: CoxPHFitter().fit(df[COVS + ["time", "event"]],
                                                       "time", "event"))
            t_sm, cs = timed(lambda: sm.PHReg(df["time"], df[COVS], status=df["event"],
                                              ties="efron").fit())
            diff = max(np.max(np.abs(fit.coef - cl.params_.to_numpy())),
                       np.max(np.abs(fit.coef - np.asarray(cs.params))))
        rows.append(("Cox (Efron)", t_ek, t_ll, t_sm, diff))

        print(f"{'':14} {'evalkit':>9} {'lifelines':>10} {'statsmodels':>12} "
              f"{'faster peer / evalkit':>22} {'max |diff|':>11}")
        for name, a, b, c, d in rows:
            ratio = np.nanmin([b, c]) / a
            print(f"{name:14} {a:8.2f}s {b:9.2f}s {c:11.2f}s {ratio:21.1f}x {d:11.2e}")


if __name__ == "__main__":
    main()

"""Two-way fixed effects and Callaway–Sant'Anna: evalkit vs its Python peers, same data, one run.

The peers are installed for the benchmark only (csdid needs pandas < 3):

    python3.11 -m venv /tmp/bench && /tmp/bench/bin/pip install "pandas<3" pyfixest \\
        linearmodels csdid differences pyyaml && /tmp/bench/bin/pip install --no-deps -e .
    /tmp/bench/bin/python benchmarks/bench_did.py [--units 20000] [--periods 50]

* TWFE, unit and period effects, CRV1 by unit, on a balanced panel of units × periods and an
  unbalanced variant (a quarter of the rows dropped at random): evalkit ``twfe`` vs
  linearmodels ``PanelOLS`` and pyfixest ``feols``. Wall time and peak memory growth
  (tracemalloc) per library, coefficient differences.
* Callaway–Sant'Anna (no covariates, never-treated comparison, simple and dynamic
  aggregations) on mpdta and on a staggered panel 100 times larger (250,000 rows): evalkit
  ``staggered`` vs ``csdid`` and ``differences``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def timed(fn):
    """Wall time of one call, then peak memory of a second call under tracemalloc (kept
    apart because tracing slows allocation-heavy code)."""
    t0 = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t0
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, peak / 2**20, out


def panel(units: int, periods: int, seed: int = 0, drop: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    u = np.repeat(np.arange(units), periods)
    t = np.tile(np.arange(periods), units)
    first = rng.integers(periods // 4, periods + periods // 2, units)
    d = (t >= first[u]).astype(float)
    x = rng.normal(size=u.size)
    y = 0.5 * d + 0.3 * x + rng.normal(size=units)[u] + 0.02 * t + rng.normal(size=u.size)
    df = pd.DataFrame({"unit": u, "time": t, "d": d, "x": x, "y": y})
    if drop:
        df = df[rng.random(len(df)) >= drop].reset_index(drop=True)
    return df


def bench_twfe(units: int, periods: int) -> None:
    import pyfixest as pf
    from linearmodels.panel import PanelOLS

    from evalkit.did import twfe

    warm = panel(50, 5)  # compile pyfixest's numba kernels before timing
    pf.feols("y ~ d + x | unit + time", data=warm, vcov={"CRV1": "unit"})
    for label, drop in (("balanced", 0.0), ("unbalanced", 0.25)):
        df = panel(units, periods, drop=drop)
        print(f"\n== TWFE, {label}: {len(df):,} rows, {units:,} units x {periods} periods")
        t_ek, m_ek, ek = timed(lambda: twfe(df, "y", "unit", "time", ["d", "x"]))
        t_pf, m_pf, pfit = timed(lambda: pf.feols("y ~ d + x | unit + time", data=df,
                                                  vcov={"CRV1": "unit"}))
        idx = df.set_index(["unit", "time"])

        def lm():
            return PanelOLS(idx["y"], idx[["d", "x"]], entity_effects=True,
                            time_effects=True).fit(cov_type="clustered", cluster_entity=True)

        t_lm, m_lm, lfit = timed(lm)
        b_pf = pfit.coef().to_numpy()
        diff = max(np.abs(ek.coef - b_pf).max(),
                   np.abs(ek.coef - lfit.params.to_numpy()).max())
        se_diff = np.abs(ek.se - pfit.se().to_numpy()).max()
        print(f"{'':12} {'seconds':>8} {'peak MB':>9}")
        for name, t, m in (("evalkit", t_ek, m_ek), ("pyfixest", t_pf, m_pf),
                           ("linearmodels", t_lm, m_lm)):
            print(f"{name:12} {t:8.2f} {m:9.0f}")
        print(f"pyfixest / evalkit time: {t_pf / t_ek:.2f}x; linearmodels / evalkit: "
              f"{t_lm / t_ek:.1f}x; max |coef diff| {diff:.2e}; max |SE diff vs pyfixest| "
              f"{se_diff:.2e}")


def big_mpdta(copies: int) -> pd.DataFrame:
    base = pd.read_csv(ROOT / "tests" / "reference" / "mpdta.csv")
    parts = []
    rng = np.random.default_rng(2)
    for k in range(copies):
        c = base.copy()
        c["countyreal"] = c["countyreal"] + 100_000 * k
        c["lemp"] = c["lemp"] + rng.normal(0, 0.05, len(c))
        parts.append(c)
    return pd.concat(parts, ignore_index=True)


def bench_cs(copies: int) -> None:
    from csdid.att_gt import ATTgt
    from differences import ATTgt as DiffATTgt

    from evalkit.did import staggered

    df = big_mpdta(copies)
    print(f"\n== Callaway–Sant'Anna: {len(df):,} rows ({copies}x mpdta)")

    def ours():
        r = staggered(df, "lemp", "countyreal", "year", "first.treat")
        return r, r.aggregate("simple"), r.aggregate("dynamic")

    def csd():
        with contextlib.redirect_stdout(io.StringIO()):  # csdid prints every summary
            a = ATTgt(yname="lemp", gname="first.treat", idname="countyreal", tname="year",
                      data=df, control_group="nevertreated", xformla=None).fit(
                est_method="dr", bstrap=False)
            a.aggte("simple")
            a.aggte("dynamic")
        return a

    def dif():
        d = df.copy()
        d["first.treat"] = d["first.treat"].replace(0, np.nan)
        m = DiffATTgt(data=d.set_index(["countyreal", "year"]), cohort_column="first.treat")
        m.fit(formula="lemp", control_group="never_treated", est_method="dr",
              progress_bar=False)
        m.aggregate("simple")
        m.aggregate("event")
        return m

    t_ek, m_ek, (r, simple, _) = timed(ours)
    rows = [("evalkit", t_ek, m_ek)]
    for name, fn in (("csdid", csd), ("differences", dif)):
        try:
            t, m, _ = timed(fn)
            rows.append((name, t, m))
        except Exception as exc:  # noqa: BLE001 - report a peer that fails, keep going
            print(f"{name} failed: {type(exc).__name__}: {exc}")
    print(f"{'':12} {'seconds':>8} {'peak MB':>9}")
    for name, t, m in rows:
        print(f"{name:12} {t:8.2f} {m:9.0f}")
    peers = [t for name, t, _ in rows if name != "evalkit"]
    if peers:
        print(f"fastest peer / evalkit: {min(peers) / t_ek:.1f}x; evalkit simple ATT "
              f"{simple.estimate:.6f} (SE {simple.se:.6f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=20_000)
    ap.add_argument("--periods", type=int, default=50)
    ap.add_argument("--skip-twfe", action="store_true")
    ap.add_argument("--skip-cs", action="store_true")
    args = ap.parse_args()
    if not args.skip_twfe:
        bench_twfe(args.units, args.periods)
    if not args.skip_cs:
        bench_cs(1)
        bench_cs(100)


if __name__ == "__main__":
    main()

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
* Poisson with unit and period effects on a panel of counts with a log-population offset
  (1,000,000 rows: 20,000 units × 50 periods, CRV1 by unit): evalkit ``poisson_twfe`` vs
  pyfixest ``fepois``; and a weighted event study with a covariate (400,000 rows) vs pyfixest
  ``feols(y ~ i(rel, ref=-1) + x | unit + time, weights=...)``. Each library runs in its own
  interpreter on the same data file (``--peer-python`` names pyfixest's, default this one),
  after a warm-up fit (pyfixest compiles its numba kernels); wall time, peak traced memory
  (tracemalloc: numpy allocations; numba's are not traced) and the growth of the process's
  peak resident memory during the fit are reported side by side.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import resource
import subprocess
import sys
import tempfile
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


# -- Poisson and event study: each library in its own interpreter -------------------------------

def count_panel(units: int, periods: int, seed: int = 0) -> pd.DataFrame:
    """Counts with a log-population offset and staggered adoption; 1 unit in 500 has none."""
    rng = np.random.default_rng(seed)
    u = np.repeat(np.arange(units), periods)
    t = np.tile(np.arange(periods), units)
    first = rng.integers(periods // 4, periods + periods // 2, units)
    d = (t >= first[u]).astype(float)
    log_pop = np.log(rng.uniform(1e3, 1e5, units))[u] + 0.01 * rng.normal(size=u.size)
    mu = np.exp(log_pop - 9 + rng.normal(0, 0.5, units)[u] + 0.01 * t + 0.2 * d)
    y = rng.poisson(mu).astype(float)
    y[u % 500 == 0] = 0
    rel = np.where(first[u] < periods, np.clip(t - first[u], -5, 5), -1)  # never: reference
    x = rng.normal(size=u.size)
    w = 1 + (u % 7) / 2 + t / 10
    return pd.DataFrame({"unit": u, "time": t, "d": d, "log_pop": log_pop, "y": y,
                         "first": np.where(first[u] < periods, first[u], 0), "rel": rel,
                         "x": x, "w": w, "ly": np.log1p(y) + 0.3 * x})


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def _worker(kind: str, path: str) -> None:
    """Fit one model on the data file and print one JSON line (run in the library's Python)."""
    with np.load(path) as z:
        df = pd.DataFrame({k: z[k] for k in z.files})
    lib, model = kind.split("-")
    if lib == "pyfixest":
        import pyfixest as pf

        def fit(data: pd.DataFrame):
            if model == "poisson":
                m = pf.fepois("y ~ d | unit + time", data=data, offset="log_pop",
                              vcov={"CRV1": "unit"})
                return float(m.coef().iloc[0]), float(m.se().iloc[0])
            m = pf.feols("ly ~ i(rel, ref=-1) + x | unit + time", data=data, weights="w",
                         vcov={"CRV1": "unit"})
            return float(m.coef().iloc[0]), float(m.se().iloc[0])
    else:
        from evalkit.methods.did.event_study import event_study
        from evalkit.methods.did.poisson import poisson_twfe

        def fit(data: pd.DataFrame):
            if model == "poisson":
                r = poisson_twfe(data, "y", "unit", "time", "d", offset="log_pop")
                return r.estimate, r.se
            es = event_study(data, "ly", "unit", "time", "first", covariates=["x"],
                             weights="w")
            return float(es.table["estimate"].iloc[0]), float(es.table["se"].iloc[0])
    import warnings

    warnings.simplefilter("ignore")
    fit(df.iloc[: 200 * 50].copy())  # warm-up (numba compilation, imports)
    before = _rss_mb()
    t0 = time.perf_counter()
    coef, se = fit(df)
    seconds = time.perf_counter() - t0
    grew = max(0.0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before)
    tracemalloc.start()
    fit(df)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(json.dumps({"seconds": seconds, "traced_mb": peak / 2**20, "rss_mb": grew,
                      "coef": coef, "se": se}))


def _side_by_side(title: str, df: pd.DataFrame, model: str, peer_python: str) -> None:
    print(f"\n== {title}: {len(df):,} rows")
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "data.npz")
        np.savez(path, **{c: df[c].to_numpy() for c in df.columns})
        rows = {}
        for lib, py in (("evalkit", sys.executable), ("pyfixest", peer_python)):
            out = subprocess.run([py, __file__, "--worker", f"{lib}-{model}", path],
                                 capture_output=True, text=True, cwd=ROOT)
            if out.returncode:
                print(f"{lib} failed: {out.stderr.strip().splitlines()[-1:]}")
                continue
            rows[lib] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"{'':10} {'seconds':>8} {'traced MB':>10} {'RSS growth MB':>14} {'coef':>12} "
          f"{'SE':>12}")
    for lib, r in rows.items():
        print(f"{lib:10} {r['seconds']:8.2f} {r['traced_mb']:10.0f} {r['rss_mb']:14.0f} "
              f"{r['coef']:12.8f} {r['se']:12.8f}")
    if len(rows) == 2:
        a, b = rows["evalkit"], rows["pyfixest"]
        print(f"pyfixest / evalkit: time {b['seconds'] / a['seconds']:.2f}x, traced memory "
              f"{b['traced_mb'] / max(a['traced_mb'], 1e-9):.2f}x, RSS growth "
              f"{b['rss_mb'] / max(a['rss_mb'], 1e-9):.2f}x; |coef diff| "
              f"{abs(a['coef'] - b['coef']):.1e}, |SE diff| {abs(a['se'] - b['se']):.1e}")


def bench_poisson(rows: int, peer_python: str) -> None:
    periods = 50
    df = count_panel(rows // periods, periods)
    _side_by_side("Poisson TWFE with a log-population offset, CRV1 by unit (evalkit "
                  "poisson_twfe vs pyfixest fepois)", df[["unit", "time", "d", "log_pop", "y"]],
                  "poisson", peer_python)


def bench_event_study(rows: int, peer_python: str) -> None:
    periods = 20
    df = count_panel(rows // periods, periods, seed=1)
    _side_by_side("Weighted event study with a covariate, CRV1 by unit (evalkit event_study "
                  "vs pyfixest feols with i(rel))",
                  df[["unit", "time", "first", "rel", "x", "w", "ly"]], "event", peer_python)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        _worker(sys.argv[2], sys.argv[3])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=20_000)
    ap.add_argument("--periods", type=int, default=50)
    ap.add_argument("--skip-twfe", action="store_true")
    ap.add_argument("--skip-cs", action="store_true")
    ap.add_argument("--skip-poisson", action="store_true")
    ap.add_argument("--skip-event-study", action="store_true")
    ap.add_argument("--poisson-rows", type=int, default=1_000_000)
    ap.add_argument("--event-study-rows", type=int, default=400_000)
    ap.add_argument("--peer-python", default=sys.executable,
                    help="Python with pyfixest, for the Poisson and event-study comparisons")
    args = ap.parse_args()
    if not args.skip_twfe:
        bench_twfe(args.units, args.periods)
    if not args.skip_cs:
        bench_cs(1)
        bench_cs(100)
    if not args.skip_poisson:
        bench_poisson(args.poisson_rows, args.peer_python)
    if not args.skip_event_study:
        bench_event_study(args.event_study_rows, args.peer_python)


if __name__ == "__main__":
    main()

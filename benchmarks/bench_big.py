"""A big input end to end: a 7.7-million-row pre-post file (about 200 MB of CSV).

    .venv/bin/python benchmarks/bench_big.py [--rows 7700000] [--keep]

Writes the file under a temporary folder (seeded), runs ``evalkit run -j 1`` on one config
that reads it, and prints:

* the wall-clock time of the run and its stages (from ``manifest.json``);
* the identifier leak check's time on the rendered report with all 7.7 million ids (timed
  separately here, as the runner does it), and its share of the run;
* peak memory of the run's processes against the in-memory size of the data frame.

Targets (issue "The runner under faults"): under 2 minutes on 2 cores; peak memory under 4×
the frame.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


#: Runs a command and prints the peak resident memory of its processes (kB, last line).
_LAUNCHER = (
    "import resource, subprocess, sys\n"
    "subprocess.run(sys.argv[1:])\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def make_data(path: Path, rows: int, seed: int = 2026) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pre = rng.integers(10, 70, rows)
    post = np.clip(pre - 6 + rng.normal(0, 8, rows).round(), 0, 80)
    post = np.where(rng.random(rows) < 0.2, np.nan, post)
    df = pd.DataFrame({"case_id": np.char.add("BIG-", np.arange(rows).astype("U9")),
                       "ts_intake": pre, "ts_6mo": post})
    df.to_csv(path, index=False)
    return df


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=7_700_000)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="evalkit-big-"))
    try:
        data = work / "big.csv"
        t0 = time.perf_counter()
        df = make_data(data, args.rows)
        frame_mb = df.memory_usage(deep=True).sum() / 1e6
        print(f"data: {args.rows:,} rows, {data.stat().st_size / 1e6:.0f} MB of CSV, "
              f"{frame_mb:.0f} MB in memory (written in {time.perf_counter() - t0:.1f} s)")
        cfg = yaml.safe_load((ROOT / "evaluations" / "mentoring-site-a.yaml").read_text())
        cfg["data"] = str(data)
        cfg["parameters"].pop("binary_outcomes", None)
        cfg["parameters"].pop("reliability", None)
        (work / "evaluations").mkdir()
        (work / "evaluations" / "big.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
        t0 = time.perf_counter()
        # launched through a small Python process that reports its children's peak: Linux
        # keeps the memory high-water mark across fork and exec, so a run started from this
        # process (which holds the frame) would be charged with this process's memory
        proc = subprocess.run([sys.executable, "-c", _LAUNCHER, str(BIN / "evalkit"), "run",
                               "-j", "1", "--reports", str(work / "reports"),
                               str(work / "evaluations")],
                              capture_output=True, text=True)
        wall = time.perf_counter() - t0
        out, _, peak = proc.stdout.rstrip().rpartition("\n")
        peak_mb = float(peak) / 1e3
        print(out.strip().splitlines()[-1] if out.strip() else proc.stderr)
        manifest = json.loads((work / "reports" / "big" / "manifest.json").read_text())
        print(f"run: {wall:.1f} s wall; stages: {manifest.get('timings_seconds')}")
        from evalkit.privacy import check_no_identifiers

        html = (work / "reports" / "big" / "report.html").read_text()
        t0 = time.perf_counter()
        check_no_identifiers(html, df["case_id"], what="report.html")
        leak = time.perf_counter() - t0
        print(f"leak check on report.html with {args.rows:,} ids: {leak:.2f} s "
              f"({100 * leak / wall:.1f}% of the run; the runner checks three outputs)")
        print(f"peak memory of one run process: {peak_mb:.0f} MB = "
              f"{peak_mb / frame_mb:.1f}x the frame (target < 4x)")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

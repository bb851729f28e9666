"""Time `evalkit run` over a portfolio against a plain papermill + nbconvert loop, in one run.

    .venv/bin/python benchmarks/bench_run.py [--copies 8] [--jobs 2]

The portfolio is ``--copies`` copies of each of six sample evaluations (one or more of every
template: pre-post, comparison group with adjustment, waiting list, survival, staggered DiD,
interrupted time series), 48 evaluations by default, each copy its own config. Both sides render
the same templates on the same data on the same machine:

* evalkit: ``evalkit run <folder> -j <jobs>`` (the command a user types; includes its start-up,
  validation, privacy checks, manifest and the portfolio index);
* peer: for each evaluation, ``papermill template.ipynb out.ipynb -f params.yaml`` followed by
  ``jupyter nbconvert --to html --no-input out.ipynb``, one after the other, as a shell loop over
  the two command-line tools would do.

It also reports

* the floor: the time to start one kernel and import what the templates import, times the
  number of evaluations, divided by the workers (no runner can beat starting the kernels);
* a second ``evalkit run`` with nothing changed (every evaluation up to date);
* where evalkit's time goes: each phase of the manifests' ``timings_seconds``, averaged over
  the evaluations.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SAMPLES = ("mentoring-site-a", "advocacy-referrals", "lifeskills-waitlist", "placement-runaway",
           "safe-harbor-arrests", "county-identifications")
PHASES = ("validate", "kernel", "imports", "cells", "figures", "html", "leak_check", "total")


def _setup(work: Path, copies: int) -> tuple[Path, list[tuple[Path, dict]]]:
    from evalkit.run.config import load_config

    ev = work / "evaluations"
    ev.mkdir()
    peer = []
    for name in SAMPLES:
        raw = yaml.safe_load((ROOT / "evaluations" / f"{name}.yaml").read_text())
        raw["data"] = str((ROOT / "evaluations" / raw["data"]).resolve())
        for i in range(copies):
            path = ev / f"{name}-{i:02d}.yaml"
            path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False))
            cfg = load_config(path)
            params = cfg.notebook_parameters(str(work / "peer" / f"{path.stem}.results.json"))
            peer.append((cfg.notebook, params))
    return ev, peer


def run_evalkit(work: Path, ev: Path, jobs: int) -> float:
    t = time.perf_counter()
    subprocess.run([str(BIN / "evalkit"), "run", str(ev), "-j", str(jobs), "--reports",
                    str(work / "reports")], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def run_peer(work: Path, peer: list[tuple[Path, dict]]) -> float:
    out = work / "peer"
    out.mkdir(exist_ok=True)
    t = time.perf_counter()
    for i, (template, params) in enumerate(peer):
        pf = out / f"{i:02d}.yaml"
        pf.write_text(yaml.safe_dump(params, allow_unicode=True))
        nb = out / f"{i:02d}.ipynb"
        subprocess.run([str(BIN / "papermill"), str(template), str(nb), "-f", str(pf),
                        "--cwd", str(out), "--no-progress-bar"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run([str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input",
                        str(nb)], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def kernel_floor(repeat: int = 3) -> float:
    """Seconds to start a kernel and import what a template's set-up cell imports."""
    from jupyter_client.manager import KernelManager

    code = ("import evalkit\nfrom evalkit import report, prepost, survival, did, policy\n"
            "from evalkit.report.survival import SurvivalReport\n"
            "import matplotlib.figure\n")
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        km = KernelManager(kernel_name="python3")
        km.start_kernel(cwd=tempfile.gettempdir())
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        kc.execute_interactive(code, timeout=120, output_hook=lambda msg: None)
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def phases(reports: Path) -> dict[str, float]:
    """Mean seconds per evaluation in each phase, from the manifests."""
    rows = [json.loads(p.read_text())["timings_seconds"] for p in reports.glob("*/manifest.json")]
    return {k: statistics.fmean(r.get(k, 0.0) for r in rows) for k in PHASES}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=8)
    ap.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--skip-peer", action="store_true", help="time evalkit alone")
    args = ap.parse_args()
    n = args.copies * len(SAMPLES)
    print(f"{n} evaluations ({args.copies} copies of {len(SAMPLES)} samples), "
          f"{os.cpu_count()} cores, evalkit -j {args.jobs}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="evalkit-bench-"))
    try:
        ev, peer = _setup(work, args.copies)
        theirs = None if args.skip_peer else run_peer(work, peer)
        ours = run_evalkit(work, ev, args.jobs)
        again = run_evalkit(work, ev, args.jobs)
        per_phase = phases(work / "reports")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    floor_one = kernel_floor()
    floor = floor_one * n / args.jobs
    if theirs is not None:
        print(f"papermill + nbconvert CLI loop: {theirs:7.1f} s ({theirs / n:.2f} s per "
              "evaluation)")
    print(f"evalkit run -j {args.jobs}:          {ours:7.1f} s ({ours / n:.2f} s per evaluation)")
    print(f"floor (kernel start + imports {floor_one:.2f} s x {n} / {args.jobs}): {floor:.1f} s")
    print(f"evalkit run, nothing changed:   {again:7.2f} s")
    if theirs is not None:
        print(f"ratio (loop / evalkit): {theirs / ours:.2f}x")
    print(f"evalkit / floor: {ours / floor:.2f}x")
    print("mean seconds per evaluation by phase: " + ", ".join(
        f"{k} {v:.2f}" for k, v in per_phase.items()))


if __name__ == "__main__":
    main()

"""Time `evalkit run` against a plain papermill + nbconvert loop on the same evaluations.

    .venv/bin/python benchmarks/bench_run.py [--copies 8] [--repeat 1]

Both sides render the same pre-post template on the same data, in one process run on the same
machine:

* evalkit: ``evalkit run <folder> -j <cores>`` (the command a user types; includes its start-up,
  validation, privacy checks, manifest and the portfolio index);
* peer: for each evaluation, ``papermill template.ipynb out.ipynb -f params.yaml`` followed by
  ``jupyter nbconvert --to html --no-input out.ipynb``, one after the other, as a shell loop
  over the two command-line tools would do.

Prints the wall-clock time of each and the ratio peer / evalkit.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _setup(work: Path, copies: int) -> tuple[Path, list[dict]]:
    ev = work / "evaluations"
    ev.mkdir()
    raw = yaml.safe_load((ROOT / "evaluations" / "mentoring-site-a.yaml").read_text())
    raw["data"] = str((ROOT / "data" / "sample" / "mentoring_site_a.csv").resolve())
    params = []
    for i in range(copies):
        (ev / f"copy-{i:02d}.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True))
        p = {
            "title": raw["title"], "program": raw["program"],
            "description": raw["description"], "question": raw.get("question", ""),
            "data_path": raw["data"], "id_column": raw["id_column"],
            "privacy_threshold": raw["privacy_threshold"],
            "results_path": str(work / "peer" / f"copy-{i:02d}.results.json"),
            **raw["parameters"],
        }
        params.append(p)
    return ev, params


def run_evalkit(work: Path, ev: Path, jobs: int) -> float:
    t = time.perf_counter()
    subprocess.run([str(BIN / "evalkit"), "run", str(ev), "-j", str(jobs), "--reports",
                    str(work / "reports")], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def run_peer(work: Path, params: list[dict]) -> float:
    out = work / "peer"
    out.mkdir(exist_ok=True)
    template = ROOT / "templates" / "prepost.ipynb"
    t = time.perf_counter()
    for i, p in enumerate(params):
        pf = out / f"copy-{i:02d}.yaml"
        pf.write_text(yaml.safe_dump(p, allow_unicode=True))
        nb = out / f"copy-{i:02d}.ipynb"
        subprocess.run([str(BIN / "papermill"), str(template), str(nb), "-f", str(pf),
                        "--cwd", str(out), "--no-progress-bar"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run([str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input",
                        str(nb)], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    args = ap.parse_args()
    print(f"{args.copies} pre-post evaluations, {os.cpu_count()} cores, evalkit -j {args.jobs}")
    ours, theirs = [], []
    for r in range(args.repeat):
        work = Path(tempfile.mkdtemp(prefix="evalkit-bench-"))
        try:
            ev, params = _setup(work, args.copies)
            theirs.append(run_peer(work, params))
            ours.append(run_evalkit(work, ev, args.jobs))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print(f"  run {r + 1}: papermill+nbconvert loop {theirs[-1]:.1f} s, "
              f"evalkit run {ours[-1]:.1f} s")
    best_ours, best_theirs = min(ours), min(theirs)
    print(f"papermill + nbconvert CLI loop: {best_theirs:.1f} s "
          f"({best_theirs / args.copies:.2f} s per evaluation)")
    print(f"evalkit run -j {args.jobs}:          {best_ours:.1f} s "
          f"({best_ours / args.copies:.2f} s per evaluation)")
    print(f"ratio (loop / evalkit): {best_theirs / best_ours:.2f}x")


if __name__ == "__main__":
    main()

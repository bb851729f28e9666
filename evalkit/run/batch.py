"""Run many evaluations in parallel worker processes, print progress, update the index."""

from __future__ import annotations

import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Callable, Iterable, Sequence

from evalkit.run.execute import RunOutcome, _now, run_evaluation

__all__ = ["run_all", "format_outcome", "default_jobs"]


def default_jobs() -> int:
    """Worker processes by default: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _context():
    # forkserver starts workers from a clean process that has imported the runner once; spawn
    # where forkserver does not exist (Windows).
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["evalkit.run.worker"])
        return ctx
    return multiprocessing.get_context("spawn")


def format_outcome(o: RunOutcome, done: int, total: int) -> str:
    """The progress line (and, for a failure, the paragraph that explains it)."""
    width = len(str(total))
    head = f"[{done:>{width}}/{total}] {'ok' if o.ok else 'FAILED':<6} {o.slug:<28} {o.seconds:6.1f} s"
    if o.ok:
        return f"{head}  {o.report}"
    indent = " " * (width * 2 + 4)
    parts = o.message.splitlines() or [""]
    lines = [f"{indent}{o.stage} failed: {parts[0]}"] + [f"{indent}{p}" for p in parts[1:]]
    return head + "\n" + "\n".join(lines)


def _save_runs(reports_dir: Path, outcomes: Iterable[RunOutcome]) -> dict:
    """Merge the outcomes into ``runs.json``; entries whose config file is gone are dropped."""
    from evalkit.portfolio import RUNS_FILE, config_exists

    path = reports_dir / RUNS_FILE
    runs = {}
    if path.is_file():
        try:
            runs = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            runs = {}
    for o in outcomes:
        runs[o.slug] = {**o.to_dict(), "config": str(Path(o.config).resolve()),
                        "finished_at": _now()}
    runs = {k: v for k, v in runs.items()
            if config_exists(v.get("config") if isinstance(v, dict) else None,
                             reports_dir) is not False}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(runs, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return runs


def run_all(
    configs: Sequence[str | Path],
    reports_dir: str | Path = "reports",
    *,
    jobs: int | None = None,
    echo: Callable[[str], None] = print,
    pdf: bool = False,
) -> list[RunOutcome]:
    """Run every config, ``jobs`` at a time in worker processes; write the portfolio index.

    A failing evaluation is reported (slug, stage, cell and message) while the others finish.

    Returns
    -------
    list of RunOutcome
        In the order the evaluations finished.
    """
    from evalkit.portfolio import write_index

    from evalkit.run.execute import clean_stale

    reports_dir = Path(reports_dir)
    reports_dir.mkdir(parents=True, exist_ok=True)
    clean_stale(reports_dir)
    jobs = jobs or default_jobs()
    total = len(configs)
    outcomes: list[RunOutcome] = []

    def done(o: RunOutcome) -> None:
        outcomes.append(o)
        echo(format_outcome(o, len(outcomes), total))

    workers = min(jobs, total)
    if workers <= 1:
        for c in configs:
            done(run_evaluation(c, reports_dir, pdf=pdf))
    else:
        from evalkit.run import worker

        with ProcessPoolExecutor(max_workers=workers, mp_context=_context(),
                                 initializer=worker.warm_up) as pool:
            # Every worker starts with a spare kernel; a run prepares the next spare only while
            # more evaluations remain than workers, so no kernel is started for nothing.
            futures = {
                pool.submit(run_evaluation, c, reports_dir, prewarm=i < total - workers,
                            pdf=pdf): c
                for i, c in enumerate(configs)
            }
            for fut in as_completed(futures):
                c = Path(futures[fut])
                try:
                    o = fut.result()
                except BrokenProcessPool as exc:
                    o = RunOutcome(c.stem, str(c), "failed", 0.0, "internal",
                                   f"the worker process died: {exc}")
                except Exception as exc:  # noqa: BLE001
                    o = RunOutcome(c.stem, str(c), "failed", 0.0, "internal",
                                   f"{type(exc).__name__}: {exc}")
                done(o)
    runs = _save_runs(reports_dir, outcomes)
    write_index(reports_dir, runs)
    return outcomes

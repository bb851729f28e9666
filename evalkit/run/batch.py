"""Run many evaluations in parallel worker processes, print progress, update the index."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from evalkit.run.execute import RunOutcome, _now, _os_error, run_evaluation

__all__ = ["run_all", "format_outcome", "default_jobs", "BatchOutcomes", "ReportsLocked",
           "LOCK_FILE"]

#: The lock one ``evalkit run`` holds on its reports folder (a second one is refused).
LOCK_FILE = ".evalkit-run.lock"

#: Times an evaluation is started in all when the worker running it dies (a worker killed
#: from outside, or one that ran out of memory): the first try and one retry on a fresh worker.
ATTEMPTS = 2


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
    if o.skipped:
        return f"[{done:>{width}}/{total}] {'up to date':<10} {o.slug:<28}  {o.report}"
    head = f"[{done:>{width}}/{total}] {'ok' if o.ok else 'FAILED':<6} {o.slug:<28} {o.seconds:6.1f} s"
    if o.ok:
        return f"{head}  {o.report}"
    indent = " " * (width * 2 + 4)
    parts = o.message.splitlines() or [""]
    lines = [f"{indent}{o.stage} failed: {parts[0]}"] + [f"{indent}{p}" for p in parts[1:]]
    return head + "\n" + "\n".join(lines)


def _resolved(path: str | Path) -> str:
    """The absolute path, resolved where it can be (a symlink loop cannot be)."""
    try:
        return str(Path(path).resolve())
    except (RuntimeError, OSError):
        return str(Path(path).absolute())


def _save_runs(reports_dir: Path, outcomes: Iterable[RunOutcome]) -> dict:
    """Merge the outcomes into ``runs.json``; entries whose config file is gone are dropped.

    Raises ``OSError`` if the file cannot be written (then no partial file is left).
    """
    from evalkit.portfolio import RUNS_FILE, config_exists

    path = reports_dir / RUNS_FILE
    runs = {}
    if path.is_file():
        try:
            runs = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            runs = {}
    for o in outcomes:
        runs[o.slug] = {**o.to_dict(), "config": _resolved(o.config),
                        "finished_at": _now()}
    runs = {k: v for k, v in runs.items()
            if config_exists(v.get("config") if isinstance(v, dict) else None,
                             reports_dir) is not False}
    tmp = path.with_suffix(".json.tmp")
    try:
        tmp.write_text(json.dumps(runs, indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return runs


def _read_runs(reports_dir: Path) -> dict:
    from evalkit.portfolio import RUNS_FILE

    try:
        runs = json.loads((reports_dir / RUNS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return runs if isinstance(runs, dict) else {}


def _index_current(reports_dir: Path, outcomes: Sequence[RunOutcome], before: dict,
                   after: dict) -> bool:
    """Whether ``index.html`` already shows what a rebuild would (nothing ran, nothing moved).

    True only when every evaluation of this run was up to date and was already ``ok``, the
    evaluations listed are the same, and no ``results.json`` is newer than the index. A
    no-change run then leaves the index as it is instead of drawing it again.
    """
    index = reports_dir / "index.html"
    if not index.is_file() or not outcomes or not all(o.skipped for o in outcomes):
        return False
    if set(before) != set(after) or any(
            (before.get(o.slug) or {}).get("status") != "ok" for o in outcomes):
        return False
    built = index.stat().st_mtime
    return all(p.stat().st_mtime <= built for p in reports_dir.glob("*/results.json"))


class BatchOutcomes(list):
    """The outcomes of a batch, in the order they finished.

    ``index_error`` says why the portfolio index could not be written (``None`` when it was).
    """

    index_error: str | None = None


class ReportsLocked(RuntimeError):
    """Another ``evalkit run`` is writing to the same reports folder; nothing was run."""


@contextlib.contextmanager
def _locked(reports_dir: Path, slugs: Sequence[str]):
    """Hold the reports folder's run lock, or raise :class:`ReportsLocked` at once.

    The lock is an OS file lock (``filelock``): it is released when this process ends, however
    it ends, so a crashed run never leaves the folder locked. Who holds it is written beside
    it for the message of the run that is refused.
    """
    from filelock import FileLock, Timeout

    lock = FileLock(str(reports_dir / LOCK_FILE))
    who = reports_dir / (LOCK_FILE + ".owner")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        try:
            owner = json.loads(who.read_text(encoding="utf-8"))
            by = f" (process {owner['pid']}, started {owner['started_at']})"
        except (OSError, ValueError, KeyError, TypeError):
            by = ""
        raise ReportsLocked(
            f"the reports folder {reports_dir.resolve()} is in use by another evalkit run{by}; "
            f"wait for it to finish, or use another --reports folder. Not run: "
            f"{', '.join(slugs)}") from None
    except OSError:  # a read-only folder: each evaluation reports it, and nothing is written
        yield
        return
    try:
        with contextlib.suppress(OSError):
            who.write_text(json.dumps({"pid": os.getpid(), "started_at": _now()}),
                           encoding="utf-8")
        yield
    finally:
        with contextlib.suppress(OSError):
            who.unlink()
        lock.release()


def _died(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"killed by {name}"
    return f"exit status {exitcode}"


class _Worker:
    def __init__(self, ctx: Any) -> None:
        from evalkit.run import worker

        self.conn, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=worker.serve, args=(child,), daemon=True,
                                name="evalkit-worker")
        self.proc.start()
        child.close()  # only the worker holds its end: the worker sees end of file if we go
        self.task: int | None = None

    def stop(self, timeout: float = 30) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(None)
        self.proc.join(timeout)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)
        self.conn.close()


def _run_pool(configs: Sequence[Path], reports_dir: Path, workers: int, pdf: bool,
              done: Callable[[RunOutcome], None], echo: Callable[[str], None]) -> None:
    """Run ``configs`` on ``workers`` processes, one evaluation per worker at a time.

    A worker that dies fails only the evaluation it held, which is retried once on a fresh
    worker; the other workers go on.
    """
    ctx = _context()
    pending = deque(range(len(configs)))
    tries = [0] * len(configs)
    pool = [_Worker(ctx) for _ in range(workers)]
    try:
        while pending or any(w.task is not None for w in pool):
            for w in pool:
                if w.task is None and pending:
                    i = pending.popleft()
                    tries[i] += 1
                    w.task = i
                    # a spare kernel only while this worker will likely get another evaluation
                    # (where kernels are forked, the forker started with the worker serves)
                    kwargs = {"prewarm": len(pending) >= workers, "pdf": pdf}
                    try:
                        w.conn.send((i, (configs[i], reports_dir), kwargs))
                    except OSError:
                        pass  # the worker is gone: its sentinel says so below
            ready = wait([w.conn for w in pool] + [w.proc.sentinel for w in pool])
            for w in list(pool):
                got = w.conn in ready and _receive(w)
                if got:
                    i, outcome = got
                    if w.task == i:
                        w.task = None
                        done(outcome)
                    continue
                if w.proc.sentinel in ready or (w.conn in ready and got is None):
                    w.proc.join(5)
                    why = _died(w.proc.exitcode)
                    pool.remove(w)
                    w.conn.close()
                    held, w.task = w.task, None
                    if held is not None:
                        i = held
                        c = Path(configs[i])
                        if tries[i] < ATTEMPTS:
                            pending.appendleft(i)
                            echo(f"note: the worker process running {c.stem} died ({why}); "
                                 f"running it again on a fresh worker")
                        else:
                            done(RunOutcome(
                                c.stem, str(c), "failed", 0.0, "internal",
                                f"the worker process running it died ({why}), twice: the "
                                f"evaluation was started on a fresh worker after the first "
                                f"time. Other evaluations were not affected; run it alone "
                                f"(`evalkit run --only {c.stem}`) to see whether it runs out "
                                f"of memory."))
                    if pending and len(pool) < workers:
                        pool.append(_Worker(ctx))
    finally:
        for w in pool:
            w.stop()


def _receive(w: _Worker):
    """A message from a worker; ``None`` if its pipe is closed (the worker died)."""
    try:
        return w.conn.recv()
    except (EOFError, OSError):
        return None


def run_all(
    configs: Sequence[str | Path],
    reports_dir: str | Path = "reports",
    *,
    jobs: int | None = None,
    echo: Callable[[str], None] = print,
    pdf: bool = False,
    force: bool = False,
    progress: Callable[[RunOutcome, int, int], None] | None = None,
    scheduler: str | None = None,
) -> BatchOutcomes:
    """Run every config, ``jobs`` at a time in worker processes; write the portfolio index.

    An evaluation whose last good report was made from the same inputs (its run key, see
    :mod:`evalkit.run.incremental`) is not run again unless ``force``: its outcome says "up
    to date". A failing evaluation is reported (slug, stage, cell and message) while the others
    finish, whatever the failure: a broken config, unreadable data, a read-only or full
    reports folder, or a worker process that died (its evaluation is retried once on a fresh
    worker). If the index cannot be written, a paragraph says why and ``index_error`` holds
    it. The index is rebuilt from every report's ``results.json``.

    Parameters
    ----------
    configs
        Config files.
    reports_dir
        The reports folder. One run at a time may write to it: a second is refused.
    jobs
        Evaluations run at once (default: the cores this process may use).
    echo
        Receives each finished evaluation's line (and notes).
    pdf
        Also print ``report.pdf``.
    force
        Run every evaluation, up to date or not.
    progress
        Called after each evaluation with its outcome, the number done and the total (a live
        progress display).
    scheduler
        The address of a Dask scheduler (``tcp://host:8786``): each evaluation runs as a task
        on its cluster instead of on local workers (:mod:`evalkit.run.distributed`).

    Returns
    -------
    BatchOutcomes
        In the order the evaluations finished.

    Raises
    ------
    ReportsLocked
        When another run holds the reports folder (nothing is run).
    SchedulerUnreachable
        When ``scheduler`` does not answer within 10 s (nothing is run).
    """
    reports_dir = Path(reports_dir)
    try:
        reports_dir.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass  # every evaluation reports the folder's problem with its own outcome
    lock = (_locked(reports_dir, [Path(c).stem for c in configs]) if reports_dir.is_dir()
            else contextlib.nullcontext())
    with lock:
        return _run_locked(configs, reports_dir, jobs, echo, pdf, force, progress, scheduler)


def _run_locked(configs, reports_dir: Path, jobs, echo, pdf, force, progress,
                scheduler) -> BatchOutcomes:
    from evalkit.portfolio import write_index
    from evalkit.run.execute import clean_stale
    from evalkit.run.incremental import up_to_date

    with contextlib.suppress(OSError):
        clean_stale(reports_dir)
    jobs = jobs or default_jobs()
    total = len(configs)
    outcomes = BatchOutcomes()

    def done(o: RunOutcome) -> None:
        outcomes.append(o)
        echo(format_outcome(o, len(outcomes), total))
        if progress is not None:
            progress(o, len(outcomes), total)

    todo = []
    for c in configs:
        t = time.perf_counter()
        if not force and up_to_date(c, reports_dir, pdf=pdf):
            folder = reports_dir / Path(c).stem
            done(RunOutcome(Path(c).stem, str(c), "ok", time.perf_counter() - t,
                            report=str(folder / "report.html"), skipped=True))
        else:
            todo.append(c)
    configs = todo
    workers = min(jobs, len(configs))
    if scheduler and configs:
        from evalkit.run.distributed import SchedulerUnreachable, run_on_cluster

        try:
            run_on_cluster([Path(c) for c in configs], reports_dir, scheduler, pdf, done, echo)
        except SchedulerUnreachable as exc:
            raise SchedulerUnreachable(f"{exc}. Not run: "
                                       f"{', '.join(Path(c).stem for c in configs)}") from None
    elif workers <= 1:
        for c in configs:
            try:
                o = run_evaluation(c, reports_dir, pdf=pdf)
            except Exception as exc:  # noqa: BLE001 - one evaluation never stops the batch
                o = RunOutcome(Path(c).stem, str(c), "failed", 0.0, "internal",
                               f"{type(exc).__name__}: {exc}")
            done(o)
    else:
        _run_pool([Path(c) for c in configs], reports_dir, workers, pdf, done, echo)
    try:
        before = _read_runs(reports_dir)
        runs = _save_runs(reports_dir, outcomes)
        if not _index_current(reports_dir, outcomes, before, runs):
            write_index(reports_dir, runs)
    except OSError as exc:
        with contextlib.suppress(OSError):
            (reports_dir / "index.html.tmp").unlink()
        outcomes.index_error = (f"the portfolio index could not be written in "
                                f"{reports_dir.resolve()}: {_os_error(exc)}")
        echo(f"index FAILED: {outcomes.index_error}")
    return outcomes

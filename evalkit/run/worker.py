"""Worker processes: import the heavy machinery once, run evaluations one at a time.

This module is preloaded by the forkserver, so workers forked from it start with papermill and
nbconvert already imported. A worker (:func:`serve`) receives one evaluation at a time from
the runner over a pipe and sends back its :class:`~evalkit.run.execute.RunOutcome`; the runner
thus always knows which evaluation each worker holds.

A worker never outlives the runner: as soon as its pipe to the runner closes (a watchdog
thread reads the pipe), it kills its kernels, removes its kernel and working folders and
exits. A kernel also dies with the worker that started it however the worker ends (on Linux,
see :mod:`evalkit.run.engine`), so ``kill -9`` of ``evalkit run`` leaves no process behind.
"""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")

import nbconvert  # noqa: E402,F401
import papermill  # noqa: E402,F401

import evalkit.data  # noqa: E402,F401  - every run validates its data first
import evalkit.run.engine  # noqa: E402,F401
import evalkit.run.execute  # noqa: E402,F401


def warm_up(kernel_name: str = "python3") -> None:
    """Start the kernel forker (or a spare kernel), and build the HTML exporter meanwhile.

    Both are stopped when the worker exits.
    """
    from multiprocessing import util

    from evalkit.run.engine import prestart, shutdown_spares, stop_forkers
    from evalkit.run.render import _css, _exporter

    prestart(kernel_name)
    util.Finalize(None, shutdown_spares, exitpriority=10)
    util.Finalize(None, stop_forkers, exitpriority=10)
    _exporter()
    _css()


def _kill_own_kernels() -> None:
    """Kill the kernels this worker started (its child processes), without waiting."""
    import signal

    try:
        children = [int(p) for p in open(f"/proc/{os.getpid()}/task/{os.getpid()}/children")
                    .read().split()]
    except (OSError, ValueError):
        children = []
    for pid in children:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _remove_own_folders() -> None:
    """Remove this worker's kernel and working folders from the temporary folder."""
    import glob
    import shutil
    import tempfile

    tmp = tempfile.gettempdir()
    pid = os.getpid()
    for pattern in (f"evalkit-k-{pid}-*", f".tmp-*-{pid}-*"):
        for d in glob.glob(os.path.join(tmp, pattern)):
            shutil.rmtree(d, ignore_errors=True)


def serve(conn, warm: bool = True) -> None:
    """Run the evaluations the runner sends over ``conn`` until it sends ``None`` or goes.

    Messages in: ``(task_id, args, kwargs)`` for :func:`evalkit.run.execute.run_evaluation`,
    or ``None`` to stop. Messages out: ``(task_id, outcome)``.
    """
    import queue
    import threading

    from evalkit.run.engine import shutdown_spares, stop_forkers
    from evalkit.run.execute import run_evaluation

    tasks: queue.SimpleQueue = queue.SimpleQueue()

    def watchdog() -> None:
        # the only reader of conn: tasks go to the queue; end of file means the runner died
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                _kill_own_kernels()
                _remove_own_folders()
                os._exit(70)
            tasks.put(msg)
            if msg is None:
                return

    threading.Thread(target=watchdog, name="evalkit-watchdog", daemon=True).start()
    if warm:
        warm_up()
    try:
        while True:
            msg = tasks.get()
            if msg is None:
                break
            task_id, args, kwargs = msg
            outcome = run_evaluation(*args, **kwargs)
            conn.send((task_id, outcome))
    finally:
        shutdown_spares()
        stop_forkers()

"""Worker-process start-up: import the heavy machinery once, not once per evaluation.

This module is preloaded by the forkserver, so workers forked from it start with papermill and
nbconvert already imported.
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
    """Start a spare kernel for the first run, and build the HTML exporter meanwhile.

    The spare is shut down when the worker exits, if no evaluation used it.
    """
    from multiprocessing import util

    from evalkit.run.engine import prestart, shutdown_spares
    from evalkit.run.render import _css, _exporter

    prestart(kernel_name)
    util.Finalize(None, shutdown_spares, exitpriority=10)
    _exporter()
    _css()

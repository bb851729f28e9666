"""papermill engine used by the runner: private kernel sockets, quiet kernels, warm spares.

* Kernels talk to the runner over Unix domain sockets in a private temporary folder. With TCP,
  the parent picks free ports and the kernel binds them later; two kernels started at the same
  moment by two worker processes can pick the same port, and one of them dies.
* The kernel process's own stdout and stderr (start-up and shutdown chatter, not the notebook's
  outputs, which papermill captures into the notebook) go to a log file, not the terminal.
* A worker can start a *spare* kernel ahead of time (:func:`prestart`) that boots and imports
  the report stack while the worker renders the previous report. The next evaluation takes it
  instead of waiting for a new kernel. A spare runs one notebook only and is shut down after
  it, exactly like a fresh kernel: only imported modules are shared with nothing.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from jupyter_client.utils import run_sync
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines
from papermill.log import logger
from papermill.utils import merge_kwargs, remove_args

__all__ = ["EvalkitEngine", "ENGINE_NAME", "prestart", "shutdown_spares"]

ENGINE_NAME = "evalkit"

#: The environment variable that asks :func:`evalkit.report.figures.figure_block` to note the
#: seconds each figure took to draw, in the file it names (relative to the kernel's folder).
#: Only the runner's own kernels get it, so no other kernel writes the file.
FIGURE_TIMES_ENV = "EVALKIT_FIGURE_TIMES"
FIGURE_TIMES_FILE = "figure-seconds.txt"

#: Modules a spare kernel imports before it is used (what every template imports).
WARM_MODULES = (
    "numpy", "pandas", "scipy.special", "matplotlib", "matplotlib.figure",
    "evalkit", "evalkit.data", "evalkit.methods", "evalkit.report",
)


#: Run before the kernel (Linux): ask for SIGKILL when the process that started the kernel
#: dies, then become the kernel. A kernel thus never outlives its worker, even one killed
#: with ``kill -9``. If that process is already gone, exit at once.
_DIE_WITH_PARENT = (
    "import ctypes, os, sys\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    os._exit(1)\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)


class IPCKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel listens on Unix sockets in a private temporary folder.

    The folder (``evalkit-k-<pid>-<random>``, pid of the process starting the kernel) also
    holds the connection file, so nothing is left in Jupyter's runtime folder; folders of a
    process that no longer runs are removed at the start of the next run. On Linux the kernel
    is killed when the process that started it dies.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._socket_dir = tempfile.mkdtemp(prefix=f"evalkit-k-{os.getpid()}-")
        self.transport = "ipc"
        self.ip = os.path.join(self._socket_dir, "k")
        self.connection_file = os.path.join(self._socket_dir, "kernel.json")

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments)
        if sys.platform.startswith("linux") and cmd:
            exe = shutil.which(cmd[0]) or cmd[0]
            cmd = [sys.executable, "-c", _DIE_WITH_PARENT, str(os.getpid()), exe, *cmd[1:]]
        return cmd

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            shutil.rmtree(self._socket_dir, ignore_errors=True)

    cleanup_resources = _async_cleanup_resources

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        # the runner's kernels note their figure times (the manifest's "figures" phase)
        kw["env"] = {**(kw.get("env") or os.environ), FIGURE_TIMES_ENV: FIGURE_TIMES_FILE}
        await super()._async_launch_kernel(kernel_cmd, **kw)


KERNEL_MANAGER = IPCKernelManager if os.name == "posix" else AsyncKernelManager


@dataclass
class _Spare:
    km: Any
    kc: Any
    msg_id: str
    log: Any
    started: float


_SPARES: dict[str, _Spare] = {}


def prestart(kernel_name: str = "python3", log_path: str | None = None) -> None:
    """Start a spare kernel for the next notebook of this process, if none is waiting.

    The call returns as soon as the kernel process is launched; the kernel boots and imports
    :data:`WARM_MODULES` on its own while this process does other work.
    """
    if kernel_name in _SPARES:
        return
    log = open(log_path or os.devnull, "ab")
    km = KERNEL_MANAGER(kernel_name=kernel_name)
    try:
        run_sync(km.start_kernel)(cwd=tempfile.gettempdir(), stdout=log, stderr=log)
        kc = km.client()
        kc.start_channels()
        code = (
            "import importlib as _ek_imp\n"
            f"for _ek_mod in {WARM_MODULES!r}:\n"
            "    _ek_imp.import_module(_ek_mod)\n"
            "del _ek_imp, _ek_mod\n"
        )
        msg_id = kc.execute(code, silent=True, store_history=False)
    except Exception:  # noqa: BLE001 - a spare is an optimisation; without it runs go on
        log.close()
        _shutdown(km)
        return
    _SPARES[kernel_name] = _Spare(km, kc, msg_id, log, time.perf_counter())


def _take(kernel_name: str, cwd: str, timeout: float) -> Any | None:
    """The waiting spare, moved to ``cwd`` and ready; ``None`` if there is no usable spare."""
    spare = _SPARES.pop(kernel_name, None)
    if spare is None:
        return None
    try:
        if not run_sync(spare.km.is_alive)():
            raise RuntimeError("spare kernel died")
        reply = run_sync(spare.kc.get_shell_msg)(timeout=timeout)
        while reply["parent_header"].get("msg_id") != spare.msg_id:
            reply = run_sync(spare.kc.get_shell_msg)(timeout=timeout)
        if reply["content"]["status"] != "ok":
            raise RuntimeError("spare kernel could not import the report stack")
        msg_id = spare.kc.execute(f"import os as _ek_os\n_ek_os.chdir({cwd!r})\ndel _ek_os",
                                  silent=True, store_history=False)
        reply = run_sync(spare.kc.get_shell_msg)(timeout=timeout)
        if reply["parent_header"].get("msg_id") != msg_id or reply["content"]["status"] != "ok":
            raise RuntimeError("spare kernel could not change folder")
    except Exception:  # noqa: BLE001 - fall back to a fresh kernel
        spare.kc.stop_channels()
        spare.log.close()
        _shutdown(spare.km)
        return None
    spare.kc.stop_channels()
    spare.log.close()
    return spare.km


def _shutdown(km: Any) -> None:
    try:
        if run_sync(km.is_alive)():
            run_sync(km.shutdown_kernel)(now=True)
        else:
            run_sync(km.cleanup_resources)()
    except Exception:  # noqa: BLE001 - best effort at exit
        pass


def shutdown_spares() -> None:
    """Shut down every spare kernel this process started and has not used."""
    while _SPARES:
        _, spare = _SPARES.popitem()
        try:
            spare.kc.stop_channels()
        finally:
            spare.log.close()
            _shutdown(spare.km)


class EvalkitEngine(NBClientEngine):
    """papermill's nbclient engine with the kernel handling described in the module docstring.

    Extra keyword: ``kernel_log``, a binary file the kernel process's output is written to.
    """

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man,
        kernel_name,
        log_output=False,
        stdout_file=None,
        stderr_file=None,
        start_timeout=60,
        execution_timeout=None,
        kernel_log=None,
        **kwargs,
    ):
        """Run a papermill-managed notebook, on a waiting spare kernel when there is one.

        A waiting spare kernel (see :func:`prestart`) is moved to the working folder, runs the
        notebook and is shut down after it; without one, a fresh kernel is started, with its
        own output written to ``kernel_log`` if given.

        Parameters
        ----------
        nb_man
            papermill's notebook execution manager.
        kernel_name
            The kernel to run the notebook in.
        log_output, stdout_file, stderr_file
            Where the notebook's outputs are logged, as in papermill.
        start_timeout
            Seconds to wait for the kernel to start (or for a spare to be ready).
        execution_timeout
            Seconds each cell may run; when not given, papermill's ``timeout`` keyword (if
            any) applies.
        kernel_log
            A binary file the fresh kernel process's stdout and stderr are written to; ``None``
            for the default.
        **kwargs
            Passed on to papermill's notebook client (``input_path``, ``timeout`` and
            ``startup_timeout`` are taken out first).

        Returns
        -------
        nbformat.NotebookNode
            The executed notebook, as the client returns it.
        """
        kwargs = remove_args(["input_path"], **kwargs)
        safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
        final_kwargs = merge_kwargs(
            safe_kwargs,
            timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
            startup_timeout=start_timeout,
            kernel_name=kernel_name,
            log=logger,
            log_output=log_output,
            stdout_file=stdout_file,
            stderr_file=stderr_file,
        )
        final_kwargs.setdefault("kernel_manager_class", KERNEL_MANAGER)
        km = _take(kernel_name, os.getcwd(), timeout=start_timeout)
        if km is None:
            client = PapermillNotebookClient(nb_man, **final_kwargs)
            if kernel_log is None:
                return client.execute()
            return client.execute(stdout=kernel_log, stderr=kernel_log)
        client = PapermillNotebookClient(nb_man, km=km, **final_kwargs)
        try:
            return client.execute()
        finally:
            # The client does not own a kernel it was handed: shut it down here, so a spare
            # serves exactly one notebook, like a fresh kernel.
            if client.kc is not None:
                client.kc.stop_channels()
            _shutdown(km)


papermill_engines.register(ENGINE_NAME, EvalkitEngine)

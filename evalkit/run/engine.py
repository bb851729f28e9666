"""papermill engine used by the runner: private kernel sockets, quiet kernels, forked kernels.

* Kernels talk to the runner over Unix domain sockets in a private temporary folder. With TCP,
  the parent picks free ports and the kernel binds them later; two kernels started at the same
  moment by two worker processes can pick the same port, and one of them dies.
* The kernel process's own stdout and stderr (start-up and shutdown chatter, not the notebook's
  outputs, which papermill captures into the notebook) go to a log file, not the terminal.
* On Linux a kernel is *forked* from a process of this worker's that has imported the report
  stack once (:mod:`evalkit.run.kernelfork`), instead of booting a new Python that imports it
  again: about 3 s of CPU less per evaluation. Each evaluation still gets a process of its own.
  ``EVALKIT_FORK_KERNELS=0`` turns this off; other kernels than ipykernel are never forked.
* Elsewhere (or with forking off) a worker can start a *spare* kernel ahead of time that
  boots and imports the report stack while the worker renders the previous report; the next
  evaluation takes it instead of waiting for a new kernel. A spare runs one notebook only and
  is shut down after it, exactly like a fresh kernel.

:func:`prestart` starts whichever of the two applies.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from jupyter_client.utils import run_sync
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines
from papermill.log import logger
from papermill.utils import merge_kwargs, remove_args

__all__ = ["EvalkitEngine", "ENGINE_NAME", "FORK_ENV", "prestart", "shutdown_spares",
           "stop_forkers"]

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
        self._plain_cmd = list(cmd)
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
        kernel = _fork_kernel(getattr(self, "_plain_cmd", kernel_cmd), kw)
        if kernel is None:
            await super()._async_launch_kernel(kernel_cmd, **kw)
            return
        # what jupyter_client's local provisioner records for a kernel it launched itself
        provisioner = self.provisioner
        assert provisioner is not None
        provisioner.process = kernel  # type: ignore[attr-defined]
        provisioner.pid = kernel.pid  # type: ignore[attr-defined]
        # no group for the provisioner to signal by id: the kernel object signals its group
        # only while the kernel runs (a pid, and so a group id, can be given out again)
        provisioner.pgid = None  # type: ignore[attr-defined]
        provisioner.cwd = kw.get("cwd") or os.getcwd()  # type: ignore[attr-defined]
        self._reconcile_connection_info(provisioner.connection_info)


KERNEL_MANAGER = IPCKernelManager if os.name == "posix" else AsyncKernelManager

#: Set to 0 to start every kernel as a new Python instead of forking it (Linux).
FORK_ENV = "EVALKIT_FORK_KERNELS"


def _forking() -> bool:
    return sys.platform.startswith("linux") and os.environ.get(FORK_ENV, "1") != "0"


class _Forker:
    """A kernel forker of this process, for one Python (see :mod:`evalkit.run.kernelfork`).

    Replies are read from the pipe's file descriptor with their own buffer and matched to
    their request by id. A reply that does not come within the timeout, or does not match,
    ends the forker (and any kernel it forked late dies with it): the pipe is never left out
    of step with the requests.
    """

    def __init__(self, python: str, env: dict[str, str]) -> None:
        from evalkit.run import kernelfork

        self.ready = False
        self.lock = threading.Lock()
        self._buf = b""
        self._next = 0
        self.proc = subprocess.Popen(
            [python, kernelfork.__file__, str(os.getpid())], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
            cwd=tempfile.gettempdir())

    def _reply(self, timeout: float) -> dict | None:
        import json
        import select

        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        end = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = end - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        try:
            reply = json.loads(line)
        except ValueError:
            return None
        return reply if isinstance(reply, dict) else None

    def fork(self, argv: list[str], cwd: str, env: dict[str, str], log: str | None,
             timeout: float = 60) -> int | None:
        """The pid of a new kernel with ``argv``; ``None`` if the forker cannot make one."""
        import json

        with self.lock:
            if self.proc.poll() is not None:
                return None
            if not self.ready:
                if self._reply(timeout) is None:
                    self.close()
                    return None
                self.ready = True
            assert self.proc.stdin is not None
            self._next += 1
            request = {"id": self._next, "argv": argv, "cwd": cwd, "env": env, "log": log}
            try:
                self.proc.stdin.write((json.dumps(request) + "\n").encode())
                self.proc.stdin.flush()
            except OSError:
                self.close()
                return None
            reply = self._reply(timeout)
            if reply is None or reply.get("id") != self._next:
                self.close()  # out of step: a late kernel dies with the forker
                return None
            return int(reply["pid"]) if isinstance(reply.get("pid"), int) else None

    def close(self) -> None:
        """Stop the forker (kernels it forked that still run die with it)."""
        with contextlib.suppress(OSError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        if self.proc.poll() is None:
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


_FORKERS: dict[str, _Forker] = {}
_FORKERS_LOCK = threading.Lock()


def _forker(python: str, env: dict[str, str]) -> _Forker | None:
    """The running forker for ``python``, started if needed; ``None`` if kernels are not forked.

    Only the main thread starts and uses forkers: a forker dies with the thread that started
    it (``PR_SET_PDEATHSIG`` follows the thread), so one started by a short-lived thread would
    take its kernels with it. Other threads start kernels the usual way.
    """
    if not _forking() or threading.current_thread() is not threading.main_thread():
        return None
    with _FORKERS_LOCK:
        forker = _FORKERS.get(python)
        if forker is not None and forker.proc.poll() is not None:
            forker.close()
            forker = None
        if forker is None:
            try:
                forker = _Forker(python, env)
            except OSError:
                return None
            if not _FORKERS:
                import atexit

                atexit.register(stop_forkers)
            _FORKERS[python] = forker
        return forker


def _fork_kernel(cmd: list[str], kw: dict[str, Any]):
    """A forked kernel for the launch command ``cmd``, or ``None`` to start it as usual.

    Only ipykernel's own launcher (``<python> -m ipykernel_launcher ...``) is forked.
    """
    from evalkit.run.kernelfork import ForkedKernel

    if len(cmd) < 3 or cmd[1:3] != ["-m", "ipykernel_launcher"] or not _forking():
        return None
    env = {k: str(v) for k, v in (kw.get("env") or os.environ).items()}
    forker = _forker(cmd[0], env)
    if forker is None:
        return None
    log = getattr(kw.get("stdout"), "name", None)
    pid = forker.fork(cmd[3:], str(kw.get("cwd") or os.getcwd()), env,
                      log if isinstance(log, str) and os.path.isabs(log) else None)
    return None if pid is None else ForkedKernel(pid)


def stop_forkers() -> None:
    """Stop this process's kernel forkers."""
    with _FORKERS_LOCK:
        while _FORKERS:
            _, forker = _FORKERS.popitem()
            forker.close()


@dataclass
class _Spare:
    km: Any
    kc: Any
    msg_id: str
    log: Any
    started: float


_SPARES: dict[str, _Spare] = {}


def prestart(kernel_name: str = "python3", log_path: str | None = None) -> None:
    """Make this process's next kernel start fast: start the forker, or a spare kernel.

    On Linux (unless ``EVALKIT_FORK_KERNELS=0``) this starts the kernel forker for the
    kernel's Python if it is not running; elsewhere a spare kernel, if none is waiting. Either
    way the call returns at once, and the new process imports the report stack on its own
    while this process does other work.
    """
    if _forking():
        _start_forker(kernel_name)
        return
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


def _start_forker(kernel_name: str) -> None:
    """Start the forker for ``kernel_name``'s Python now, so that it imports meanwhile."""
    try:
        # the command as jupyter_client will launch it ("python" read as this Python)
        km = AsyncKernelManager(kernel_name=kernel_name)
        argv = km.format_kernel_cmd()
        spec_env = km.kernel_spec.env if km.kernel_spec else {}
    except Exception:  # noqa: BLE001 - the notebook's own start reports a missing kernel
        return
    if len(argv) < 3 or argv[1:3] != ["-m", "ipykernel_launcher"]:
        return
    _forker(argv[0], {**os.environ, **(spec_env or {}), FIGURE_TIMES_ENV: FIGURE_TIMES_FILE})


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

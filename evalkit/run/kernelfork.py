"""Kernels forked from a process that has already imported the report stack (Linux).

Starting a kernel the usual way boots a new Python and imports numpy, pandas, scipy,
matplotlib, IPython and evalkit again for every evaluation: about 3 s of CPU each, more than
most templates' own cells. Instead, each runner worker starts one *kernel forker* (this
module run as a script) that imports that stack once and then, for every kernel the worker
asks for, forks itself: the child becomes an ordinary ipykernel with the connection file,
working folder, environment and log file of that request. Every evaluation still gets a new
process of its own, so nothing an evaluation does can reach another; what the children share
is only the modules imported before any notebook ran, exactly the state a fresh kernel has
after its first import cell.

The forker starts no threads of its own: it only reads requests and forks (the native
allocator thread pandas' pyarrow starts is made safe across fork by the allocator itself). It and its
kernels die with the process that started them (``PR_SET_PDEATHSIG``), and a kernel also
stops when the forker goes, as ipykernel's parent poller sees its parent change.

Protocol, one JSON object per line: the forker writes ``{"ready": [...failed imports]}`` once
its imports are done; each request ``{"id", "argv", "cwd", "env", "log"}`` is answered with
``{"id", "pid": n}`` or ``{"id", "error": "..."}``. The forker's first argument is the pid of
the process that starts it.
"""

from __future__ import annotations

import json
import os
import signal
import sys

__all__ = ["WARM_MODULES", "ForkedKernel", "main"]

#: What the forker imports before serving: what the templates import, and the kernel itself.
WARM_MODULES = (
    "numpy", "pandas", "pandas.core.reshape.reshape", "scipy.special", "scipy.stats",
    "scipy.optimize", "pyarrow.parquet", "pyarrow.dataset",
    "matplotlib", "matplotlib.figure", "matplotlib.pyplot", "PIL.PngImagePlugin",
    "evalkit", "evalkit.data", "evalkit.methods", "evalkit.report", "evalkit.weighting",
    "evalkit.did", "evalkit.policy", "evalkit.prepost", "evalkit.survival",
    "evalkit.methods.episodes",
    "evalkit.report.did", "evalkit.report.did_sensitivity", "evalkit.report.synthdid",
    "evalkit.report.its", "evalkit.report.prepost", "evalkit.report.survival",
    "evalkit.report.episodes",
    # the kernel's own start
    "IPython", "IPython.core.debugger", "IPython.core.oinspect", "IPython.core.completerlib",
    "IPython.extensions.storemagic", "ipykernel.kernelapp", "ipykernel.ipkernel",
    "ipykernel.debugger", "matplotlib_inline.backend_inline", "psutil", "sqlite3",
)


def _die_with_parent(name: bytes, parent: int) -> None:
    """Take the name ``name`` (shown by ``ps``) and die with ``parent``; exit if it is gone.

    The parent's death sends SIGKILL (Linux ``PR_SET_PDEATHSIG``). ``parent`` is the pid the
    process was started by, read before it started: if that process has already gone (and
    another adopted this one), this process ends at once.
    """
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(15, ctypes.c_char_p(name[:15]), 0, 0, 0)  # PR_SET_NAME
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(1)


def _child(request: dict, forker: int) -> None:
    """In the forked child of ``forker``: become the kernel of ``request``; never returns."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the kernel waits for its own children
        os.setsid()  # its own process group, as jupyter_client's launcher gives a kernel
        _die_with_parent(b"evalkit-kernel", forker)
        if "numpy.random" in sys.modules:  # a fresh kernel's unseeded state, not the forker's
            sys.modules["numpy.random"].seed()
        null = os.open(os.devnull, os.O_RDONLY)
        out = os.open(request.get("log") or os.devnull,
                      os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(null)
        os.close(out)
        os.chdir(request["cwd"])
        env = dict(request["env"])
        env["JPY_PARENT_PID"] = str(os.getppid())  # the forker is this kernel's parent
        os.environ.clear()
        os.environ.update(env)
        sys.argv = ["ipykernel_launcher", *request["argv"]]
        from ipykernel import kernelapp

        kernelapp.launch_new_instance()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - the kernel's log gets the reason
        import traceback

        traceback.print_exc()
    finally:
        try:
            import atexit

            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def main() -> None:
    """The forker: import :data:`WARM_MODULES`, then fork one kernel per request on stdin."""
    import importlib

    _die_with_parent(b"evalkit-forker", int(sys.argv[1]) if len(sys.argv) > 1 else os.getppid())
    # the backend ipykernel makes the default, set before matplotlib is imported (it reads the
    # variable then); a worker's MPLBACKEND=Agg is kept, as its kernels get it too
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    failed = []
    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the kernel's own import then reports the error
            failed.append(name)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the system
    reply = sys.stdout
    requests = sys.stdin
    print(json.dumps({"ready": failed}), file=reply, flush=True)
    me = os.getpid()
    for line in requests:
        request: dict = {}
        try:
            request = json.loads(line)
            reply.flush()
            sys.stderr.flush()
            pid = os.fork()
        except Exception as exc:  # noqa: BLE001 - the caller starts the kernel itself
            print(json.dumps({"id": request.get("id"), "error": f"{type(exc).__name__}: {exc}"}),
                  file=reply, flush=True)
            continue
        if pid == 0:
            _child(request, me)
        print(json.dumps({"id": request.get("id"), "pid": pid}), file=reply, flush=True)


class ForkedKernel:
    """The part of :class:`subprocess.Popen` that jupyter_client uses, for a forked kernel.

    The kernel is the forker's child, not this process's, and the system reaps it at once.
    It is watched through a pidfd (Linux 5.3 and later), so a pid the system has since given
    to another process is never taken for the kernel, and signals reach it only while it
    runs: to its process group (the kernel leads one), as jupyter_client's own launcher
    signals a kernel. Its exit status is not known here: :attr:`returncode` is ``-signal``
    after this object signalled it and 0 otherwise.
    """

    stdin = stdout = stderr = None

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._signal = 0
        try:
            self._fd: int | None = os.pidfd_open(pid)
        except (AttributeError, OSError):  # an older kernel: the pid is checked instead
            self._fd = None

    def _ended(self) -> bool:
        if self._fd is None:
            return not _alive(self.pid)
        import select

        return bool(select.select([self._fd], [], [], 0)[0])

    def poll(self) -> int | None:
        """``None`` while the kernel runs, else its :attr:`returncode`."""
        if self.returncode is None and self._ended():
            self.returncode = -self._signal if self._signal else 0
            self.close()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the kernel to end; :class:`subprocess.TimeoutExpired` after ``timeout``."""
        import subprocess
        import time

        end = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if end is not None and time.monotonic() > end:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout or 0)
            time.sleep(0.02)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, signum: int) -> None:
        """Send ``signum`` to the kernel's process group (nothing once the kernel has ended)."""
        if self.poll() is not None:
            return
        self._signal = signum
        try:
            os.killpg(self.pid, signum)
        except OSError:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        """SIGKILL."""
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        """SIGTERM."""
        self.send_signal(signal.SIGTERM)

    def close(self) -> None:
        """Close the pidfd (after the kernel ended, or when this object goes)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        self.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie waiting to be reaped has ended
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


if __name__ == "__main__":
    # run as a script (not ``-m``, which would import the runner's package): drop this
    # script's folder from the path; the kernel adds its working folder itself
    del sys.path[0]
    main()

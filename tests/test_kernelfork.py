"""Kernels forked from a pre-imported process: what a kernel sees, what kernels share, fallbacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from jupyter_client.utils import run_sync

from evalkit.run import engine
from evalkit.run.kernelfork import ForkedKernel

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="kernels are forked on Linux only")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _ppid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _run(code: str, cwd: Path, env: dict[str, str] | None = None, log=None):
    """Start a runner kernel in ``cwd``, run ``code``, shut it down; (manager, pid, reply)."""
    km = engine.IPCKernelManager(kernel_name="python3")
    kwargs: dict = {"cwd": str(cwd)}
    if env is not None:
        kwargs["env"] = env
    if log is not None:
        kwargs["stdout"] = kwargs["stderr"] = log
    run_sync(km.start_kernel)(**kwargs)
    pid = km.provisioner.pid
    kc = km.client()
    kc.start_channels()
    try:
        run_sync(kc.wait_for_ready)(timeout=60)
        reply = run_sync(kc.execute_interactive)(code, timeout=60)
    finally:
        kc.stop_channels()
        run_sync(km.shutdown_kernel)(now=True)
    return km, pid, reply


def test_a_kernel_is_forked_in_its_folder_with_its_environment_and_log(tmp_path):
    log_path = tmp_path / "kernel.log"
    probe = (
        "import json, os, sys\n"
        "os.write(1, b'written to the kernel log\\n')\n"
        "json.dump({'cwd': os.getcwd(), 'probe': os.environ.get('EVALKIT_PROBE'),\n"
        "           'figures': os.environ.get('EVALKIT_FIGURE_TIMES'),\n"
        "           'preloaded': 'evalkit.report.did' in sys.modules,\n"
        "           'ppid': os.getppid(), 'pid': os.getpid(),\n"
        "           'parent_env': os.environ.get('JPY_PARENT_PID'),\n"
        "           'pgid': os.getpgid(0), 'name': open('/proc/self/comm').read().strip()},\n"
        "          open('probe.json', 'w'))\n"
    )
    with open(log_path, "wb") as log:
        km, pid, reply = _run(probe, tmp_path, {**os.environ, "EVALKIT_PROBE": "42"}, log)
    assert reply["content"]["status"] == "ok", reply["content"]
    got = json.loads((tmp_path / "probe.json").read_text())
    forker = engine._FORKERS[sys.executable].proc.pid
    assert got["cwd"] == str(tmp_path)
    assert got["probe"] == "42"
    assert got["figures"] == engine.FIGURE_TIMES_FILE
    assert got["preloaded"] is True  # imported by the forker before this kernel existed
    # the forker's child, in a process group of its own; ipykernel watches the forker
    assert got["pid"] == pid and got["ppid"] == forker and got["pgid"] == pid
    assert got["parent_env"] == str(forker)
    assert "written to the kernel log" in log_path.read_text()
    assert got["name"] == "evalkit-kernel"  # how `ps` shows it
    # shut down: the process is gone, as jupyter_client sees it
    assert not _alive(pid)
    assert km.provisioner is None or not km.provisioner.has_process


def test_each_kernel_is_a_new_process_that_shares_nothing_an_earlier_one_did(tmp_path):
    _, first, reply = _run("import evalkit\nevalkit._probe = 1\nleft_over = 5", tmp_path)
    assert reply["content"]["status"] == "ok"
    code = ("import evalkit\n"
            "assert not hasattr(evalkit, '_probe')\n"
            "assert 'left_over' not in globals()")
    _, second, reply = _run(code, tmp_path)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert first != second


def test_a_kernel_interrupt_reaches_the_forked_kernel(tmp_path):
    km = engine.IPCKernelManager(kernel_name="python3")
    run_sync(km.start_kernel)(cwd=str(tmp_path))
    kc = km.client()
    kc.start_channels()
    try:
        run_sync(kc.wait_for_ready)(timeout=60)
        assert isinstance(km.provisioner.process, ForkedKernel)
        msg_id = kc.execute("import time\ntime.sleep(60)")
        time.sleep(1)
        t0 = time.monotonic()
        run_sync(km.interrupt_kernel)()
        reply = run_sync(kc.get_shell_msg)(timeout=20)
        assert reply["parent_header"]["msg_id"] == msg_id
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        assert time.monotonic() - t0 < 20
        assert run_sync(km.is_alive)()
    finally:
        kc.stop_channels()
        run_sync(km.shutdown_kernel)(now=True)


def test_a_dead_forker_is_replaced(tmp_path):
    _run("pass", tmp_path)
    old = engine._FORKERS[sys.executable].proc
    old.kill()
    old.wait(10)
    _, pid, reply = _run("x = 1", tmp_path)
    assert reply["content"]["status"] == "ok"
    new = engine._FORKERS[sys.executable].proc
    assert new.pid != old.pid and new.poll() is None


def test_kernels_die_with_their_forker(tmp_path):
    km = engine.IPCKernelManager(kernel_name="python3")
    run_sync(km.start_kernel)(cwd=str(tmp_path))
    pid = km.provisioner.pid
    forker = engine._FORKERS[sys.executable].proc
    try:
        assert _ppid(pid) == forker.pid
        forker.kill()
        forker.wait(10)
        # a killed kernel's threads end one by one: its pidfd turns readable only after the
        # last, which may be a moment after /proc shows the main thread a zombie
        end = time.monotonic() + 10
        while (_alive(pid) or run_sync(km.is_alive)()) and time.monotonic() < end:
            time.sleep(0.1)
        assert not _alive(pid)
        assert not run_sync(km.is_alive)()
    finally:
        run_sync(km.shutdown_kernel)(now=True)


def test_with_forking_off_a_kernel_starts_as_a_new_python(tmp_path, monkeypatch):
    monkeypatch.setenv(engine.FORK_ENV, "0")
    km = engine.IPCKernelManager(kernel_name="python3")
    run_sync(km.start_kernel)(cwd=str(tmp_path))
    try:
        assert isinstance(km.provisioner.process, subprocess.Popen)
        kc = km.client()
        kc.start_channels()
        run_sync(kc.wait_for_ready)(timeout=60)
        reply = run_sync(kc.execute_interactive)("import sys\nassert 'pandas' not in sys.modules",
                                                 timeout=60)
        kc.stop_channels()
        assert reply["content"]["status"] == "ok", reply["content"]
    finally:
        run_sync(km.shutdown_kernel)(now=True)


def test_a_kernel_command_other_than_ipykernel_is_not_forked():
    assert engine._fork_kernel([sys.executable, "-m", "other_kernel", "-f", "c.json"], {}) is None
    assert engine._fork_kernel(["/usr/bin/R", "--slave"], {}) is None


def test_a_reply_that_comes_late_ends_the_forker_and_the_next_kernel_is_its_own(tmp_path):
    _run("pass", tmp_path)
    forker = engine._FORKERS[sys.executable]
    # a reply not read in time (timeout 0): the forker is stopped rather than left one
    # reply behind, which would hand the next request the previous kernel's pid
    assert forker.fork(["-f", str(tmp_path / "nothing.json")], str(tmp_path), dict(os.environ),
                       None, timeout=0) is None
    assert forker.proc.poll() is not None
    _, pid2, _ = _run("import json, os\njson.dump(os.getpid(), open('pid.json', 'w'))",
                           tmp_path)
    assert json.loads((tmp_path / "pid.json").read_text()) == pid2


def test_forked_kernels_do_not_share_numpy_random_state(tmp_path):
    code = ("import json, numpy\n"
            "json.dump(numpy.random.rand(), open('draw-{}.json', 'w'))")
    _run(code.format(1), tmp_path)
    _run(code.format(2), tmp_path)
    first = json.loads((tmp_path / "draw-1.json").read_text())
    second = json.loads((tmp_path / "draw-2.json").read_text())
    assert first != second


def test_a_forked_kernel_has_the_matplotlib_backend_a_new_one_has(tmp_path, monkeypatch):
    monkeypatch.delenv("MPLBACKEND", raising=False)
    engine.stop_forkers()  # a forker started without MPLBACKEND, as in a plain session
    code = "import json, matplotlib\njson.dump(matplotlib.get_backend(), open('{}', 'w'))"
    try:
        _run(code.format("forked.json"), tmp_path, dict(os.environ))
        monkeypatch.setenv(engine.FORK_ENV, "0")
        _run(code.format("new.json"), tmp_path, dict(os.environ))
    finally:
        engine.stop_forkers()
    forked = json.loads((tmp_path / "forked.json").read_text())
    assert forked == json.loads((tmp_path / "new.json").read_text())
    assert "inline" in forked


def test_a_kernel_started_from_another_thread_is_not_forked(tmp_path):
    import threading

    got = {}

    def start() -> None:
        km = engine.IPCKernelManager(kernel_name="python3")
        run_sync(km.start_kernel)(cwd=str(tmp_path))
        got["process"] = km.provisioner.process
        run_sync(km.shutdown_kernel)(now=True)

    t = threading.Thread(target=start)
    t.start()
    t.join(120)
    assert isinstance(got["process"], subprocess.Popen)


def test_a_kernel_that_ended_is_not_signalled_again():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    kernel = ForkedKernel(proc.pid)
    assert kernel.poll() is None
    proc.kill()
    proc.wait(10)  # reaped: the pid may now be given to another process
    assert kernel.wait(5) == 0 and kernel.poll() == 0
    kernel.send_signal(9)  # nothing is sent: no error, and no process is touched
    kernel.kill()

"""The runner under hostile input and faults (issue 11): the right data reaches the kernel,
every failure is one paragraph that names the file and stays inside its evaluation, a dead
worker fails nothing else, ``kill -9`` leaves nothing running, and two runs give the same
files."""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from conftest import ROOT, SAMPLE, custom_template, write_config

from evalkit.exceptions import EvalDataError
from evalkit.run import run_all, run_evaluation
from evalkit.run.execute import _describe_execution_error, _keep_failed, clean_stale

EVALKIT = Path(sys.executable).with_name("evalkit")


# --- the right data --------------------------------------------------------------------------

def _two_sheet_workbook(folder: Path) -> Path:
    """Site A on the first sheet, site B on the second (sheet 'site_b')."""
    path = folder / "two_sites.xlsx"
    with pd.ExcelWriter(path) as xl:
        for site in ("a", "b"):
            df = pd.read_csv(SAMPLE / f"mentoring_site_{site}.csv", dtype={"case_id": str})
            df.to_excel(xl, sheet_name=f"site_{site}", index=False)
    return path


@pytest.fixture(scope="module")
def sheet_runs(tmp_path_factory):
    """The site B sheet of a two-sheet workbook, run twice with no change in between."""
    folder = tmp_path_factory.mktemp("sheet")
    book = _two_sheet_workbook(folder)
    cfg = write_config(folder, "site-b-sheet", data=str(book), data_sheet="site_b")
    runs = []
    for k in (1, 2):
        reports = folder / f"reports{k}"
        runs.append((reports, run_all([cfg], reports, jobs=1, echo=lambda s: None)))
    return runs


def test_the_sheet_named_in_the_config_is_the_one_analysed(sheet_runs, truth):
    reports, outcomes = sheet_runs[0]
    assert [o.status for o in outcomes] == ["ok"], outcomes[0].message
    doc = json.loads((reports / "site-b-sheet" / "results.json").read_text())
    # site B (120 enrolled), not the first sheet's site A (160 enrolled)
    assert doc["sample"]["enrolled"] == truth["mentoring"]["b"]["n_enrolled"] == 120
    nb = nbformat.read(reports / "site-b-sheet" / "report.ipynb", as_version=4)
    injected = next(c for c in nb.cells
                    if "injected-parameters" in c.metadata.get("tags", []))
    # the kernel read the frame the runner validated, from the private working folder
    assert 'validated_data = "validated.parquet"' in injected.source
    assert 'data_sheet = "site_b"' in injected.source


def test_two_runs_give_identical_files_apart_from_documented_timestamps(sheet_runs):
    (r1, _), (r2, _) = sheet_runs
    slug = "site-b-sheet"
    assert (r1 / slug / "report.html").read_bytes() == (r2 / slug / "report.html").read_bytes()
    d1, d2 = (json.loads((r / slug / "results.json").read_text()) for r in (r1, r2))
    assert d1.pop("generated_at") and d2.pop("generated_at")
    assert d1 == d2
    t1, t2 = (re.sub(r"updated \d{4}-\d\d-\d\d \d\d:\d\d UTC", "updated T",
                     (r / "index.html").read_text()) for r in (r1, r2))
    assert t1 == t2
    # the executed notebook: a fixed id for papermill's cell, no private folder named
    for r in (r1, r2):
        nb = nbformat.read(r / slug / "report.ipynb", as_version=4)
        ids = [c.id for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert ids == ["injected-parameters"]
        pm = nb.metadata.papermill
        assert pm["parameters"]["results_path"] == "results.part.json"
        assert pm["output_path"] == "report.ipynb"
        assert f".tmp-{slug}-" not in (r / slug / "report.ipynb").read_text()


def test_a_duplicated_header_fails_the_evaluation_naming_columns(tmp_path):
    text = (SAMPLE / "mentoring_site_a.csv").read_text().splitlines()
    rows = [line + "," + line.split(",")[5] for line in text]  # ts_6mo again, column 9
    data = tmp_path / "dup.csv"
    data.write_text("\n".join(rows) + "\n")
    cfg = write_config(tmp_path, "dup-header", data=str(data))
    o = run_evaluation(cfg, tmp_path / "reports")
    assert (o.status, o.stage) == ("failed", "data")
    assert "'ts_6mo'" in o.message and "columns 6 and 9" in o.message


# --- one paragraph naming the file, never a traceback, never the whole batch -----------------

def test_a_symlink_loop_fails_only_its_evaluation_and_the_index_is_written(tmp_path, capsys):
    a, b = tmp_path / "loop.csv", tmp_path / "loop2.csv"
    a.symlink_to(b)
    b.symlink_to(a)
    cfgs = tmp_path / "evaluations"
    cfgs.mkdir()
    write_config(cfgs, "loop", data=str(a))
    write_config(cfgs, "good")
    (cfgs / "self.yaml").symlink_to(cfgs / "self2.yaml")  # the config itself loops
    (cfgs / "self2.yaml").symlink_to(cfgs / "self.yaml")
    reports = tmp_path / "reports"
    from evalkit.cli import main

    assert main(["run", str(cfgs), "--reports", str(reports), "-j", "1"]) == 1
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    assert "1 succeeded, 3 failed" in out.out and (reports / "good" / "report.html").is_file()
    assert re.search(r"FAILED loop .*\n.*loop\.csv.*symlink loop", out.out)
    assert re.search(r"FAILED self .*\n.*self\.yaml: the config file is a symbolic link", out.out)
    assert (reports / "index.html").is_file()


def _raise_erofs_under(root: Path, monkeypatch) -> None:
    """Make writes under ``root`` fail as on a read-only file system."""
    real_mkdir, real_write = pathlib.Path.mkdir, pathlib.Path.write_text

    def under(p) -> bool:
        return str(Path(os.path.abspath(p))).startswith(str(root))

    def mkdir(self, *a, **k):
        if under(self):
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return real_mkdir(self, *a, **k)

    def write_text(self, *a, **k):
        if under(self):
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return real_write(self, *a, **k)

    monkeypatch.setattr(pathlib.Path, "mkdir", mkdir)
    monkeypatch.setattr(pathlib.Path, "write_text", write_text)


def test_a_read_only_reports_folder_is_a_message_per_evaluation_not_a_traceback(
        tmp_path, monkeypatch, capsys):
    from evalkit.cli import main

    reports = tmp_path / "reports"
    reports.mkdir()
    cfgs = tmp_path / "evaluations"
    cfgs.mkdir()
    for slug in ("one", "two"):
        write_config(cfgs, slug)
    _raise_erofs_under(reports, monkeypatch)
    status = main(["run", str(cfgs), "--reports", str(reports), "-j", "1"])
    out = capsys.readouterr()
    assert status == 1
    assert "Traceback" not in out.out + out.err
    assert len(re.findall(r"^\[\d\/2\] FAILED", out.out, re.M)) == 2  # one paragraph each
    assert "Read-only file system" in out.out and str(reports) in out.out
    assert "index FAILED" in out.out and "Portfolio index not written" in out.out
    assert not list(reports.iterdir())


def test_a_full_disk_while_writing_the_index_leaves_the_old_index_and_no_partial_file(
        tmp_path, monkeypatch):
    from evalkit.run import batch

    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "index.html").write_text("previous index")
    real_write = pathlib.Path.write_text

    def write_text(self, text, *a, **k):
        if self.name.startswith("index.html"):
            real_write(self, text[:10], *a, **k)  # part of it, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real_write(self, text, *a, **k)

    monkeypatch.setattr(pathlib.Path, "write_text", write_text)
    monkeypatch.setattr(batch, "run_evaluation", lambda c, r, **k: batch.RunOutcome(
        Path(c).stem, str(c), "failed", 0.0, "data", "bad data"))
    lines: list[str] = []
    outcomes = run_all([write_config(tmp_path, "x")], reports, jobs=1, echo=lines.append)
    assert "No space left on device" in outcomes.index_error
    assert "index.html" in outcomes.index_error and "free some space" in outcomes.index_error
    assert (reports / "index.html").read_text() == "previous index"
    # the run lock's file stays (an OS lock on it is released when the run ends)
    assert sorted(p.name for p in reports.iterdir() if p.name != batch.LOCK_FILE) == [
        "index.html", "runs.json"]


def test_a_full_disk_leaves_no_empty_failed_notebook(tmp_path, monkeypatch):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("# Estimate\n1/0")])
    nb_path = tmp_path / "report.ipynb"
    nbformat.write(nb, nb_path)
    failed = tmp_path / "reports" / "_failed"
    real_write = pathlib.Path.write_text

    def write_text(self, *a, **k):
        if failed in self.parents:
            self.touch()  # the file is created, then nothing fits
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real_write(self, *a, **k)

    monkeypatch.setattr(pathlib.Path, "write_text", write_text)
    with pytest.raises(OSError):
        _keep_failed("x", nb_path, tmp_path / "kernel.log", failed, {})
    assert list(failed.iterdir()) == []


def test_the_timeout_message_names_the_cell():
    from nbclient.exceptions import CellTimeoutError

    template = ROOT / "templates" / "prepost.ipynb"
    nb = nbformat.read(template, as_version=4)
    k, cell = next((i, c) for i, c in enumerate(nb.cells) if c.source.startswith("# Estimate"))
    exc = CellTimeoutError.error_from_timeout_and_cell("Cell execution timed out", 600, cell)
    msg = _describe_execution_error(exc, template)
    # numbered as in the executed notebook (papermill's parameters cell comes first)
    assert msg.startswith(f"cell {k + 1} ('Estimate') ran longer than the timeout of 600 "
                          f"seconds")
    assert "'timeout'" in msg


def test_library_warnings_go_to_the_evaluations_log_not_the_terminal(
        tmp_path, monkeypatch, capfd):
    from evalkit.run.config import EvaluationConfig

    def noisy(self):
        warnings.warn("Glyph 8722 missing from current font.", UserWarning, stacklevel=2)
        logging.getLogger("matplotlib.font_manager").warning("findfont: Font family not found")
        print("a library's own line on stderr", file=sys.stderr)
        raise EvalDataError("no usable rows", source=str(self.data_path))

    monkeypatch.setattr(EvaluationConfig, "load_data", noisy)
    reports = tmp_path / "reports"
    o = run_evaluation(write_config(tmp_path, "noisy"), reports)
    out, err = capfd.readouterr()
    assert o.stage == "data" and "no usable rows" in o.message
    assert "Glyph" not in out + err and "findfont" not in out + err
    assert "a library's own line" not in out + err
    log = (reports / "_failed" / "noisy.run.log").read_text()
    assert "Glyph 8722" in log and "findfont" in log and "a library's own line" in log
    assert str(reports / "_failed" / "noisy.run.log") in o.message


# --- processes: a dead worker, a killed runner ---------------------------------------------

def _processes_with(mark: str) -> dict[int, str]:
    """Processes whose environment carries ``EVALKIT_TEST_MARK=mark``: pid -> command line."""
    found = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            env = (d / "environ").read_bytes()
            if f"EVALKIT_TEST_MARK={mark}".encode() in env.split(b"\0"):
                found[int(d.name)] = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
    return found


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _start_run(tmp_path: Path, n: int, jobs: int) -> tuple[subprocess.Popen, str, Path]:
    cfgs = tmp_path / "evaluations"
    cfgs.mkdir()
    for i in range(n):
        write_config(cfgs, f"eval-{i}")
    mark = uuid.uuid4().hex
    env = {**os.environ, "EVALKIT_TEST_MARK": mark}
    out = tmp_path / "out.txt"
    proc = subprocess.Popen([str(EVALKIT), "run", str(cfgs), "--reports",
                             str(tmp_path / "reports"), "-j", str(jobs)],
                            stdout=out.open("w"), stderr=subprocess.STDOUT, env=env,
                            cwd=tmp_path)
    return proc, mark, out


def _wait_for(pred, timeout: float, step: float = 0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = pred()
        if got:
            return got
        time.sleep(step)
    return pred()


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _kernels(mark: str) -> dict[int, str]:
    """The run's kernels: forked ones (named ``evalkit-kernel``) or started as a new Python."""
    return {p: c for p, c in _processes_with(mark).items()
            if "ipykernel" in c or _comm(p) == "evalkit-kernel"}


def _ppid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _worker_of(kernel: int) -> int:
    """The runner worker a kernel belongs to (its parent, or its forker's parent)."""
    parent = _ppid(kernel)
    return _ppid(parent) if _comm(parent) == "evalkit-forker" else parent


pytestmark_linux = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                      reason="reads /proc and relies on Linux signals")


@pytestmark_linux
def test_a_killed_worker_fails_nothing_and_its_evaluation_is_retried(tmp_path):
    proc, mark, out = _start_run(tmp_path, n=2, jobs=2)
    try:
        # both workers hold an evaluation once the notebooks run (a kernel under each)
        def busy_workers():
            kernels = _kernels(mark)
            parents = set()
            for k in kernels:
                with contextlib.suppress(OSError, ValueError, IndexError):
                    parents.add(_worker_of(k))
            return parents if len(parents) == 2 else None

        workers = _wait_for(busy_workers, 120)
        assert workers, out.read_text()
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        assert proc.wait(timeout=300) == 0, out.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
    text = out.read_text()
    assert "died (killed by SIGKILL); running it again on a fresh worker" in text
    assert "2 succeeded, 0 failed" in text
    assert _wait_for(lambda: not _processes_with(mark), 10)


@pytestmark_linux
def test_kill_9_of_the_runner_leaves_no_process_kernel_folder_or_connection_file(
        tmp_path, monkeypatch):
    from jupyter_core.paths import jupyter_runtime_dir

    # each notebook waits, so two kernels are surely running when the runner is killed (a
    # forked kernel can otherwise finish before the other worker's has started)
    custom_template(tmp_path, "# Wait\nimport time\ntime.sleep(120)", monkeypatch)
    runtime = Path(jupyter_runtime_dir())
    before = set(runtime.glob("kernel-*.json")) if runtime.is_dir() else set()
    proc, mark, out = _start_run(tmp_path, n=3, jobs=2)
    try:
        assert _wait_for(lambda: len(_kernels(mark)) >= 2, 120), out.read_text()
        pids = set(_processes_with(mark))
        reports = tmp_path / "reports"
        os.kill(proc.pid, signal.SIGKILL)
        written = {p.name for p in reports.iterdir()} if reports.is_dir() else set()
        proc.wait(timeout=10)
        t0 = time.monotonic()
        left = _wait_for(lambda: not _processes_with(mark), 10)
        assert left, f"still running after 10 s: {_processes_with(mark)}"
        assert time.monotonic() - t0 <= 10.5
    finally:
        if proc.poll() is None:
            proc.kill()
    time.sleep(2)
    # no report was written after the runner died
    assert {p.name for p in reports.iterdir()} <= written
    # nothing written after the parent died, no stray folders of the run's processes
    assert not (tmp_path / "reports" / "index.html").exists()
    tmp = Path(tempfile.gettempdir())
    clean_stale(tmp_path / "reports")  # what the next run does first
    stray = [d for d in tmp.iterdir()
             if any(d.name.startswith(f"evalkit-k-{p}-") or f"-{p}-" in d.name
                    and d.name.startswith(".tmp-") for p in pids)]
    assert stray == []
    after = set(runtime.glob("kernel-*.json")) if runtime.is_dir() else set()
    assert after - before == set()


def test_stale_kernel_folders_of_dead_processes_are_removed_and_live_ones_kept(tmp_path):
    tmp = Path(tempfile.gettempdir())
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp / f"evalkit-k-{dead.pid}-abc123xy"
    live = tmp / f"evalkit-k-{os.getpid()}-abc123xy"
    work = tmp / f".tmp-some-eval-{dead.pid}-abc123xy"
    for d in (stale, live, work):
        d.mkdir()
        (d / "kernel.json").write_text("{}")
    try:
        removed = clean_stale(tmp_path)
        assert stale in removed and work in removed and live not in removed
        assert live.is_dir() and not stale.exists() and not work.exists()
    finally:
        for d in (stale, live, work):
            if d.exists():
                import shutil

                shutil.rmtree(d)

"""Run one evaluation: validate, execute the template in-process, render, check, move into place.

The notebook runs in a private working folder outside the reports folder (the system's
temporary folder, readable by this user only). Only outputs that passed the identifier leak
check are copied into a staging folder beside ``reports/<slug>/`` and swapped into place, so a
failed re-run never destroys the last good report, and a crash at any moment leaves no
executed notebook under ``reports/``. Staging and working folders left by a crash are removed
at the start of the next run (:func:`clean_stale`).

A failure is returned as a :class:`RunOutcome` with one readable paragraph (the cell and the
error), never raised, so one bad evaluation cannot stop the others. The executed notebook of a
failed run is kept in ``reports/_failed/`` with its outputs only if it passes the same leak
check; otherwise its outputs (and, if needed, its parameters) are removed and the message says
so.

The module runs past 600 lines because the stages of one run share its private folder and its
one failure path: splitting them would pass that state between modules.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evalkit.exceptions import ConfigError, EvalDataError, PrivacyError

__all__ = ["RunOutcome", "run_evaluation", "FAILED_DIR", "clean_stale"]

#: Where the executed notebook of a failed run is kept for the evaluator (under reports/).
FAILED_DIR = "_failed"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class RunOutcome:
    """What happened to one evaluation."""

    slug: str
    config: str
    status: str  # "ok" or "failed"
    seconds: float
    stage: str = ""  # where it failed: config, data, execute, results, privacy, render
    message: str = ""
    report: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    #: Whether the run was skipped because the last good report is up to date.
    skipped: bool = False

    @property
    def ok(self) -> bool:
        """Whether the evaluation ran to the end (``status`` is ``"ok"``).

        Returns
        -------
        bool
            True for a successful run, False for a failed one.
        """
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        """The outcome as JSON-ready values, without the timings.

        Returns
        -------
        dict
            ``slug, config, status, seconds`` (rounded to milliseconds), ``stage, message``,
            ``report`` and ``skipped``.
        """
        return {
            "slug": self.slug, "config": self.config, "status": self.status,
            "seconds": round(self.seconds, 3), "stage": self.stage, "message": self.message,
            "report": self.report, "skipped": self.skipped,
        }


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _git_commit(where: Path) -> dict[str, Any]:
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True,
                              text=True, timeout=10)
        if head.returncode != 0:
            return {"commit": None, "dirty": None}
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=where, capture_output=True, text=True, timeout=10)
        return {"commit": head.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def _cell_seconds(nb_path: Path) -> dict[str, float]:
    """Seconds each code cell of an executed notebook ran, by its name (papermill's record)."""
    import nbformat

    out: dict[str, float] = {}
    try:
        nb = nbformat.read(nb_path, as_version=4)
    except (OSError, ValueError):
        return out
    for cell in nb.cells:
        d = cell.get("metadata", {}).get("papermill", {}).get("duration")
        if cell.get("cell_type") == "code" and isinstance(d, (int, float)):
            name = _cell_name(cell.get("source", "")) or "(unnamed)"
            out[name] = out.get(name, 0.0) + float(d)
    return out


def _figure_seconds(folder: Path) -> float:
    """Seconds the kernel spent drawing figures (the file ``figure_block`` noted them in)."""
    from evalkit.run.engine import FIGURE_TIMES_FILE

    path = folder / FIGURE_TIMES_FILE
    try:
        total = sum(float(x) for x in path.read_text(encoding="utf-8").split())
    except (OSError, ValueError):
        return 0.0
    path.unlink(missing_ok=True)
    return total


def _cell_name(source: str) -> str:
    first = source.strip().splitlines()[0] if source.strip() else ""
    return first.lstrip("# ").strip() if first.startswith("#") else first[:60]


_TIMEOUT = re.compile(r"after (?P<secs>[0-9.]+) seconds.*?Here is a preview of the cell "
                      r"contents:\n-+\n(?P<src>.*?)(?:\n-+\n?|$)", re.S)


def _timed_out_cell(text: str, notebook: Path | None) -> tuple[str, str]:
    """The cell an nbclient timeout message previews, as ``("cell 7 ('Estimate')", secs)``."""
    import ast

    m = _TIMEOUT.search(text)
    if m is None:
        return "a cell", ""
    src = m["src"].strip()
    first = src.splitlines()[0] if src else ""
    if first.startswith("["):  # a long cell is previewed as a list of its first lines
        try:
            first = str(ast.literal_eval(first)[0])
        except (ValueError, SyntaxError, IndexError, TypeError):
            first = first.strip("[]'\"")
    name = _cell_name(first)
    where = f"cell '{name}'" if name else "a cell"
    if notebook is not None and first:
        try:
            import nbformat

            cells = nbformat.read(notebook, as_version=4).cells
            tags = [c.get("metadata", {}).get("tags", []) for c in cells]
            hits = [i for i, c in enumerate(cells)
                    if c.cell_type == "code" and c.source.strip().startswith(first.strip())]
            # numbered as in the executed notebook, which has papermill's injected cell after
            # the parameters cell (the template given here when none was written)
            params = next((i for i, t in enumerate(tags) if "parameters" in t), None)
            if params is not None and not any("injected-parameters" in t for t in tags):
                hits = [i + 1 if i > params else i for i in hits]
            if len(hits) == 1:
                where = f"cell {hits[0]}" + (f" ('{name}')" if name else "")
        except Exception:  # noqa: BLE001 - the name alone is enough
            pass
    secs = m["secs"]
    return where, (secs[:-2] if secs.endswith(".0") else secs)


def _config_text(cfg: Any) -> str:
    """Every text the evaluator wrote into the config (title, description, parameters)."""
    parts: list[str] = [str(getattr(cfg, k, "") or "") for k in
                        ("title", "program", "description", "question", "outcome_domain")]

    def walk(v: Any) -> None:
        if isinstance(v, str):
            parts.append(v)
        elif isinstance(v, dict):
            for k, x in v.items():
                parts.append(str(k))
                walk(x)
        elif isinstance(v, (list, tuple)):
            for x in v:
                walk(x)

    walk(cfg.parameters)
    return "\n".join(parts)


def _describe_execution_error(exc: Exception, notebook: Path | None = None) -> str:
    """One paragraph naming the cell and the error, from papermill's error or any other.

    ``notebook`` is the executed notebook (or the template), used to number a cell that ran
    longer than the timeout.
    """
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        name = _cell_name(exc.source or "")
        where = f"cell {exc.cell_index}" + (f" ('{name}')" if name else "")
        evalue = _ANSI.sub("", str(exc.evalue)).strip()
        return f"{where} raised {exc.ename}: {evalue}"
    text = _ANSI.sub("", str(exc)).strip() or type(exc).__name__
    if "timed out" in text.lower() or type(exc).__name__ == "CellTimeoutError":
        where, secs = _timed_out_cell(text, notebook)
        limit = f"the timeout of {secs} seconds" if secs else "the timeout"
        return (f"{where} ran longer than {limit} and was stopped (raise 'timeout' in the "
                f"config if the data are large)")
    if type(exc).__name__ == "DeadKernelError":
        return ("the notebook's kernel died while it ran (it may have run out of memory, or "
                "been stopped from outside)")
    if isinstance(exc, OSError):
        return _os_error(exc)
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def _os_error(exc: OSError, what: str = "") -> str:
    """One sentence for a failed file operation: the file, and what to do about it."""
    import errno

    name = exc.filename or what or "a file"
    reason = exc.strerror or str(exc) or type(exc).__name__
    hint = {
        errno.ENOSPC: "free some space and run again",
        errno.EDQUOT: "free some space and run again",
        errno.EROFS: "the folder is on a read-only file system: choose another with --reports",
        errno.EACCES: "check the folder's permissions, or choose another with --reports",
        errno.EPERM: "check the folder's permissions, or choose another with --reports",
        errno.ELOOP: "the path is a symbolic link that points back to itself",
    }.get(exc.errno or -1, "")
    return f"could not write or read {name}: {reason}" + (f" ({hint})" if hint else "")


#: Staging folders under reports/ and private working folders: ``.tmp-<slug>-<pid>-<random>``.
_TEMP_NAME = re.compile(r"^\.tmp-(?P<slug>.+)-(?P<pid>\d+)-(?P<rand>[A-Za-z0-9_]+)$")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


#: Private folders of kernels (sockets, connection file): ``evalkit-k-<pid>-<random>``, where
#: pid is the process that started the kernel (see :mod:`evalkit.run.engine`).
_KERNEL_NAME = re.compile(r"^evalkit-k-(?P<pid>\d+)-(?P<rand>[A-Za-z0-9_]+)$")


def _temp_name(slug: str) -> str:
    return f".tmp-{slug}-{os.getpid()}-"


def _write_atomic(path: Path, text: str) -> None:
    """Write ``path`` whole or not at all: a full disk leaves no partial (0-byte) file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def clean_stale(reports_dir: str | Path) -> list[Path]:
    """Remove folders a crashed run left behind; return them.

    These are staging folders ``reports/.tmp-*`` and ``reports/.old-*``, and this user's
    private working folders (``.tmp-<slug>-<pid>-*``) and kernel folders
    (``evalkit-k-<pid>-*``, sockets and connection file) in the system's temporary folder. A
    folder whose process still runs (a parallel run) is kept.
    """
    removed = []
    for where, shared in ((Path(reports_dir), True), (Path(tempfile.gettempdir()), False)):
        try:
            entries = list(where.iterdir())
        except OSError:
            continue
        for d in entries:
            k = None if shared else _KERNEL_NAME.match(d.name)
            if k is not None:  # a kernel's folder: removed once its starter is gone
                try:
                    mine = d.is_dir() and d.stat().st_uid == os.getuid()
                except (OSError, AttributeError):
                    mine = False
                if mine and not _pid_alive(int(k["pid"])):
                    shutil.rmtree(d, ignore_errors=True)
                    removed.append(d)
                continue
            if not d.name.startswith((".tmp-", ".old-")) or not d.is_dir():
                continue
            m = _TEMP_NAME.match(d.name)
            if not shared:
                try:
                    mine = d.stat().st_uid == os.getuid()
                except (OSError, AttributeError):
                    mine = False
                if m is None or not mine:
                    continue  # not a working folder of ours
            if m is not None and _pid_alive(int(m["pid"])):
                continue
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


@contextlib.contextmanager
def _terminate_as_exit():
    """Turn SIGTERM into SystemExit while a notebook runs.

    Then ``finally`` blocks remove the working folder (the default action ends the process
    without running them).
    """
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL):
        yield
        return

    def _exit(signum, frame):  # noqa: ARG001
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


#: The files of a report folder (everything else in the working folder stays private).
_REPORT_FILES = ("report.html", "report.ipynb", "results.json", "manifest.json", "report.pdf",
                 "run.log")


def _keep_failed(slug: str, nb_path: Path, log_path: Path, failed_dir: Path,
                 ids: dict[str, list[str]]) -> str:
    """Keep a failed run's notebook and kernel log for the evaluator, if safe.

    Returns the sentence to add to the failure message.

    The notebook is kept with its outputs only if no identifier value occurs anywhere in it.
    Otherwise its outputs are removed; if the injected parameters still show one (a title
    naming a case), their values are removed too; if even that is not enough, the notebook
    is not kept. The kernel log is kept only if it shows no identifier.
    """
    import nbformat

    from evalkit.run import checks

    failed_dir.mkdir(parents=True, exist_ok=True)
    for stale in failed_dir.glob(f"{slug}.*"):
        stale.unlink()
    kept, notes = [], []
    if nb_path.is_file() and nb_path.stat().st_size:
        text = nb_path.read_text(encoding="utf-8")
        keep_text: str | None = text
        if checks.leaks(text, ids):
            nb = nbformat.reads(text, as_version=4)
            for cell in nb.cells:
                if cell.cell_type == "code":
                    cell.outputs = []
                    cell.execution_count = None
            what = "its outputs, which showed identifier values, were removed"
            if checks.leaks(nbformat.writes(nb), ids):
                for cell in nb.cells:
                    if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
                        cell.source = ("# parameters removed: they showed identifier values "
                                       "(see the config)")
                papermill_meta = nb.metadata.get("papermill", {})
                if "parameters" in papermill_meta:
                    papermill_meta["parameters"] = {}
                what = ("its outputs and parameters, which showed identifier values, were "
                        "removed")
            keep_text = nbformat.writes(nb)
            if checks.leaks(keep_text, ids):
                keep_text = None
                notes.append("the notebook was not kept: it shows identifier values")
            else:
                notes.append(what)
        if keep_text is not None:
            _write_atomic(failed_dir / f"{slug}.ipynb", keep_text)
            kept.append(str(failed_dir / f"{slug}.ipynb"))
    if log_path.is_file() and log_path.stat().st_size:
        log = log_path.read_text(encoding="utf-8", errors="replace")
        if checks.leaks(log, ids):
            notes.append("the kernel log was not kept: it shows identifier values")
        else:
            _write_atomic(failed_dir / f"{slug}.kernel.log", log)
            kept.append(str(failed_dir / f"{slug}.kernel.log"))
    out = f" (kept for inspection: {', '.join(kept)})" if kept else ""
    if notes:
        out += " (" + "; ".join(notes) + ")"
    return out


def install_report(reports_dir: Path, slug: str, files: dict[str, Path | bytes]) -> None:
    """Put a finished report's files into ``reports_dir/slug`` whole, or not at all.

    The files (paths to copy, or bytes) go into a staging folder beside it, which then
    replaces the report folder (:func:`_swap_into_place`); the last good report stays when
    anything fails (``OSError`` is raised). The evaluation's kept failure files are removed
    once the new report is in place.
    """
    staging = reports_dir / f"{_temp_name(slug)}{uuid.uuid4().hex[:8]}"
    try:
        staging.mkdir()
        for name, content in files.items():
            if isinstance(content, bytes):
                (staging / name).write_bytes(content)
            else:
                shutil.copyfile(content, staging / name)
        _swap_into_place(staging, reports_dir / slug)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    for stale in (reports_dir / FAILED_DIR).glob(f"{slug}.*"):
        with contextlib.suppress(OSError):
            stale.unlink()


def _swap_into_place(tmp: Path, final: Path) -> None:
    """Replace ``final`` by ``tmp`` (two renames; the old folder is removed last)."""
    old = None
    if final.exists():
        old = final.with_name(f".old-{final.name}-{uuid.uuid4().hex[:8]}")
        final.rename(old)
    try:
        tmp.rename(final)
    except OSError:
        if old is not None:  # put the last good report back
            old.rename(final)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


class _RunLog:
    """What libraries print while one evaluation runs (warnings, log records, stderr).

    It goes to the evaluation's log instead of the terminal, where it would fall between
    the progress lines: ``reports/<slug>/run.log`` for a report, ``reports/_failed/<slug>.run.log``
    for a failed run (identifier values redacted).
    """

    def __init__(self) -> None:
        self.lines: list[str] = []

    def text(self) -> str:
        return "".join(line if line.endswith("\n") else line + "\n" for line in self.lines)

    @contextlib.contextmanager
    def capture(self):
        import io
        import logging
        import warnings

        log = self

        class _Handler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                try:
                    msg = record.getMessage()
                except Exception:  # noqa: BLE001
                    msg = str(record.msg)
                log.lines.append(f"{record.levelname.lower()} ({record.name}): {msg}")

        def _show(message, category, filename, lineno, file=None, line=None):  # noqa: ARG001
            log.lines.append(warnings.formatwarning(message, category, filename, lineno,
                                                    line).rstrip("\n"))

        class _Stderr(io.TextIOBase):
            def write(self, text: str) -> int:
                if text.strip():
                    log.lines.append(text.rstrip("\n"))
                return len(text)

        handler = _Handler(level=logging.WARNING)
        root = logging.getLogger()
        root.addHandler(handler)
        try:
            with warnings.catch_warnings(), contextlib.redirect_stderr(_Stderr()):
                warnings.showwarning = _show
                yield self
        finally:
            root.removeHandler(handler)


def run_evaluation(
    config_path: str | Path,
    reports_dir: str | Path = "reports",
    *,
    kernel_name: str = "python3",
    prewarm: bool = False,
    pdf: bool = False,
) -> RunOutcome:
    """Run one evaluation end to end; never raises for a problem of the evaluation itself.

    Parameters
    ----------
    config_path
        ``evaluations/<slug>.yaml``.
    reports_dir
        Parent folder of the report folders.
    kernel_name
        Jupyter kernel to execute the template with.
    prewarm
        Make this process's next kernel start fast as soon as this one's notebook has run
        (the kernel forker or a spare kernel, see :func:`evalkit.run.engine.prestart`).
    pdf
        Also print ``report.pdf`` with headless Chromium.

    Returns
    -------
    RunOutcome
        ``status == "ok"`` and the report path, or ``"failed"`` with the stage and a message.
        Any failure, including a broken file system (read-only, full) or an unreadable path,
        is returned as one paragraph naming the file, never raised.
    """
    t_start = time.perf_counter()
    config_path = Path(config_path)
    slug = config_path.stem
    timings: dict[str, float] = {}
    log = _RunLog()
    state: dict[str, Any] = {"ids": {}}

    def fail(stage: str, message: str) -> RunOutcome:
        return RunOutcome(slug, str(config_path), "failed", time.perf_counter() - t_start,
                          stage, message, timings=timings)

    with log.capture():
        try:
            outcome = _evaluate(config_path, Path(reports_dir), kernel_name, prewarm, pdf,
                                t_start, timings, fail, log, state)
        except Exception as exc:  # noqa: BLE001 - reported, never raised: others must finish
            if isinstance(exc, OSError):
                outcome = fail("output", _os_error(exc))
            else:
                tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
                outcome = fail("internal", f"unexpected error: {tb}")
    if not outcome.ok:
        outcome.message += _keep_log(slug, log, Path(reports_dir), state["ids"])
    return outcome


def _keep_log(slug: str, log: _RunLog, reports_dir: Path, ids: dict) -> str:
    """Keep a failed run's log in ``_failed/``; the sentence to add to its message."""
    text = log.text()
    if not text:
        return ""
    from evalkit.run import checks

    path = reports_dir.resolve() / FAILED_DIR / f"{slug}.run.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic(path, checks.redact(text, ids) if ids else text)
    except OSError:
        return ""
    return f" (warnings printed during the run: {path})"


def _evaluate(config_path, reports_dir, kernel_name, prewarm, pdf, t_start, timings, fail,
              log, state) -> RunOutcome:
    from evalkit.run.checks import preflight, resolve_parameters
    from evalkit.run.config import load_config

    started_at = _now()
    try:
        os.stat(config_path)
    except OSError as exc:
        import errno

        if exc.errno == errno.ELOOP:
            return fail("config", f"{config_path}: the config file is a symbolic link that "
                                  f"points back to itself (a symlink loop)")
    try:
        cfg = load_config(config_path)
    except ConfigError as exc:
        return fail("config", str(exc))
    except (OSError, RuntimeError, ValueError, UnicodeError) as exc:
        # e.g. a symlink loop in a path the config names (RuntimeError from Path.resolve)
        m = re.match(r"Symlink loop from (.+)$", str(exc))
        if m:
            return fail("config", f"{config_path}: the path {m[1]} it names is a symbolic link "
                                  f"that points back to itself (a symlink loop)")
        reason = _os_error(exc) if isinstance(exc, OSError) else str(exc)
        return fail("config", f"{config_path}: the config or a path it names cannot be read: "
                              f"{reason}")

    t = time.perf_counter()
    try:
        data = cfg.load_data()
        cfg = resolve_parameters(cfg, data)
        errors = [f for f in preflight(cfg, data) if f.level == "error"]
    except EvalDataError as exc:
        return fail("data", str(exc))
    except (OSError, RuntimeError, MemoryError) as exc:
        reason = _os_error(exc) if isinstance(exc, OSError) else (
            str(exc) or type(exc).__name__)
        return fail("data", f"{cfg.data_label}: cannot be read: {reason}")
    if errors:
        return fail("data", f"{cfg.path}: the data cannot support these parameters:\n"
                    + "\n".join(f"  - {f}" for f in errors))
    timings["validate"] = time.perf_counter() - t

    reports_dir = reports_dir.resolve()
    try:
        reports_dir.mkdir(parents=True, exist_ok=True)
        clean_stale(reports_dir)
    except OSError as exc:
        return fail("output", f"the reports folder {reports_dir} cannot be used: "
                              + _os_error(exc))
    # private (mode 0700) and outside reports/: nothing unchecked is ever written there
    try:
        work = Path(tempfile.mkdtemp(prefix=_temp_name(cfg.slug)))
    except OSError as exc:
        return fail("output", f"no private working folder could be made in "
                              f"{tempfile.gettempdir()}: " + _os_error(exc))
    try:
        with _terminate_as_exit():
            return _run_in(cfg, data, work, reports_dir, kernel_name, started_at, t_start,
                           timings, fail, prewarm, pdf, log, state)
    finally:
        shutil.rmtree(work, ignore_errors=True)


#: Names of files the template reads and writes in its private working folder (relative to
#: it, so the executed notebook names the same paths on every run).
VALIDATED_DATA = "validated.parquet"
RESULTS_PART = "results.part.json"


def stable_notebook(nb) -> Any:
    """Make an executed notebook the same on every run, apart from its timestamps.

    papermill gives its injected-parameters cell a random id and records the private
    working folder as the output path; both are replaced by fixed values. The timestamps
    papermill and nbclient record (``metadata.papermill`` start/end time and duration, and
    each cell's ``metadata.papermill`` and ``metadata.execution``) are kept.
    """
    for cell in nb.cells:
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            cell["id"] = "injected-parameters"
    meta = nb.metadata.get("papermill")
    if isinstance(meta, dict) and meta.get("output_path"):
        meta["output_path"] = "report.ipynb"
    return nb


def _run_in(cfg, data, tmp, reports_dir, kernel_name, started_at, t_start, timings, fail,
            prewarm, pdf, log, state):
    import nbformat
    import papermill

    from evalkit.data import write_frame
    from evalkit.files import sha256_file
    from evalkit.report import resultsdoc
    from evalkit.run import checks
    from evalkit.run.engine import ENGINE_NAME, prestart
    from evalkit.run.incremental import KEY_FIELD, run_key
    from evalkit.run.render import to_html
    from evalkit.versions import package_versions

    slug = cfg.slug
    # the inputs as they are when the run starts: a later change makes the report stale
    snapshot = data.attrs.get("evalkit_snapshot")
    key = run_key(cfg, pdf=pdf, data_sha256=snapshot.rows_sha256 if snapshot else None)
    ids = checks.identifier_columns(data, cfg.id_column, cfg.privacy_threshold,
                                    known_text=_config_text(cfg),
                                    places=cfg.template.ids_are_places(cfg.parameters))
    state["ids"] = ids
    nb_path = tmp / "report.ipynb"
    part = tmp / RESULTS_PART
    t = time.perf_counter()
    # the kernel analyses exactly the frame validated above (the sheet, the ids as text)
    write_frame(data, tmp / VALIDATED_DATA)
    parameters = {**cfg.notebook_parameters(RESULTS_PART),
                  "data_sheet": cfg.data_sheet, "validated_data": VALIDATED_DATA}
    kernel_log = open(tmp / "kernel.log", "wb")
    try:
        papermill.execute_notebook(
            str(cfg.notebook),
            str(nb_path),
            parameters=parameters,
            kernel_name=kernel_name,
            progress_bar=False,
            log_output=False,
            request_save_on_cell_execute=False,
            execution_timeout=cfg.timeout,
            cwd=str(tmp),
            engine_name=ENGINE_NAME,
            kernel_log=kernel_log,
        )
    except Exception as exc:  # noqa: BLE001 - papermill and nbclient raise several types
        where = nb_path if nb_path.is_file() and nb_path.stat().st_size else cfg.notebook
        message = checks.redact(_describe_execution_error(exc, where), ids)
        kernel_log.close()
        try:
            message += _keep_failed(slug, nb_path, tmp / "kernel.log",
                                    reports_dir / FAILED_DIR, ids)
        except OSError as err:
            message += f" (the notebook could not be kept: {_os_error(err)})"
        return fail("execute", message)
    finally:
        kernel_log.close()
        (tmp / VALIDATED_DATA).unlink(missing_ok=True)
        if prewarm:
            prestart(kernel_name)
    (tmp / "kernel.log").unlink(missing_ok=True)
    timings["execute"] = time.perf_counter() - t
    cell_seconds = _cell_seconds(nb_path)
    timings["imports"] = cell_seconds.get("Set up", 0.0)
    timings["cells"] = sum(cell_seconds.values()) - timings["imports"]
    # kernel start (a fork, or the wait for a spare), shutdown and papermill's own work
    timings["kernel"] = max(timings["execute"] - sum(cell_seconds.values()), 0.0)
    timings["figures"] = _figure_seconds(tmp)

    t = time.perf_counter()
    if not part.is_file():
        return fail("results", "the template finished without writing its results document")
    doc = json.loads(part.read_text(encoding="utf-8"))
    part.unlink()
    doc = resultsdoc.finalize(
        doc, slug=slug, title=cfg.title, program=cfg.program, template=cfg.template.name,
        status="ok", generated_at=_now(),
    )
    doc["outcome"]["domain"] = cfg.outcome_domain or doc["outcome"].get("label", "")
    problems = resultsdoc.problems(doc)
    if problems:
        return fail("results", "results document is malformed: " + "; ".join(problems))

    nb = stable_notebook(nbformat.read(nb_path, as_version=4))
    nbformat.write(nb, nb_path)
    timings["results"] = time.perf_counter() - t
    t_html = time.perf_counter()
    html_text = to_html(nb, title=cfg.title)
    timings["html"] = time.perf_counter() - t_html
    timings["render"] = time.perf_counter() - t

    t = time.perf_counter()
    try:
        checks.check(html_text, ids, what=f"{slug}/report.html")
        # the whole notebook: outputs, and the injected parameters (a title, a question...)
        checks.check(nb_path.read_text(encoding="utf-8"), ids, what=f"{slug}/report.ipynb")
        checks.check(json.dumps(doc), ids, what=f"{slug}/results.json")
    except PrivacyError as exc:
        return fail("privacy", str(exc))
    timings["leak_check"] = time.perf_counter() - t
    searched = checks.searched(ids)
    id_counts = searched.pop(cfg.id_column, {"searched": 0, "too_short_to_search": 0}) \
        if cfg.id_column else {"searched": 0, "too_short_to_search": 0}

    (tmp / "report.html").write_text(html_text, encoding="utf-8")
    if pdf:
        from evalkit.run.browser import BrowserError, print_pdf

        t = time.perf_counter()
        try:
            print_pdf(tmp / "report.html", tmp / "report.pdf")
        except (BrowserError, OSError, subprocess.SubprocessError) as exc:
            return fail("pdf", str(exc))
        timings["pdf"] = time.perf_counter() - t
    resultsdoc.write(tmp / "results.json", doc)
    timings["total"] = time.perf_counter() - t_start
    manifest = {
        "slug": slug,
        "started_at": started_at,
        "finished_at": _now(),
        "config": {"path": str(cfg.path), "sha256": sha256_file(cfg.path)},
        "inputs": {
            "data": (snapshot.to_dict() if snapshot else
                     {"path": str(cfg.data_path), "sha256": sha256_file(cfg.data_path)}),
            "template": {"path": str(cfg.notebook), "sha256": sha256_file(cfg.notebook)},
        },
        "parameters": cfg.notebook_parameters(None),
        "privacy": {"threshold": cfg.privacy_threshold, "id_column": cfg.id_column,
                    "identifiers_checked": id_counts["searched"],
                    "identifiers_too_short_to_check": id_counts["too_short_to_search"],
                    "text_values_checked": {c: v["searched"] for c, v in searched.items()}},
        "packages": package_versions(),
        "git": _git_commit(cfg.path.parent),
        "timings_seconds": {k: round(v, 3) for k, v in timings.items()},
        "cell_seconds": {k: round(v, 3) for k, v in cell_seconds.items()},
        KEY_FIELD: key["sha256"],
        "run_key_inputs": {k: v for k, v in key.items() if k != "sha256"},
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    if log.lines:
        (tmp / "run.log").write_text(checks.redact(log.text(), ids), encoding="utf-8")
    final = reports_dir / slug
    # only checked outputs enter reports/: copied into a staging folder, then swapped in
    try:
        install_report(reports_dir, slug, {name: tmp / name for name in _REPORT_FILES
                                           if (tmp / name).is_file()})
    except OSError as exc:
        return fail("output", f"the report could not be written to {final} (the last good "
                              f"report, if any, is kept): " + _os_error(exc))
    return RunOutcome(slug, str(cfg.path), "ok", time.perf_counter() - t_start,
                      report=str(final / "report.html"), timings=timings)

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
from datetime import datetime, timezone
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

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return {
            "slug": self.slug, "config": self.config, "status": self.status,
            "seconds": round(self.seconds, 3), "stage": self.stage, "message": self.message,
            "report": self.report,
        }


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


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


def _cell_name(source: str) -> str:
    first = source.strip().splitlines()[0] if source.strip() else ""
    return first.lstrip("# ").strip() if first.startswith("#") else first[:60]


def _describe_execution_error(exc: Exception) -> str:
    """One paragraph naming the cell and the error, from papermill's error or any other."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        name = _cell_name(exc.source or "")
        where = f"cell {exc.cell_index}" + (f" ('{name}')" if name else "")
        evalue = _ANSI.sub("", str(exc.evalue)).strip()
        return f"{where} raised {exc.ename}: {evalue}"
    text = _ANSI.sub("", str(exc)).strip() or type(exc).__name__
    if "timed out" in text.lower() or type(exc).__name__ == "CellTimeoutError":
        return f"a cell ran longer than the timeout: {text.splitlines()[0]}"
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


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


def _temp_name(slug: str) -> str:
    return f".tmp-{slug}-{os.getpid()}-"


def clean_stale(reports_dir: str | Path) -> list[Path]:
    """Remove folders a crashed run left behind; return them.

    These are staging folders ``reports/.tmp-*`` and ``reports/.old-*``, and this user's
    private working folders (``.tmp-<slug>-<pid>-*`` in the system's temporary folder). A
    folder whose process still runs (a parallel run) is kept.
    """
    removed = []
    for where, shared in ((Path(reports_dir), True), (Path(tempfile.gettempdir()), False)):
        try:
            entries = list(where.iterdir())
        except OSError:
            continue
        for d in entries:
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
    """Turn SIGTERM into SystemExit while a notebook runs, so ``finally`` blocks remove the
    working folder (the default action ends the process without running them)."""
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
_REPORT_FILES = ("report.html", "report.ipynb", "results.json", "manifest.json", "report.pdf")


def _keep_failed(slug: str, nb_path: Path, log_path: Path, failed_dir: Path,
                 ids: dict[str, list[str]]) -> str:
    """Keep a failed run's notebook and kernel log for the evaluator, if safe; the sentence
    to add to the failure message.

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
            text = nbformat.writes(nb)
            if checks.leaks(text, ids):
                text = None
                notes.append("the notebook was not kept: it shows identifier values")
            else:
                notes.append(what)
        if text is not None:
            (failed_dir / f"{slug}.ipynb").write_text(text, encoding="utf-8")
            kept.append(str(failed_dir / f"{slug}.ipynb"))
    if log_path.is_file() and log_path.stat().st_size:
        log = log_path.read_text(encoding="utf-8", errors="replace")
        if checks.leaks(log, ids):
            notes.append("the kernel log was not kept: it shows identifier values")
        else:
            (failed_dir / f"{slug}.kernel.log").write_text(log, encoding="utf-8")
            kept.append(str(failed_dir / f"{slug}.kernel.log"))
    out = f" (kept for inspection: {', '.join(kept)})" if kept else ""
    if notes:
        out += " (" + "; ".join(notes) + ")"
    return out


def _swap_into_place(tmp: Path, final: Path) -> None:
    """Replace ``final`` by ``tmp`` (two renames; the old folder is removed last)."""
    old = None
    if final.exists():
        old = final.with_name(f".old-{final.name}-{uuid.uuid4().hex[:8]}")
        final.rename(old)
    tmp.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


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
        Start a spare kernel for this process's next evaluation as soon as this one's notebook
        has run (see :func:`evalkit.run.engine.prestart`).
    pdf
        Also print ``report.pdf`` with headless Chromium.

    Returns
    -------
    RunOutcome
        ``status == "ok"`` and the report path, or ``"failed"`` with the stage and a message.
    """
    from evalkit.run.config import load_config

    t_start = time.perf_counter()
    started_at = _now()
    config_path = Path(config_path)
    slug = config_path.stem
    reports_dir = Path(reports_dir).resolve()
    timings: dict[str, float] = {}

    def fail(stage: str, message: str) -> RunOutcome:
        return RunOutcome(slug, str(config_path), "failed", time.perf_counter() - t_start,
                          stage, message, timings=timings)

    from evalkit.run.checks import preflight, resolve_parameters

    try:
        cfg = load_config(config_path)
    except ConfigError as exc:
        return fail("config", str(exc))

    t = time.perf_counter()
    try:
        data = cfg.load_data()
        cfg = resolve_parameters(cfg, data)
        errors = [f for f in preflight(cfg, data) if f.level == "error"]
    except EvalDataError as exc:
        return fail("data", str(exc))
    if errors:
        return fail("data", f"{cfg.path}: the data cannot support these parameters:\n"
                    + "\n".join(f"  - {f}" for f in errors))
    timings["validate"] = time.perf_counter() - t

    reports_dir.mkdir(parents=True, exist_ok=True)
    clean_stale(reports_dir)
    # private (mode 0700) and outside reports/: nothing unchecked is ever written there
    work = Path(tempfile.mkdtemp(prefix=_temp_name(slug)))
    try:
        with _terminate_as_exit():
            return _run_in(cfg, data, work, reports_dir, kernel_name, started_at, t_start,
                           timings, fail, prewarm, pdf)
    except Exception as exc:  # noqa: BLE001 - reported, never raised: others must finish
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return fail("internal", f"unexpected error: {tb}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run_in(cfg, data, tmp, reports_dir, kernel_name, started_at, t_start, timings, fail,
            prewarm, pdf):
    import nbformat
    import papermill

    from evalkit.report import resultsdoc
    from evalkit.report.common import package_versions, sha256_file
    from evalkit.run import checks
    from evalkit.run.engine import ENGINE_NAME, prestart
    from evalkit.run.render import to_html

    slug = cfg.slug
    ids = checks.identifier_columns(data, cfg.id_column, cfg.privacy_threshold)
    nb_path = tmp / "report.ipynb"
    part = tmp / "results.part.json"
    t = time.perf_counter()
    kernel_log = open(tmp / "kernel.log", "wb")
    try:
        papermill.execute_notebook(
            str(cfg.notebook),
            str(nb_path),
            parameters=cfg.notebook_parameters(str(part)),
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
        message = checks.redact(_describe_execution_error(exc), ids)
        kernel_log.close()
        message += _keep_failed(slug, nb_path, tmp / "kernel.log", reports_dir / FAILED_DIR,
                                ids)
        return fail("execute", message)
    finally:
        kernel_log.close()
        if prewarm:
            prestart(kernel_name)
    (tmp / "kernel.log").unlink(missing_ok=True)
    timings["execute"] = time.perf_counter() - t

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

    nb = nbformat.read(nb_path, as_version=4)
    html_text = to_html(nb, title=cfg.title)
    timings["render"] = time.perf_counter() - t

    try:
        checks.check(html_text, ids, what=f"{slug}/report.html")
        # the whole notebook: outputs, and the injected parameters (a title, a question...)
        checks.check(nb_path.read_text(encoding="utf-8"), ids, what=f"{slug}/report.ipynb")
        checks.check(json.dumps(doc), ids, what=f"{slug}/results.json")
    except PrivacyError as exc:
        return fail("privacy", str(exc))
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
            "data": {"path": str(cfg.data_path), "sha256": sha256_file(cfg.data_path)},
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
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    final = reports_dir / slug
    # only checked outputs enter reports/: copied into a staging folder, then swapped in
    staging = reports_dir / f"{_temp_name(slug)}{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        for name in _REPORT_FILES:
            if (tmp / name).is_file():
                shutil.copyfile(tmp / name, staging / name)
        _swap_into_place(staging, final)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    for stale in (reports_dir / FAILED_DIR).glob(f"{slug}.*"):
        stale.unlink()
    return RunOutcome(slug, str(cfg.path), "ok", time.perf_counter() - t_start,
                      report=str(final / "report.html"), timings=timings)

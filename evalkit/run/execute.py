"""Run one evaluation: validate, execute the template in-process, render, check, move into place.

Outputs are built in a temporary folder beside the final one and moved into
``reports/<slug>/`` only when everything succeeded, so a failed re-run never destroys the last
good report. A failure is returned as a :class:`RunOutcome` with one readable paragraph (the
cell and the error), never raised, so one bad evaluation cannot stop the others.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evalkit.exceptions import ConfigError, EvalDataError, PrivacyError

__all__ = ["RunOutcome", "run_evaluation", "FAILED_DIR"]

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

    try:
        cfg = load_config(config_path)
    except ConfigError as exc:
        return fail("config", str(exc))

    t = time.perf_counter()
    try:
        data = cfg.load_data()
    except EvalDataError as exc:
        return fail("data", str(exc))
    timings["validate"] = time.perf_counter() - t

    reports_dir.mkdir(parents=True, exist_ok=True)
    tmp = reports_dir / f".tmp-{slug}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        return _run_in(cfg, data, tmp, reports_dir, kernel_name, started_at, t_start, timings,
                       fail, prewarm, pdf)
    except Exception as exc:  # noqa: BLE001 - reported, never raised: others must finish
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return fail("internal", f"unexpected error: {tb}")
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _run_in(cfg, data, tmp, reports_dir, kernel_name, started_at, t_start, timings, fail,
            prewarm, pdf):
    import nbformat
    import papermill

    from evalkit import privacy
    from evalkit.report import resultsdoc
    from evalkit.report.common import package_versions, sha256_file
    from evalkit.run.engine import ENGINE_NAME, prestart
    from evalkit.run.render import to_html

    slug = cfg.slug
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
        message = _describe_execution_error(exc)
        kernel_log.close()
        failed_dir = reports_dir / FAILED_DIR
        failed_dir.mkdir(exist_ok=True)
        kept = []
        for src, name in ((nb_path, f"{slug}.ipynb"), (tmp / "kernel.log", f"{slug}.kernel.log")):
            if src.exists() and src.stat().st_size:
                shutil.copyfile(src, failed_dir / name)
                kept.append(str(failed_dir / name))
        if kept:
            message += f" (kept for inspection: {', '.join(kept)})"
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

    ids = data[cfg.id_column].dropna().tolist()
    try:
        unsearchable = privacy.check_no_identifiers(
            html_text, ids, what=f"{slug}/report.html", column=cfg.id_column)
        outputs = json.dumps([c.get("outputs", []) for c in nb.cells if c.cell_type == "code"])
        privacy.check_no_identifiers(
            outputs, ids, what=f"{slug}/report.ipynb", column=cfg.id_column)
        privacy.check_no_identifiers(
            json.dumps(doc), ids, what=f"{slug}/results.json", column=cfg.id_column)
    except PrivacyError as exc:
        return fail("privacy", str(exc))

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
                    "identifiers_checked": len(ids) - unsearchable,
                    "identifiers_too_short_to_check": unsearchable},
        "packages": package_versions(),
        "git": _git_commit(cfg.path.parent),
        "timings_seconds": {k: round(v, 3) for k, v in timings.items()},
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    final = reports_dir / slug
    _swap_into_place(tmp, final)
    for stale in (reports_dir / FAILED_DIR).glob(f"{slug}.*"):
        stale.unlink()
    return RunOutcome(slug, str(cfg.path), "ok", time.perf_counter() - t_start,
                      report=str(final / "report.html"), timings=timings)

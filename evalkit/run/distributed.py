"""Run evaluations on an existing Dask cluster (``evalkit run --scheduler tcp://host:8786``).

Portfolios that outgrow one machine run on a Dask cluster the agency already has (started by
``dask-jobqueue`` on SLURM, by the Dask Helm chart on Kubernetes, or by hand), not on a scheduler
of our own. Each evaluation is one task:

* the client sends the task everything the evaluation reads: the config (its ``data:`` pointing
  at a private copy), the data file's bytes and the template notebook's bytes. Workers need no
  shared disk and no copy of the project;
* the worker runs ``evalkit run`` on them in a child process (the same engine, validation and
  leak check as a local run; a kernel or a run that crashes takes only that process down) and
  returns the report's files;
* the client writes them into ``reports/<slug>/`` through the same staging folder and swap as a
  local run, so a report is replaced whole or not at all, and the last good one is kept when a
  run fails. Paths the worker saw (its private copies) are put back to the client's in the
  notebook and the manifest, so a report made on the cluster is the same file as one made
  locally.

A failing evaluation fails alone. One whose worker (or run) dies is submitted once more; the
second death fails it with the reason. :func:`connect` gives up on a scheduler that does not
answer within :data:`CONNECT_TIMEOUT` seconds, naming the address.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.run.execute import (
    FAILED_DIR,
    RunOutcome,
    _git_commit,
    install_report,
    run_evaluation,
)

__all__ = ["SCHEDULER_ENV", "CONNECT_TIMEOUT", "SchedulerUnreachable", "connect",
           "run_on_cluster", "remote_evaluation"]

#: The environment variable naming the scheduler when ``--scheduler`` is not given.
SCHEDULER_ENV = "EVALKIT_SCHEDULER"
#: Seconds to wait for the scheduler to answer.
CONNECT_TIMEOUT = 10.0
#: Times an evaluation is submitted in all when its worker (or its run) dies.
ATTEMPTS = 2


class SchedulerUnreachable(RuntimeError):
    """No Dask scheduler answered at the address given; nothing was run."""


@dataclass(frozen=True)
class Bundle:
    """What a worker needs to run one evaluation, and where its files belong on the client."""

    slug: str
    config_text: str
    data_name: str
    data: bytes
    #: The template notebooks of the client's templates folder (the one this config reads
    #: among them), by file name.
    templates: dict[str, bytes]
    pdf: bool


def connect(address: str, timeout: float | None = None) -> Any:
    """A ``distributed.Client`` of the scheduler at ``address``.

    ``timeout`` defaults to :data:`CONNECT_TIMEOUT` seconds.

    Raises
    ------
    SchedulerUnreachable
        When it does not answer within ``timeout`` seconds (or the address is not one).
    """
    timeout = CONNECT_TIMEOUT if timeout is None else timeout
    try:
        from distributed import Client
    except ImportError:
        raise SchedulerUnreachable(
            "running on a Dask cluster needs the 'distributed' package: pip install "
            "'evalkit-programs[dask]'") from None
    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise SchedulerUnreachable(
            f"no Dask scheduler answered at {address} within {timeout:g} s "
            f"({type(exc).__name__}); check the address and that the scheduler runs") from None


def _bundle(config: Path, pdf: bool) -> tuple[Bundle, Any]:
    """The task's inputs and the loaded config (raises what :func:`load_config` raises)."""
    import yaml

    from evalkit.run.config import load_config

    cfg = load_config(config)
    if cfg.data_query is not None:
        # the database's URL and password stay on this machine: the evaluation runs here
        raise ValueError(f"{cfg.slug} reads a database")
    raw = yaml.safe_load(config.read_text(encoding="utf-8"))
    raw["data"] = cfg.data_path.name
    templates = {p.name: p.read_bytes() for p in cfg.notebook.parent.glob("*.ipynb")}
    bundle = Bundle(slug=cfg.slug, config_text=yaml.safe_dump(raw, allow_unicode=True,
                                                              sort_keys=False),
                    data_name=cfg.data_path.name, data=cfg.data_path.read_bytes(),
                    templates=templates, pdf=pdf)
    return bundle, cfg


def remote_evaluation(bundle: Bundle) -> dict[str, Any]:
    """Run one evaluation on this machine from its bundle; the outputs as bytes.

    Runs on a Dask worker. The evaluation runs in a child ``evalkit run`` process in a private
    folder that is removed afterwards.

    Returns
    -------
    dict
        ``outcome`` (the run's ``runs.json`` entry, or ``None`` when the child process died),
        ``died`` (why, if it did), ``files`` (report file name → bytes), ``failed_files``
        (``_failed/`` file name → bytes) and ``work`` (the private folder's path, for the
        client to put its own paths back).
    """
    work = Path(tempfile.mkdtemp(prefix="evalkit-task-"))
    try:
        ev, tpl, reports = work / "evaluations", work / "templates", work / "reports"
        for d in (ev, tpl):
            d.mkdir()
        (ev / bundle.data_name).write_bytes(bundle.data)
        (ev / f"{bundle.slug}.yaml").write_text(bundle.config_text, encoding="utf-8")
        for name, notebook in bundle.templates.items():
            (tpl / name).write_bytes(notebook)
        env = {**os.environ, "EVALKIT_TEMPLATES": str(tpl), "PYTHONWARNINGS": "ignore"}
        env.pop(SCHEDULER_ENV, None)
        cmd = [sys.executable, "-m", "evalkit", "run", str(ev / f"{bundle.slug}.yaml"),
               "--reports", str(reports), "-j", "1", "--force",
               *(["--pdf"] if bundle.pdf else [])]
        proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
        try:
            runs = json.loads((reports / "runs.json").read_text(encoding="utf-8"))
            outcome = runs[bundle.slug]
        except (OSError, ValueError, KeyError):
            tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-3:]
            return {"outcome": None, "work": str(work), "files": {}, "failed_files": {},
                    "died": f"exit status {proc.returncode}" + (
                        f": {' '.join(tail)}" if tail else "")}
        folder = reports / bundle.slug
        files = ({p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
                 if outcome.get("status") == "ok" and folder.is_dir() else {})
        failed = {p.name: p.read_bytes() for p in (reports / FAILED_DIR).glob(
            f"{bundle.slug}.*") if p.is_file()}
        return {"outcome": outcome, "work": str(work), "files": files,
                "failed_files": failed, "died": None}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _swap_paths(data: bytes, pairs: Sequence[tuple[str, str]]) -> bytes:
    """``data`` with each worker path replaced by the client's (as written in JSON too)."""
    text = data.decode("utf-8")
    for theirs, ours in pairs:
        text = text.replace(json.dumps(theirs)[1:-1], json.dumps(ours)[1:-1])
        text = text.replace(theirs, ours)
    return text.encode("utf-8")


def _pairs(result: dict[str, Any], cfg: Any, reports_dir: Path) -> list[tuple[str, str]]:
    """Each path the worker used (its private copies) with the client's path for it."""
    work = Path(result["work"])
    return [(str(work / "evaluations" / cfg.data_path.name), str(cfg.data_path)),
            (str(work / "evaluations" / f"{cfg.slug}.yaml"), str(cfg.path)),
            (str(work / "templates" / cfg.notebook.name), str(cfg.notebook)),
            (str(work / "reports"), str(reports_dir.resolve()))]


def _place(result: dict[str, Any], cfg: Any, reports_dir: Path, key: dict[str, Any]) -> None:
    """Write a finished task's files into ``reports_dir`` as a local run would."""
    from evalkit.files import sha256_file

    pairs = _pairs(result, cfg, reports_dir)
    files = dict(result["files"])
    if files:
        for name in ("report.ipynb", "report.html", "results.json"):
            if name in files:
                files[name] = _swap_paths(files[name], pairs)
        if "manifest.json" in files:
            m = json.loads(_swap_paths(files["manifest.json"], pairs))
            m["config"] = {"path": str(cfg.path), "sha256": sha256_file(cfg.path)}
            m["git"] = _git_commit(cfg.path.parent)
            m["run_key"] = key["sha256"]
            m["run_key_inputs"] = {k: v for k, v in key.items() if k != "sha256"}
            m["ran_on"] = "dask"
            files["manifest.json"] = (json.dumps(m, indent=2) + "\n").encode("utf-8")
        install_report(reports_dir, cfg.slug, dict(files))
    if result["failed_files"]:
        failed = reports_dir / FAILED_DIR
        failed.mkdir(exist_ok=True)
        for name, data in result["failed_files"].items():
            tmp = failed / f".{name}.part"
            tmp.write_bytes(_swap_paths(data, pairs) if name.endswith((".log", ".ipynb"))
                            else data)
            tmp.replace(failed / name)


def _outcome(result: dict[str, Any], cfg: Any, config: Path, reports_dir: Path,
             seconds: float) -> RunOutcome:
    o = result["outcome"]
    pairs = _pairs(result, cfg, reports_dir)
    message = _swap_paths(str(o.get("message") or "").encode(), pairs).decode()
    ok = o.get("status") == "ok"
    return RunOutcome(cfg.slug, str(config), "ok" if ok else "failed", seconds,
                      stage=o.get("stage") or "", message=message,
                      report=str(reports_dir / cfg.slug / "report.html") if ok else None)


def run_on_cluster(configs: Sequence[Path], reports_dir: Path, address: str, pdf: bool,
                   done: Callable[[RunOutcome], None], echo: Callable[[str], None], *,
                   timeout: float | None = None) -> None:
    """Run ``configs`` as tasks on the Dask scheduler at ``address``; ``done`` gets each outcome.

    A config or data file the client cannot read fails that evaluation here (as a local run
    names it) without a task. Raises :class:`SchedulerUnreachable` before anything runs when
    the scheduler does not answer.
    """
    from distributed import as_completed

    from evalkit.run.incremental import run_key

    client = connect(address, timeout)
    try:
        futures: dict[Any, tuple[Path, Bundle, Any, dict, int, float]] = {}
        for c in configs:
            c = Path(c)
            try:
                bundle, cfg = _bundle(c, pdf)
                key = run_key(cfg, pdf=pdf)
            except Exception:  # noqa: BLE001 - the local runner names the problem
                done(run_evaluation(c, reports_dir, pdf=pdf))
                continue
            fut = client.submit(remote_evaluation, bundle, pure=False,
                                key=f"evalkit-{cfg.slug}-{uuid.uuid4().hex[:8]}")
            futures[fut] = (c, bundle, cfg, key, 1, time.perf_counter())
        if not futures:
            return
        pending = as_completed(list(futures), loop=client.loop)
        for fut in pending:
            c, bundle, cfg, key, attempt, t0 = futures.pop(fut)
            try:
                result = fut.result()
                died = result["died"]
            except Exception as exc:  # noqa: BLE001 - a worker lost or the task raised
                result, died = None, f"{type(exc).__name__}: {exc}".strip()
            if died is not None:
                if attempt < ATTEMPTS:
                    echo(f"note: the run of {cfg.slug} on the cluster died ({died}); "
                         "submitting it once more")
                    again = client.submit(remote_evaluation, bundle, pure=False,
                                          key=f"evalkit-{cfg.slug}-{uuid.uuid4().hex[:8]}")
                    futures[again] = (c, bundle, cfg, key, attempt + 1, t0)
                    pending.add(again)
                    continue
                done(RunOutcome(cfg.slug, str(c), "failed", time.perf_counter() - t0,
                                "internal", f"its run on the cluster died ({died}), twice: "
                                "it was submitted again after the first time. Other "
                                "evaluations were not affected."))
                continue
            assert result is not None
            try:
                _place(result, cfg, reports_dir, key)
                outcome = _outcome(result, cfg, c, reports_dir, time.perf_counter() - t0)
            except OSError as exc:
                outcome = RunOutcome(cfg.slug, str(c), "failed", time.perf_counter() - t0,
                                     "output", f"the report could not be written to "
                                     f"{reports_dir / cfg.slug} (the last good report, if "
                                     f"any, is kept): {exc}")
            done(outcome)
    finally:
        with contextlib.suppress(Exception):
            client.close()

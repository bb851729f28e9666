"""Whether an evaluation's last good report is up to date: its run key.

A report is a function of its inputs: the config's resolved parameters, the bytes of its data
file, the template notebook, evalkit's own code and the versions of Python and the packages
that compute and render it. :func:`run_key` hashes all of them; ``evalkit run`` records the key
in each report's ``manifest.json`` and skips an evaluation whose key has not changed since its
last good report (``--force`` runs it anyway). A changed data file, template or parameter
changes the key of exactly the evaluations that use it.

evalkit's code is hashed file by file rather than trusted to its version number, so a source
checkout that changes a method without a new version still re-runs what it affects.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.files import sha256_file

if TYPE_CHECKING:
    from evalkit.run.config import EvaluationConfig

__all__ = ["run_key", "up_to_date", "KEY_FIELD"]

#: The manifest's field holding the run key.
KEY_FIELD = "run_key"
#: Files of the evalkit package whose bytes enter the key (code, report templates, assets).
_CODE_PATTERNS = ("**/*.py", "report/templates/**/*", "report/assets/*", "methods/*.csv")


@lru_cache(maxsize=1)
def code_digest() -> str:
    """SHA-256 over the evalkit package's code and report assets (paths and bytes)."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    files = sorted({p for pat in _CODE_PATTERNS for p in root.glob(pat) if p.is_file()
                    and "__pycache__" not in p.parts})
    for p in files:
        h.update(str(p.relative_to(root)).encode())
        h.update(b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


@lru_cache(maxsize=1)
def _versions() -> dict[str, str]:
    from evalkit.versions import package_versions

    return package_versions()


def _data_sha256(cfg: EvaluationConfig) -> str:
    """The data file's SHA-256; for a database query, its rows' (the query runs)."""
    if cfg.data_query is None:
        return sha256_file(cfg.data_path)
    return cfg.query_rows()[1].rows_sha256


def run_key(cfg: EvaluationConfig, *, pdf: bool = False,
            data_sha256: str | None = None) -> dict[str, Any]:
    """The inputs a report depends on and their digest.

    Parameters
    ----------
    cfg
        The loaded config.
    pdf
        Whether ``report.pdf`` is to be printed too.
    data_sha256
        The data's hash when already known (the rows a run read from its query); otherwise
        the data file is hashed, or the query is run and its rows hashed
        (:func:`evalkit.sql.rows_sha256`, which does not depend on their order).

    Returns
    -------
    dict
        ``{"sha256": digest, "data_sha256", "template_sha256", "code_sha256",
        "parameters_sha256", "versions", "pdf"}``. The digest changes when any of them does.

    Raises
    ------
    OSError
        When the data file or the template cannot be read (the evaluation then runs and
        reports it).
    """
    settings = {**cfg.notebook_parameters(None), "outcome_domain": cfg.outcome_domain,
                "data_sheet": cfg.data_sheet, "template": cfg.template.name}
    parts: dict[str, Any] = {
        "data_sha256": data_sha256 or _data_sha256(cfg),
        "template_sha256": sha256_file(cfg.notebook),
        "code_sha256": code_digest(),
        "parameters_sha256": hashlib.sha256(json.dumps(
            settings, sort_keys=True, default=str).encode()).hexdigest(),
        "versions": _versions(),
        "pdf": bool(pdf),
    }
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
    return {"sha256": digest, **parts}


def up_to_date(config: str | Path, reports_dir: str | Path, *, pdf: bool = False) -> bool:
    """Whether ``reports_dir/<slug>/`` holds a good report made from the same inputs.

    Any problem (a config that does not load, a missing or unreadable manifest or data file)
    answers ``False``: the evaluation then runs and reports its own problem.
    """
    from evalkit.run.config import load_config

    try:
        cfg = load_config(config)
        folder = Path(reports_dir) / cfg.slug
        if not all((folder / f).is_file() for f in ("report.html", "results.json")):
            return False
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        recorded = manifest.get(KEY_FIELD)
        return bool(recorded) and recorded == run_key(cfg, pdf=pdf)["sha256"] and (
            not pdf or (folder / "report.pdf").is_file())
    except Exception:  # noqa: BLE001 - any problem (a query that fails, a config that does
        return False  # not load): the evaluation runs, alone, and reports it

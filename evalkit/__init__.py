"""evalkit: program-evaluation methods and standardized, privacy-safe evaluation reports.

Analysts use the estimators directly::

    import evalkit
    df = evalkit.data.load("data/sample/mentoring_site_a.csv")
    res = evalkit.prepost.paired_change(df, pre="ts_intake", post="ts_6mo")
    print(res.summary())

Evaluators run configured evaluations with ``evalkit run`` (see the README).

Submodules are imported on first use, so the command line starts quickly.
"""

from __future__ import annotations

import importlib
from importlib import metadata as _metadata
from typing import TYPE_CHECKING, Any

from evalkit.exceptions import (
    ConfigError,
    DesignRefused,
    EvalDataError,
    EvalkitError,
    EvalOptionError,
    PrivacyError,
)

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from evalkit import (  # noqa: F401
        data,
        did,
        files,
        missing,
        portfolio,
        prepost,
        privacy,
        report,
        results,
        survival,
        weighting,
    )

try:
    __version__ = _metadata.version("evalkit-programs")
except _metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

_SUBMODULES = (
    "data", "did", "files", "methods", "missing", "portfolio", "prepost", "privacy", "report",
    "results", "run", "survival", "weighting",
)

__all__ = [
    "ConfigError",
    "DesignRefused",
    "EvalDataError",
    "EvalkitError",
    "EvalOptionError",
    "PrivacyError",
    "__version__",
    *_SUBMODULES,
]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        module = importlib.import_module(f"evalkit.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'evalkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SUBMODULES))

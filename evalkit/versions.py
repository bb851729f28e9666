"""The software a report was made with: Python's and the key packages' versions.

Light on purpose (no numpy, pandas or reporting imports): ``evalkit run`` reads these for every
evaluation's run key before deciding whether to run it (:mod:`evalkit.run.incremental`).
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from importlib import metadata

__all__ = ["REPORT_PACKAGES", "package_versions"]

#: Packages whose versions every report and manifest records.
REPORT_PACKAGES = (
    "evalkit-programs", "numpy", "pandas", "scipy", "statsmodels", "linearmodels",
    "matplotlib", "papermill", "nbconvert", "nbformat", "ipykernel", "pyyaml",
)


def package_versions(names: Sequence[str] = REPORT_PACKAGES) -> dict[str, str]:
    """Installed versions of ``names`` (and Python), ``"not installed"`` where absent."""
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out

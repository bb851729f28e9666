"""Estimators.

Each module needs only numpy, pandas and scipy (statsmodels / linearmodels where they agree
with the reference implementations); nothing here imports reporting or Jupyter code.

Submodules are imported on first use (``evalkit.methods.prepost`` or ``from evalkit.methods
import prepost``), so a module that needs one light submodule (:mod:`evalkit.methods.options`)
does not load the estimators.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["prepost"]


def __getattr__(name: str) -> Any:
    if name.startswith("_"):
        raise AttributeError(name)
    try:
        return importlib.import_module(f"evalkit.methods.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"evalkit.methods.{name}":
            raise  # a dependency of the submodule is missing: say which
        raise AttributeError(f"module 'evalkit.methods' has no attribute {name!r}") from None

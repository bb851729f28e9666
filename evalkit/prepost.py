"""Pre-post designs: ``evalkit.prepost`` is :mod:`evalkit.methods.prepost` under a short name."""

from evalkit.methods.prepost import *  # noqa: F401,F403
from evalkit.methods.prepost import __all__  # noqa: F401

"""Estimators.

Each module needs only numpy, pandas and scipy (statsmodels / linearmodels where they agree
with the reference implementations); nothing here imports reporting or Jupyter code.
"""

from evalkit.methods import prepost

__all__ = ["prepost"]

"""evalkit: program-evaluation methods and standardized, privacy-safe evaluation reports.

Analysts use the estimators directly::

    import evalkit
    df = evalkit.data.load("data/sample/mentoring_site_a.csv")
    res = evalkit.prepost.paired_change(df, pre="ts_intake", post="ts_6mo")
    print(res.summary())

Evaluators run configured evaluations with ``evalkit run`` (see the README).
"""

from importlib import metadata as _metadata

from evalkit import data, prepost, privacy, results
from evalkit.exceptions import ConfigError, EvalDataError, EvalkitError, PrivacyError

try:
    __version__ = _metadata.version("evalkit-programs")
except _metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "ConfigError",
    "EvalDataError",
    "EvalkitError",
    "PrivacyError",
    "data",
    "prepost",
    "privacy",
    "results",
    "__version__",
]

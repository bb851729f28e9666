"""Running evaluations: config schema, batch execution, rendering, manifest and index.

This package executes notebooks; :mod:`evalkit.methods` and :mod:`evalkit.report` never
import it.
"""

from evalkit.run.batch import run_all
from evalkit.run.config import EvaluationConfig, find_configs, load_config
from evalkit.run.execute import RunOutcome, run_evaluation
from evalkit.run.templates import TEMPLATES, get_template

__all__ = [
    "EvaluationConfig",
    "RunOutcome",
    "TEMPLATES",
    "find_configs",
    "get_template",
    "load_config",
    "run_all",
    "run_evaluation",
]

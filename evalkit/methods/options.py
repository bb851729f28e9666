"""The option sets of the templates' configuration blocks, importable without the estimators.

``evalkit run`` checks every config before anything runs (and, for an up-to-date report,
instead of running it), so the values a block may take live here, free of numpy, pandas and
scipy; :mod:`evalkit.methods.adjustment` and :mod:`evalkit.methods.episodes` re-export them.
"""

from __future__ import annotations

__all__ = ["ADJUST_CHOICES", "ADJUST_MISSING_PLANNED", "ADJUST_IMPUTE_DEFAULTS", "EPISODE_KEYS"]

#: The keys of the ``adjust`` block and the values each may take (the first is the default;
#: ``covariates`` is a list of columns and has none).
ADJUST_CHOICES: dict[str, tuple[str, ...]] = {
    "method": ("weighting", "matching"),
    "estimand": ("ATT", "ATE", "ATO"),
    "missing": ("complete-case", "impute"),
}
#: Values of ``adjust.missing`` that are planned but not available yet (none at present).
ADJUST_MISSING_PLANNED: tuple[str, ...] = ()
#: The numeric keys of the ``adjust`` block used with ``missing: impute`` and their defaults:
#: the number of imputed data sets and the seed of the imputations' random draws.
ADJUST_IMPUTE_DEFAULTS: dict[str, int] = {"imputations": 20, "seed": 1}

#: The keys of the survival template's ``episodes`` mapping, with what each holds.
EPISODE_KEYS: dict[str, str] = {
    "entry": "column: when the youth's follow-up began (program entry), a day number or a date",
    "exit": "column: when follow-up ended, on the same scale",
    "day": "column: when the episode began (one row per episode; empty for a youth without "
           "any)",
    "days": "times since entry at which to report the mean number of episodes (default: "
            "the times parameter)",
    "label": "the episodes as a plural noun, e.g. 'runaways' (default 'episodes')",
    "change": "column (optional): when a change during follow-up happened (e.g. a placement "
              "change), empty if none; it enters the rate model as a time-varying covariate",
    "change_label": "the change in words (default 'the change')",
}

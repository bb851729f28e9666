"""The series an interrupted time series reads: its columns, its periods and its offset.

:func:`its_columns` lists the columns the ``its`` template reads (``evalkit run`` checks them
before the analysis); :func:`its_data` checks the intervention and placebo periods against the
series and adds the log population as the offset column; :func:`period_labels` writes periods
in words ("January 2022") for reports.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from evalkit.data import Column, source_of
from evalkit.exceptions import DataProblem, EvalDataError

__all__ = ["COUNT_FAMILIES", "OFFSET_COLUMN", "its_columns", "its_data", "parsed_periods",
           "period_labels", "period_word"]

#: The column the template adds to the data: the log of the population (the model's offset).
OFFSET_COLUMN = "log_population__"
COUNT_FAMILIES = ("poisson", "quasipoisson")


def its_columns(outcome: str, time: str, *, population: str | None = None,
                family: str = "quasipoisson") -> list[Column]:
    """The columns an interrupted time series reads (for :func:`evalkit.data.load`).

    Parameters
    ----------
    outcome
        The outcome: a count for the count families (0 or more), any number for gaussian.
    time
        The period: dates (``YYYY-MM`` for months, or days for weeks) or whole numbers, one
        row per period.
    population
        The population (or exposure) whose log is the offset; ``None`` for none.
    family
        The model family (counts must not be negative).

    Returns
    -------
    list of evalkit.data.Column
        The specs ``evalkit run`` checks before the analysis and the template loads with.
    """
    counts = family in COUNT_FAMILIES
    cols = [Column(time, kind="string", allow_missing=False, unique=True, label="period"),
            Column(outcome, allow_missing=False, min=0 if counts else None,
                   label="count per period" if counts else "outcome")]
    if population:
        cols.append(Column(population, allow_missing=False, min=0,
                           label="population (its log is the offset)"))
    return cols


def its_data(data: pd.DataFrame, *, time: str, intervention: Any,
             population: str | None = None, placebo: Any = None
             ) -> tuple[pd.DataFrame, str | None]:
    """The series ready for the model: the log population added, the periods checked.

    Parameters
    ----------
    data
        The validated series (:func:`its_columns`).
    time
        The period column.
    intervention, placebo
        The first period with the intervention and (optional) the placebo period: each must
        be a period of the series (the placebo one before the intervention).
    population
        The population column; its log becomes the column :data:`OFFSET_COLUMN`.

    Returns
    -------
    (DataFrame, str or None)
        The data and the name of the offset column (``None`` without a population).

    Raises
    ------
    EvalDataError
        Naming ``parameters.intervention`` (or ``parameters.placebo``) when it is not a period
        of the series, or the population column when a population is not positive.
    """
    out = data.copy()
    keys = _keys(out[time])
    problems = []
    labels = period_labels(out[time])
    span = f"a period of the series, from {labels.iloc[keys.argmin()]} to " \
           f"{labels.iloc[keys.argmax()]}"
    at = _find(out[time], intervention)
    if at is None:
        problems.append(DataProblem(time, f"parameters.intervention {intervention!r} is not a "
                                    "period of the series", span))
    if placebo is not None:
        p_at = _find(out[time], placebo)
        if p_at is None:
            problems.append(DataProblem(time, f"parameters.placebo {placebo!r} is not a period "
                                        "of the series", span))
        elif at is not None and keys[p_at] >= keys[at]:
            problems.append(DataProblem(time, f"parameters.placebo {placebo!r} is not before "
                                        f"the intervention {intervention!r}",
                                        "a period before the intervention"))
    offset = None
    if population is not None:
        pop = pd.to_numeric(out[population], errors="coerce").to_numpy(float)
        bad = ~(pop > 0)
        if bad.any():
            problems.append(DataProblem(population, f"is not positive in {int(bad.sum())} "
                                        "periods", "a positive population in every period"))
        else:
            out[OFFSET_COLUMN] = np.log(pop)
            offset = OFFSET_COLUMN
    if problems:
        raise EvalDataError(problems, source=source_of(data))
    return out, offset


def parsed_periods(times: pd.Series) -> pd.Series:
    """Period values as numbers, or as timestamps when they are dates."""
    if pd.api.types.is_numeric_dtype(times) and not pd.api.types.is_bool_dtype(times):
        return times.astype(float)
    if isinstance(times.dtype, pd.PeriodDtype):
        return times.dt.to_timestamp()
    try:
        num = pd.to_numeric(times)
        return num.astype(float)
    except (ValueError, TypeError):
        return pd.to_datetime(times)


def _keys(times: pd.Series) -> np.ndarray:
    p = parsed_periods(times)
    if pd.api.types.is_datetime64_any_dtype(p):
        return p.to_numpy("datetime64[ns]").astype(np.int64)
    return p.to_numpy(float)


def _find(times: pd.Series, value: Any) -> int | None:
    """The position of ``value`` among the periods (as the estimator matches them)."""
    p = parsed_periods(times)
    try:
        key: Any = pd.Timestamp(value) if pd.api.types.is_datetime64_any_dtype(p) \
            else float(value)
    except (ValueError, TypeError):
        return None
    hit = np.flatnonzero((p == key).to_numpy())
    return int(hit[0]) if len(hit) else None


def _monthly(p: pd.Series) -> bool:
    d = pd.DatetimeIndex(p)
    return bool(len(d) and d.normalize().equals(d) and len(set(d.day)) == 1)


def _years(p: pd.Series) -> bool:
    """Numeric periods that are calendar years: whole numbers from 1800 to 2200."""
    v = pd.to_numeric(p, errors="coerce")
    return bool(len(v) and v.notna().all() and (v == v.round()).all()
                and v.between(1800, 2200).all())


def period_labels(times: pd.Series) -> pd.Series:
    """Periods in words: "January 2022", "week of 3 January 2022", "year 2004", "period 12".

    Whole numbers from 1800 to 2200 are years; other numbers are periods. The labels never
    repeat the data's own text (``2022-01``), which the leak check treats as a value to keep
    out of reports.
    """
    p = parsed_periods(times)
    if not pd.api.types.is_datetime64_any_dtype(p):
        word = "year" if _years(p) else "period"
        return p.map(lambda v: f"{word} {v:g}")
    if _monthly(p):
        return p.map(lambda d: d.strftime("%B %Y"))
    return p.map(lambda d: f"week of {d.day} {d.strftime('%B %Y')}")


def period_word(times: pd.Series) -> str:
    """What one period of the series is: "month", "week", "year" or "period"."""
    p = parsed_periods(times)
    if not pd.api.types.is_datetime64_any_dtype(p):
        return "year" if _years(p) else "period"
    if _monthly(p):
        return "month"
    step = pd.Series(p).sort_values().diff().dropna().dt.days
    return "week" if len(step) and (step % 7 == 0).all() else "period"

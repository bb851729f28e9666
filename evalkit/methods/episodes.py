"""An episode file as the survival template reads it: one row per episode, in two shapes.

The two shapes are ``(start, stop]`` rows for repeated episodes and one row per youth for the
time to the first episode.

:func:`episode_columns` is what ``evalkit run`` checks before the analysis (the youth's id
repeats, one row per episode) and :func:`episode_data` the analysis' own data: both the runner's
checks and the template call it, so an error names the same rows in both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evalkit.data import Column, _origin
from evalkit.exceptions import DataProblem, EvalDataError
from evalkit.methods.options import EPISODE_KEYS
from evalkit.methods.recurrent import split_episodes

__all__ = ["EpisodeData", "episode_data", "episode_columns", "EPISODE_KEYS", "FIRST_DURATION",
           "FIRST_EVENT", "SWITCH"]

#: Columns of :attr:`EpisodeData.first`: time to the first episode and whether one was seen.
FIRST_DURATION = "time_to_first"
FIRST_EVENT = "first_episode"
#: The 0/1 column of :attr:`EpisodeData.intervals` that is 1 after the change.
SWITCH = "after_change"


@dataclass(frozen=True)
class EpisodeData:
    """The two shapes of one evaluation's episode data.

    Attributes
    ----------
    intervals
        ``(start, stop]`` rows since each youth's entry (:func:`split_episodes`), with the
        ``keep`` columns and, when a change is recorded, the 0/1 column :data:`SWITCH`.
    first
        One row per youth: the id, the ``keep`` columns, :data:`FIRST_DURATION` (time from
        entry to the first episode, or to the end of follow-up) and :data:`FIRST_EVENT` (1 when
        an episode ended it).
    change
        The name of the time-varying column in ``intervals``, or ``None``.
    """

    intervals: pd.DataFrame
    first: pd.DataFrame
    change: str | None = None

    duration = FIRST_DURATION
    event = FIRST_EVENT

    @property
    def n_youth(self) -> int:
        """How many youth were followed."""
        return len(self.first)


def episode_columns(id: str, spec: Mapping[str, Any], *, group: str,
                    covariates: Sequence[str] = ()) -> list[Column]:
    """The column specs of an episode file (for :func:`evalkit.data.load`).

    The id repeats (one row per episode), so it is checked as text that is never empty, not as
    a unique identifier; the time columns may be day numbers or dates and are read by
    :func:`episode_data`, which names the rows and youth of any bad time.

    Parameters
    ----------
    id
        The youth identifier column.
    spec
        The template's ``episodes`` mapping (:data:`EPISODE_KEYS`).
    group
        0/1 column: 1 for the program group.
    covariates
        Numeric baseline characteristics.

    Returns
    -------
    list of evalkit.data.Column
    """
    cols = [Column(id, kind="string", allow_missing=False, text=True,
                   label="youth identifier (repeated on each of a youth's episodes)"),
            Column(spec["entry"], kind="string", allow_missing=False,
                   label="when follow-up began"),
            Column(spec["exit"], kind="string", allow_missing=False,
                   label="when follow-up ended"),
            Column(spec["day"], kind="string", label="when the episode began")]
    if spec.get("change"):
        cols.append(Column(spec["change"], kind="string", label="when the change happened"))
    cols.append(Column(group, kind="binary", allow_missing=False,
                       label="1 for the program group, 0 for the comparison group"))
    cols += [Column(c, label="baseline characteristic") for c in covariates]
    return cols


def episode_data(data: pd.DataFrame, id: str, spec: Mapping[str, Any], *, group: str,
                 covariates: Sequence[str] = ()) -> EpisodeData:
    """Episodes since entry, as ``(start, stop]`` rows and as time to the first episode.

    Parameters
    ----------
    data
        One row per episode (a youth without episodes: one row with the episode day empty).
    id
        The youth identifier column.
    spec
        ``{entry, exit, day}`` columns and an optional ``change`` column
        (:data:`EPISODE_KEYS`); other keys are ignored.
    group, covariates
        Columns constant within a youth, copied to every row.

    Returns
    -------
    EpisodeData

    Raises
    ------
    EvalDataError
        As :func:`split_episodes`, naming the rows and the number of youth: missing or
        unreadable times, values that differ between a youth's rows, episodes outside
        follow-up, two episodes on one day, follow-up that ends at or before it begins; and a
        ``change`` that no youth's follow-up crosses (every youth before it, or after it,
        throughout), whose effect cannot be estimated.
    """
    keep = list(dict.fromkeys([group, *covariates]))
    change = spec.get("change") or None
    rows = split_episodes(data, id, spec["entry"], spec["exit"], spec["day"], keep=keep,
                          switches={SWITCH: change} if change else None)
    if change and rows[SWITCH].nunique() < 2:
        src = _origin(data, None)
        state = "after" if rows[SWITCH].iat[0] else "before"
        raise EvalDataError([DataProblem(
            change, f"every youth is {state} the change throughout follow-up, so its effect "
            "on the rate of episodes cannot be estimated",
            "a change during follow-up for some youth; or leave 'change' out")],
            source=src.source, row_word=src.row_word)
    first_rows = rows[rows["episode"] == 1]
    by = first_rows.groupby(id, sort=False)
    first = by[keep].first().reset_index()
    # the first episode's interval may be cut at the change: its last part ends the wait
    first[FIRST_DURATION] = by["stop"].last().to_numpy(dtype=float) - by["start"].first(
    ).to_numpy(dtype=float)
    first[FIRST_EVENT] = by["event"].last().to_numpy(dtype=np.int64)
    for c in keep:
        first[c] = first[c].astype(float)
        rows[c] = rows[c].astype(float)
    return EpisodeData(intervals=rows.reset_index(drop=True), first=first,
                       change=SWITCH if change else None)

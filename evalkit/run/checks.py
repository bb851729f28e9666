"""Checks of a config against its data before any notebook runs, and the identifier leak check.

:func:`preflight` finds what would otherwise surface as a failed notebook cell, or as a report
that claims more than the data hold: a restricted-mean horizon or a reporting time beyond a
group's follow-up, an event window outside the periods the panel can show, too few adopting
units or never-treated units. ``evalkit validate`` prints its findings; ``evalkit run`` stops
on its errors before starting a kernel.

:func:`identifier_columns` and :func:`leaks` apply the privacy leak check to every output:
the values of the id column, and the values of every text column that could point at a few
people (see :func:`identifier_columns`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from evalkit.methods.episodes import EpisodeData
    from evalkit.run.config import EvaluationConfig

__all__ = ["Finding", "preflight", "resolve_parameters", "identifier_columns", "leaks",
           "redact"]


@dataclass(frozen=True)
class Finding:
    """One problem found by :func:`preflight`.

    ``level`` is ``"error"`` (the run would fail, or its report would claim more than the data
    hold) or ``"warning"`` (the report is written, with less than asked: e.g. no estimate).
    """

    level: str
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


def _fmt(x: float) -> str:
    return f"{x:g}"


def _group_name(value: Any, params: Mapping[str, Any]) -> str:
    v = float(value)
    if v == 1:
        return f"group 1 ({params.get('program_label') or 'the program'})"
    if v == 0:
        return f"group 0 ({params.get('comparison_label') or 'the comparison group'})"
    return f"group {value}"


def follow_up(cfg: EvaluationConfig, data: pd.DataFrame,
              episodes: EpisodeData | None = None) -> dict[Any, float]:
    """Longest observed time in each group of a survival evaluation.

    With ``episodes`` it is the time to the first episode (or the end of follow-up), which
    :func:`evalkit.methods.episodes.episode_data` works out (pass its result as ``episodes``
    when already made); that call raises ``EvalDataError`` naming the rows of episodes that
    cannot be read.
    """
    p = cfg.parameters
    duration = p["duration"]
    if p.get("episodes"):
        from evalkit.methods.episodes import FIRST_DURATION

        data = (episodes or _episodes(cfg, data)).first
        duration = FIRST_DURATION
    d = data[[duration, p["group"]]].dropna()
    return {g: float(t) for g, t in d.groupby(p["group"])[duration].max().items()}


def _episodes(cfg: EvaluationConfig, data: pd.DataFrame) -> EpisodeData:
    """The episode data of a survival evaluation with ``episodes`` (as the template makes it)."""
    from evalkit.methods.episodes import episode_data

    p = cfg.parameters
    return episode_data(data, cfg.id_column or "", p["episodes"], group=p["group"],
                        covariates=p.get("covariates") or ())


def resolve_parameters(cfg: EvaluationConfig, data: pd.DataFrame) -> EvaluationConfig:
    """The config with defaults that depend on the data filled in.

    * survival ``tau`` left empty: the longest time every group is followed (the minimum over
      the groups of each group's largest observed time), survRM2's default horizon.
    """
    if cfg.template.name == "survival" and cfg.parameters.get("tau") is None:
        fu = follow_up(cfg, data)
        if fu:
            tau = min(fu.values())
            return cfg.with_parameters(tau=int(tau) if float(tau).is_integer() else tau)
    return cfg


def preflight(cfg: EvaluationConfig, data: pd.DataFrame) -> list[Finding]:
    """Everything about ``cfg`` and its (validated) ``data`` that the run would trip over.

    Returns
    -------
    list of Finding
        Errors first, then warnings; empty when all is well.
    """
    found: list[Finding] = _labels(cfg)
    if cfg.template.name == "survival":
        found += _survival(cfg, data)
    elif cfg.template.name == "did":
        found += _did(cfg, data)
    elif cfg.template.name == "its":
        found += _its(cfg, data)
    return sorted(found, key=lambda f: f.level != "error")


def _its(cfg: EvaluationConfig, data: pd.DataFrame) -> list[Finding]:
    """Check the intervention and placebo periods against the series, before the notebook runs.

    The error then names the key instead of a failing cell.
    """
    from evalkit.exceptions import EvalDataError
    from evalkit.methods.policy.its_columns import its_data

    p = cfg.parameters
    try:
        its_data(data, time=p["time"], intervention=p.get("intervention"),
                 population=p.get("population"), placebo=p.get("placebo"))
    except EvalDataError as err:
        out = []
        for prob in err.problems:
            key = next((f"parameters.{k}" for k in ("placebo", "intervention")
                        if f"parameters.{k}" in prob.message),
                       f"parameters.{_param_of(p, prob.column or '')}")
            out.append(Finding("error", key, f"column '{prob.column}': {prob.message}; "
                                             f"expected {prob.expected}"))
        return out
    return []


def _param_of(params: Mapping[str, Any], column: str) -> str:
    """The parameter that names ``column`` (for a finding's key)."""
    return next((k for k, v in params.items() if v == column), "time")


def _labels(cfg: EvaluationConfig) -> list[Finding]:
    """Say so when a label is given for a column the evaluation does not use.

    Such a label is never shown; a typo in a column name would otherwise leave the raw name in
    the report.
    """
    used = {c.name for c in cfg.template.columns(cfg.parameters, cfg.id_column or "")}
    return [Finding("warning", f"labels.{k}", (
        f"'{k}' is not a column this evaluation uses ({', '.join(sorted(used))}), so its "
        "label is never shown")) for k in cfg.labels if k not in used]


def _survival(cfg: EvaluationConfig, data: pd.DataFrame) -> list[Finding]:
    p = cfg.parameters
    out: list[Finding] = []
    eps = _episodes(cfg, data) if p.get("episodes") else None
    fu = follow_up(cfg, data, eps)
    if len(fu) < 2:
        return out  # the template's own checks name a missing group
    unit = p.get("time_unit") or "time units"
    shortest_group, shortest = min(fu.items(), key=lambda kv: kv[1])
    who = _group_name(shortest_group, p)
    tau = p.get("tau")
    if tau is not None and tau > shortest:
        out.append(Finding("error", "parameters.tau", (
            f"{_fmt(tau)} {unit} is beyond the follow-up of {who}, whose longest observed "
            f"time is {_fmt(shortest)} {unit}; the restricted mean cannot be computed past "
            f"it. Use a tau of at most {_fmt(shortest)}, or leave tau empty for that "
            "default.")))
    out += _beyond("parameters.times", p.get("times"), shortest, who, unit,
                   "observed time", "the share with the event", "times")
    if eps is None:
        return out
    longest = eps.intervals.groupby(p["group"])["stop"].max()
    shortest_group, shortest = longest.idxmin(), float(longest.min())
    who = _group_name(shortest_group, p)
    out += _beyond("parameters.episodes.days", p["episodes"].get("days"), shortest, who, unit,
                   "follow-up", "the mean number of episodes", "days")
    return out


def _beyond(key: str, times: Any, shortest: float, who: str, unit: str, longest: str,
            what: str, noun: str) -> list[Finding]:
    """An error for the report times past a group's follow-up (the estimate would stall)."""
    late = [t for t in times or [] if t > shortest]
    if not late:
        return []
    return [Finding("error", key, (
        f"{', '.join(_fmt(t) for t in late)} {unit} "
        f"{'is' if len(late) == 1 else 'are'} beyond the follow-up of {who}, whose "
        f"longest {longest} is {_fmt(shortest)} {unit}; {what} there would only repeat the "
        f"last observed value. Use {noun} of at most {_fmt(shortest)}."))]


def _did(cfg: EvaluationConfig, data: pd.DataFrame) -> list[Finding]:
    import numpy as np

    from evalkit.methods.did.staggered import MIN_TREATED_UNITS, SMALL_GROUP_BASE

    p = cfg.parameters
    out: list[Finding] = []
    unit, time, ft = cfg.id_column, p["time"], p["first_treated"]
    never_code = p.get("never_treated")
    unit_label = p.get("unit_label") or "unit"
    units_word = unit_label + ("" if unit_label.endswith("s") else "s")
    anticipation = int(p.get("anticipation") or 0)
    periods = np.sort(data[time].dropna().unique()).astype(float)
    if periods.size < 2:
        return out  # the estimator names this itself
    first = data.groupby(unit)[ft].first()
    never = first.isna() | ((first == never_code) if never_code is not None else False)
    cohorts = first[~never].astype(float)
    adopting = cohorts[(cohorts > periods[0] + anticipation)
                       & (cohorts <= periods[-1] + anticipation)]
    n_never = int(never.sum())
    # adopters after the data end serve as never treated, as in R's did
    n_never += int((cohorts > periods[-1] + anticipation).sum())
    n_cov = len(p.get("covariates") or [])
    if p.get("control_group", "nevertreated") == "nevertreated" and n_never < SMALL_GROUP_BASE + n_cov:
        out.append(Finding("error", "parameters.first_treated", (
            f"only {n_never} never-treated {units_word if n_never != 1 else unit_label} in "
            f"column '{ft}'; comparing with never-treated {units_word} needs at least "
            f"{SMALL_GROUP_BASE + n_cov}. Use control_group: notyettreated, or check which "
            "value marks never-treated units (never_treated, or an empty cell).")))
    if adopting.size == 0:
        out.append(Finding("error", "parameters.first_treated", (
            f"no {unit_label} adopts within the periods of the data "
            f"({_fmt(periods[0])}–{_fmt(periods[-1])}) after the first one; check the "
            f"column '{ft}' and never_treated.")))
        return out
    if adopting.size < MIN_TREATED_UNITS:
        one_year = adopting.nunique() == 1
        out.append(Finding("warning", "parameters.first_treated", (
            f"only {adopting.size} {units_word if adopting.size != 1 else unit_label} "
            f"{'adopt' if adopting.size != 1 else 'adopts'} within the data; the staggered method needs at least {MIN_TREATED_UNITS}, so "
            + ("the report switches to synthetic difference-in-differences, built for one or "
               "a few adopting units, and says why." if one_year else
               "the report will carry no estimate: the adopters adopted in different years, "
               "which synthetic difference-in-differences cannot take either; it explains why "
               "and which design fits instead."))))
    sizes = adopting.value_counts().sort_index()
    small = sizes[sizes < SMALL_GROUP_BASE + n_cov]
    if len(small) and adopting.size >= MIN_TREATED_UNITS:  # else no cohort effects are shown
        parts = ", ".join(f"{_fmt(g)} ({k})" for g, k in small.items())
        out.append(Finding("warning", "parameters.first_treated", (
            f"{len(small)} adoption cohort(s) have fewer than {SMALL_GROUP_BASE + n_cov} "
            f"{units_word}: {parts}; their own effects rest on very few {units_word} and the "
            "report cautions that they are unreliable (the averages over cohorts are "
            "less affected).")))
    window = p.get("event_window") or []
    if len(window) == 2:
        lo, hi = float(window[0]), float(window[1])
        # group-time cells exist from the second period on (the first is only a base)
        e = (periods[None, 1:] - np.unique(adopting.to_numpy())[:, None]).ravel()
        e_min, e_max = float(e.min()), float(e.max())
        if lo > e_max or hi < max(e_min, 0.0) or hi < 0:
            out.append(Finding("error", "parameters.event_window", (
                f"[{_fmt(lo)}, {_fmt(hi)}] holds no period since adoption that the data "
                f"show: they run from {_fmt(e_min)} to {_fmt(e_max)}. Choose a window within "
                "that range that includes 0 (the adoption period).")))
        elif lo < e_min or hi > e_max:
            out.append(Finding("error", "parameters.event_window", (
                f"[{_fmt(lo)}, {_fmt(hi)}] is wider than the data: periods since adoption "
                f"run from {_fmt(e_min)} to {_fmt(e_max)} (periods {_fmt(periods[0])}–"
                f"{_fmt(periods[-1])}, adoption {_fmt(adopting.min())}–"
                f"{_fmt(adopting.max())}). Use [{_fmt(max(lo, e_min))}, "
                f"{_fmt(min(hi, e_max))}] or narrower.")))
    return out


# -- identifiers ---------------------------------------------------------------------------------


def identifier_columns(
    data: pd.DataFrame, id_column: str | None, threshold: int, *, known_text: str = "",
    places: bool = False,
) -> dict[str, list[str]]:
    """Values no output may show, by column.

    * the id column: every value (ids are text: ``"00042"`` is searched as written);
    * every other text column (with or without an id column): each value held by fewer than
      ``threshold`` rows. A value shared by at least ``threshold`` rows is a category (a site,
      a group name) that describes at least as many people as a count the report may show;
      a rarer value may point at a few people (a name, a case number, a free-text note).

    Values of those other columns that the config itself writes (``known_text``: its title,
    description and parameters, such as a group's label) are labels the report must print,
    not identifiers; the id column is searched whatever the config says.

    Without an id column the row number is the id; it is not searched (row numbers cannot be
    told apart from other numbers), and the text columns are. The rules of
    :func:`evalkit.privacy.find_identifiers` then apply to each value (short values and
    short numbers are not searched).

    With ``places`` (a template whose units are jurisdictions, such as the did template's
    states), the id column names public places, not people: it is not searched at all.
    """
    import pandas as pd

    from evalkit.privacy import unique_text

    out: dict[str, Any] = {}
    if id_column and id_column in data.columns and not places:
        # an Arrow array of the distinct ids: millions of them are searched without a copy
        out[id_column] = unique_text(data[id_column])
    for col in data.columns:
        if col == id_column:
            continue
        s = data[col]
        if not (s.dtype == object or pd.api.types.is_string_dtype(s.dtype)):
            continue
        text = s.dropna().astype(str).str.strip()
        text = text[text != ""]
        counts = text.value_counts()
        rare = counts[counts < threshold].index.tolist()
        # numbers written as text in an otherwise numeric column are not identifiers
        rare = [v for v in rare if not _is_number(v)]
        if rare and known_text:
            # a value the evaluator wrote into the config (a group's name in a label: "usual
            # care" for a column holding "usual") is a label, not something to hide
            from evalkit.privacy import find_identifiers

            named = set(find_identifiers(known_text, rare))
            rare = [v for v in rare if v not in named]
        if rare:
            out[str(col)] = rare
    return out


def _is_number(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return not v.isdigit() or len(v) < 5  # long digit strings may be ids: keep them


def leaks(text: str, columns: Mapping[str, Iterable[object]]) -> dict[str, list[str]]:
    """The identifier values of each column that occur in ``text``.

    See :func:`evalkit.privacy.find_identifiers`.
    """
    from evalkit.privacy import find_identifiers

    out = {}
    for col, values in columns.items():
        found = find_identifiers(text, values)
        if found:
            out[col] = found
    return out


def check(text: str, columns: Mapping[str, Iterable[object]], *, what: str) -> None:
    """Raise :class:`~evalkit.exceptions.PrivacyError` if any value of ``columns`` is in ``text``.

    The message names the column and how many values, never the values.
    """
    from evalkit.privacy import check_no_identifiers

    for col, values in columns.items():
        check_no_identifiers(text, values, what=what, column=col)


def searched(columns: Mapping[str, Iterable[object]]) -> dict[str, dict[str, int]]:
    """Per column: how many values the leak check searches and how many are too short."""
    from evalkit.privacy import count_searchable

    return {col: count_searchable(values) for col, values in columns.items()}


def redact(text: str, columns: Mapping[str, Iterable[object]]) -> str:
    """``text`` with every identifier value of ``columns`` replaced by ``[identifier]``."""
    import re

    for found in leaks(text, columns).values():
        for v in sorted(found, key=len, reverse=True):
            text = re.sub(r"(?<![A-Za-z0-9])" + re.escape(v) + r"(?![A-Za-z0-9])",
                          "[identifier]", text)
    return text

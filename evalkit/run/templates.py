"""The templates evalkit can run, and the parameters each accepts.

Each template's parameters are declared here once; the config schema, ``evalkit new`` and the
consistency test of the notebooks' parameters cells all read this registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

if TYPE_CHECKING:
    from evalkit.data import Column

__all__ = ["Param", "TemplateSpec", "TEMPLATES", "get_template", "templates_dir", "COMMON_PARAMS"]


@dataclass(frozen=True)
class Param:
    """One template parameter as a config sets it.

    ``kind`` is one of ``"str"``, ``"bool"``, ``"number"``, ``"int"``, ``"column"`` (a column
    name), ``"columns"`` (a list of column names), ``"alpha"`` (a number strictly between 0 and
    1), ``"unit"`` (a number strictly between 0 and 1, e.g. a reliability), ``"choice"`` (one of
    ``choices``) or ``"binary_outcomes"`` (a list of ``{pre, post, label}`` mappings).
    """

    name: str
    kind: str
    help: str
    required: bool = False
    default: Any = None
    nullable: bool = False
    example: Any = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class TemplateSpec:
    """A parameterized notebook and what it needs."""

    name: str
    design: str
    description: str
    params: tuple[Param, ...]
    columns: Callable[[Mapping[str, Any], str], list["Column"]]

    @property
    def notebook(self) -> str:
        return f"{self.name}.ipynb"

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


#: Parameters every template receives from the config's top level (not from ``parameters``).
COMMON_PARAMS = (
    "title", "program", "description", "question", "data_path", "id_column",
    "privacy_threshold", "results_path", "design", "population_label", "labels",
    "outcome_scale", "data_sheet", "validated_data",
)


def _prepost_columns(p: Mapping[str, Any], id_column: str | None) -> list["Column"]:
    from evalkit.methods.prepost import columns

    return columns(p["pre"], p["post"], id=id_column, min=p.get("score_min"),
                   max=p.get("score_max"), binary=p.get("binary_outcomes") or (),
                   group=p.get("group"), covariates=p.get("covariates") or (),
                   cluster=p.get("cluster"))


PREPOST = TemplateSpec(
    name="prepost",
    design="One group measured twice (pre-post)",
    description="Change in a score between two measurements of the same youth.",
    params=(
        Param("pre", "column", "column with the score at the first measurement", True,
              example="ts_intake"),
        Param("post", "column", "column with the score at the second measurement", True,
              example="ts_6mo"),
        Param("outcome_label", "str", "what the score measures, in words for funders", True,
              example="trauma symptom score"),
        Param("lower_is_better", "bool", "whether a lower score is better", True,
              example=True),
        Param("units", "str", "units of the score", default="points"),
        Param("pre_label", "str", "name of the first measurement", default="intake"),
        Param("post_label", "str", "name of the second measurement", default="follow-up",
              example="six months"),
        Param("score_min", "number", "lowest possible score (values below are errors)",
              nullable=True, example=0),
        Param("score_max", "number", "highest possible score (values above are errors)",
              nullable=True, example=80),
        Param("alpha", "alpha", "1 − confidence level of every interval", default=0.05),
        Param("reliability", "unit", "reliability of the score, for reliable change "
              "(Jacobson & Truax); empty to skip", nullable=True, example=0.8),
        Param("functional_mean", "number", "mean score of a functional (community) sample, "
              "for the clinical-significance cutoff", nullable=True),
        Param("functional_sd", "number", "SD of that functional sample", nullable=True),
        Param("dysfunctional_mean", "number", "mean score of a clinical sample", nullable=True),
        Param("dysfunctional_sd", "number", "SD of that clinical sample", nullable=True),
        Param("binary_outcomes", "binary_outcomes", "0/1 outcomes measured at both times, each "
              "as {pre: column, post: column, label: words}", default=[],
              example=[{"pre": "school_intake", "post": "school_6mo",
                        "label": "enrolled in school"}]),
        Param("group", "column", "0/1 column marking the program group (1) against a "
              "comparison group (0); empty for a one-group design", nullable=True),
        Param("comparison_label", "str", "name of the comparison group",
              default="comparison group"),
        Param("covariates", "columns", "baseline covariates for the comparison-group "
              "analysis", default=[]),
        Param("cluster", "column", "column of clusters (e.g. sites) for clustered standard "
              "errors; empty for none", nullable=True),
        Param("attrition_boundary", "choice", "WWC attrition boundary", default="cautious",
              choices=("cautious", "optimistic")),
    ),
    columns=_prepost_columns,
)

def _survival_columns(p: Mapping[str, Any], id_column: str | None) -> list["Column"]:
    from evalkit.data import Column
    from evalkit.methods.survival import survival_columns

    cols = [*([Column(id_column, kind="id", label="case identifier")] if id_column else []),
            *survival_columns(p["duration"], p["event"], extra=p.get("covariates") or ()),
            Column(p["group"], kind="binary", allow_missing=False,
                   label="1 for the program group, 0 for the comparison group")]
    if p.get("event_type"):
        cols.append(Column(p["event_type"], kind="string", allow_missing=False,
                           label="how follow-up ended"))
    return cols


SURVIVAL = TemplateSpec(
    name="survival",
    design="Time to event, program group vs comparison group",
    description="Time until an event (runaway, re-exploitation, re-arrest) in two groups.",
    params=(
        Param("duration", "column", "time from entry to the event or the end of follow-up",
              True, example="days"),
        Param("event", "column", "1 if the event happened, 0 if follow-up ended first", True,
              example="ran_away"),
        Param("group", "column", "0/1 column: 1 for the program group", True,
              example="specialized"),
        Param("event_label", "str", "the event, worded to follow 'youth who ...' "
              "(e.g. 'ran away from placement')", True, example="ran away from placement"),
        Param("program_label", "str", "name of the program group", default="the program"),
        Param("lower_is_better", "bool", "whether fewer and later events are better (true for "
              "re-arrest or runaway)", default=True),
        Param("comparison_label", "str", "name of the comparison group",
              default="the comparison group"),
        Param("time_unit", "str", "unit of the durations", default="days"),
        Param("covariates", "columns", "characteristics to adjust the hazard ratio for",
              default=[]),
        Param("times", "numbers", "times at which to report the share who had the event",
              default=[30, 90, 180]),
        Param("tau", "number", "horizon of the restricted mean time without the event; empty "
              "for the longest time every group is followed (survRM2's default)",
              nullable=True, example=180),
        Param("ties", "choice", "handling of tied times in the Cox model", default="efron",
              choices=("efron", "breslow")),
        Param("conf_type", "choice", "Kaplan–Meier confidence intervals", default="log",
              choices=("log", "log-log", "plain")),
        Param("ph_transform", "choice", "time transform of the proportional-hazards test",
              default="km", choices=("km", "rank", "identity")),
        Param("competing_label", "str", "other exits counted as censored, in words (empty if "
              "none)", default=""),
        Param("event_type", "column", "column of how follow-up ended (0 censored, 1, 2, ... "
              "causes), for cumulative incidence with competing events; empty for none",
              nullable=True, example="outcome"),
        Param("event_cause", "str", "the value of event_type that is the event of interest",
              default="1"),
        Param("alpha", "alpha", "1 − confidence level of every interval", default=0.05),
    ),
    columns=_survival_columns,
)

def _did_columns(p: Mapping[str, Any], id_column: str | None) -> list["Column"]:
    from evalkit.data import Column

    return [Column(id_column or "", kind="string", allow_missing=False, label="panel unit",
                   text=True),
            Column(p["time"], kind="integer", allow_missing=False, label="period"),
            Column(p["first_treated"], kind="integer", allow_missing=True,
                   label="first period with the policy (empty or the never-treated value "
                         "for none)"),
            Column(p["treatment"], kind="binary", allow_missing=False,
                   label="1 in periods with the policy"),
            Column(p["outcome"], allow_missing=False, label="outcome"),
            *[Column(c, allow_missing=False, label="covariate") for c in
              p.get("covariates") or []]]


DID = TemplateSpec(
    name="did",
    design="Staggered adoption of a policy, difference-in-differences",
    description="Effect of a policy adopted by different units (states) in different years.",
    params=(
        Param("outcome", "column", "outcome column", True, example="arrests_per_100k"),
        Param("outcome_label", "str", "the outcome in words", True,
              example="juvenile arrests for prostitution"),
        Param("units", "str", "units of the outcome", default="", example="per 100,000 youth"),
        Param("time", "column", "period column (whole numbers, e.g. years)", True,
              example="year"),
        Param("first_treated", "column", "first period with the policy for each unit (empty "
              "for units that never adopt)", True, example="first_law_year"),
        Param("treatment", "column", "0/1 column: 1 in periods with the policy", True,
              example="safe_harbor"),
        Param("never_treated", "number", "value of first_treated for units that never adopt, "
              "besides an empty cell (empty: only empty cells mean never adopted)",
              default=0, nullable=True),
        Param("policy_label", "str", "the policy in words", True, example="safe-harbor laws"),
        Param("unit_label", "str", "what a unit is", default="state"),
        Param("lower_is_better", "bool", "whether a lower outcome is better", default=False),
        Param("control_group", "choice", "comparison units", default="nevertreated",
              choices=("nevertreated", "notyettreated")),
        Param("covariates", "columns", "unit characteristics to condition the comparison on",
              default=[]),
        Param("est_method", "choice", "estimator of each comparison (with covariates)",
              default="dr", choices=("dr", "reg", "ipw")),
        Param("anticipation", "int", "periods before adoption that may already react",
              default=0),
        Param("event_window", "numbers", "first and last periods since adoption in the "
              "event-study figure, e.g. [-5, 5]", default=[-5, 5]),
        Param("alpha", "alpha", "1 − confidence level of every interval", default=0.05),
    ),
    columns=_did_columns,
)

TEMPLATES: dict[str, TemplateSpec] = {PREPOST.name: PREPOST, SURVIVAL.name: SURVIVAL,
                                      DID.name: DID}


def get_template(name: str) -> TemplateSpec:
    """The spec of template ``name`` (``KeyError`` naming the known ones otherwise)."""
    try:
        return TEMPLATES[name]
    except KeyError:
        raise KeyError(
            f"unknown template {name!r}; known templates: {', '.join(sorted(TEMPLATES))}"
        ) from None


def templates_dir(near: Path | None = None) -> Path:
    """Where the template notebooks live.

    Looks in ``$EVALKIT_TEMPLATES``, then ``templates/`` beside the folder holding ``near`` (a
    config file's folder), then the project's own ``templates/`` folder.
    """
    import os

    candidates = []
    if os.environ.get("EVALKIT_TEMPLATES"):
        candidates.append(Path(os.environ["EVALKIT_TEMPLATES"]))
    if near is not None:
        candidates.append(Path(near).resolve().parent / "templates")
    candidates.append(Path(__file__).resolve().parents[2] / "templates")
    for c in candidates:
        if (c / PREPOST.notebook).is_file():
            return c
    raise FileNotFoundError(
        "cannot find the templates folder; looked in " + ", ".join(str(c) for c in candidates)
        + " (set EVALKIT_TEMPLATES to its path)"
    )

"""The templates evalkit can run, the parameters each accepts and the columns each reads.

A template is one notebook, ``templates/<name>.ipynb``, edited in JupyterLab; a built wheel
carries the same files as ``evalkit/templates/`` (copied by ``setup.py``). Its ``parameters``
cell declares the parameters: their names, their order and the sample values the notebook runs
with as-is. This registry adds what a cell cannot say: each parameter's type, help, default and
allowed values, read by the config schema (:mod:`evalkit.run.config`) and ``evalkit new``.
``tests/test_templates.py`` fails when the two disagree (a name, the order, or a sample value
the schema would refuse), so a parameter is added in both places or the tests fail.

:func:`columns` is the one list of the columns a template reads: the runner validates a
config's data with it, and the survival and DiD notebooks load their data with it.
"""

from __future__ import annotations

import ast
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evalkit.data import Column

__all__ = ["Param", "TemplateSpec", "TEMPLATES", "get_template", "templates_dir", "COMMON_PARAMS",
           "columns", "notebook_parameters"]


@dataclass(frozen=True)
class Param:
    """One template parameter as a config sets it.

    ``kind`` is one of ``"str"``, ``"bool"``, ``"number"``, ``"int"``, ``"column"`` (a column
    name), ``"columns"`` (a list of column names), ``"alpha"`` (a number strictly between 0 and
    1), ``"unit"`` (a number strictly between 0 and 1, e.g. a reliability), ``"choice"`` (one of
    ``choices``), ``"binary_outcomes"`` (a list of ``{pre, post, label}`` mappings) or
    ``"adjust"`` (the prepost and survival ``adjust`` mapping, keys in
    :data:`evalkit.methods.adjustment.ADJUST_CHOICES` and
    ``covariates``) or ``"episodes"`` (the survival ``episodes`` mapping, keys in
    :data:`evalkit.methods.episodes.EPISODE_KEYS`).
    ``default`` is what a config that omits the parameter gets; the example ``evalkit new``
    writes for a required parameter is the notebook's own sample value
    (:func:`notebook_parameters`). A parameter ``required_unless`` another is required when
    that other one is not given (and ``evalkit new`` writes it as a required one).
    """

    name: str
    kind: str
    help: str
    required: bool = False
    default: Any = None
    nullable: bool = False
    choices: tuple[str, ...] = ()
    #: Required unless this other parameter is given (the survival template's ``duration``
    #: and ``event`` are worked out from ``episodes`` when that is given).
    required_unless: str | None = None


@dataclass(frozen=True)
class TemplateSpec:
    """A parameterized notebook and what it needs."""

    name: str
    design: str
    description: str
    params: tuple[Param, ...]
    columns: Callable[[Mapping[str, Any], str | None], list[Column]]
    #: Whether the id column names places (states, counties) rather than people. A policy
    #: panel's units are public jurisdictions whose names the report prints (a synthetic
    #: control's weights by state), so the leak check does not search them; every other text
    #: column is still searched. (With ``panel: false`` the did template's ids are
    #: respondents, and they are searched: see :meth:`ids_are_places`.)
    units_are_places: bool = False

    def ids_are_places(self, params: Mapping[str, Any]) -> bool:
        """Whether this evaluation's id column names places (not searched by the leak check)."""
        return self.units_are_places and params.get("panel") is not False

    @property
    def notebook(self) -> str:
        """The notebook's file name in the templates folder."""
        return f"{self.name}.ipynb"

    def param(self, name: str) -> Param | None:
        """The parameter called ``name``, or ``None`` when the template has none."""
        return next((p for p in self.params if p.name == name), None)


#: Parameters every template receives from the config's top level (not from ``parameters``).
COMMON_PARAMS = (
    "title", "program", "description", "question", "data_path", "id_column",
    "privacy_threshold", "results_path", "design", "population_label", "labels",
    "outcome_scale", "data_sheet", "validated_data",
)




def _prepost_columns(p: Mapping[str, Any], id_column: str | None) -> list[Column]:
    from evalkit.methods.adjustment import adjust_columns
    from evalkit.methods.prepost import columns

    return adjust_columns(
        columns(p["pre"], p["post"], id=id_column, min=p.get("score_min"),
                max=p.get("score_max"), binary=p.get("binary_outcomes") or (),
                group=p.get("group"), covariates=p.get("covariates") or (),
                cluster=p.get("cluster")),
        p.get("adjust"))


PREPOST = TemplateSpec(
    name="prepost",
    design="One group measured twice (pre-post)",
    description="Change in a score between two measurements of the same youth.",
    params=(
        Param("pre", "column", "column with the score at the first measurement", True),
        Param("post", "column", "column with the score at the second measurement", True),
        Param("outcome_label", "str", "what the score measures, in words for funders", True),
        Param("lower_is_better", "bool", "whether a lower score is better", True),
        Param("units", "str", "units of the score", default="points"),
        Param("pre_label", "str", "name of the first measurement", default="intake"),
        Param("post_label", "str", "name of the second measurement", default="follow-up"),
        Param("score_min", "number", "lowest possible score (values below are errors)",
              nullable=True),
        Param("score_max", "number", "highest possible score (values above are errors)",
              nullable=True),
        Param("alpha", "alpha", "1 − confidence level of every interval", default=0.05),
        Param("reliability", "unit", "reliability of the score, for reliable change "
              "(Jacobson & Truax); empty to skip", nullable=True),
        Param("functional_mean", "number", "mean score of a functional (community) sample, "
              "for the clinical-significance cutoff", nullable=True),
        Param("functional_sd", "number", "SD of that functional sample", nullable=True),
        Param("dysfunctional_mean", "number", "mean score of a clinical sample", nullable=True),
        Param("dysfunctional_sd", "number", "SD of that clinical sample", nullable=True),
        Param("binary_outcomes", "binary_outcomes", "0/1 outcomes measured at both times, each "
              "as {pre: column, post: column, label: words}", default=[]),
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
        Param("adjust", "adjust", "adjustment of the comparison for baseline covariates, as "
              "{covariates: [columns], method: weighting or matching, estimand: ATT, ATE or "
              "ATO (default ATT), missing: complete-case}; empty for none", nullable=True),
    ),
    columns=_prepost_columns,
)

def _survival_columns(p: Mapping[str, Any], id_column: str | None) -> list[Column]:
    from evalkit.methods.adjustment import adjust_columns
    from evalkit.methods.survival import columns

    if p.get("episodes"):
        from evalkit.methods.episodes import episode_columns

        return episode_columns(id_column or "", p["episodes"], group=p["group"],
                               covariates=p.get("covariates") or ())
    return adjust_columns(
        columns(p["duration"], p["event"], group=p["group"], id=id_column,
                covariates=p.get("covariates") or (), event_type=p.get("event_type")),
        p.get("adjust"))


SURVIVAL = TemplateSpec(
    name="survival",
    design="Time to event, program group vs comparison group",
    description="Time until an event (runaway, re-exploitation, re-arrest) in two groups.",
    params=(
        Param("duration", "column", "time from entry to the event or the end of follow-up",
              nullable=True, required_unless="episodes"),
        Param("event", "column", "1 if the event happened, 0 if follow-up ended first",
              nullable=True, required_unless="episodes"),
        Param("group", "column", "0/1 column: 1 for the program group", True),
        Param("event_label", "str", "the event, worded to follow 'youth who ...' "
              "(e.g. 'ran away from placement')", True),
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
              nullable=True),
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
              nullable=True),
        Param("event_cause", "str", "the value of event_type that is the event of interest",
              default="1"),
        Param("alpha", "alpha", "1 − confidence level of every interval", default=0.05),
        Param("adjust", "adjust", "adjustment of the comparison for baseline covariates, as "
              "{covariates: [columns], method: weighting or matching, estimand: ATT, ATE or "
              "ATO (default ATT), missing: complete-case}: the hazard ratio and the curves are "
              "weighted; empty for none", nullable=True),
        Param("episodes", "episodes", "data with repeated episodes, one row per episode, as "
              "{entry: column, exit: column, day: column, days: [times], label: words, change: "
              "column, change_label: words}: the mean number of episodes over time and the "
              "rate ratio of all episodes are added, and the time to the first episode "
              "replaces duration and event; empty for one row per youth", nullable=True),
    ),
    columns=_survival_columns,
)

def _did_columns(p: Mapping[str, Any], id_column: str | None) -> list[Column]:
    from evalkit.methods.did.columns import columns

    return columns(p["outcome"], id_column or "", p["time"], p["first_treated"],
                   p["treatment"], covariates=p.get("covariates") or (),
                   weights=p.get("weights"), offset=p.get("offset"),
                   family=p.get("family") or "gaussian", panel=p.get("panel") is not False,
                   cluster=p.get("cluster"))


DID = TemplateSpec(
    name="did",
    units_are_places=True,
    design="Staggered adoption of a policy, difference-in-differences",
    description="Effect of a policy adopted by different units (states) in different years.",
    params=(
        Param("outcome", "column", "outcome column", True),
        Param("outcome_label", "str", "the outcome in words", True),
        Param("units", "str", "units of the outcome", default=""),
        Param("time", "column", "period column (whole numbers, e.g. years)", True),
        Param("first_treated", "column", "first period with the policy for each unit (empty "
              "for units that never adopt)", True),
        Param("treatment", "column", "0/1 column: 1 in periods with the policy", True),
        Param("never_treated", "number", "value of first_treated for units that never adopt, "
              "besides an empty cell (empty: only empty cells mean never adopted)",
              default=0, nullable=True),
        Param("policy_label", "str", "the policy in words", True),
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
        Param("seed", "int", "seed of the placebo draws when too few units adopt and the "
              "design switches to synthetic difference-in-differences", default=1),
        Param("weights", "column", "sampling or population weights (R did's weightsname), "
              "or empty for none", nullable=True),
        Param("family", "choice", "gaussian, or poisson for a count outcome (adds the Poisson "
              "two-way fixed-effects rate ratio)", default="gaussian",
              choices=("gaussian", "poisson")),
        Param("offset", "column", "log population (exposure) of a count outcome, or empty",
              nullable=True),
        Param("panel", "bool", "false for repeated cross-sections (different people surveyed "
              "each year; id_column then identifies respondents and cluster their "
              "jurisdiction)", default=True),
        Param("cluster", "column", "the jurisdiction column to cluster standard errors by "
              "(R did's clustervars); required with panel: false", nullable=True),
        Param("alpha", "alpha", "1 − confidence level of every interval", default=0.05),
    ),
    columns=_did_columns,
)

def _its_columns(p: Mapping[str, Any], id_column: str | None) -> list[Column]:
    from evalkit.methods.policy.its_columns import its_columns

    return its_columns(p["outcome"], p["time"], population=p.get("population"),
                       family=p.get("family") or "quasipoisson")


ITS = TemplateSpec(
    name="its",
    design="One jurisdiction's series before and after a change (interrupted time series)",
    description="Change in one county's or state's monthly or weekly series when a policy or "
                "protocol started, beyond its earlier trend.",
    params=(
        Param("outcome", "column", "outcome column: a count per period (count families) or a "
              "rate or mean (gaussian)", True),
        Param("outcome_label", "str", "the outcome in words", True),
        Param("units", "str", "units of the outcome (e.g. 'per month')", default=""),
        Param("time", "column", "period column: dates (YYYY-MM for months, or the day each "
              "week starts) or whole numbers, one row per period", True),
        Param("intervention", "str", "the first period with the intervention, quoted as the "
              "time column writes it, e.g. \"2022-01\"", True),
        Param("intervention_label", "str", "the intervention in words (e.g. 'the screening "
              "protocol')", True),
        Param("unit_label", "str", "what the jurisdiction is", default="county"),
        Param("population", "column", "population (or exposure) column; its log is the offset "
              "of a count model (rates per person); empty for none", nullable=True),
        Param("family", "choice", "model: quasipoisson or poisson for counts, gaussian for "
              "rates or means", default="quasipoisson",
              choices=("quasipoisson", "poisson", "gaussian")),
        Param("harmonics", "int", "pairs of seasonal sine/cosine terms (0 for none)",
              default=1),
        Param("period", "number", "periods in one seasonal cycle (12 for months, 52 for "
              "weeks)", default=12),
        Param("slope_change", "bool", "whether to estimate a change in trend as well as in "
              "level", default=True),
        Param("hac_lags", "int", "Newey–West lags for the standard errors (gaussian only); "
              "empty for ordinary standard errors", nullable=True),
        Param("placebo", "str", "placebo period before the intervention, as the time column "
              "writes it; empty for the middle of the pre-period", nullable=True),
        Param("lower_is_better", "bool", "whether a lower outcome is better", default=False),
        Param("alpha", "alpha", "1 − confidence level of every interval", default=0.05),
    ),
    columns=_its_columns,
)

TEMPLATES: dict[str, TemplateSpec] = {PREPOST.name: PREPOST, SURVIVAL.name: SURVIVAL,
                                      DID.name: DID, ITS.name: ITS}


def get_template(name: str) -> TemplateSpec:
    """The spec of template ``name`` (``KeyError`` naming the known ones otherwise)."""
    try:
        return TEMPLATES[name]
    except KeyError:
        raise KeyError(
            f"unknown template {name!r}; known templates: {', '.join(sorted(TEMPLATES))}"
        ) from None


#: The notebooks inside the installed package (a wheel carries templates/ here).
PACKAGE_TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
#: The notebooks of a source checkout (an editable install reads them in place).
PROJECT_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def templates_dir(near: Path | None = None) -> Path:
    """Where the template notebooks live.

    Parameters
    ----------
    near
        A config file's folder: a ``templates/`` folder beside it (in the project that holds
        ``evaluations/``) overrides the installed notebooks.

    Returns
    -------
    pathlib.Path
        The first of ``$EVALKIT_TEMPLATES``, ``templates/`` beside ``near``, the installed
        package's ``evalkit/templates/`` and the source checkout's ``templates/`` that holds
        the notebooks.

    Raises
    ------
    FileNotFoundError
        Naming every folder looked in.
    """
    candidates = []
    if os.environ.get("EVALKIT_TEMPLATES"):
        candidates.append(Path(os.environ["EVALKIT_TEMPLATES"]))
    if near is not None:
        candidates.append(Path(near).resolve().parent / "templates")
    candidates += [PACKAGE_TEMPLATES, PROJECT_TEMPLATES]
    for c in candidates:
        if (c / PREPOST.notebook).is_file():
            return c
    raise FileNotFoundError(
        "cannot find the templates folder; looked in " + ", ".join(str(c) for c in candidates)
        + " (set EVALKIT_TEMPLATES to its path)"
    )


def columns(template: str, parameters: Mapping[str, Any],
            id_column: str | None) -> list[Column]:
    """The columns template ``template`` reads, as :func:`evalkit.data.load` checks them.

    The runner validates a config's data with this list before the notebook runs, and the
    notebooks load their data with it, so the two checks cannot differ.

    Parameters
    ----------
    template
        The template's name (``"prepost"``, ``"survival"`` or ``"did"``).
    parameters
        The template's parameters (a config's ``parameters``, or the notebook's variables); the
        ones that name columns are read.
    id_column
        The column of case identifiers (the panel unit for ``did``), or ``None``.

    Returns
    -------
    list of evalkit.data.Column
    """
    return get_template(template).columns(parameters, id_column)


def notebook_parameters(template: str, near: Path | None = None) -> dict[str, Any]:
    """The parameters a template's notebook declares, in order, with its sample values.

    Reads the assignments of the notebook's ``parameters`` cell (the cell papermill replaces),
    as :func:`ast.literal_eval` reads their values.

    Parameters
    ----------
    template
        The template's name.
    near
        A config file's folder, as for :func:`templates_dir`.

    Returns
    -------
    dict
        Parameter name to the value the notebook runs with as-is.

    Raises
    ------
    FileNotFoundError
        When the notebook cannot be found.
    ValueError
        When the notebook has no ``parameters`` cell, or a value there is not a literal.
    """
    path = templates_dir(near) / get_template(template).notebook
    nb = json.loads(path.read_text(encoding="utf-8"))
    cell = next((c for c in nb.get("cells", []) if c.get("cell_type") == "code"
                 and "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if cell is None:
        raise ValueError(f"{path}: no cell is tagged 'parameters'")
    source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
    declared: dict[str, Any] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name):
            try:
                declared[target.id] = ast.literal_eval(value)
            except ValueError:
                raise ValueError(f"{path}: parameter {target.id!r} is not a literal value "
                                 f"(line {node.lineno} of the parameters cell)") from None
    return declared

"""Evaluation configs: ``evaluations/<slug>.yaml``, checked against a schema before anything runs.

A config names the program, the template, the data file and the method's parameters::

    title: Survivor mentoring — Site A
    program: Survivor Mentoring Program
    description: >
      Trained adult mentors, themselves survivors, meet weekly with youth ...
    question: Do trauma symptoms fall between intake and six months?
    template: prepost
    data: ../data/sample/mentoring_site_a.csv   # relative to this file
    id_column: case_id
    privacy_threshold: 11
    parameters:
      pre: ts_intake
      post: ts_6mo
      ...

Every problem (unknown key, missing key, wrong type, bad value, missing data file) is reported
at once in a :class:`~evalkit.exceptions.ConfigError` that names the file and the key.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

import yaml

from evalkit import privacy
from evalkit.exceptions import ConfigError
from evalkit.run.templates import (
    TEMPLATES,
    Param,
    TemplateSpec,
    get_template,
    templates_dir,
)
from evalkit.sql import QuerySource

__all__ = ["EvaluationConfig", "load_config", "find_configs", "TOP_LEVEL_KEYS", "SLUG_PATTERN"]

SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")

#: Values of ``design``, and the templates each fits.
DESIGNS = ("randomized", "comparison group", "one group", "policy adoption")
DESIGN_TEMPLATES = {"prepost": ("randomized", "comparison group", "one group"),
                    "survival": ("randomized", "comparison group"),
                    "did": ("policy adoption",), "its": ("policy adoption",)}
OUTCOME_SCALES = ("linear", "log")
DEFAULT_POPULATION = {"singular": "youth", "plural": "youth"}

#: Top-level keys: name → (required, kind, help).
TOP_LEVEL_KEYS: dict[str, tuple[bool, str, str]] = {
    "title": (True, "str", "report title shown to funders"),
    "program": (True, "str", "name of the program evaluated"),
    "description": (True, "str", "what the program does, in plain words for funders"),
    "question": (False, "str", "the evaluation question, in plain words"),
    "outcome_domain": (False, "str", "outcome domain for the portfolio (programs sharing a "
                       "domain are compared and pooled); default: the outcome's label"),
    "template": (True, "str", "which template runs it: " + ", ".join(sorted(TEMPLATES))),
    "data": (True, "data", "data file (CSV, TSV, Parquet or Excel) relative to this config, "
             "or a database query {url_env, query or query_file, params, timeout}"),
    "data_sheet": (False, "str", "Excel sheet to read (default: the first)"),
    "id_column": (False, "str", "column of case identifiers (checked, never shown); empty: "
                  "the row number is the id and every text column is checked instead "
                  "(required by the did template: the panel unit)"),
    "privacy_threshold": (False, "int", f"smallest count shown (default "
                          f"{privacy.DEFAULT_THRESHOLD}, at least {privacy.MIN_THRESHOLD})"),
    "timeout": (False, "int", "seconds any one notebook cell may run (default 600)"),
    "design": (False, "choice", "how the groups were formed: " + ", ".join(DESIGNS)
               + " (default: one group or comparison group for prepost, comparison group for "
               "survival, policy adoption for did)"),
    "population_label": (False, "population", "who the people are, as {singular: man, plural: "
                         "men} (or one word used for both); default youth"),
    "labels": (False, "labels", "display names of columns (covariates, groups), as {prio: "
               "prior convictions}; default the column names"),
    "outcome_scale": (False, "choice", "scale of the outcome: linear or log (a log outcome is "
                      "also reported as a percentage change); default linear"),
    "parameters": (True, "mapping", "the template's parameters"),
}


DEFAULT_TIMEOUT = 600
#: File types the data readers understand (kept in step with evalkit.data.SUPPORTED_SUFFIXES
#: by a test; not imported from there so that reading configs does not load pandas).
_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq", ".xlsx", ".xlsm", ".xls")


class _StrictLoader(yaml.SafeLoader):
    """A YAML loader that refuses a key given twice and aliases (``*name``).

    PyYAML silently keeps the last of a key given twice. A config needs no aliases, and nested
    aliases expand to billions of values (a "billion laughs" file exhausts memory).
    """

    def compose_node(self, parent, index):  # noqa: D102 - PyYAML's hook
        if self.check_event(yaml.events.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in an evaluation config: write "
                "the value out", event.start_mark)
        return super().compose_node(parent, index)


def _mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key '{key}' is given twice (lines {seen[key]} and "
                f"{key_node.start_mark.line + 1})", key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


@dataclass(frozen=True)
class EvaluationConfig:
    """A checked evaluation config.

    Attributes
    ----------
    path
        The config file.
    slug
        The evaluation's name: the file name without ``.yaml``.
    template
        The template spec it runs.
    data_path
        Absolute path of the data file; for a database query, of the query file (or of this
        config, when the query is written in it).
    data_query
        The database query the data come from (``None``: a data file).
    parameters
        The template parameters with defaults filled in.
    """

    path: Path
    slug: str
    title: str
    program: str
    description: str
    question: str
    outcome_domain: str
    template: TemplateSpec
    data_path: Path
    data_sheet: str | None
    id_column: str | None
    privacy_threshold: int
    timeout: int
    parameters: dict[str, Any] = field(default_factory=dict)
    design: str | None = None
    population_label: dict[str, str] = field(
        default_factory=lambda: dict(DEFAULT_POPULATION))
    labels: dict[str, str] = field(default_factory=dict)
    outcome_scale: str = "linear"
    data_query: QuerySource | None = None

    @property
    def data_label(self) -> str:
        """The data as messages and reports name them: the file, or the query."""
        return self.data_query.name if self.data_query is not None else str(self.data_path)

    @property
    def notebook(self) -> Path:
        """The template notebook this evaluation runs."""
        return templates_dir(self.path.parent) / self.template.notebook

    def notebook_parameters(self, results_path: str | None) -> dict[str, Any]:
        """Everything injected into the template's parameters cell."""
        return {
            "title": self.title,
            "program": self.program,
            "description": self.description,
            "question": self.question,
            "data_path": (self.data_query.label if self.data_query is not None
                          else str(self.data_path)),
            "id_column": self.id_column,
            "privacy_threshold": self.privacy_threshold,
            "results_path": results_path,
            "design": self.design,
            "population_label": dict(self.population_label),
            "labels": dict(self.labels),
            "outcome_scale": self.outcome_scale,
            **self.parameters,
        }

    def load_data(self):
        """Read and validate the data as the template will (raises ``EvalDataError``)."""
        from evalkit.data import load

        cols = self.template.columns(self.parameters, self.id_column)
        if self.data_query is None:
            return load(self.data_path, cols, sheet=self.data_sheet)
        from evalkit.data import validate

        df, snapshot = self.query_rows()
        df = validate(df, cols)
        df.attrs["evalkit_snapshot"] = snapshot
        return df

    def query_rows(self):
        """Run the data query: its rows, ids as text, and its snapshot (not yet validated).

        Raises ``EvalDataError`` (and ``ValueError`` without a query).
        """
        from evalkit.sql import read_query

        if self.data_query is None:
            raise ValueError(f"{self.path}: the data come from a file, not a query")
        cols = self.template.columns(self.parameters, self.id_column)
        text = tuple(c.name for c in cols if c.kind == "id" or c.text)
        return read_query(self.data_query, text_columns=text)

    def with_parameters(self, **changes: Any) -> EvaluationConfig:
        """A copy with some parameters replaced (defaults resolved from the data)."""
        import dataclasses

        return dataclasses.replace(self, parameters={**self.parameters, **changes})


#: The largest whole number a config may hold (thresholds, timeouts): beyond it a value is a
#: typo, and Python's unbounded integers would fail later (a 5,000-digit number, 10^400).
MAX_INT = 10**9
#: The largest magnitude a number may have (score bounds, times).
MAX_NUMBER = 1e12


def _short(value: Any) -> str:
    """A value for a message: its repr, cut short when very long."""
    try:
        text = repr(value)
    except ValueError:  # an integer too long to print
        return "a number too long to print"
    return text if len(text) <= 40 else text[:37] + "..."


def _finite(value: Any) -> bool:
    """A number that converts to a finite float of sensible size.

    A 5,000-digit integer does not convert at all.
    """
    try:
        v = float(value)
    except (OverflowError, ValueError):
        return False
    return math.isfinite(v) and abs(v) <= MAX_NUMBER


def _kind_ok(value: Any, kind: str) -> TypeGuard[Any]:
    """Whether ``value`` has the kind a parameter declares (a value that passes is used as such)."""
    if kind == "str":
        return isinstance(value, str)
    if kind in ("column", "choice"):
        return isinstance(value, str) and value.strip() != ""
    if kind == "numbers":
        return isinstance(value, list) and len(value) > 0 and all(
            _kind_ok(v, "number") for v in value)
    if kind == "columns":
        return isinstance(value, list) and all(_kind_ok(v, "column") for v in value)
    if kind == "binary_outcomes":
        return isinstance(value, list) and all(
            isinstance(v, dict) and set(v) == {"pre", "post", "label"}
            and all(_kind_ok(v[k], "column") for k in v) for v in value)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_INT
    if kind in ("number", "alpha", "unit"):
        return (isinstance(value, (int, float)) and not isinstance(value, bool)
                and _finite(value))
    if kind in ("mapping", "adjust", "episodes"):
        return isinstance(value, dict)
    if kind == "data":
        return (isinstance(value, str) and value.strip() != "") or isinstance(value, dict)
    if kind == "population":
        return (isinstance(value, str) and value.strip() != "") or (
            isinstance(value, dict) and set(value) == {"singular", "plural"}
            and all(isinstance(v, str) and v.strip() for v in value.values()))
    if kind == "labels":
        return isinstance(value, dict) and all(
            isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in value.items())
    raise ValueError(kind)


_KIND_WORDS = {
    "str": "non-empty text", "column": "a column name", "bool": "true or false",
    "int": "a whole number (at most 10^9)", "number": "a number (at most 10^12 in size)", "alpha": "a number between 0 and 1",
    "unit": "a number between 0 and 1", "choice": "one of the listed values",
    "columns": "a list of column names", "numbers": "a non-empty list of numbers",
    "binary_outcomes": "a list of {pre: column, post: column, label: text} mappings",
    "mapping": "a mapping of keys to values",
    "adjust": "a mapping {covariates: [columns], method: ..., estimand: ..., missing: ...}",
    "episodes": "a mapping {entry: column, exit: column, day: column, ...}",
    "population": "{singular: word, plural: word} or one word",
    "labels": "a mapping of column names to display names",
    "data": "a data file's path, or a mapping {url_env, query or query_file, params}",
}


def _check_param(p: Param, value: Any, problems: list[str]) -> None:
    where = f"parameters.{p.name}"
    if value is None:
        if not p.nullable:
            problems.append(f"{where}: must be {_KIND_WORDS[p.kind]}, not empty ({p.help})")
        return
    if not _kind_ok(value, p.kind):
        problems.append(f"{where}: must be {_KIND_WORDS[p.kind]}, not {_short(value)} "
                        f"({p.help})")
    elif p.kind in ("alpha", "unit") and not 0 < value < 1:
        problems.append(f"{where}: must lie strictly between 0 and 1, not {value!r}")
    elif p.kind == "str" and p.required and not value.strip():
        problems.append(f"{where}: must not be empty ({p.help})")
    elif p.kind == "choice" and value not in p.choices:
        problems.append(f"{where}: must be one of {', '.join(p.choices)}, not {value!r}")


def load_config(path: str | Path) -> EvaluationConfig:
    """Read and check one config.

    Raises
    ------
    ConfigError
        Naming the file and every key at fault.
    """
    p = Path(path)
    where = str(p)
    if not p.is_file():
        raise ConfigError(where, ["config file not found"])
    try:
        raw = yaml.load(p.read_text(encoding="utf-8"), Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(where, [f"not valid YAML{at}: {problem}"]) from None
    except UnicodeDecodeError:
        raise ConfigError(where, ["not a UTF-8 text file"]) from None
    except ValueError as exc:  # e.g. a whole number of thousands of digits
        what = ("a number has more digits than any setting can mean (over 4,300)"
                if "digits" in str(exc) else f"a value cannot be read ({exc})")
        raise ConfigError(where, [what]) from None
    if not isinstance(raw, dict):
        raise ConfigError(where, ["must be a YAML mapping of keys to values"])

    problems: list[str] = []
    slug = p.stem
    if not SLUG_PATTERN.match(slug):
        problems.append(
            f"file name '{p.name}': the slug '{slug}' must be lower-case letters, digits and "
            "hyphens (it names the report folder)"
        )
    for key in raw:
        if key not in TOP_LEVEL_KEYS:
            problems.append(f"unknown key '{key}'" + _suggest(str(key), TOP_LEVEL_KEYS))
    for key, (required, kind, help_) in TOP_LEVEL_KEYS.items():
        if key not in raw or raw[key] is None:
            if required:
                problems.append(f"missing required key '{key}' ({help_})")
            continue
        if not _kind_ok(raw[key], kind) or (required and kind == "str" and not raw[key].strip()):
            problems.append(f"'{key}' must be {_KIND_WORDS[kind]}, not {_short(raw[key])} "
                            f"({help_})")

    design = raw.get("design")
    if _kind_ok(design, "choice") and design not in DESIGNS:
        problems.append(f"'design' must be one of {', '.join(DESIGNS)}, not {design!r}")
    scale = raw.get("outcome_scale")
    if _kind_ok(scale, "choice") and scale not in OUTCOME_SCALES:
        problems.append(f"'outcome_scale' must be one of {', '.join(OUTCOME_SCALES)}, not "
                        f"{scale!r}")
    population = raw.get("population_label")
    if _kind_ok(population, "population"):
        population = ({"singular": population.strip(), "plural": population.strip()}
                      if isinstance(population, str) else
                      {k: v.strip() for k, v in population.items()})
    else:
        population = dict(DEFAULT_POPULATION)
    labels: dict[Any, Any] = lab if _kind_ok(lab := raw.get("labels"), "labels") else {}

    threshold = raw.get("privacy_threshold", privacy.DEFAULT_THRESHOLD)
    if _kind_ok(threshold, "int"):
        try:
            privacy.check_threshold(threshold)
        except ValueError as exc:
            problems.append(f"'privacy_threshold': {exc}")
    timeout = raw.get("timeout", DEFAULT_TIMEOUT)
    if _kind_ok(timeout, "int") and timeout <= 0:
        problems.append(f"'timeout' must be a positive number of seconds, not {timeout}")

    spec: TemplateSpec | None = None
    if _kind_ok(raw.get("template"), "str"):
        try:
            spec = get_template(raw["template"])
        except KeyError as exc:
            problems.append(f"'template': {exc.args[0]}")

    data_path: Path | None = None
    data_query: QuerySource | None = None
    if isinstance(raw.get("data"), dict):
        data_query = _query_source(p, raw["data"], problems)
        if data_query is not None:
            data_path = data_query.query_file or p.resolve()
        if raw.get("data_sheet") is not None:
            problems.append("'data_sheet' is for Excel files; the data come from a query")
    elif _kind_ok(raw.get("data"), "str"):
        data_path = (p.parent / raw["data"]).resolve()
        if not data_path.is_file():
            problems.append(f"'data': file not found: {raw['data']} (resolved to {data_path})")
        elif data_path.suffix.lower() not in _SUFFIXES:
            problems.append(
                f"'data': unsupported file type '{data_path.suffix}'; use one of "
                + ", ".join(sorted(_SUFFIXES))
            )

    params: dict[str, Any] = {}
    given = raw.get("parameters")
    if spec is not None and isinstance(given, dict):
        for key in given:
            if spec.param(str(key)) is None:
                problems.append(
                    f"unknown key 'parameters.{key}' for template '{spec.name}'"
                    + _suggest(str(key), {q.name: None for q in spec.params})
                )
        for prm in spec.params:
            if prm.name in given:
                _check_param(prm, given[prm.name], problems)
                params[prm.name] = given[prm.name]
            elif prm.required:
                problems.append(f"missing required key 'parameters.{prm.name}' ({prm.help})")
            else:
                params[prm.name] = copy.deepcopy(prm.default)
            other = prm.required_unless
            if other and params.get(prm.name) is None and given.get(other) is None:
                problems.append(f"missing required key 'parameters.{prm.name}' ({prm.help}), "
                                f"needed unless 'parameters.{other}' is given")
        if (spec.name == "prepost" and not params.get("group")
                and (params.get("covariates") or params.get("cluster"))):
            problems.append("'parameters.covariates' and 'parameters.cluster' need "
                            "'parameters.group' (they belong to a comparison-group design)")
        _check_template_rules(spec, raw, params, problems)
        _check_design(spec, raw, params, problems)
        lo, hi = params.get("score_min"), params.get("score_max")
        if _kind_ok(lo, "number") and _kind_ok(hi, "number") and lo >= hi:
            problems.append(f"'parameters.score_min' ({lo}) must be below score_max ({hi})")

    if problems:
        raise ConfigError(where, problems)
    assert spec is not None and data_path is not None
    return EvaluationConfig(
        path=p.resolve(),
        slug=slug,
        title=raw["title"].strip(),
        program=raw["program"].strip(),
        description=raw["description"].strip(),
        question=(raw.get("question") or "").strip(),
        outcome_domain=(raw.get("outcome_domain") or "").strip(),
        template=spec,
        data_path=data_path,
        data_sheet=raw.get("data_sheet"),
        id_column=(raw.get("id_column") or "").strip() or None,
        privacy_threshold=int(threshold),
        timeout=int(timeout),
        parameters=params,
        design=raw.get("design"),
        population_label=population,
        labels={str(k): v.strip() for k, v in labels.items()},
        outcome_scale=raw.get("outcome_scale") or "linear",
        data_query=data_query,
    )


#: Keys of a ``data:`` mapping (a database query): name -> help.
QUERY_KEYS = {
    "url_env": "the environment variable that holds the database's SQLAlchemy URL",
    "query": "the SQL SELECT, values as bind parameters (:name)",
    "query_file": "a .sql file holding the query, relative to this config (instead of query)",
    "params": "the bind parameters' values {name: value}",
    "timeout": "seconds to connect and to run the query (default 60)",
}


def _query_source(p: Path, spec: dict, problems: list[str]) -> QuerySource | None:
    """The ``data:`` mapping as a :class:`~evalkit.sql.QuerySource`; problems listed."""
    from evalkit.sql import DEFAULT_TIMEOUT, check_env_name

    before = len(problems)
    for key in spec:
        if key not in QUERY_KEYS:
            problems.append(f"unknown key 'data.{key}'" + _suggest(str(key), QUERY_KEYS))
    env = spec.get("url_env")
    if not isinstance(env, str) or not check_env_name(env.strip()):
        problems.append(f"'data.url_env' must name an environment variable (letters, digits "
                        f"and _), not {_short(env)} ({QUERY_KEYS['url_env']}); the URL itself "
                        f"never goes in a config")
    query, query_file = spec.get("query"), spec.get("query_file")
    text = None
    qpath = None
    if (query is None) == (query_file is None):
        problems.append("'data' needs exactly one of 'query' (the SQL) and 'query_file' (a "
                        ".sql file)")
    elif query is not None:
        if not isinstance(query, str) or not query.strip():
            problems.append(f"'data.query' must be the SQL text, not {_short(query)}")
        else:
            text = query
    elif not isinstance(query_file, str) or not query_file.strip():
        problems.append(f"'data.query_file' must be a file name, not {_short(query_file)}")
    else:
        qpath = (p.parent / query_file).resolve()
        if not qpath.is_file():
            problems.append(f"'data.query_file': file not found: {query_file} (resolved to "
                            f"{qpath})")
        else:
            try:
                text = qpath.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(f"'data.query_file': {qpath} cannot be read ({exc})")
            else:
                if not text.strip():
                    problems.append(f"'data.query_file': {qpath} is empty")
                    text = None
    params = spec.get("params") or {}
    if not isinstance(params, dict) or not all(
            isinstance(k, str) and (v is None or isinstance(v, (str, int, float, bool)))
            for k, v in params.items()):
        problems.append(f"'data.params' must map names to single values (text, numbers, "
                        f"true/false), not {_short(params)}")
        params = {}
    timeout = spec.get("timeout", DEFAULT_TIMEOUT)
    if not _kind_ok(timeout, "int") or timeout <= 0:
        problems.append(f"'data.timeout' must be a positive whole number of seconds, not "
                        f"{_short(timeout)}")
    if text is not None:
        try:
            from evalkit.sql import bind_names

            used = bind_names(text)
        except ImportError:
            problems.append("'data' is a database query, which needs SQLAlchemy: pip install "
                            "'evalkit-programs[sql]'")
        else:
            for name in sorted(used - set(params)):
                problems.append(f"the query uses :{name} but 'data.params' gives no {name} "
                                f"(values are bound, never written into the SQL)")
            for name in sorted(set(params) - used):
                problems.append(f"'data.params.{name}' is not used by the query (it has no "
                                f":{name})")
    if len(problems) > before or text is None or not isinstance(env, str):
        return None
    return QuerySource(url_env=env.strip(), query=text, params=dict(params),
                       query_file=qpath, config=p.resolve(), timeout=int(timeout))


def _check_design(spec: TemplateSpec, raw: dict, params: dict[str, Any],
                  problems: list[str]) -> None:
    """``design`` must fit the template (and, for prepost, whether there is a group)."""
    design = raw.get("design")
    if not (isinstance(design, str) and design in DESIGNS):
        return
    fits = DESIGN_TEMPLATES.get(spec.name, DESIGNS)
    if design not in fits:
        problems.append(f"'design': {design!r} does not fit the {spec.name} template (use "
                        f"{' or '.join(fits)})")
    elif spec.name == "prepost":
        if design == "one group" and params.get("group"):
            problems.append("'design': 'one group' but 'parameters.group' names a comparison "
                            "group (use 'comparison group' or 'randomized')")
        elif design != "one group" and not params.get("group"):
            problems.append(f"'design': {design!r} needs 'parameters.group' (the column "
                            "marking the program group)")


def _check_template_rules(spec: TemplateSpec, raw: dict, params: dict[str, Any],
                          problems: list[str]) -> None:
    """Rules that tie parameters together, checked before any data is read."""
    if spec.name == "did" and not (isinstance(raw.get("id_column"), str)
                                   and raw["id_column"].strip()):
        problems.append("missing key 'id_column': the did template needs the column naming "
                        "each panel unit (e.g. state)")
    window = params.get("event_window")
    if spec.name == "did" and _kind_ok(window, "numbers"):
        if len(window) != 2 or not all(float(w).is_integer() for w in window):
            problems.append(f"'parameters.event_window' must be two whole numbers [first, last] "
                            f"of periods since adoption, not {window!r}")
        elif window[0] > window[1]:
            problems.append(f"'parameters.event_window': the first period ({window[0]}) must "
                            f"not come after the last ({window[1]})")
        elif window[1] < 0:
            problems.append(f"'parameters.event_window' {window!r} ends before adoption: the "
                            "last period must be 0 (the adoption period) or later")
    if spec.name == "its":
        _check_its(params, problems)
    if spec.name == "did" and params.get("panel") is False:
        if not params.get("cluster"):
            problems.append("'parameters.panel': false (repeated cross-sections) needs "
                            "'parameters.cluster', the jurisdiction each respondent lives in: "
                            "the policy varies by jurisdiction, and the standard errors and "
                            "the count of adopting units rest on it")
        if params.get("family") == "poisson":
            problems.append("'parameters.family': poisson needs a panel of units (the same "
                            "units every period), not 'panel: false'")
    if spec.name == "did" and params.get("offset") and params.get("family") != "poisson":
        problems.append("'parameters.offset' is used only with 'family: poisson' (the log "
                        "population of a count outcome)")
    if spec.name in ("prepost", "survival"):
        _check_adjust(params, problems)
    if spec.name == "survival":
        _check_episodes(params, problems)
        times = params.get("times")
        if _kind_ok(times, "numbers") and any(t <= 0 for t in times):
            problems.append(f"'parameters.times' must be positive times, not {times!r}")
        tau = params.get("tau")
        if _kind_ok(tau, "number") and tau <= 0:
            problems.append(f"'parameters.tau' must be a positive time, not {tau!r}")


def _check_episodes(params: dict[str, Any], problems: list[str]) -> None:
    """The survival template's ``episodes`` block, or ``duration`` and ``event`` without it.

    Defaults are filled in for the keys left out (``days``: the ``times`` parameter, ``label``
    "episodes", ``change_label`` "the change").
    """
    from evalkit.methods.options import EPISODE_KEYS

    eps = params.get("episodes")
    if eps is None:
        return  # duration and event are then required (Param.required_unless)
    if not _kind_ok(eps, "episodes"):
        return  # _check_param named it
    where = "parameters.episodes"
    for key in eps:
        if key not in EPISODE_KEYS:
            problems.append(f"unknown key '{where}.{key}'" + _suggest(str(key), EPISODE_KEYS))
    for key in ("entry", "exit", "day"):
        if key not in eps:
            problems.append(f"missing required key '{where}.{key}' ({EPISODE_KEYS[key]})")
        elif not _kind_ok(eps[key], "column"):
            problems.append(f"'{where}.{key}' must be a column name, not {_short(eps[key])}")
    if eps.get("change") is not None and not _kind_ok(eps["change"], "column"):
        problems.append(f"'{where}.change' must be a column name, not {_short(eps['change'])}")
    for key in ("label", "change_label"):
        if eps.get(key) is not None and not (_kind_ok(eps[key], "str") and eps[key].strip()):
            problems.append(f"'{where}.{key}' must be non-empty text, not {_short(eps[key])}")
    days = eps.get("days")
    if days is not None and not (_kind_ok(days, "numbers") and all(d > 0 for d in days)):
        problems.append(f"'{where}.days' must be a list of positive times since entry, not "
                        f"{_short(days)}")
    for key, why in (("duration", "the time to the first episode is worked out from the "
                                  "episodes"),
                     ("event", "whether a first episode happened is worked out from the "
                               "episodes"),
                     ("event_type", "competing exits are not analysed with repeated episodes"),
                     ("adjust", "the adjustment by weighting or matching is for one row per "
                                "youth; the rate model adjusts for 'parameters.covariates'")):
        if params.get(key):
            problems.append(f"'parameters.{key}' cannot be used with '{where}': {why}; remove "
                            "it")
    if not problems:
        params["episodes"] = {
            "entry": eps["entry"], "exit": eps["exit"], "day": eps["day"],
            "days": list(days if days is not None else params.get("times") or [30, 90, 180]),
            "label": (eps.get("label") or "episodes").strip(),
            "change": eps.get("change") or None,
            "change_label": (eps.get("change_label") or "the change").strip()}


def _check_its(params: dict[str, Any], problems: list[str]) -> None:
    """The its template's rules: a named intervention, options that fit the family."""
    if _kind_ok(params.get("intervention"), "str") and not params["intervention"].strip():
        problems.append("'parameters.intervention' is empty: give the first period with the "
                        "intervention, as the time column writes it (e.g. \"2022-01\")")
    family = params.get("family")
    if params.get("hac_lags") is not None and family != "gaussian":
        problems.append(f"'parameters.hac_lags' is for family gaussian (Newey–West standard "
                        f"errors), not {family!r}: remove it, or use family gaussian")
    if params.get("population") and family == "gaussian":
        problems.append("'parameters.population' is the offset of a count model (family "
                        "quasipoisson or poisson); for family gaussian give a rate as the "
                        "outcome and leave population empty")
    harmonics, period = params.get("harmonics"), params.get("period")
    if _kind_ok(harmonics, "int") and harmonics < 0:
        problems.append(f"'parameters.harmonics' must be 0 or more, not {harmonics}")
    if _kind_ok(period, "number") and period <= 0:
        problems.append(f"'parameters.period' must be a positive number, not {period}")
    elif (_kind_ok(harmonics, "int") and _kind_ok(period, "number") and harmonics > 0
          and not harmonics < period / 2):
        problems.append(f"'parameters.harmonics' ({harmonics}) must be below period / 2 "
                        f"({period / 2:g}): more pairs repeat or vanish")
    lags = params.get("hac_lags")
    if _kind_ok(lags, "int") and lags < 0:
        problems.append(f"'parameters.hac_lags' must be 0 or more, not {lags}")


def _check_adjust(params: dict[str, Any], problems: list[str]) -> None:
    """The prepost and survival ``adjust`` block: known keys, covariates, and allowed values.

    Defaults are filled in for the keys left out (method ``weighting``, estimand ``ATT``,
    missing ``complete-case``); whether the covariates exist is checked with the data.
    """
    adjust = params.get("adjust")
    if not _kind_ok(adjust, "adjust"):
        return
    from evalkit.methods.options import (
        ADJUST_CHOICES,
        ADJUST_IMPUTE_DEFAULTS,
        ADJUST_MISSING_PLANNED,
    )

    where = "parameters.adjust"
    before = len(problems)
    if not params.get("group"):
        problems.append(f"'{where}' needs 'parameters.group' (it adjusts a comparison-group "
                        "design)")
    known = ("covariates", "categorical", *ADJUST_CHOICES, *ADJUST_IMPUTE_DEFAULTS)
    for key in adjust:
        if key not in known:
            problems.append(f"unknown key '{where}.{key}' (known: {', '.join(known)})"
                            + _suggest(str(key), known))
    covs = adjust.get("covariates")
    if covs is None:
        problems.append(f"missing required key '{where}.covariates' (the baseline "
                        "characteristics to balance, a list of column names)")
    elif not _kind_ok(covs, "columns") or not covs:
        problems.append(f"'{where}.covariates' must be a non-empty list of column names, not "
                        f"{_short(covs)}")
    elif len(set(covs)) != len(covs):
        twice = sorted({c for c in covs if covs.count(c) > 1})
        problems.append(f"'{where}.covariates' names {', '.join(twice)} more than once")
    elif params.get("group") in covs:
        problems.append(f"'{where}.covariates' must not include the group column "
                        f"'{params['group']}'")
    for key, choices in ADJUST_CHOICES.items():
        value = adjust.get(key)
        if value is None or value in choices:
            continue
        if key == "missing" and value in ADJUST_MISSING_PLANNED:
            problems.append(f"'{where}.missing': {value!r} (multiple imputation) is not "
                            "available yet; use complete-case")
        else:
            problems.append(f"'{where}.{key}' must be one of {', '.join(choices)}, not "
                            f"{_short(value)}")
    cats = adjust.get("categorical")
    if cats is not None:
        if not _kind_ok(cats, "columns"):
            problems.append(f"'{where}.categorical' must be a list of column names, not "
                            f"{_short(cats)}")
        elif isinstance(covs, list):
            stray = [c for c in cats if c not in covs]
            if stray:
                problems.append(f"'{where}.categorical' names {', '.join(map(str, stray))}, "
                                f"not among '{where}.covariates'")
    imputing = adjust.get("missing") == "impute"
    for key in ADJUST_IMPUTE_DEFAULTS:
        value = adjust.get(key)
        if value is None:
            continue
        if not imputing:
            problems.append(f"'{where}.{key}' is used only with 'missing: impute'")
        elif isinstance(value, bool) or not isinstance(value, int) or value < (
                2 if key == "imputations" else 0):
            problems.append(f"'{where}.{key}' must be a whole number"
                            + (" of at least 2" if key == "imputations" else " (0 or more)")
                            + f", not {_short(value)}")
    if adjust.get("method") == "matching" and adjust.get("estimand") not in (None, "ATT"):
        problems.append(f"'{where}.estimand': matching estimates the effect on program youth "
                        f"(ATT), not {_short(adjust['estimand'])}; use weighting for "
                        f"{adjust['estimand']}")
    if len(problems) == before:
        params["adjust"] = {"covariates": list(covs or []),
                            **{k: adjust.get(k) or v[0] for k, v in ADJUST_CHOICES.items()}}
        if imputing:
            params["adjust"].update({k: v if adjust.get(k) is None else adjust[k]
                                     for k, v in ADJUST_IMPUTE_DEFAULTS.items()})
        if cats:
            params["adjust"]["categorical"] = list(cats)


def _suggest(key: str, known: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def find_configs(paths: Iterable[str | Path] = ()) -> list[Path]:
    """Config files named by ``paths`` (files or folders; default ``evaluations/``), sorted."""
    paths = list(paths) or [Path("evaluations")]
    found: list[Path] = []
    for item in paths:
        q = Path(item)
        if q.is_dir():
            found += sorted(x for x in q.iterdir() if x.suffix in (".yaml", ".yml")
                            and not x.name.startswith("."))
        else:
            found.append(q)
    seen: set[Path] = set()
    unique = []
    for f in found:
        try:
            key = f.resolve()
        except (RuntimeError, OSError):  # a symlink loop: listed, and refused when it runs
            key = f.absolute()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique

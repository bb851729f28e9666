"""The ``evalkit`` command: ``run``, ``list``, ``validate``, ``new`` and ``export``.

    evalkit run [PATH ...] [-j N] [--only SLUG] [--reports DIR] [--pdf] [--force]
                [--scheduler tcp://host:8786]
    evalkit list [PATH ...]
    evalkit validate [PATH ...]
    evalkit new SLUG --template prepost [--dir evaluations]
    evalkit export [--format csv|json] [--reports DIR] [-o FILE]

PATH is a config file or a folder of them (default: ``evaluations/``). Exit status is 0 when
everything succeeded (or was up to date), 1 when any evaluation or config failed, 2 for a
usage error, 3 when another run holds the reports folder, 4 when the Dask scheduler given does
not answer (then nothing ran).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _configs(paths: Sequence[str], only: Sequence[str] | None = None) -> list[Path]:
    from evalkit.run.config import find_configs

    found = find_configs(paths)  # keeps a symlink loop listed; its run then fails alone
    if only:
        wanted = set(only)
        unknown = wanted - {p.stem for p in found}
        if unknown:
            raise SystemExit(
                f"evalkit: no evaluation named {', '.join(sorted(unknown))} in "
                f"{', '.join(paths) or 'evaluations/'}"
            )
        found = [p for p in found if p.stem in wanted]
    return found


def _cmd_run(args: argparse.Namespace) -> int:
    import os
    import time

    from evalkit.run.batch import ReportsLocked, default_jobs, run_all
    from evalkit.run.distributed import SCHEDULER_ENV, SchedulerUnreachable

    configs = _configs(args.paths, args.only)
    if not configs:
        print("evalkit: no evaluation configs found", file=sys.stderr)
        return 1
    jobs = args.jobs or default_jobs()
    scheduler = args.scheduler or os.environ.get(SCHEDULER_ENV) or None
    where_run = (f"on the Dask cluster at {scheduler}" if scheduler else
                 f"with {min(jobs, len(configs))} worker(s)")
    print(f"Running {len(configs)} evaluation(s) {where_run}...", flush=True)
    t0 = time.perf_counter()
    try:
        with _live_progress(len(configs)) as (echo, progress):
            outcomes = run_all(configs, args.reports, jobs=jobs, echo=echo, pdf=args.pdf,
                               force=args.force, progress=progress, scheduler=scheduler)
    except ReportsLocked as exc:
        print(f"evalkit: {exc}", file=sys.stderr)
        return 3
    except SchedulerUnreachable as exc:
        print(f"evalkit: {exc}", file=sys.stderr)
        return 4
    failed = [o for o in outcomes if not o.ok]
    fresh = sum(1 for o in outcomes if o.skipped)
    index = Path(args.reports) / "index.html"
    index_error = getattr(outcomes, "index_error", None)
    where = ("Portfolio index not written (see above)" if index_error
             else f"Portfolio index: {index.resolve()}")
    print(
        f"\n{len(outcomes) - len(failed) - fresh} succeeded, "
        + (f"{fresh} up to date, " if fresh else "")
        + f"{len(failed)} failed in {time.perf_counter() - t0:.1f} s. {where}"
    )
    return 1 if failed or index_error else 0


@contextlib.contextmanager
def _live_progress(total: int):
    """``(echo, progress)`` for :func:`~evalkit.run.batch.run_all`.

    On a terminal a live line (done/total, failures, elapsed time and the time left, drawn by
    rich) stays under the finished evaluations' lines; otherwise plain lines, one per
    evaluation, as a log file wants them.
    """
    if not sys.stdout.isatty():
        yield (lambda line: print(line, flush=True)), None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(highlight=False)
    bar = Progress(TextColumn("evaluations"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[failed]} failed"), TimeElapsedColumn(),
                   TextColumn("left"), TimeRemainingColumn(), console=console, transient=True)
    task = bar.add_task("run", total=total, failed=0)
    failures = 0

    def progress(outcome: Any, done: int, _total: int) -> None:
        nonlocal failures
        failures += not outcome.ok
        bar.update(task, completed=done, failed=failures)

    with bar:
        yield (lambda line: console.print(line, markup=False, soft_wrap=True)), progress


def _cmd_export(args: argparse.Namespace) -> int:
    from evalkit.export import export_rows, write_export

    reports = Path(args.reports)
    if not reports.is_dir():
        print(f"evalkit: no reports folder {reports} (run `evalkit run` first)", file=sys.stderr)
        return 1
    result = export_rows(reports)
    try:
        text = write_export(result, args.format, args.output)
    except OSError as exc:
        print(f"evalkit: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    if args.output is None:
        sys.stdout.write(text)
    n_eval = len({r["slug"] for r in result.rows})
    print(f"Exported {len(result.rows)} row(s) from {n_eval} evaluation(s)"
          + (f" to {args.output}" if args.output else ""), file=sys.stderr)
    for slug, why in sorted(result.left_out.items()):
        print(f"left out {slug}: {why}", file=sys.stderr)
    return 1 if result.left_out else 0


def _cmd_list(args: argparse.Namespace) -> int:
    from evalkit.exceptions import ConfigError
    from evalkit.portfolio import RUNS_FILE
    from evalkit.run.config import load_config

    runs_path = Path(args.reports) / RUNS_FILE
    runs = json.loads(runs_path.read_text()) if runs_path.is_file() else {}
    configs = _configs(args.paths)
    if not configs:
        print("evalkit: no evaluation configs found", file=sys.stderr)
        return 1
    rows = []
    bad = 0
    for p in configs:
        try:
            cfg = load_config(p)
            rows.append((cfg.slug, cfg.template.name, cfg.title,
                         runs.get(cfg.slug, {}).get("status", "not run")))
        except ConfigError:
            bad += 1
            rows.append((p.stem, "?", "(invalid config: run `evalkit validate`)",
                         runs.get(p.stem, {}).get("status", "not run")))
    w = max(len(r[0]) for r in rows)
    print(f"{'slug':<{w}}  {'template':<9} {'last run':<8}  title")
    for slug, tpl, title, status in rows:
        print(f"{slug:<{w}}  {tpl:<9} {status:<8}  {title}")
    return 1 if bad else 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from evalkit.exceptions import ConfigError, EvalDataError
    from evalkit.run.checks import preflight, resolve_parameters
    from evalkit.run.config import load_config

    configs = _configs(args.paths)
    if not configs:
        print("evalkit: no evaluation configs found", file=sys.stderr)
        return 1
    failed = warned = 0
    for p in configs:
        try:
            cfg = load_config(p)
            data = cfg.load_data()
            cfg = resolve_parameters(cfg, data)
            findings = preflight(cfg, data)
        except (ConfigError, EvalDataError) as exc:
            failed += 1
            print(f"FAILED  {p}\n" + "\n".join("        " + line for line in str(exc).splitlines()))
            continue
        errors = [f for f in findings if f.level == "error"]
        warnings = [f for f in findings if f.level == "warning"]
        if errors:
            failed += 1
            print(f"FAILED  {p}: the data cannot support these parameters")
        else:
            warned += bool(warnings)
            print(f"ok      {p}  ({len(data):,} rows, template {cfg.template.name})")
        for f in findings:
            print(f"        {f.level}: {f}")
    print(f"\n{len(configs) - failed} valid, {failed} with problems"
          + (f" ({warned} valid with warnings)" if warned else ""))
    return 1 if failed else 0


def _yaml_value(v) -> str:
    import yaml

    return yaml.safe_dump(v, default_flow_style=True, allow_unicode=True).strip().removesuffix(
        "\n..."
    ).removesuffix(" ...")


def new_config_text(slug: str, template: str, near: Path | None = None) -> str:
    """A commented config for ``template`` to start a new evaluation from.

    Parameters
    ----------
    slug
        The evaluation's name.
    template
        The template's name.
    near
        The folder the config is written to: a ``templates/`` folder beside it is read first
        (see :func:`evalkit.run.templates.templates_dir`).

    Returns
    -------
    str
        The config: required keys hold the template notebook's own sample value marked
        ``CHANGE ME``; optional keys hold their defaults (never the sample's values, which
        would not fit other data).
    """
    from evalkit import privacy
    from evalkit.run.config import DESIGN_TEMPLATES
    from evalkit.run.templates import get_template, notebook_parameters

    spec = get_template(template)
    samples = notebook_parameters(spec.name, near)
    if spec.name == "did":
        id_lines = ["# Column naming each panel unit (e.g. state): required by this template",
                    "id_column: state  # CHANGE ME"]
    else:
        id_lines = ["# Column of case identifiers: checked for duplicates and never shown in a "
                    "report",
                    "# (optional: empty means the row number is the id, and every text column "
                    "is checked)",
                    "id_column: null"]
    lines = [
        f"# Evaluation config: {slug}",
        f"# Template '{spec.name}': {spec.description}",
        "# Check it with `evalkit validate`, run it with `evalkit run --only " + slug + "`.",
        "",
        "# Report title shown to funders",
        "title: CHANGE ME",
        "# Name of the program evaluated",
        "program: CHANGE ME",
        "# What the program does, in plain words for funders",
        "description: >",
        "  CHANGE ME",
        "# The evaluation question (optional; a default is worded from the parameters)",
        'question: ""',
        f"template: {spec.name}",
        "# Data file (CSV, TSV, Parquet or Excel), relative to this file; or a database query:",
        "#   data: {url_env: EVALKIT_CASES_DB, query: SELECT ... WHERE program = :program,",
        "#          params: {program: CHANGE ME}}   (the URL goes in that variable, never here)",
        "data: ../data/CHANGE_ME.csv",
        *id_lines,
        f"# Smallest count shown in the report (at least {privacy.MIN_THRESHOLD})",
        f"privacy_threshold: {privacy.DEFAULT_THRESHOLD}",
        "# How the groups were formed: " + ", ".join(DESIGN_TEMPLATES[spec.name])
        + " (optional; empty: the template's default)",
        "design: null",
        "# What the people are called, e.g. {singular: man, plural: men} (optional)",
        "population_label: {singular: youth, plural: youth}",
        "# Display names of columns, e.g. {prio: prior convictions} (optional)",
        "labels: {}",
        "# Scale of the outcome: linear, or log (effects also given as percentage changes)",
        "outcome_scale: linear",
        "parameters:",
    ]
    for p in spec.params:
        if p.required or p.required_unless:
            lines.append(f"  # {p.help} (required" + (f" unless {p.required_unless} is given)"
                                                     if p.required_unless else ")"))
            example = samples.get(p.name)
            example = "CHANGE_ME" if example is None else example
            lines.append(f"  {p.name}: {_yaml_value(example)}  # CHANGE ME")
        else:
            lines.append(f"  # {p.help} (optional)")
            lines.append(f"  {p.name}: {_yaml_value(p.default)}")
    return "\n".join(lines) + "\n"


def keys_text(template: str) -> str:
    """The keys of a config for ``template``, one line each with what it sets."""
    from evalkit.run.config import TOP_LEVEL_KEYS
    from evalkit.run.templates import get_template

    spec = get_template(template)
    rows = [(k, "required" if req else "optional", help_.split(";")[0])
            for k, (req, _, help_) in TOP_LEVEL_KEYS.items()]
    if spec.name == "did":
        rows = [(k, "required" if k == "id_column" else r, h) for k, r, h in rows]
    rows += [(f"parameters.{p.name}", "required" if p.required else "optional",
              p.help.split(";")[0] + (f" (required unless {p.required_unless} is given)"
                                      if p.required_unless else "")) for p in spec.params]
    w = max(len(r[0]) for r in rows)
    return "\n".join(f"  {k:<{w}}  {r:<8}  {h}" for k, r, h in rows)


def _cmd_new(args: argparse.Namespace) -> int:
    from evalkit.run.config import SLUG_PATTERN
    from evalkit.run.templates import TEMPLATES

    if not SLUG_PATTERN.match(args.slug):
        print(f"evalkit: slug '{args.slug}' must be lower-case letters, digits and hyphens",
              file=sys.stderr)
        return 2
    if args.template not in TEMPLATES:
        print(f"evalkit: unknown template '{args.template}'; known: "
              f"{', '.join(sorted(TEMPLATES))}", file=sys.stderr)
        return 2
    out = Path(args.dir) / f"{args.slug}.yaml"
    if out.exists() and not args.force:
        print(f"evalkit: {out} already exists (use --force to overwrite)", file=sys.stderr)
        return 1
    try:
        text = new_config_text(args.slug, args.template, near=out.parent)
    except (FileNotFoundError, ValueError) as exc:  # no notebooks installed, or a broken one
        print(f"evalkit: cannot read the '{args.template}' template: {exc}", file=sys.stderr)
        return 1
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"Wrote {out}: fill in the CHANGE ME values, then run `evalkit validate {out}`.")
    print(f"\nKeys of a '{args.template}' config:\n{keys_text(args.template)}")
    return 0


def _templates_epilog() -> str:
    from evalkit.run.templates import TEMPLATES

    w = max(len(n) for n in TEMPLATES)
    return "templates:\n" + "\n".join(
        f"  {n:<{w}}  {t.description}" for n, t in sorted(TEMPLATES.items()))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evalkit",
        description="Run standardized program evaluations and render their reports.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run evaluations and render their reports")
    run.add_argument("paths", nargs="*", help="config files or folders (default: evaluations/)")
    run.add_argument("-j", "--jobs", type=int, default=None,
                     help="evaluations run at once (default: number of cores)")
    run.add_argument("--only", action="append", metavar="SLUG",
                     help="run only this evaluation (repeatable)")
    run.add_argument("--reports", default="reports", help="output folder (default: reports/)")
    run.add_argument("--pdf", action="store_true",
                     help="also print report.pdf with headless Chromium")
    run.add_argument("--scheduler", default=None, metavar="ADDRESS",
                     help="run each evaluation as a task on the Dask cluster whose scheduler "
                          "is at ADDRESS (e.g. tcp://host:8786; default: $EVALKIT_SCHEDULER, "
                          "else run locally)")
    run.add_argument("--force", action="store_true",
                     help="run every evaluation, even one whose report is up to date (same "
                          "config, data, template and software as its last good report)")
    run.set_defaults(func=_cmd_run)

    lst = sub.add_parser("list", help="list configured evaluations and their last run")
    lst.add_argument("paths", nargs="*")
    lst.add_argument("--reports", default="reports")
    lst.set_defaults(func=_cmd_list)

    exp = sub.add_parser(
        "export", help="write the findings of every report as one table (CSV or JSON)",
        description="One row per evaluation and estimand (headline first), for "
                    "clearinghouses and partner agencies: design, outcome domain, estimate, "
                    "CI, effect size, evidence rating and cautions; withheld values are empty. "
                    "Each evaluation's rows are leak-checked against its data's identifiers. "
                    "The columns are documented in evalkit.export.")
    exp.add_argument("--format", choices=("csv", "json"), default="csv")
    exp.add_argument("--reports", default="reports", help="reports folder (default: reports/)")
    exp.add_argument("-o", "--output", default=None,
                     help="file to write (default: standard output)")
    exp.set_defaults(func=_cmd_export)

    val = sub.add_parser("validate", help="check configs and their data without running")
    val.add_argument("paths", nargs="*")
    val.set_defaults(func=_cmd_validate)

    new = sub.add_parser(
        "new", help="write a commented config to start a new evaluation",
        description="Write evaluations/SLUG.yaml for a template: required keys to fill in "
                    "(marked CHANGE ME), optional keys at their defaults; then list the "
                    "template's keys.",
        epilog=_templates_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    new.add_argument("slug", help="the evaluation's name: lower-case letters, digits, hyphens")
    new.add_argument("--template", required=True, metavar="TEMPLATE",
                     help="one of the templates listed below")
    new.add_argument("--dir", default="evaluations")
    new.add_argument("--force", action="store_true")
    new.set_defaults(func=_cmd_new)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``evalkit`` command."""
    args = build_parser().parse_args(argv)
    if getattr(args, "jobs", None) is not None and args.jobs < 1:
        print("evalkit: --jobs must be at least 1", file=sys.stderr)
        return 2
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())

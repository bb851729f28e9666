"""The evaluator's path, fast checks (issue 10): optional id_column, ids read as text, configs
written by ``evalkit new``, what ``evalkit validate`` catches, the index of configured
evaluations, and the one line per step ``make`` prints."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ROOT, SAMPLE, sample_config, write_config

from evalkit.cli import main, new_config_text
from evalkit.data import Column, load
from evalkit.exceptions import ConfigError
from evalkit.run.checks import identifier_columns, preflight, redact, resolve_parameters
from evalkit.run.config import load_config
from evalkit.run.templates import TEMPLATES

# -- id_column is optional ------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["absent", "null"])
def test_id_column_may_be_left_out(tmp_path, how):
    p = write_config(tmp_path, "noid", id_column=None)
    if how == "null":
        p.write_text(p.read_text() + "id_column: null\n")
    cfg = load_config(p)
    assert cfg.id_column is None
    data = cfg.load_data()
    assert len(data) == 160
    assert cfg.notebook_parameters(None)["id_column"] is None
    # the survival template too
    s = sample_config(tmp_path, "placement-runaway", top_id_column=None)
    assert load_config(s).load_data().shape[0] == 500


def test_the_did_template_needs_its_panel_unit(tmp_path):
    p = sample_config(tmp_path, "safe-harbor-arrests", top_id_column=None)
    with pytest.raises(ConfigError, match="needs the column naming each panel unit"):
        load_config(p)


def test_without_an_id_column_rare_values_of_every_text_column_are_searched():
    data = pd.DataFrame({"name": ["Ana Lopez", "Bea Kim", "Cy Ray", "Cy Ray"] + ["x"] * 20,
                         "site": ["Northside"] * 12 + ["Southside"] * 12,
                         "code": ["00042", "17", "12.5"] + ["1"] * 21,
                         "score": np.arange(24.0)})
    ids = identifier_columns(data, None, threshold=11)
    assert sorted(ids) == ["code", "name"]
    assert sorted(ids["name"]) == ["Ana Lopez", "Bea Kim", "Cy Ray"]  # "x" is on 20 rows
    assert ids["code"] == ["00042"]  # short numbers written as text are not identifiers
    # with an id column, all of its values are searched and the text columns still are
    ids = identifier_columns(data.assign(cid=[f"C-{i:03d}" for i in range(24)]), "cid", 11)
    assert len(ids["cid"]) == 24 and "name" in ids
    assert redact("KeyError: 'Bea Kim' in row of 00042", ids) == \
        "KeyError: '[identifier]' in row of [identifier]"


# -- ids are text ---------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".parquet"])
def test_leading_zero_ids_are_read_as_written_and_distinct(tmp_path, suffix):
    df = pd.DataFrame({"case_id": ["00042", "42", "00001", "1", "000"], "y": [1, 2, 3, 4, 5]})
    p = tmp_path / f"ids{suffix}"
    {".csv": lambda: df.to_csv(p, index=False), ".xlsx": lambda: df.to_excel(p, index=False),
     ".parquet": lambda: df.to_parquet(p)}[suffix]()
    out = load(p, [Column("case_id", kind="id"), Column("y")])
    assert out["case_id"].tolist() == ["00042", "42", "00001", "1", "000"]
    assert out["y"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_ids_that_only_differ_by_leading_zeros_are_not_duplicates_and_true_ones_are(tmp_path):
    p = tmp_path / "ids.csv"
    p.write_text("case_id,y\n00001,1\n1,2\n0001,3\n00001,4\n")
    from evalkit.exceptions import EvalDataError

    with pytest.raises(EvalDataError, match=r"1 identifier value\(s\) appear on more than one "
                                            r"row in 2 lines \(lines 2, 5\)"):
        load(p, [Column("case_id", kind="id"), Column("y")])


def test_a_numeric_parquet_id_column_becomes_text_with_missing_kept(tmp_path):
    from evalkit.data import read

    p = tmp_path / "n.parquet"
    pd.DataFrame({"id": [12345.0, 2.0, None], "y": [1, 2, 3]}).to_parquet(p)
    assert read(p, text_columns=["id"])["id"].tolist()[:2] == ["12345", "2"]
    assert pd.isna(read(p, text_columns=["id"])["id"].iloc[2])


# -- evalkit new ----------------------------------------------------------------------------------


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_new_writes_defaults_not_the_samples_values_for_optional_keys(template):
    raw = yaml.safe_load(new_config_text("x", template))
    for p in TEMPLATES[template].params:
        if not (p.required or p.required_unless):
            assert raw["parameters"][p.name] == p.default, p.name
    if template == "survival":
        assert raw["parameters"]["event_type"] is None and raw["parameters"]["tau"] is None
    if template != "did":
        assert raw["id_column"] is None


def test_new_prints_each_key_with_a_description_and_help_lists_templates(tmp_path, capsys):
    assert main(["new", "out", "--template", "survival", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    lines = {ln.split()[0]: ln for ln in out.splitlines() if ln.startswith("  ")}
    for p in TEMPLATES["survival"].params:
        line = lines[f"parameters.{p.name}"]
        assert ("required" if p.required else "optional") in line
        assert p.help.split(";")[0].split("(")[0].strip() in line
    assert "title" in lines and "id_column" in lines
    with pytest.raises(SystemExit):
        main(["new", "--help"])
    helptext = capsys.readouterr().out
    for name, spec in TEMPLATES.items():
        assert f"  {name}" in helptext and spec.description in helptext


def test_a_new_survival_config_filled_in_runs_on_other_follow_up(tmp_path):
    # data followed for 100 days only: the written defaults must not break on it, except the
    # reporting times, which validate names with the follow-up they exceed
    df = pd.read_csv(SAMPLE / "placement_runaway.csv")
    df["days"] = np.minimum(df["days"], 100)
    df.to_csv(tmp_path / "short.csv", index=False)
    text = new_config_text("short", "survival").replace("CHANGE ME", "Filled in")
    raw = yaml.safe_load(text)
    raw["data"] = "short.csv"
    (tmp_path / "short.yaml").write_text(yaml.safe_dump(raw))
    cfg = load_config(tmp_path / "short.yaml")
    data = cfg.load_data()
    cfg = resolve_parameters(cfg, data)
    assert cfg.parameters["tau"] == 100  # survRM2's default: the follow-up both groups share
    (f,) = preflight(cfg, data)
    assert f.level == "error" and f.key == "parameters.times"
    assert "180 days is beyond the follow-up of group" in f.message
    assert "longest observed time is 100 days" in f.message
    assert not preflight(cfg.with_parameters(times=[30, 90]), data)


# -- evalkit validate ---------------------------------------------------------------------------


def _findings(path: Path):
    cfg = load_config(path)
    data = cfg.load_data()
    return preflight(resolve_parameters(cfg, data), data)


def test_validate_catches_tau_and_times_beyond_follow_up(tmp_path):
    # both groups of the sample are followed up to 365 days
    assert _findings(sample_config(tmp_path, "placement-runaway", tau=365)) == []
    (f,) = _findings(sample_config(tmp_path, "placement-runaway", tau=366))
    assert (f.level, f.key) == ("error", "parameters.tau")
    assert f.message.startswith("366 days is beyond the follow-up of group")
    (f,) = _findings(sample_config(tmp_path, "placement-runaway", times=[30, 400, 500]))
    assert f.key == "parameters.times" and f.message.startswith("400, 500 days are beyond")


def test_validate_catches_an_event_window_wider_than_the_data(tmp_path):
    # sample panel: 2000-2019, adoption 2008-2017, so e = t - g runs from 2001 - 2017 = -16
    # (the first period is only a base period) to 2019 - 2008 = 11
    ok = _findings(sample_config(tmp_path, "safe-harbor-arrests", event_window=[-16, 11]))
    assert [f.level for f in ok] == ["warning"]  # small cohorts only
    (f, _) = _findings(sample_config(tmp_path, "safe-harbor-arrests", event_window=[-17, 5]))
    assert (f.level, f.key) == ("error", "parameters.event_window")
    assert "run from -16 to 11" in f.message and "Use [-16, 5]" in f.message
    (f, _) = _findings(sample_config(tmp_path, "safe-harbor-arrests", event_window=[12, 20]))
    assert "holds no period since adoption" in f.message
    with pytest.raises(ConfigError, match="ends before adoption"):
        load_config(sample_config(tmp_path, "safe-harbor-arrests", event_window=[-3, -1]))
    with pytest.raises(ConfigError, match="two whole numbers"):
        load_config(sample_config(tmp_path, "safe-harbor-arrests", event_window=[-3, 0, 3]))


def _panel(tmp_path: Path, cohorts: dict[int, int], n_never: int, never=0) -> Path:
    rows = []
    u = 0
    for g, k in [*cohorts.items(), (never, n_never)]:
        for _ in range(k):
            for t in range(2000, 2010):
                rows.append((f"S{u:02d}", t, g, int(g == g and g != never and t >= g), 1.0 + t))
            u += 1
    df = pd.DataFrame(rows, columns=["state", "year", "first_law_year", "safe_harbor",
                                     "arrests_per_100k"])
    p = tmp_path / "panel.csv"
    df.to_csv(p, index=False)
    return p


def test_validate_warns_of_too_few_adopting_units_and_small_cohorts(tmp_path):
    from evalkit.methods.did.staggered import MIN_TREATED_UNITS

    assert MIN_TREATED_UNITS == 10
    data = _panel(tmp_path, {2004: 3, 2006: 5}, n_never=12)
    cfg = sample_config(tmp_path, "safe-harbor-arrests", top_data=str(data),
                         event_window=[-3, 3])
    found = _findings(cfg)
    # the refused design shows no cohort's effects, so small cohorts go unmentioned
    assert [f.level for f in found] == ["warning"]
    assert "only 8 states adopt within the data" in found[0].message
    assert "the report will carry no estimate" in found[0].message
    (tmp_path / "enough").mkdir()
    enough = _panel(tmp_path / "enough", {2004: 3, 2006: 8}, n_never=12)
    found = _findings(sample_config(tmp_path, "safe-harbor-arrests", top_data=str(enough),
                                    event_window=[-3, 3]))
    assert [f.level for f in found] == ["warning"]
    assert "1 adoption cohort(s) have fewer than 5 states: 2004 (3)" in found[0].message
    # and the run indeed refuses the design (it renders a report without an estimate)
    from evalkit.did import staggered
    from evalkit.exceptions import DesignRefused

    with pytest.raises(DesignRefused):
        staggered(pd.read_csv(data), "arrests_per_100k", "state", "year", "first_law_year")


def test_validate_catches_too_few_never_treated_and_accepts_empty_first_treated(tmp_path):
    data = _panel(tmp_path, {2004: 6, 2006: 6}, n_never=3)
    cfg = sample_config(tmp_path, "safe-harbor-arrests", top_data=str(data),
                         event_window=[-3, 3])
    (f,) = _findings(cfg)
    assert f.level == "error" and "only 3 never-treated states" in f.message
    # never-treated units coded as empty cells count as never treated
    df = pd.read_csv(SAMPLE / "safe_harbor_panel.csv")
    df["first_law_year"] = df["first_law_year"].where(df["first_law_year"] != 0)
    df.to_csv(tmp_path / "na.csv", index=False)
    cfg = sample_config(tmp_path, "safe-harbor-arrests", top_data=str(tmp_path / "na.csv"))
    assert [f.level for f in _findings(cfg)] == ["warning"]


def test_validate_command_prints_errors_and_warnings(tmp_path, capsys):
    good = sample_config(tmp_path, "safe-harbor-arrests")
    bad = sample_config(tmp_path, "placement-runaway", tau=400)
    assert main(["validate", str(good), str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"ok      {good}" in out and "warning: parameters.first_treated" in out
    assert f"FAILED  {bad}: the data cannot support these parameters" in out
    assert "error: parameters.tau: 400 days is beyond the follow-up" in out
    assert "1 valid, 1 with problems (1 valid with warnings)" in out


# -- the index lists configured evaluations -------------------------------------------------------


def _doc(slug: str) -> dict:
    return {"schema_version": 1, "slug": slug, "title": f"T {slug}", "program": "P",
            "template": "prepost", "status": "ok", "generated_at": "2026-01-02T00:00:00+00:00",
            "design": {"code": "one_group_prepost", "label": "Pre-post"},
            "outcome": {"label": "score"}, "headline": {"estimate": 1.0, "ci_low": 0.0,
                                                        "ci_high": 2.0, "n": 40},
            "evidence": {"label": "Descriptive"}}


def test_index_leaves_out_evaluations_whose_config_is_gone(tmp_path):
    from evalkit import portfolio
    from evalkit.run.batch import _save_runs
    from evalkit.run.execute import RunOutcome

    reports = tmp_path / "reports"
    ev = tmp_path / "evaluations"
    ev.mkdir()
    for slug in ("kept", "renamed", "old-report"):
        (ev / f"{slug}.yaml").write_text("x: 1\n")
    for slug in ("kept", "renamed", "old-report", "legacy"):
        (reports / slug).mkdir(parents=True)
        (reports / slug / "results.json").write_text(json.dumps(_doc(slug)))
    (reports / "old-report" / "manifest.json").write_text(json.dumps(
        {"config": {"path": str(ev / "old-report.yaml")}}))
    outcomes = [RunOutcome("kept", str(ev / "kept.yaml"), "ok", 1.0),
                RunOutcome("renamed", str(ev / "renamed.yaml"), "ok", 1.0),
                RunOutcome("typo", str(ev / "typo.yaml"), "failed", 0.1, "config", "bad")]
    (ev / "typo.yaml").write_text("x: 1\n")
    _save_runs(reports, outcomes)
    # the evaluator renames a config, deletes the failed one and an old one
    (ev / "renamed.yaml").rename(ev / "renamed-2.yaml")
    (ev / "typo.yaml").unlink()
    (ev / "old-report.yaml").unlink()
    html = portfolio.write_index(reports).read_text()
    assert "href='kept/report.html'" in html
    assert "legacy/report.html" in html  # no config recorded: kept
    for gone in ("renamed/report.html", "old-report/report.html", ">typo<"):
        assert gone not in html
    assert "failed — no report yet" not in html
    assert "2 evaluation(s)" in html
    runs = _save_runs(reports, [RunOutcome("kept", str(ev / "kept.yaml"), "ok", 1.0)])
    assert sorted(runs) == ["kept"]  # runs.json forgets evaluations whose config is gone
    assert (reports / "renamed" / "results.json").is_file()  # reports are not deleted


# -- make prints one line per step ------------------------------------------------------------------


def test_make_report_on_a_fresh_clone_prints_one_line_per_step(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    # a stand-in python: `-m venv DIR` makes DIR/bin/python and DIR/bin/evalkit stand-ins
    fake = tmp_path / "python-stand-in"
    fake.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then\n'
        '  mkdir -p "$3/bin"; printf \'#!/bin/sh\\nexit 0\\n\' > "$3/bin/python"\n'
        '  printf \'#!/bin/sh\\necho "evalkit $*"\\n\' > "$3/bin/evalkit"\n'
        '  chmod +x "$3/bin/python" "$3/bin/evalkit"\nfi\nexit 0\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    r = subprocess.run(["make", "--no-print-directory", "report", f"PYTHON={fake}"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    steps = [ln for ln in r.stdout.splitlines() if ln.startswith("==> ")]
    assert [s.split()[1] for s in steps] == ["creating", "updating", "installing", "running"]
    assert "about a minute" in steps[2]
    # nothing but the step lines and the run's own output
    assert [ln for ln in r.stdout.splitlines() if not ln.startswith("==> ")] == ["evalkit run"]

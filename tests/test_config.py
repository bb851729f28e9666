"""Config schema: every problem named with the file and the key, before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import EVALUATIONS, SAMPLE, write_config

from evalkit.exceptions import ConfigError
from evalkit.run.config import find_configs, load_config


def test_sample_configs_are_valid():
    paths = find_configs([EVALUATIONS])
    assert [p.stem for p in paths] == ["advocacy-referrals", "county-identifications",
                                       "lifeskills-waitlist", "mentoring-site-a",
                                       "mentoring-site-b", "navigator-law",
                                       "placement-runaway", "runaway-episodes",
                                       "safe-harbor-arrests", "safe-harbor-reports"]
    assert load_config(paths[6]).template.name == "survival"
    assert load_config(paths[1]).template.name == "its"
    assert load_config(paths[5]).template.name == "did"
    assert load_config(paths[2]).parameters["group"] == "in_program"
    assert load_config(paths[0]).parameters["adjust"]["method"] == "weighting"
    cfg = load_config(paths[3])
    assert cfg.slug == "mentoring-site-a" and cfg.template.name == "prepost"
    assert cfg.data_path.is_absolute() and cfg.data_path.is_file()
    assert cfg.parameters["pre"] == "ts_intake" and cfg.privacy_threshold == 11
    params = cfg.notebook_parameters("/tmp/r.json")
    assert params["results_path"] == "/tmp/r.json" and params["data_path"] == str(cfg.data_path)


def _problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(str(path))
    return info.value.problems


def test_unknown_keys_are_named_with_a_suggestion(tmp_path):
    p = write_config(tmp_path, "typo", titel="x", parameters={
        "pre": "ts_intake", "post": "ts_6mo", "outcome_label": "s", "lower_is_better": True,
        "lower_is_beter": False})
    probs = _problems(p)
    assert "unknown key 'titel' (did you mean 'title'?)" in probs
    assert any("unknown key 'parameters.lower_is_beter' for template 'prepost' (did you mean "
               "'lower_is_better'?)" in x for x in probs)


def test_missing_and_mistyped_values_are_all_reported(tmp_path):
    p = write_config(tmp_path, "bad", title=None, privacy_threshold=4, timeout="soon",
                     parameters={"pre": "ts_intake", "post": 3, "lower_is_better": "yes",
                                 "alpha": 1.5})
    probs = _problems(p)
    text = "\n".join(probs)
    assert "missing required key 'title'" in text
    assert "'privacy_threshold': privacy threshold 4 is below the minimum of 5" in text
    assert "'timeout' must be a whole number" in text
    assert "parameters.post: must be a column name, not 3" in text
    assert "parameters.lower_is_better: must be true or false, not 'yes'" in text
    assert "parameters.alpha: must lie strictly between 0 and 1" in text
    assert "missing required key 'parameters.outcome_label'" in text
    assert len(probs) == 7


def test_missing_data_file_and_unknown_template(tmp_path):
    p = write_config(tmp_path, "nofile", data="nowhere.csv", template="rct")
    text = "\n".join(_problems(p))
    assert "'data': file not found: nowhere.csv" in text
    assert "'template': unknown template 'rct'; known templates: did, its, prepost, survival" in text


def test_yaml_errors_duplicate_keys_and_slugs(tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("title: [unclosed\n")
    assert "not valid YAML at line" in _problems(bad)[0]
    dup = tmp_path / "dup.yaml"
    dup.write_text("title: a\ntitle: b\n")
    assert "key 'title' is given twice (lines 1 and 2)" in _problems(dup)[0]
    assert "must be a YAML mapping" in _problems(_write(tmp_path / "list.yaml", "- a\n"))[0]
    p = write_config(tmp_path, "Bad_Slug")
    assert any("the slug 'Bad_Slug' must be lower-case" in x for x in _problems(p))
    assert "config file not found" in _problems(tmp_path / "absent.yaml")[0]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_score_bounds_must_be_ordered(tmp_path):
    p = write_config(tmp_path, "bounds", parameters={
        "pre": "ts_intake", "post": "ts_6mo", "outcome_label": "s", "lower_is_better": True,
        "score_min": 80, "score_max": 0})
    assert any("score_min" in x and "below score_max" in x for x in _problems(p))


def test_find_configs_takes_files_and_folders_once(tmp_path):
    a = write_config(tmp_path, "a")
    write_config(tmp_path, "b")
    (tmp_path / "notes.txt").write_text("x")
    assert [p.stem for p in find_configs([tmp_path, a])] == ["a", "b"]


# -- design, population_label, labels, outcome_scale ------------------------------------------

def test_new_top_level_keys_default_to_todays_behaviour():
    cfg = load_config(EVALUATIONS / "mentoring-site-a.yaml")
    assert cfg.design is None and cfg.outcome_scale == "linear" and cfg.labels == {}
    assert cfg.population_label == {"singular": "youth", "plural": "youth"}
    params = cfg.notebook_parameters(None)
    assert params["design"] is None and params["outcome_scale"] == "linear"
    assert params["population_label"] == {"singular": "youth", "plural": "youth"}
    assert params["labels"] == {}


def test_new_top_level_keys_are_read_and_passed_to_the_notebook(tmp_path):
    p = write_config(tmp_path, "keys", design="one group", outcome_scale="log",
                     population_label={"singular": "girl", "plural": "girls"},
                     labels={"ts_intake": "symptoms at intake"})
    cfg = load_config(p)
    params = cfg.notebook_parameters(None)
    assert params["design"] == "one group" and params["outcome_scale"] == "log"
    assert params["population_label"] == {"singular": "girl", "plural": "girls"}
    assert params["labels"] == {"ts_intake": "symptoms at intake"}
    # one word serves as both forms
    cfg = load_config(write_config(tmp_path, "word", population_label="staff"))
    assert cfg.population_label == {"singular": "staff", "plural": "staff"}


def test_bad_values_of_the_new_keys_name_the_file_and_key(tmp_path):
    problems = _problems(write_config(
        tmp_path, "bad", design="random", outcome_scale="logit",
        population_label={"singular": "man"}, labels=["prio"]))
    text = "\n".join(problems)
    assert "'design' must be one of randomized, comparison group, one group, policy adoption" \
        in text
    assert "'outcome_scale' must be one of linear, log, not 'logit'" in text
    assert "'population_label' must be {singular: word, plural: word}" in text
    assert "'labels' must be a mapping of column names to display names" in text
    # unknown keys are still errors, with a suggestion
    problems = _problems(write_config(tmp_path, "typo2", desing="randomized"))
    assert any("unknown key 'desing'" in x and "did you mean 'design'" in x for x in problems)


def test_a_design_must_fit_the_template_and_the_data(tmp_path):
    # site A has no group column: a randomized or comparison-group design needs one
    problems = _problems(write_config(tmp_path, "rand", design="randomized"))
    assert any("'design': 'randomized' needs 'parameters.group'" in x for x in problems)
    problems = _problems(write_config(tmp_path, "pol", design="policy adoption"))
    assert any("does not fit the prepost template" in x for x in problems)
    raw = __import__("yaml").safe_load((EVALUATIONS / "lifeskills-waitlist.yaml").read_text())
    raw["data"] = str((EVALUATIONS / raw["data"]).resolve())
    raw["design"] = "one group"
    p = tmp_path / "onegroup.yaml"
    p.write_text(__import__("yaml").safe_dump(raw))
    assert any("'one group' but 'parameters.group'" in x for x in _problems(p))
    raw["design"] = "randomized"
    p.write_text(__import__("yaml").safe_dump(raw))
    assert load_config(p).design == "randomized"


def test_the_acceptance_configs_are_valid():
    from conftest import ROOT

    cfgs = {p.stem: load_config(p) for p in find_configs([ROOT / "tests" / "configs"])}
    assert set(cfgs) == {"castle-doctrine", "rossi-recidivism", "renamed-prepost",
                         "placement-adjusted"}
    assert cfgs["castle-doctrine"].design == "policy adoption"
    assert cfgs["castle-doctrine"].outcome_scale == "log"
    assert cfgs["rossi-recidivism"].design == "randomized"
    assert cfgs["rossi-recidivism"].population_label == {"singular": "man", "plural": "men"}
    assert cfgs["rossi-recidivism"].labels["prio"] == "prior convictions"


def test_validate_warns_of_a_label_for_a_column_the_evaluation_does_not_use(tmp_path):
    from evalkit.run.checks import preflight

    cfg = load_config(write_config(tmp_path, "lab", labels={"ts_intake": "symptoms at intake",
                                                            "ts_6m": "symptoms later"}))
    found = preflight(cfg, cfg.load_data())
    assert [(f.level, f.key) for f in found] == [("warning", "labels.ts_6m")]
    assert "'ts_6m' is not a column this evaluation uses" in found[0].message


@pytest.mark.parametrize("change, message", [
    (("score_max: 80", "score_max: " + "9" * 5000), "more digits than any setting can mean"),
    (("score_max: 80", "score_max: 1e400"), "parameters.score_max: must be a number"),
    (("privacy_threshold: 11", "privacy_threshold: 1" + "0" * 400),
     "'privacy_threshold' must be a whole number (at most 10^9), not 100000"),
    (("title:", "x: &a [1, 2]\ny: [*a, *a]\ntitle:"), "aliases (*name) are not allowed"),
])
def test_hostile_values_are_config_errors_naming_the_file(tmp_path, change, message):
    from evalkit.exceptions import ConfigError
    from evalkit.run.config import load_config

    text = (EVALUATIONS / "mentoring-site-a.yaml").read_text().replace(
        "../data/sample/mentoring_site_a.csv", str(SAMPLE / "mentoring_site_a.csv"))
    assert change[0] in text
    path = tmp_path / "hostile.yaml"
    path.write_text(text.replace(change[0], change[1], 1))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert message in str(info.value) and "hostile.yaml" in str(info.value)
    assert len(str(info.value)) < 600  # a 400-digit value is not printed whole


def _survival_adjust(folder: Path, adjust, **params) -> Path:
    import yaml

    raw = yaml.safe_load((EVALUATIONS / "placement-runaway.yaml").read_text())
    raw["data"] = str((SAMPLE / "placement_runaway.csv").resolve())
    raw["parameters"].update(adjust=adjust, **params)
    path = folder / "placement.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_survival_adjust_block_gets_its_defaults_and_its_columns(tmp_path):
    cfg = load_config(_survival_adjust(tmp_path, {"covariates": ["age", "placement"]},
                                       covariates=["age"]))
    assert cfg.parameters["adjust"] == {"covariates": ["age", "placement"],
                                        "method": "weighting", "estimand": "ATT",
                                        "missing": "complete-case"}
    names = [c.name for c in cfg.template.columns(cfg.parameters, cfg.id_column)]
    assert names.count("age") == 1 and "placement" in names
    assert load_config(_survival_adjust(tmp_path, None)).parameters["adjust"] is None


@pytest.mark.parametrize(("adjust", "message"), [
    ({"covariates": ["age"], "metod": "weighting"}, "unknown key 'parameters.adjust.metod'"),
    ({"method": "weighting"}, "missing required key 'parameters.adjust.covariates'"),
    ({"covariates": []}, "'parameters.adjust.covariates' must be a non-empty list"),
    ({"covariates": ["age", "age"]}, "names age more than once"),
    ({"covariates": ["specialized"]}, "must not include the group column 'specialized'"),
    ({"covariates": ["age"], "estimand": "ATC"}, "'parameters.adjust.estimand' must be one of "
                                                 "ATT, ATE, ATO"),
    ({"covariates": ["age"], "method": "matching", "estimand": "ATE"},
     "matching estimates the effect on program youth (ATT)"),
    ({"covariates": ["age"], "missing": "impute", "imputations": 1.5},
     "'parameters.adjust.imputations' must be a whole number of at least 2, not 1.5"),
    (["age"], "parameters.adjust: must be a mapping {covariates"),
])
def test_survival_adjust_block_errors_name_the_key(tmp_path, adjust, message):
    problems = _problems(_survival_adjust(tmp_path, adjust))
    assert any(message in p for p in problems), problems

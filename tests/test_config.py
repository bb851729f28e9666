"""Config schema: every problem named with the file and the key, before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalkit.exceptions import ConfigError
from evalkit.run.config import find_configs, load_config

from conftest import EVALUATIONS, write_config


def test_sample_configs_are_valid():
    paths = find_configs([EVALUATIONS])
    assert [p.stem for p in paths] == ["lifeskills-waitlist", "mentoring-site-a",
                                       "mentoring-site-b", "placement-runaway",
                                       "safe-harbor-arrests", "safe-harbor-reports"]
    assert load_config(paths[3]).template.name == "survival"
    assert load_config(paths[0]).parameters["group"] == "in_program"
    cfg = load_config(paths[1])
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
    assert "'template': unknown template 'rct'; known templates: did, prepost, survival" in text


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

"""The words every report uses: agreement, population, direction and percentage changes."""

from __future__ import annotations

import math

import pytest

from evalkit.privacy import redact_small_counts
from evalkit.report import words
from evalkit.report.html import Block
from evalkit.results import Caution


@pytest.mark.parametrize("subject, verb, expected", [
    ("castle-doctrine laws", "was", "were"),
    ("Castle-doctrine laws", "has", "have"),
    ("safe-harbor laws", "changes", "change"),
    ("men", "was", "were"),
    ("youth", "was", "were"),
    ("participants", "does", "do"),
    ("financial aid", "was", "was"),
    ("the number of laws", "was", "was"),
    ("specialized placement", "is", "is"),
    ("the mentoring program", "was", "was"),
    ("aid and counselling", "was", "were"),
    ("address", "was", "was"),
])
def test_verbs_agree_with_their_subject(subject, verb, expected):
    assert words.agree(subject, verb) == expected


def test_a_clause_capitalizes_and_agrees():
    assert (words.clause("castle-doctrine laws", "was", "not assigned at random")
            == "Castle-doctrine laws were not assigned at random")
    assert (words.clause("financial aid", "was", "assigned at random")
            == "Financial aid was assigned at random")
    assert words.clause("the policy", "was", plural=True, capital=False) == "the policy were"
    assert (words.not_random("men", "financial aid", randomized=True)
            == "Men were assigned to financial aid at random")


def test_the_population_replaces_youth_in_singular_and_plural():
    pop = words.Population.of({"singular": "man", "plural": "men"})
    text = ("Youth were followed; each youth's score and a youth who left; 3 youth; the "
            "youth's privacy; per youth; the average youth")
    assert words.speak(text, pop) == (
        "Men were followed; each man's score and a man who left; 3 men; the men's privacy; "
        "per man; the average man")
    adult = words.Population.of(("adult", "adults"))
    assert words.speak("A youth and a youth", adult) == "An adult and an adult"
    assert words.speak("the youth's", adult) == "the adults'"
    # the default population leaves text alone; embedded images are never touched
    assert words.speak("each youth", None) == "each youth"
    uri = "data:image/png;base64,AAyouth+youth/="
    assert uri in words.speak(f"<img src='{uri}'> youth", pop)


def test_spoken_values_keep_their_kind():
    pop = words.Population.of("participants")
    c = words.speak_any(Caution("3 youth left", limits=False), pop)
    assert isinstance(c, Caution) and c.limits is False and str(c) == "3 participants left"
    b = words.speak_any(Block("<p>youth</p>", text="youth"), pop)
    assert b.html == "<p>participants</p>" and b.text == "participants"
    assert words.speak_any({"a": ["youth", 1]}, pop) == {"a": ["participants", 1]}


@pytest.mark.parametrize("est, lower, lo, hi, null, expected", [
    (-2.0, True, -3.0, -1.0, 0.0, "a desired change"),
    (-2.0, False, -3.0, -1.0, 0.0, "an unwanted change"),
    (0.11, True, 0.03, 0.19, 0.0, "an unwanted change"),
    (0.11, False, 0.03, 0.19, 0.0, "a desired change"),
    (-0.5, True, -1.0, 0.2, 0.0, "no clear change in either direction"),
    (0.71, True, 0.49, 1.03, 1.0, "no clear change in either direction"),
    (0.60, True, 0.40, 0.90, 1.0, "a desired change"),
    (1.40, True, 1.10, 1.90, 1.0, "an unwanted change"),
])
def test_direction_words(est, lower, lo, hi, null, expected):
    assert words.direction(est, lower, ci_low=lo, ci_high=hi, null=null) == expected


def test_direction_without_an_interval_is_not_judged():
    assert "cannot be judged" in words.direction(1.0, True, ci_low=float("nan"), ci_high=2.0)


def test_percent_change_of_a_log_outcome():
    # castle doctrine: 0.1104 log points (95% CI 0.0345 to 0.1863) is exp(b) - 1
    assert words.percent_change(0.1104) == pytest.approx(math.exp(0.1104) - 1)
    assert (words.percent_words(0.1104, 0.0345, 0.1863, 0.95)
            == "about 12% (95% CI 4% to 20%)")
    # a decrease: the size is given without sign (the verb carries it), the interval signed
    assert (words.percent_words(-0.2231, -0.3567, -0.1054, 0.95)
            == "about 20% (95% CI −30% to −10%)")
    # changes within 1% keep a decimal
    assert words.percent_words(0.005, 0.001, 0.009, 0.9) == "about 0.5% (90% CI 0.1% to 0.9%)"


def test_design_defaults_follow_today():
    assert words.design_of(None, has_group=True) == "comparison group"
    assert words.design_of(None, has_group=False) == "one group"
    assert words.design_of(None, template="did") == "policy adoption"
    assert words.design_of("randomized") == "randomized"
    with pytest.raises(ValueError, match="design must be one of"):
        words.design_of("random")


def test_labels_fall_back_to_the_column_name():
    assert words.label("prio", {"prio": "prior convictions"}) == "prior convictions"
    assert words.label("age", {"prio": "prior convictions"}) == "age"


def test_redaction_catches_the_configured_population_word():
    # "states" counts places by default; when the people of a report are called so, a
    # count of them is redacted
    assert redact_small_counts("3 states adopted", 11) == "3 states adopted"
    assert (redact_small_counts("3 states adopted", 11, people=("state", "states"))
            == "Fewer than 11 states adopted")
    assert redact_small_counts("4 men were lost", 11, people=("man", "men")) == (
        "Fewer than 11 men were lost")


def test_a_number_that_rounds_to_zero_has_no_minus_sign():
    from evalkit.report.common import num

    assert (num(-0.001, 2), num(-0.004, 1), num(-0.006, 2)) == ("0.00", "0.0", "−0.01")
    assert words.percent_parts(math.log(1.1), math.log(1 - 0.004), math.log(1.3), 0.95) == (
        "10%", "95% CI 0% to 30%")

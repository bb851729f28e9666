"""Words every report uses.

They cover who the people are, verbs that agree with their subject, the design in plain
words, the direction of a change and percentage changes of log outcomes.

Every template words these through this module, so that a plural subject takes a plural verb
("Castle-doctrine laws were not assigned at random"), the people are called what the config
calls them (``population_label``), columns carry their display names (``labels``), and every
headline says whether a change went the way the program hoped (``lower_is_better``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Population", "DESIGNS", "is_plural", "agree", "clause", "speak", "label", "direction",
    "percent_change", "percent_parts", "percent_words", "design_of", "not_random", "capitalize",
]

#: Study designs a config may name (``design:``).
DESIGNS = ("randomized", "comparison group", "one group", "policy adoption")

_IRREGULAR = {"is": "are", "was": "were", "has": "have", "does": "do"}
#: Nouns that are plural without an -s (and "youth", which reports use as a plural).
_PLURAL_NOUNS = {"men", "women", "people", "children", "youth", "police", "staff", "data",
                 "persons", "families"}
_SINGULAR_S = ("ss", "us", "is", "ics", "news", "series")
_HEAD_BREAK = re.compile(r"\s+(?:of|in|for|with|from|on|at|by|to|under|among)\s+", re.I)


@dataclass(frozen=True)
class Population:
    """What the people in an evaluation are called: one (``singular``) and many (``plural``)."""

    singular: str = "youth"
    plural: str = "youth"

    @classmethod
    def of(cls, value: Any) -> Population:
        """A population from a config value.

        The value may be ``None`` (youth), one word, a ``{singular, plural}`` mapping, a
        ``(singular, plural)`` pair or a Population.
        """
        if value is None:
            return cls()
        if isinstance(value, Population):
            return value
        if isinstance(value, str):
            return cls(value.strip(), value.strip())
        if isinstance(value, Mapping):
            return cls(str(value["singular"]).strip(), str(value["plural"]).strip())
        one, many = value
        return cls(str(one).strip(), str(many).strip())

    @property
    def is_default(self) -> bool:
        """Whether the people are called "youth", one and many, as reports call them by default.

        Returns
        -------
        bool
            True when both :attr:`singular` and :attr:`plural` are "youth".
        """
        return (self.singular, self.plural) == ("youth", "youth")

    def words(self) -> tuple[str, ...]:
        """Both forms (for the privacy redaction's list of words that count people)."""
        return tuple(dict.fromkeys((self.singular.lower(), self.plural.lower())))


def capitalize(text: str) -> str:
    """First letter upper-cased, the rest left alone ("castle-doctrine laws" → "Castle-...")."""
    return text[:1].upper() + text[1:]


def is_plural(subject: str) -> bool:
    """Whether a noun phrase is plural, read from its head noun.

    The head noun is the last word before a preposition: "castle-doctrine laws" and "men" are
    plural; "financial aid", "the number of laws" are singular.
    """
    head = _HEAD_BREAK.split(subject.strip())[0].strip()
    if " and " in f" {head.lower()} ":
        return True
    word = re.sub(r"[^\w'-]", "", head.split()[-1] if head.split() else "").lower()
    word = word.split("-")[-1]
    if word in _PLURAL_NOUNS:
        return True
    return word.endswith("s") and not word.endswith(_SINGULAR_S) and len(word) > 2


def agree(subject: str, verb: str, *, plural: bool | None = None) -> str:
    """``verb`` in the form that agrees with ``subject``.

    ``verb`` is given as for one ("was", "has", "changes"); ``plural`` overrides the reading
    of the subject.
    """
    many = is_plural(subject) if plural is None else plural
    if not many:
        return verb
    if verb in _IRREGULAR:
        return _IRREGULAR[verb]
    if verb.endswith(("sses", "shes", "ches", "xes", "zes")):
        return verb[:-2]
    if verb.endswith("ies") and len(verb) > 4:
        return verb[:-3] + "y"
    if verb.endswith("s") and not verb.endswith("ss"):
        return verb[:-1]
    return verb


def clause(subject: str, verb: str, rest: str = "", *, plural: bool | None = None,
           capital: bool = True) -> str:
    """"Subject verb rest" with the verb agreeing with the subject.

    ``clause("castle-doctrine laws", "was", "not assigned at random")`` → "Castle-doctrine laws
    were not assigned at random".
    """
    subj = capitalize(subject) if capital else subject
    out = f"{subj} {agree(subject, verb, plural=plural)}"
    return f"{out} {rest}" if rest else out


_DATA_URI = re.compile(r"(data:[\w/+.-]+;base64,[A-Za-z0-9+/=\s]+)")
_ONE = re.compile(r"\b(a|an|each|every|one|per|any|single|no|average|A|An|Each|Every|One|Per|Any|"
                  r"No)"
                  r" youth(?!\w)('s)?")


def speak(text: str, population: Population | Any = None) -> str:
    """The report's own text with "youth" replaced by the configured population.

    "each youth" is replaced by the singular ("each man"), "youth" by the plural ("men").
    Embedded images are left alone; the default population leaves the text unchanged.
    """
    pop = Population.of(population)
    if pop.is_default or not text:
        return text
    parts = _DATA_URI.split(text)
    return "".join(p if _DATA_URI.fullmatch(p) else _speak(p, pop) for p in parts)


def _possessive(word: str) -> str:
    return word + ("'" if word.endswith("s") else "'s")


def _speak(text: str, pop: Population) -> str:
    def one(m: re.Match[str]) -> str:
        det = m.group(1)
        if det.lower() in ("a", "an"):
            an = pop.singular[:1].lower() in "aeiou"
            det = ("An" if an else "A") if det[0].isupper() else ("an" if an else "a")
        word = _possessive(pop.singular) if m.group(2) else pop.singular
        return f"{det} {word}"

    text = _ONE.sub(one, text)
    text = re.sub(r"\bYouth's\b", capitalize(_possessive(pop.plural)), text)
    text = re.sub(r"\byouth's\b", _possessive(pop.plural), text)
    text = re.sub(r"\bYouth\b", capitalize(pop.plural), text)
    return re.sub(r"\byouth\b", pop.plural, text)


def label(name: str, labels: Mapping[str, str] | None) -> str:
    """The display name of a column (``labels`` from the config), else the column name."""
    return (labels or {}).get(str(name), str(name))


def direction(estimate: float, lower_is_better: bool, *, ci_low: float | None = None,
              ci_high: float | None = None, null: float = 0.0) -> str:
    """Whether a change went the desired way, in words.

    The words are "a desired change", "an unwanted change", or "no clear change in either
    direction" when the interval holds ``null`` (0 for a difference, 1 for a ratio).
    """
    if ci_low is not None and ci_high is not None and not (
            math.isfinite(ci_low) and math.isfinite(ci_high)):
        return "a change whose direction cannot be judged without an interval"
    if ci_low is not None and ci_high is not None and ci_low <= null <= ci_high:
        return "no clear change in either direction"
    lower = estimate < null
    return "a desired change" if lower == bool(lower_is_better) else "an unwanted change"


def percent_change(log_points: float) -> float:
    """The percentage change exp(b) − 1 of a change of ``b`` on the log scale."""
    return math.expm1(log_points)


def _pct(x: float, digits: int) -> str:
    text = f"{100 * x:.{digits}f}"
    if text.startswith("-") and not text.strip("-0."):
        text = text[1:]  # a change that rounds to zero has no sign ("0%", not "−0%")
    return f"{text}%".replace("-", "−")


def percent_parts(b: float, lo: float, hi: float, confidence: float) -> tuple[str, str]:
    """The size of a log-scale change as a percentage and its interval, from exp(b) − 1.

    The size is unsigned ("12%": the verb carries the direction); the interval reads
    "95% CI 4% to 20%". Percentages are whole, or have one decimal when the change and both
    bounds are within ±1%.
    """
    vals = [percent_change(v) for v in (b, lo, hi)]
    digits = 0 if any(abs(v) >= 0.01 for v in vals) else 1
    p, a, z = vals
    return _pct(abs(p), digits), f"{confidence:.0%} CI {_pct(a, digits)} to {_pct(z, digits)}"


def percent_words(b: float, lo: float, hi: float, confidence: float) -> str:
    """A log-scale change and its interval as percentages: "about 12% (95% CI 4% to 20%)".

    See :func:`percent_parts`.
    """
    size, ci = percent_parts(b, lo, hi, confidence)
    return f"about {size} ({ci})"


def design_of(value: str | None, *, has_group: bool = True, template: str = "") -> str:
    """The design a report states: the config's ``design``, or today's default.

    The default is policy adoption for did, comparison group with a group, one group without.
    """
    if value:
        if value not in DESIGNS:
            raise ValueError(f"design must be one of {', '.join(DESIGNS)}, not {value!r}")
        return value
    if template == "did":
        return "policy adoption"
    return "comparison group" if has_group else "one group"


def not_random(subject: str, assigned_to: str, *, randomized: bool) -> str:
    """Whether ``subject`` was assigned to ``assigned_to`` at random, as a sentence.

    "Men were assigned to financial aid at random" or "... were not assigned ... at random",
    with the verb agreeing with ``subject``.
    """
    neg = "" if randomized else "not "
    return clause(subject, "was", f"{neg}assigned to {assigned_to} at random")


def speak_any(value: Any, population: Population | Any = None) -> Any:
    """:func:`speak` applied to a value that is or holds report text.

    The value may be a string, a :class:`~evalkit.report.html.Block`, a caution (keeping
    whether it limits the conclusion), or a list or mapping, whose values are spoken.
    """
    from evalkit.report.html import Block
    from evalkit.results import Caution

    pop = Population.of(population)
    if pop.is_default:
        return value
    if isinstance(value, Caution):
        return Caution(speak(str(value), pop), limits=value.limits)
    if isinstance(value, str):
        return speak(value, pop)
    if isinstance(value, Block):
        return Block(speak(value.html, pop), text=speak(value.text, pop))
    if isinstance(value, tuple):
        return tuple(speak_any(v, pop) for v in value)
    if isinstance(value, list):
        return [speak_any(v, pop) for v in value]
    if isinstance(value, dict):
        return {k: speak_any(v, pop) for k, v in value.items()}
    return value


def spoken(method):
    """Decorate a report method so that what it returns names the report's population.

    The population is ``self.population``; it takes the place of "youth".
    """
    import functools

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        return speak_any(method(self, *args, **kwargs), getattr(self, "population", None))

    return wrapper

"""Coverage self-check: bias and 95% confidence-interval coverage of every headline estimator.

For each design the templates accept (one-group and comparison-group pre-post, clustered by
site or not, yes/no outcomes, time to event, staggered adoption of a policy), data are
simulated with a known truth, each headline estimator is called exactly as the template calls
it, and the share of 95% intervals holding the truth is counted::

    .venv/bin/python benchmarks/coverage.py                  # 1,000 replications, every design
    .venv/bin/python benchmarks/coverage.py --reps 50 --only did
    .venv/bin/python benchmarks/coverage.py --list

Every row must cover 93–97% (the check is against that band, about three Monte Carlo standard
errors either side of 95% at 1,000 replications). A design the estimator refuses (it raises
``EvalDataError`` in every replication) passes the check: a refused number is never a wrong
one. When some replications are refused, coverage is counted over the others and the share
refused is shown. A replication that returns no interval (NaN with a caution) is counted as
withheld. Any other exception fails the row.

A row outside the band is *flagged* (and passes) when the replications a reader would see
without a warning still cover within it: outside 93% from below, the replications that carry
no limiting caution (a caution that also lowers the report's evidence rating) cover at least
93%; above 97%, those without any caution cover at most 97%. Otherwise it fails.

Each design has its own numpy ``Generator`` seeded from ``--seed`` and the design's name, so a
row is reproduced exactly whether it runs alone (``--only``) or with the others.

The page (``benchmarks/coverage.html`` by default) is self-contained: inline CSS, no scripts,
no external resources. A plain-text table goes to standard output.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import fnmatch
import html
import math
import platform
import sys
import time
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from evalkit import (  # noqa: E402
    EvalDataError,  # noqa: E402
    did,
    prepost,
    survival,
)

BAND = (0.93, 0.97)
ALPHA = 0.05

# --------------------------------------------------------------------------------------------
# Checks and designs
# --------------------------------------------------------------------------------------------

#: An estimator call: data → (estimate, ci_low, ci_high, cautions).
Call = Callable[[pd.DataFrame], tuple[float, float, float, tuple[str, ...]]]


@dataclass(frozen=True)
class Check:
    """One headline estimator applied to a design, with its true value."""

    estimator: str
    call: Call
    truth: float
    scale: str = ""


@dataclass(frozen=True)
class Design:
    """A data-generating process with known truth and the estimators the template runs on it."""

    key: str
    family: str
    label: str
    n: str
    simulate: Callable[[np.random.Generator], pd.DataFrame]
    checks: tuple[Check, ...]


def _cautions(res) -> tuple[str, ...]:
    return tuple(getattr(res, "cautions", ()) or ())


# ---- pre-post, one group --------------------------------------------------------------------

PRE_MEAN, PRE_SD = 50.0, 10.0
CHANGE = -5.0          # true mean change (and pseudo-median, for symmetric changes)
CHANGE_SD = 8.0
INT_CHANGE = -3.0      # integer scores: changes symmetric about −3 (ties and zero changes)
INT_CHANGE_SD = 6.0
SKEW_SHAPE, SKEW_SCALE = 2.0, 4.0   # right-skewed change: −5 + (Gamma(2, 4) − 8)
# Pseudo-median of the skewed change: median of (X1 + X2)/2, and (G1 + G2)/2 ~ Gamma(4, 2).
SKEW_PSEUDO_MEDIAN = CHANGE - SKEW_SHAPE * SKEW_SCALE + float(
    stats.gamma.ppf(0.5, 2 * SKEW_SHAPE, scale=SKEW_SCALE / 2))

# yes/no outcome at both times (e.g. enrolled in school): P(pre) = 0.4, P(post | pre) 0.8 / 0.35
P_PRE, P_STAY, P_GAIN = 0.4, 0.8, 0.35
P_POST = P_PRE * P_STAY + (1 - P_PRE) * P_GAIN
BINARY_PAIRED_DIFF = P_POST - P_PRE


def _one_group(shape: str, n: int) -> Callable[[np.random.Generator], pd.DataFrame]:
    def simulate(rng: np.random.Generator) -> pd.DataFrame:
        if shape == "normal":
            pre = rng.normal(PRE_MEAN, PRE_SD, n)
            post = pre + rng.normal(CHANGE, CHANGE_SD, n)
        elif shape == "integer":
            pre = np.round(rng.normal(PRE_MEAN, PRE_SD, n))
            post = pre + INT_CHANGE + np.round(rng.normal(0.0, INT_CHANGE_SD, n))
        else:  # skewed
            pre = rng.normal(PRE_MEAN, PRE_SD, n)
            post = pre + CHANGE + rng.gamma(SKEW_SHAPE, SKEW_SCALE, n) - SKEW_SHAPE * SKEW_SCALE
        school_pre = (rng.random(n) < P_PRE).astype(float)
        school_post = (rng.random(n) < np.where(school_pre == 1, P_STAY, P_GAIN)).astype(float)
        return pd.DataFrame({"pre": pre, "post": post, "school_pre": school_pre,
                             "school_post": school_post})
    return simulate


def _paired_change(df: pd.DataFrame):
    r = prepost.paired_change(df, pre="pre", post="post", alpha=ALPHA)
    return r.mean_diff, r.ci_low, r.ci_high, _cautions(r)


def _signed_rank(df: pd.DataFrame):
    r = prepost.signed_rank(df, pre="pre", post="post", alpha=ALPHA)
    return r.estimate, r.ci_low, r.ci_high, _cautions(r)


def _mcnemar(df: pd.DataFrame):
    r = prepost.mcnemar(df, pre="school_pre", post="school_post", alpha=ALPHA)
    return r.diff, r.diff_ci_low, r.diff_ci_high, _cautions(r)


def prepost_designs() -> list[Design]:
    out = []
    for shape, truth_mean, truth_hl, words in (
        ("normal", CHANGE, CHANGE, "normal scores"),
        ("integer", INT_CHANGE, INT_CHANGE, "whole-number scores (ties, zero changes)"),
        ("skewed", CHANGE, SKEW_PSEUDO_MEDIAN, "right-skewed changes"),
    ):
        for n in (10, 20, 40, 100):
            checks = [Check("paired_change: mean change", _paired_change, truth_mean),
                      Check("signed_rank: Hodges–Lehmann", _signed_rank, truth_hl)]
            if shape == "normal":
                checks.append(Check("mcnemar: paired difference (Newcombe)", _mcnemar,
                                    BINARY_PAIRED_DIFF))
            out.append(Design(f"prepost-{shape}-n{n}", "Pre-post, one group",
                              f"One group, {words}", f"{n}", _one_group(shape, n),
                              tuple(checks)))
    return out


# ---- pre-post with a comparison group ---------------------------------------------------------

EFFECT = -4.0          # ANCOVA: true program effect on the follow-up score
SLOPE = 0.7
SD_COMPARISON, SD_PROGRAM = 6.0, 9.0   # heteroskedastic: HC2's job
SITE_SD = 3.0          # site effect on the follow-up score (clustered designs)
P_COMPARISON, P_PROGRAM = 0.35, 0.55   # yes/no follow-up outcome by group
SITE_P_SHIFT = 0.10    # site shifts of the yes/no probability: uniform(−0.10, 0.10)
YOUTH_PER_SITE = 15


def _two_groups(n_per_group: int) -> Callable[[np.random.Generator], pd.DataFrame]:
    def simulate(rng: np.random.Generator) -> pd.DataFrame:
        g = np.repeat([1.0, 0.0], n_per_group)
        pre = rng.normal(PRE_MEAN, PRE_SD, 2 * n_per_group) + 2.0 * (g == 0)
        sd = np.where(g == 1, SD_PROGRAM, SD_COMPARISON)
        post = 15.0 + SLOPE * pre + EFFECT * g + rng.normal(0.0, 1.0, g.size) * sd
        school = (rng.random(g.size) < np.where(g == 1, P_PROGRAM, P_COMPARISON)).astype(float)
        return pd.DataFrame({"pre": pre, "post": post, "program": g, "school_post": school})
    return simulate


def _clustered(sites: int, split: bool) -> Callable[[np.random.Generator], pd.DataFrame]:
    """``split``: the program runs at half the sites (the others are the comparison);
    otherwise every site has program and comparison youth."""
    def simulate(rng: np.random.Generator) -> pd.DataFrame:
        m = YOUTH_PER_SITE
        site = np.repeat(np.arange(sites), m)
        if split:
            g = (site < sites // 2).astype(float) if sites > 1 else np.zeros(site.size)
        else:
            g = np.tile((np.arange(m) < (m + 1) // 2).astype(float), sites)
        u = rng.normal(0.0, SITE_SD, sites)[site]
        pre = rng.normal(PRE_MEAN, PRE_SD, site.size) + 2.0 * (g == 0)
        sd = np.where(g == 1, SD_PROGRAM, SD_COMPARISON)
        post = 15.0 + SLOPE * pre + EFFECT * g + u + rng.normal(0.0, 1.0, g.size) * sd
        shift = rng.uniform(-SITE_P_SHIFT, SITE_P_SHIFT, sites)[site]
        p = np.where(g == 1, P_PROGRAM, P_COMPARISON) + shift
        school = (rng.random(g.size) < p).astype(float)
        return pd.DataFrame({"pre": pre, "post": post, "program": g, "school_post": school,
                             "site": [f"site {s + 1}" for s in site]})
    return simulate


def _ancova(cluster: str | None) -> Call:
    def call(df: pd.DataFrame):
        r = prepost.compare_groups(df, "pre", "post", "program", cluster=cluster,
                                   lower_is_better=True, alpha=ALPHA)
        return r.estimate, r.ci_low, r.ci_high, _cautions(r)
    return call


def _proportions(cluster: str | None) -> Call:
    """As the prepost template calls it: with the evaluation's cluster column, if any."""
    def call(df: pd.DataFrame):
        r = prepost.compare_proportions(df, "school_post", "program", cluster=cluster,
                                        alpha=ALPHA)
        return r.diff, r.diff_ci_low, r.diff_ci_high, _cautions(r)
    return call


def comparison_designs() -> list[Design]:
    out = []
    for n in (10, 20, 40, 100):
        out.append(Design(
            f"groups-n{n}", "Pre-post, comparison group",
            "Program vs comparison, unequal variances", f"{n} + {n}", _two_groups(n),
            (Check("compare_groups: ANCOVA (HC2)", _ancova(None), EFFECT),
             Check("compare_proportions: difference (Newcombe)", _proportions(None),
                   P_PROGRAM - P_COMPARISON))))
    for split in (True, False):
        for sites in (2, 4, 8, 20):
            how = "program at half the sites" if split else "both groups at every site"
            out.append(Design(
                f"groups-{'split' if split else 'mixed'}-sites{sites}",
                "Pre-post, comparison group, clustered by site",
                f"{sites} sites, {how}", f"{sites}×{YOUTH_PER_SITE}",
                _clustered(sites, split),
                (Check("compare_groups: ANCOVA (CR1)", _ancova("site"), EFFECT),
                 Check("compare_proportions: difference (CR1)", _proportions("site"),
                       P_PROGRAM - P_COMPARISON))))
    return out


# ---- time to event ---------------------------------------------------------------------------

HR = 0.6
TAU = 180.0


def _rmst_exp(rate: float, tau: float = TAU) -> float:
    return (1.0 - math.exp(-rate * tau)) / rate


@dataclass(frozen=True)
class Censoring:
    name: str
    median_comparison: float   # median time to event in the comparison group (days)
    follow_low: float          # administrative follow-up: uniform(low, high) days
    follow_high: float
    dropout_median: float      # random loss to follow-up, exponential


HEAVY = Censoring("heavy censoring", 450.0, 180.0, 540.0, 600.0)
MODERATE = Censoring("moderate censoring", 250.0, 270.0, 540.0, 1500.0)


def _survival(n: int, c: Censoring) -> Callable[[np.random.Generator], pd.DataFrame]:
    rate0 = math.log(2) / c.median_comparison

    def simulate(rng: np.random.Generator) -> pd.DataFrame:
        g = np.repeat([1.0, 0.0], n)
        rate = rate0 * np.where(g == 1, HR, 1.0)
        t = rng.exponential(1.0 / rate)
        follow = rng.uniform(c.follow_low, c.follow_high, g.size)
        drop = rng.exponential(c.dropout_median / math.log(2), g.size)
        end = np.minimum(follow, drop)
        event = (t <= end).astype(float)
        days = np.ceil(np.minimum(t, end))          # whole days: tied times
        return pd.DataFrame({"days": days, "event": event, "program": g})
    return simulate


def _cox(df: pd.DataFrame):
    r = survival.cox(df, "days", "event", ["program"], ties="efron", alpha=ALPHA)
    row = r.to_frame().iloc[0]
    return (float(row["coef"]), math.log(row["hr_ci_low"]), math.log(row["hr_ci_high"]),
            _cautions(r))


def _rmst(df: pd.DataFrame):
    r = survival.rmst(df, "days", "event", "program", tau=TAU, order=(0, 1), alpha=ALPHA)
    return r.diff, r.diff_ci_low, r.diff_ci_high, _cautions(r)


def survival_designs() -> list[Design]:
    out = []
    for n, c in ((20, HEAVY), (40, HEAVY), (100, HEAVY), (100, MODERATE), (300, MODERATE)):
        rate0 = math.log(2) / c.median_comparison
        out.append(Design(
            f"survival-{c.name.split()[0]}-n{n}", "Time to event", f"Two groups, {c.name}",
            f"{n} + {n}", _survival(n, c),
            (Check("cox: log hazard ratio (Efron)", _cox, math.log(HR), "log HR"),
             Check(f"rmst: difference to {TAU:g} days", _rmst,
                   _rmst_exp(rate0 * HR) - _rmst_exp(rate0), "days"))))
    return out


# ---- staggered adoption (difference-in-differences) -----------------------------------------

STATES = 50
YEARS = np.arange(2005, 2020)            # 15 periods
ADOPTION = (2012, 2010, 2014, 2016)      # cohorts are filled in this order
DID_EFFECT = 1.0
AR = 0.5                                 # serial correlation of the state-year errors


def _cohorts(treated: int) -> np.ndarray:
    """First-treated year of every state (0 for never treated)."""
    first = np.zeros(STATES)
    first[:treated] = [ADOPTION[i % len(ADOPTION)] for i in range(treated)]
    return first


def _dynamic_effect(e: np.ndarray) -> np.ndarray:
    return 0.5 + 0.2 * e                 # grows by 0.2 a year after adoption


def _simple_truth(treated: int, dynamic: bool) -> float:
    """The estimand of the ``"simple"`` aggregation: post-adoption ATT(g, t), each weighted by
    its cohort's size."""
    if not dynamic:
        return DID_EFFECT
    first = _cohorts(treated)
    num = den = 0.0
    for gy in np.unique(first[first > 0]):
        size = float((first == gy).sum())
        e = YEARS[YEARS >= gy] - gy
        num += size * _dynamic_effect(e).sum()
        den += size * e.size
    return num / den


def _panel(treated: int, dynamic: bool) -> Callable[[np.random.Generator], pd.DataFrame]:
    first = _cohorts(treated)
    T = YEARS.size
    unit = np.repeat(np.arange(STATES), T)
    year = np.tile(YEARS, STATES)
    g = first[unit]
    d = ((g > 0) & (year >= g)).astype(float)
    eff = np.where(d == 1, _dynamic_effect(year - g) if dynamic else DID_EFFECT, 0.0)
    names = np.array([f"state {i + 1:02d}" for i in range(STATES)])[unit]

    def simulate(rng: np.random.Generator) -> pd.DataFrame:
        a = rng.normal(0.0, 2.0, STATES)[unit]
        b = np.cumsum(rng.normal(0.1, 0.3, T))[np.tile(np.arange(T), STATES)]
        eps = rng.normal(0.0, 1.0, (STATES, T))
        e = np.empty_like(eps)
        e[:, 0] = eps[:, 0]
        for t in range(1, T):
            e[:, t] = AR * e[:, t - 1] + math.sqrt(1 - AR ** 2) * eps[:, t]
        y = 10.0 + a + b + eff + e.ravel()
        return pd.DataFrame({"state": names, "year": year, "first_treated": g.astype(int),
                             "law": d, "y": y})
    return simulate


def _staggered(df: pd.DataFrame):
    cs = did.staggered(df, "y", "state", "year", "first_treated", alpha=ALPHA)
    a = cs.aggregate("simple")
    return a.estimate, a.ci_low, a.ci_high, _cautions(cs) + _cautions(a)


def _twfe(df: pd.DataFrame):
    r = did.twfe(df, "y", "state", "year", "law", alpha=ALPHA)
    row = r.to_frame().iloc[0]
    return float(row["estimate"]), float(row["ci_low"]), float(row["ci_high"]), _cautions(r)


def did_designs() -> list[Design]:
    out = []
    for treated in (1, 2, 3, 5, 10, 20, 35):
        out.append(Design(
            f"did-constant-treated{treated}", "Staggered adoption (DiD)",
            f"{treated} of {STATES} states adopt, constant effect",
            f"{treated}/{STATES} × {YEARS.size}", _panel(treated, False),
            (Check("staggered: simple ATT", _staggered, DID_EFFECT),
             Check("twfe: law coefficient (CRV1)", _twfe, DID_EFFECT))))
    for treated in (5, 10, 35):
        out.append(Design(
            f"did-growing-treated{treated}", "Staggered adoption (DiD)",
            f"{treated} of {STATES} states adopt, effect grows after adoption",
            f"{treated}/{STATES} × {YEARS.size}", _panel(treated, True),
            (Check("staggered: simple ATT", _staggered, _simple_truth(treated, True)),)))
    return out


def all_designs() -> list[Design]:
    return prepost_designs() + comparison_designs() + survival_designs() + did_designs()


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------


@dataclass
class Row:
    design: Design
    check: Check
    reps: int
    estimates: list[float] = field(default_factory=list)
    covered: list[bool] = field(default_factory=list)
    widths: list[float] = field(default_factory=list)
    refused: int = 0
    refusal: str = ""
    withheld: int = 0
    errors: int = 0
    error: str = ""
    cautioned: int = 0
    limited: int = 0
    #: coverage of the replications that carry no limiting caution / no caution at all
    covered_unlimited: list[bool] = field(default_factory=list)
    covered_uncautioned: list[bool] = field(default_factory=list)
    cautions: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    # ---- summaries
    @property
    def ok(self) -> int:
        return len(self.covered)

    @property
    def coverage(self) -> float:
        return float(np.mean(self.covered)) if self.covered else math.nan

    @property
    def mcse(self) -> float:
        p = self.coverage
        return math.sqrt(p * (1 - p) / self.ok) if self.ok else math.nan

    @property
    def bias(self) -> float:
        est = np.asarray(self.estimates, float)
        est = est[np.isfinite(est)]
        return float(est.mean() - self.check.truth) if est.size else math.nan

    @property
    def bias_mcse(self) -> float:
        est = np.asarray(self.estimates, float)
        est = est[np.isfinite(est)]
        return float(est.std(ddof=1) / math.sqrt(est.size)) if est.size > 1 else math.nan

    @property
    def width(self) -> float:
        return float(np.median(self.widths)) if self.widths else math.nan

    @property
    def status(self) -> str:
        if self.errors:
            return "error"
        if self.ok == 0:
            return "refused" if self.refused else "withheld"
        if BAND[0] <= self.coverage <= BAND[1]:
            return "pass"
        # outside the band but flagged: the replications a reader would see without a warning
        # cover within the band. Too narrow: those without a limiting caution (which also
        # lowers the report's rating) cover at least 93%; too wide (conservative): those
        # without any caution cover at most 97%.
        if self.coverage < BAND[0]:
            rest = self.covered_unlimited
            ok = not rest or float(np.mean(rest)) >= BAND[0]
        else:
            rest = self.covered_uncautioned
            ok = not rest or float(np.mean(rest)) <= BAND[1]
        return "flagged" if ok else "FAIL"

    @property
    def unflagged(self) -> str:
        """Coverage of the replications shown without the relevant caution (text)."""
        rest = self.covered_unlimited if self.coverage < BAND[0] else self.covered_uncautioned
        return f"{100 * float(np.mean(rest)):.1f}% of {len(rest)}" if rest else "none"

    @property
    def passed(self) -> bool:
        return self.status in ("pass", "refused", "withheld", "flagged")

    @property
    def top_caution(self) -> str:
        if not self.cautions:
            return ""
        return max(self.cautions.items(), key=lambda kv: kv[1])[0]


def design_rng(seed: int, key: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(key.encode())])


def run_design(design: Design, reps: int, seed: int) -> list[Row]:
    rng = design_rng(seed, design.key)
    rows = [Row(design, c, reps) for c in design.checks]
    for _ in range(reps):
        df = design.simulate(rng)
        for row in rows:
            t0 = time.perf_counter()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    est, lo, hi, cautions = row.check.call(df)
            except EvalDataError as exc:
                row.refused += 1
                row.refusal = row.refusal or " ".join(str(exc).split())
                continue
            except Exception as exc:  # noqa: BLE001 - any other exception is a failure
                row.errors += 1
                row.error = row.error or f"{type(exc).__name__}: {' '.join(str(exc).split())}"
                continue
            finally:
                row.seconds += time.perf_counter() - t0
            if any(getattr(c, "limits", True) for c in cautions):
                row.limited += 1
            if cautions:
                row.cautioned += 1
                for c in set(cautions):
                    row.cautions[c] = row.cautions.get(c, 0) + 1
            est, lo, hi = float(est), float(lo), float(hi)
            if math.isfinite(est):
                row.estimates.append(est)
            if math.isfinite(lo) and math.isfinite(hi):
                hit = lo <= row.check.truth <= hi
                row.covered.append(hit)
                row.widths.append(hi - lo)
                if not any(getattr(c, "limits", True) for c in cautions):
                    row.covered_unlimited.append(hit)
                if not cautions:
                    row.covered_uncautioned.append(hit)
            else:
                row.withheld += 1
    return rows


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


def _f(x: float, digits: int = 3) -> str:
    return "—" if not math.isfinite(x) else f"{x:.{digits}f}"


def _pct(x: float, digits: int = 1) -> str:
    return "—" if not math.isfinite(x) else f"{100 * x:.{digits}f}%"


def _notes(row: Row) -> str:
    parts = []
    if row.status == "refused":
        parts.append(f"refused: {row.refusal}")
    elif row.refused:
        parts.append(f"refused in {row.refused}/{row.reps} replications ({row.refusal})")
    if row.withheld:
        parts.append(f"no interval in {row.withheld}/{row.reps}")
    if row.errors:
        parts.append(f"raised {row.errors}/{row.reps}: {row.error}")
    if row.cautioned:
        parts.append(f"caution in {row.cautioned}/{row.reps}: {row.top_caution}")
    if row.status in ("flagged", "FAIL"):
        parts.insert(0, f"coverage without the warning caution: {row.unflagged}")
    return "; ".join(parts)


def text_table(rows: list[Row]) -> str:
    head = (f"{'design':<34} {'estimator':<44} {'n':>12} {'truth':>8} {'bias':>8} "
            f"{'(MCSE)':>7} {'coverage':>8} {'MCSE':>6} {'status':<8} notes")
    lines = [head, "-" * len(head)]
    for r in rows:
        cov = "—" if r.ok == 0 else _pct(r.coverage)
        mc = "—" if r.ok == 0 else _pct(r.mcse)
        note = _notes(r)
        if len(note) > 140:
            note = note[:137] + "..."
        bias_mcse = f"({_f(r.bias_mcse)})"
        lines.append(f"{r.design.key:<34} {r.check.estimator:<44} {r.design.n:>12} "
                     f"{r.check.truth:>8.3f} {_f(r.bias):>8} {bias_mcse:>7} {cov:>8} "
                     f"{mc:>6} {r.status:<8} {note}")
    return "\n".join(lines)


CSS = """
:root { --ink:#1d2430; --muted:#5b6472; --rule:#d8dde5; --accent:#0072b2; --soft:#f4f6f9;
        --warn:#9a5b00; --bad:#b3261e; --good:#1b7f3b; }
* { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin:0 auto; max-width:78rem; padding:2rem 1.5rem 4rem; color:var(--ink);
       font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
       sans-serif; line-height:1.5; background:#fff; }
h1 { font-size:1.9rem; line-height:1.2; margin:0 0 .3rem; }
h2 { font-size:1.35rem; margin:2.2rem 0 .6rem; padding-bottom:.25rem;
     border-bottom:2px solid var(--rule); }
p, li { max-width:52rem; }
.subtitle, .note { color:var(--muted); }
.note { font-size:.9rem; }
.glance { background:var(--soft); border-left:5px solid var(--accent); padding:.9rem 1.2rem;
          margin:1rem 0; }
.glance .headline { font-size:1.15rem; font-weight:600; margin:0 0 .4rem; }
.glance dl { display:grid; grid-template-columns:max-content 1fr; gap:.2rem 1rem; margin:0; }
.glance dt { color:var(--muted); } .glance dd { margin:0; }
table { border-collapse:collapse; margin:.6rem 0 .3rem; font-size:.88rem; width:100%; }
caption { text-align:left; font-weight:600; padding-bottom:.3rem; }
th, td { padding:.28rem .6rem; border-bottom:1px solid var(--rule); text-align:right;
         vertical-align:top; }
th.l, td.l { text-align:left; }
thead th { border-bottom:2px solid var(--ink); }
td.notes { text-align:left; color:var(--muted); font-size:.8rem; max-width:28rem; }
.st { font-weight:600; white-space:nowrap; }
.st-pass { color:var(--good); } .st-refused, .st-withheld, .st-flagged { color:var(--warn); }
.st-FAIL, .st-error { color:var(--bad); }
tr.bad td { background:#fdf0ef; }
.bar { position:relative; display:inline-block; width:7rem; height:.7rem; background:var(--soft);
       border:1px solid var(--rule); vertical-align:middle; margin-left:.4rem; }
.bar .band { position:absolute; top:0; bottom:0; background:#cfe8d6; }
.bar .mark { position:absolute; top:-2px; bottom:-2px; width:2px; background:var(--ink); }
"""


def _bar(cov: float, mcse: float) -> str:
    """A tiny coverage gauge from 80% to 100% with the 93–97% band shaded."""
    if not math.isfinite(cov):
        return ""
    lo, hi = 0.80, 1.00

    def pos(x: float) -> float:
        return 100 * (min(max(x, lo), hi) - lo) / (hi - lo)

    return (f"<span class='bar' title='coverage {_pct(cov)} ± {_pct(1.96 * mcse)}'>"
            f"<span class='band' style='left:{pos(BAND[0]):.1f}%;"
            f"width:{pos(BAND[1]) - pos(BAND[0]):.1f}%'></span>"
            f"<span class='mark' style='left:{pos(cov):.1f}%'></span></span>")


def _source_state() -> str:
    """The commit the estimators came from, and whether the working tree had changes."""
    import subprocess

    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--",
                                "evalkit"], capture_output=True, text=True,
                               timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if not head:
        return "unknown"
    return f"commit {head}" + (" with uncommitted changes to evalkit/" if dirty else "")


def _outside(rows: list[Row]) -> list[str]:
    failing = [r for r in rows if not r.passed]
    if not failing:
        return []
    items = "".join(
        f"<li><b>{html.escape(r.check.estimator)}</b>, {html.escape(r.design.label.lower())} "
        f"(n = {html.escape(r.design.n)}): "
        + (f"coverage {_pct(r.coverage)} ± {_pct(r.mcse)}" if r.ok else html.escape(r.status))
        + (f", bias {r.bias:+.3f}" if math.isfinite(r.bias) else "") + "</li>"
        for r in failing)
    return ["<h2>Outside the band</h2>",
            "<p>These designs are accepted by a template but their intervals do not hold the "
            "truth 93–97% of the time. Each needs the estimator to refuse it, or the template "
            "to flag it, rather than report the interval.</p>", f"<ul>{items}</ul>"]


def _partly_refused(rows: list[Row]) -> list[str]:
    part = [r for r in rows if r.refused and r.ok]
    if not part:
        return []
    items = "".join(
        f"<li><b>{html.escape(r.check.estimator)}</b>, {html.escape(r.design.label.lower())} "
        f"(n = {html.escape(r.design.n)}): refused in {r.refused} of {r.reps} "
        f"replications: <i>{html.escape(r.refusal)}</i></li>" for r in part)
    return ["<h2>Refused in some replications</h2>",
            "<p>A refusal with a clear message is never a wrong number, but a refusal on data "
            "where a standard analysis gives an answer is a gap to close. Coverage above counts "
            "the replications that were not refused.</p>", f"<ul>{items}</ul>"]


def html_page(rows: list[Row], args: argparse.Namespace, seconds: float) -> str:
    e = html.escape
    n_pass = sum(r.passed for r in rows)
    failing = [r for r in rows if not r.passed]
    refused = [r for r in rows if r.status == "refused"]
    headline = (f"All {len(rows)} checks pass." if not failing else
                f"{len(failing)} of {len(rows)} checks fall outside {BAND[0]:.0%}–{BAND[1]:.0%}.")
    glance = {
        "Replications per design": f"{args.reps:,}",
        "Seed": str(args.seed),
        "Checks": f"{len(rows)} ({n_pass} pass, {len(refused)} of them refused by the estimator)",
        "Required coverage": f"{BAND[0]:.0%}–{BAND[1]:.0%} of nominal 95% intervals",
        "Run time": f"{seconds / 60:.1f} minutes",
        "Generated": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "Source": _source_state(),
        "Python": platform.python_version(),
    }
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        "<title>evalkit coverage self-check</title>", f"<style>{CSS}</style></head><body><main>",
        "<h1>Coverage self-check</h1>",
        "<p class='subtitle'>Do evalkit's 95% confidence intervals hold the true effect 95% of "
        "the time, on the data shapes evaluations really have?</p>",
        "<div class='glance'>", f"<p class='headline'>{e(headline)}</p><dl>",
        *[f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in glance.items()],
        "</dl></div>",
        *_outside(rows),
        *_partly_refused(rows),
        "<h2>How to read this page</h2>",
        "<p>Each design simulates data many times with a known true effect and calls the "
        "estimator exactly as the report template does. <b>Coverage</b> is the share of 95% "
        "intervals that contain the truth; it must lie between 93% and 97% (about three Monte "
        "Carlo standard errors, <b>MCSE</b>, either side of 95% at 1,000 replications). "
        "<b>Bias</b> is the average estimate minus the truth. A design the estimator refuses "
        "with a clear message passes: a refused number is never a wrong one. When only some "
        "replications are refused, coverage counts the others.</p>",
    ]
    for family in dict.fromkeys(r.design.family for r in rows):
        fam = [r for r in rows if r.design.family == family]
        parts.append(f"<h2>{e(family)}</h2>")
        parts.append("<table><thead><tr><th class='l'>Design</th><th class='l'>Estimator</th>"
                     "<th>n</th><th>Truth</th><th>Bias (MCSE)</th><th>Median CI width</th>"
                     "<th>Coverage</th><th>MCSE</th><th class='l'>Check</th>"
                     "<th class='l'>Notes</th></tr></thead><tbody>")
        for r in fam:
            cov = "—" if r.ok == 0 else _pct(r.coverage)
            mc = "—" if r.ok == 0 else _pct(r.mcse)
            bias = "—" if not math.isfinite(r.bias) else f"{r.bias:+.3f} ({_f(r.bias_mcse)})"
            cls = "" if r.passed else " class='bad'"
            parts.append(
                f"<tr{cls}><td class='l'>{e(r.design.label)}<br><span class='note'>"
                f"{e(r.design.key)}</span></td><td class='l'>{e(r.check.estimator)}</td>"
                f"<td>{e(r.design.n)}</td><td>{r.check.truth:.3f}"
                f"{(' ' + e(r.check.scale)) if r.check.scale else ''}</td><td>{e(bias)}</td>"
                f"<td>{_f(r.width)}</td><td>{cov}{_bar(r.coverage, r.mcse)}</td><td>{mc}</td>"
                f"<td class='l st st-{r.status}'>{e(r.status)}</td>"
                f"<td class='notes'>{e(_notes(r))}</td></tr>")
        parts.append("</tbody></table>")
    parts += [
        "<h2>Designs</h2><ul>",
        f"<li>Pre-post, one group: pre score N({PRE_MEAN:g}, {PRE_SD:g}); change "
        f"N({CHANGE:g}, {CHANGE_SD:g}) (normal), {INT_CHANGE:g} + round(N(0, {INT_CHANGE_SD:g})) "
        f"on whole-number scores, or {CHANGE:g} + Gamma({SKEW_SHAPE:g}, {SKEW_SCALE:g}) − "
        f"{SKEW_SHAPE * SKEW_SCALE:g} (right-skewed; the Hodges–Lehmann truth is its "
        f"pseudo-median, {SKEW_PSEUDO_MEDIAN:.3f}). Yes/no outcome: P(yes before) = {P_PRE:g}, "
        f"P(yes after | yes before) = {P_STAY:g}, P(yes after | no before) = {P_GAIN:g}.</li>",
        f"<li>Comparison group: follow-up = 15 + {SLOPE:g}·pre + ({EFFECT:g})·program + error, "
        f"error SD {SD_PROGRAM:g} (program) and {SD_COMPARISON:g} (comparison); clustered "
        f"designs add a site effect N(0, {SITE_SD:g}) and {YOUTH_PER_SITE} youth per site. "
        f"Yes/no follow-up outcome: {P_PROGRAM:g} vs {P_COMPARISON:g}, shifted by "
        f"uniform(−{SITE_P_SHIFT:g}, {SITE_P_SHIFT:g}) per site when clustered (the truth is the "
        "population difference; the template's difference in proportions ignores sites).</li>",
        f"<li>Time to event: exponential times, hazard ratio {HR:g}, whole days (ties); "
        f"heavy censoring: comparison median {HEAVY.median_comparison:g} days, follow-up "
        f"uniform({HEAVY.follow_low:g}, {HEAVY.follow_high:g}), dropout median "
        f"{HEAVY.dropout_median:g}; moderate: median {MODERATE.median_comparison:g}, follow-up "
        f"uniform({MODERATE.follow_low:g}, {MODERATE.follow_high:g}), dropout median "
        f"{MODERATE.dropout_median:g}. RMST to {TAU:g} days (program − comparison).</li>",
        f"<li>Staggered adoption: {STATES} states, {YEARS[0]}–{YEARS[-1]}, adoption years "
        f"{', '.join(map(str, ADOPTION))} filled in turn, state effects N(0, 2), a common "
        f"random-walk trend, AR(1) errors (ρ = {AR:g}); effect {DID_EFFECT:g} (constant) or "
        "0.5 + 0.2 × years since adoption (growing; the truth is the simple aggregation's "
        "cohort-size-weighted average of post-adoption ATT(g, t)). Never-treated comparison, "
        "analytic standard errors, as the template runs it.</li>",
        "</ul>",
        f"<p class='note'>Command: <code>{e(' '.join(sys.argv))}</code>. Each design has its "
        "own random-number generator seeded from the seed and the design's name.</p>",
        "</main></body></html>",
    ]
    return "\n".join(parts)


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=1000, help="replications per design (1000)")
    ap.add_argument("--seed", type=int, default=2026, help="base seed (2026)")
    ap.add_argument("--only", action="append", default=[], metavar="TEXT",
                    help="run designs whose key contains TEXT or matches it as a glob "
                         "(repeatable), e.g. did, prepost-normal, 'groups-n10', 'did-*-treated5'")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "coverage.html",
                    help="HTML page to write (default benchmarks/coverage.html)")
    ap.add_argument("--list", action="store_true", help="list the designs and exit")
    args = ap.parse_args(argv)

    designs = all_designs()
    if args.only:
        designs = [d for d in designs
                   if any(s in d.key or fnmatch.fnmatchcase(d.key, s) for s in args.only)]
        if not designs:
            ap.error(f"no design key contains any of {args.only}")
    if args.list:
        for d in designs:
            print(f"{d.key:<34} {d.label} [{', '.join(c.estimator for c in d.checks)}]")
        return 0

    t0 = time.perf_counter()
    rows: list[Row] = []
    for d in designs:
        t1 = time.perf_counter()
        new = run_design(d, args.reps, args.seed)
        rows += new
        summary = ", ".join(
            f"{r.check.estimator.split(':')[0]} {r.status}"
            + ("" if r.ok == 0 else f" {_pct(r.coverage)}") for r in new)
        print(f"[{time.perf_counter() - t1:6.1f}s] {d.key}: {summary}", file=sys.stderr,
              flush=True)
    seconds = time.perf_counter() - t0

    print(text_table(rows))
    failing = [r for r in rows if not r.passed]
    print(f"\n{len(rows) - len(failing)} of {len(rows)} checks pass "
          f"({args.reps} replications, seed {args.seed}, {seconds / 60:.1f} min).")
    for r in failing:
        print(f"  outside {BAND[0]:.0%}-{BAND[1]:.0%}: {r.design.key} / {r.check.estimator}: "
              f"{r.status}, coverage {_pct(r.coverage)}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(html_page(rows, args, seconds), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0 if not failing else 1


if __name__ == "__main__":
    raise SystemExit(main())

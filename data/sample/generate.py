"""Generate evalkit's synthetic sample data (seeded; rerun to reproduce the files exactly).

    python data/sample/generate.py

Every file is SYNTHETIC: no row describes a real person. Case ids are made to look like real
case-management ids so that the report leak check has something to catch.

The true values built into each file are written to ``truth.json`` beside the data and
documented in ``README.md``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
SEED = 20261128
SCORE_MIN, SCORE_MAX = 0, 80

#: Survivor-mentoring sites: enrolment, latent severity mean, true mean change, attrition.
MENTORING_SITES = {
    "a": {"n": 160, "mu": 42.0, "delta": -8.0, "attrition": 0.30, "prefix": "MLM", "year": 2024},
    "b": {"n": 120, "mu": 38.0, "delta": -3.0, "attrition": 0.28, "prefix": "MLB", "year": 2024},
}
LATENT_SD = 10.0  # between-youth SD of true severity
ERROR_SD = 5.0  # measurement error SD at each occasion (reliability 100/125 = 0.80)
EFFECT_SD = 4.0  # between-youth SD of the true change
DROPOUT_SLOPE = 0.6  # log-odds of dropping out per SD of intake score above the site mean


def _score(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), SCORE_MIN, SCORE_MAX)


#: School enrolment: log-odds at intake fall with severity; transitions by six months.
SCHOOL_INTAKE_LOGIT = 0.2
SCHOOL_SEVERITY_SLOPE = -0.05  # per point of true severity above the site mean
P_STAY_ENROLLED = 0.90
P_ENROL = 0.35


def _simulate(rng: np.random.Generator, n: int, mu: float, delta: float, attrition: float):
    """Scores for ``n`` youth: intake, six-month score (before dropout), dropout, and school
    enrolment at both times."""
    latent = rng.normal(mu, LATENT_SD, n)
    pre = _score(latent + rng.normal(0, ERROR_SD, n))
    change = rng.normal(delta, EFFECT_SD, n)
    post = _score(latent + change + rng.normal(0, ERROR_SD, n))
    z = (pre - mu) / np.sqrt(LATENT_SD**2 + ERROR_SD**2)
    a = np.log(attrition / (1 - attrition))
    drop = rng.random(n) < 1 / (1 + np.exp(-(a + DROPOUT_SLOPE * z)))
    p_school = 1 / (1 + np.exp(-(SCHOOL_INTAKE_LOGIT + SCHOOL_SEVERITY_SLOPE * (latent - mu))))
    school_pre = rng.random(n) < p_school
    u = rng.random(n)
    school_post = np.where(school_pre, u < P_STAY_ENROLLED, u < P_ENROL)
    return pre, post, drop, school_pre.astype(int), school_post.astype(int)


def _case_ids(rng: np.random.Generator, prefix: str, n: int) -> list[str]:
    numbers = rng.choice(np.arange(1000, 99999), size=n, replace=False)
    return [f"{prefix}-{k:05d}" for k in numbers]


def mentoring_site(rng: np.random.Generator, site: str) -> pd.DataFrame:
    s = MENTORING_SITES[site]
    pre, post, drop, sch_pre, sch_post = _simulate(rng, s["n"], s["mu"], s["delta"],
                                                   s["attrition"])
    ages = rng.choice(np.arange(12, 18), size=s["n"], p=[0.06, 0.12, 0.2, 0.24, 0.22, 0.16])
    return pd.DataFrame(
        {
            "case_id": _case_ids(rng, s["prefix"], s["n"]),
            "site": site.upper(),
            "age": ages,
            "enrolled_year": s["year"],
            "ts_intake": pre.astype(int),
            "ts_6mo": pd.array(np.where(drop, np.nan, post), dtype="Int64"),
            "school_intake": sch_pre,
            "school_6mo": pd.array(np.where(drop, np.nan, sch_post), dtype="Int64"),
        }
    )


def mentoring_truth(site: str, draws: int = 2_000_000) -> dict:
    """True values of a site's data-generating process (Monte Carlo for the completer mean)."""
    s = MENTORING_SITES[site]
    rng = np.random.default_rng(SEED + 1000 + ord(site))
    pre, post, drop, sch_pre, sch_post = _simulate(rng, draws, s["mu"], s["delta"],
                                                   s["attrition"])
    keep = ~drop
    change = post - pre
    return {
        "file": f"mentoring_site_{site}.csv",
        "n_enrolled": s["n"],
        "true_mean_change_all_enrolled": s["delta"],
        "true_mean_change_completers": round(float(change[keep].mean()), 3),
        # Population d_av among completers: mean change / mean of the pre and post SDs.
        "true_d_av_completers": round(
            float(change[keep].mean() / ((pre[keep].std() + post[keep].std()) / 2)), 3
        ),
        "expected_attrition": round(float(drop.mean()), 3),
        "reliability": LATENT_SD**2 / (LATENT_SD**2 + ERROR_SD**2),
        "true_school_change_completers": round(float(sch_post[keep].mean()
                                                     - sch_pre[keep].mean()), 4),
        "true_school_change_all_enrolled": round(
            P_STAY_ENROLLED * float(sch_pre.mean()) + P_ENROL * (1 - float(sch_pre.mean()))
            - float(sch_pre.mean()), 4),
        "monte_carlo_draws": draws,
    }


#: Life-skills group with a waiting-list comparison group (a comparison-group design).
LIFESKILLS = {"n": 240, "mu": 44.0, "trend": -2.0, "effect": -5.0, "sites": 6,
              "attrition_program": 0.22, "attrition_waitlist": 0.28, "prefix": "DLS"}


def _lifeskills_draw(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    s = LIFESKILLS
    site = rng.integers(1, s["sites"] + 1, n)
    site_shift = np.array([0.0, 2.0, -1.5, 1.0, -2.5, 0.5, 1.5])[site]
    group = (rng.random(n) < 0.5).astype(int)  # offered a place now (1) or wait-listed (0)
    latent = rng.normal(s["mu"], LATENT_SD, n) + site_shift
    pre = _score(latent + rng.normal(0, ERROR_SD, n))
    change = s["trend"] + s["effect"] * group + rng.normal(0, EFFECT_SD, n)
    post = _score(latent + change + rng.normal(0, ERROR_SD, n))
    z = (pre - s["mu"]) / np.sqrt(LATENT_SD**2 + ERROR_SD**2)
    att = np.where(group == 1, s["attrition_program"], s["attrition_waitlist"])
    drop = rng.random(n) < 1 / (1 + np.exp(-(np.log(att / (1 - att)) + DROPOUT_SLOPE * z)))
    return {"site": site, "group": group, "pre": pre, "post": post, "drop": drop}


#: School enrolment in the life-skills sample (drawn from its own seeded stream, so the other
#: files are unchanged): share enrolled at intake, and at six months by group.
LIFESKILLS_SCHOOL = {"intake": 0.5, "six_months_waitlist": 0.50, "six_months_program": 0.65}


def lifeskills(rng: np.random.Generator) -> pd.DataFrame:
    s = LIFESKILLS
    d = _lifeskills_draw(rng, s["n"])
    school_rng = np.random.default_rng(SEED + 7)
    p6 = np.where(d["group"] == 1, LIFESKILLS_SCHOOL["six_months_program"],
                  LIFESKILLS_SCHOOL["six_months_waitlist"])
    school_pre = (school_rng.random(s["n"]) < LIFESKILLS_SCHOOL["intake"]).astype(int)
    school_post = (school_rng.random(s["n"]) < p6).astype(int)
    return pd.DataFrame(
        {
            "case_id": _case_ids(rng, s["prefix"], s["n"]),
            "site": [f"S{k}" for k in d["site"]],
            "group": np.where(d["group"] == 1, "program", "waitlist"),
            "in_program": d["group"],
            "age": rng.choice(np.arange(12, 18), size=s["n"]),
            "ts_intake": d["pre"].astype(int),
            "ts_6mo": pd.array(np.where(d["drop"], np.nan, d["post"]), dtype="Int64"),
            "school_intake": school_pre,
            "school_6mo": pd.array(np.where(d["drop"], np.nan, school_post), dtype="Int64"),
        }
    )


def lifeskills_truth(draws: int = 2_000_000) -> dict:
    s = LIFESKILLS
    d = _lifeskills_draw(np.random.default_rng(SEED + 77), draws)
    keep = ~d["drop"]
    g, post = d["group"][keep], d["post"][keep]
    sd = np.sqrt(((post[g == 1].var(ddof=1) * (g.sum() - 1))
                  + post[g == 0].var(ddof=1) * ((1 - g).sum() - 1)) / (g.size - 2))
    return {
        "file": "lifeskills_waitlist.csv",
        "n_enrolled": s["n"],
        "true_program_effect": s["effect"],
        "true_g_completers": round(float(s["effect"] / sd), 3),
        "expected_attrition_program": round(float(d["drop"][d["group"] == 1].mean()), 3),
        "expected_attrition_waitlist": round(float(d["drop"][d["group"] == 0].mean()), 3),
        "true_school_difference": round(LIFESKILLS_SCHOOL["six_months_program"]
                                        - LIFESKILLS_SCHOOL["six_months_waitlist"], 4),
        "true_school_cox_index": round(math.log(
            (LIFESKILLS_SCHOOL["six_months_program"] / (1 - LIFESKILLS_SCHOOL["six_months_program"]))
            / (LIFESKILLS_SCHOOL["six_months_waitlist"] / (1 - LIFESKILLS_SCHOOL["six_months_waitlist"])))
            / 1.65, 4),
        "monte_carlo_draws": draws,
    }


#: Specialized placement vs usual care: days to first runaway episode, with a competing event
#: (reunification or aging out) and administrative censoring.
PLACEMENT = {"n_per_group": 250, "hr_program": 0.6, "weibull_shape": 0.8,
             "weibull_scale": 0.0085, "b_prior_runaways": 0.25, "b_prior_placements": 0.08,
             "b_age": 0.10, "competing_rate": 0.0012, "max_follow_up": 365, "prefix": "SPR"}


def _placement_draw(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    s = PLACEMENT
    program = np.repeat([1, 0], n // 2)
    age = rng.integers(12, 18, n)
    prior_run = np.minimum(rng.poisson(1.2, n), 6)
    prior_pl = np.minimum(rng.poisson(2.0, n), 8)
    lp = (np.log(s["hr_program"]) * program + s["b_prior_runaways"] * prior_run
          + s["b_prior_placements"] * prior_pl + s["b_age"] * (age - 15))
    # Weibull cumulative hazard (scale * t)^shape * exp(lp): invert at an Exp(1) draw
    t_run = (rng.exponential(1.0, n) / np.exp(lp)) ** (1 / s["weibull_shape"]) / s["weibull_scale"]
    t_comp = rng.exponential(1 / s["competing_rate"], n)
    t_cens = np.minimum(s["max_follow_up"], rng.uniform(60, 730, n))
    return {"program": program, "age": age, "prior_run": prior_run, "prior_pl": prior_pl,
            "lp": lp, "t_run": t_run, "t_comp": t_comp, "t_cens": t_cens}


def placement(rng: np.random.Generator) -> pd.DataFrame:
    s = PLACEMENT
    n = 2 * s["n_per_group"]
    d = _placement_draw(rng, n)
    t = np.minimum.reduce([d["t_run"], d["t_comp"], d["t_cens"]])
    outcome = np.select([t == d["t_run"], t == d["t_comp"]], [1, 2], 0)
    days = np.maximum(np.ceil(t), 1).astype(int)
    return pd.DataFrame(
        {
            "case_id": _case_ids(rng, s["prefix"], n),
            "placement": np.where(d["program"] == 1, "specialized", "usual care"),
            "specialized": d["program"],
            "age": d["age"],
            "prior_runaways": d["prior_run"],
            "prior_placements": d["prior_pl"],
            "days": days,
            "ran_away": (outcome == 1).astype(int),
            "outcome": outcome,
        }
    )


def placement_truth(draws: int = 2_000_000) -> dict:
    """True values: the hazard ratio, and net (no competing event) and crude runaway risks."""
    s = PLACEMENT
    d = _placement_draw(np.random.default_rng(SEED + 99), draws)
    out = {"file": "placement_runaway.csv", "n_enrolled": 2 * s["n_per_group"],
           "true_hazard_ratio": s["hr_program"], "monte_carlo_draws": draws}
    for g, name in ((1, "specialized"), (0, "usual_care")):
        m = d["program"] == g
        tr, tc = d["t_run"][m], d["t_comp"][m]
        for day in (30, 90, 180):
            # net survival: what Kaplan-Meier estimates when other exits are censored
            out[f"{name}_runaway_free_net_day{day}"] = round(float((tr > day).mean()), 4)
            # cumulative incidence: share who ran before day t and before any other exit
            out[f"{name}_ran_by_day{day}_crude"] = round(float(((tr <= day) & (tr < tc)).mean()), 4)
        out[f"{name}_rmst_net_180"] = round(float(np.minimum(tr, 180).mean()), 2)
    out["rmst_net_180_difference"] = round(out["specialized_rmst_net_180"]
                                           - out["usual_care_rmst_net_180"], 2)
    return out


#: Safe-harbor laws: a synthetic state-year panel with staggered adoption.
STATES = ("AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE "
          "NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY").split()
ADOPTIONS = {2008: 2, 2009: 3, 2010: 4, 2011: 4, 2012: 4, 2013: 4, 2014: 4, 2015: 4, 2016: 4,
             2017: 2}
YEARS = range(2000, 2020)


def _cohort_factor(g: int) -> float:
    return 1.3 if g <= 2010 else 1.0 if g <= 2013 else 0.7


def safe_harbor_effects(g: int, year: int) -> tuple[float, float]:
    """True effects (arrests, reports per 100,000 youth) for a state adopting in ``g``."""
    if g == 0 or year < g:
        return 0.0, 0.0
    e = year - g
    f = _cohort_factor(g)
    return -(0.5 + 0.25 * e) * f, (1.0 + 0.6 * e) * f


def safe_harbor(rng: np.random.Generator) -> pd.DataFrame:
    order = rng.permutation(len(STATES))
    first = np.zeros(len(STATES), dtype=int)
    pos = 0
    for g, k in ADOPTIONS.items():
        first[order[pos:pos + k]] = g
        pos += k
    base_arrest = rng.normal(8.0, 2.0, len(STATES))
    base_report = rng.normal(20.0, 5.0, len(STATES))
    rows = []
    for i, st in enumerate(STATES):
        for y in YEARS:
            ea, er = safe_harbor_effects(int(first[i]), y)
            rows.append({
                "state": st, "year": y, "first_law_year": int(first[i]),
                "safe_harbor": int(first[i] > 0 and y >= first[i]),
                "arrests_per_100k": round(max(base_arrest[i] - 0.15 * (y - 2000) + ea
                                              + rng.normal(0, 0.6), 0.0), 3),
                "reports_per_100k": round(base_report[i] + 0.5 * (y - 2000) + er
                                          + rng.normal(0, 1.5), 3),
            })
    return pd.DataFrame(rows)


def safe_harbor_truth(panel: pd.DataFrame) -> dict:
    """True ATT(g, t) and their aggregations, from the effects built into the panel."""
    cohorts = panel.groupby("state")["first_law_year"].first()
    size = cohorts[cohorts > 0].value_counts().sort_index()
    out: dict = {"file": "safe_harbor_panel.csv", "n_states": int(cohorts.size),
                 "n_adopting": int(size.sum()), "cohort_sizes": {int(k): int(v) for k, v in size.items()}}
    last = max(YEARS)
    for k, outcome in enumerate(("arrests", "reports")):
        cells = [(g, y, safe_harbor_effects(g, y)[k], size[g]) for g in size.index
                 for y in YEARS if y >= g]
        w = np.array([c[3] for c in cells], float)
        eff = np.array([c[2] for c in cells])
        dyn = {}
        for e in range(0, last - min(size.index) + 1):
            sel = [(c[2], c[3]) for c in cells if c[1] - c[0] == e]
            ww = np.array([x[1] for x in sel], float)
            dyn[e] = round(float(np.array([x[0] for x in sel]) @ ww / ww.sum()), 4)
        out[outcome] = {
            "true_simple_att": round(float(eff @ w / w.sum()), 4),
            "true_dynamic": dyn,
            "true_dynamic_overall": round(float(np.mean(list(dyn.values()))), 4),
        }
    return out


#: Intensive advocacy program: caseworkers refer the youth they judge most at risk, so program
#: youth differ from comparison youth at intake (selection on the observed covariates only).
ADVOCACY = {"n": 520, "mu": 40.0, "effect": -6.0, "trend": -1.0, "prefix": "IAR",
            "sites": ("North", "Central", "South", "Coast"),
            # referral (log-odds): intercept and slopes on the covariates recorded at intake
            "ps_intercept": -1.3, "ps_age": 0.25, "ps_prior_runaways": 0.45,
            "ps_prior_placements": 0.15, "ps_justice": 0.9, "ps_intake": 0.04,
            # latent severity and change: how the covariates shift them
            "sev_prior_runaways": 1.5, "sev_prior_placements": 0.8,
            "chg_prior_runaways": 1.2, "chg_justice": 2.5, "chg_age": 0.5,
            # loss to follow-up (log-odds): intercept, per prior runaway, per SD of intake score
            "drop_intercept": -1.6, "drop_prior_runaways": 0.3, "drop_intake": 0.3}
#: The advocacy sample has its own seeded stream, so the other files are unchanged.
ADVOCACY_SEED = SEED + 13


def _advocacy_draw(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Covariates, referral, both potential six-month scores and dropout for ``n`` youth."""
    s = ADVOCACY
    site = rng.integers(0, len(s["sites"]), n)
    age = rng.integers(12, 18, n)
    prior_run = np.minimum(rng.poisson(1.3, n), 6)
    prior_pl = np.minimum(rng.poisson(1.8, n), 8)
    justice = (rng.random(n) < 0.25 + 0.05 * np.minimum(prior_run, 3)).astype(int)
    latent = (s["mu"] + s["sev_prior_runaways"] * (prior_run - 1.3)
              + s["sev_prior_placements"] * (prior_pl - 1.8) + rng.normal(0, LATENT_SD, n))
    pre = _score(latent + rng.normal(0, ERROR_SD, n))
    lp = (s["ps_intercept"] + s["ps_age"] * (age - 15) + s["ps_prior_runaways"] * prior_run
          + s["ps_prior_placements"] * prior_pl + s["ps_justice"] * justice
          + s["ps_intake"] * (pre - s["mu"]))
    program = (rng.random(n) < 1 / (1 + np.exp(-lp))).astype(int)
    change = (s["trend"] + s["chg_prior_runaways"] * prior_run + s["chg_justice"] * justice
              + s["chg_age"] * (age - 15) + rng.normal(0, EFFECT_SD, n))
    noise = rng.normal(0, ERROR_SD, n)
    post0 = _score(latent + change + noise)
    post1 = _score(latent + change + s["effect"] + noise)
    z = (pre - s["mu"]) / np.sqrt(LATENT_SD**2 + ERROR_SD**2)
    drop = rng.random(n) < 1 / (1 + np.exp(-(s["drop_intercept"] + s["drop_prior_runaways"]
                                               * prior_run + s["drop_intake"] * z)))
    return {"site": site, "age": age, "prior_run": prior_run, "prior_pl": prior_pl,
            "justice": justice, "pre": pre, "program": program, "post0": post0,
            "post1": post1, "drop": drop, "lp": lp}


def advocacy() -> pd.DataFrame:
    """The advocacy sample: one row per youth, program and comparison."""
    s = ADVOCACY
    rng = np.random.default_rng(ADVOCACY_SEED)
    d = _advocacy_draw(rng, s["n"])
    post = np.where(d["program"] == 1, d["post1"], d["post0"])
    return pd.DataFrame(
        {
            "case_id": _case_ids(rng, s["prefix"], s["n"]),
            "site": np.asarray(s["sites"])[d["site"]],
            "group": np.where(d["program"] == 1, "advocacy", "comparison"),
            "in_program": d["program"],
            "age": d["age"],
            "prior_runaways": d["prior_run"],
            "prior_placements": d["prior_pl"],
            "justice_involved": d["justice"],
            "ts_intake": d["pre"].astype(int),
            "ts_6mo": pd.array(np.where(d["drop"], np.nan, post), dtype="Int64"),
        }
    )


def advocacy_truth(draws: int = 2_000_000) -> dict:
    """True values: the ATT on the measured score, and what the naive comparison estimates."""
    s = ADVOCACY
    d = _advocacy_draw(np.random.default_rng(SEED + 113), draws)
    t1, keep = d["program"] == 1, ~d["drop"]
    post = np.where(t1, d["post1"], d["post0"])
    eff = d["post1"] - d["post0"]
    return {
        "file": "advocacy_referrals.csv",
        "n_enrolled": s["n"],
        "true_effect": s["effect"],
        "true_att": round(float(eff[t1].mean()), 3),
        "true_att_completers": round(float(eff[t1 & keep].mean()), 3),
        "true_ate": round(float(eff.mean()), 3),
        "expected_naive_difference_completers": round(
            float(post[t1 & keep].mean() - post[~t1 & keep].mean()), 3),
        "expected_share_in_program": round(float(t1.mean()), 3),
        "expected_attrition_program": round(float(d["drop"][t1].mean()), 3),
        "expected_attrition_comparison": round(float(d["drop"][~t1].mean()), 3),
        "propensity_model": {"(Intercept)": round(s["ps_intercept"] - s["ps_age"] * 15
                                                  - s["ps_intake"] * s["mu"], 4),
                             "age": s["ps_age"], "prior_runaways": s["ps_prior_runaways"],
                             "prior_placements": s["ps_prior_placements"],
                             "justice_involved": s["ps_justice"], "ts_intake": s["ps_intake"]},
        "monte_carlo_draws": draws,
    }


#: One state adopts a law, the others never do: a state-year panel of youth running away from
#: foster care. Outcome = 30 + state effect + year effect + loading × common factor + effect.
NAVIGATOR = {"states": STATES[:25], "adopter": "MN", "years": range(2006, 2022),
             "law_year": 2015, "effect": -4.0, "noise_sd": 0.3}
#: The navigator panel and the hotline series have their own seeded streams, so the other
#: files are unchanged.
NAVIGATOR_SEED = SEED + 29
HOTLINE = {"months": 84, "start": "2018-01", "protocol": "2022-01", "rate_ratio": 1.30,
           "slope_rate_ratio": 1.0, "trend_per_year": 0.03, "season_amplitude": 0.15,
           "base_per_100k": 19.0, "population": 210_000, "population_growth": 0.004,
           "gamma_shape": 60.0}
HOTLINE_SEED = SEED + 31


def navigator_panel() -> pd.DataFrame:
    """A state-year panel in which one state (``MN``) adopts a law in 2015.

    Runaways from foster care per 1,000 youth in care: each state has its own level and its own
    loading on a common factor that bends in the mid-2010s (so parallel trends fail for a plain
    comparison with the average state, while a weighted set of states tracks the adopter). The
    adopter's level and loading lie inside the other states' range. True effect: −4.0 per 1,000
    in every year from 2015.
    """
    s = NAVIGATOR
    rng = np.random.default_rng(NAVIGATOR_SEED)
    states = list(s["states"])
    if s["adopter"] not in states:
        states[-1] = s["adopter"]
    years = np.array(list(s["years"]))
    level = rng.normal(0.0, 3.0, len(states))
    loading = rng.uniform(-1.0, 1.5, len(states))
    i = states.index(s["adopter"])
    level[i], loading[i] = 1.0, 1.2  # inside the donors' range
    factor = 4.0 * np.tanh((years - 2012.5) / 2.5)
    year_effect = -0.25 * (years - years[0])
    rows = []
    for k, st in enumerate(states):
        adopts = st == s["adopter"]
        for j, y in enumerate(years):
            on = adopts and y >= s["law_year"]
            value = (30.0 + level[k] + year_effect[j] + loading[k] * factor[j]
                     + (s["effect"] if on else 0.0) + rng.normal(0.0, s["noise_sd"]))
            rows.append({"state": st, "year": int(y),
                         "first_law_year": s["law_year"] if adopts else 0,
                         "navigator_law": int(on), "runaways_per_1k": round(float(value), 3)})
    return pd.DataFrame(rows)


def navigator_truth(panel: pd.DataFrame) -> dict:
    """The true effect and the shape of the navigator panel."""
    s = NAVIGATOR
    post = [y for y in s["years"] if y >= s["law_year"]]
    return {"file": "navigator_law_panel.csv", "n_states": int(panel["state"].nunique()),
            "adopter": s["adopter"], "law_year": s["law_year"],
            "n_pre_years": len([y for y in s["years"] if y < s["law_year"]]),
            "n_post_years": len(post), "true_att": s["effect"]}


def hotline_series() -> pd.DataFrame:
    """One county's monthly count of youth identified as possibly trafficked, 2018–2024.

    A screening protocol starts in January 2022. Expected count = population × base rate ×
    trend × season × (rate ratio 1.30 from the protocol on); the counts are Poisson with a
    gamma-distributed monthly rate (overdispersed, as real referral counts are).
    """
    s = HOTLINE
    rng = np.random.default_rng(HOTLINE_SEED)
    months = pd.period_range(s["start"], periods=s["months"], freq="M")
    t = np.arange(s["months"])
    start = int((pd.Period(s["protocol"], freq="M") - months[0]).n)
    post = (t >= start).astype(float)
    population = np.round(s["population"] * (1 + s["population_growth"]) ** (t / 12), -1)
    season = s["season_amplitude"] * np.sin(2 * np.pi * (months.month.to_numpy() - 4) / 12)
    log_rate = (np.log(s["base_per_100k"] / 100_000) + s["trend_per_year"] * t / 12 + season
                + np.log(s["rate_ratio"]) * post
                + np.log(s["slope_rate_ratio"]) * (t - start) * post)
    mu = population * np.exp(log_rate)
    rate = rng.gamma(s["gamma_shape"], mu / s["gamma_shape"])
    return pd.DataFrame({"month": months.strftime("%Y-%m"), "youth_identified": rng.poisson(rate),
                         "child_population": population.astype(int)})


def hotline_truth(series: pd.DataFrame) -> dict:
    """The true protocol effect and the shape of the hotline series."""
    s = HOTLINE
    return {"file": "county_identifications.csv", "n_months": len(series),
            "protocol_month": s["protocol"],
            "n_pre_months": int((series["month"] < s["protocol"]).sum()),
            "true_level_rate_ratio": s["rate_ratio"],
            "true_slope_rate_ratio_per_month": s["slope_rate_ratio"],
            "min_monthly_count": int(series["youth_identified"].min())}


#: Repeated runaway episodes: youth enter a program some weeks after being identified (delayed
#: entry), may change placement during follow-up (a time-varying covariate) and may run away
#: many times. Rates are per day since identification.
EPISODES = {"n": 400, "prefix": "RRE", "rate_per_year": 3.0, "rate_ratio": 0.70,
            "placement_change_ratio": 1.50, "placement_change_share": 0.40,
            "frailty_variance": 0.5, "entry_max_days": 90, "follow_up_days": 365,
            "dropout_share": 0.15}
EPISODES_SEED = SEED + 37


def _episode_draw(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Youth-level draws: group, age, entry, exit, placement-change day and frailty."""
    s = EPISODES
    group = rng.integers(0, 2, n)
    age = rng.integers(12, 18, n)
    entry = rng.integers(0, s["entry_max_days"] + 1, n).astype(float)
    exit_ = entry + s["follow_up_days"]
    drop = rng.random(n) < s["dropout_share"]  # follow-up ends early, independently of risk
    exit_[drop] = entry[drop] + rng.integers(30, s["follow_up_days"], int(drop.sum()))
    planned = np.where(rng.random(n) < s["placement_change_share"],
                       entry + rng.integers(1, s["follow_up_days"], n), np.nan)
    change = np.where(planned < exit_, planned, np.nan)  # not seen after follow-up ends
    shape = 1 / s["frailty_variance"]
    frailty = rng.gamma(shape, 1 / shape, n)
    return {"group": group, "age": age, "entry": entry, "exit": exit_, "change": change,
            "planned": planned, "frailty": frailty}


def _episode_times(rng: np.random.Generator, d: dict[str, np.ndarray], i: int) -> list[float]:
    """One youth's runaway days: a Poisson process from entry to exit, faster after a change."""
    s = EPISODES
    base = s["rate_per_year"] / 365 * d["frailty"][i] * s["rate_ratio"] ** d["group"][i]
    times: list[float] = []
    pieces = [(d["entry"][i], d["exit"][i], base)]
    if not np.isnan(d["change"][i]):
        c = d["change"][i]
        pieces = [(d["entry"][i], c, base),
                  (c, d["exit"][i], base * s["placement_change_ratio"])]
    for a, b, rate in pieces:
        k = rng.poisson(rate * (b - a))
        times += sorted(np.ceil(rng.uniform(a, b, k)).clip(a + 1, b).tolist())
    return sorted(set(times))  # whole days; at most one episode a day


def runaway_episodes() -> pd.DataFrame:
    """One row per runaway episode (a youth without one has one row, the day left empty)."""
    s = EPISODES
    rng = np.random.default_rng(EPISODES_SEED)
    d = _episode_draw(rng, s["n"])
    ids = _case_ids(rng, s["prefix"], s["n"])
    rows = []
    for i in range(s["n"]):
        days = _episode_times(rng, d, i)
        base = {"youth_id": ids[i], "specialized": int(d["group"][i]), "age": int(d["age"][i]),
                "entry_day": int(d["entry"][i]), "exit_day": int(d["exit"][i]),
                "placement_change_day": (None if np.isnan(d["change"][i])
                                         else int(d["change"][i]))}
        for t in days or [None]:
            rows.append({**base, "runaway_day": None if t is None else int(t)})
    out = pd.DataFrame(rows)
    for c in ("placement_change_day", "runaway_day"):
        out[c] = out[c].astype("Int64")
    return out


def runaway_episodes_truth(draws: int = 400_000) -> dict:
    """True rate ratios and mean cumulative numbers of episodes since entry (Monte Carlo)."""
    s = EPISODES
    rng = np.random.default_rng(EPISODES_SEED + 1)
    d = _episode_draw(rng, draws)
    out: dict = {"file": "runaway_episodes.csv", "n_youth": s["n"],
                 "true_rate_ratio": s["rate_ratio"],
                 "true_placement_change_rate_ratio": s["placement_change_ratio"],
                 "rate_per_year_before_change": s["rate_per_year"], "mcf_days": [90, 180, 365],
                 "monte_carlo_draws": draws}
    base = s["rate_per_year"] / 365
    for g, name in ((0, "usual_care"), (1, "specialized")):
        sel = d["group"] == g
        # the planned change day: a youth still followed at day t has changed placement by
        # then exactly when the planned day came first (dropout is independent of it)
        change = d["planned"][sel] - d["entry"][sel]  # days since entry, NaN for none
        for t in out["mcf_days"]:
            # expected episodes per youth by day t since entry, among youth still followed
            after = np.where(np.isnan(change), 0.0, np.clip(t - change, 0, None))
            mean = base * s["rate_ratio"] ** g * np.mean(
                (t - after) + after * s["placement_change_ratio"])
            out[f"mcf_{name}_day{t}"] = round(float(mean), 4)
    return out


def main() -> None:
    rng = np.random.default_rng(SEED)
    truth = {"seed": SEED, "mentoring": {}}
    for site in MENTORING_SITES:
        df = mentoring_site(rng, site)
        df.to_csv(HERE / f"mentoring_site_{site}.csv", index=False)
        t = mentoring_truth(site)
        t["observed_attrition"] = round(float(df["ts_6mo"].isna().mean()), 3)
        truth["mentoring"][site] = t
    ls = lifeskills(rng)
    ls.to_csv(HERE / "lifeskills_waitlist.csv", index=False)
    t = lifeskills_truth()
    for grp in ("program", "waitlist"):
        t[f"observed_attrition_{grp}"] = round(
            float(ls.loc[ls["group"] == grp, "ts_6mo"].isna().mean()), 3)
    truth["lifeskills"] = t
    pl = placement(rng)
    pl.to_csv(HERE / "placement_runaway.csv", index=False)
    truth["placement"] = placement_truth()
    sh = safe_harbor(rng)
    sh.to_csv(HERE / "safe_harbor_panel.csv", index=False)
    truth["safe_harbor"] = safe_harbor_truth(sh)
    adv = advocacy()
    adv.to_csv(HERE / "advocacy_referrals.csv", index=False)
    t = advocacy_truth()
    for grp, g in (("program", 1), ("comparison", 0)):
        t[f"observed_attrition_{grp}"] = round(
            float(adv.loc[adv["in_program"] == g, "ts_6mo"].isna().mean()), 3)
    truth["advocacy"] = t
    nav = navigator_panel()
    nav.to_csv(HERE / "navigator_law_panel.csv", index=False)
    truth["navigator"] = navigator_truth(nav)
    hot = hotline_series()
    hot.to_csv(HERE / "county_identifications.csv", index=False)
    truth["hotline"] = hotline_truth(hot)
    eps = runaway_episodes()
    eps.to_csv(HERE / "runaway_episodes.csv", index=False)
    truth["episodes"] = runaway_episodes_truth()
    (HERE / "truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    print(json.dumps(truth, indent=2))


if __name__ == "__main__":
    main()

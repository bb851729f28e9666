"""Write the template notebooks from their cell lists (keeps them reviewable and output-free).

    python tools/build_templates.py
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]


def code(src: str, *tags: str):
    cell = new_code_cell(src.strip("\n"))
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def md(src: str):
    return new_markdown_cell(src.strip("\n"))


#: The standard report sections, in order; every template's report object answers each call.
SECTIONS = (
    ("At a glance", "rep.glance()"),
    ("The program and the question", "rep.program_section(description, question)"),
    ("The data", "rep.data_section()"),
    ("How it was evaluated", "rep.method_section()"),
    ("Findings", "rep.findings()"),
    ("Checks", "rep.checks()"),
    ("Limitations", "rep.limitations()"),
)


#: Parameters every template declares after its data and privacy settings (the config's
#: optional top-level keys, and what the runner passes in).
SHARED_PARAMS = """\
design = None  # randomized, comparison group, one group or policy adoption (None: default)
population_label = {"singular": "youth", "plural": "youth"}
labels = {}  # display names of columns, e.g. {"prio": "prior convictions"}
outcome_scale = "linear"  # or "log": effects also stated as percentage changes
data_sheet = None  # the sheet of an Excel workbook to read (None: the first)
validated_data = None  # set by evalkit run: the table it validated, read instead of data_path
"""


def report_sections():
    """Title, the standard sections, and the heading of the technical appendix."""
    cells = [code("# Title\nreport.title_block(title, program)", "remove_input")]
    for heading, call in SECTIONS:
        cells += [md(f"## {heading}"), code(f"# {heading}\n{call}", "remove_input")]
    return cells + [md("## Technical appendix")]


PREPOST = [
    code('''
# Parameters (papermill replaces these from the evaluation's config; the defaults run the
# sample data as-is in JupyterLab)
title = "Survivor mentoring program — Site A"
program = "Survivor Mentoring Program (synthetic sample)"
description = "Adult mentors with lived experience meet weekly with youth."
question = ""
data_path = "../data/sample/mentoring_site_a.csv"
id_column = "case_id"
privacy_threshold = 11
results_path = None
''' + SHARED_PARAMS + '''pre = "ts_intake"
post = "ts_6mo"
outcome_label = "trauma symptom score"
lower_is_better = True
units = "points"
pre_label = "intake"
post_label = "six months"
score_min = 0
score_max = 80
alpha = 0.05
reliability = 0.8
functional_mean = None
functional_sd = None
dysfunctional_mean = None
dysfunctional_sd = None
binary_outcomes = [
    {"pre": "school_intake", "post": "school_6mo", "label": "enrolled in school"},
]
group = None
comparison_label = "comparison group"
covariates = []
cluster = None
attrition_boundary = "cautious"
''', "parameters", "remove_input"),
    code('''
# Set up
import evalkit
from evalkit import prepost, report
from evalkit.report.prepost import refused_comparison_report
''', "remove_input"),
    code('''
# Load and validate the data
# `evalkit run` passes the frame it validated (`validated_data`, so the report analyses
# exactly the checked rows and sheet) and the Excel sheet (`data_sheet`); run as-is,
# the notebook reads data_path
data = evalkit.data.load(
    data_path,
    prepost.columns(pre, post, id=id_column, min=score_min, max=score_max,
                    binary=binary_outcomes, group=group, covariates=covariates,
                    cluster=cluster),
    sheet=data_sheet, validated=validated_data,
)
# youth in the program (everyone, in a one-group design)
program_youth = data if group is None else data[data[group] == 1]
''', "remove_input"),
    code('''
# Estimate
change = prepost.paired_change(program_youth, pre=pre, post=post, alpha=alpha)
signed = prepost.signed_rank(program_youth, pre=pre, post=post, alpha=alpha)
reliable = None
if reliability is not None:
    reliable = prepost.reliable_change(
        program_youth, pre, post, reliability=reliability,
        higher_is_better=not lower_is_better,
        functional_mean=functional_mean, functional_sd=functional_sd,
        dysfunctional_mean=dysfunctional_mean, dysfunctional_sd=dysfunctional_sd,
    )
# a yes/no outcome that cannot be analysed (e.g. nobody changed) is reported as not
# estimated, with the reason, instead of stopping the report
binary = {}
for o in binary_outcomes:
    try:
        binary[o["label"]] = prepost.mcnemar(program_youth, pre=o["pre"], post=o["post"],
                                             alpha=alpha)
    except evalkit.EvalDataError as err:
        binary[o["label"]] = err
lost = prepost.attrition(data, pre, post, group=group, boundary=attrition_boundary)
comparison = None
binary_groups = {}
refusal = None  # a design the data cannot support: the report says why and what fits
if group is not None:
    try:
        comparison = prepost.compare_groups(data, pre, post, group, covariates=covariates,
                                            cluster=cluster, lower_is_better=lower_is_better,
                                            alpha=alpha)
    except evalkit.DesignRefused as err:
        refusal = err
    for o in binary_outcomes:
        try:
            binary_groups[o["label"]] = prepost.compare_proportions(
                data, o["post"], group, cluster=cluster, alpha=alpha)
        except evalkit.EvalDataError as err:
            binary_groups[o["label"]] = err
''', "remove_input"),
    code('''
# Assemble the report
outcome = report.Outcome(outcome_label, units=units, lower_is_better=lower_is_better,
                         pre_label=pre_label, post_label=post_label)
if refusal is None:
    rep = report.PrePostReport(
        data, change, outcome,
        threshold=privacy_threshold, signed=signed, reliable=reliable, binary=binary,
        attrition=lost, comparison=comparison, binary_groups=binary_groups, group=group,
        comparison_label=comparison_label, study_design=design,
        population=population_label, labels=labels, outcome_scale=outcome_scale,
    )
else:
    rep = refused_comparison_report(refusal, outcome, comparison_label=comparison_label)
''', "remove_input"),
    *report_sections(),
    code('''
# Technical appendix (only what the report may show: nothing from a suppressed group or cell)
rep.appendix(
    options={"paired test": "t-test, as R t.test(post, pre, paired = TRUE)",
             "robustness": "Wilcoxon signed-rank, as R wilcox.test(paired = TRUE)",
             "effect size": "Hedges' g_av (exact J, df = n - 1); WWC g for group designs",
             "comparison": "ANCOVA, HC2 (CR1 when clustered) standard errors",
             "attrition boundary": attrition_boundary,
             "alpha": alpha, "privacy threshold": privacy_threshold},
    data_path=data_path,
)
''', "remove_input"),
    code('''
# Save the headline results for the portfolio index
report.resultsdoc.write(results_path, rep.results_document())
''', "remove_input"),
]


SURVIVAL = [
    code('''
# Parameters (papermill replaces these from the evaluation's config; the defaults run the
# sample data as-is in JupyterLab)
title = "Specialized placement: time to first runaway"
program = "Specialized Placement Program (synthetic sample)"
description = "Specialized foster and group placements for youth identified as exploited."
question = ""
data_path = "../data/sample/placement_runaway.csv"
id_column = "case_id"
privacy_threshold = 11
results_path = None
''' + SHARED_PARAMS + '''duration = "days"
event = "ran_away"
group = "specialized"
event_label = "ran away from placement"
program_label = "specialized placement"
lower_is_better = True
comparison_label = "usual care"
time_unit = "days"
covariates = ["prior_runaways", "prior_placements", "age"]
times = [30, 90, 180]
tau = 180
ties = "efron"
conf_type = "log"
ph_transform = "km"
competing_label = "reunification or aging out"
event_type = "outcome"
event_cause = "1"
alpha = 0.05
''', "parameters", "remove_input"),
    code('''
# Set up
import evalkit
from evalkit import report, survival
from evalkit.report.survival import SurvivalReport
''', "remove_input"),
    code('''
# Load and validate the data
# `evalkit run` passes the frame it validated (`validated_data`, so the report analyses
# exactly the checked rows and sheet) and the Excel sheet (`data_sheet`); run as-is,
# the notebook reads data_path
data = evalkit.data.load(
    data_path,
    [*([evalkit.data.Column(id_column, kind="id")] if id_column else []),
     *survival.survival_columns(duration, event, extra=covariates),
     evalkit.data.Column(group, kind="binary", allow_missing=False),
     *([evalkit.data.Column(event_type, kind="string", allow_missing=False)]
       if event_type else [])],
    sheet=data_sheet, validated=validated_data,
)
''', "remove_input"),
    code('''
# Estimate
km = survival.kaplan_meier(data, duration, event, group=group, conf_type=conf_type, alpha=alpha)
test = survival.logrank(data, duration, event, group)
hazards = survival.cox(data, duration, event, [group, *covariates], ties=ties, alpha=alpha)
ph = survival.ph_test(hazards, transform=ph_transform)
restricted = survival.rmst(data, duration, event, group, tau=tau, order=(0, 1), alpha=alpha)
incidence = None
if event_type is not None:
    incidence = survival.cumulative_incidence(data, duration, event_type, group=group,
                                              alpha=alpha)
''', "remove_input"),
    code('''
# Assemble the report
rep = SurvivalReport(
    data, km, test, hazards, ph, restricted, duration=duration, event=event, group=group,
    program_label=program_label, comparison_label=comparison_label,
    event_label=event_label, time_unit=time_unit, times=times,
    threshold=privacy_threshold, competing=competing_label, incidence=incidence,
    cause=event_cause, study_design=design, population=population_label, labels=labels,
    lower_is_better=lower_is_better,
)
''', "remove_input"),
    *report_sections(),
    code('''
# Technical appendix
rep.appendix(
    options={"Kaplan-Meier": f"conf.type = {conf_type}, as R survfit",
             "Cox": f"ties = {ties}, as R coxph",
             "proportional hazards": f"score test, transform = {ph_transform}, as R cox.zph",
             "restricted mean": f"tau = {tau}, as survRM2::rmst2",
             "alpha": alpha, "privacy threshold": privacy_threshold},
    data_path=data_path,
)
''', "remove_input"),
    code('''
# Save the headline results for the portfolio index
report.resultsdoc.write(results_path, rep.results_document())
''', "remove_input"),
]


DID = [
    code('''
# Parameters (papermill replaces these from the evaluation's config; the defaults run the
# sample data as-is in JupyterLab)
title = "Safe-harbor laws and juvenile arrests for prostitution"
program = "State safe-harbor laws (synthetic sample)"
description = "Laws that route exploited minors to child welfare instead of juvenile court."
question = ""
data_path = "../data/sample/safe_harbor_panel.csv"
id_column = "state"
privacy_threshold = 11
results_path = None
''' + SHARED_PARAMS + '''outcome = "arrests_per_100k"
outcome_label = "juvenile arrests for prostitution"
units = "per 100,000 youth"
time = "year"
first_treated = "first_law_year"
treatment = "safe_harbor"
never_treated = 0
policy_label = "safe-harbor laws"
unit_label = "state"
lower_is_better = True
control_group = "nevertreated"
covariates = []
est_method = "dr"
anticipation = 0
event_window = [-5, 5]
alpha = 0.05
''', "parameters", "remove_input"),
    code('''
# Set up
import evalkit
from evalkit import did, report
from evalkit.report.did import DiDReport, refused_did_report
''', "remove_input"),
    code('''
# Load and validate the data
# `evalkit run` passes the frame it validated (`validated_data`, so the report analyses
# exactly the checked rows and sheet) and the Excel sheet (`data_sheet`); run as-is,
# the notebook reads data_path
data = evalkit.data.load(data_path, [
    evalkit.data.Column(id_column, kind="string", allow_missing=False, text=True),
    evalkit.data.Column(time, kind="integer", allow_missing=False),
    evalkit.data.Column(first_treated, kind="integer"),
    evalkit.data.Column(treatment, kind="binary", allow_missing=False),
    evalkit.data.Column(outcome, allow_missing=False),
    *[evalkit.data.Column(c, allow_missing=False) for c in covariates],
], sheet=data_sheet, validated=validated_data)
# An empty first_treated means never treated: code it as never_treated (when that is empty
# too, with a period no unit adopts at)
if never_treated is None:
    never_treated = 0 if not (data[first_treated] == 0).any() else min(
        data[first_treated].min(), 0) - 1
data[first_treated] = data[first_treated].fillna(never_treated)
''', "remove_input"),
    code('''
# Estimate (a panel with too few adopting units is refused: the report then says why and
# which design fits instead; cells that cannot be estimated are left out of the averages,
# with a caution naming them)
refusal = None
try:
    cs = did.staggered(data, outcome, id_column, time, first_treated,
                       control_group=control_group, anticipation=anticipation,
                       covariates=covariates, est_method=est_method,
                       never_treated=never_treated, alpha=alpha)
except evalkit.DesignRefused as err:
    refusal = err
if refusal is None:
    simple = cs.aggregate("simple", na_rm=True)
    dynamic = cs.aggregate("dynamic", min_e=event_window[0], max_e=event_window[1],
                           na_rm=True)
    # every event time: the pre-trend test over all years before adoption decides the
    # rating, whatever window the figure shows
    all_leads = cs.aggregate("dynamic", na_rm=True)
    fixed = did.twfe(data, outcome, id_column, time, treatment, alpha=alpha)
    bacon = did.bacon_decomposition(data, outcome, id_column, time, treatment)
''', "remove_input"),
    code('''
# Assemble the report
names = dict(unit=id_column, time=time, first_treated=first_treated, outcome=outcome,
             outcome_label=outcome_label, units=units, policy_label=policy_label,
             unit_label=unit_label, lower_is_better=lower_is_better,
             never_treated=never_treated)
if refusal is None:
    rep = DiDReport(data, cs, simple, dynamic, fixed, bacon, **names, all_leads=all_leads,
                    labels=labels, outcome_scale=outcome_scale, study_design=design)
else:
    rep = refused_did_report(refusal, data, **names)
''', "remove_input"),
    *report_sections(),
    code('''
# Technical appendix
report.appendix_block(
    results=[simple, dynamic, all_leads, fixed, bacon, cs] if refusal is None else [],
    options={"estimator": f"Callaway & Sant'Anna (2021), as R did::att_gt, est_method = "
                          f"{est_method}, covariates: "
                          f"{', '.join(labels.get(c, c) for c in covariates) or 'none'}",
             "comparison units": control_group, "anticipation": anticipation,
             "base period": "varying", "two-way fixed effects": "CRV1 by unit, as Stata xtreg",
             "alpha": alpha},
    data_path=data_path,
)
''', "remove_input"),
    code('''
# Save the headline results for the portfolio index
report.resultsdoc.write(results_path, rep.results_document())
''', "remove_input"),
]


def write(name: str, cells) -> None:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, c in enumerate(nb.cells):
        c["id"] = f"{name}-{i:02d}"
    nbformat.validate(nb)
    nbformat.write(nb, ROOT / "templates" / f"{name}.ipynb")


if __name__ == "__main__":
    write("prepost", PREPOST)
    write("survival", SURVIVAL)
    write("did", DID)

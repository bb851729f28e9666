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
pre = "ts_intake"
post = "ts_6mo"
outcome_label = "trauma symptom score"
lower_is_better = True
units = "points"
pre_label = "intake"
post_label = "six months"
score_min = 0
score_max = 80
alpha = 0.05
''', "parameters", "remove_input"),
    code('''
# Set up
import evalkit
from evalkit import report
from evalkit.methods import prepost
''', "remove_input"),
    code('''
# Load and validate the data
data = evalkit.data.load(
    data_path,
    prepost.columns(pre, post, id=id_column, min=score_min, max=score_max),
)
''', "remove_input"),
    code('''
# Estimate the change
change = prepost.paired_change(data, pre=pre, post=post, alpha=alpha)
rep = report.PrePostReport(
    data,
    change,
    report.Outcome(outcome_label, units=units, lower_is_better=lower_is_better,
                   pre_label=pre_label, post_label=post_label),
    threshold=privacy_threshold,
)
''', "remove_input"),
    code('''
# Title
report.title_block(title, program)
''', "remove_input"),
    md("## At a glance"),
    code("# At a glance\nrep.glance()", "remove_input"),
    md("## The program and the question"),
    code("# The program and the question\nrep.program_section(description, question)",
         "remove_input"),
    md("## The data"),
    code("# The data\nrep.data_section()", "remove_input"),
    md("## How it was evaluated"),
    code("# How it was evaluated\nrep.method_section()", "remove_input"),
    md("## Findings"),
    code("# Findings\nrep.findings()", "remove_input"),
    md("## Checks"),
    code("# Checks\nrep.checks()", "remove_input"),
    md("## Limitations"),
    code("# Limitations\nrep.limitations()", "remove_input"),
    md("## Technical appendix"),
    code('''
# Technical appendix
report.appendix_block(
    results=change,
    options={"test": "paired t-test (R t.test(post, pre, paired = TRUE))",
             "effect size": "Hedges' g_av, exact J with df = n - 1",
             "alpha": alpha, "privacy threshold": privacy_threshold},
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

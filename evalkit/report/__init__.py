"""Report building blocks: figures, tables, plain-language findings and evidence ratings.

Templates call one function or method of this package per report block; every number shown
comes from :mod:`evalkit.methods`. Nothing here runs notebooks.
"""

from evalkit.report import resultsdoc
from evalkit.report.base import SECTIONS, Report
from evalkit.report.common import (
    appendix_block,
    bullets_block,
    package_versions,
    program_block,
    sha256_file,
    title_block,
)
from evalkit.report.did import DiDReport
from evalkit.report.evidence import RATINGS, not_estimated, rate
from evalkit.report.figures import PALETTE, figure_block, new_figure
from evalkit.report.html import Block
from evalkit.report.prepost import Outcome, PrePostReport
from evalkit.report.refused import RefusedReport
from evalkit.report.survival import SurvivalReport

__all__ = [
    "Block",
    "DiDReport",
    "Outcome",
    "PALETTE",
    "PrePostReport",
    "RATINGS",
    "RefusedReport",
    "Report",
    "SECTIONS",
    "SurvivalReport",
    "appendix_block",
    "bullets_block",
    "figure_block",
    "new_figure",
    "not_estimated",
    "package_versions",
    "program_block",
    "rate",
    "resultsdoc",
    "sha256_file",
    "title_block",
]

"""Reports and the index in a real headless browser, offline; PDFs printed by Chromium.

Skipped, with the reason, where Chromium is not installed (``make test`` installs Debian's
``chromium`` package when it runs as root).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from conftest import EVALUATIONS

from evalkit.run import run_all
from evalkit.run.browser import find_chromium, open_page

pytestmark = pytest.mark.skipif(
    find_chromium() is None,
    reason="Chromium is not installed: install Debian's 'chromium' package to run the browser "
           "and PDF tests")

PROBE = """
<script>
window.addEventListener('load', function () {
  var imgs = Array.from(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute('data-images', ok + '/' + imgs.length);
});
</script>
"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    reports = tmp_path_factory.mktemp("reports")
    configs = [EVALUATIONS / "mentoring-site-a.yaml", EVALUATIONS / "placement-runaway.yaml"]
    outcomes = run_all(configs, reports, jobs=2, echo=lambda s: None, pdf=True)
    assert all(o.ok for o in outcomes), [o.message for o in outcomes]
    return reports


@pytest.mark.parametrize("page", ["mentoring-site-a/report.html",
                                  "placement-runaway/report.html", "index.html"])
def test_every_figure_loads_offline(rendered, page):
    original = rendered / page
    probe = original.with_name(original.stem + ".probe.html")
    probe.write_text(original.read_text().replace("</body>", PROBE + "</body>"))
    shot = rendered / (page.replace("/", "-").replace(".html", "") + ".png")
    dom = open_page(probe, screenshot=shot)
    loaded, total = map(int, re.search(r'data-images="(\d+)/(\d+)"', dom).groups())
    assert total > 0 and loaded == total
    assert shot.is_file() and shot.stat().st_size > 10_000  # a screenshot under reports/
    html = original.read_text()
    assert not re.search(r"""(?:src|href)=["'](?:https?:)?//""", html)


def test_pdf_is_printed_for_every_report(rendered):
    for slug in ("mentoring-site-a", "placement-runaway"):
        pdf = rendered / slug / "report.pdf"
        data = pdf.read_bytes()
        assert data.startswith(b"%PDF") and data.count(b"/Type /Page") >= 3


def test_missing_chromium_is_a_clear_pdf_failure(tmp_path, monkeypatch):
    from evalkit.run import run_evaluation

    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("EVALKIT_CHROMIUM", raising=False)
    cfg = tmp_path / "site.yaml"
    shutil.copy(EVALUATIONS / "mentoring-site-a.yaml", cfg)
    text = cfg.read_text().replace("../data/sample", str(EVALUATIONS.parent / "data/sample"))
    cfg.write_text(text)
    o = run_evaluation(cfg, tmp_path / "reports", pdf=True)
    assert o.stage == "pdf" and "Chromium was not found" in o.message
    assert not (tmp_path / "reports" / "site").exists()

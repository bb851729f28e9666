"""Headless Chromium: print reports to PDF, and open pages the way a reader's browser does.

Chromium is not a Python dependency: ``make test`` installs Debian's ``chromium`` package where
it can, and every caller says clearly what is missing when it is not there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["find_chromium", "print_pdf", "open_page", "BrowserError"]

_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: Flags for a quiet, offline headless browser: no network, no first-run or sync chatter.
_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--proxy-server=http://127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
]


class BrowserError(RuntimeError):
    """Chromium is missing or failed."""


def find_chromium() -> str | None:
    """Path of a Chromium (or Chrome) executable, or ``None``."""
    env = os.environ.get("EVALKIT_CHROMIUM")
    if env and Path(env).is_file():
        return env
    for name in _NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    exe = find_chromium()
    if exe is None:
        raise BrowserError("Chromium was not found: install Debian's 'chromium' package (or "
                           "set EVALKIT_CHROMIUM to a Chrome executable) to print PDFs")
    with tempfile.TemporaryDirectory(prefix="evalkit-chromium-") as profile:
        proc = subprocess.run([exe, *_FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise BrowserError(f"Chromium failed ({proc.returncode}): "
                           f"{proc.stderr.strip().splitlines()[-1:] or ''}")
    return proc


def print_pdf(html_path: str | Path, pdf_path: str | Path, *, timeout: float = 120) -> Path:
    """Print an HTML file to PDF (A4/Letter from the page's CSS, no headers or footers)."""
    html_path, pdf_path = Path(html_path).resolve(), Path(pdf_path).resolve()
    _run(["--no-pdf-header-footer", f"--print-to-pdf={pdf_path}",
          html_path.as_uri()], timeout)
    if not pdf_path.is_file() or pdf_path.stat().st_size == 0:
        raise BrowserError(f"Chromium did not write {pdf_path}")
    return pdf_path


def open_page(html_path: str | Path, *, screenshot: str | Path | None = None,
              width: int = 1200, height: int = 2400, timeout: float = 120) -> str:
    """Load a page offline and return its DOM after scripts ran (optionally a screenshot)."""
    uri = Path(html_path).resolve().as_uri()
    args = ["--virtual-time-budget=5000", "--dump-dom", uri]
    dom = _run(args, timeout).stdout
    if screenshot is not None:
        _run([f"--window-size={width},{height}", f"--screenshot={Path(screenshot).resolve()}",
              uri], timeout)
    return dom

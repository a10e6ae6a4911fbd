"""report.html opens in a real browser (Debian's headless Chromium) with no console errors,
and the screenshot shows the plots drawn: coloured pixels where the images are, not blank
boxes. Skipped, saying why, where Chromium is not installed (.ci/run installs it)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import matplotlib.image
import pytest
from support.synthetic import synthetic_run

from harness.analyze.analysis import analyze, write_verdict
from harness.analyze.verdict import Rules
from harness.report.render import render_reports

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium here (apt-get install chromium; .ci/run does)"
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
]


def screenshot(page: Path, out: Path, profile: Path) -> str:
    assert CHROMIUM is not None
    done = subprocess.run(
        [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={profile}",
            "--window-size=1200,2600",
            f"--screenshot={out}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stderr


def test_report_renders_in_chromium_with_plots_and_no_console_errors(tmp_path: Path) -> None:
    run_dir = synthetic_run(tmp_path, heap_leak=1024.0)
    analysis = analyze(run_dir, Rules())
    write_verdict(run_dir, analysis)
    page = render_reports(run_dir, analysis)[0]
    shot = tmp_path / "report.png"
    log = screenshot(page, shot, tmp_path / "profile")
    console = [line for line in log.splitlines() if "CONSOLE" in line]
    assert not console, console
    # Control: the same page with its images emptied. The plots use saturated colours and
    # the page around them is white and grey, so drawn plots add many coloured pixels.
    blank = tmp_path / "blank.html"
    html = page.read_text()
    blank.write_text(re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html))
    control = tmp_path / "blank.png"
    screenshot(blank, control, tmp_path / "profile2")
    drawn, empty = coloured(shot), coloured(control)
    assert drawn > empty + 0.003, f"coloured share {drawn:.2%} vs {empty:.2%} with no images"
    pixels = matplotlib.image.imread(str(shot))[:, :, :3]
    top = pixels[:200]  # the red LEAK badge is at the top
    red = (top[:, :, 0] > 0.6) & (top[:, :, 1] < 0.3) & (top[:, :, 2] < 0.3)
    assert red.any(), "no LEAK badge in the first 200 pixels"


def coloured(png: Path) -> float:
    pixels = matplotlib.image.imread(str(png))[:, :, :3]
    saturation = pixels.max(axis=2) - pixels.min(axis=2)
    return float((saturation > 0.25).mean())

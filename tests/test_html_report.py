"""The HTML report is self-contained and renders in a real browser (headless Chromium)."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from replicate.cli import main

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if exe is None:
        if os.environ.get("REPLICATE_REQUIRE_BROWSER") == "1":
            pytest.fail("headless Chromium is required here (REPLICATE_REQUIRE_BROWSER=1) but not installed")
        pytest.skip("headless Chromium not installed (apt-get install chromium)")
    return exe


def test_html_report_renders_in_chromium(case_dir, tmp_path):
    out = tmp_path / "reports"
    p = case_dir / "classroom-mathkind-ses-school.yaml"
    p.write_text(p.read_text().replace("estimate: 465.746", "estimate: 466.746"))
    assert main(["run", str(case_dir), "--out", str(out), "--format", "html"]) == 1
    page = out / "report.html"
    text = page.read_text()
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")  # nothing fetched
    exe = chromium()
    profile = tmp_path / "profile"
    dom = subprocess.run(
        [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'id="heatmap"' in dom.stdout and "466.746" in dom.stdout and "discrepancy" in dom.stdout
    shot = tmp_path / "shot.png"
    res = subprocess.run(
        [
            exe,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--window-size=1200,1600",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0 and shot.stat().st_size > 20_000
    # a rendered page is not a blank one: the PNG holds many distinct colours
    data = Path(shot).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"

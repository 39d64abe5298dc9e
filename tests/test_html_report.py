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


def test_heat_map_colours_by_verdict_and_shows_exact_matches(case_dir):
    # issue #18: coloured by digits, an exact match (0 vs 0, df 22 vs 22) showed red and a real discrepancy
    # looked like an agreeing correlation. Now a cell takes its worst verdict's colour.
    import xml.etree.ElementTree as ET

    from replicate.engines import get_engine
    from replicate.report.html import heatmap
    from replicate.runner import run_case

    planted = case_dir / "classroom-mathkind-ses-school.yaml"
    planted.write_text(planted.read_text().replace("estimate: 465.746", "estimate: 466.746"))
    engine = get_engine("native")
    results = [run_case(planted, engine), run_case(case_dir / "dyestuff.yaml", engine)]
    svg = ET.fromstring(heatmap(results))
    ns = "{http://www.w3.org/2000/svg}"
    cells = {r.find(f"{ns}title").text.split(":")[0]: r.get("class") for r in svg.iter(f"{ns}rect") if r.get("class")}
    planted_estimate = next(
        k for k in cells if k.startswith("classroom-mathkind-ses-school") and k.endswith(" estimate")
    )
    assert cells[planted_estimate] == "cell-discrepancy"
    dyestuff = {k: c for k, c in cells.items() if k.startswith("dyestuff")}
    assert dyestuff and all(c in ("cell-agrees", "cell-within") for c in dyestuff.values())
    texts = [t.text for t in svg.iter(f"{ns}text")]
    assert "exact" in texts  # nobs and group counts agree exactly: shown as exact, not as "1.0 digits"

"""The HTML report is self-contained and renders in a real browser (headless Chromium)."""

import os
import re
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


def _planted_report(case_dir, tmp_path, old: str, new: str) -> str:
    from replicate.engines import get_engine
    from replicate.report.html import render_html
    from replicate.runner import run_case

    planted = case_dir / "classroom-mathkind-ses-school.yaml"
    planted.write_text(planted.read_text().replace(old, new))
    return render_html([run_case(planted, get_engine("native"))])


def test_a_one_percent_se_error_stands_out_in_the_digit_gap_plot(case_dir, tmp_path):
    # issue #18: with each axis fitted to its own bar, a 1% SE error was invisible. The gap plot counts the
    # difference in units of the last printed digit: 2.079 for 2.058 is 21 units off, the agreeing values < 1.
    import xml.etree.ElementTree as ET

    page = _planted_report(case_dir, tmp_path, "se: 2.058", "se: 2.079")
    ns = "{http://www.w3.org/2000/svg}"
    svgs = [ET.fromstring(m) for m in re.findall(r"<svg[^>]*class='digits'.*?</svg>", page, re.DOTALL)]
    bars = {r.find(f"{ns}title").text.split(":")[0]: r for s in svgs for r in s.iter(f"{ns}rect") if r.get("class")}
    bad = bars["fixed (Intercept) se"]
    assert bad.get("class") == "gap-discrepancy"
    widths = {k: float(r.get("width")) for k, r in bars.items()}
    assert widths["fixed (Intercept) se"] >= 199  # clipped at 10 units: half the plot's width
    others = [w for k, w in widths.items() if k != "fixed (Intercept) se" and bars[k].get("class") == "gap-agrees"]
    assert others and max(others) < 0.1 * widths["fixed (Intercept) se"]


def test_forest_plot_puts_every_program_on_one_axis_per_coefficient(case_dir, tmp_path):
    page = _planted_report(case_dir, tmp_path, "se: 2.058", "se: 2.079")
    terms = re.findall(r"class='forest' data-term='([^']*)'", page)
    assert terms.count("(Intercept)") == 1 and terms.count("ses") == 1  # one plot per coefficient
    block = re.search(r"data-term='\(Intercept\)'.*?</svg>", page, re.DOTALL).group(0)
    assert "point-discrepancy" in block and "point-engine" in block


def _red_pixels(png: bytes) -> int:
    """Pixels close to the discrepancy red (#c62828) in an 8-bit RGB(A) PNG (no imaging library needed)."""
    import struct
    import zlib

    width, height, depth, colour = struct.unpack(">IIBB", png[16:26])
    assert depth == 8 and colour in (2, 6)
    bpp = 3 if colour == 2 else 4
    pos, data = 8, b""
    while pos < len(png):
        (n,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        if kind == b"IDAT":
            data += png[pos + 8 : pos + 8 + n]
        pos += 12 + n
    raw, stride, prev, red = zlib.decompress(data), width * bpp, bytearray(width * bpp), 0
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        red += sum(
            1
            for x in range(0, stride, bpp)
            if abs(line[x] - 0xC6) < 24 and abs(line[x + 1] - 0x28) < 24 and abs(line[x + 2] - 0x28) < 24
        )
        prev = line
    return red


def test_the_planted_discrepancy_is_visible_in_the_rendered_page(case_dir, tmp_path):
    exe = chromium()
    page = tmp_path / "one.html"
    page.write_text(_planted_report(case_dir, tmp_path, "se: 2.058", "se: 2.079"), encoding="utf-8")
    shot = tmp_path / "shot.png"
    res = subprocess.run(
        [
            exe,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'p'}",
            "--window-size=1200,2400",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert _red_pixels(shot.read_bytes()) > 300  # the clipped red bar (and the red heat-map cell) are on screen


def test_the_df_of_each_coefficient_under_every_definition_in_one_chart(case_dir, tmp_path):
    # issue #18: HLM 22, nlme 496, Satterthwaite 22.7 ... for one coefficient, in one chart
    page = _planted_report(case_dir, tmp_path, "x", "x")
    chart = re.search(r"<svg[^>]*class='dfdots' data-term='ses'.*?</svg>", page, re.DOTALL).group(0)
    for short in ("resid", "contain", "bw", "HLM", "nlme", "Satt", "KR"):
        assert f">{short} " in chart, short
    assert "printed by lmerTest: 1187.99" in chart  # the printed Satterthwaite df beside the definitions


def test_an_optimum_diagnosis_draws_the_likelihood_between_the_two_optima(case_dir, tmp_path):
    # issue #18: for a different optimum, the profiled likelihood along the line between the two, both marked
    from replicate.engines import get_engine
    from replicate.report.html import render_html
    from replicate.runner import run_case

    p = case_dir / "dyestuff.yaml"
    p.write_text(
        p.read_text().replace("variance: 1764.050006427103, sd: 42.000595310389386", "variance: 1300, sd: 36.06")
    )
    res = run_case(p, get_engine("native"))
    optimum = [d for b in res.blocks for d in b.diagnoses if "profile" in d.data]
    assert optimum and optimum[0].kind in ("different optimum", "likelihood gap"), [d.kind for d in optimum]
    profile = optimum[0].data["profile"]
    at = dict(profile)
    assert at[0.0] == max(at.values())  # the engine's optimum is the highest point of the line
    assert at[1.0] < at[0.0]
    page = render_html([res])
    svg = re.search(r"<svg[^>]*class='profile'.*?</svg>", page, re.DOTALL).group(0)
    assert "engine&#x27;s optimum" in svg and "lme4 stopped here" in svg

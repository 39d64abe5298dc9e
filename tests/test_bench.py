"""``replicate bench --quick --no-r``: runs, and writes well-formed JSON, Markdown and HTML.

Structure only: timings depend on the machine and are never asserted.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from replicate.bench import bench_command
from replicate.bench.report import evaluate_goals, loglog_svg
from replicate.bench.suites import matches, slopes
from replicate.bench.timing import loglog_slope, measure, summarize

pytest.importorskip("statsmodels")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> tuple[int, Path]:
    out = tmp_path_factory.mktemp("bench")
    code = bench_command(["--quick", "--no-r", "--out", str(out)])
    return code, out


def _one(out: Path, suffix: str) -> Path:
    files = sorted(out.glob(f"bench_*{suffix}"))
    assert len(files) == 1, files
    return files[0]


def test_quick_run_exit_code_and_files(quick_run):
    code, out = quick_run
    assert code == 0
    for suffix in (".json", ".md", ".html"):
        assert _one(out, suffix).stat().st_size > 0
    assert not list(out.glob(".*.tmp")), "atomic writes leave no temporary files"


def _is_measurement(m: dict) -> bool:
    if "skipped" in m or "error" in m:
        return True
    keys = {"median_s", "q1_s", "q3_s", "min_s", "max_s", "n_runs", "runs", "loadavg_before", "loadavg_after"}
    assert keys <= set(m), keys - set(m)
    assert m["n_runs"] == len(m["runs"]) >= 1
    assert m["min_s"] <= m["q1_s"] <= m["median_s"] <= m["q3_s"] <= m["max_s"]
    return True


def test_json_structure(quick_run):
    _, out = quick_run
    res = json.loads(_one(out, ".json").read_text())
    assert res["schema"] == "replicate-bench/1"
    m = res["machine"]
    for key in (
        "date",
        "cpu_model",
        "cores_logical",
        "memory_gb",
        "loadavg_start",
        "python",
        "packages",
        "threadpools",
        "blas_thread_env",
    ):
        assert key in m
    assert res["r"]["used"] is False and res["r"]["reason"] == "--no-r"
    assert res["options"]["quick"] is True and res["options"]["no_r"] is True

    fits = res["fits"]
    assert {r["model"] for r in fits} >= {"sleepstudy", "dyestuff", "penicillin", "pastes"}
    for r in fits:
        assert r["id"] == f"fit/{r['model']}/{r['method']}"
        assert "median_s" in r["native"], r["native"]
        _is_measurement(r["native"])
        assert "lme4" not in r  # --no-r
        _is_measurement(r["statsmodels"])
        if "median_s" in r["statsmodels"]:
            assert r["ratios"]["statsmodels"]["median"] > 0
    sections = {r["section"] for r in res["inference"]}
    assert sections == {"satterthwaite", "fit_satterthwaite", "kenward_roger"}
    for r in res["inference"]:
        _is_measurement(r["native"])
        assert r[r["peer"]] == {"skipped": "R not used"}

    sweeps = {s["sweep"]: s for s in res["scaling"]}
    assert {"rows_ri", "rows_rs"} <= set(sweeps)
    for s in sweeps.values():
        assert s["axis"] in ("rows", "groups")
        progs = {(p["phase"], p["program"]) for p in s["points"]}
        assert {
            ("fit", "native"),
            ("fit", "native_crossprod"),
            ("satterthwaite", "native"),
            ("kenward_roger", "native"),
        } <= progs
        for p in s["points"]:
            _is_measurement(p)
        assert any(sl["program"] == "native" and sl["slope_all"] is not None for sl in s["slopes"])
    goal_ids = [g["id"] for g in res["goals"]]
    assert goal_ids == [
        "faster_than_lme4",
        "insteval_17x",
        "crossed_10x",
        "accuracy",
        "kr_20x",
        "linear_in_rows",
        "million_rows",
    ]
    assert all(g["status"] in ("met", "not met", "not measured") for g in res["goals"])


def test_markdown_and_html(quick_run):
    _, out = quick_run
    md = _one(out, ".md").read_text()
    for heading in ("## Goals", "## Model fits", "## Inference", "## Scaling", "### rows_ri"):
        assert heading in md
    assert "| model | method | rows |" in md and "empirical order" in md
    page = _one(out, ".html").read_text()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert (
        page.count("<svg") >= 4
        and "<script" not in page
        and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    )


def test_bad_options():
    assert bench_command(["--only", "no-such-benchmark", "--no-r"]) == 2
    assert bench_command(["--reps", "0"]) == 2
    assert bench_command(["--no-such-option"]) == 2


def test_list(capsys):
    assert bench_command(["--list", "--quick", "--only", "fit/dyestuff*"]) == 0
    assert capsys.readouterr().out.split() == [
        "fit/dyestuff/REML",
        "fit/dyestuff/ML",
        "fit/dyestuff2/REML",
        "fit/dyestuff2/ML",
    ]


def test_only_matching():
    assert matches("fit/insteval/ML", ["insteval"])
    assert matches("kenward_roger/hsb_ses", ["kr"])
    assert matches("fit/hsb_ses/REML", ["fit/hsb_*"])
    assert not matches("fit/hsb_ses/REML", ["inference"])
    assert matches("scaling/rows_ri", [])


def test_measure_and_stats():
    calls = []
    m, last = measure(lambda: calls.append(1) or len(calls), reps=3)
    assert len(calls) == 4 and last == 4  # warm-up + 3
    assert m["n_runs"] == 3 and "warmup_s" in m
    s = summarize([3.0, 1.0, 2.0])
    assert (s["min_s"], s["median_s"], s["max_s"]) == (1.0, 2.0, 3.0)
    assert loglog_slope([10, 100, 1000], [1, 10, 100]) == pytest.approx(1.0)
    assert loglog_slope([10], [1]) is None


def test_slopes_and_goals_from_synthetic_points():
    pts = [
        {
            "x": n,
            "rows": n,
            "groups": n // 10,
            "phase": "fit",
            "program": "native",
            "median_s": n * 1e-6,
            "n_runs": 1,
            "rss_peak_mb": 10.0,
        }
        for n in (10_000, 100_000, 1_000_000)
    ]
    sl = slopes(pts, "rows")
    assert sl[0]["slope_larger"] == pytest.approx(1.0)
    res = {"fits": [], "inference": [], "scaling": [{"sweep": "rows_ri", "points": pts, "slopes": sl}]}
    goals = {g["id"]: g for g in evaluate_goals(res)}
    assert goals["linear_in_rows"]["status"] == "met"
    assert goals["million_rows"]["status"] == "met"
    assert goals["faster_than_lme4"]["status"] == "not measured"
    svg = loglog_svg({"native": [(1e3, 0.01), (1e6, 1.0)]}, "t", "rows", "seconds")
    assert svg.startswith("<svg") and "polyline" in svg


def test_issue_20_goals_are_judged_from_the_fits():
    def fit(ratio, gap=0.0):
        return {"ratios": {"lme4": {"median": ratio}}, "lme4": {"objective_minus_native": gap}}

    fits = {
        "fit/insteval/ML": fit(18.0),
        "fit/insteval_dept_service/ML": fit(12.0),
        "fit/kb07_like/ML": fit(18.2, 3e-7),
        "fit/crossed_slopes_large/ML": fit(9.0),
        "fit/sleepstudy/REML": fit(2.0, -1e-3),
    }
    goals = {g["id"]: g for g in evaluate_goals({"fits": [{"id": k, **v} for k, v in fits.items()]})}
    assert goals["insteval_17x"]["status"] == "not met" and "12.0x" in goals["insteval_17x"]["detail"]
    assert goals["crossed_10x"]["status"] == "not met"
    assert goals["crossed_10x"]["numbers"]["ratios"] == {"fit/crossed_slopes_large/ML": 9.0, "fit/kb07_like/ML": 18.2}
    assert goals["accuracy"]["status"] == "not met" and "fit/sleepstudy/REML" in goals["accuracy"]["detail"]
    fits["fit/insteval_dept_service/ML"] = fit(21.0)
    fits["fit/crossed_slopes_large/ML"] = fit(20.0)
    fits["fit/sleepstudy/REML"] = fit(2.0, 1e-4)
    goals = {g["id"]: g for g in evaluate_goals({"fits": [{"id": k, **v} for k, v in fits.items()]})}
    assert [goals[g]["status"] for g in ("insteval_17x", "crossed_10x", "accuracy")] == ["met", "met", "met"]
    assert goals["insteval_17x"]["numbers"] == {"insteval": 18.0, "insteval_dept_service": 21.0}

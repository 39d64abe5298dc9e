"""Monte Carlo studies: known results, reproducibility across chunking and executors, resuming, reports, CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from replicate.simulate import StudyError, load_results, load_study, main_simulate, run_study, simulate_command
from replicate.simulate.study import chunk_path
from replicate.simulate.theory import oneway_theory

STUDIES = Path(__file__).resolve().parents[2] / "studies"


def numbers(records):
    """Every number of the records, in a fixed order (None as nan), for comparisons."""
    out = []
    for rec in sorted(records, key=lambda r: r["r"]):
        for key in sorted(k for k in rec if k not in ("r", "n")):
            m = rec[key]
            vals = list(m["estimate"]) + list(m["vc"])
            for kind in sorted(m["se"]):
                vals += m["se"][kind]
            for kind in sorted(m["df"]):
                vals += m["df"][kind]
            out += [math.nan if v is None else v for v in vals]
    return np.array(out, dtype=float)


# ------------------------------------------------------------ known results


@pytest.mark.slow
def test_quick_study_reproduces_known_results(tmp_path):
    """Small groups, a level-2 predictor with no effect (Kenward & Roger 1997; McNeish 2017).

    Every tolerance is 3.5 Monte Carlo SEs (two-sided, about 1 in 2000 per check by chance);
    the reference values are exact for this balanced design (replicate/simulate/theory.py).
    """
    res = run_study(STUDIES / "small-groups-level2-quick.yaml", tmp_path / "out", workers=2)
    s, st = res.summary, res.study
    R = st.replicates
    assert res.replicates == R and res.computed == R
    assert all(f["failed"] == 0 for f in s.fits)
    J, n, p = st.design.groups, st.design.sizes.sizes[0], len(st.coefficients)
    tau = st.truth.cov_matrix[0, 0]
    th = {m: oneway_theory(m, J, n, p, tau, st.truth.sigma2) for m in ("REML", "ML")}
    k = 3.5

    def rate(m, df, se="model"):
        return s.test(m, df, se, "w")

    # REML: residual df reject too often; Satterthwaite, KR and between-within df keep the level.
    nominal_se = math.sqrt(0.05 * 0.95 / R)
    for df, se in (("satterthwaite", "model"), ("kenward-roger", "kenward-roger"), ("between-within", "model")):
        row = rate("REML", df, se)
        assert abs(row["rejection"] - 0.05) < k * nominal_se, (df, row)
        assert row["median_df"] == pytest.approx(J - p, rel=0.02), (df, row["median_df"])
    resid = rate("REML", "residual")
    exact = th["REML"].rejection(J * n - p)
    assert exact > 0.07  # the known result itself: t has J - p = 10 df, not N - p = 118
    assert abs(resid["rejection"] - exact) < k * math.sqrt(exact * (1 - exact) / R)
    assert resid["rejection"] > rate("REML", "satterthwaite")["rejection"]  # same t, smaller critical value
    assert abs(rate("REML", "between-within")["rejection"] - th["REML"].rejection(J - p)) < k * nominal_se
    # ML's SEs are too small as well: residual df reject more often still
    ml = rate("ML", "residual")
    exact_ml = th["ML"].rejection(J * n - p)
    assert abs(ml["rejection"] - exact_ml) < k * math.sqrt(exact_ml * (1 - exact_ml) / R)
    # coverage is 1 - rejection for a null effect
    assert resid["coverage"] == pytest.approx(1 - resid["rejection"])

    # Variance components: REML unbiased up to the truncation at 0, ML's school variance biased down
    # by about (J - p) / J.
    name = f"var((Intercept)|{st.design.group})"
    reml, ml_vc = s.variance_row("REML", name), s.variance_row("ML", name)
    for row, t in ((reml, th["REML"]), (ml_vc, th["ML"])):
        assert abs(row["mean"] - t.tau) < k * row["bias_mcse"], (row, t.tau)
        assert row["theory_mean"] == pytest.approx(t.tau)
    assert abs(reml["relative"] - 1) < k * reml["relative_mcse"] + 0.01
    assert ml_vc["relative"] < 1 - 3 * ml_vc["relative_mcse"]
    assert ml_vc["relative"] == pytest.approx((J - p) / J, abs=0.1)
    assert ml_vc["theory_factor"] == pytest.approx((J - p) / J)
    for m in ("REML", "ML"):
        row = s.variance_row(m, "var(Residual)")
        assert abs(row["mean"] - th[m].sigma2) < k * row["bias_mcse"]

    # the reports
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    assert doc["study"]["id"] == st.id and doc["replicates"] == R
    assert {t["df"] for t in doc["tests"]} == set(st.methods.df)
    md = (tmp_path / "out" / "results.md").read_text()
    assert "Type I error" in md and "var((Intercept)\\|school)" in md
    html = (tmp_path / "out" / "report.html").read_text()
    assert html.count("<svg") >= 6 and "Type I error: w" in html
    assert "<script" not in html and "<link" not in html and " src=" not in html  # self-contained


# ------------------------------------------------- chunking and executors


def test_results_do_not_depend_on_chunking_or_executor(tmp_path, tiny):
    serial = run_study(tiny(chunk_size=5), tmp_path / "serial", executor="serial", write_reports=False)
    local = run_study(tiny(chunk_size=3), tmp_path / "local", executor="local", workers=2, write_reports=False)
    np.testing.assert_allclose(numbers(local.records), numbers(serial.records), rtol=1e-10, equal_nan=True)
    assert len(local.summary.tests) == len(serial.summary.tests)
    for a, b in zip(local.summary.tests, serial.summary.tests):
        assert a.keys() == b.keys()
        for key, v in a.items():
            assert v == (pytest.approx(b[key], rel=1e-9, nan_ok=True) if isinstance(v, float) else b[key])
    assert len(list((tmp_path / "local" / "chunks").glob("chunk-*.json"))) == 4
    assert len(list((tmp_path / "serial" / "chunks").glob("chunk-*.json"))) == 3


def test_dask_local_cluster(tmp_path, tiny):
    distributed = pytest.importorskip("distributed")
    serial = run_study(tiny(), tmp_path / "serial", executor="serial", write_reports=False)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        res = run_study(tiny(), tmp_path / "dask", executor="dask", scheduler=cluster, write_reports=False)
        assert res.executor.startswith("dask")
        # a Client works as well, and an address
        with distributed.Client(cluster) as client:
            again = run_study(tiny(seed=5), tmp_path / "dask2", scheduler=client, write_reports=False)
        by_address = run_study(
            tiny(seed=5), tmp_path / "dask3", executor="dask", scheduler=cluster.scheduler_address, write_reports=False
        )
    np.testing.assert_allclose(numbers(res.records), numbers(serial.records), rtol=1e-10, equal_nan=True)
    np.testing.assert_allclose(numbers(again.records), numbers(by_address.records), rtol=1e-10, equal_nan=True)


@pytest.mark.slow
def test_dask_local_cluster_of_processes(tmp_path, tiny):
    pytest.importorskip("distributed")
    serial = run_study(tiny(), tmp_path / "serial", executor="serial", write_reports=False)
    res = run_study(tiny(), tmp_path / "dask", executor="dask", workers=2, write_reports=False)
    assert "LocalCluster" in res.executor
    np.testing.assert_allclose(numbers(res.records), numbers(serial.records), rtol=1e-10, equal_nan=True)


# ---------------------------------------------------------------- resuming


class Stop(Exception):
    pass


def test_interrupted_study_resumes_without_losing_replicates(tmp_path, tiny):
    out = tmp_path / "out"
    seen = []

    def progress(done, total):
        seen.append((done, total))
        if done >= 8:
            raise Stop  # as a Ctrl-C after the second chunk

    with pytest.raises(Stop):
        run_study(tiny(), out, executor="serial", progress=progress)
    assert seen == [(0, 12), (4, 12), (8, 12)]
    assert sorted(p.name for p in (out / "chunks").iterdir()) == ["chunk-00000.json", "chunk-00001.json"]

    seen.clear()
    res = run_study(tiny(), out, executor="serial", progress=lambda d, t: seen.append((d, t)))
    assert (res.resumed, res.computed) == (8, 4)
    assert seen == [(8, 12), (12, 12)]
    fresh = run_study(tiny(), tmp_path / "fresh", executor="serial", write_reports=False)
    np.testing.assert_array_equal(numbers(res.records), numbers(fresh.records))

    # more replicates later: the finished chunks are kept
    more = run_study(tiny(replicates=14), out, executor="serial", write_reports=False)
    assert (more.resumed, more.computed) == (12, 2)
    # a damaged chunk is computed again
    chunk_path(out, 1).write_text("{ not json")
    again = run_study(tiny(replicates=14), out, executor="serial", write_reports=False)
    assert (again.resumed, again.computed) == (10, 4)
    np.testing.assert_array_equal(numbers(again.records[:12]), numbers(fresh.records))
    study, records = load_results(out)
    assert study.replicates == 14 and [r["r"] for r in records] == list(range(14))


def test_output_folder_of_another_study_is_refused(tmp_path, tiny):
    out = tmp_path / "out"
    run_study(tiny(replicates=4), out, executor="serial", write_reports=False)
    with pytest.raises(StudyError) as exc:
        run_study(tiny(replicates=4, seed=7), out, executor="serial")
    assert "another study" in str(exc.value) and exc.value.field == "out"


def test_failed_fits_are_counted_not_fatal(tmp_path, tiny):
    doc = tiny(replicates=3)
    doc["methods"]["df"] = ["residual", "hlm"]
    doc["methods"]["se"] = ["model", "cr2"]
    res = run_study(doc, tmp_path / "out", executor="serial")
    assert res.summary.fits[0]["fitted"] == 3
    row = res.summary.test("REML", "hlm", "cr2", "w")
    assert row["n"] == 3 and 0 <= row["coverage"] <= 1


def test_html_report_renders_in_chromium(tmp_path, tiny):
    """The study report is self-contained and a browser builds its plots (as the case report's test)."""
    import os
    import shutil
    import subprocess

    res = run_study(tiny(replicates=4), tmp_path / "out", executor="serial")
    page = res.files["html"]
    text = page.read_text()
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "") and "https://" not in text
    exe = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if exe is None:
        if os.environ.get("REPLICATE_REQUIRE_BROWSER") == "1":
            pytest.fail("headless Chromium is required here (REPLICATE_REQUIRE_BROWSER=1) but not installed")
        pytest.skip("headless Chromium not installed (apt-get install chromium)")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [exe, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120, check=False
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count('class="dotplot"') >= 6 and "Coverage: w" in dom.stdout


# --------------------------------------------------------------------- CLI


def test_simulate_command(tmp_path, tiny, capsys):
    import yaml

    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny(replicates=4)))
    code = simulate_command(path, tmp_path / "out", None, None, executor="serial")
    assert code == 0
    out = capsys.readouterr().out
    assert "tiny: 4 replicates" in out and "Type I error w" in out and "results.md" in out
    assert (tmp_path / "out" / "report.html").exists()

    code = main_simulate([str(path), "--out", str(tmp_path / "out2"), "--executor", "serial", "--quiet"])
    assert code == 0 and capsys.readouterr().out == ""

    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(tiny(replicates=-3)))
    assert simulate_command(bad, tmp_path / "out3", None, None) == 2
    err = capsys.readouterr().err
    assert "replicates" in err and "bad.yaml" in err
    assert main_simulate([str(path), "--workers", "0"]) == 2
    dask = pytest.importorskip("dask")
    pytest.importorskip("distributed")
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        assert simulate_command(path, tmp_path / "out4", "tcp://127.0.0.1:9", None) == 1
    assert "could not run" in capsys.readouterr().err


def test_load_study_accepts_the_shipped_file():
    st = load_study(STUDIES / "small-groups-level2.yaml")
    assert st.replicates == 1000 and st.design.groups == 12
    assert st.methods.df == ("residual", "satterthwaite", "kenward-roger", "between-within")

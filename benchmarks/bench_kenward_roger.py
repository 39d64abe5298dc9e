"""Benchmark: Kenward-Roger inference, ours against pbkrtest.

Times, after one warm-up run each,

* High School and Beyond (7,185 rows in 160 schools), ``MathAch ~ SES +
  (SES | School)`` and ``MathAch ~ MEANSES * cses + Sector + (cses | School)``:
  replicate's :func:`kenward_roger` against pbkrtest's
  ``vcovAdj`` plus ``Lb_ddf`` for every coefficient, through rpy2 in this
  process. The lme4 fit is made once beforehand and R's start-up is not timed;
  likewise our native fit is not timed.
* ours alone on simulated data with 100,000 rows in 2,000 groups
  (``y ~ x * z + (x | g)``).

Prints a table and writes ``benchmarks/results/kenward_roger.json``.

Usage::

    /tmp/venv/bin/python benchmarks/bench_kenward_roger.py [--reps-r 3] [--reps 7]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from replicate.design import build_design
from replicate.engines import get_engine
from replicate.inference.kenward_roger import kenward_roger
from replicate.spec import parse_formula

RESULTS = ROOT / "benchmarks" / "results" / "kenward_roger.json"

R_SETUP = """
function(df, formula) {
  fm <- lme4::lmer(stats::as.formula(formula), data = df, REML = TRUE)
  function() {
    V <- pbkrtest::vcovAdj(fm)
    V0 <- stats::vcov(fm)
    p <- ncol(V0)
    ddf <- vapply(seq_len(p), function(k) {
      L <- matrix(0, 1, p); L[1, k] <- 1
      pbkrtest::Lb_ddf(L, V0, V)
    }, numeric(1))
    list(se = sqrt(diag(as.matrix(V))), ddf = ddf)
  }
}
"""


def timed(fn, reps: int) -> tuple[list[float], object]:
    fn()  # warm-up
    times, out = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return times, out


def hsb_frame(ro) -> pd.DataFrame:
    """nlme::MathAchieve joined with nlme::MathAchSchool (Sector), plus group-centred SES."""
    from rpy2.robjects import pandas2ri
    from rpy2.robjects.conversion import localconverter

    with localconverter(ro.default_converter + pandas2ri.converter):
        conv = ro.conversion.get_conversion()
        stud = conv.rpy2py(ro.r("as.data.frame(nlme::MathAchieve)")).reset_index(drop=True)
        sch = conv.rpy2py(ro.r("as.data.frame(nlme::MathAchSchool)")).reset_index(drop=True)
    stud["School"] = stud["School"].astype(str)
    sch["School"] = sch["School"].astype(str)
    df = stud.merge(sch[["School", "Sector"]], on="School", how="left")
    df["Sector"] = pd.Categorical(df["Sector"].astype(str), categories=["Public", "Catholic"])
    df["cses"] = df["SES"] - df["MEANSES"]
    return df[["School", "MathAch", "SES", "MEANSES", "cses", "Sector"]]


def to_r(ro, df: pd.DataFrame):
    from rpy2.robjects import pandas2ri
    from rpy2.robjects.conversion import localconverter

    with localconverter(ro.default_converter + pandas2ri.converter):
        return ro.conversion.get_conversion().py2rpy(df)


def simulated(n: int = 100_000, groups: int = 2_000, seed: int = 2024) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = rng.integers(0, groups, n)
    x = rng.normal(size=n)
    zg = rng.normal(size=groups)
    y = (1 + 0.5 * x + 0.3 * zg[g] + rng.normal(size=groups)[g]
         + 0.5 * rng.normal(size=groups)[g] * x + rng.normal(size=n))
    return pd.DataFrame({"y": y, "x": x, "z": zg[g], "g": pd.Categorical(g)})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps-r", type=int, default=3, help="timed pbkrtest runs (each ~10 s on HSB)")
    ap.add_argument("--reps", type=int, default=7, help="timed runs of ours")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()

    import rpy2.robjects as ro
    from rpy2.robjects.packages import importr

    importr("lme4")
    pbk = importr("pbkrtest")
    lme4_version = str(ro.r("as.character(packageVersion('lme4'))")[0])
    pbk_version = str(ro.r("as.character(packageVersion('pbkrtest'))")[0])
    del pbk

    rows = []
    # --- HSB: ours vs pbkrtest
    df = hsb_frame(ro)
    r_df_obj = to_r(ro, df)
    for case, formula in [("hsb_random_slope", "MathAch ~ SES + (SES | School)"),
                          ("hsb_level2", "MathAch ~ MEANSES * cses + Sector + (cses | School)")]:
        design = build_design(parse_formula(formula), df)
        fit = get_engine("native").fit(design, "REML")
        ours_t, ours = timed(lambda: kenward_roger(fit, design), args.reps)  # noqa: B023
        r_fun = ro.r(R_SETUP)(r_df_obj, formula)
        r_t, r_out = timed(lambda: r_fun(), args.reps_r)  # noqa: B023
        r_se = np.asarray(r_out.rx2("se"))
        r_df = np.asarray(r_out.rx2("ddf"))
        med_ours, med_r = statistics.median(ours_t), statistics.median(r_t)
        rows.append({
            "case": case, "formula": formula, "n": design.n,
            "groups": design.ngroups(), "ours_s": ours_t, "ours_median_s": med_ours,
            "pbkrtest_s": r_t, "pbkrtest_median_s": med_r, "speedup": med_r / med_ours,
            "max_rel_diff_df": float(np.max(np.abs(ours.df.to_numpy() / r_df - 1))),
            "max_rel_diff_se": float(np.max(np.abs(ours.se.to_numpy() / r_se - 1))),
            "df": ours.df.to_dict(), "se_kr": ours.se.to_dict(),
        })

    # --- ours alone on 100,000 rows in 2,000 groups
    sim = simulated()
    formula_sim = "y ~ x * z + (x | g)"
    dsim = build_design(parse_formula(formula_sim), sim)
    t0 = time.perf_counter()
    fsim = get_engine("native").fit(dsim, "REML")
    fit_s = time.perf_counter() - t0
    sim_t, sim_kr = timed(lambda: kenward_roger(fsim, dsim), args.reps)
    rows.append({
        "case": "simulated_100k_2000", "formula": formula_sim, "n": dsim.n,
        "groups": dsim.ngroups(), "ours_s": sim_t, "ours_median_s": statistics.median(sim_t),
        "native_fit_s": fit_s, "df": sim_kr.df.to_dict(),
    })

    print(f"{'case':<22}{'n':>8}{'groups':>8}{'ours (s)':>11}{'pbkrtest (s)':>14}{'ratio':>9}")
    for r in rows:
        pb = f"{r['pbkrtest_median_s']:.3f}" if "pbkrtest_median_s" in r else "-"
        ratio = f"{r['speedup']:.0f}x" if "speedup" in r else "-"
        ng = sum(r["groups"].values())
        print(f"{r['case']:<22}{r['n']:>8}{ng:>8}{r['ours_median_s']:>11.4f}{pb:>14}{ratio:>9}")
    for r in rows:
        if "max_rel_diff_df" in r:
            print(f"{r['case']}: agreement with pbkrtest (lme4 default tolerances): max rel. diff "
                  f"df {r['max_rel_diff_df']:.1e}, KR SE {r['max_rel_diff_se']:.1e}")

    meta = {
        "benchmark": "kenward_roger",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": platform.python_version(), "numpy": np.__version__,
        "machine": platform.machine(), "cpus": os.cpu_count(),
        "lme4": lme4_version, "pbkrtest": pbk_version,
        "reps": args.reps, "reps_pbkrtest": args.reps_r,
        "note": "median wall-clock seconds after one warm-up; fits and R start-up not timed",
        "results": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(meta, indent=2, default=float) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

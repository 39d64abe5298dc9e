"""Repeated measures, UN over 10 visits: the native engine against nlme::gls, side by side, in one run.

    python benchmarks/bench_rside.py [--subjects 1000] [--reps 3] [--no-r]

Data are simulated with a fixed seed: two arms, 10 visits, an unstructured residual covariance
(AR-like correlation, rising variances) and monotone dropout (about 8,600 rows for 1,000 subjects).
The model is ``y ~ visit * arm`` (20 fixed effects) with UN by REML: ``fit_residual(..., "us")``
natively and ``gls(correlation = corSymm(form = ~ idx | id), weights = varIdent(form = ~ 1 | idx))``
in R. The native fit runs ``--reps`` times (median reported); gls once (it is slow). Both
log-likelihoods are printed, so the timing compares the same optimum. Kenward-Roger for the fitted
model (adjusted covariance and the Type III tests of visit, arm and visit:arm with their df and F
scale, ``ddfm="kr"``) is timed after the fit, also the median of ``--reps``. Results go to
benchmarks/results/rside_<stamp>.json; benchmarks/RSIDE.md records a run by hand.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from replicate.engine.rside import fit_residual
from replicate.engine.threads import fit_thread_limit
from replicate.inference.rside_tests import rside_type3

OUT = Path(__file__).resolve().parent / "results"
K = 10

R_GLS = """
function(d) {
  t0 <- proc.time()[["elapsed"]]
  f <- nlme::gls(y ~ visit * arm, data = d, correlation = nlme::corSymm(form = ~ idx | id),
                 weights = nlme::varIdent(form = ~ 1 | idx), method = "REML")
  c(elapsed = proc.time()[["elapsed"]] - t0, loglik = as.numeric(logLik(f)))
}
"""


def simulate(n_subjects: int, seed: int = 20261204) -> pd.DataFrame:
    """Two-arm trial, 10 visits, UN covariance, monotone dropout."""
    rng = np.random.default_rng(seed)
    sd = np.linspace(1.0, 2.0, K)
    corr = 0.8 ** np.abs(np.subtract.outer(np.arange(K), np.arange(K))) * 0.7 + 0.3 * np.eye(K)
    np.fill_diagonal(corr, 1.0)
    L = np.linalg.cholesky(sd[:, None] * corr * sd[None, :])
    arm = rng.integers(0, 2, n_subjects)
    last = np.minimum(K, rng.geometric(0.1, n_subjects) + 3)  # monotone dropout
    rows = []
    for i in range(n_subjects):
        e = L @ rng.normal(size=K)
        for v in range(int(last[i])):
            rows.append((i, v + 1, arm[i], 10 + 0.3 * v + 0.2 * v * arm[i] + e[v]))
    d = pd.DataFrame(rows, columns=["id", "idx", "arm", "y"])
    d["visit"] = pd.Categorical(d["idx"].astype(str), categories=[str(v) for v in range(1, K + 1)])
    d["arm"] = pd.Categorical(d["arm"].astype(str))
    d["id"] = d["id"].astype(str)
    return d


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-r", action="store_true", help="native timing only")
    args = ap.parse_args()
    d = simulate(args.subjects)
    times = []
    fit = None
    for _ in range(args.reps):
        t0 = time.perf_counter()
        with fit_thread_limit():
            fit = fit_residual(d, "y ~ visit * arm", "us", visit="visit", subject="id")
        times.append(time.perf_counter() - t0)
    native = statistics.median(times)
    kr_times = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        with fit_thread_limit():
            tests = rside_type3(fit, ddfm="kr")
        kr_times.append(time.perf_counter() - t0)
    kr = statistics.median(kr_times)
    row = {
        "rows": len(d),
        "subjects": args.subjects,
        "visits": K,
        "native_s": native,
        "native_loglik": fit.loglik,
        "native_iterations": fit.iterations,
        "converged": fit.converged,
        "kr_s": kr,
        "kr_tests": {t.effect: {"F": t.f_value, "num_df": t.num_df, "den_df": t.den_df} for t in tests},
    }
    print(
        f"rows {len(d)}, subjects {args.subjects}; native {native:.3f} s (median of {args.reps}), "
        f"logLik {fit.loglik:.6f}, {fit.iterations} iterations; Kenward-Roger Type III {kr:.3f} s ("
        + ", ".join(f"{t.effect} F={t.f_value:.3f} df={t.den_df:.1f}" for t in tests)
        + ")"
    )
    if not args.no_r:
        import rpy2.robjects as ro
        from rpy2.robjects import pandas2ri
        from rpy2.robjects.conversion import localconverter

        ro.r("suppressPackageStartupMessages(library(nlme))")
        with localconverter(ro.default_converter + pandas2ri.converter):
            rd = ro.conversion.get_conversion().py2rpy(d)
        out = np.asarray(ro.r(R_GLS)(rd))
        row.update(gls_s=float(out[0]), gls_loglik=float(out[1]), ratio=float(out[0]) / native)
        print(f"nlme::gls {out[0]:.2f} s, logLik {out[1]:.6f}; gls / native = {out[0] / native:.1f}x")
    OUT.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    (OUT / f"rside_{stamp}.json").write_text(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()

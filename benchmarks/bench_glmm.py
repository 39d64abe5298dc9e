"""GLMMs by the Laplace approximation: the native engine against lme4's glmer, side by side, in one run.

    python benchmarks/bench_glmm.py [--reps 3] [--only cbpp,grouseticks,verbagg] [--no-r]

Models (lme4's and mlmRev's data): cbpp (binomial trials, one random intercept, 56 rows), grouseticks (Poisson,
random intercepts for brood and location, 403 rows), VerbAgg (binary, crossed random intercepts for 316 people
and 24 items, 7,584 rows) and guImmun (binary, children in 1,595 mothers in 161 communities, 2,159 rows). glmer runs twice: with its default settings, and with bobyqa to ``rhoend = 1e-10`` and
``tolPwrss = 1e-12`` (the tight settings the cases use, which reach the optimum the native engine reaches). Each
fit's -2 log-likelihood is printed beside its time, so the timing compares optima; the native fit is the median
of ``--reps``, each glmer fit the median of ``--reps`` inside R. Results go to
benchmarks/results/glmm_<stamp>.json; benchmarks/GLMM.md records a run by hand.
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

from replicate.data import load_r_dataset
from replicate.engine.glmm import fit_glmm
from replicate.engine.threads import fit_thread_limit

OUT = Path(__file__).resolve().parent / "results"


def _cbpp() -> pd.DataFrame:
    d, _, _ = load_r_dataset("lme4", "cbpp")
    return d.assign(period=pd.Categorical(d["period"].astype(str), categories=["1", "2", "3", "4"]))


def _ticks() -> pd.DataFrame:
    d, _, _ = load_r_dataset("lme4", "grouseticks")
    return d.assign(YEAR=d["YEAR"].astype(str))


def _guimmun() -> pd.DataFrame:
    d, _, _ = load_r_dataset("mlmRev", "guImmun")
    return d.assign(imm=(d["immun"].astype(str) == "Y").astype(int))


def _verbagg() -> pd.DataFrame:
    d, _, _ = load_r_dataset("lme4", "VerbAgg")
    return d.assign(r2n=(d["r2"].astype(str) == "Y").astype(int))


GU = "kid2p + mom25p + ord + ethn + momEd + husEd + momWork + rural + pcInd81"

#: name -> (data, formula, family); R builds the same data and model by name (R_GLMER)
MODELS = {
    "cbpp": (_cbpp, "cbind(incidence, size - incidence) ~ period + (1 | herd)", "binomial"),
    "grouseticks": (_ticks, "TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | LOCATION)", "poisson"),
    "verbagg": (_verbagg, "r2n ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)", "binomial"),
    "guimmun": (_guimmun, f"imm ~ {GU} + (1 | mom) + (1 | comm)", "binomial"),
}

R_GLMER = """
function(name, reps) {
  d <- switch(name,
    cbpp = lme4::cbpp,
    grouseticks = transform(lme4::grouseticks, YEAR = as.character(YEAR)),
    verbagg = transform(lme4::VerbAgg, r2n = as.integer(r2 == "Y")),
    guimmun = transform(mlmRev::guImmun, imm = as.integer(immun == "Y")))
  formula <- switch(name,
    cbpp = cbind(incidence, size - incidence) ~ period + (1 | herd),
    grouseticks = TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | LOCATION),
    verbagg = r2n ~ Anger + Gender + btype + situ + (1 | id) + (1 | item),
    guimmun = imm ~ kid2p + mom25p + ord + ethn + momEd + husEd + momWork + rural + pcInd81 + (1 | mom) + (1 | comm))
  fam <- if (name == "grouseticks") stats::poisson() else stats::binomial()
  run <- function(control) {
    times <- numeric(reps); m <- NULL
    for (i in seq_len(reps)) {
      t0 <- proc.time()[["elapsed"]]
      m <- suppressWarnings(lme4::glmer(formula, data = d, family = fam, control = control))
      times[i] <- proc.time()[["elapsed"]] - t0
    }
    c(stats::median(times), -2 * as.numeric(logLik(m)))
  }
  tight <- lme4::glmerControl(optimizer = "bobyqa", tolPwrss = 1e-12, optCtrl = list(rhoend = 1e-10, maxfun = 1e5))
  c(run(lme4::glmerControl()), run(tight))
}
"""


def native(name: str, reps: int) -> dict[str, float]:
    make, formula, family = MODELS[name]
    d = make()
    times, fit = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        with fit_thread_limit():
            fit = fit_glmm(d, formula, family=family)
        times.append(time.perf_counter() - t0)
    assert fit is not None
    return {
        "rows": len(d),
        "native_s": statistics.median(times),
        "native_m2ll": fit.objective,
        "converged": fit.converged,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--only", default=",".join(MODELS))
    ap.add_argument("--no-r", action="store_true", help="native timings only")
    args = ap.parse_args()
    glmer = None
    if not args.no_r:
        import rpy2.robjects as ro

        glmer = ro.r(R_GLMER)
    rows = {}
    for name in args.only.split(","):
        row = native(name, args.reps)
        line = f"{name}: {row['rows']} rows; native {row['native_s']:.3f} s, -2logLik {row['native_m2ll']:.6f}"
        if glmer is not None:
            out = np.asarray(glmer(name, args.reps), dtype=float)
            row.update(
                glmer_default_s=float(out[0]),
                glmer_default_m2ll=float(out[1]),
                glmer_tight_s=float(out[2]),
                glmer_tight_m2ll=float(out[3]),
                ratio_default=float(out[0]) / row["native_s"],
                ratio_tight=float(out[2]) / row["native_s"],
            )
            line += (
                f"; glmer default {out[0]:.3f} s ({out[1]:.6f}), tight {out[2]:.3f} s ({out[3]:.6f}); "
                f"glmer / native: default {row['ratio_default']:.2f}x, tight {row['ratio_tight']:.2f}x"
            )
        print(line, flush=True)
        rows[name] = row
    OUT.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    (OUT / f"glmm_{stamp}.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()

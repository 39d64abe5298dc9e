"""A random-intercept model at 10^7 rows and 10^5 groups: the native engine and lme4, side by side, in one run.

    python benchmarks/bench_big.py [--rows 10000000] [--groups 100000] [--no-r]

Issue #20's goal: under 10 s and under 4 GB. Each program runs in its own child process (so each peak resident
set size is its own: the child's ``ru_maxrss`` for Python, ``VmHWM`` of the R process), fits
``y ~ x + (1 | g)`` by ML on its own draw of the same design (rows, groups, a normal covariate, random intercepts
with SD 0.5, residual SD 1), and reports the fit's time (the data's generation not counted) and the peak RSS of
the whole process (data included). The two draws differ, so the log-likelihoods are printed but not compared.
Results go to benchmarks/results/big_<stamp>.json; benchmarks/BIG.md records a run by hand.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

OUT = Path(__file__).resolve().parent / "results"

PY_CHILD = """
import json, resource, sys, time
import numpy as np, pandas as pd
from replicate import fit
from replicate.engine.threads import fit_thread_limit
n, J = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(20261205)
g = rng.integers(0, J, n)
x = rng.normal(size=n)
d = pd.DataFrame({"y": 1 + 0.3 * x + rng.normal(0, 0.5, J)[g] + rng.normal(size=n), "x": x, "g": g})
t0 = time.perf_counter()
with fit_thread_limit():
    m = fit("y ~ x + (1 | g)", d, method="ML")
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
                  "loglik": float(m.result.loglik)}))
"""

R_CHILD = """
args <- commandArgs(trailingOnly = TRUE); n <- as.integer(args[1]); J <- as.integer(args[2])
set.seed(20261205)
g <- sample.int(J, n, replace = TRUE); x <- rnorm(n)
d <- data.frame(y = 1 + 0.3 * x + rnorm(J, 0, 0.5)[g] + rnorm(n), x = x, g = factor(g))
t <- system.time(m <- lme4::lmer(y ~ x + (1 | g), data = d, REML = FALSE))[["elapsed"]]
hwm <- grep("^VmHWM", readLines("/proc/self/status"), value = TRUE)
kb <- as.numeric(gsub("[^0-9]", "", hwm))
cat(sprintf('{"seconds": %.6f, "peak_gb": %.6f, "loglik": %.10f}\\n', t, kb / 1e6, as.numeric(logLik(m))))
"""


def _child(cmd: list[str]) -> dict[str, float]:
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    parsed: dict[str, float] = json.loads(out)
    return parsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--groups", type=int, default=100_000)
    ap.add_argument("--no-r", action="store_true")
    args = ap.parse_args()
    row: dict[str, object] = {"rows": args.rows, "groups": args.groups}
    native = _child([sys.executable, "-c", PY_CHILD, str(args.rows), str(args.groups)])
    row["native"] = native
    line = f"{args.rows} rows, {args.groups} groups: native {native['seconds']:.2f} s, peak {native['peak_gb']:.2f} GB"
    if not args.no_r:
        lme4 = _child(["Rscript", "-e", R_CHILD, str(args.rows), str(args.groups)])
        row["lme4"] = lme4
        row["ratio"] = lme4["seconds"] / native["seconds"]
        line += f"; lme4 {lme4['seconds']:.2f} s, peak {lme4['peak_gb']:.2f} GB; lme4 / native = {row['ratio']:.1f}x"
    print(line)
    OUT.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    (OUT / f"big_{stamp}.json").write_text(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()

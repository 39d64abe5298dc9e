"""Model fits side by side: ours, lme4 (rpy2) and statsmodels MixedLM.

A thin wrapper around ``replicate bench --only fits`` (replicate/bench/); every
option of ``replicate bench`` is accepted and passed on, e.g.::

    /tmp/venv/bin/python benchmarks/bench_engine.py [--reps 5] [--threads 1] [--no-r]
    /tmp/venv/bin/python benchmarks/bench_engine.py --only fit/insteval/ML

Results go to benchmarks/results/bench_<date>_<time>.{json,md,html}.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _threads_from(argv: list[str]) -> str | None:
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return "1"


def main(argv: list[str], only: str) -> int:
    threads = _threads_from(argv)
    if threads and threads != "0":  # before numpy loads, in case threadpoolctl is missing
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, threads)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from replicate.bench import bench_command

    has_only = any(a == "--only" or a.startswith("--only=") for a in argv)
    return bench_command(argv if has_only else ["--only", only, *argv])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:], "fits"))

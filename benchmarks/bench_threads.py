"""BLAS threads for native fits: one thread against the libraries' default, side by side, in one run.

    python benchmarks/bench_threads.py [--reps 3] [--only NAME ...]

Each catalogue model (replicate/bench/models.py) is fitted with one BLAS/OpenMP thread and with the
libraries' default count, alternately, ``--reps`` times; the table gives the median times and their
ratio (default / one thread: above 1 means one thread is faster). Results go to
benchmarks/results/threads_<stamp>.json and are summarised in benchmarks/THREADS.md by hand.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from threadpoolctl import ThreadpoolController, threadpool_info

from replicate.bench.models import CATALOGUE
from replicate.engine import fit_design

OUT = Path(__file__).resolve().parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args()
    controller = ThreadpoolController()
    default = max((p["num_threads"] for p in threadpool_info()), default=1)
    rows = []
    for name, model in CATALOGUE.items():
        if args.only and name not in args.only:
            continue
        design = model.design()
        method = model.methods[0]
        fit_design(design, method)  # warm-up
        times: dict[int, list[float]] = {1: [], default: []}
        for _ in range(args.reps):
            for n in (1, default):
                with controller.limit(limits=n):
                    t0 = time.perf_counter()
                    fit_design(design, method)
                    times[n].append(time.perf_counter() - t0)
        one, many = statistics.median(times[1]), statistics.median(times[default])
        rows.append(
            {
                "model": name,
                "method": method,
                "one_thread_s": one,
                "default_s": many,
                "default_threads": default,
                "ratio_default_over_one": many / one,
            }
        )
        print(
            f"{name:<28} {method:<5} 1 thread {one:8.3f} s   {default} threads {many:8.3f} s   ratio {many / one:5.2f}",
            flush=True,
        )
    OUT.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d_%H%M%S")
    (OUT / f"threads_{stamp}.json").write_text(json.dumps({"when": stamp, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()

"""Time a Monte Carlo study: 1,000 replicates of a random-intercept model, every df method.

The study: 30 groups of 20, a level-1 and a level-2 predictor, ICC 0.2, fitted
by REML; per replicate the df of every method (residual, containment,
between-within, hlm, nlme, satterthwaite, kenward-roger) and the model SEs.
It runs through :func:`replicate.simulate.run_study` exactly as
``replicate simulate`` does (chunks of 25, one process per core, results and
reports written to a temporary folder), and the wall time is reported with the
machine's load average (other work on the cores slows it down).

``--stages N`` also times, in this process and with one BLAS thread, the parts
of one replicate over N replicates: drawing the data and building the Design,
the fit, and each df method, to show where the time goes.

Usage:
    python benchmarks/bench_simulate.py [--replicates 1000] [--workers 2] [--executor local|dask|serial]
                                        [--stages 50] [--json FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DF_METHODS = ["residual", "containment", "between-within", "hlm", "nlme", "satterthwaite", "kenward-roger"]


def bench_study(replicates: int) -> dict:
    return {
        "id": "bench-random-intercept-30x20",
        "title": "Benchmark: random intercept, 30 groups of 20, every df method",
        "seed": 12345,
        "replicates": replicates,
        "chunk_size": 25,
        "design": {
            "groups": 30,
            "group_size": 20,
            "predictors": {"x": {"level": 1, "distribution": "normal"}, "w": {"level": 2, "distribution": "normal"}},
        },
        "truth": {"fixed": {"(Intercept)": 0.0, "x": 0.3, "w": 0.0}, "icc": 0.2},
        "methods": {"estimation": ["REML"], "df": DF_METHODS, "se": ["model"]},
    }


def time_stages(n: int) -> dict[str, float]:
    """Mean seconds per replicate of each stage, in this process with one BLAS thread."""
    import warnings

    from replicate.engine import fit_design
    from replicate.inference import fixed_df
    from replicate.simulate.blas import single_threaded_blas
    from replicate.simulate.config import load_study
    from replicate.simulate.generate import DesignFactory, draw_design, draw_response, replicate_rng

    study = load_study(bench_study(n))
    factory = DesignFactory(study)
    totals = {"data + design": 0.0, "fit (REML)": 0.0, **{f"df {m}": 0.0 for m in DF_METHODS}}
    with single_threaded_blas(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for r in range(n + 2):
            t = time.perf_counter()
            rng = replicate_rng(study, r)
            drawn = draw_design(study, rng)
            design = factory.build(drawn, draw_response(study, drawn, rng))
            t1 = time.perf_counter()
            fit = fit_design(design, "REML")
            t2 = time.perf_counter()
            times = {"data + design": t1 - t, "fit (REML)": t2 - t1}
            for m in DF_METHODS:
                a = time.perf_counter()
                fixed_df(fit, design, m)
                times[f"df {m}"] = time.perf_counter() - a
            if r >= 2:  # the first two warm up imports and caches
                for k, v in times.items():
                    totals[k] += v
    return {k: v / n for k, v in totals.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=None, help="default: the usable cores")
    ap.add_argument("--executor", default="local", choices=("local", "dask", "serial"))
    ap.add_argument("--stages", type=int, default=50, help="replicates for the per-stage timing (0: skip)")
    ap.add_argument(
        "--json",
        default=None,
        metavar="FILE",
        help="also write the numbers to FILE (e.g. benchmarks/results/bench_simulate_<date>.json)",
    )
    args = ap.parse_args(argv)

    from replicate.simulate import run_study
    from replicate.simulate.executors import default_workers

    workers = args.workers or default_workers()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        res = run_study(bench_study(args.replicates), Path(tmp) / "out", executor=args.executor, workers=workers)
        wall = time.perf_counter() - t0
        chunk_seconds = []
        for p in sorted((Path(tmp) / "out" / "chunks").glob("chunk-*.json")):
            chunk_seconds.append(json.loads(p.read_text())["seconds"])
    load_after = os.getloadavg()
    worker_time = sum(chunk_seconds)
    print(
        f"{args.replicates} replicates, {len(DF_METHODS)} df methods, {res.executor}: {wall:.1f} s wall "
        f"({1000 * wall / args.replicates:.1f} ms per replicate; worker time {1000 * worker_time / args.replicates:.1f}"
        f" ms per replicate, so {wall - worker_time / workers:.1f} s of start-up and overhead)"
    )
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} on {os.cpu_count()} cores")
    fails = [f for f in res.summary.fits if f["failed"]]
    if fails:
        print("failed fits:", fails)

    stages = {}
    if args.stages:
        stages = time_stages(args.stages)
        total = sum(stages.values())
        print(f"\nper replicate, one process ({args.stages} replicates):")
        for k, v in sorted(stages.items(), key=lambda kv: -kv[1]):
            print(f"  {k:<20} {1000 * v:8.2f} ms  {100 * v / total:5.1f} %")
        print(f"  {'total':<20} {1000 * total:8.2f} ms")

    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(
            json.dumps(
                {
                    "replicates": args.replicates,
                    "workers": workers,
                    "executor": res.executor,
                    "wall_seconds": wall,
                    "worker_seconds": worker_time,
                    "ms_per_replicate": 1000 * wall / args.replicates,
                    "load_average_before": load_before,
                    "load_average_after": load_after,
                    "stages_ms": {k: 1000 * v for k, v in stages.items()},
                    "df_methods": DF_METHODS,
                    "python": platform.python_version(),
                    "machine": platform.machine(),
                    "cpus": os.cpu_count(),
                    "date": dt.datetime.now().isoformat(timespec="seconds"),
                },
                indent=1,
            )
            + "\n"
        )
        print(f"\nsaved {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

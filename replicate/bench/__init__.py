"""``replicate bench``: side-by-side timings against lme4, lmerTest, pbkrtest and statsmodels.

Usage::

    replicate bench [--quick] [--only NAME ...] [--reps N] [--threads N] [--out DIR] [--no-r]
                    [--budget SECONDS] [--list]
    python -m replicate.bench ...            (the same)

Three parts, each a list of items that ``--only`` selects by name:

* ``fit/<model>/<method>`` -- every model of the catalogue
  (:mod:`replicate.bench.models`: sleepstudy, Penicillin, Pastes, Dyestuff,
  High School and Beyond, the WWG classroom data, Exam, InstEval) fitted by
  ours, lme4 and statsmodels MixedLM;
* ``satterthwaite/<model>``, ``fit_satterthwaite/<model>``,
  ``kenward_roger/<model>`` -- Satterthwaite df against lmerTest (the df alone
  on a fit made beforehand, and fit + summary with df) and Kenward-Roger
  against pbkrtest, on High School and Beyond, Exam (and sleepstudy);
* ``scaling/<sweep>`` -- simulated two-level data, random intercept and random
  slope: rows 10^3 .. 10^6 (10 per group), groups 10 .. 10^4 at 10^5 rows, and
  rows at a fixed 1,000 groups; fit, Satterthwaite and Kenward-Roger, time and
  peak memory, each peer until it exceeds its time budget.

Every measurement is one warm-up run and then ``--reps`` timed runs (fewer
when runs are long), summarized by median, quartiles and range, with the
load average before and after. Ratios are the peer's median time over ours,
measured in the same run. ``--only`` takes item ids, any part of one
(``insteval``, ``kenward_roger``, ``rows_ri``), shell patterns (``fit/hsb_*``)
or the aliases ``fits``, ``inference``, ``kr``, ``satt``; ``--list`` prints the
selected ids.

Results go to ``DIR/bench_<date>_<time>.{json,md,html}``, each written
atomically: the JSON holds every run and the machine (CPU, cores, memory, load
average, BLAS thread pools, package versions, date); the Markdown the tables and
the goals; the HTML page log-log plots of time and memory against size (inline
SVG). Exit code 0 when our engine ran everything (goals not met do not change
it), 1 when one of our measurements failed, 2 on invalid options.

``--threads N`` limits the BLAS thread pools of this process (threadpoolctl
when installed, else the environment variables, which act only before numpy
is loaded); the default is one thread, like the reference BLAS R uses here
(R's BLAS is recorded), and ``--threads 0`` keeps the library's default. On
busy cores a multi-threaded OpenBLAS makes the engine's many small products
many times slower (30x on sleepstudy at load 5 on 2 cores).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..report import write_atomic
from .goals import evaluate_goals
from .machine import limit_threads, loadavg, machine_info, set_thread_env
from .models import ROOT, SEED
from .peers import RSession
from .report import render_markdown
from .report_html import render_html
from .suites import SECTIONS, Bench, Options

__all__ = ["bench_command", "build_parser", "run_bench"]

SCHEMA = "replicate-bench/1"


def default_out() -> Path:
    """benchmarks/results of the checkout when run from one, else ./benchmarks/results."""
    if (ROOT / "benchmarks").is_dir():
        return ROOT / "benchmarks" / "results"
    return Path("benchmarks") / "results"


def build_parser(prog: str = "replicate bench") -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog=prog,
        description="Time replicate's engine and inference against lme4, lmerTest, pbkrtest and "
        "statsmodels, and how the cost grows with rows and groups.",
    )
    ap.add_argument(
        "--quick", action="store_true", help="small models and sizes only, 2 runs each (under a minute without R)"
    )
    ap.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="run only these items (comma-separated, repeatable): ids such as fit/insteval/ML, "
        "parts of ids (insteval, kenward_roger, rows_ri), patterns (fit/hsb_*), or the aliases "
        "fits, inference, kr, satt",
    )
    ap.add_argument(
        "--reps",
        type=int,
        default=None,
        metavar="N",
        help="timed runs per measurement after the warm-up (default 5, --quick 2; scaling at most 3)",
    )
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        metavar="N",
        help="BLAS threads for our side (default 1, as R's reference BLAS that lme4 uses here; "
        "0 = the library's default)",
    )
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder for the JSON, Markdown and HTML results (default benchmarks/results)",
    )
    ap.add_argument("--no-r", action="store_true", help="ours and statsmodels only (no lme4, lmerTest, pbkrtest)")
    ap.add_argument(
        "--budget",
        type=float,
        default=None,
        metavar="SECONDS",
        help="scaling: a program stops after a size taking longer than this (default 60, --quick 10)",
    )
    ap.add_argument("--list", action="store_true", help="print the selected item ids and exit")
    return ap


def bench_command(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark as the command line ``replicate bench`` does; return the exit code."""
    ap = build_parser()
    try:
        args = ap.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return int(exc.code or 0)
    if args.reps is not None and args.reps < 1:
        print("replicate bench: --reps must be at least 1", file=sys.stderr)
        return 2
    if args.threads < 0:
        print("replicate bench: --threads must be 0 (library default) or more", file=sys.stderr)
        return 2
    quick = bool(args.quick)
    reps = args.reps or (2 if quick else 5)
    opts = Options(
        quick=quick,
        only=[t.strip() for item in args.only for t in item.split(",") if t.strip()],
        reps=reps,
        threads=args.threads or None,
        out=args.out or default_out(),
        no_r=bool(args.no_r),
        budget=args.budget or (10.0 if quick else 60.0),
        time_cap=10.0 if quick else 60.0,
        scaling_reps=min(reps, 3),
        scaling_cap=3.0 if quick else 10.0,
    )
    ids = Bench(opts, None, print).selected_ids()
    if not ids:
        print(
            f"replicate bench: --only {' '.join(opts.only)} selects nothing; "
            f"sections are {', '.join(SECTIONS)}; use --list to see the ids",
            file=sys.stderr,
        )
        return 2
    if args.list:
        print("\n".join(ids))
        return 0
    argv_text = "replicate bench " + " ".join(argv if argv is not None else sys.argv[1:])
    result = run_bench(opts, command=argv_text.strip())
    return 1 if _native_failed(result) else 0


def _log(line: str) -> None:
    print(line, flush=True)


def run_bench(opts: Options, command: str = "replicate bench", log: Any = _log) -> dict[str, Any]:
    """Run the selected benchmarks, write the results, and return them as a dict."""
    set_thread_env(opts.threads)
    t_start = time.perf_counter()
    stamp = dt.datetime.now().strftime("%Y%m%d_%H%M%S") + ("_quick" if opts.quick else "")
    with limit_threads(opts.threads) as threads_note:
        machine = machine_info(ROOT)
        r_info: dict[str, Any] = {"used": False}
        session = None
        if opts.no_r:
            r_info["reason"] = "--no-r"
        else:
            t0 = time.perf_counter()
            session = RSession()
            if session.start():
                r_info = {"used": True, "startup_s": time.perf_counter() - t0, "versions": session.versions()}
                machine["threadpools"] = machine["threadpools"] or []
            else:
                r_info["reason"] = session.reason
                print(
                    f"replicate bench: R peers not available ({session.reason}); timing ours and statsmodels only",
                    file=sys.stderr,
                )
                session = None
        log(
            f"replicate bench: {'quick, ' if opts.quick else ''}{opts.reps} runs after a warm-up; "
            f"BLAS threads {threads_note}; load average {loadavg()}"
        )
        bench = Bench(opts, session, log)
        result: dict[str, Any] = {
            "schema": SCHEMA,
            "command": command,
            "options": _options_dict(opts),
            "threads_note": threads_note,
            "machine": machine,
            "r": r_info,
            "selected": bench.selected_ids(),
        }
        result["fits"] = bench.fits()
        result["inference"] = bench.inference()
        result["scaling"] = bench.scaling()
        result["scaling_seed"] = SEED
    result["goals"] = evaluate_goals(result)
    result["loadavg_end"] = loadavg()
    result["duration_s"] = time.perf_counter() - t_start
    out = Path(opts.out)
    base = out / f"bench_{stamp}"
    texts = {
        base.with_suffix(".json"): json.dumps(result, indent=1, default=_json_default) + "\n",
        base.with_suffix(".md"): render_markdown(result),
        base.with_suffix(".html"): render_html(result),
    }
    for path, text in texts.items():
        write_atomic(path, text)
    log("")
    for g in result["goals"]:
        log(f"goal {g['status']:<12} {g['goal']}: {g['detail']}")
    for s in result["scaling"]:
        for sl in s["slopes"]:
            if sl.get("slope_larger") is not None:
                log(
                    f"order {s['sweep']:<16} {sl['phase']:<14} {sl['program']:<17} "
                    f"slope {sl['slope_larger']:.2f} (larger sizes), {sl['slope_all']:.2f} (all)"
                )
    for path in texts:
        log(f"wrote {path}")
    result["files"] = [str(p) for p in texts]
    return result


def _options_dict(opts: Options) -> dict[str, Any]:
    d = dict(vars(opts))
    d["out"] = str(opts.out)
    return d


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    return str(o)


def _native_failed(result: dict[str, Any]) -> bool:
    cells = [r.get("native") for r in result.get("fits", []) + result.get("inference", [])]
    cells += [p for s in result.get("scaling", []) for p in s["points"] if p["program"].startswith("native")]
    return any(isinstance(c, dict) and "error" in c for c in cells)

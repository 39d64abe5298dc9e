"""Time the native engine against lme4 (through rpy2) and statsmodels MixedLM.

Each model of the engine test catalogue (tests/engine/lme4_models.py) plus
InstEval (73,421 rows, crossed ``(1|s) + (1|d) + (1|dept)``, by ML) is fitted
by every program that can fit it: one warm-up run, then the median of
``--repeats`` timed runs. lme4 runs in this process through rpy2, its data
already in R; only the ``lmer(...)`` call is timed (R start-up and data
transfer excluded). The native time is ``fit_design`` on a ready Design
(building the Design from a formula is another module's work). The table
gives each program's time and its ratio to native, and the objective
difference as a sanity check; the JSON lands in ``benchmarks/results/``.

BLAS threads: ``--threads N`` sets OPENBLAS_NUM_THREADS / OMP_NUM_THREADS
before numpy loads (lme4's own linear algebra is single-threaded). On a
machine whose cores are busy with other work, multi-threaded OpenBLAS can be
many times slower than one thread; the load average is recorded.

Usage:
    python benchmarks/bench_engine.py [--repeats 5] [--models sleepstudy,insteval]
                                      [--no-statsmodels] [--threads 1]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path


def _early_threads(argv: list[str]) -> None:
    """Apply ``--threads`` before numpy (and its BLAS) is imported."""
    for i, arg in enumerate(argv):
        value = argv[i + 1] if arg == "--threads" and i + 1 < len(argv) else None
        if arg.startswith("--threads="):
            value = arg.split("=", 1)[1]
        if value:
            for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
                os.environ[var] = value


_early_threads(sys.argv)

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "engine"))

from lme4_models import MODELS, instEval_model
from rbridge import pandas_to_r, require_r

from replicate.engine import fit_design

# statsmodels MixedLM formulations of the models it can fit (no weights).
STATSMODELS = {
    "sleepstudy": {"formula": "Reaction ~ Days", "groups": "Subject", "re_formula": "~Days"},
    "hsb_ses": {"formula": "MathAch ~ SES", "groups": "School", "re_formula": "~SES"},
    "hsb_sector": {"formula": "MathAch ~ MEANSES + SectorCatholic + cses", "groups": "School", "re_formula": "~cses"},
    "dyestuff": {"formula": "Yield ~ 1", "groups": "Batch"},
    "dyestuff2": {"formula": "Yield ~ 1", "groups": "Batch"},
    "pastes": {"formula": "strength ~ 1", "groups": "batch", "vc_formula": {"cask": "0 + C(cask)"}},
    "classroom": {
        "formula": "mathgain ~ ses + mathknow",
        "groups": "schoolid",
        "vc_formula": {"classid": "0 + C(classid)"},
    },
    "penicillin": {
        "formula": "diameter ~ 1",
        "groups": "one",
        "vc_formula": {"plate": "0 + C(plate)", "sample": "0 + C(sample)"},
    },
}


def _timed(fn, repeats: int) -> tuple[float, list[float], object]:
    out = fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, out


def _lme4_runner(ro, model, method: str):
    pandas_to_r(ro, model["frame"], ".bench_df")
    wt = f", weights = {model['weights']}" if model["weights"] else ""
    call = ro.r(
        f"function() lme4::lmer({model['formula']}, data = .bench_df, "
        f"REML = {'TRUE' if method == 'REML' else 'FALSE'}{wt})"
    )

    def run():
        return call()

    def objective(fm) -> float:
        return float(ro.r("function(m) -2 * as.numeric(logLik(m))")(fm)[0])

    return run, objective


def _statsmodels_runner(name: str, frame, method: str):
    import statsmodels.formula.api as smf

    spec = dict(STATSMODELS[name])
    data = frame.copy()
    data["one"] = 1
    formula = spec.pop("formula")

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = smf.mixedlm(formula, data, **spec)
            return model.fit(reml=(method == "REML"))

    return run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per fit (median reported)")
    ap.add_argument("--insteval-repeats", type=int, default=3)
    ap.add_argument("--models", default="", help="comma-separated subset (default: all + insteval)")
    ap.add_argument("--no-statsmodels", action="store_true")
    ap.add_argument("--threads", type=int, default=None, help="BLAS threads (default: library default)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args(argv)

    load_before = os.getloadavg()
    ro = require_r()
    catalogue = dict(MODELS)
    catalogue["insteval"] = instEval_model()
    names = [n for n in args.models.split(",") if n] or list(catalogue)
    rows = []
    for name in names:
        m = catalogue[name]
        frame = m.load(ro)
        design = m.build(frame)
        for method in m.methods:
            reps = args.insteval_repeats if name == "insteval" else args.repeats
            t_nat, nat_times, nat = _timed(lambda d=design, mt=method: fit_design(d, mt), reps)
            nat_obj = nat.reml_criterion if method == "REML" else nat.deviance
            run, objective = _lme4_runner(ro, {"frame": frame, "formula": m.formula, "weights": m.weights}, method)
            t_r, r_times, fm = _timed(run, reps)
            r_obj = objective(fm)
            row = {
                "model": name,
                "method": method,
                "nobs": design.n,
                "native_s": t_nat,
                "native_runs": nat_times,
                "native_evals": nat.optinfo.evaluations,
                "native_optimizer": nat.optinfo.method,
                "lme4_s": t_r,
                "lme4_runs": r_times,
                "lme4_ratio": t_r / t_nat,
                "objective_native": nat_obj,
                "objective_lme4": r_obj,
                "objective_diff": nat_obj - r_obj,
            }
            if not args.no_statsmodels and name in STATSMODELS and m.weights is None:
                try:
                    t_sm, sm_times, sm = _timed(_statsmodels_runner(name, frame, method), reps)
                    row.update(
                        {
                            "statsmodels_s": t_sm,
                            "statsmodels_runs": sm_times,
                            "statsmodels_ratio": t_sm / t_nat,
                            "objective_statsmodels": float(-2 * sm.llf),
                        }
                    )
                except Exception as exc:  # noqa: BLE001 - statsmodels failures are reported, not fatal
                    row["statsmodels_error"] = f"{type(exc).__name__}: {exc}"
            rows.append(row)
            _print_row(row)

    meta = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"),
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "lme4": str(ro.r("as.character(packageVersion('lme4'))")[0]),
        "R": str(ro.r("R.version.string")[0]),
        "numpy": np.__version__,
        "repeats": args.repeats,
    }
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"bench_engine_{dt.datetime.now():%Y%m%d_%H%M%S}.json"
    path.write_text(json.dumps({"meta": meta, "results": rows}, indent=2))
    print(f"\nwrote {path}")
    return 0


_HEADER_DONE = False


def _print_row(row: dict) -> None:
    global _HEADER_DONE
    if not _HEADER_DONE:
        print(
            f"{'model':22s} {'meth':4s} {'nobs':>6s} {'native':>9s} {'lme4':>9s} {'x lme4':>7s} "
            f"{'statsm.':>9s} {'x sm':>6s} {'obj diff':>10s} {'evals':>5s}"
        )
        _HEADER_DONE = True
    sm = row.get("statsmodels_s")
    print(
        f"{row['model']:22s} {row['method']:4s} {row['nobs']:6d} {row['native_s'] * 1e3:7.1f}ms "
        f"{row['lme4_s'] * 1e3:7.1f}ms {row['lme4_ratio']:6.1f}x "
        + (f"{sm * 1e3:7.1f}ms {row['statsmodels_ratio']:5.1f}x " if sm else f"{'-':>9s} {'-':>6s} ")
        + f"{row['objective_diff']:10.2e} {row['native_evals']:5d}",
        flush=True,
    )


if __name__ == "__main__":
    raise SystemExit(main())

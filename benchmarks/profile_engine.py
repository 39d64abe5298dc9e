"""Profile the native engine and its inference on the benchmark's slowest cases.

Uses pyinstrument (``pip install pyinstrument``; statistical, in-process) with
BLAS limited to one thread, and prints, per case, the call tree of one run
after a warm-up, plus the split of one deviance evaluation into its parts
(for fits). The findings are written up in benchmarks/PROFILE.md.

Usage::

    /tmp/venv/bin/python benchmarks/profile_engine.py                 # every case
    /tmp/venv/bin/python benchmarks/profile_engine.py insteval satt_rs_1e5

Cases: insteval, insteval_dept_service, kb07_like, crossed_slopes_large,
sleepstudy_vector_lead (fits of the catalogue models), fit_rs_1e6 (10^6 rows, 10^5 groups, random slope),
satt_rs_1e5 (Satterthwaite, 10^5 rows in 10^4 groups), satt_sleepstudy.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from replicate.bench.models import CATALOGUE, RANDOM_SLOPE, simulated_design
from replicate.engine import fit_design, make_deviance
from replicate.engine.fit import _analytic_gradient
from replicate.inference.satterthwaite import satterthwaite_df


def _catalogue_fit(name: str):
    model = CATALOGUE[name]
    design = model.design()
    method = model.methods[0]
    return design, method, lambda: fit_design(design, method)


def case(name: str):
    """(design, method, work) for a case name."""
    if name in CATALOGUE:
        return _catalogue_fit(name)
    if name == "fit_rs_1e6":
        d = simulated_design(RANDOM_SLOPE, 1_000_000, 100_000)
        return d, "REML", lambda: fit_design(d, "REML")
    if name == "satt_rs_1e5":
        d = simulated_design(RANDOM_SLOPE, 100_000, 10_000)
        fit = fit_design(d, "REML")
        return d, None, lambda: satterthwaite_df(fit, d)
    if name == "satt_sleepstudy":
        d = CATALOGUE["sleepstudy"].design()
        fit = fit_design(d, "REML")
        return d, None, lambda: satterthwaite_df(fit, d)
    raise SystemExit(f"unknown case {name!r}")


def evaluation_split(design, method: str) -> str:
    """Time the parts of one deviance evaluation at the optimum (ms)."""
    from scipy.linalg import lapack

    dev = make_deviance(design, method)
    fit = fit_design(design, method)
    theta = np.asarray(fit.theta)
    cp = dev.cp

    def ms(fn, n: int = 20) -> float:
        fn()
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - t0) / n * 1e3

    tail = cp.att + np.eye(cp.m) * (1.0 + np.abs(cp.att).max())
    out = [
        f"  evaluations in the fit: {fit.optinfo.evaluations} ({fit.optinfo.method})",
        f"  dense tail m = {cp.m}, leading term {cp.nlevels[0]} levels x k = {cp.ks[0]}",
        f"  one factorize: {ms(lambda: dev.factorize(theta)):.2f} ms",
        f"    dense Cholesky of the m x m tail (dpotrf): {ms(lambda: lapack.dpotrf(tail, lower=1)):.2f} ms",
    ]
    if cp.schur_map is not None:
        h = np.random.default_rng(1).random(cp.schur_map.shape[1])
        out.append(
            f"    Schur map product ({cp.schur_map.nnz:,} stored products): {ms(lambda: cp.schur_map @ h):.2f} ms"
        )
    gradient = _analytic_gradient(dev)
    if gradient is not None:
        name = getattr(getattr(gradient, "func", None), "__name__", "gradient")
        out.append(f"  one value and analytic gradient ({name}): {ms(lambda: gradient(theta), 5):.2f} ms")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    from threadpoolctl import threadpool_limits

    try:
        from pyinstrument import Profiler
    except ImportError:
        raise SystemExit("pip install pyinstrument") from None
    names = argv or [
        "insteval",
        "insteval_dept_service",
        "kb07_like",
        "crossed_slopes_large",
        "sleepstudy_vector_lead",
        "fit_rs_1e6",
        "satt_rs_1e5",
        "satt_sleepstudy",
    ]
    with threadpool_limits(1):
        for name in names:
            design, method, work = case(name)
            work()  # warm-up
            prof = Profiler(interval=0.001)
            t0 = time.perf_counter()
            prof.start()
            work()
            prof.stop()
            print(f"=== {name}: {time.perf_counter() - t0:.3f} s")
            if method is not None:
                print(evaluation_split(design, method))
            print(prof.output_text(unicode=False, color=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

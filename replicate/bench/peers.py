"""The programs timed side by side: ours, lme4, lmerTest, pbkrtest, statsmodels.

Each program gets the same :class:`~replicate.design.Design`. lme4 and its
companions run in this process through rpy2: the design's columns go to R once
(:func:`replicate.engines.r.frames.model_frame`, the same hand-over the lme4
engine uses, formula built from symbols), and only the R call itself is timed
-- R's start-up and the data transfer are not.

What is timed, per program:

* fit -- ours: :func:`replicate.engine.fit_design` on the ready design; lme4:
  ``lme4::lmer(...)``; statsmodels: ``MixedLM(...).fit()`` through
  :class:`~replicate.engines.statsmodels_engine.StatsmodelsEngine` (building
  its model included, as MixedLM needs it).
* Satterthwaite df alone -- ours: :func:`satterthwaite_df` on a fit made
  beforehand; lmerTest: ``as_lmerModLmerTest(fm)`` (its Hessian and Jacobian)
  then ``contest1D`` for each coefficient, on an lme4 fit made beforehand.
* fit and summary with Satterthwaite df -- ours: ``fit_design`` then
  ``satterthwaite_df``; lmerTest: ``summary(lmerTest::lmer(...))``.
* Kenward-Roger -- ours: :func:`kenward_roger` on a fit made beforehand;
  pbkrtest: ``vcovAdj(fm)`` and ``Lb_ddf`` for each coefficient, on an lme4 fit
  made beforehand.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..design import Design
from ..engine import fit_design, make_deviance
from ..engine.crossprod import compute_crossproducts
from ..engine.fit import optimize_deviance
from ..engines.r.frames import model_frame, r_formula, to_r_frame
from ..engines.r.session import r_status, r_versions
from ..engines.statsmodels_engine import StatsmodelsEngine, _nested_in
from ..inference.kenward_roger import kenward_roger
from ..inference.satterthwaite import satterthwaite_df

R_PACKAGES = ("lme4", "lmerTest", "pbkrtest", "Matrix")

# Constant R code (no text from data or options is pasted into it).
_R_BENCH = r"""
local({
  prepare <- function(dat, f, reml, weighted) {
    parent <- if ("package:stats" %in% search()) as.environment("package:stats") else baseenv()
    env <- new.env(parent = parent)
    assign("dat", dat, envir = env)
    environment(f) <- env
    cl <- call("lmer", formula = f, data = quote(dat), REML = reml)
    if (weighted) cl$weights <- as.name(".weights")
    cl_lt <- cl
    cl[[1L]] <- quote(lme4::lmer)
    cl_lt[[1L]] <- quote(lmerTest::lmer)
    unit <- function(p, j) { L <- numeric(p); L[j] <- 1; L }
    quiet <- function(expr) suppressWarnings(suppressMessages(expr))  # e.g. "boundary (singular) fit"
    list(
      fit = function() quiet(eval(cl, env)),
      fit_summary = function() quiet(stats::coef(summary(eval(cl_lt, env)))),
      satterthwaite = function(fm) {
        m <- quiet(lmerTest::as_lmerModLmerTest(fm))
        p <- length(lme4::fixef(m))
        vapply(seq_len(p), function(j) as.numeric(lmerTest::contest1D(m, unit(p, j))$df), numeric(1))
      },
      kenward_roger = function(fm) {
        V0 <- as.matrix(stats::vcov(fm))
        Va <- quiet(pbkrtest::vcovAdj(fm))
        p <- ncol(V0)
        df <- vapply(seq_len(p), function(j)
          as.numeric(pbkrtest::Lb_ddf(matrix(unit(p, j), nrow = 1L), V0, Va)), numeric(1))
        list(df = df, se = sqrt(diag(as.matrix(Va))))
      },
      objective = function(fm) -2 * as.numeric(stats::logLik(fm))
    )
  }
  mb <- function(g, col) sum(g[, which(colnames(g) == col) + 1L])
  gc_reset <- function() mb(gc(reset = TRUE), "used")
  gc_peak <- function() mb(gc(), "max used")
  blas <- function() {
    si <- utils::sessionInfo()
    c(blas = if (is.null(si$BLAS)) "" else si$BLAS, lapack = if (is.null(si$LAPACK)) "" else si$LAPACK)
  }
  environment()
})
"""


class RSession:
    """lme4, lmerTest and pbkrtest in this process (rpy2)."""

    def __init__(self) -> None:
        self._env: Any = None
        self.reason = ""

    def start(self) -> bool:
        """Start R and check the packages; False (with ``reason``) when not usable."""
        ok, why = r_status(R_PACKAGES)
        if not ok:
            self.reason = why
            return False
        import rpy2.robjects as ro

        self._env = ro.r(_R_BENCH)
        return True

    def versions(self) -> dict[str, str]:
        out = r_versions(R_PACKAGES)
        blas = self._call("blas")
        out["R_BLAS"] = str(blas[0])
        out["R_LAPACK"] = str(blas[1])
        return out

    def _call(self, name: str, *args: Any) -> Any:
        import rpy2.robjects as ro
        from rpy2.robjects.conversion import localconverter

        with localconverter(ro.default_converter):
            return self._env[name](*args)

    def prepare(self, design: Design, method: str) -> RModel:
        """Hand the design's data to R; return the timed calls."""
        mf = model_frame(design)
        calls = self._call("prepare", to_r_frame(mf), r_formula(mf), method == "REML", mf.weighted)
        return RModel(self, calls)

    @contextlib.contextmanager
    def heap_probe(self) -> Iterator[dict[str, float]]:
        """Peak of R's heap (``gc(reset = TRUE)`` before, ``max used`` after) above its start, MB."""
        out: dict[str, float] = {}
        start = float(self._call("gc_reset")[0])
        try:
            yield out
        finally:
            out["r_peak_mb"] = round(max(float(self._call("gc_peak")[0]) - start, 0.0), 1)

    def collect(self) -> None:
        if self._env is not None:
            self._call("gc_reset")


class RModel:
    """The R calls for one design: fit, Satterthwaite, fit + summary, Kenward-Roger."""

    def __init__(self, session: RSession, calls: Any) -> None:
        self.session = session
        self.calls = calls

    def _fn(self, name: str) -> Callable[..., Any]:
        import rpy2.robjects as ro
        from rpy2.robjects.conversion import localconverter

        fn = self.calls.rx2(name)

        def call(*args: Any) -> Any:
            with localconverter(ro.default_converter):
                return fn(*args)

        return call

    def fit(self) -> Callable[[], Any]:
        return self._fn("fit")

    def fit_summary(self) -> Callable[[], Any]:
        return self._fn("fit_summary")

    def satterthwaite(self, fm: Any) -> Callable[[], Any]:
        f = self._fn("satterthwaite")
        return lambda: f(fm)

    def kenward_roger(self, fm: Any) -> Callable[[], Any]:
        f = self._fn("kenward_roger")
        return lambda: f(fm)

    def objective(self, fm: Any) -> float:
        return float(self._fn("objective")(fm)[0])


# ---------------------------------------------------------------- statsmodels

#: Largest n x (levels) dense block statsmodels would be given for a crossed design.
_SM_MAX_CROSSED_CELLS = 20_000_000


def statsmodels_supports(design: Design) -> tuple[bool, str]:
    """Whether MixedLM can fit this design in reasonable time and memory, and why not."""
    if design.weights is not None:
        return False, "MixedLM has no level-1 weights"
    terms = list(design.reterms)
    top = next(
        (c for c in sorted(terms, key=lambda t: t.nlevels) if all(t is c or _nested_in(t, c) for t in terms)), None
    )
    others = [t for t in terms if t is not top]
    if any(t.k != 1 for t in others):
        return False, "MixedLM has no vector-valued random term beside another grouping factor"
    if top is None:
        cells = design.n * sum(t.nlevels for t in terms)
        if cells > _SM_MAX_CROSSED_CELLS:
            return False, (
                f"crossed factors: MixedLM would need dense {design.n:,} x "
                f"{sum(t.nlevels for t in terms):,} indicator matrices"
            )
    return True, ""


def statsmodels_fit(design: Design, method: str) -> Callable[[], Any]:
    eng = StatsmodelsEngine()

    def run() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return eng.fit(design, method)

    return run


# --------------------------------------------------------------------- ours


def native_fit(design: Design, method: str) -> Callable[[], Any]:
    return lambda: fit_design(design, method)


def native_crossproducts(design: Design) -> Callable[[], Any]:
    """The cross-products step of the fit alone (the only step whose cost grows with rows)."""
    return lambda: compute_crossproducts(design)


def native_optimize(design: Design, method: str) -> Callable[[], Any]:
    """The optimization step alone, on cross-products formed beforehand (lme4's ``optimizeLmer``)."""
    dev = make_deviance(design, method)
    return lambda: optimize_deviance(dev)


def native_satterthwaite(fit: Any, design: Design) -> Callable[[], Any]:
    return lambda: satterthwaite_df(fit, design)


def native_fit_satterthwaite(design: Design) -> Callable[[], Any]:
    def run() -> Any:
        fit = fit_design(design, "REML")
        return fit, satterthwaite_df(fit, design)

    return run


def native_kenward_roger(fit: Any, design: Design) -> Callable[[], Any]:
    return lambda: kenward_roger(fit, design)


def objective(fit: Any) -> float:
    """-2 log-likelihood of a FitResult (REML criterion or ML deviance)."""
    return float(-2.0 * fit.loglik)


def max_rel_diff(a: Any, b: Any) -> float | None:
    """Largest relative difference between two vectors, or None if either is missing."""
    try:
        x = np.asarray(a, dtype=float).ravel()
        y = np.asarray(b, dtype=float).ravel()
    except (TypeError, ValueError):
        return None
    if x.shape != y.shape or x.size == 0:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.abs(x - y) / np.maximum(np.abs(y), 1e-300)
    return float(np.nanmax(d)) if np.isfinite(d).any() else None

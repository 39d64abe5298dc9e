"""lme4's ``glmer`` and MASS's ``glmmPQL``, live in R through rpy2, for GLMM reference blocks.

As for the linear engines (:mod:`replicate.engines.r.lme4`), R gets the design the native GLMM engine
fits: the response (successes; for ``cbind(s, n - s)`` also the failures as ``.failures``), the columns of
the fixed-effect model matrix, each random term's columns and grouping factor, prior weights and the
offset, under names :func:`~replicate.engines.r.frames.model_frame` checked or generated. The R code is
constant (``glmm.R`` beside this module); no text from a case file reaches R as code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...design import Design
from ...engine.glmm.response import GlmmResponse
from ...errors import FitError, ModelError, NotImplementedOption
from .frames import model_frame, r_formula, to_r_frame
from .session import get, num, r_call, r_error, r_helpers, r_versions, strs

GLMM_R = Path(__file__).with_name("glmm.R")
FAILURES = ".failures"
FAMILIES = ("binomial", "poisson")
LINKS = ("logit", "probit", "cloglog", "log")

_env: Any = None
_FAILED = re.compile(r"failed to converge|unable to evaluate|degenerate|nearly unidentifiable", re.IGNORECASE)


def _r_glmm() -> Any:
    """The private R environment of ``glmm.R``'s functions (its parent holds ``helpers.R``'s)."""
    global _env
    if _env is None:
        import rpy2.robjects as ro

        load = ro.r("function(code, parent) eval(parse(text = code), envir = new.env(parent = parent))")
        _env = load(GLMM_R.read_text(encoding="utf-8"), r_helpers())
    return _env


def _call(fname: str, *args: Any) -> Any:
    import rpy2.robjects as ro
    from rpy2.robjects.conversion import localconverter

    with localconverter(ro.default_converter):
        return _r_glmm()[fname](*args)


@dataclass(frozen=True)
class RGlmmFit:
    """What a live ``glmer`` or ``glmmPQL`` run returned, with the design's names.

    Attributes:
        call: R's call as run (deparsed); versions: R's and the packages'.
        table: the fixed effects as the summary prints them (rows: the design's names).
        varcorr: glmer: ``as.data.frame(VarCorr(fit))``; glmmPQL: rows name, variance, sd (``Residual`` last).
        stats: glmer's ``AICtab`` (AIC, BIC, logLik, deviance, df.resid); residuals: its scaled residuals'
            quantiles (min, q1, median, q3, max).
        nobs, ngroups: observations and levels per grouping factor; sigma: glmmPQL's residual SD.
        converged: glmer's optimizer code 0 and no lme4 convergence message; messages: those messages and
            R's warnings.
    """

    call: str
    versions: dict[str, str]
    table: pd.DataFrame
    varcorr: pd.DataFrame
    nobs: int
    ngroups: dict[str, int]
    converged: bool
    messages: tuple[str, ...] = ()
    stats: dict[str, float] = field(default_factory=dict)
    residuals: dict[str, float] = field(default_factory=dict)
    sigma: float | None = None


def glmer_converged(code: int, messages: Sequence[str]) -> bool:
    """lme4's verdict: the optimizer's code 0 and no convergence warning; ``boundary (singular) fit`` is a note
    lme4 files among the same messages, not a failure."""
    return code == 0 and not any(_FAILED.search(m) for m in messages)


def _frame(design: Design, resp: GlmmResponse) -> tuple[Any, Any, str]:
    mf = model_frame(design, offset_column=True)
    failures = ""
    if resp.family.name == "binomial" and not np.all(resp.n == 1):
        frame = mf.frame.copy()
        frame[FAILURES] = np.asarray(resp.n - np.asarray(design.y, dtype=float), dtype=float)
        mf, failures = replace(mf, frame=frame), FAILURES
    return mf, to_r_frame(mf), failures


def _checked(family: str, link: str) -> None:
    if family not in FAMILIES or link not in LINKS:
        raise ModelError(f"no live reference for family {family!r} with link {link!r}", field="family")


def fit_glmer(design: Design, resp: GlmmResponse, *, nagq: int = 1, tight: bool = True) -> RGlmmFit:
    """glmer on ``design`` and ``resp`` (Laplace, or adaptive quadrature with ``nagq`` > 1); ``tight``: bobyqa
    to ``rhoend = 1e-10`` and PIRLS to ``tolPwrss = 1e-12``, so that its optimum is exact to the digits written."""
    fam, link = resp.family.name, resp.family.link.name
    _checked(fam, link)
    mf, rdf, failures = _frame(design, resp)
    res = _call("fit_glmer", rdf, r_formula(mf), fam, link, int(nagq), mf.weighted, mf.offset, tight, failures)
    call = str(get(res, "call")[0])
    err = r_error(res)
    if err is not None:
        raise FitError(f"glmer failed: {err}", hint=f"call: {call}")
    ex = _call("extract_glmer", get(res, "value"))
    names = [mf.design_name(n) for n in strs(ex, "fixnames")]
    cols = strs(ex, "coefcols")
    table = pd.DataFrame(num(ex, "coef").reshape((len(names), len(cols)), order="F"), index=names, columns=cols)
    group_of = dict(zip((g for g, _, _ in mf.terms), mf.group_names))
    vc = pd.DataFrame(
        {
            "grp": [group_of.get(g, g) for g in strs(ex, "vc_grp")],
            "var1": [mf.design_name(v) if v else "" for v in strs(ex, "vc_var1")],
            "var2": [mf.design_name(v) if v else "" for v in strs(ex, "vc_var2")],
            "vcov": num(ex, "vc_vcov"),
            "sdcor": num(ex, "vc_sdcor"),
        }
    )
    msgs = [*strs(ex, "conv_msgs"), *strs(res, "warnings")]
    ngroups = {group_of.get(g, g): int(n) for g, n in zip(strs(ex, "ngrps_names"), num(ex, "ngrps"))}
    return RGlmmFit(
        call=call + mf.legend(),
        versions=r_versions(["lme4", "Matrix"]),
        table=table,
        varcorr=vc,
        nobs=int(num(ex, "nobs")[0]),
        ngroups=ngroups,
        converged=glmer_converged(int(num(ex, "conv_opt")[0]), strs(ex, "conv_msgs")),
        messages=tuple(msgs),
        stats=dict(zip(strs(ex, "aicnames"), (float(v) for v in num(ex, "aictab")))),
        residuals=dict(zip(("min", "q1", "median", "q3", "max"), (float(v) for v in num(ex, "resid")))),
    )


def fit_glmmpql(design: Design, resp: GlmmResponse) -> RGlmmFit:
    """``MASS::glmmPQL`` on ``design`` and ``resp`` (one grouping factor; no prior weights or offset)."""
    fam, link = resp.family.name, resp.family.link.name
    _checked(fam, link)
    mf, rdf, failures = _frame(design, resp)
    if len(mf.terms) != 1 or mf.weighted or mf.offset:
        raise NotImplementedOption(
            "live glmmPQL references are written for one random-effect term without weights or offset",
            hint="glmmPQL's random = list(...) for several terms is not built yet",
        )
    from rpy2.robjects.vectors import StrVector

    group, cols, intercept = mf.terms[0]
    fixed = r_call("fixed_formula", mf.response, StrVector(list(mf.fixed)), mf.intercept)
    res = _call("fit_pql", rdf, fixed, StrVector(list(cols)), intercept, group, fam, link, failures)
    call = str(get(res, "call")[0])
    err = r_error(res)
    if err is not None:
        raise FitError(f"glmmPQL failed: {err}", hint=f"call: {call}")
    ex = _call("extract_pql", get(res, "value"))
    names = [mf.design_name(n) for n in strs(ex, "fixnames")]
    cols_t = strs(ex, "ttcols")
    table = pd.DataFrame(num(ex, "ttable").reshape((len(names), len(cols_t)), order="F"), index=names, columns=cols_t)
    vc = pd.DataFrame(
        {
            "name": [n if n == "Residual" else mf.design_name(n) for n in strs(ex, "vc_names")],
            "variance": num(ex, "vc_var"),
            "sd": num(ex, "vc_sd"),
        }
    )
    warnings = strs(res, "warnings")
    return RGlmmFit(
        call=call + mf.legend(),
        versions=r_versions(["MASS", "nlme"]),
        table=table,
        varcorr=vc,
        nobs=int(num(ex, "nobs")[0]),
        ngroups={mf.group_names[0]: int(num(ex, "ngrps")[0])},
        converged=not any("iteration" in w for w in warnings),
        messages=tuple(warnings),
        sigma=float(num(ex, "sigma")[0]),
    )

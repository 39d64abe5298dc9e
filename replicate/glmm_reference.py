"""Reference blocks for GLMM cases (``model.family``) from a live run of lme4's ``glmer`` or MASS's ``glmmPQL``.

``replicate reference CASE`` on a GLMM case fits the case's design (the one the native engine fits) in R:

* ``--engine lme4``: glmer, by the model's method, or by ``--nagq K`` (Laplace for 1, adaptive quadrature
  with K nodes otherwise; the block then says ``options: {method: agq, nagq: K}`` or ``{method: laplace}``
  when that is not the model's). Always with bobyqa to ``rhoend = 1e-10`` and PIRLS to ``tolPwrss = 1e-12``
  (glmer's defaults stop short of the optimum in the 3rd digit of cbpp's SEs, which no engine should be
  asked to match), recorded in the call. The block holds ``summary(fit)``'s numbers at full precision:
  fixed (estimate, se, z, p), random (variance, sd, corr), fit (AICtab's loglik, deviance, aic, bic; nobs,
  ngroups, the scaled residuals' quantiles).
* ``--engine glmmpql``: MASS::glmmPQL (its defaults), ``software: MASS``, ``options: {method: pql}``:
  fixed (estimate, se, df, t, p from its tTable), random (variance and sd per column, and the Residual:
  the dispersion), fit (nobs, ngroups).

A fit that did not converge is no reference (an error, nothing written).
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

from .build import frame_of
from .case import Case, load_case
from .engine.glmm.api import prepare as glmm_design
from .engines.r.glmer import RGlmmFit, fit_glmer, fit_glmmpql
from .engines.r.session import r_status
from .errors import CaseError, EngineUnavailable, FitError, ModelError, ReplicateError
from .reference_writer import existing_block, write_reference

SOURCE = "live run (replicate reference)"
ENGINES = ("lme4", "glmmpql")


def is_glmm_case_file(case_path: str | Path) -> bool:
    """Whether the case is a GLMM (``model.family``); False for a case that does not load (the linear
    command then reports its error)."""
    try:
        return bool(load_case(case_path).model.get("family"))
    except ReplicateError:
        return False


def glmm_label(engine: str, case: Case, nagq: int | None) -> str:
    """``lme4-glmer-live`` (the model's method), ``lme4-glmer-agq9-live``, ``lme4-glmer-laplace-live`` or
    ``MASS-glmmPQL-live``."""
    if engine == "glmmpql":
        return "MASS-glmmPQL-live"
    method, k = _method(case, nagq)
    if (method, k) == _model_method(case):
        return "lme4-glmer-live"
    return f"lme4-glmer-{method}{k if method == 'agq' else ''}-live"


def _model_method(case: Case) -> tuple[str, int]:
    method = str(case.model.get("method", "laplace"))
    return method, int(case.model.get("nagq", 1)) if method == "agq" else 1


def _method(case: Case, nagq: int | None) -> tuple[str, int]:
    if nagq is None:
        return _model_method(case)
    if not 1 <= nagq <= 25:
        raise CaseError(f"--nagq {nagq}: glmer's nAGQ is 1 (Laplace) .. 25", field="--nagq")
    return ("agq", nagq) if nagq > 1 else ("laplace", 1)


def make_glmm_block(case_path: str | Path, engine: str = "lme4", *, nagq: int | None = None) -> dict[str, Any]:
    """The reference block of a live glmer (``engine`` lme4) or glmmPQL (``glmmpql``) run on a GLMM case.

    Raises:
        CaseError, ModelError, DataError: the case cannot be prepared.
        EngineUnavailable: R or its packages are missing.
        FitError: the program failed or did not converge.
    """
    case = load_case(case_path)
    if engine not in ENGINES:
        raise EngineUnavailable(f"no GLMM reference from engine {engine!r}", field="--engine", hint="lme4 or glmmpql")
    if "unavailable" in case.data:
        raise CaseError("the case's data is not public, so no live reference can be computed", file=str(case.path))
    if engine == "glmmpql" and nagq is not None:
        raise CaseError("--nagq is for glmer (--engine lme4)", field="--nagq")
    model = case.model
    try:
        design, resp, _ = glmm_design(
            frame_of(case).df, str(model["formula"]), str(model["family"]), model.get("link"), model.get("weights")
        )
    except ModelError as exc:
        raise case.error(ModelError, exc.message, "model", "formula", hint=exc.hint) from None
    ok, why = r_status(["lme4", "Matrix"] if engine == "lme4" else ["MASS", "nlme"])
    if not ok:
        raise EngineUnavailable(f"engine {engine!r} is not available: {why}", field="--engine")
    label = glmm_label(engine, case, nagq)
    if engine == "glmmpql":
        fit = fit_glmmpql(design, resp)
        options: dict[str, Any] = {"method": "pql"}
        values = _pql_values(fit)
        software = "MASS"
    else:
        method, k = _method(case, nagq)
        fit = fit_glmer(design, resp, nagq=k, tight=True)
        options = {} if (method, k) == _model_method(case) else {"method": method, **({"nagq": k} if k > 1 else {})}
        values = _glmer_values(fit)
        software = "lme4"
    if not fit.converged:
        raise FitError(
            f"{software} did not converge on this case, so it is no reference: " + "; ".join(fit.messages),
            file=str(case.path),
        )
    block: dict[str, Any] = {
        "label": label,
        "software": software,
        "version": "; ".join(f"{k} {v}" for k, v in fit.versions.items()),
        "call": fit.call,
        "date": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
    }
    if options:
        block["options"] = options
    block["source"] = SOURCE + (
        ": summary(fit)'s numbers at full precision (coef, VarCorr, AICtab, quantiles of the scaled residuals)"
        if software == "lme4"
        else ": summary(fit)$tTable, the random-effect covariance (fit$modelStruct$reStruct times sigma^2) and fit$sigma at full precision"
    )
    block["values"] = values
    return block


def _glmer_values(fit: RGlmmFit) -> dict[str, Any]:
    cols = {"Estimate": "estimate", "Std. Error": "se", "z value": "z", "Pr(>|z|)": "p"}
    fixed = {str(n): {q: float(row[c]) for c, q in cols.items() if _finite(row[c])} for n, row in fit.table.iterrows()}
    random: dict[str, Any] = {}
    for _, r in fit.varcorr.iterrows():
        comps = random.setdefault(str(r["grp"]), {})
        if r["var2"]:
            comps[f"{r['var1']}, {r['var2']}"] = {"corr": float(r["sdcor"])}
        else:
            comps[str(r["var1"])] = {"variance": float(r["vcov"]), "sd": float(r["sdcor"])}
    names = {"logLik": "loglik", "deviance": "deviance", "AIC": "aic", "BIC": "bic"}
    fitv: dict[str, Any] = {q: fit.stats[k] for k, q in names.items() if k in fit.stats}
    fitv |= {"nobs": fit.nobs, "ngroups": dict(fit.ngroups), "scaled_residuals": dict(fit.residuals)}
    return {"fixed": fixed, "random": random, "fit": fitv}


def _pql_values(fit: RGlmmFit) -> dict[str, Any]:
    cols = {"Value": "estimate", "Std.Error": "se", "DF": "df", "t-value": "t", "p-value": "p"}
    fixed = {str(n): {q: float(row[c]) for c, q in cols.items() if _finite(row[c])} for n, row in fit.table.iterrows()}
    group = next(iter(fit.ngroups))
    random: dict[str, Any] = {group: {}}
    for _, r in fit.varcorr.iterrows():
        entry = {"variance": float(r["variance"]), "sd": float(r["sd"])}
        if r["name"] == "Residual":
            random["Residual"] = entry
        else:
            random[group][str(r["name"])] = entry
    return {"fixed": fixed, "random": random, "fit": {"nobs": fit.nobs, "ngroups": dict(fit.ngroups)}}


def _finite(v: Any) -> bool:
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def glmm_reference_command(
    case_path: str | Path,
    engine: str = "lme4",
    force: bool = False,
    out: str | Path | None = None,
    *,
    nagq: int | None = None,
) -> tuple[int, str]:
    """``replicate reference`` on a GLMM case: exit code 0 written, 1 a block of that label exists (nothing
    fitted without ``force``), 2 the case, data, R or the fit failed."""
    try:
        case = load_case(case_path)
        if not case.model.get("family"):
            return 2, "error: --engine glmmpql and --nagq are for a GLMM case (model.family); this case is linear"
        if engine not in ENGINES:
            return 2, f"error: a GLMM case takes --engine lme4 (glmer) or glmmpql (MASS::glmmPQL), not {engine}"
        label = glmm_label(engine, case, nagq)
        software = "MASS" if engine == "glmmpql" else "lme4"
        if not force and existing_block(case_path, label, out=out, software=software) is not None:
            return (
                1,
                f"refused: {case_path} already has a reference block labelled {label!r}; use --force to replace it",
            )
        res = write_reference(case_path, make_glmm_block(case_path, engine, nagq=nagq), out=out, force=force)
    except ReplicateError as exc:
        return 2, f"error: {exc}"
    return (1 if res.action == "refused" else 0), res.summary()

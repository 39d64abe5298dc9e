"""``fit_design``: the native engine's pipeline, as lme4's modular steps.

``check -> cross-products (mkLmerDevfun) -> optimize (optimizeLmer) ->
solution and result (mkMerMod)``; each step is a function of its own module.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import lru_cache, partial

import numpy as np
import pandas as pd

from ..design import Design
from ..errors import FitError
from ..fitguard import not_finite
from ..results import FitResult, OptSummary
from ..version import __version__
from .arrays import Floats
from .checks import EngineWarning, check_terms, check_values, term_notes
from .crossprod import compute_crossproducts
from .deviance import NotPositiveDefinite, ProfiledDeviance
from .gradient import has_analytic_gradient, value_and_gradient
from .gradient_blocked import blocked_gradient_cost, blocked_value_and_gradient, use_blocked_gradient
from .gradient_tail import has_tail_gradient, tail_gradient_cost, tail_value_and_gradient
from .optimize import OptionValue, optimize_theta
from .ranef import ranef_frames
from .rescale import rescale, scale_advice
from .solution import conditional_variances, solve
from .theta import ThetaLayout
from .threads import fit_thread_limit
from .varcorr import varcorr_frame

SINGULAR_TOL = 1e-4  # lme4::isSingular default
GRAD_TOL = 2e-3  # lme4's check.conv.grad default tolerance


def _engine_version() -> str:
    return __version__


def make_deviance(design: Design, method: str = "REML") -> ProfiledDeviance:
    """Check the design and return its profiled deviance function (lme4's ``mkLmerDevfun``).

    Args:
        design: model matrices.
        method: ``REML`` or ``ML``.
    """
    reml = _parse_method(method)
    check_values(design)
    check_terms(design)
    layout = ThetaLayout.of(design)
    return ProfiledDeviance(compute_crossproducts(design), layout, reml)


def _method_name(method: str) -> str:
    return "REML" if _parse_method(method) else "ML"


def _parse_method(method: str) -> bool:
    m = str(method).upper()
    if m not in ("REML", "ML"):
        raise FitError(f"method {method!r} unknown", hint="use 'REML' or 'ML'")
    return m == "REML"


def optimize_deviance(
    dev: ProfiledDeviance, optimizer_options: Mapping[str, OptionValue] | None = None
) -> tuple[Floats, OptSummary, bool]:
    """Minimize the profiled deviance (lme4's ``optimizeLmer``).

    Returns:
        theta at the optimum, the optimizer record and its convergence flag.

    Raises:
        FitError: if the system is singular already at the starting value.
    """
    layout = dev.layout
    try:
        dev.factorize(layout.initial())
    except NotPositiveDefinite as exc:
        raise FitError(
            "the penalized least squares system is singular at the starting value: the fixed-effects "
            "model matrix is rank deficient or the response is fitted exactly",
            hint=str(exc),
        ) from exc
    theta, _, opt, converged = optimize_theta(
        dev,
        layout.initial(),
        layout.lower_bounds(),
        optimizer_options,
        value_and_gradient=_analytic_gradient(dev),
        eval_seconds=dev.cost_estimate(),
    )
    return theta, opt, converged


def _analytic_gradient(dev: ProfiledDeviance) -> Callable[[Floats], tuple[float, Floats]] | None:
    """The analytic gradient for this model: single-term; multi-term through the blocked factor or on the dense
    augmented matrix, whichever is cheaper, where it costs less than forward differences; or none."""
    if has_analytic_gradient(dev):
        return partial(value_and_gradient, dev)
    differences = (dev.layout.size + 1) * dev.cost_estimate()
    if has_tail_gradient(dev) and tail_gradient_cost(dev) < differences:
        # the dense one's array handling costs about 1 ms less than the tail's fixed 2 ms (measured)
        dense = use_blocked_gradient(dev) and blocked_gradient_cost(dev) + 1e-3 < tail_gradient_cost(dev)
        return partial(blocked_value_and_gradient if dense else tail_value_and_gradient, dev)
    return partial(blocked_value_and_gradient, dev) if use_blocked_gradient(dev) else None


def is_singular(theta: Floats, layout: ThetaLayout) -> bool:
    """lme4's ``isSingular``: a diagonal element of a relative covariance factor below the tolerance."""
    return bool(np.any(np.asarray(theta)[layout.is_diagonal()] < SINGULAR_TOL))


def convergence_notes(
    theta: Floats, layout: ThetaLayout, opt: OptSummary, converged: bool
) -> tuple[bool, bool, list[str]]:
    """lme4's post-fit checks: ``isSingular`` and the gradient check.

    Returns:
        ``(singular, converged, messages)``.
    """
    messages: list[str] = []
    singular = is_singular(theta, layout)
    if singular:
        messages.append("boundary (singular) fit: see help('isSingular')")
    grad = np.asarray(opt.gradient or (), dtype=float)
    grad = np.where((theta <= layout.lower_bounds()) & (grad > 0), 0.0, grad)
    if len(grad) and np.max(np.abs(grad)) > GRAD_TOL:
        converged = False
        messages.append(
            f"Model failed to converge with max|grad| = {np.max(np.abs(grad)):.6g} "
            f"(tol = {GRAD_TOL}, component {int(np.argmax(np.abs(grad))) + 1})"
        )
    if not converged:
        messages.append(f"optimizer did not report convergence: {opt.message}")
    return singular, converged, messages


def fitted_values(design: Design, beta: Floats, b: tuple[Floats, ...]) -> Floats:
    """``X beta + Z b`` computed row by row from the terms (no Z matrix)."""
    fitted: Floats = np.asarray(design.X, float) @ beta
    for t, bt in zip(design.reterms, b):
        fitted = fitted + np.einsum("nk,nk->n", np.asarray(t.Xre, float), bt[np.asarray(t.index)])
    return fitted


def fit_design(
    design: Design, method: str = "REML", *, optimizer_options: Mapping[str, OptionValue] | None = None
) -> FitResult:
    """Fit a linear mixed model by REML or ML.

    Args:
        design: model matrices (see :class:`replicate.design.Design`).
        method: ``"REML"`` (default, as lme4) or ``"ML"``.
        optimizer_options: overrides of :data:`replicate.engine.optimize.DEFAULTS`
            (``method``: ``auto``, ``lbfgsb`` (single-term models), ``cobyqa``,
            ``lbfgsb-fd``, ``powell``, or those with ``-only`` to skip the Newton polish;
            tolerances; ``maxfev``).

    Returns:
        A :class:`replicate.results.FitResult` with ``engine="native"``.
        ``theta`` and ``varcorr`` follow ``design.reterms``' order. ``extra``
        holds ``deviance_function`` (the :class:`ProfiledDeviance`, theta ->
        objective), ``internal_term_order``, ``pwrss``, ``ldL2``, ``ldRX2``,
        ``vcov_unscaled`` ((R_X'R_X)^-1), ``term_names`` (VarCorr group names)
        and ``condvar`` (callable: conditional variances per term, arrays
        ``(nlevels, k, k)``; also in each ranef frame's ``attrs["condVar"]``).

    Raises:
        FitError, ModelError: for invalid input, naming the variable.

    The fit runs with one BLAS/OpenMP thread by default (:mod:`replicate.engine.threads`): two threads make
    small blocks slower, and their summation order makes the deviance's last digits vary from call to call.
    """
    with fit_thread_limit():  # one BLAS thread unless REPLICATE_BLAS_THREADS says otherwise (see .threads)
        return _fit_design(design, method, optimizer_options)


def _fit_design(design: Design, method: str, optimizer_options: Mapping[str, OptionValue] | None) -> FitResult:
    dev = make_deviance(design, method)
    messages: list[str] = list(design.messages) + term_notes(design)
    advice = scale_advice(design)
    if advice is None:
        theta, opt, converged = optimize_deviance(dev, optimizer_options)
        singular, converged, notes = convergence_notes(theta, dev.layout, opt, converged)
    else:
        warnings.warn(advice, EngineWarning, stacklevel=2)
        messages.append(advice)
        theta, opt, converged, singular, notes = _optimize_rescaled(design, method, dev, optimizer_options)
    messages.extend(notes)
    try:
        return not_finite_is_not_converged(_result(design, dev, theta, opt, converged, singular, messages))
    except NotPositiveDefinite as exc:
        raise FitError(
            "the penalized least squares system is not positive definite at the optimum on the "
            "predictors' own scale (the columns of X overflow or are nearly collinear in double "
            "precision)",
            hint=f"rescale the predictors ({exc})",
        ) from exc


def not_finite_is_not_converged(fit: FitResult) -> FitResult:
    """A fit with a non-finite estimate, covariance, variance or likelihood has failed, whatever the optimizer
    said: it is marked not converged, with the quantities named (so that it is never compared as agreeing)."""
    bad = not_finite(fit)
    if not bad:
        return fit
    msg = (
        f"the fit is not finite ({', '.join(bad)} NaN or infinite): the computation overflowed or broke "
        "down in double precision; rescale the predictors or the response"
    )
    return replace(fit, converged=False, messages=tuple(dict.fromkeys((*fit.messages, msg))))


def _optimize_rescaled(
    design: Design, method: str, dev: ProfiledDeviance, optimizer_options: Mapping[str, OptionValue] | None
) -> tuple[Floats, OptSummary, bool, bool, list[str]]:
    """Optimize theta on centred and scaled columns (see :mod:`replicate.engine.rescale`); theta comes back on
    the original columns. The convergence and singularity checks are those of the scaled problem, where
    they do not depend on the units of the predictors."""
    scaled = rescale(design)
    dev_s = make_deviance(scaled.design, method)
    theta_s, opt, converged = optimize_deviance(dev_s, optimizer_options)
    singular, converged, notes = convergence_notes(theta_s, dev_s.layout, opt, converged)
    theta = scaled.theta_back(theta_s, dev.layout)
    opt = replace(
        opt,
        final=tuple(float(t) for t in theta),
        message=f"{opt.message} (optimized on centred and scaled predictors; theta there: "
        f"{', '.join(f'{t:.6g}' for t in theta_s)})",
    )
    return theta, opt, converged, singular, notes


def fit_at(design: Design, method: str, theta: Floats, *, like: FitResult | None = None) -> FitResult:
    """The fit at given variance parameters, without optimizing (lme4's ``devfun`` then ``mkMerMod``).

    ``theta`` is lme4's relative covariance factor (``design.reterms``' order);
    the fixed effects, the residual variance (profiled), their covariance and
    the likelihood are those at ``theta``. Used to evaluate a program's numbers
    at its own variance components when it stopped before the optimum.
    ``like``: a native fit of the same design and method, whose deviance
    function (cross-products formed once) is reused.
    """
    dev = (
        like.extra.get("deviance_function") if like is not None and like.method == _method_name(method) else None
    ) or make_deviance(design, method)
    theta = np.asarray(theta, dtype=float)
    if theta.shape != (dev.layout.size,):
        raise FitError(f"theta has {theta.size} values; this model has {dev.layout.size}")
    if np.any(theta < dev.layout.lower_bounds()):
        raise FitError("theta is outside its bounds (a diagonal element is negative)")
    value = float(dev(theta))
    opt = OptSummary(
        method="none (evaluated at the given theta)",
        initial=tuple(float(t) for t in theta),
        final=tuple(float(t) for t in theta),
        fmin=value,
        evaluations=1,
        message="evaluated at the given variance parameters, not optimized",
    )
    singular = is_singular(theta, dev.layout)
    messages = list(design.messages) + ["evaluated at given variance parameters (not an optimum)"]
    return not_finite_is_not_converged(_result(design, dev, theta, opt, True, singular, messages))


def _result(
    design: Design,
    dev: ProfiledDeviance,
    theta: Floats,
    opt: OptSummary,
    converged: bool,
    singular: bool,
    messages: list[str],
) -> FitResult:
    """The FitResult at ``theta`` (lme4's ``mkMerMod``)."""
    fac = dev.factorize(theta)
    sol = solve(dev, fac)
    n, p, reml = design.n, design.p, dev.reml
    sigma2 = fac.pwrss / (n - p if reml else n)
    objective = float(dev.objective(fac))
    loglik = -objective / 2.0
    npar = p + dev.layout.size + 1
    fitted = fitted_values(design, sol.beta, sol.b)
    names = list(design.fixed_names)

    @lru_cache(maxsize=1)
    def condvar() -> tuple[Floats, ...]:
        return conditional_variances(dev, fac, sigma2)

    vc = varcorr_frame(design, dev.layout.factors(theta), sigma2)
    return FitResult(
        engine="native",
        engine_version=_engine_version(),
        method="REML" if reml else "ML",
        formula=design.formula,
        fixed=pd.Series(sol.beta, index=names),
        vcov=pd.DataFrame(sigma2 * sol.vcov_unscaled, index=names, columns=names),
        varcorr=vc,
        sigma2=float(sigma2),
        theta=np.asarray(theta, dtype=float),
        loglik=float(loglik),
        reml_criterion=objective if reml else None,
        deviance=None if reml else objective,
        aic=float(-2 * loglik + 2 * npar),
        bic=float(-2 * loglik + np.log(n) * npar),
        npar=npar,
        nobs=n,
        ngroups=design.ngroups(),
        n_dropped=design.n_dropped,
        converged=bool(converged),
        singular=singular,
        messages=tuple(dict.fromkeys(messages)),
        optinfo=opt,
        ranef_fn=lambda: ranef_frames(design, sol.b, condvar),
        fitted=fitted,
        residuals=np.asarray(design.y, float) - fitted,
        rows=design.rows,
        extra={
            "deviance_function": dev,
            "internal_term_order": dev.cp.order,
            "pwrss": fac.pwrss,
            "ldL2": fac.ldl2,
            "ldRX2": fac.ldrx2,
            "vcov_unscaled": sol.vcov_unscaled,
            "term_names": tuple(vc["grp"].iloc[:-1].drop_duplicates()),
            "condvar": condvar,
        },
    )

"""``fit_glmm``: the Python entry point of the GLMM engine (preview).

check (response, family, columns) -> deviance (PIRLS + Laplace / AGQ) -> optimize (two stages) -> result.
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pandas as pd

from ...design import Design, build_design
from ...errors import DataError, ModelError, NotImplementedOption
from ...fixed_part import FixedPart, from_design
from ...spec import parse_formula
from ..threads import fit_thread_limit
from .deviance import GlmmDeviance
from .families import make_family
from .optimize import optimize_glmm
from .pql import PqlFit, fit_pql
from .randompart import RandomPart
from .response import GlmmResponse, make_response
from .result import GlmmFit
from .summary import make_result

_NAME = r"[A-Za-z.][A-Za-z0-9._]*"
_CBIND = re.compile(rf"^\s*cbind\(\s*({_NAME})\s*,\s*(?:({_NAME})\s*-\s*({_NAME})|({_NAME}))\s*\)\s*$")


def split_cbind(formula: str) -> tuple[str, str | None, str | None, str | None]:
    """lme4's binomial response ``cbind(s, n - s)`` or ``cbind(s, f)`` read from the left-hand side.

    The parser of the linear engine does not read ``cbind()`` yet; this small grammar does (never evaluated).

    Returns:
        ``(formula with s as the response, s, trials column n, failures column f)``; the last three None when
        the response is not a ``cbind()``.

    Raises:
        ModelError: a ``cbind()`` of another shape.
    """
    if "~" not in formula:
        return formula, None, None, None
    lhs, rhs = formula.split("~", 1)
    if not lhs.strip().startswith("cbind"):
        return formula, None, None, None
    m = _CBIND.match(lhs)
    if m is None or (m.group(2) is not None and m.group(3) != m.group(1)):
        raise ModelError(
            f"cannot read the binomial response {lhs.strip()!r}",
            field="formula",
            hint="write cbind(successes, trials - successes) or cbind(successes, failures) with column names",
        )
    s = m.group(1)
    return f"{s} ~{rhs}", s, m.group(2), m.group(4)


def _column(frame: pd.DataFrame, name: str | None, what: str) -> np.ndarray | None:
    if name is None:
        return None
    if name not in frame.columns:
        raise DataError(f"{what} column {name!r} is not in the data", field=what)
    values: np.ndarray = np.asarray(pd.to_numeric(frame[name], errors="coerce"), dtype=float)
    return values


def prepare(
    data: pd.DataFrame,
    formula: str,
    family: str = "binomial",
    link: str | None = None,
    weights: str | None = None,
    offset: str | None = None,
    trials: str | None = None,
    theta: float | None = None,
) -> tuple[Design, GlmmResponse, list[str]]:
    """The checked design, the response and the notes (rows removed) of a GLMM (see :func:`fit_glmm`)."""
    _, design, resp, messages = prepare_frame(data, formula, family, link, weights, offset, trials, theta)
    return design, resp, messages


def glmm_fixed_part(
    data: pd.DataFrame, formula: str, family: str = "binomial", link: str | None = None, weights: str | None = None
) -> FixedPart:
    """The fixed part of a GLMM (formula, rows used, X) for its LS-means and Type III tests."""
    frame, design, _, _ = prepare_frame(data, formula, family, link, weights, theta=_design_theta(family))
    return from_design(design, frame)


def model_design(
    data: pd.DataFrame, formula: str, family: str = "binomial", link: str | None = None, weights: str | None = None
) -> Design:
    """The checked design of a GLMM (X and the random-effect terms, rows used), for its df rules, subjects and
    checks: what the response's family says of the data, whatever the negative binomial's size."""
    _, design, _, _ = prepare_frame(data, formula, family, link, weights, theta=_design_theta(family))
    return design


def _design_theta(family: str) -> float | None:
    """A negative binomial's size for building its design only (the design does not depend on it)."""
    return 1.0 if str(family).lower() == "negative.binomial" else None


def prepare_frame(
    data: pd.DataFrame,
    formula: str,
    family: str = "binomial",
    link: str | None = None,
    weights: str | None = None,
    offset: str | None = None,
    trials: str | None = None,
    theta: float | None = None,
) -> tuple[pd.DataFrame, Design, GlmmResponse, list[str]]:
    """:func:`prepare` with the frame the design's rows index (the data less rows with a missing count)."""
    fam = make_family(family, link, theta)
    formula, successes, total, failures = split_cbind(formula)
    if successes is not None and fam.name != "binomial":
        raise ModelError("a cbind() response is binomial", field="family", hint="use family='binomial'")
    if trials is not None and successes is not None:
        raise ModelError("the cbind() response and trials= both give the trials", field="trials")
    extra = {"trials": trials or total, "failures": failures, "weights": weights, "offset": offset}
    values = {k: _column(data, v, k) for k, v in extra.items()}
    keep = np.ones(len(data), dtype=bool)
    for v in values.values():
        if v is not None:
            keep &= np.isfinite(v)
    messages: list[str] = []
    if not keep.all():
        named = ", ".join(str(c) for c in extra.values() if c)
        messages.append(f"{int((~keep).sum())} row(s) with missing {named} removed")
    frame = data.loc[keep].reset_index(drop=True)
    design = build_design(parse_formula(formula, field="formula"), frame)
    messages += list(design.messages)
    rows = design.rows

    def used(name: str) -> np.ndarray | None:
        v = values[name]
        return None if v is None else v[keep][rows]

    y = design.y + (design.offset if design.offset is not None else 0.0)
    n_trials, fails, known = used("trials"), used("failures"), used("offset")
    if fails is not None:
        n_trials = y + fails
    off = np.zeros(design.n) if design.offset is None else np.asarray(design.offset, dtype=float)
    if known is not None:
        off = off + known
    resp = make_response(fam, y, trials=n_trials, weights=used("weights"), offset=off)
    return frame, design, resp, messages


def fit_glmm(
    data: pd.DataFrame,
    formula: str,
    family: str = "binomial",
    link: str | None = None,
    method: str = "laplace",
    nagq: int = 1,
    weights: str | None = None,
    offset: str | None = None,
    trials: str | None = None,
    information: str = "expected",
    theta: float | None = None,
) -> GlmmFit:
    """Fit a generalized linear mixed model as lme4's ``glmer`` does.

    Args:
        data: one row per observation.
        formula: lme4's formula; the binomial response as ``cbind(s, n - s)``, ``cbind(s, f)``, a 0/1 column, or
            successes with ``trials=``; an ``offset(x)`` term is allowed.
        family: ``binomial``, ``poisson`` or ``negative.binomial`` (with its ``theta``; :func:`.negbin.fit_glmm_nb`
            estimates it).
        link: ``logit``, ``probit``, ``cloglog`` or ``log`` (default: the canonical link).
        method: ``laplace`` (nagq = 1) or ``agq`` (adaptive Gauss-Hermite quadrature, nagq > 1, one scalar
            random-effect term); ``laplace`` with nagq > 1 is quadrature too, as glmer's ``nAGQ``.
        nagq: quadrature nodes (1 .. 25).
        weights: a column of prior weights.
        offset: a column added to the linear predictor.
        trials: a column of binomial trials (the response then counts successes).
        information: the Laplace approximation's determinant: ``expected`` (lme4's working weights) or ``observed``
            (glmmTMB's and SAS GLIMMIX's METHOD=LAPLACE); they differ for a non-canonical link only.
        theta: the negative binomial's size, held fixed (glmer's ``family = negative.binomial(theta)``).

    Raises:
        ModelError, DataError, FitError: bad input, naming the field and what to do.
    """
    how = str(method).lower()
    if how not in ("laplace", "agq"):
        raise ModelError(
            f"method {method!r} unknown", field="method", hint="use 'laplace' or 'agq' (PQL: fit_glmm_pql)"
        )
    if how == "agq" and nagq < 2:
        raise ModelError("method 'agq' needs nagq > 1", field="nagq", hint="glmer's default for quadrature is 9+")
    if str(family).lower() == "negative.binomial" and weights is not None:
        raise NotImplementedOption(
            "prior weights with the negative binomial",
            field="weights",
            hint="lme4's glmer and MASS / glmmTMB give them different meanings for this family; fit without weights",
        )
    if str(family).lower() == "negative.binomial" and nagq > 1:
        raise ModelError(
            "adaptive quadrature for the negative binomial",
            field="nagq",
            hint="use the Laplace approximation (nagq = 1)",
        )
    design, resp, messages = prepare(data, formula, family, link, weights, offset, trials, theta)
    dev = GlmmDeviance(
        resp, np.asarray(design.X, dtype=float), RandomPart.of(design), nagq=int(nagq), information=str(information)
    )
    with fit_thread_limit():  # one BLAS thread unless REPLICATE_BLAS_THREADS says otherwise (see engine.threads)
        opt = optimize_glmm(dev)
        return make_result(design, dev, opt, messages)


def fit_glmm_pql(
    data: pd.DataFrame,
    formula: str,
    family: str = "binomial",
    link: str | None = None,
    weights: str | None = None,
    offset: str | None = None,
    trials: str | None = None,
    niter: int = 10,
) -> PqlFit:
    """Fit a GLMM by penalized quasi-likelihood as ``MASS::glmmPQL`` does (arguments as :func:`fit_glmm`;
    ``niter``: glmmPQL's maximum number of working linear mixed models)."""
    design, resp, messages = prepare(data, formula, family, link, weights, offset, trials)
    with fit_thread_limit():
        fit = fit_pql(design, resp, niter)
    return replace(fit, messages=tuple(dict.fromkeys([*messages, *fit.messages])))


#: SAS GLIMMIX's pseudo-likelihood methods -> the working model's method and whether the expansion is marginal.
GLIMMIX_PL = {"rspl": ("REML", False), "mspl": ("ML", False), "rmpl": ("REML", True), "mmpl": ("ML", True)}


def fit_glmm_pl(
    data: pd.DataFrame,
    formula: str,
    family: str = "binomial",
    method: str = "rspl",
    link: str | None = None,
    weights: str | None = None,
    offset: str | None = None,
    trials: str | None = None,
) -> PqlFit:
    """Fit a binomial or Poisson GLMM by SAS GLIMMIX's pseudo-likelihood (Wolfinger and O'Connell 1993): the
    linearization iterated to its fixed point (the linear predictor's relative change below 1e-8, at most 50
    working models), each working linear model with its residual variance known to be 1 (no free scale for these
    families), by REML (``rspl``, GLIMMIX's default; ``rmpl``) or ML (``mspl``; ``mmpl``). The subject-specific
    expansions (``rspl``, ``mspl``; glmmPQL with ``lmeControl(sigma = 1)`` has the same fixed point) linearize
    about the conditional modes, the marginal ones (``rmpl``, ``mmpl``; Breslow and Clayton's MQL) about the
    random effects' mean 0: the linear predictor ``X beta`` of the last working model.

    Raises:
        NotImplementedOption: a family with a free scale.
    """
    key = str(method).lower()
    if key not in GLIMMIX_PL:
        raise ModelError(f"method {method!r} unknown", field="method", hint="use 'rspl', 'mspl', 'rmpl' or 'mmpl'")
    design, resp, messages = prepare(data, formula, family, link, weights, offset, trials)
    if resp.family.name not in ("binomial", "poisson"):
        raise NotImplementedOption(
            f"GLIMMIX pseudo-likelihood for the {resp.family.name} family (a free scale) is not implemented",
            field="family",
            hint="binomial and poisson are implemented",
        )
    with fit_thread_limit():
        working_method, marginal = GLIMMIX_PL[key]
        fit = fit_pql(design, resp, 50, unit_scale=True, method=working_method, tol=1e-16, marginal=marginal)
    return replace(fit, messages=tuple(dict.fromkeys([*messages, *fit.messages])))

"""Checks on a design before fitting, in the spirit of lme4's ``checkNlevels``
and friends: each problem becomes an error naming the variable, or a message
that travels with the result.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..design import Design, ReTerm
from ..errors import FitError, ModelError


class EngineWarning(UserWarning):
    """A problem the fit can go on with (its text is also in ``FitResult.messages``)."""


def _check_finite(values: np.ndarray, what: str) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        rows = np.flatnonzero(bad.reshape(len(values), -1).any(axis=1))
        raise FitError(
            f"{what} has {len(rows)} non-finite value(s) (first at row {int(rows[0])})",
            hint="missing values must be removed before fitting",
        )


def check_values(design: Design) -> None:
    """Non-finite values, constant response, bad weights and too few rows.

    Raises:
        FitError: naming the offending variable.
    """
    name = design.response or "response"
    _check_finite(np.asarray(design.y, dtype=float), f"response {name!r}")
    X = np.asarray(design.X, dtype=float)
    for j, col in enumerate(design.fixed_names):
        _check_finite(X[:, j], f"fixed-effect column {col!r}")
    for t in design.reterms:
        xre = np.asarray(t.Xre, dtype=float)
        for j, col in enumerate(t.columns):
            _check_finite(xre[:, j], f"random-effect column {col!r} of term (... | {t.group})")
    if design.weights is not None:
        w = np.asarray(design.weights, dtype=float)
        _check_finite(w, "weights")
        if np.any(w <= 0):
            raise FitError(f"weights must be positive ({int(np.sum(w <= 0))} value(s) <= 0)")
    y = np.asarray(design.y, dtype=float)
    if design.n == 0:
        raise FitError("no observations to fit")
    if np.ptp(y) == 0:
        raise FitError(f"response {name!r} is constant (every value is {y[0]:g}); no variance to partition")
    if design.n <= design.p:
        raise FitError(f"{design.n} observation(s) for {design.p} fixed-effect parameter(s)")


def check_terms(design: Design) -> None:
    """lme4's grouping-factor checks (``check.nlev.gtr.1``, ``check.nobs.vs.nlev``,
    ``check.nobs.vs.nRE``), all of which stop the fit.

    Raises:
        ModelError: naming the grouping factor(s).
    """
    if not design.reterms:
        raise ModelError(
            "no random-effects terms in the model", hint="a mixed model needs at least one (... | group) term"
        )
    n = design.n
    for t in design.reterms:
        if len(t.index) != n or t.Xre.shape[0] != n:
            raise ModelError(f"random-effect term for {t.group!r} has {len(t.index)} rows, not {n}")
        if t.nlevels < 2:
            raise ModelError(
                f"grouping factor {t.group!r} has {t.nlevels} sampled level(s); "
                "grouping factors must have > 1 sampled level"
            )
        idx = np.asarray(t.index)
        if idx.min() < 0 or idx.max() >= t.nlevels:
            raise ModelError(f"level codes of grouping factor {t.group!r} are outside 0..{t.nlevels - 1}")
    bad = [t.group for t in design.reterms if t.nlevels >= n]
    if bad:
        raise ModelError(
            "number of levels of each grouping factor must be < number of observations "
            f"(problems: {', '.join(dict.fromkeys(bad))})"
        )
    for t in design.reterms:
        q = t.nlevels * t.k
        if n <= q:
            cols = " + ".join(t.columns)
            raise ModelError(
                f"number of observations (={n}) <= number of random effects (={q}) for term "
                f"({cols} | {t.group}); the random-effects parameters and the residual variance "
                "(or scale parameter) are probably unidentifiable"
            )


def _constant_within_groups(t: ReTerm, j: int) -> bool:
    x = np.asarray(t.Xre[:, j], dtype=float)
    idx = np.asarray(t.index)
    counts = np.bincount(idx, minlength=t.nlevels)
    means = np.bincount(idx, weights=x, minlength=t.nlevels) / np.maximum(counts, 1)
    dev = np.abs(x - means[idx])
    scale = max(float(np.max(np.abs(x))), 1e-300)
    return bool(np.all(dev <= 1e-10 * scale))


def term_notes(design: Design) -> list[str]:
    """Warnings that do not stop the fit.

    A random slope on a variable that is constant within every group is
    confounded with the random intercept of the same term: the model is not
    identified in that direction (and usually ends up singular).
    Levels without observations are reported too.
    """
    notes: list[str] = []
    for t in design.reterms:
        has_const = any(_is_constant(t.Xre[:, j]) for j in range(t.k))
        if t.k >= 2 and has_const:
            for j, col in enumerate(t.columns):
                if not _is_constant(t.Xre[:, j]) and _constant_within_groups(t, j):
                    notes.append(
                        f"random slope of {col!r} in term ({' + '.join(t.columns)} | {t.group}): "
                        f"{col!r} does not vary within any level of {t.group!r}, so its random slope is "
                        "confounded with the random intercept (not identifiable; expect a singular fit)"
                    )
        counts = np.bincount(np.asarray(t.index), minlength=t.nlevels)
        empty = int(np.sum(counts == 0))
        if empty:
            notes.append(f"grouping factor {t.group!r} has {empty} level(s) without observations")
    for msg in notes:
        warnings.warn(msg, EngineWarning, stacklevel=3)
    return notes


def _is_constant(col: np.ndarray) -> bool:
    col = np.asarray(col, dtype=float)
    return bool(np.ptp(col) == 0)

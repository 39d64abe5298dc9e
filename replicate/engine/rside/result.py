"""The result of a repeated-measures fit (frozen)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from scipy import stats

from ...fixed_part import FixedPart
from ...rside_names import StructureName
from ...rside_syntax import ResidualSpec
from .blocks import Blocks
from .structures import Structure

MISSING_SES = "the Hessian of the covariance parameters is not positive definite: some SEs are missing"


@dataclass(frozen=True)
class CovParm:
    """One row of SAS's "Covariance Parameter Estimates".

    Attributes:
        label: SAS's Cov Parm label (``UN(2,1)``, ``AR(1)``, ``Residual`` ...).
        group: GROUP= level, or None.
        estimate: natural-scale estimate.
        se: observed-information standard error (nan where the Hessian is singular).
        z: Wald Z = estimate / se.
        p_value: one-sided (upper) for variances, two-sided otherwise, as SAS prints "Pr Z".
    """

    label: str
    group: str | None
    estimate: float
    se: float
    z: float
    p_value: float

    @classmethod
    def of(cls, label: str, group: str | None, estimate: float, se: float, *, variance: bool) -> CovParm:
        """The row SAS prints: Wald Z, and Pr Z one-sided (upper) for a variance, two-sided otherwise."""
        z = estimate / se if se > 0 else np.nan
        p = stats.norm.sf(z) if variance else 2 * stats.norm.sf(abs(z))
        return cls(label, group, float(estimate), float(se), float(z), float(p))


def covparm_ses(cov: np.ndarray | None, k: int) -> tuple[np.ndarray, str | None]:
    """SEs of ``k`` covariance parameters from their covariance ``cov`` (None: the Hessian was singular), and
    the note to make when some are missing."""
    if cov is None:
        return np.full(k, np.nan), MISSING_SES
    diag = np.diag(cov)
    se = np.where(diag > 0, np.sqrt(np.clip(diag, 0, None)), np.nan)
    return se, MISSING_SES if np.any(diag <= 0) else None


def correlation(V: np.ndarray) -> np.ndarray:
    """The correlation matrix of a covariance matrix (nan where a variance is 0)."""
    d = np.sqrt(np.clip(np.diag(V), 0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        out: np.ndarray = V / np.outer(d, d)
    return out


@dataclass(frozen=True)
class RowData:
    """The rows of a fit, for what needs each subject's own residuals (empirical SEs).

    Attributes:
        X, y: the fixed-effects design and the response of the rows used.
        subject, visit, group: integer codes per row (subject, visit position, GROUP= level; 0 without).
        weights: SAS WEIGHT values per row, or None.
    """

    X: np.ndarray
    y: np.ndarray
    subject: np.ndarray
    visit: np.ndarray
    group: np.ndarray
    weights: np.ndarray | None = None


@dataclass(frozen=True)
class RsideFit:
    """A generalized least squares fit with a residual covariance structure within subjects.

    Attributes:
        structure: the structure (mmrm's name); sas_type: SAS's TYPE=.
        method: ``REML`` or ``ML``.
        converged: the optimizer met its tolerance and the gradient is small.
        iterations, evaluations: optimizer iterations and criterion evaluations.
        loglik: log-likelihood (REML: restricted, as nlme's ``logLik(gls)`` defines it).
        minus2loglik: -2 * loglik.
        fixed_names, beta, vcov_beta, se_beta: fixed effects (GLS estimates), their model-based covariance.
        covparms: natural-scale covariance parameters, SAS's labels and order (per group level).
        covparm_vcov: 2 * inverse Hessian of -2 log-likelihood in those parameters (None if singular).
        R, R_corr: estimated covariance and correlation over all visits, one per group level.
        visit_levels, group_levels: level labels in position order.
        n, n_subjects, n_patterns: observations used, subjects, distinct visit patterns.
        theta, scale: optimizer parameters and the profiled scale.
        messages: notes (convergence, boundary, one-visit subjects, dropped rows).
        residual: the structure as specified (formula term or REPEATED-like mapping), when known.
        fixed_part: the formula, rows used and X, for LS-means and Type III tests (None if not kept).
        blocks, covariance: the data reduced to visit patterns and the fitted structure (the derivatives of
            the fixed effects' covariance in the covariance parameters, for Satterthwaite and Kenward-Roger df).
        rows: the rows themselves (for empirical SEs), None for a fit in clusters.
        random_terms: the random effects beside the structure as lme4 writes them (``(1 | school)``,
            ``(1 | school:student)``, ``(1 + age | Subject)``): SAS's RANDOM statement, for the containment and
            nlme df.
    """

    structure: StructureName
    sas_type: str
    method: str
    converged: bool
    iterations: int
    evaluations: int
    loglik: float
    minus2loglik: float
    fixed_names: tuple[str, ...]
    beta: np.ndarray
    vcov_beta: np.ndarray
    se_beta: np.ndarray
    covparms: tuple[CovParm, ...]
    covparm_vcov: np.ndarray | None
    R: tuple[np.ndarray, ...]
    R_corr: tuple[np.ndarray, ...]
    visit_levels: tuple[str, ...]
    group_levels: tuple[str, ...] | None
    n: int
    n_subjects: int
    n_patterns: int
    theta: np.ndarray
    scale: float
    messages: tuple[str, ...] = ()
    residual: ResidualSpec | None = None
    fixed_part: FixedPart | None = None
    blocks: Blocks | None = None
    covariance: Structure | None = None
    phi_of: Callable[[np.ndarray], np.ndarray] | None = None
    rows: RowData | None = None
    random_terms: tuple[str, ...] = ()

    def with_model(self, residual: ResidualSpec, fixed_part: FixedPart) -> RsideFit:
        """The same fit, recording the residual specification and the fixed part."""
        return replace(self, residual=residual, fixed_part=fixed_part)

    @property
    def n_covparms(self) -> int:
        return len(self.covparms)

    def covparm(self, label: str, group: str | None = None) -> CovParm:
        """The covariance parameter ``label`` (of GROUP= level ``group``)."""
        for c in self.covparms:
            if c.label == label and c.group == group:
                return c
        raise KeyError(f"no covariance parameter {label!r}" + (f" in group {group!r}" if group else ""))

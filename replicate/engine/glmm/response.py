"""The response of a GLMM and the checks on it (lme4's ``glFormula`` and ``family$initialize`` checks)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.special import gammaln, xlogy

from ...errors import DataError
from .families import Family, Vector


@dataclass(frozen=True)
class GlmmResponse:
    """Everything about the response that the deviance needs, on the rows used.

    Attributes:
        family: distribution and link.
        y: the response (binomial: the proportion of successes).
        n: binomial trials per row (1 for a 0/1 response; 1 for Poisson).
        wt: R's ``weights``: prior weights times the trials.
        offset: the known part of the linear predictor (0 without an offset).
    """

    family: Family
    y: Vector
    n: Vector
    wt: Vector
    offset: Vector

    @property
    def nobs(self) -> int:
        return int(self.y.shape[0])

    @cached_property
    def aic_counts(self) -> tuple[Vector, Vector]:
        """A binomial row's trials ``m`` and successes ``m y`` as R's ``family$aic`` counts them before it rounds
        them (``m``: the trials when any exceeds 1, else the prior weights)."""
        m = self.n if np.any(self.n > 1) else self.wt
        return m, m * self.y

    @cached_property
    def _parts(self) -> tuple[Vector, Vector, Vector, Vector, Vector]:
        """The mean-free parts of :meth:`Family.dev_resids` and :meth:`Family.minus2_loglik`, per row: the
        deviance's ``y log y`` terms; the log-likelihood's constant, the counts multiplying ``log mu`` and
        ``log(1 - mu)`` (binomial) and its row factor."""
        y, wt = self.y, self.wt
        if self.family.name == "poisson":
            return xlogy(y, y) - y, -gammaln(y + 1), y, np.zeros_like(y), wt
        m, my = self.aic_counts
        k, size = np.round(my), np.round(m)
        const = gammaln(size + 1) - gammaln(k + 1) - gammaln(size - k + 1)
        factor = np.where(m > 0, wt / np.where(m > 0, m, 1), 0.0)
        return xlogy(y, y) + xlogy(1 - y, 1 - y), const, k, size - k, factor

    def deviance(self, mu: Vector) -> float:
        """``sum(family.dev_resids(y, mu, wt))``, from the cached mean-free parts (PIRLS's inner loop)."""
        if self.family.name == "negative.binomial":
            return float(np.sum(self.family.dev_resids(self.y, mu, self.wt)))
        yterm = self._parts[0]
        if self.family.name == "poisson":
            return float(2 * np.sum(self.wt * (yterm - self.y * np.log(mu) + mu)))
        return float(2 * np.sum(self.wt * (yterm - self.y * np.log(mu) - (1 - self.y) * np.log1p(-mu))))

    def minus2_loglik(self, mu: Vector) -> float:
        """``sum(family.minus2_loglik(y, n, mu, wt))``, from the cached mean-free parts."""
        if self.family.name == "negative.binomial":
            return float(np.sum(self.family.minus2_loglik(self.y, self.n, mu, self.wt)))
        _, const, k, rest, factor = self._parts
        if self.family.name == "poisson":
            return float(-2 * np.sum(self.wt * (k * np.log(mu) - mu + const)))
        return float(-2 * np.sum(factor * (const + k * np.log(mu) + rest * np.log1p(-mu))))


def make_response(
    family: Family,
    y: Vector,
    *,
    trials: Vector | None = None,
    weights: Vector | None = None,
    offset: Vector | None = None,
) -> GlmmResponse:
    """Check the response and build a :class:`GlmmResponse`.

    Args:
        family: the family.
        y: binomial: successes (with ``trials``), or 0/1 values, or proportions (with ``weights`` giving the
            trials, as R's ``glm`` reads them); Poisson: non-negative counts.
        trials: binomial trials per row (``cbind(s, n - s)`` is ``y = s``, ``trials = n``).
        weights: prior weights (positive).
        offset: a known term of the linear predictor.

    Raises:
        DataError: naming the field and what is wrong.
    """
    y = np.asarray(y, dtype=float)
    nobs = y.shape[0]
    w = np.ones(nobs) if weights is None else np.asarray(weights, dtype=float)
    if weights is not None and (not np.all(np.isfinite(w)) or np.any(w < 0)):
        raise DataError("weights must be finite and non-negative", field="weights")
    off = np.zeros(nobs) if offset is None else np.asarray(offset, dtype=float)
    if not np.all(np.isfinite(off)):
        raise DataError("the offset has missing or infinite values", field="offset")
    if not np.all(np.isfinite(y)):
        raise DataError("the response has missing or infinite values", field="formula")
    if family.name in ("poisson", "negative.binomial"):
        if trials is not None:
            raise DataError("trials= is for the binomial family only", field="trials")
        if np.any(y < 0):
            raise DataError(f"negative values are not allowed for the {family.name} family", field="formula")
        return GlmmResponse(family, y, np.ones(nobs), w, off)
    if trials is not None:
        n = np.asarray(trials, dtype=float)
        if not np.all(np.isfinite(n)) or np.any(n < 0) or np.any(y < 0) or np.any(y > n):
            raise DataError(
                "binomial trials must be non-negative and at least the successes on every row",
                field="trials",
                hint="cbind(s, n - s) means successes s out of n trials",
            )
        prop = np.divide(y, n, out=np.zeros(nobs), where=n > 0)
        return GlmmResponse(family, prop, n, w * n, off)
    if np.any((y < 0) | (y > 1)):
        raise DataError(
            "y values must be 0 <= y <= 1 for a binomial response without trials",
            field="formula",
            hint="give the successes with trials=, or cbind(successes, failures)",
        )
    return GlmmResponse(family, y, np.ones(nobs), w, off)

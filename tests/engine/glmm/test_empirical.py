"""GLIMMIX's EMPIRICAL after METHOD=LAPLACE or QUAD (issue #17): the sandwich of the subjects' likelihood gradients.

The subjects' contributions must add up to the deviance (Laplace, quadrature, a vector term, nested terms); a
crossed design has no independent subjects and is refused. Live: the same sandwich written out in R, each herd's
Laplace contribution by its own one-dimensional Newton solve (checked against lme4's deviance function), the
gradients and the Hessian by central differences in R.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from replicate.engine.glmm import GlmmDeviance, fit_glmm
from replicate.engine.glmm.api import prepare
from replicate.engine.glmm.empirical import contributions, empirical_vcov, subjects
from replicate.engine.glmm.randompart import RandomPart
from replicate.errors import NotImplementedOption
from tests.rsupport import from_r, need_r, to_r

CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


def _frame(seed: int = 1, groups: int = 12, per: int = 6) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(groups), per)
    sub = np.tile(np.arange(per) % 3, groups) + 3 * g  # 3 inner levels per group, nested
    x = rng.normal(size=g.size)
    u = rng.normal(size=groups)[g] + 0.5 * rng.normal(size=3 * groups)[sub]
    y = (rng.random(g.size) < 1 / (1 + np.exp(-(0.3 + 0.8 * x + u)))).astype(int)
    return pd.DataFrame(
        {"y": y, "x": x, "g": pd.Categorical(g.astype(str)), "s": pd.Categorical(sub.astype(str)), "c": g % 4}
    )


@pytest.mark.parametrize(
    ("formula", "kw"),
    [
        ("y ~ x + (1 | g)", {}),
        ("y ~ x + (1 | g)", {"method": "agq", "nagq": 7}),
        ("y ~ x + (1 + x | g)", {}),
        ("y ~ x + (1 | g) + (1 | s)", {}),
    ],
)
def test_the_subjects_contributions_add_up_to_the_deviance(formula, kw):
    fit = fit_glmm(_frame(), formula, **kw)
    dev = fit.deviance_function
    rows, cols = subjects(dev)
    assert rows.max() + 1 == 12  # the coarsest factor's levels, the inner one nested in it
    for shift in (0.0, 0.05):
        x = np.concatenate([fit.theta, fit.beta]) + shift
        assert contributions(dev, x, rows, cols).sum() == pytest.approx(dev(x), rel=1e-12, abs=1e-9)
    se = np.sqrt(np.diag(empirical_vcov(fit)))
    assert np.all(np.isfinite(se)) and np.all(se > 0)


@pytest.mark.parametrize("formula", ["y ~ x + (1 | g) + (1 | s)", "y ~ x + (1 + x | g)"])
def test_each_subjects_contribution_is_the_deviance_of_its_own_rows(formula):
    """Rows or log-determinants given to the wrong subject leave the total unchanged: each subject's part must be
    the deviance of that subject's rows alone at the same parameters (a design of its own, built apart)."""
    d = _frame()
    fit = fit_glmm(d, formula)
    x = np.concatenate([fit.theta, fit.beta]) * 1.1  # away from the optimum too
    rows, cols = subjects(fit.deviance_function)
    parts = contributions(fit.deviance_function, x, rows, cols)
    for code, part in enumerate(parts):
        own = d.iloc[np.flatnonzero(rows == code)].copy()
        assert own["g"].nunique() == 1
        for col in ("g", "s"):
            own[col] = own[col].cat.remove_unused_categories()
        design, resp, _ = prepare(own, formula)
        alone = GlmmDeviance(resp, np.asarray(design.X, dtype=float), RandomPart.of(design))
        assert part == pytest.approx(alone(x), rel=1e-10)


def test_crossed_factors_have_no_independent_subjects():
    d = _frame()
    d["c"] = pd.Categorical((np.arange(len(d)) % 5).astype(str))  # crosses g
    fit = fit_glmm(d, "y ~ x + (1 | g) + (1 | c)")
    with pytest.raises(NotImplementedOption, match="independent subjects"):
        empirical_vcov(fit)


#: Each herd's Laplace contribution written out (Newton on its scalar mode), lme4's devfun to check their sum,
#: and the classical sandwich from central differences.
R_SANDWICH = """
function(d, at) {
  ctl <- lme4::glmerControl(optimizer = "bobyqa", tolPwrss = 1e-12)
  f <- cbind(incidence, size - incidence) ~ period + (1 | herd)
  devfun <- lme4::glmer(f, data = d, family = binomial, control = ctl, devFunOnly = TRUE)
  X <- model.matrix(~ period, d)
  herds <- split(seq_len(nrow(d)), d$herd)
  contrib <- function(par) {
    s <- par[1]; eta0 <- drop(X %*% par[-1])
    vapply(herds, function(r) {
      u <- 0
      for (it in 1:100) {
        mu <- plogis(eta0[r] + s * u)
        g <- sum(s * (d$incidence[r] - d$size[r] * mu)) - u
        h <- sum(s^2 * d$size[r] * mu * (1 - mu)) + 1
        step <- g / h; u <- u + step
        if (abs(step) < 1e-14) break
      }
      mu <- plogis(eta0[r] + s * u)
      -2 * sum(dbinom(d$incidence[r], d$size[r], mu, log = TRUE)) + u^2 +
        log(sum(s^2 * d$size[r] * mu * (1 - mu)) + 1)
    }, 0)
  }
  k <- length(at); h <- 1e-5 * pmax(1, abs(at))
  G <- sapply(seq_len(k), function(j) {
    e <- replace(numeric(k), j, h[j]); -0.5 * (contrib(at + e) - contrib(at - e)) / (2 * h[j])
  })
  H <- matrix(0, k, k)
  for (i in 1:k) for (j in 1:k) {
    ei <- replace(numeric(k), i, 1e-4 * max(1, abs(at[i]))); ej <- replace(numeric(k), j, 1e-4 * max(1, abs(at[j])))
    H[i, j] <- 0.5 * (devfun(at + ei + ej) - devfun(at + ei - ej) - devfun(at - ei + ej) + devfun(at - ei - ej)) /
      (4 * ei[i] * ej[j])
  }
  B <- solve(H)
  S <- B %*% crossprod(G) %*% B
  list(sum_check = sum(contrib(at)) - devfun(at), se = sqrt(diag(S))[-1])
}
"""


def r_sandwich(ro, d: pd.DataFrame, params: np.ndarray) -> dict[str, np.ndarray]:
    """The sandwich SEs of cbpp's fixed effects written out in R at ``params`` (``(theta, beta)``)."""
    out = ro.r(R_SANDWICH)(to_r(ro, d), ro.FloatVector([float(v) for v in params]))
    return {k: np.asarray(v, dtype=float) for k, v in zip(out.names, out)}


@pytest.mark.r
def test_the_sandwich_is_the_one_written_out_in_r_from_each_herds_laplace_contribution():
    ro = need_r("lme4")
    d = from_r(ro, "lme4::cbpp")
    fit = fit_glmm(d, CBPP)
    res = r_sandwich(ro, d, np.concatenate([fit.theta, fit.beta]))
    assert abs(float(res["sum_check"][0])) < 1e-6  # the written-out contributions are lme4's Laplace deviance
    assert np.allclose(np.sqrt(np.diag(empirical_vcov(fit))), res["se"], rtol=1e-5)


def test_the_contributions_of_an_observed_information_fit_add_up_to_its_deviance():
    fit = fit_glmm(_frame(), "y ~ x + (1 | g) + (1 | s)", link="probit", information="observed")
    dev = fit.deviance_function
    rows, cols = subjects(dev)
    x = np.concatenate([fit.theta, fit.beta])
    assert contributions(dev, x, rows, cols).sum() == pytest.approx(dev(x), rel=1e-12)
    assert np.all(np.isfinite(empirical_vcov(fit)))

"""Generalized linear mixed models (engine preview, issue #17): binomial, Poisson and negative binomial outcomes as
lme4's glmer (and glmer.nb) fits them.

Public API:
    fit_glmm(data, formula, family="binomial", link=None, method="laplace", nagq=1, weights=None, offset=None,
             trials=None, information="expected", theta=None) -> GlmmFit
    fit_glmm_nb(data, formula, weights=None, offset=None, information="expected", theta=None) -> GlmmFit
        (the negative binomial's theta estimated, glmer.nb)
    fit_glmm_pql(data, formula, family="binomial", link=None, weights=None, offset=None, trials=None, niter=10)
        -> PqlFit (MASS::glmmPQL)
    fit_glmm_pl(data, formula, family="binomial", method="rspl" | "mspl", ...)
        -> PqlFit (SAS GLIMMIX's subject-specific pseudo-likelihood, unit scale)
    make_family(family, link=None, theta=None) -> Family
    GlmmDeviance: the deviance in (theta, beta) (Laplace or AGQ), and ``profiled(theta)`` (nAGQ = 0)
"""

from .api import fit_glmm, fit_glmm_pl, fit_glmm_pql, split_cbind
from .deviance import GlmmDeviance
from .families import Family, Link, make_family
from .negbin import fit_glmm_nb
from .pql import PqlFit
from .result import GlmmFit, VarComp

__all__ = [
    "Family",
    "GlmmDeviance",
    "GlmmFit",
    "Link",
    "PqlFit",
    "VarComp",
    "fit_glmm",
    "fit_glmm_nb",
    "fit_glmm_pl",
    "fit_glmm_pql",
    "make_family",
    "split_cbind",
]

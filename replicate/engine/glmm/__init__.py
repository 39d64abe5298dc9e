"""Generalized linear mixed models (engine preview, issue #17): binomial and Poisson outcomes as lme4's glmer fits them.

Public API:
    fit_glmm(data, formula, family="binomial", link=None, method="laplace", nagq=1, weights=None, offset=None,
             trials=None) -> GlmmFit
    make_family(family, link=None) -> Family
    GlmmDeviance: the deviance in (theta, beta) (Laplace or AGQ), and ``profiled(theta)`` (nAGQ = 0)
"""

from .api import fit_glmm, split_cbind
from .deviance import GlmmDeviance
from .families import Family, Link, make_family
from .result import GlmmFit, VarComp

__all__ = ["Family", "GlmmDeviance", "GlmmFit", "Link", "VarComp", "fit_glmm", "make_family", "split_cbind"]

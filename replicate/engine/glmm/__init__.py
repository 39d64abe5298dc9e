"""Generalized linear mixed models (engine preview, issue #17): binomial and Poisson outcomes as lme4's glmer fits them.

Public API:
    make_family(family, link=None) -> Family
"""

from .families import Family, Link, make_family

__all__ = ["Family", "Link", "make_family"]

"""What a PROC GLIMMIX listing of a generalized linear mixed model says about its model and fit.

Model Information names the distribution (``Binomial``; ``Binary`` for a 0/1 response), the link and the
estimation technique: ``Residual PL`` is GLIMMIX's default RSPL, ``PL`` its MSPL (``Residual MPL`` and ``MPL`` the
expansions about the marginal mean, RMPL and MMPL), ``Maximum Likelihood`` with ``Likelihood Approximation:
Laplace`` or ``Gauss-Hermite Quadrature`` its METHOD=LAPLACE and METHOD=QUAD. These are recorded as the case's
``family``, ``link`` and the block's ``method`` (a listing of a normal response is a linear model and records
nothing here).

The Fit Statistics of the pseudo-likelihood methods are those of the last linearized model: ``-2 Res Log
Pseudo-Likelihood`` (RSPL, RMPL) or ``-2 Log Pseudo-Likelihood`` (MSPL, MMPL), the ``Generalized Chi-Square``
``r' V^-1 r`` of the pseudo-data and its ratio to ``n - rank(X)``; they are read under their own keys, never as a
log-likelihood of the data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..printed import Printed
from .printout import Builder

#: GLIMMIX's Response Distribution -> the case's family (None: a linear model).
FAMILIES = {"binomial": "binomial", "binary": "binomial", "poisson": "poisson", "gaussian": None, "normal": None}

#: GLIMMIX's Link Function -> the case's link.
LINKS = {"logit": "logit", "probit": "probit", "cloglog": "cloglog", "log": "log", "identity": "identity"}

#: Estimation Technique -> the block's method (pseudo-likelihood ones; maximum likelihood by its approximation).
TECHNIQUES = {"residual pl": "rspl", "pl": "mspl", "residual mpl": "rmpl", "mpl": "mmpl"}
APPROXIMATIONS = {"laplace": "laplace", "gauss-hermite quadrature": "agq"}

#: Fit Statistics rows of a GLMM -> the block's fit keys.
FIT_KEYS = {
    "-2 res log pseudo-likelihood": "pseudo_reml_criterion",
    "-2 log pseudo-likelihood": "pseudo_deviance",
    "generalized chi-square": "gen_chisq",
    "gener. chi-square / df": "gen_chisq_df",
    "pearson chi-square": "pearson_chisq",
    "pearson chi-square / df": "pearson_chisq_df",
}


def glmm_info(info: Mapping[str, str], b: Builder) -> bool:
    """Record family, link and method of a GLIMMIX GLMM listing; True when the response is not normal.

    An unknown distribution or technique is recorded as printed and said in a note, so the case writer asks
    for it instead of taking the listing for a linear model.
    """
    dist = info.get("Response Distribution")
    if not dist:
        return False
    key = " ".join(dist.lower().split())
    if key in FAMILIES and FAMILIES[key] is None:
        return False
    b.set_info("glmm", True)
    b.set_info("family", FAMILIES.get(key, key))
    if key not in FAMILIES:
        b.note(f"GLIMMIX distribution {dist!r}: not a family the engine fits (binomial, poisson)")
    link = " ".join(str(info.get("Link Function", "")).lower().split())
    if link:
        b.set_info("link", LINKS.get(link, link))
    technique = " ".join(str(info.get("Estimation Technique", "")).lower().split())
    approx = " ".join(str(info.get("Likelihood Approximation", "")).lower().split())
    method = TECHNIQUES.get(technique) or (APPROXIMATIONS.get(approx) if technique == "maximum likelihood" else None)
    if method is None:
        b.note(f"GLIMMIX estimation technique {technique!r} {approx!r}: not one the case format names")
    else:
        b.set_info("method", method)
    return True


def glmm_fit_statistic(label: str, value: Printed, b: Builder) -> bool:
    """Record a GLMM Fit Statistics row under its key; False when ``label`` is not one of them."""
    key = FIT_KEYS.get(re.sub(r"\s+", " ", label.strip().lower()))
    if key is None:
        return False
    b.add_fit(key, value)
    return True

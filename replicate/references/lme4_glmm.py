"""What lme4's ``glmer`` summary says about its model, beyond what a linear model's summary prints.

* The title: ``Generalized linear mixed model fit by maximum likelihood (Laplace Approximation)
  [glmerMod]`` -> ``method: laplace``; ``... (Adaptive Gauss-Hermite Quadrature, nAGQ = 9) [glmerMod]``
  -> ``method: agq`` and ``nagq: 9`` (the case format's ``model.method`` and ``model.nagq``).
* The family line: `` Family: binomial  ( logit )`` -> ``family: binomial``, ``link: logit``.
* Convergence: lme4's warning ``Model failed to converge ...`` (printed after the summary, or as R's
  warning) means the printed numbers are not at an optimum: the block's ``options.converged: false``.

The fixed-effects table's ``z value`` column is read as ``z`` (:mod:`~replicate.references.lme4_effects`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .numbers import squash
from .printout import Builder

_NAGQ = re.compile(r"nAGQ\s*=\s*(\d+)")
_FAMILY = re.compile(r"^(?P<family>[^()]+?)\s*\(\s*(?P<link>[A-Za-z_.]+)\s*\)\s*$")
_FAILED = re.compile(r"\bModel failed to converge\b|\bconvergence code:?\s*-?[1-9]", re.IGNORECASE)


def is_glmm_title(title: str) -> bool:
    """Whether a summary's title is glmer's (``Generalized linear mixed model fit by ...``)."""
    return squash(title).startswith("generalizedlinearmixedmodel")


def glmm_title(title: str, b: Builder) -> None:
    """The fitting method of a glmer title: ``laplace``, or ``agq`` with its number of nodes."""
    m = _NAGQ.search(title)
    if m is not None and int(m.group(1)) > 1:
        b.set_info("method", "agq")
        b.set_info("nagq", int(m.group(1)))
    elif "laplace" in squash(title):
        b.set_info("method", "laplace")
    else:
        b.note(f"the fitting method of {title!r} is not read (Laplace or adaptive quadrature): set model.method")


def glmm_family(text: str, b: Builder) -> None:
    """`` Family: binomial  ( logit )`` -> family and link (glmer.nb's ``Negative Binomial(3.2)`` kept as printed)."""
    m = _FAMILY.match(text.strip())
    if m is None:
        b.set_info("family", text.strip())
        return
    b.set_info("family", " ".join(m.group("family").split()))
    b.set_info("link", m.group("link"))


def failed_to_converge(info: Mapping[str, Any]) -> str | None:
    """lme4's first message that says the fit did not converge, or None."""
    for msg in info.get("messages", ()):
        if _FAILED.search(str(msg)):
            return str(msg)
    return None


def glmm_model(info: Mapping[str, Any]) -> dict[str, Any]:
    """The case's ``model:`` keys a glmer printout gives: family, link, method and nagq (empty for a linear one)."""
    if not is_glmm_title(str(info.get("title", ""))) and not info.get("glmm"):  # glmer's title, GLIMMIX's distribution
        return {}
    out: dict[str, Any] = {}
    for key in ("family", "link", "method", "nagq"):
        if info.get(key) is not None:
            out[key] = info[key]
    return out


def glmm_comments(info: Mapping[str, Any]) -> list[str]:
    """What ``replicate parse`` says of a glmer printout beside its values: the model keys, non-convergence."""
    out = []
    model = glmm_model(info)
    if model:
        out.append("# model: " + ", ".join(f"{k}: {v}" for k, v in model.items()))
    failed = failed_to_converge(info)
    if failed is not None:
        out.append(f"# options: converged: false ({failed})")
    return out

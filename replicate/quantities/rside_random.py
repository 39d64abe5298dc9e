"""The random-effect standard deviations and variances of a repeated-measures fit with random effects beside its
structure, in a block's ``random`` section, as nlme's ``summary(lme)`` prints them (``StdDev`` per group and
column, ``Corr`` of a pair, and the ``Residual`` standard deviation sigma).

The fit keeps G under SAS's labels: one random term's variance as ``Intercept`` (or ``Intercept(school)`` for a
cluster's), an intercept and slopes as ``UN(i,j)``; the columns are those of the term as lme4 writes it
(``(1 + age | Subject)``: ``(Intercept)``, ``age``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import numpy as np

from ..block_names import component_columns, mapped
from ..case import Case
from ..engine.rside.result import RsideFit
from ..errors import CaseError, NotImplementedOption
from ..reference_block import ReferenceBlock
from .value import Collector

_TERM = re.compile(r"^\(\s*(?P<cols>[^|]+?)\s*\|\s*(?P<group>[^)]+?)\s*\)$")


def g_matrices(fit: RsideFit) -> dict[str, tuple[list[str], np.ndarray]]:
    """Each grouping factor's columns and G (the variances and covariances of its random effects)."""
    by_label = {c.label: c.estimate for c in fit.covparms if c.group is None}
    out: dict[str, tuple[list[str], np.ndarray]] = {}
    for term in fit.random_terms:
        m = _TERM.match(term.strip())
        if m is None:
            raise NotImplementedOption(f"random term {term!r} is not read here", hint="(1 | g) or (1 + x | g)")
        group = m.group("group")
        cols = ["(Intercept)" if c.strip() == "1" else c.strip() for c in m.group("cols").split("+")]
        k = len(cols)
        G = np.full((k, k), np.nan)
        if k == 1:
            value = by_label.get(f"Intercept({group})", by_label.get("Intercept"))
            if value is not None:
                G[0, 0] = value
        else:
            for i in range(k):
                for j in range(i + 1):
                    value = by_label.get(f"UN({i + 1},{j + 1})")
                    if value is not None:
                        G[i, j] = G[j, i] = value
        if np.isnan(G).any():
            raise NotImplementedOption(f"the covariance parameters of {term!r} are not all found", hint="see covparms")
        out[group] = (cols, G)
    return out


def _component(fit: RsideFit, group: str, cols: list[str], q: str) -> Callable[[], float]:
    def get() -> float:
        gs = g_matrices(fit)
        if group not in gs:
            raise NotImplementedOption(f"the model has no random effects of {group!r}", hint=f"its groups: {list(gs)}")
        names, G = gs[group]
        if any(c not in names for c in cols):
            raise NotImplementedOption(f"{group!r} has no random-effect column {cols}", hint=f"its columns: {names}")
        idx = [names.index(c) for c in cols]
        if len(idx) == 1:
            var = float(G[idx[0], idx[0]])
            return {"variance": var, "sd": math.sqrt(max(var, 0.0))}[q]
        cov = float(G[idx[0], idx[1]])
        corr = cov / math.sqrt(float(G[idx[0], idx[0]]) * float(G[idx[1], idx[1]]))
        return {"cov": cov, "corr": corr}[q]

    return get


def _residual(fit: RsideFit, q: str) -> Callable[[], float]:
    def get() -> float:
        values = [c.estimate for c in fit.covparms if c.label == "Residual" and c.group is None]
        if len(values) != 1:
            raise NotImplementedOption("the structure has no single residual variance", hint="see covparms")
        return {"variance": values[0], "sd": math.sqrt(values[0])}[q]

    return get


def add_random(out: Collector, fit: RsideFit) -> None:
    """Add the block's ``random`` values (nlme's StdDev, Corr; or variances) to ``out``."""
    for grp, comps in out.block.section("random").items():
        if grp == "Residual":
            for q, ref in comps.items():
                out.add("random", "Residual", q, ref, _residual(fit, q), ("random", grp, q), "sigma of the structure")
            continue
        for comp, qs in comps.items():
            cols = component_columns(out.block, str(comp))
            for q, ref in qs.items():
                out.add(
                    "random",
                    f"{grp} {comp}",
                    q,
                    ref,
                    _component(fit, mapped(out.block, grp), cols, q),
                    ("random", grp, comp, q),
                )


def check_random_names(case: Case, block: ReferenceBlock, fit: RsideFit) -> None:
    """Every group and column a block's ``random`` section names must be the model's.

    Raises:
        CaseError: naming the block, the value and the model's groups and columns.
    """
    section = block.section("random")
    if not section:
        return
    where = ("expected", block.index, "values", "random")
    try:
        gs = g_matrices(fit)
    except NotImplementedOption as exc:
        raise case.error(CaseError, f"reference block {block.label!r}: {exc.message}", *where, hint=exc.hint) from None
    for grp, comps in section.items():
        if grp == "Residual":
            continue
        group = mapped(block, grp)
        if group not in gs:
            raise case.error(
                CaseError,
                f"reference block {block.label!r} names random-effect group {grp!r}, which the model does not have",
                *where,
                grp,
                hint=f"the model's groups are {sorted(gs)}; add a 'names:' entry",
            )
        for comp in comps:
            missing = [c for c in component_columns(block, str(comp)) if c not in gs[group][0]]
            if missing:
                raise case.error(
                    CaseError,
                    f"reference block {block.label!r} names random-effect column {missing[0]!r} of {grp!r}, "
                    "which the model does not have",
                    *where,
                    grp,
                    comp,
                    hint=f"the columns of {group} are {gs[group][0]}; a pair is written 'a, b'",
                )

"""Which fit a GLMM block's numbers come from, so that one case can hold glmer's Laplace, its adaptive
quadrature and glmmPQL side by side.

A block is compared with the model's fit (``model.method``, ``model.nagq``) unless its ``options`` say
otherwise: ``options.method: laplace``, ``agq`` with ``options.nagq`` (glmer's nAGQ), ``pql``
(``MASS::glmmPQL``; a block with ``software: MASS`` is PQL without saying so), or SAS GLIMMIX's
pseudo-likelihood ``rspl`` (its default), ``mspl``, ``rmpl`` or ``mmpl``. Blocks of one method share
one fit (the key). A method or nagq a GLMM block cannot have is that block's invalid-case error, naming the
field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .block_names import mapped
from .build import frame_of
from .case import Case
from .design import Design
from .engine.glmm import fit_glmm_pl, fit_glmm_pql
from .engine.glmm.api import GLIMMIX_PL, model_design
from .engine.glmm.families import CANONICAL, DEFAULT_LINK
from .engine.glmm.observed import OBSERVED_LAPLACE
from .engine.glmm.pql import PqlFit
from .errors import CaseError, ModelError, ReplicateError
from .inference.dfrules import nlme_df
from .quantities import check_fixed_names
from .quantities.checks import GLMM_SECTIONS, check_no_statements, check_sections
from .reference_block import ReferenceBlock
from .vocab import DfMethod, SeKind

#: GLIMMIX's df rules for a Laplace or quadrature block.
GLIMMIX_DF = (DfMethod.CONTAINMENT, DfMethod.BETWEEN_WITHIN, DfMethod.RESIDUAL, DfMethod.NONE)

PQL = "pql"
#: The Laplace approximation with the observed information (glmmTMB's, SAS GLIMMIX's METHOD=LAPLACE): a fit's
#: key and a diagnosis's candidate, never a block's ``options.method`` (a block says ``options.information``).
OBSERVED = OBSERVED_LAPLACE
#: SAS GLIMMIX's subject-specific pseudo-likelihood methods (REML and ML working models).
PL = tuple(GLIMMIX_PL)  # rspl, mspl, rmpl, mmpl
MODEL = "model"  # the key of the model's own method
METHODS = ("laplace", "agq", PQL, *PL)


@dataclass(frozen=True)
class PqlCaseFit:
    """A case's glmmPQL (or GLIMMIX pseudo-likelihood) fit with what its block needs beside it: nlme's df (None
    when the groups are not nested), the observations, the levels per grouping factor, the method (``pql``,
    ``rspl``, ``mspl``, ``rmpl``, ``mmpl``) and the design (for SAS's df rules)."""

    pql: PqlFit
    df: Sequence[float] | None
    nobs: int
    ngroups: dict[str, int]
    method: str = PQL
    design: Design | None = None

    @property
    def converged(self) -> bool:
        return self.pql.converged

    @property
    def messages(self) -> Sequence[str]:
        return self.pql.messages


def block_method(case: Case, block: ReferenceBlock) -> tuple[str, int]:
    """The method and nagq a block's numbers come from.

    Raises:
        CaseError: a method a GLMM does not have, nagq without agq, or agq without nagq > 1.
    """
    o = block.options
    where = ("expected", block.index, "options")
    model_method = str(case.model.get("method", "laplace"))
    if o.method is None and o.nagq is None and block.software != "MASS":
        return model_method, int(case.model.get("nagq", 1))  # the model's: its errors name model.method, model.nagq
    method = o.method or (PQL if block.software == "MASS" else model_method)
    if method not in METHODS:
        raise case.error(
            CaseError,
            f"reference block {block.label!r} has options.method {method!r}, which a model with family: lacks",
            *where,
            "method",
            hint="a GLMM block takes laplace, agq (with options.nagq), pql (MASS::glmmPQL), or rspl / mspl / rmpl / mmpl "
            "(SAS GLIMMIX's pseudo-likelihood)",
        )
    if o.nagq is not None and method != "agq":
        raise case.error(
            CaseError,
            f"reference block {block.label!r} sets options.nagq for method {method!r}",
            *where,
            "nagq",
            hint="options.nagq is glmer's nAGQ of a block with options.method: agq",
        )
    if method in ("laplace", "agq"):
        _check_likelihood_options(case, block, method)
    if method != "agq":
        return method, 1
    nagq = o.nagq if o.nagq is not None else int(case.model.get("nagq", 1)) if model_method == "agq" else 1
    if nagq < 2:
        raise case.error(
            CaseError,
            f"reference block {block.label!r} is fitted by adaptive quadrature without its number of nodes",
            *where,
            "nagq",
            hint="set options.nagq: (glmer's nAGQ, 2 .. 25)",
        )
    return method, nagq


def canonical(case: Case) -> bool:
    """The case's link is its family's canonical one (so the Laplace approximation's two informations agree)."""
    family = str(case.model.get("family", "")).lower()
    link = case.model.get("link") or DEFAULT_LINK.get(family)
    return (family, str(link).lower()) in CANONICAL


def own_method(case: Case, block: ReferenceBlock) -> tuple[str, int]:
    """:func:`block_method`, with the Laplace approximation by the observed information (:data:`OBSERVED`) where
    the block takes it: ``options.information: observed``, or by default a SAS block (GLIMMIX's METHOD=LAPLACE),
    and the link is not canonical (with a canonical link both informations give one fit)."""
    method, nagq = block_method(case, block)
    if method != "laplace" or canonical(case):
        return method, nagq
    information = block.options.information or ("observed" if block.software == "sas" else "expected")
    return (OBSERVED, 1) if information == "observed" else (method, nagq)


def _check_likelihood_options(case: Case, block: ReferenceBlock, method: str) -> None:
    """A Laplace or quadrature block's options: GLIMMIX's df rules and EMPIRICAL on SAS blocks only, the observed
    information for the Laplace approximation only (errors name the field)."""
    o = block.options
    where = ("expected", block.index, "options")
    sas = block.software == "sas"
    if o.df is not None and (not sas or o.df not in GLIMMIX_DF):
        raise case.error(
            CaseError,
            f"reference block {block.label!r} has options.df {o.df!r}, which a {method} block of {block.software} lacks",
            *where,
            "df",
            hint="GLIMMIX's t tests (software: sas) take containment, between-within, residual or none; glmer prints "
            "z tests: leave options.df out",
        )
    if o.se not in (SeKind.MODEL, SeKind.CR0) or (o.se == SeKind.CR0 and not sas):
        raise case.error(
            CaseError,
            f"reference block {block.label!r} has options.se {o.se!r}, which a {method} block of {block.software} lacks",
            *where,
            "se",
            hint="the model-based SEs (leave options.se out), or GLIMMIX's EMPIRICAL (se: cr0, software: sas)",
        )
    if o.information == "observed" and method != "laplace":
        raise case.error(
            CaseError,
            f"reference block {block.label!r} has options.information: observed with method {method}",
            *where,
            "information",
            hint="the observed information is the Laplace approximation's determinant; quadrature has no such choice",
        )


def block_key(case: Case, block: ReferenceBlock) -> str:
    """The key of the fit a block is compared with (never raises: a bad block's key says which block)."""
    try:
        method, nagq = own_method(case, block)
    except ReplicateError:
        return f"invalid:{block.index}"
    model = (str(case.model.get("method", "laplace")), int(case.model.get("nagq", 1)))
    if (method, nagq) == model or (method == "laplace" and model == ("laplace", 1)):
        return MODEL
    return method_key(method, nagq)


def method_key(method: str, nagq: int = 1) -> str:
    """The key of the fit of ``method`` (quadrature's with its nodes: ``agq:9``)."""
    return method if method in (PQL, *PL, OBSERVED) else f"{method}:{nagq}"


def parse_key(case: Case, key: str) -> tuple[str, int]:
    """``agq:9`` -> ``("agq", 9)``; an ``invalid:i`` key raises block i's error."""
    if key.startswith("invalid:"):
        block_method(case, case.blocks[int(key.split(":", 1)[1])])
        raise AssertionError(key)  # block_method raised  # pragma: no cover
    method, _, nagq = key.partition(":")
    return method, int(nagq or 1)


def _model_error(case: Case, exc: ModelError) -> ReplicateError:
    """The engine's error about the model, named in the case file (its field, else model.formula)."""
    field = str(exc.field or "formula").removeprefix("model.")
    field = field if field in ("formula", "family", "link") else "formula"
    return case.error(ModelError, exc.message, "model", field, hint=exc.hint)


def design_of(case: Case) -> Design:
    """The GLMM's design (df rules, SAS's subjects, the checks), its errors naming the case's model."""
    model = case.model
    try:
        return model_design(
            frame_of(case).df, str(model["formula"]), str(model["family"]), model.get("link"), model.get("weights")
        )
    except ModelError as exc:
        raise _model_error(case, exc) from None


def fit_pql_case(case: Case) -> PqlCaseFit:
    """The case's model fitted as ``MASS::glmmPQL`` does, with nlme's df."""
    model = case.model
    args = (frame_of(case).df, str(model["formula"]), str(model["family"]), model.get("link"))
    try:
        pql = fit_glmm_pql(*args, weights=model.get("weights"))
    except ModelError as exc:
        raise _model_error(case, exc) from None
    design = design_of(case)
    try:
        df: Sequence[float] | None = [float(v) for v in nlme_df(None, design)]
    except ReplicateError:
        df = None  # crossed groups: nlme has no df rule for them
    ngroups = {t.group: int(t.nlevels) for t in design.reterms}
    return PqlCaseFit(pql=pql, df=df, nobs=int(design.n), ngroups=ngroups)


def fit_pl_case(case: Case, method: str) -> PqlCaseFit:
    """The case's model fitted by SAS GLIMMIX's pseudo-likelihood ``method`` (``rspl``, ``mspl``, ``rmpl`` or ``mmpl``)."""
    model = case.model
    data, formula, family, link = frame_of(case).df, str(model["formula"]), str(model["family"]), model.get("link")
    try:
        pl = fit_glmm_pl(data, formula, family, method, link=link, weights=model.get("weights"))
    except ModelError as exc:
        raise _model_error(case, exc) from None
    design = design_of(case)
    ngroups = {t.group: int(t.nlevels) for t in design.reterms}
    return PqlCaseFit(pql=pl, df=None, nobs=int(design.n), ngroups=ngroups, method=method, design=design)


def check_pql_names(case: Case, block: ReferenceBlock, fit: PqlCaseFit) -> None:
    """Every fixed effect and grouping factor a glmmPQL block names must be the model's."""
    check_no_statements(case, "generalized linear mixed models")
    check_sections(case, block, GLMM_SECTIONS, "generalized linear mixed models")
    check_fixed_names(case, block, fit.pql.fixed_names)
    groups = set(fit.ngroups)
    for group in block.section("random"):
        if group != "Residual" and mapped(block, group) not in groups:
            raise case.error(
                CaseError,
                f"reference block {block.label!r} names grouping factor {group!r}, which the model does not have",
                *("expected", block.index, "values", "random", group),
                hint=f"the model's grouping factors are {sorted(groups)}; add a 'names:' entry",
            )

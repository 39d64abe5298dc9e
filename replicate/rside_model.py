"""A repeated-measures case's model as the engine takes it (issue #16).

The structure comes from ``model.residual`` (SAS's REPEATED statement) or from mmrm's covariance term in
the formula (``distance ~ Sex * age + ar1(age | Subject)``), never both; random intercepts may stand beside
it in the formula (``+ (1 | school)`` over the subjects, ``+ (1 | subject)`` per subject), and a subject's
random intercept and slopes (``+ (1 + age | subject)``, G unstructured). Only read here:
the fit is the engine's (:func:`replicate.engine.rside.fit_residual`).
"""

from __future__ import annotations

from dataclasses import dataclass

from .case import Case
from .errors import ModelError, NotImplementedOption
from .rside_random import split_random_intercepts
from .rside_syntax import ResidualSpec, has_covariance_term, residual_from_mapping, split_formula


@dataclass(frozen=True)
class RsideModel:
    """What ``fit_residual`` is given for a case.

    Attributes:
        formula: the formula without the random intercepts (it may hold mmrm's covariance term).
        fixed: the fixed effects alone.
        residual: the ``residual:`` mapping, or None when the formula holds the structure.
        spec: the structure, however it was written.
        random_intercept: a random intercept per subject (``(1 | subject)``).
        cluster: the factor of a random intercept over the subjects (``(1 | school)``), or None.
        random_slopes: the subject's random slope variables (``(1 + age | subject)``), beside its intercept.
    """

    formula: str
    fixed: str
    residual: dict[str, object] | None
    spec: ResidualSpec
    random_intercept: bool
    cluster: str | None
    random_slopes: tuple[str, ...] = ()


def is_repeated_measures(case: Case) -> bool:
    """Is the case's model one with a residual structure: SAS's REPEATED mapping (``model.residual``) or
    mmrm's covariance term in the formula?"""
    return "residual" in case.model or has_covariance_term(str(case.model.get("formula", "")))


def rside_model(case: Case) -> RsideModel:
    """The case's repeated-measures model.

    Raises:
        ModelError: the structure named twice or not at all, or another random term (field ``model.formula``).
        NotImplementedOption: a random slope of a factor other than the subject, or random intercepts of more
            than one factor besides the subject.
    """
    text = str(case.model.get("formula", ""))
    beside = split_random_intercepts(text)
    fixed, term = split_formula(beside.formula, field="model.formula") if text else (text, None)
    residual = dict(case.model["residual"]) if "residual" in case.model else None
    if term is not None and residual is not None:
        raise ModelError(
            f"the formula's {term.term()} and model.residual both name the residual structure",
            field="model.formula",
            hint="keep one: the covariance term in the formula (mmrm's form) or the residual: mapping (SAS's)",
        )
    if not fixed or "|" in fixed:
        raise ModelError(
            "a model with a residual structure takes fixed effects and random intercepts (1 | g) only",
            field="model.formula",
            hint="write y ~ x + (1 | school) beside residual:, or y ~ x + ar1(time | id)",
        )
    spec = term if term is not None else residual_from_mapping(residual or {}, field="model.residual")
    others = [g for g in beside.groups if g != spec.subject]
    for g in others:
        if beside.slopes_of(g):
            raise NotImplementedOption(
                f"random slopes of {g!r} beside a residual structure are not implemented",
                field="model.formula",
                hint=f"random slopes are implemented for the subject ({spec.subject}); give {g!r} an intercept, (1 | {g})",
            )
    if len(others) > 1:
        raise NotImplementedOption(
            f"random intercepts of {', '.join(others)} beside a residual structure are not implemented",
            field="model.formula",
            hint="one factor the subjects are nested in (a school) and the subject itself are implemented",
        )
    return RsideModel(
        formula=beside.formula,
        fixed=fixed,
        residual=residual,
        spec=spec,
        random_intercept=spec.subject in beside.groups and not beside.slopes_of(spec.subject),
        cluster=others[0] if others else None,
        random_slopes=beside.slopes_of(spec.subject),
    )

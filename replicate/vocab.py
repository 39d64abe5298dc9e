"""The project's vocabulary, once: df methods, SE kinds, verdicts and case statuses.

Each is a ``StrEnum``, so a member is its own string (``DfMethod.SATTERTHWAITE == "satterthwaite"``)
and case files, JSON reports and old code that compare strings keep working. The case schema's
enums are checked against these by ``tests/test_vocab.py``; the inference layer, the simulation
config, the comparison, the runner and the reports take their names from here. This module imports
nothing from the package.
"""

from __future__ import annotations

from enum import StrEnum


class DfMethod(StrEnum):
    """Denominator degrees of freedom of a fixed effect, by the program that defines them."""

    RESIDUAL = "residual"  # n - p (R's lm, SAS without RANDOM)
    CONTAINMENT = "containment"  # SAS's default with RANDOM
    BETWEEN_WITHIN = "between-within"  # SAS ddfm=bw
    HLM = "hlm"  # HLM2: J - S - 1 / N - p by the level of entry
    NLME = "nlme"  # nlme's inner/outer df
    SATTERTHWAITE = "satterthwaite"  # lmerTest, SAS ddfm=satterthwaite
    KENWARD_ROGER = "kenward-roger"  # pbkrtest, SAS ddfm=kr
    KENWARD_ROGER_2 = "kenward-roger-2"  # SAS ddfm=kr2
    CR2_SATTERTHWAITE = "cr2-satterthwaite"  # clubSandwich's coef_test df
    NONE = "none"  # z tests


class SeKind(StrEnum):
    """Standard error of a fixed effect."""

    MODEL = "model"
    KENWARD_ROGER = "kenward-roger"
    KENWARD_ROGER_2 = "kenward-roger-2"
    CR0 = "cr0"
    CR1 = "cr1"
    CR2 = "cr2"


class Verdict(StrEnum):
    """What the comparison says of one number."""

    AGREES = "agrees"
    WITHIN = "within tolerance"
    DISCREPANCY = "discrepancy"
    NOT_COMPARABLE = "not comparable"
    EXPLAINED = "explained"  # outside tolerance, but declared as a definition difference in the case


class Status(StrEnum):
    """What a run says of one case (from best to worst)."""

    OK = "agrees"
    DISCREPANT = "discrepancy"
    SKIPPED = "skipped"
    ERROR = "error"
    INVALID = "invalid"


class DiagnosisKind(StrEnum):
    """What a diagnosis says made a block's numbers differ (``Diagnosis.kind``; a case may declare one for a
    value under ``differences[].diagnosis``, which the run then has to find)."""

    TRANSCRIPTION = "transcription error"
    DIFFERENT_ROWS = "different rows"
    DIFFERENT_OPTIMUM = "different optimum"
    LIKELIHOOD_GAP = "likelihood gap"
    DIFFERENT_DEFINITION = "different definition"
    DIFFERENT_PARAMETERIZATION = "different parameterization"
    FLAT_LIKELIHOOD = "flat likelihood"
    BOUNDARY = "boundary"
    DIFFERENT_METHOD = "different estimation method"
    INEXACT_OBJECTIVE = "inexact objective"
    RX_COVARIANCE = "standard errors from RX"
    NOT_CONVERGED = "reference did not converge"
    PRINTING_PRECISION = "printing precision"
    UNEXPLAINED = "unexplained"


#: How a block's ``software`` is written in prose (the schema spells it in lower case where the program does not).
PROGRAM_NAMES = {"sas": "SAS", "hlm": "HLM", "stata": "Stata"}


def program_name(software: str) -> str:
    """``sas`` -> ``SAS``: a block's software as its users write it."""
    return PROGRAM_NAMES.get(software, software)

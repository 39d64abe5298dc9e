"""SAS PROC MIXED and PROC GLIMMIX listings (and their copies from web pages).

Reads the tables by their titles:
  * ``Model Information`` (estimation method, df method, SE method, ...);
  * ``Class Level Information`` (levels and their values, in SAS's order);
  * ``Dimensions`` and ``Number of Observations``;
  * ``Covariance Parameter Estimates`` (``Cov Parm`` with or without a
    ``Subject`` column; ``Estimate`` with or without ``Standard Error``,
    ``Z Value``, ``Pr > Z``; ``UN(i,j)`` names);
  * ``Fit Statistics`` (``-2 Res Log Likelihood``, ``-2 Log Likelihood``,
    ``AIC``, ``AICC``, ``BIC``, ...);
  * ``Solution for Fixed Effects`` (GLIMMIX: ``Solutions for Fixed Effects``)
    with CLASS-level columns between ``Effect`` and ``Estimate``;
  * ``Type 3 Tests of Fixed Effects`` (GLIMMIX: ``Type III``) and
    ``Null Model Likelihood Ratio Test``;
  * ``ddfm=`` and ``method=`` from SAS code pasted with the output.

A header split over lines (``Standard`` above ``Error``) is read from all
its lines; ``.`` is a missing cell; page titles (``The SAS System``) are
skipped. Names are kept as SAS prints them: fixed effects ``Intercept``,
``urban``, ``sex F`` (effect, then its CLASS levels); covariance parameters
under their subject (``random[schoolid]["Intercept"]``), ``UN(1,1)``, and
``"UN(1,1), UN(2,2)"`` for the covariance ``UN(2,1)``; a covariance parameter
without subject (``random schoolID;``) is the intercept variance of that
effect (``random[schoolID]["Intercept"]``). SAS prints variances, not SDs.
See :mod:`replicate.references.names` to map the names to lme4's.

Notes recorded in ``model_info["notes"]``: SAS's AIC and BIC under REML count
covariance parameters only (lme4 also counts fixed effects), and SAS's BIC
uses the number of subjects, so they are not lme4's AIC and BIC.

This module finds the tables and cuts a paste into PROC steps; the tables are
read in :mod:`~replicate.references.sas_descriptive` and
:mod:`~replicate.references.sas_estimates`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .numbers import Line, Section, find_sections, line_index, prepare, title_re
from .printout import Builder, ParsedPrintout
from .sas_descriptive import class_levels, dimensions, fit_statistics, model_info, nobs
from .sas_estimates import fixed_effects, null_model_lrt, type_tests
from .sas_repeated import convergence
from .sas_repeated_values import HANDLERS as REPEATED_HANDLERS
from .sas_repeated_values import PATTERNS as REPEATED_PATTERNS
from .sas_repeated_values import finish as finish_repeated
from .sas_sections import SasState, once_key

EXPECTED = "'Solution for Fixed Effects', 'Covariance Parameter Estimates', 'Fit Statistics'"

_I = re.IGNORECASE
PATTERNS = [
    ("model_info", title_re("Model Information")),
    ("class_levels", title_re("Class Level Information")),
    ("dimensions", title_re("Dimensions")),
    ("nobs", title_re("Number of Observations")),
    ("covparms", title_re("Covariance Parameter Estimates")),
    ("fitstats", title_re("Fit Statistics")),
    ("fixed", title_re("Solution for Fixed Effects", "Solutions for Fixed Effects", "Parameter Estimates")),
    ("tests", re.compile(r"^Type\s+(?P<type>1|2|3|I|II|III)\s+Tests\s+of\s+Fixed\s+Effects\s*:?\s*$", _I)),
    ("lrt", title_re("Null Model Likelihood Ratio Test")),
    *REPEATED_PATTERNS,
    (
        "ignore",
        re.compile(
            r"^(?:Iteration History|Convergence Status|Optimization Information|Solutions? for Random Effects|"
            r"Estimated [GRV] (?:Correlation )?Matrix|Least Squares Means|Differences of Least Squares Means|"
            r"Estimates|Contrasts|Information Criteria|Fit Statistics for Conditional Distribution|"
            r"Conditional Fit Statistics|Asymptotic Co(?:variance|rrelation) Matrix|Tests of Covariance Parameters|"
            r"Covariance Matrix for Fixed Effects|Correlation Matrix for Fixed Effects|Convergence criteria met|"
            r"Type\s+(?:1|2|3|I|II|III)\s+Tests of Random Effects|Random Effect Solution|Class Level Info)\b.*$",
            _I,
        ),
    ),
]
_COUNTED = {"covparms", "fitstats", "fixed", "tests", "dimensions", "model_info", "nobs", "lrt", "class_levels"}
_PAGE = re.compile(r"^(?:The SAS System\b.*|The (?P<proc>Mixed|GLIMMIX|HPMIXED) Procedure)\s*$", _I)


_DESCRIPTIVE = {"model_info", "class_levels", "dimensions", "nobs", "ignore"}


def part_starts(lines: list[Line]) -> list[int]:
    """Indices of the lines where a new PROC step's output begins.

    A step begins where a table repeats; the descriptive tables just before
    the repeated one (Model Information, Class Level Information, Dimensions,
    Number of Observations, Iteration History) and the page titles before them
    go with the new step, as long as they did not appear in the step before.
    """
    starts = [0]
    seen: dict[str, int] = {}  # table -> index of its section in the current step
    cleaned = [ln.with_text("") if _PAGE.match(ln.stripped) else ln for ln in lines]
    sections = find_sections(cleaned, PATTERNS)
    for k, sec in enumerate(sections):
        if sec.kind not in _COUNTED:
            continue
        key = once_key(sec)
        if key in seen:
            j = k
            while j - 1 > seen[key] and sections[j - 1].kind in _DESCRIPTIVE:
                j -= 1
            start = line_index(cleaned, sections[j].title)
            while start - 1 > starts[-1] and not cleaned[start - 1].stripped:
                start -= 1  # blank lines and page titles before the step
            if start > starts[-1]:
                starts.append(start)
            seen = {once_key(t): i for i, t in enumerate(sections[j:k], start=j) if t.kind in _COUNTED}
        seen[key] = k
    return starts


def parse(text: str, software: str = "sas", *, first_line: int = 1) -> ParsedPrintout:
    """Parse a SAS PROC MIXED / GLIMMIX listing (see the module docstring); ``first_line`` numbers the text's
    first line."""
    lines = prepare(text, first_line=first_line)
    b = Builder(software)
    cleaned: list[Line] = []
    for ln in lines:
        m = _PAGE.match(ln.stripped)
        if m:
            if m.group("proc"):
                b.set_info("procedure", m.group("proc").upper())
            cleaned.append(ln.with_text(""))
        else:
            cleaned.append(ln)
    _code(text, b)
    convergence(cleaned, b)
    state = SasState()
    for sec in find_sections(cleaned, PATTERNS):
        if sec.kind in _COUNTED:
            b.sections += 1
        handler = _HANDLERS.get(sec.kind)
        if handler is not None:
            handler(sec, b, state)
    _finish(b, state)
    finish_repeated(b, text)
    return b.build("SAS PROC MIXED/GLIMMIX", EXPECTED)


def _code(text: str, b: Builder) -> None:
    """Options from SAS code pasted with the output."""
    m = re.search(r"\bddfm\s*=\s*([A-Za-z0-9_()-]+)", text, _I)
    if m:
        b.set_info("ddfm", m.group(1).lower())
    m = re.search(r"\bproc\s+(mixed|glimmix|hpmixed)\b([^;]*);", text, _I)
    if m:
        b.set_info("procedure", m.group(1).upper())
        mm = re.search(r"\bmethod\s*=\s*(\w+)", m.group(2), _I)
        if mm:
            b.set_info("proc_method", mm.group(1).upper())


# ---------------------------------------- the tables' readers: sas_descriptive.py, sas_estimates.py


def _finish(b: Builder, state: SasState) -> None:
    if state.n_subjects is not None and len(state.subjects) == 1:
        b.add_ngroups(state.subjects[0], state.n_subjects)
    elif state.n_subjects is not None and len(state.subjects) > 1:
        b.note(
            "Dimensions shows the number of subjects, but the covariance parameters have several subject "
            "effects, so the count is not given to a group"
        )


_HANDLERS: dict[str, Callable[[Section, Builder, SasState], None]] = {
    "model_info": model_info,
    "class_levels": class_levels,
    "dimensions": dimensions,
    "nobs": nobs,
    "fitstats": fit_statistics,
    "fixed": fixed_effects,
    "tests": type_tests,
    "lrt": null_model_lrt,
    **REPEATED_HANDLERS,
}

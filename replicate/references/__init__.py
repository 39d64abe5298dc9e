"""Parsers of printed output: the numbers a program printed, as a user pastes them.

``parse_printout(text, software)`` reads a pasted printout of lme4/lmerTest,
nlme, SAS PROC MIXED/GLIMMIX or HLM2 and returns a :class:`ParsedPrintout`:
the ``values`` of the case format (every number a
:class:`replicate.case.Printed`, under the names the program printed), extra
``tables``, ``model_info`` and the ``unparsed`` lines of recognised sections.

Nothing is guessed: a line inside a recognised section that cannot be read is
listed in ``unparsed`` with the reason, and text with no recognised section is
a :class:`~replicate.errors.ReferenceError_`. A paste that holds several
models' printouts is refused by ``parse_printout``; ``split_printouts`` cuts it
into one part per model (keeping the line numbers) and ``parse_printouts``
parses every part. ``guess_software`` names the likely program;
:mod:`replicate.references.names` maps printed names to lme4's.

Table names in ``tables``:
    lme4/lmerTest: ``Fit Statistics`` (the ML summary's AIC ... df.resid),
        ``anova`` (model comparisons; lmerTest's Type III table), ``ranova``;
        a second table of a name gets `` 2``, `` 3``...
    nlme: ``Fit Statistics``, ``anova``.
    SAS: ``Covariance Parameter Estimates``, ``Fit Statistics``, ``Dimensions``,
        ``Number of Observations``, ``Class Level Information``,
        ``Type III Tests of Fixed Effects`` (also for MIXED's "Type 3"),
        ``Type I ...``, ``Null Model Likelihood Ratio Test``, ``Aliased Fixed
        Effects`` (reference levels printed as 0), ``Fixed Effects Confidence
        Limits`` (with the CL option).
    HLM: ``Variance Components`` (sd, variance, df, chisq, p), ``Reliability``,
        ``Statistics`` (deviance, parameters, sigma2, log-likelihood, units),
        ``Fixed Effects (robust standard errors)`` when both tables are printed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise

from ..errors import ReferenceError_
from . import hlm_text, lme4_text, names, nlme_gls, nlme_text, sas_text
from .numbers import Line, prepare
from .printout import ParsedPrintout

SOFTWARE = ("lme4", "lmerTest", "nlme", "sas", "hlm")


def _nlme(text: str, software: str, *, first_line: int = 1) -> ParsedPrintout:
    """nlme's ``summary(gls)`` or its lme printouts."""
    parse = nlme_gls.parse if nlme_gls.is_gls(text) else nlme_text.parse
    return parse(text, software, first_line=first_line)


def _nlme_starts(lines: list[Line]) -> list[int]:
    gls = any(nlme_gls.TITLE.match(ln.stripped) for ln in lines)
    return nlme_gls.part_starts(lines) if gls else nlme_text.part_starts(lines)


_PARSERS = {
    "lme4": lme4_text.parse,
    "lmerTest": lme4_text.parse,
    "nlme": _nlme,
    "sas": sas_text.parse,
    "hlm": hlm_text.parse,
}


def _canonical(software: str) -> str:
    if isinstance(software, str):
        for s in SOFTWARE:
            if software.strip().lower() == s.lower():
                return s
    raise ReferenceError_(f"unknown software {software!r}", field="software", hint="one of " + ", ".join(SOFTWARE))


def parse_printout(text: str, software: str, *, first_line: int = 1) -> ParsedPrintout:
    """Parse a pasted printout of ``software`` (one of :data:`SOFTWARE`, any case).

    ``first_line`` is the number of the text's first line, for a part cut out
    of a longer paste (line numbers in ``unparsed`` and errors are then the paste's).

    Raises:
        ReferenceError_: for an unknown software, text that is not a string,
            text without any recognised section, or text holding more than one
            model's summary.
    """
    sw = _canonical(software)
    return _PARSERS[sw](text, sw, first_line=first_line)


_STARTS = {
    "lme4": lme4_text.part_starts,
    "lmerTest": lme4_text.part_starts,
    "nlme": _nlme_starts,
    "sas": sas_text.part_starts,
    "hlm": hlm_text.part_starts,
}


@dataclass(frozen=True)
class PrintoutPart:
    """One model's printout within a longer paste.

    Attributes:
        first_line, last_line: its lines in the whole text (1-based, inclusive).
        body: the part's own lines (parse it with ``first_line`` to keep the
            whole text's line numbers; this is what :func:`parse_printouts` does,
            so that a paste of many printouts is read in time linear in its size).
        total_lines: the number of lines of the whole text.
    """

    first_line: int
    last_line: int
    body: str
    total_lines: int = 0

    @property
    def text(self) -> str:
        """The whole text with every line outside the part left empty (so line numbers are the whole text's)."""
        return "\n" * (self.first_line - 1) + self.body + "\n" * max(self.total_lines - self.last_line, 0)


def split_printouts(text: str, software: str) -> list[PrintoutPart]:
    """Cut a paste that holds several models' printouts into one part per model.

    A new part begins where a table that a program prints once per model
    appears again (a second summary title, a second 'Fixed effects:', a
    second 'Covariance Parameter Estimates', a second HLM variance-component
    table, ...). Text before the second model stays with the first; tables
    printed between two summaries (anova, ranova) stay with the model above.

    Raises:
        ReferenceError_: for an unknown software or text that is not a string.
    """
    sw = _canonical(software)
    raw = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    starts = _STARTS[sw](prepare(text, knitr=sw in ("lme4", "lmerTest", "nlme")))
    bounds = starts + [len(raw)]
    return [PrintoutPart(a + 1, b, "\n".join(raw[a:b]), len(raw)) for a, b in pairwise(bounds)]


def iter_printouts(text: str, software: str, parts: list[PrintoutPart] | None = None) -> Iterator[ParsedPrintout]:
    """Parse the model printouts of a paste one at a time (see :func:`parse_printouts`).

    A long paste is read part by part: only one part's result is alive at a
    time if the caller does not keep them. ``parts``: the paste's
    :func:`split_printouts`, if the caller has it already.

    Raises:
        ReferenceError_: if no part holds any of the program's output (after
            the parts that do), or as :func:`parse_printout` does.
    """
    found = False
    first_error: ReferenceError_ | None = None
    for part in split_printouts(text, software) if parts is None else parts:
        try:
            parsed = parse_printout(part.body, software, first_line=part.first_line)
        except ReferenceError_ as exc:
            if "output found" not in exc.message:
                raise
            first_error = first_error or exc
            continue
        parsed.model_info["lines"] = (part.first_line, part.last_line)
        found = True
        yield parsed
    if not found:
        assert first_error is not None
        raise first_error


def parse_printouts(text: str, software: str) -> list[ParsedPrintout]:
    """Parse every model's printout in a paste (see :func:`split_printouts`).

    Parts in which no section of the program's output is found are left out;
    each result's ``model_info["lines"]`` is its ``(first_line, last_line)``.

    Raises:
        ReferenceError_: if no part holds any of the program's output.
    """
    return list(iter_printouts(text, software))


def guess_software(text: str) -> str | None:
    """The program whose printout ``text`` most likely is, or None.

    Looks for each program's characteristic lines; lmerTest is told from lme4
    by its t-tests line, ``[lmerModLmerTest]``, ``ranova`` or an F table with
    Satterthwaite's method.
    """
    import re

    if not isinstance(text, str):
        return None
    t = text
    if re.search(r"Final estimation of (fixed effects|variance components)|INTRCPT[12]", t):
        return "hlm"
    if re.search(
        r"Covariance Parameter Estimates|Solutions? for Fixed Effects|The (Mixed|GLIMMIX) Procedure"
        r"|-2 Res Log Likelihood",
        t,
        re.IGNORECASE,
    ):
        return "sas"
    if re.search(
        r"Linear mixed-effects model fit by|Generalized least squares fit by|StdDev:|Number of Groups:"
        r"|Value\s+Std\.Error\s+DF",
        t,
    ):
        return "nlme"
    if re.search(
        r"lmerModLmerTest|t-tests use|ANOVA-like table for random-effects|"
        r"Analysis of Variance Table with Satterthwaite",
        t,
    ):
        return "lmerTest"
    if re.search(r"Linear mixed model fit by|REML criterion at convergence|Number of obs:", t):
        return "lme4"
    return None


__all__ = ["SOFTWARE", "ParsedPrintout", "guess_software", "iter_printouts", "names", "parse_printout"]

"""The parsers never raise anything but ReferenceError_, whatever the text."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from replicate.errors import ReferenceError_
from replicate.references import (
    SOFTWARE,
    ParsedPrintout,
    guess_software,
    parse_printout,
    parse_printouts,
    split_printouts,
)

PRINTOUTS = Path(__file__).resolve().parents[1] / "data" / "printouts"
FIXTURES = [
    p.read_text(encoding="utf-8")
    for pattern in ("*.txt", "*.lst", "*.Rout")  # the seeds, SAS listings (REPEATED, GLIMMIX) and nlme summaries
    for p in sorted(PRINTOUTS.glob(pattern))
]

# Words and symbols the parsers react to, so that random text reaches their branches.
VOCAB = [
    "Random effects:",
    "Fixed effects:",
    "Fixed effects: y ~ x",
    "Number of obs: 10, groups:  g, 2",
    "REML criterion at convergence:",
    "Groups   Name        Variance Std.Dev. Corr",
    "Residual",
    "Estimate Std. Error df t value Pr(>|t|)",
    "(Intercept)",
    "---",
    "***",
    "*",
    ".",
    "<2e-16",
    "< 2e-16",
    "<.0001",
    "NA",
    "Linear mixed model fit by REML",
    "AIC BIC logLik deviance df.resid",
    "Models:",
    "npar AIC BIC logLik deviance Chisq Df Pr(>Chisq)",
    "ANOVA-like table for random-effects",
    "Model:",
    "Type III Analysis of Variance Table with Satterthwaite's method",
    "Linear mixed-effects model fit by REML",
    " Formula: ~1 | g",
    "StdDev:",
    "Value Std.Error DF t-value p-value",
    "Number of Groups:",
    "Number of Observations: 5",
    "g = pdLogChol(1)",
    "Variance StdDev",
    "numDF denDF F-value p-value",
    "Model df AIC BIC logLik Test L.Ratio p-value",
    "1 vs 2",
    "%in%",
    "Solution for Fixed Effects",
    "Covariance Parameter Estimates",
    "Cov Parm Subject Estimate Standard Error Z Value Pr > Z",
    "Effect sex Estimate Standard Error DF t Value Pr > |t|",
    "Fit Statistics",
    "-2 Res Log Likelihood",
    "Dimensions",
    "Subjects",
    "Model Information",
    "Estimation Method REML",
    "Class Level Information",
    "Class Levels Values",
    "Type 3 Tests of Fixed Effects",
    "Num DF",
    "UN(2,1)",
    "UN(1,1)",
    "Intercept",
    "The SAS System",
    "Null Model Likelihood Ratio Test",
    "Response Distribution Binomial",
    "Link Function Logit",
    "Estimation Technique Residual PL",
    "Likelihood Approximation Laplace",
    "-2 Res Log Pseudo-Likelihood 1116.14",
    "Gener. Chi-Square / DF 0.88",
    "Convergence criterion (PCONV=1.11022E-8) satisfied.",
    "Correlation Structure: AR(1)",
    "Variance function:",
    " Parameter estimate(s):",
    " Structure: Different standard deviations per stratum",
    "ddfm=kr",
    "proc mixed method=ml;",
    "Final estimation of fixed effects",
    "(with robust standard errors)",
    "For INTRCPT1, β0",
    "INTRCPT2, γ00",
    "URBAN slope, u1",
    "level-1, r",
    "Final estimation of variance components",
    "χ2",
    "Deviance = 12.5",
    "Random level-1 coefficient   Reliability estimate",
    "Method of estimation: restricted maximum likelihood",
    "The maximum number of level-2 units = 12",
    "Run-time deletion has reduced the number of level-1 records to 3",
    "σ2 = 4",
    "Module: HLM2.EXE",
    "Statistics for current covariance components model",
    "0",
    "1",
    "-1.5",
    "4.060e+01",
    "1e999",
    "-Inf",
    "Inf",
    "NaN",
    "0.000",
    ">.500",
    "6 ***",
    ")",
    "(",
    ",",
    ":",
    "\t",
    " ",
    "  ",
    "\u00a0",
    "\u2212",
    "## ",
    "#> ",
    "\r",
    "\f",
    "\u200b",
    "é",
    "γ",
]

pieces = st.one_of(st.sampled_from(VOCAB), st.text(max_size=8))
lines = st.lists(pieces, max_size=8).map(lambda ws: " ".join(ws))
texts_ = st.lists(lines, max_size=30).map("\n".join)


def _check(text: str, software: str) -> None:
    try:
        out = parse_printout(text, software)
    except ReferenceError_:
        pass
    else:
        assert isinstance(out, ParsedPrintout)
        for ln, raw, reason in out.unparsed:
            assert isinstance(ln, int) and isinstance(raw, str) and reason
    parts = split_printouts(text, software)
    assert parts and parts[0].first_line == 1
    assert all(a.last_line + 1 == b.first_line for a, b in pairwise(parts))
    try:
        parse_printouts(text, software)
    except ReferenceError_:
        pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts_, software=st.sampled_from(SOFTWARE))
def test_random_text_raises_only_reference_errors(text: str, software: str) -> None:
    _check(text, software)
    guess_software(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=400), software=st.sampled_from(SOFTWARE))
def test_arbitrary_unicode_raises_only_reference_errors(text: str, software: str) -> None:
    _check(text, software)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), software=st.sampled_from(SOFTWARE))
def test_damaged_printouts_raise_only_reference_errors(data: st.DataObject, software: str) -> None:
    """Seed printouts with lines dropped, duplicated, swapped or spliced with random text."""
    base = data.draw(st.sampled_from(FIXTURES)).split("\n")
    ops = data.draw(
        st.lists(
            st.tuples(
                st.sampled_from(["drop", "dup", "swap", "insert", "cut"]), st.integers(0, max(len(base) - 1, 0)), lines
            ),
            max_size=6,
        )
    )
    for op, i, extra in ops:
        if not base:
            break
        i %= len(base)
        if op == "drop":
            del base[i]
        elif op == "dup":
            base.insert(i, base[i])
        elif op == "swap" and i + 1 < len(base):
            base[i], base[i + 1] = base[i + 1], base[i]
        elif op == "insert":
            base.insert(i, extra)
        elif op == "cut":
            base[i] = base[i][: len(base[i]) // 2]
    _check("\n".join(base), software)


def test_a_non_finite_class_level_count_ends_the_table_not_the_run() -> None:
    """Found by damaging the SAS listings: 'inf' or 1e400 as a CLASS variable's level count raised OverflowError."""
    for count in ("inf", "1e400", "nan"):
        parsed = parse_printout(f"Class Level Information\nClass Levels Values\nSex {count} F M\n", "sas")
        assert "class_levels" not in parsed.model_info or not parsed.model_info["class_levels"].get("Sex")

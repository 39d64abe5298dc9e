"""The engine's numbers for a block's printed tests: lmerTest's ranova (dropping a random term),
summary.lm's overall F, and likelihood-ratio tests against another model of the case (fitted by the
run's engine), including a test the program refused."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from ..build import prepare_other
from ..case import Case
from ..design import Design
from ..engine import fit_design
from ..inference import Inference
from ..inference.lrt import lrt
from ..inference.summaries import overall_f
from ..inference.vartests import ranova
from ..printed import Printed
from ..results import FitResult
from .value import VALUE_ERRORS, Collector, Lazy

Refit = Callable[[Design, str], FitResult]


def norm_term(text: str) -> str:
    """A random term's label with all white space removed, for matching ranova's rows."""
    return re.sub(r"\s+", "", text)


def _ranova_table(fit: FitResult, design: Design) -> pd.DataFrame:
    tab = ranova(fit, design)
    tab.index = [norm_term(str(i)) for i in tab.index]
    return tab


def refusal(test: Mapping[str, Any], lazy: Lazy, software: str) -> tuple[float, str]:
    """Whether the engine refuses a test the program refused (1 or 0), and both messages in words.

    The note carries the program's message, the engine's own and its hint (for models
    fitted to different rows: refit them on the common sample), so that ``replicate show``
    and the reports say what a user should do, not only that both refused.
    """
    expected = str(test["expect_error"])
    try:
        lazy.get()
    except VALUE_ERRORS as exc:
        message = getattr(exc, "message", str(exc))
        hint = getattr(exc, "hint", None)
        matched = expected.lower() in str(exc).lower()
        engine_said = f"the engine refuses too: {message}" if matched else f"the engine refuses otherwise: {message}"
        return (
            1.0 if matched else 0.0,
            f'{software} refused: "{expected}"; {engine_said}' + (f"; hint: {hint}" if hint else ""),
        )
    return 0.0, f'{software} refused: "{expected}"; the engine computed the test instead'


def lrt_for(case: Case, fit: FitResult, design: Design, test: Mapping[str, Any], fitter: Refit | None) -> pd.DataFrame:
    """lme4's anova of the case's model against ``test["compare_with"]`` on the same data, the other
    model fitted by ``fitter`` (the run's engine; native by default)."""
    fit_with = fitter or fit_design
    other = prepare_other(case, str(test["compare_with"]))
    other_fit = fit_with(other, fit.method)
    return lrt(fit, other_fit, design, other, refit=bool(test.get("refit", True)), fitter=fit_with)


def _chisq_values(
    out: Collector, name: str, q: Mapping[str, Any], columns: tuple[str, str, str], value_of: Any, note: str
) -> None:
    """A printed chi-square test's statistic, df and p, each read from the engine's table column."""
    for key, col in zip(("statistic", "df", "p"), columns):
        if key in q:
            quantity = key if key != "statistic" else "chisq"
            out.add("tests", name, quantity, q[key], lambda col=col: value_of(col), ("tests", name, key), note=note)


def tests_values(out: Collector, case: Case, inf: Inference, fitter: Refit | None) -> None:
    """Every printed test of the block's ``tests`` section the engine has a model for."""
    fit, design = inf.fit, inf.design
    ranova_tab = Lazy(lambda: _ranova_table(fit, design))
    for name, q in out.block.section("tests").items():
        if "drop" in q:
            term = norm_term(str(q["drop"]))
            _chisq_values(
                out,
                name,
                q,
                ("LRT", "Df", "Pr(>Chisq)"),
                lambda col, term=term: float(ranova_tab.get().loc[term, col]),
                f"ranova: dropping {q['drop']}",
            )
        elif q.get("model_f"):
            lazy_f = Lazy(lambda: overall_f(fit, design))
            for key in ("statistic", "df", "ddf", "p"):
                if key in q:
                    out.add(
                        "tests",
                        name,
                        key if key != "statistic" else "F",
                        q[key],
                        lambda key=key, lazy_f=lazy_f: lazy_f.get()[key],
                        ("tests", name, key),
                        note="summary.lm's F test against the intercept-only model",
                    )
        elif "compare_with" in q:  # else a printed test the engine has no model for: consistency only
            _lrt_values(out, case, inf, name, q, fitter)


def _lrt_values(
    out: Collector, case: Case, inf: Inference, name: str, q: Mapping[str, Any], fitter: Refit | None
) -> None:
    lazy = Lazy(lambda: lrt_for(case, inf.fit, inf.design, q, fitter))
    if "expect_error" in q:
        refused, why = refusal(q, lazy, out.block.software)
        out.add("tests", name, "refused", Printed(1.0, "1"), refused, ("tests", name), note=why)
        return
    _chisq_values(
        out,
        name,
        q,
        ("Chisq", "Df", "Pr(>Chisq)"),
        lambda col: float(lazy.get()[col].iloc[-1]),
        f"likelihood-ratio test against {q['compare_with']}",
    )

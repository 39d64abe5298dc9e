"""The engine's numbers for a reference block, under the block's definitions.

A reference block names its REML/ML choice, df method and SE kind in
``options``; this module computes the engine's value of every quantity the
block prints, under those definitions, and compares them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .block_names import component_columns, mapped
from .build import prepare_other
from .case import Case
from .compare import DISCREPANCY, EXPLAINED, QUANTITY_KIND, ValueComparison, compare_value, resolve_tolerance
from .design import Design
from .dfexplain import df_sentence
from .engine import fit_design
from .errors import CaseError, NotImplementedOption, ReplicateError
from .hlm_entry import block_spec
from .inference import KR_VARIANTS, Inference, kr_settings
from .inference.covparms import covariance_parameters
from .inference.dfrules import hlm_df
from .inference.fitstats import convention_of, fit_statistics, statistic
from .inference.lrt import lrt
from .inference.summaries import overall_f, r_squared, residual_quantiles
from .inference.vartests import hlm_variance_tests, icc, ranova, reliability
from .printed import Printed
from .results import FitResult
from .varcorr_values import varcorr_value


@dataclass
class _Lazy:
    """Compute once, remember the value or the error."""

    fn: Callable[[], Any]
    done: bool = False
    value: Any = None
    error: Exception | None = None

    def get(self) -> Any:
        if not self.done:
            self.done = True
            try:
                self.value = self.fn()
            except ReplicateError as exc:
                self.error = exc
            except (ValueError, np.linalg.LinAlgError, ArithmeticError) as exc:
                self.error = exc
        if self.error is not None:
            raise self.error
        return self.value


def check_block_names(case: Case, i: int, design: Design) -> None:
    """Every term and group a block names must exist in the model.

    Raises:
        CaseError: naming the block, the value and the names the model has.
    """
    block = case.expected[i]
    values = block["values"]
    check_block_weight(case, i)
    fixed_names = list(design.fixed_names)
    for term in values.get("fixed") or {}:
        eng = mapped(block, term)
        if eng not in fixed_names:
            raise case.error(
                CaseError,
                f"reference block {case.block_label(i)!r} names fixed effect {term!r}, which the model does not have",
                "expected",
                i,
                "values",
                "fixed",
                term,
                hint=f"the model's fixed effects are {fixed_names}; add a 'names:' entry if the program "
                "printed another name",
            )
    for pair in values.get("fixed_corr") or {}:
        for term in _corr_pair(pair):
            if mapped(block, term) not in fixed_names:
                raise case.error(
                    CaseError,
                    f"reference block {case.block_label(i)!r} names fixed effect {term!r} in the "
                    f"correlation {pair!r}, which the model does not have",
                    "expected",
                    i,
                    "values",
                    "fixed_corr",
                    pair,
                    hint=f"the model's fixed effects are {fixed_names}; write the pair as 'a, b'",
                )
    groups: dict[str, set[str]] = {}
    for t in design.reterms:  # (x || g) makes several terms on one grouping factor
        groups.setdefault(t.group, set()).update(t.columns)
    for grp in (values.get("fit") or {}).get("ngroups") or {}:
        if mapped(block, grp) not in groups:
            raise case.error(
                CaseError,
                f"reference block {case.block_label(i)!r} counts groups of {grp!r}, which the model does not have",
                "expected",
                i,
                "values",
                "fit",
                "ngroups",
                grp,
                hint=f"the model's grouping factors are {sorted(groups)}",
            )
    for grp, comps in (values.get("random") or {}).items():
        if grp == "Residual":
            continue
        eng_grp = mapped(block, grp)
        if eng_grp not in groups:
            raise case.error(
                CaseError,
                f"reference block {case.block_label(i)!r} names random-effect group {grp!r}, "
                "which the model does not have",
                "expected",
                i,
                "values",
                "random",
                grp,
                hint=f"the model's groups are {sorted(groups)}",
            )
        for comp in comps:
            for eng_col in component_columns(block, str(comp)):
                if eng_col not in groups[eng_grp]:
                    raise case.error(
                        CaseError,
                        f"reference block {case.block_label(i)!r}: group {grp!r} has no "
                        f"random-effect column {eng_col!r}",
                        "expected",
                        i,
                        "values",
                        "random",
                        grp,
                        comp,
                        hint=f"columns of {eng_grp}: {sorted(groups[eng_grp])}",
                    )


def _corr_pair(pair: str) -> list[str]:
    """``"ses, (Intercept)"`` -> the two fixed-effect names of a printed correlation."""
    parts = [t.strip() for t in str(pair).split(",")]
    return parts if len(parts) == 2 and all(parts) else [str(pair)]


def check_block_weight(case: Case, i: int) -> None:
    """A block's ``options.weight`` (SAS's WEIGHT statement, lme4's ``weights =``) must name the
    model's weights column: SAS's WEIGHT scales the residual variance of each row to sigma^2 / w,
    as lme4's prior weights do, so the two are comparable only when they use the same column.

    Raises:
        CaseError: the block names a weight the model does not use.
    """
    block = case.expected[i]
    weight = (block.get("options") or {}).get("weight")
    model_weights = case.model.get("weights")
    if weight is not None and weight != model_weights:
        raise case.error(
            CaseError,
            f"reference block {case.block_label(i)!r} was fitted with weight {weight!r}, but the "
            + (f"model's weights are {model_weights!r}" if model_weights else "model has no weights"),
            "expected",
            i,
            "options",
            "weight",
            hint=f"set model.weights: {weight} (SAS's WEIGHT statement scales the residual variance like "
            "lme4's weights), or remove options.weight",
        )


def _block_df(case: Case, i: int, inf: Inference, method: str, kr: tuple[str, str]) -> pd.Series:
    """df under ``method``; HLM's rule follows the block's own level of entry when it declares a model."""
    if method == "hlm":
        spec = block_spec(case, i)
        if spec is not None:
            return hlm_df(inf.fit, inf.design, spec)
    return inf.df(method, kr=kr)


def compare_block(
    case: Case,
    i: int,
    fit: FitResult,
    design: Design,
    *,
    fitter: Callable[[Design, str], FitResult] | None = None,
    inference: Inference | None = None,
) -> list[ValueComparison]:
    """Compare every number of reference block ``i`` with the engine's fit.

    ``fitter`` fits the other models a block's tests need (a likelihood-ratio test's other model, ML
    refits): the run's engine, so nothing is fitted by another program than the one the run names.
    ``inference`` is the fit's :class:`~replicate.inference.Inference`, shared by the blocks of one fit (the
    runner makes one per fit); without it the block makes its own.
    """
    inf = inference if inference is not None else Inference(fit, design, refit=fitter)
    block = case.expected[i]
    opts = block.get("options") or {}
    case_tol = case.raw.get("tolerance") or {}
    block_tol = block.get("tolerance") or {}
    values = block["values"]
    out: list[ValueComparison] = []

    def add(section: str, name: str, quantity: str, ref: Any, engine: Any, path: tuple, note: str = "") -> None:
        per_value: dict[str, Any] = {}
        if isinstance(ref, dict):
            per_value = ref
            ref = ref["value"]
        if not isinstance(ref, Printed):
            ref = Printed(float(ref), str(ref))
        kind = QUANTITY_KIND.get(quantity, "estimate")
        tol = resolve_tolerance(kind, case_tol.get(kind), block_tol.get(kind), per_value)
        eng_value: float | None
        try:
            eng_value = engine() if callable(engine) else engine
        except (ReplicateError, ValueError, np.linalg.LinAlgError) as exc:
            eng_value, note = None, str(exc)
        out.append(
            compare_value(
                section,
                name,
                quantity,
                ref,
                eng_value,
                tol,
                note=note,
                line=case.line_of("expected", i, "values", *path),
            )
        )

    df_method = opts.get("df")
    se_kind = opts.get("se", "model")
    kr = kr_settings(opts, block.get("software"))
    se_all = _Lazy(lambda: inf.se(_kr_checked(block, fit, se_kind), kr=kr))
    df_all = _Lazy(lambda: _block_df(case, i, inf, _kr_checked(block, fit, df_method), kr)) if df_method else None

    for term, qs in (values.get("fixed") or {}).items():
        eng = mapped(block, term)
        for q, ref in qs.items():
            path = ("fixed", term, q)
            if q == "estimate":
                add("fixed", term, q, ref, float(fit.fixed[eng]), path)
            elif q == "se":
                add("fixed", term, q, ref, lambda eng=eng: float(se_all.get()[eng]), path, note=f"SE: {se_kind}")
            elif q == "t":
                add("fixed", term, q, ref, lambda eng=eng: float(fit.fixed[eng] / se_all.get()[eng]), path)
            elif q in ("df", "p"):
                if df_all is None:
                    note = "the block does not declare options.df, so the df definition is unknown"
                    if q == "df":
                        note = df_sentence(fit, design, eng, ref, kr) or note
                    add("fixed", term, q, ref, None, path, note=note)
                    continue
                if q == "df":
                    add("fixed", term, q, ref, lambda eng=eng: float(df_all.get()[eng]), path, note=f"df: {df_method}")
                else:

                    def pval(eng: str = eng) -> float:
                        t = float(fit.fixed[eng] / se_all.get()[eng])
                        return float(2 * stats.t.sf(abs(t), float(df_all.get()[eng])))

                    add("fixed", term, q, ref, pval, path, note=f"p from t with df: {df_method}")
    for pair, ref in (values.get("fixed_corr") or {}).items():
        a, b = (mapped(block, t) for t in _corr_pair(pair))
        add(
            "fixed_corr",
            pair,
            "corr",
            ref,
            lambda a=a, b=b: float(fit.vcov.loc[a, b] / math.sqrt(fit.vcov.loc[a, a] * fit.vcov.loc[b, b])),
            ("fixed_corr", pair),
            note="correlation of fixed effects (model-based vcov)",
        )
    information = opts.get("information", "observed")
    covparms = _Lazy(lambda: _covparms_table(fit, design, information))
    hlm_tests = _Lazy(lambda: _hlm_table(fit, design))
    for grp, comps in (values.get("random") or {}).items():
        if grp == "Residual":
            for q, ref in comps.items():
                if q == "se":
                    add(
                        "random",
                        "Residual",
                        q,
                        ref,
                        lambda: covparms.get()[("Residual", None, None)],
                        ("random", grp, q),
                        note=f"asymptotic SE, {information} information",
                    )
                    continue
                v = {"variance": fit.sigma2, "sd": math.sqrt(fit.sigma2)}.get(q)
                add("random", "Residual", q, ref, v, ("random", grp, q))
            continue
        eng_grp = mapped(block, grp)
        for comp, qs in comps.items():
            cols = component_columns(block, comp)
            eng_comp = ", ".join(cols)
            for q, ref in qs.items():
                path = ("random", grp, comp, q)
                name = f"{grp} {comp}"
                if q == "se":
                    key = (eng_grp, cols[0], cols[1] if len(cols) > 1 else None)
                    add(
                        "random",
                        name,
                        q,
                        ref,
                        lambda key=key: covparms.get()[key],
                        path,
                        note=f"asymptotic SE, {information} information",
                    )
                elif q in ("chisq", "df", "p", "reliability"):
                    key2 = (eng_grp, cols[0])
                    add(
                        "random",
                        name,
                        q,
                        ref,
                        lambda key2=key2, q=q: hlm_tests.get()[key2][q],
                        path,
                        note="HLM's variance-component test" if q != "reliability" else "HLM's reliability",
                    )
                else:
                    add("random", name, q, ref, varcorr_value(fit, eng_grp, eng_comp, q), path)
    ranova_tab = _Lazy(lambda: _ranova_table(fit, design))
    for name, q in (values.get("tests") or {}).items():
        if "drop" in q:
            term = _norm_term(str(q["drop"]))
            for key, col in (("statistic", "LRT"), ("df", "Df"), ("p", "Pr(>Chisq)")):
                if key in q:
                    add(
                        "tests",
                        name,
                        key if key != "statistic" else "chisq",
                        q[key],
                        lambda col=col, term=term: float(ranova_tab.get().loc[term, col]),
                        ("tests", name, key),
                        note=f"ranova: dropping {q['drop']}",
                    )
            continue
        if q.get("model_f"):
            lazy_f = _Lazy(lambda: overall_f(fit, design))
            for key in ("statistic", "df", "ddf", "p"):
                if key in q:
                    add(
                        "tests",
                        name,
                        key if key != "statistic" else "F",
                        q[key],
                        lambda key=key, lazy_f=lazy_f: lazy_f.get()[key],
                        ("tests", name, key),
                        note="summary.lm's F test against the intercept-only model",
                    )
            continue
        if "compare_with" not in q:
            continue  # a printed test the engine has no model for: checked for consistency only
        lazy = _Lazy(lambda q=q: _lrt_for(case, fit, design, q, fitter))
        path = ("tests", name)
        if "expect_error" in q:
            refused, why = refusal(q, lazy, str(block.get("software", "the program")))
            add("tests", name, "refused", Printed(1.0, "1"), refused, path, note=why)
            continue
        for key, col in (("statistic", "Chisq"), ("df", "Df"), ("p", "Pr(>Chisq)")):
            if key in q:
                add(
                    "tests",
                    name,
                    key if key != "statistic" else "chisq",
                    q[key],
                    lambda col=col, lazy=lazy: float(lazy.get()[col].iloc[-1]),
                    path + (key,),
                    note=f"likelihood-ratio test against {q['compare_with']}",
                )
    fitv = values.get("fit") or {}
    convention = convention_of(block.get("software"))
    fstats = _Lazy(lambda: fit_statistics(fit, design, convention, method=block_method(case, i)))
    stat_notes = {
        "sas": {
            "aic": "SAS: -2 log L + 2d, d = covariance parameters (+ fixed effects under ML)",
            "aicc": "SAS: -2 log L + 2d n*/(n* - d - 1), n* = n - p under REML",
            "bic": "SAS: -2 log L + d log(subjects)",
            "npar": "SAS/HLM count: covariance parameters (+ fixed effects under ML)",
        },
        "hlm": {"npar": "HLM's number of estimated parameters: covariance parameters (+ fixed effects under ML)"},
    }.get(convention, {})
    for q, ref in fitv.items():
        if q == "ngroups":
            for g, n in ref.items():
                eng = fit.ngroups.get(mapped(block, g))
                add("fit", f"groups {g}", "ngroups", n, eng, ("fit", "ngroups", g))
            continue
        if q == "nobs":
            add("fit", "nobs", "nobs", ref, fit.nobs, ("fit", q))
            continue
        if q in ("r2", "adj_r2"):
            add(
                "fit",
                q,
                q,
                ref,
                lambda q=q: r_squared(fit, design)[q == "adj_r2"],
                ("fit", q),
                note="summary.lm's " + ("adjusted R-squared" if q == "adj_r2" else "R-squared"),
            )
            continue
        if q in ("residuals", "scaled_residuals"):
            rq = _Lazy(lambda q=q: residual_quantiles(fit, design, scaled=q == "scaled_residuals"))
            for k, r in ref.items():
                add(
                    "fit",
                    f"{q} {k}",
                    "residual",
                    r,
                    lambda k=k, rq=rq: rq.get()[k],
                    ("fit", q, k),
                    note="lmer's scaled (Pearson / sigma) residuals" if q == "scaled_residuals" else "lm's residuals",
                )
            continue
        if q == "icc":
            if isinstance(ref, dict) and "value" not in ref:  # group -> ICC (several grouping factors)
                for g, r in ref.items():
                    add("fit", f"icc {g}", "corr", r, lambda g=g: icc(fit, mapped(block, g)), ("fit", q, g))
            else:
                add("fit", "icc", "corr", ref, lambda: icc(fit), ("fit", q))
            continue
        if q == "sigma":
            add("fit", q, q, ref, math.sqrt(fit.sigma2), ("fit", q))
            continue
        note = stat_notes.get(q, "")
        if q == "reml_criterion" and fit.method != "REML":
            note = "REML criterion of an ML fit"
        if q == "npar":
            add(
                "fit",
                "npar",
                "nobs",
                ref,
                lambda: statistic(fstats.get(), "npar"),
                ("fit", q),
                note=note or "parameters counted by AIC/BIC",
            )
            continue
        add("fit", q, q, ref, lambda q=q: statistic(fstats.get(), q), ("fit", q), note=note)
    return apply_declared_differences(block, out, case=case, i=i)


def value_keys(v: ValueComparison) -> set[str]:
    """The spellings a case may use to name a compared value in ``differences``."""
    return {f"{v.section}.{v.name}.{v.quantity}", f"{v.section}.{v.name.replace(' ', '.')}.{v.quantity}"}


def apply_declared_differences(
    block: dict[str, Any], values: list[ValueComparison], *, case: Case | None = None, i: int = 0
) -> list[ValueComparison]:
    """Discrepancies the block declares as definition differences become ``explained``.

    Raises:
        CaseError: a declared difference names no value of the block (a typo would otherwise
            silently declare nothing).
    """
    entries = list(block.get("differences") or [])
    declared = {str(d["value"]): str(d["reason"]) for d in entries}
    if not declared:
        return values
    known = set().union(*(value_keys(v) for v in values))
    for k, d in enumerate(entries):
        if str(d["value"]) not in known:
            msg = f"differences names {str(d['value'])!r}, which is not a value of this block"
            hint = "name a compared value as section.name.quantity, e.g. " + ", ".join(sorted(known)[:3])
            if case is not None:
                raise case.error(CaseError, msg, "expected", i, "differences", k, "value", hint=hint)
            raise CaseError(msg, hint=hint)
    from dataclasses import replace

    out = []
    for v in values:
        hit = next((declared[k] for k in value_keys(v) if k in declared), None)
        if hit is not None and v.verdict == DISCREPANCY:
            v = replace(v, verdict=EXPLAINED, note=f"declared difference: {hit}")
        out.append(v)
    return out


def _covparms_table(fit: FitResult, design: Design, information: str) -> dict[tuple, float]:

    tab = covariance_parameters(fit, design, information=information)
    out: dict[tuple, float] = {}
    for _, r in tab.iterrows():
        v1 = None if not isinstance(r["var1"], str) else r["var1"]
        v2 = None if not isinstance(r["var2"], str) else r["var2"]
        out[(str(r["group"]), v1, v2)] = float(r["se"])
        if v2 is not None:
            out[(str(r["group"]), v2, v1)] = float(r["se"])
    return out


def _hlm_table(fit: FitResult, design: Design) -> dict[tuple, dict[str, float]]:

    tab = hlm_variance_tests(fit, design)
    rel = reliability(fit, design)
    out: dict[tuple, dict[str, float]] = {}
    for _, r in tab.iterrows():
        out[(str(r["group"]), str(r["coefficient"]))] = {
            "chisq": float(r["chisq"]),
            "df": float(r["df"]),
            "p": float(r["p"]),
            "reliability": float(rel.get(r["coefficient"], float("nan"))),
        }
    return out


def _norm_term(text: str) -> str:
    """A random term's label with all white space removed, for matching ranova's rows."""
    return re.sub(r"\s+", "", text)


def _ranova_table(fit: FitResult, design: Design) -> pd.DataFrame:

    tab = ranova(fit, design)
    tab.index = [_norm_term(str(i)) for i in tab.index]
    return tab


def refusal(test: dict[str, Any], lazy: _Lazy, software: str) -> tuple[float, str]:
    """Whether the engine refuses a test the program refused (1 or 0), and both messages in words.

    The note carries the program's message, the engine's own and its hint (for models
    fitted to different rows: refit them on the common sample), so that ``replicate show``
    and the reports say what a user should do, not only that both refused.
    """
    expected = str(test["expect_error"])
    try:
        lazy.get()
    except (ReplicateError, ValueError, np.linalg.LinAlgError, ArithmeticError) as exc:
        message = getattr(exc, "message", str(exc))
        hint = getattr(exc, "hint", None)
        matched = expected.lower() in str(exc).lower()
        engine_said = f"the engine refuses too: {message}" if matched else f"the engine refuses otherwise: {message}"
        return (
            1.0 if matched else 0.0,
            f'{software} refused: "{expected}"; {engine_said}' + (f"; hint: {hint}" if hint else ""),
        )
    return 0.0, f'{software} refused: "{expected}"; the engine computed the test instead'


def _lrt_for(
    case: Case,
    fit: FitResult,
    design: Design,
    test: dict[str, Any],
    fitter: Callable[[Design, str], FitResult] | None = None,
) -> pd.DataFrame:
    """lme4's anova of the case's model against ``test["compare_with"]`` on the same data, the other
    model fitted by ``fitter`` (the run's engine; native by default)."""

    fit_with = fitter or fit_design
    other = prepare_other(case, str(test["compare_with"]))
    other_fit = fit_with(other, fit.method)
    return lrt(fit, other_fit, design, other, refit=bool(test.get("refit", True)), fitter=fit_with)


def _kr_checked(block: dict[str, Any], fit: FitResult, method: str) -> str:
    """``method``, unless it is Kenward-Roger on an ML fit for SAS, which is not implemented:
    pbkrtest refits by REML (what is computed here), SAS works with the ML estimates."""

    if method in KR_VARIANTS and str(fit.method).upper() == "ML" and convention_of(block.get("software")) == "sas":
        raise NotImplementedOption(
            "SAS's Kenward-Roger on an ML fit (method=ml ddfm=kr) uses the ML estimates; only pbkrtest's "
            "form (a REML refit) is implemented",
            hint="compare a REML fit, or a pbkrtest block",
        )
    return method


def block_method(case: Case, i: int) -> str:
    opts = case.expected[i].get("options") or {}
    return str(opts.get("method", case.method))


def fixed_table(fit: FitResult) -> pd.DataFrame:
    return pd.DataFrame({"estimate": fit.fixed, "se": fit.se})

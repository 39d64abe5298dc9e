"""What a printout says about its model: the formula, the method and the options of a new case.

`replicate new` writes a case from a printout. lme4, lmerTest and nlme print their formula; SAS prints the
dependent variable, the fixed effects and the covariance parameters by subject, from which the lme4 formula
is rebuilt; HLM prints its level equations' coefficients, from which the mixed formula is rebuilt given the
level-2 grouping variable (HLM never prints its name). Printed names are matched to the data's columns
without regard to case, as SAS and HLM treat them. Whatever cannot be read is returned as a to-do line for
the user, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .references.lme4_glmm import failed_to_converge, glmm_model
from .references.names import nlme_group_to_lme4
from .references.printout import ParsedPrintout
from .vocab import DfMethod, SeKind

RESIDUAL = "Residual"

# SAS's "Degrees of Freedom Method" -> the case format's df method
SAS_DDFM = {
    "containment": DfMethod.CONTAINMENT,
    "between-within": DfMethod.BETWEEN_WITHIN,
    "residual": DfMethod.RESIDUAL,
    "satterthwaite": DfMethod.SATTERTHWAITE,
    "kenward-roger": DfMethod.KENWARD_ROGER,
    "kenward-roger2": DfMethod.KENWARD_ROGER_2,
    "kr": DfMethod.KENWARD_ROGER,
    "kr2": DfMethod.KENWARD_ROGER_2,
    "bw": DfMethod.BETWEEN_WITHIN,
    "none": DfMethod.NONE,
}


@dataclass
class Inferred:
    """A model read off a printout: the formula (None when it cannot be rebuilt), method, options, to-dos."""

    formula: str | None
    method: str | None
    options: dict[str, Any] = field(default_factory=dict)
    glmm: dict[str, Any] = field(default_factory=dict)  # glmer's family, link, nagq (model.method is ``method``)
    contrasts: str | None = None  # "sas" when the printout shows CLASS effects (SAS's GLM coding)
    todo: list[str] = field(default_factory=list)
    residual: dict[str, str] | None = None  # model.residual of a REPEATED model (SAS's Model Information)
    block_method: str | None = None  # a GLMM block's own method (GLIMMIX's rspl, mspl, rmpl, mmpl) beside the model's


def _column(printed: str, columns: Iterable[str]) -> str | None:
    """The data column a printed name stands for (exact, else ignoring case), or None."""
    cols = list(columns)
    if printed in cols:
        return printed
    low = [c for c in cols if c.lower() == printed.lower()]
    return low[0] if len(low) == 1 else None


def _named(printed: str, columns: Iterable[str], todo: list[str], what: str) -> str:
    col = _column(printed, columns)
    if col is None:
        todo.append(f"{what} {printed!r} is not a column of the data: fix the formula by hand")
        return printed
    return col


def _sas_term(name: str, columns: list[str], todo: list[str]) -> str:
    parts = [p.strip() for p in re.split(r"[*]", name) if p.strip()]
    return ":".join(_named(p, columns, todo, "SAS effect") for p in parts)


def _random_part(cols: list[str], group: str) -> str:
    slopes = [c for c in cols if c != "1"]
    lhs = " + ".join((["1"] if "1" in cols else ["0"]) + slopes)
    return f"({lhs} | {group})"


def _from_sas(parsed: ParsedPrintout, columns: list[str], out: Inferred) -> None:
    info: Mapping[str, str] = parsed.model_info.get("sas_model_information", {})
    dep = info.get("Dependent Variable") or info.get("Response Variable")
    effects: Mapping[str, Mapping[str, Any]] = parsed.model_info.get("sas_effects", {})
    terms: list[str] = []
    for key in parsed.values.get("fixed", {}):
        name = str(effects[key]["effect"]) if key in effects else key
        if name.lower() == "intercept":
            continue
        term = _sas_term(name, columns, out.todo)
        if term not in terms:
            terms.append(term)
    if effects:
        out.contrasts = "sas"  # SAS's GLM coding of CLASS effects: the last level is the reference
    for name in sorted({str(v) for e in effects.values() for v in (e.get("levels") or {})}):
        out.todo.append(
            f"{name} is a CLASS effect in SAS: the case uses SAS's coding (model.contrasts: sas, the last level "
            "as reference); check its level order (data.levels) against the printout's"
        )
    randoms: list[str] = []
    positional = False
    for grp, comps in parsed.values.get("random", {}).items():
        if grp == RESIDUAL:
            continue
        cols: list[str] = []
        if any(comp.startswith("UN(") for comp in comps):
            positional = True
            out.todo.append(
                f"random effects of {grp}: SAS names TYPE=UN parameters by position (UN(1,1), UN(2,1), ...), so "
                "the random effects cannot be read off the printout: pass --formula with them in the RANDOM "
                "statement's order"
            )
            continue
        for comp in comps:
            for piece in (p.strip() for p in comp.split(",")):
                col = "1" if piece.lower() == "intercept" else _named(piece, columns, out.todo, "random effect")
                if col not in cols:
                    cols.append(col)
        group = _named(grp, columns, out.todo, "SAS subject")
        randoms.append(_random_part(cols or ["1"], group))
    rhs = " + ".join(terms + randoms) or "1"
    if positional:
        return
    if dep is None:
        out.todo.append(f"the printout does not name the dependent variable: pass --formula 'y ~ {rhs}'")
        return
    out.formula = f"{_named(dep, columns, out.todo, 'dependent variable')} ~ {rhs}"


def _hlm_var(label: str) -> str:
    return label[: -len(" slope")].strip() if label.lower().endswith(" slope") else label.strip()


def _from_hlm(parsed: ParsedPrintout, columns: list[str], group: str | None, out: Inferred) -> None:
    terms: list[str] = []
    for key, info in parsed.model_info.get("hlm_fixed_terms", {}).items():
        eq, pred = info.get("equation"), info.get("predictor")
        if eq is None or pred is None:
            out.todo.append(f"HLM row {key!r} has no equation above it: write its term by hand")
            continue
        lvl1 = None if eq.upper() == "INTRCPT1" else _named(_hlm_var(eq), columns, out.todo, "HLM level-1 variable")
        lvl2 = None if pred.upper() == "INTRCPT2" else _named(pred, columns, out.todo, "HLM level-2 variable")
        term = ":".join(t for t in (lvl1, lvl2) if t)
        if term and term not in terms:
            terms.append(term)
    cols: list[str] = []
    for comp in parsed.values.get("random", {}).get("level-2", {}):
        if "," in comp:
            continue
        cols.append("1" if comp.upper() == "INTRCPT1" else _named(_hlm_var(comp), columns, out.todo, "HLM variable"))
    if group is None:
        out.todo.append("HLM prints no name for the level-2 grouping variable: pass --group")
        return
    rhs = " + ".join([*terms, _random_part(cols or ["1"], group)])
    out.todo.append(f"HLM does not print the outcome's name in its tables: pass --formula '<outcome> ~ {rhs}'")


def _options(parsed: ParsedPrintout, out: Inferred) -> None:
    info = parsed.model_info
    sw = parsed.software
    if failed_to_converge(info) is not None:
        out.options["converged"] = False  # the printed numbers are not at an optimum
    if out.glmm and sw != "sas":  # glmer: maximum likelihood and Wald z tests, which a GLMM block takes without options
        return
    if sw in ("lme4", "lmerTest"):
        out.options["df"] = str(info.get("df") or DfMethod.NONE)
        out.options["se"] = SeKind.MODEL
    elif sw == "nlme":
        out.options["df"] = DfMethod.NLME
        out.options["se"] = SeKind.MODEL
    elif sw == "sas":
        ddfm = str(info.get("df_method") or info.get("ddfm") or "containment").strip().lower().replace(" ", "-")
        method = SAS_DDFM.get(ddfm)
        if method is None:
            out.todo.append(f"SAS's df method {ddfm!r} has no name in the case format yet: set options.df by hand")
        else:
            out.options["df"] = method
        se = str(info.get("se_method") or "").lower()
        kr = method in (DfMethod.KENWARD_ROGER, DfMethod.KENWARD_ROGER_2) or "kackar" in se or "kenward" in se
        out.options["se"] = SeKind(method) if kr and method is not None else SeKind.MODEL
        if not out.glmm:
            out.options["information"] = "observed"
        if info.get("converged") is False:
            out.options["converged"] = False
    elif sw == "hlm":
        out.options["df"] = DfMethod.HLM
        out.options["se"] = SeKind.CR0 if info.get("se") == "robust" else SeKind.MODEL
    if out.glmm:  # a GLMM block names only its own method when it is not the model's
        if out.block_method:
            out.options["method"] = out.block_method
    elif out.method:
        out.options["method"] = out.method


def with_lme_random(formula: str, random: Mapping[str, str] | None) -> str:
    """An lme printout's fixed formula with its random part in lme4's notation: ``Formula: ~age | Subject`` ->
    ``(age | Subject)`` (both with an intercept), ``class %in% school`` -> ``class:school``."""
    if not random or "|" in formula:
        return formula
    terms = []
    for group, text in random.items():
        lhs = str(text).split("|")[0].strip().lstrip("~").strip() or "1"
        terms.append(f"({lhs} | {nlme_group_to_lme4(group)})")
    return " + ".join([formula, *terms])


def infer_model(
    parsed: ParsedPrintout,
    columns: Iterable[str],
    *,
    formula: str | None = None,
    group: str | None = None,
    repeated: str | None = None,
) -> Inferred:
    """The formula, method and options a printout states or implies, and what the user must still supply."""
    cols = [str(c) for c in columns]
    method = parsed.model_info.get("method")
    out = Inferred(formula=None, method=str(method) if method else None)
    out.glmm = {k: v for k, v in glmm_model(parsed.model_info).items() if k != "method"}
    if out.glmm and out.method not in (None, "laplace", "agq"):  # GLIMMIX's pseudo-likelihood: the block's method
        out.block_method, out.method = out.method, "laplace"
    if formula is not None:
        out.formula = formula
    elif parsed.model_info.get("formula"):
        out.formula = with_lme_random(str(parsed.model_info["formula"]), parsed.model_info.get("random_formulas"))
    elif parsed.software == "sas":
        _from_sas(parsed, cols, out)
    elif parsed.software == "hlm":
        _from_hlm(parsed, cols, group, out)
    else:
        out.todo.append(f"the {parsed.software} printout does not show its formula: pass --formula")
    if out.method is None and out.glmm:  # a GLMM whose estimation technique the case format does not name
        out.method = "laplace"
        out.todo.append(
            "the printout's estimation technique is not one the case format names: the model is fitted by laplace; "
            "set the block's options.method (laplace, agq with nagq, pql, rspl, mspl, rmpl or mmpl) to the program's"
        )
    elif out.method is None:
        out.todo.append("the printout does not say REML or ML: the case assumes REML (set model.method)")
    elif out.method == "agq" and "nagq" not in out.glmm:
        out.todo.append(
            "adaptive quadrature without its number of nodes: set model.nagq (GLIMMIX's quadrature points, its "
            "QPOINTS=; lme4's nAGQ)"
        )
    _options(parsed, out)
    _residual(parsed, cols, out, repeated)
    return out


def level_columns(parsed: ParsedPrintout, frame: Any, design: Any) -> list[str]:
    """Numeric data columns whose levels the printout names as fixed effects (glmer's ``period2`` where the data's
    ``period`` holds 1 .. 4): the program read them as factors, so the case must too. Only columns that explain a
    printed name the model (``design``, None when it could not be built) lacks."""
    known = set(design.fixed_names) if design is not None else set()
    out: list[str] = []
    for printed in parsed.values.get("fixed", {}):
        if printed in known:
            continue
        for part in str(printed).split(":"):
            for col in frame.columns:
                name = str(col)
                if col in out or not part.startswith(name) or part == name:
                    continue
                column = frame[col]
                if str(column.dtype).startswith(("int", "float")) and part[len(name) :] in _levels(column):
                    out.append(name)
    return out


def _levels(column: Any) -> set[str]:
    values = column.dropna().unique()
    return {str(int(v)) if float(v).is_integer() else str(v) for v in values}


def _residual(parsed: ParsedPrintout, columns: list[str], out: Inferred, repeated: str | None = None) -> None:
    """model.residual from a REPEATED model's Model Information (see references.sas_repeated); ``repeated``: the
    user's repeated effect where the listing names none (``replicate new --repeated``)."""
    printed: Mapping[str, str] = parsed.model_info.get("residual") or {}
    if not printed:
        nlme = {k: parsed.model_info[k] for k in ("nlme_correlation", "nlme_variance") if parsed.model_info.get(k)}
        if nlme:  # read, but with no SAS TYPE= the case can state: said, never dropped in silence
            out.todo.append(
                f"the printout's residual structure {nlme} has no model.residual the case format maps (README's "
                "table of structures): state it, or the case compares another model"
            )
        return
    if repeated and "repeated" not in printed:
        printed = {**printed, "repeated": repeated}
    res = {"type": printed["type"]}
    for key in ("repeated", "subject", "group"):
        if key in printed:
            res[key] = _named(printed[key], columns, out.todo, f"SAS {key} effect")
    if "repeated" not in res:
        out.todo.append("the printout names no repeated effect: set model.residual.repeated (the time column)")
    out.residual = res

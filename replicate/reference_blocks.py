"""Reference blocks computed by a live program: lme4/lmerTest, nlme, pbkrtest or clubSandwich in R.

:func:`make_reference_block` fits a case with a live R engine and returns a reference block in the
case format, every number at full precision, with the program's versions, the exact call and the
date; :func:`make_inference_block` does the same for pbkrtest's Kenward-Roger and clubSandwich's CR2.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .build import prepare, prepare_other
from .case import Case, load_case
from .engines import ENGINES, get_engine
from .engines.r.lme4 import Lme4Engine, anova_lrt, club_sandwich
from .engines.r.nlme import NlmeEngine
from .engines.r.session import r_versions
from .errors import CaseError, EngineUnavailable, FitError

SOURCE = "live run (replicate reference)"

#: Engine -> the ``software`` of the block it writes.
SOFTWARE = {"lme4": "lme4", "nlme": "nlme", "pbkrtest": "pbkrtest", "clubsandwich": "clubSandwich"}


def _get_engine(name: str) -> Any:
    """The engine by name: the registry first, then the live R engines here."""

    if name in ENGINES:
        return get_engine(name)
    if name == "lme4":
        eng: Any = Lme4Engine()
    elif name == "nlme":
        eng = NlmeEngine()
    else:
        raise EngineUnavailable(
            f"unknown engine {name!r} for reference blocks", field="--engine", hint="use lme4 or nlme"
        )
    ok, why = eng.available()
    if not ok:
        raise EngineUnavailable(f"engine {name!r} is not available: {why}", field="--engine")
    return eng


def default_label(engine_name: str) -> str:
    return f"{engine_name}-live"


def make_reference_block(
    case: Case | str | Path,
    engine_name: str = "lme4",
    *,
    engine: Any = None,
    label: str | None = None,
    compare_with: Sequence[str] = (),
    refit: bool = True,
) -> dict[str, Any]:
    """Fit ``case`` with a live engine and return its reference block.

    The block follows the case format: ``label`` (default ``<engine>-live``),
    ``software``, ``version``, ``call`` (the exact R call run), ``date``,
    ``options`` (method, df definition, SE kind), ``source`` and ``values``
    (fixed estimate/se/df/t/p, random variance/sd/corr, fit loglik,
    reml_criterion or deviance, aic, bic, nobs, ngroups). Numbers are Python
    floats at full precision (integers for counts).

    Raises:
        CaseError, DataError, ModelError: the case cannot be prepared.
        EngineUnavailable: the engine cannot run here.
        FitError: the fit failed or did not converge.
    """

    c = case if isinstance(case, Case) else load_case(case)
    if "unavailable" in c.data:
        raise CaseError(
            "the case's data is not public, so no live reference can be computed",
            file=str(c.path),
            line=c.line_of("data"),
            field="data.unavailable",
        )
    _, design, _ = prepare(c)
    eng = engine if engine is not None else _get_engine(engine_name)
    method = c.method
    fit = eng.fit(design, method)
    if not fit.converged:
        raise FitError(
            f"{eng.name} did not converge on this case, so it is no reference: " + "; ".join(fit.messages),
            file=str(c.path),
        )
    extra = fit.extra
    table = extra.get("coef_table")
    if "satterthwaite_df" in extra:
        df_method, dfs = "satterthwaite", extra["satterthwaite_df"]
        t_col, p_col = "t value", "Pr(>|t|)"
    elif "nlme_df" in extra:
        df_method, dfs = "nlme", extra["nlme_df"]
        t_col, p_col = "t-value", "p-value"
    else:
        df_method, dfs, t_col, p_col = None, None, "", ""

    fixed: dict[str, dict[str, Any]] = {}
    se = fit.se
    for name in fit.fixed.index:
        vals: dict[str, Any] = {"estimate": float(fit.fixed[name]), "se": float(se[name])}
        if dfs is not None and _finite(dfs[name]):
            vals["df"] = float(dfs[name])
        if table is not None and t_col in table.columns:
            vals["t"] = float(table.loc[name, t_col])
        else:
            vals["t"] = float(fit.fixed[name] / se[name])
        if "df" in vals and table is not None and p_col in table.columns:
            vals["p"] = float(table.loc[name, p_col])
        fixed[str(name)] = {k: v for k, v in vals.items() if _finite(v)}

    random: dict[str, Any] = {}
    groups = {t.group for t in design.reterms}
    for _, row in fit.varcorr.iterrows():
        grp = str(row["grp"])
        split = re.fullmatch(r"(.*)\.\d+", grp)  # lme4 prints (x || g) as groups g and g.1
        if grp not in groups and split and split.group(1) in groups:
            grp = split.group(1)
        if grp == "Residual":
            random["Residual"] = {"variance": float(row["vcov"]), "sd": float(row["sdcor"])}
            continue
        v1, v2 = row["var1"], row["var2"]
        comps = random.setdefault(grp, {})
        if _missing(v2):
            entry = {"variance": float(row["vcov"]), "sd": float(row["sdcor"])}
            comps[str(v1)] = {k: v for k, v in entry.items() if _finite(v)}
        elif _finite(row["sdcor"]):
            comps[f"{v1}, {v2}"] = {"corr": float(row["sdcor"])}
    if "Residual" in random:  # print it last, as lme4 does
        random["Residual"] = random.pop("Residual")

    fitv: dict[str, Any] = {"loglik": float(fit.loglik)}
    if method == "REML" and fit.reml_criterion is not None:
        fitv["reml_criterion"] = float(fit.reml_criterion)
    elif fit.deviance is not None:
        fitv["deviance"] = float(fit.deviance)
    if fit.aic is not None:
        fitv["aic"] = float(fit.aic)
    if fit.bic is not None:
        # nlme's BIC of a REML fit counts n - p observations: a block with
        # software nlme is compared under nlme's definition (inference/fitstats.py)
        fitv["bic"] = float(fit.bic)
    fitv["nobs"] = int(fit.nobs)
    fitv["ngroups"] = {str(g): int(n) for g, n in fit.ngroups.items()}

    tests: dict[str, Any] = {}
    for k, other_formula in enumerate(compare_with, 1):
        if eng.name != "lme4":
            raise CaseError(
                "likelihood-ratio references (--compare-with) are computed by the lme4 engine", file=str(c.path)
            )
        other_fit = eng.fit(prepare_other(c, other_formula), method)
        res = anova_lrt(fit, other_fit, refit)
        tests[f"lrt-{k}"] = {"compare_with": other_formula, "refit": bool(refit), **res}
    prov = extra.get("provenance") or {}
    options: dict[str, Any] = {"method": method}
    if df_method:
        options["df"] = df_method
    options["se"] = "model"
    block: dict[str, Any] = {
        "label": label or default_label(eng.name),
        "software": SOFTWARE.get(eng.name, "other"),
        "version": eng.version(),
        "call": prov.get("call") or extra.get("r_call") or f"{eng.name}: {design.formula}",
        "date": prov.get("date") or _now(),
        "options": options,
        "source": SOURCE,
        "values": {"fixed": fixed, "random": random, "fit": fitv, **({"tests": tests} if tests else {})},
    }
    if tests:
        block["call"] += "; " + "; ".join(
            f"anova(fit, lmer({t['compare_with']}), refit = {'TRUE' if refit else 'FALSE'})" for t in tests.values()
        )
    return block


def make_inference_block(case: Case | str | Path, program: str, *, tight: bool = False) -> dict[str, Any]:
    """A reference block of pbkrtest's Kenward-Roger or clubSandwich's CR2 numbers.

    The case is fitted by lme4 (REML) in R, then ``pbkrtest::vcovAdj`` /
    ``Lb_ddf`` or ``clubSandwich::vcovCR(type = "CR2")`` / ``coef_test`` give
    each fixed effect's SE and df; the estimate is lme4's.
    """

    c = case if isinstance(case, Case) else load_case(case)
    if "unavailable" in c.data:
        raise CaseError(
            "the case's data is not public, so no live reference can be computed",
            file=str(c.path),
            line=c.line_of("data"),
            field="data.unavailable",
        )
    if c.method != "REML":
        raise CaseError(
            f"{program} references are computed on REML fits; this case is fitted by {c.method}",
            file=str(c.path),
            line=c.line_of("model", "method"),
            field="model.method",
        )
    _, design, _ = prepare(c)
    eng = Lme4Engine(tight=tight)
    fit = eng.fit(design, "REML")
    if not fit.converged:
        raise FitError(
            "lme4 did not converge on this case, so it is no reference: " + "; ".join(fit.messages), file=str(c.path)
        )
    if program == "pbkrtest":
        tab = eng.kenward_roger(fit)
        options = {"method": "REML", "df": "kenward-roger", "se": "kenward-roger"}
        call = "pbkrtest::vcovAdj(fit); pbkrtest::Lb_ddf(L, vcov(fit), vcovAdj(fit)) for each unit L"
    else:
        tab = club_sandwich(fit, "CR2")
        options = {"method": "REML", "df": "cr2-satterthwaite", "se": "cr2"}
        call = 'clubSandwich::vcovCR(fit, type = "CR2"); clubSandwich::coef_test(fit, vcov, test = "Satterthwaite")'
    prov = fit.extra.get("provenance") or {}
    fixed = {
        str(n): {"estimate": float(fit.fixed[n]), "se": float(tab.loc[n, "se"]), "df": float(tab.loc[n, "df"])}
        for n in fit.fixed.index
    }
    versions = eng.version()
    if program == "clubsandwich":
        versions += "; clubSandwich " + str(r_versions(["clubSandwich"]).get("clubSandwich", "?"))
    return {
        "label": default_label(program),
        "software": SOFTWARE[program],
        "version": versions,
        "call": f"fit <- {prov.get('call') or fit.extra.get('r_call')}; {call}",
        "date": prov.get("date") or _now(),
        "options": options,
        "source": SOURCE,
        "values": {"fixed": fixed},
    }


def _now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v == ""


def _finite(v: Any) -> bool:
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


# ------------------------------------------------------------ YAML text

"""Printouts of one fit in the layout and with the definitions of lme4, lmerTest, SAS or HLM.

``FittedModel.summary(like=...)`` calls :func:`render_summary`. Every number is
computed from the fit by the program's own definition (df method, SE kind,
information matrix, parameter count); only the layout imitates the program.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .errors import NotImplementedOption

if TYPE_CHECKING:
    from .model import FittedModel

LIKE = ("lme4", "lmerTest", "sas", "hlm")


def render_summary(fit: FittedModel, like: str) -> str:
    """The printout of ``fit`` as ``like`` (one of :data:`LIKE`, any case) prints it."""
    key = {k.lower(): k for k in LIKE}.get(str(like).lower())
    if key is None:
        raise NotImplementedOption(f"summary like {like!r} is not implemented", hint="one of " + ", ".join(LIKE))
    if key in ("lme4", "lmerTest"):
        return _lme4(fit, with_df=key == "lmerTest")
    if key == "sas":
        return _sas(fit)
    return _hlm(fit)


def _table(df: pd.DataFrame, fmt: dict[str, str], index_header: str = "") -> list[str]:
    """Right-aligned columns, the index left-aligned, each cell formatted by its column's format."""
    cells = [[str(i) for i in df.index]] + [
        [
            format(v, fmt.get(c, ".6g"))
            if isinstance(v, (int, float, np.floating, np.integer)) and not (isinstance(v, float) and math.isnan(v))
            else ("" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
            for v in df[c]
        ]
        for c in df.columns
    ]
    heads = [index_header] + [str(c) for c in df.columns]
    widths = [max(len(h), *(len(x) for x in col)) if col else len(h) for h, col in zip(heads, cells)]
    lines = [" ".join(h.ljust(w) if k == 0 else h.rjust(w) for k, (h, w) in enumerate(zip(heads, widths)))]
    for r in range(len(df.index)):
        lines.append(
            " ".join(col[r].ljust(w) if k == 0 else col[r].rjust(w) for k, (col, w) in enumerate(zip(cells, widths)))
        )
    return lines


def _pvalue(p: float) -> str:
    return "<2e-16" if p < 2e-16 else f"{p:.3g}"


def _random_effects(fit: FittedModel) -> list[str]:
    vc = fit.result.varcorr
    var = vc[vc["var2"].isna()]
    rows = pd.DataFrame(
        {
            "Name": [("" if g == "Residual" else str(n)) for g, n in zip(var["grp"], var["var1"])],
            "Variance": var["vcov"].to_numpy(),
            "Std.Dev.": var["sdcor"].to_numpy(),
        },
        index=[str(g) for g in var["grp"]],
    )
    return _table(rows, {"Variance": ".4f", "Std.Dev.": ".4f"}, "Groups")


def _lme4(fit: FittedModel, *, with_df: bool) -> str:
    r = fit.result
    reml = str(r.method).upper() == "REML"
    out = [
        f"Linear mixed model fit by {'REML' if reml else 'maximum likelihood'}"
        + (". t-tests use Satterthwaite's method [lmerModLmerTest]" if with_df else " ['lmerMod']"),
        f"Formula: {r.formula}",
        "",
    ]
    if reml:
        out.append(f"REML criterion at convergence: {-2 * r.loglik:.1f}")
    else:
        stats_ = fit.fit_statistics("lme4")
        out.append(
            f"     AIC      BIC   logLik deviance\n{stats_['aic']:8.1f} {stats_['bic']:8.1f} "
            f"{r.loglik:8.1f} {-2 * r.loglik:8.1f}"
        )
    if fit.design.reterms:
        out += ["", "Random effects:", *[" " + ln for ln in _random_effects(fit)]]
        groups = ", ".join(f"{g}, {k}" for g, k in r.ngroups.items())
        out.append(f"Number of obs: {r.nobs}, groups:  {groups}")
    table = fit.coef_table(df="satterthwaite" if with_df else "none")
    cols = ["Estimate", "Std. Error", "df", "t value", "Pr(>|t|)"] if with_df else ["Estimate", "Std. Error", "t value"]
    shown = table[cols].copy()
    if with_df:
        shown["Pr(>|t|)"] = [_pvalue(p) for p in shown["Pr(>|t|)"]]
    out += [
        "",
        "Fixed effects:",
        *_table(shown, {"Estimate": ".4f", "Std. Error": ".4f", "df": ".2f", "t value": ".3f"}),
    ]
    if not r.converged:
        out += ["", "The optimizer did not converge: " + "; ".join(r.messages)]
    if r.singular:
        out += ["", "boundary (singular) fit: see help('isSingular')"]
    return "\n".join(out)


def _sas(fit: FittedModel) -> str:
    r = fit.result
    reml = str(r.method).upper() == "REML"
    out = ["The Mixed Procedure", "", f"Estimation Method  {'REML' if reml else 'ML'}", ""]
    if fit.design.reterms:
        cp = fit.covparms("observed")
        rows = pd.DataFrame(
            {
                "Subject": ["" if g == "Residual" else str(g) for g in cp["group"]],
                "Estimate": cp["estimate"].to_numpy(),
                "Standard Error": cp["se"].to_numpy(),
                "Z Value": cp["z"].to_numpy(),
                "Pr Z": [f"{p:.4f}" if p >= 1e-4 else "<.0001" for p in cp["p"]],
            },
            index=[_sas_covparm(g, v1, v2) for g, v1, v2 in zip(cp["group"], cp["var1"], cp["var2"])],
        )
        out += [
            "Covariance Parameter Estimates",
            *_table(rows, {"Estimate": ".4f", "Standard Error": ".4f", "Z Value": ".2f"}, "Cov Parm"),
            "",
        ]
    st = fit.fit_statistics("sas")
    label = "-2 Res Log Likelihood" if reml else "-2 Log Likelihood"
    fs = {label: st["deviance"], "AIC (Smaller is Better)": st["aic"], "AICC (Smaller is Better)": st["aicc"]}
    if isinstance(st.get("bic"), float):
        fs["BIC (Smaller is Better)"] = st["bic"]
    out += ["Fit Statistics", *[f"{k:<26}{float(str(v)):>12.1f}" for k, v in fs.items()], ""]
    df_method = "containment" if fit.design.reterms else "residual"
    table = fit.coef_table(df=df_method)
    sol = pd.DataFrame(
        {
            "Estimate": table["Estimate"].to_numpy(),
            "Standard Error": table["Std. Error"].to_numpy(),
            "DF": table["df"].to_numpy(),
            "t Value": table["t value"].to_numpy(),
            "Pr > |t|": [f"{p:.4f}" if p >= 1e-4 else "<.0001" for p in table["Pr(>|t|)"]],
        },
        index=[_sas_effect(n) for n in table.index],
    )
    out += [
        "Solution for Fixed Effects",
        *_table(sol, {"Estimate": ".4f", "Standard Error": ".4f", "DF": ".0f", "t Value": ".2f"}, "Effect"),
    ]
    if fit.design.reterms:
        out += ["", f"DF: {df_method} (SAS's default DDFM with a RANDOM statement)"]
    return "\n".join(out)


def _sas_covparm(group: str, var1: object, var2: object) -> str:
    if group == "Residual":
        return "Residual"
    if isinstance(var2, str):
        return f"Cov({var1},{var2})"
    return "Intercept" if var1 == "(Intercept)" else str(var1)


def _sas_effect(name: str) -> str:
    return "Intercept" if name == "(Intercept)" else name


def _hlm(fit: FittedModel) -> str:
    r = fit.result
    table = fit.coef_table(df="hlm")
    fx = pd.DataFrame(
        {
            "Coefficient": table["Estimate"].to_numpy(),
            "Standard error": table["Std. Error"].to_numpy(),
            "t-ratio": table["t value"].to_numpy(),
            "Approx. d.f.": table["df"].to_numpy(),
            "p-value": [f"{p:.3f}" if p >= 1e-3 else "<0.001" for p in table["Pr(>|t|)"]],
        },
        index=[("INTRCPT" if n == "(Intercept)" else n) for n in table.index],
    )
    out = [
        f"Final estimation of fixed effects ({'REML' if str(r.method).upper() == 'REML' else 'full ML'}):",
        *_table(
            fx, {"Coefficient": ".6f", "Standard error": ".6f", "t-ratio": ".3f", "Approx. d.f.": ".0f"}, "Fixed Effect"
        ),
    ]
    if fit.design.reterms:
        vt = fit.hlm_tests()
        rows = pd.DataFrame(
            {
                "Standard Deviation": vt["sd"].to_numpy(),
                "Variance Component": vt["variance"].to_numpy(),
                "d.f.": vt["df"].to_numpy(),
                "Chi-square": vt["chisq"].to_numpy(),
                "P-value": [f"{p:.3f}" if p >= 1e-3 else "<0.001" for p in vt["p"]],
            },
            index=[("INTRCPT1, u0" if c == "(Intercept)" else str(c)) for c in vt["coefficient"]],
        )
        sigma2 = float(r.varcorr.loc[r.varcorr["grp"] == "Residual", "vcov"].iloc[0])
        rows.loc["level-1, r"] = [math.sqrt(sigma2), sigma2, math.nan, math.nan, ""]
        out += [
            "",
            "Final estimation of variance components:",
            *_table(
                rows,
                {"Standard Deviation": ".5f", "Variance Component": ".5f", "d.f.": ".0f", "Chi-square": ".5f"},
                "Random Effect",
            ),
        ]
    dev = -2 * r.loglik
    out += ["", f"Deviance = {dev:.6f}", f"Number of estimated parameters = {fit.fit_statistics('hlm')['npar']}"]
    return "\n".join(out)

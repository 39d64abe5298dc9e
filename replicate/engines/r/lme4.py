"""lme4 (through lmerTest's ``lmer``) as an engine, live in R through rpy2.

The engine fits exactly the :class:`~replicate.design.Design` the other engines
fit: the response, the columns of the fixed-effect model matrix, the columns of
each random-effect term and each grouping factor (as an R factor with the
design's levels) are passed to R as one data frame, so transforms, ``where:``
filters, listwise deletion, contrasts and dropped collinear columns are the
same as for the native engine.

Safety: no text from a case file is ever pasted into R code.

* A name reaches R (response, model-matrix columns, grouping factors) only if
  :func:`~replicate.engines.r.frames.check_r_name` accepts it: ASCII R
  identifiers (a letter, then letters, digits, ``.`` and ``_``; not a reserved
  word), or such identifiers joined by ``:`` (interaction columns ``x:fhi`` and
  nested grouping factors ``classid:schoolid``). Any other name (``I(x^2)``,
  ``poly(x, 2)1``, a back-quoted column name) goes to R under a generated name
  (``.col1`` ...), and R's answers are mapped back to the design's names, so
  every formula the native engine fits, the lme4 engine fits too.
* The formula is not parsed from text: a fixed R function (constant code in
  ``helpers.R`` beside this module) builds it as a language object from the names with ``as.name``
  and ``call``, so even a name that slipped through would only be a symbol.
  Names joined by ``:`` become one back-quoted symbol.
* The data go to R as values (pandas2ri), in a private environment whose
  parents are the attached base packages (stats, ..., base), so a variable
  missing from the data is never looked up in R's global environment.
* The call is built as a language object (``call("lmer", formula = f, data =
  dat, REML = TRUE)``) and evaluated; its deparsed text is recorded as the
  exact call in the provenance.

Kenward-Roger (pbkrtest) is slow, so it is computed only when asked: by
:meth:`Lme4Engine.kenward_roger` on a fit, or for every fit with
``Lme4Engine(kenward_roger=True)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ...design import Design
from ...errors import EngineUnavailable, FitError, ModelError, NotImplementedOption
from ...results import FitResult, OptSummary
from .frames import (
    TIGHT_TOLERANCES,
    RModelFrame,
    fixed_effects,
    model_frame,
    r_formula,
    ranef_frames,
    to_r_frame,
)
from .session import get, message_list, num, provenance, r_call, r_error, r_status, r_versions, strs


class Lme4Engine:
    """lme4's ``lmer`` (as lmerTest's, for Satterthwaite df), live through rpy2.

    Args:
        kenward_roger: also compute pbkrtest's Kenward-Roger df and SEs for
            every fit (slow); otherwise call :meth:`kenward_roger` on a fit.
        tight: run lme4's optimizer with much smaller tolerances than its
            defaults (the call records the control used).
    """

    name = "lme4"
    packages = ("lme4", "lmerTest", "pbkrtest")

    def __init__(self, *, kenward_roger: bool = False, tight: bool = False) -> None:
        self.compute_kr = kenward_roger
        self.tight = tight
        self._versions: dict[str, str] | None = None

    def available(self) -> tuple[bool, str]:
        return r_status(("lme4", "lmerTest"))

    def versions(self) -> dict[str, str]:
        if self._versions is None:
            self._versions = r_versions(self.packages)
        return dict(self._versions)

    def version(self) -> str:
        v = self.versions()
        return "; ".join(f"{k} {val}" for k, val in v.items() if val)

    def fit(self, design: Design, method: str = "REML") -> FitResult:
        if method not in ("REML", "ML"):
            raise ModelError(f"method {method!r} unknown", field="method", hint="use 'REML' or 'ML'")
        if not design.reterms:
            raise NotImplementedOption(
                "the lme4 engine fits mixed models only; this is a linear model (model.fixed_only)",
                hint="the native engine fits it as R's lm does",
            )
        ok, why = self.available()
        if not ok:
            raise EngineUnavailable(f"engine 'lme4' is not available: {why}", field="--engine")
        mf = model_frame(design, offset_column=True)
        rdf = to_r_frame(mf)
        f = r_formula(mf)
        res = r_call("fit_lmer", rdf, f, method == "REML", mf.weighted, self.tight, mf.offset)
        call = str(get(res, "call")[0])
        err = r_error(res)
        if err is not None:
            raise FitError(f"lmer failed: {err}", hint=f"call: {call}")
        rfit = get(res, "value")
        msgs = message_list(res)
        ex = r_call("extract_lmer", rfit)
        fit = self._result(design, mf, method, ex, rfit, call, msgs)
        if self.compute_kr:
            self.kenward_roger(fit)
        return fit

    def _result(
        self, design: Design, mf: RModelFrame, method: str, ex: Any, rfit: Any, call: str, msgs: list[str]
    ) -> FitResult:
        names = list(design.fixed_names)
        fixed, vcov, coef = fixed_effects(ex, mf, names)
        coefcols = list(coef.columns)
        is_lt = bool(get(ex, "is_lmertest")[0])
        if not is_lt or "df" not in coefcols:
            msgs.append("lmerTest could not compute Satterthwaite df for this fit")
            sat = pd.Series(np.nan, index=names)
        else:
            sat = coef["df"].astype(float).rename("df")

        # VarCorr: R's names back to the design's (column names lose their back-quotes).
        group_of = {g: name for (g, _, _), name in zip(mf.terms, mf.group_names)}
        vc = pd.DataFrame(
            {
                "grp": strs(ex, "vc_grp"),
                "var1": [mf.design_name(s) if s else np.nan for s in strs(ex, "vc_var1")],
                "var2": [mf.design_name(s) if s else np.nan for s in strs(ex, "vc_var2")],
                "vcov": num(ex, "vc_vcov"),
                "sdcor": num(ex, "vc_sdcor"),
            }
        )
        vc[["var1", "var2"]] = vc[["var1", "var2"]].astype(object)
        vc["grp"] = [_map_group(g, group_of) for g in vc["grp"]]
        sigma = float(num(ex, "sigma")[0])
        reml = method == "REML"
        # lme4 lists the singular-fit note among its convergence messages; it is
        # reported by `singular`, not as a convergence failure.
        conv_msgs = [m for m in strs(ex, "conv_msgs") if m and not m.startswith("boundary (singular)")]
        conv_opt = int(np.asarray(get(ex, "conv_opt"))[0])
        for m in conv_msgs:
            if m not in msgs:
                msgs.append(m)
        converged = conv_opt == 0 and not conv_msgs and not any("converge" in m.lower() for m in msgs)
        ngr = dict(zip(strs(ex, "ngrps_names"), (int(x) for x in get(ex, "ngrps"))))
        ngroups = {group_of.get(g, g): n for g, n in ngr.items()}
        cols_of: dict[str, list[str]] = {}
        for t in design.reterms:
            cols_of.setdefault(t.group, []).extend(t.columns)
        ranef = ranef_frames(ex, group_of, cols_of)
        theta = num(ex, "theta")
        versions = self.versions()
        prov = provenance(call + mf.legend(), versions)
        feval = np.asarray(get(ex, "feval"))
        opt = OptSummary(
            method=f"lme4 {strs(ex, 'optimizer')[0] if strs(ex, 'optimizer') else ''}".strip(),
            initial=tuple(num(ex, "theta_start")),
            final=tuple(theta),
            fmin=float(num(ex, "remlcrit")[0] if reml else num(ex, "deviance")[0]),
            evaluations=int(feval[0]) if feval.size and not np.isnan(feval[0]) else 0,
            message=(strs(ex, "opt_message") or [""])[0],
            tolerances=dict(TIGHT_TOLERANCES) if self.tight else {},
        )
        loglik = float(num(ex, "loglik")[0])
        extra: dict[str, Any] = {
            "satterthwaite_df": sat,
            "coef_table": coef,
            "provenance": prov,
            "r_call": call,
            "r_model": rfit,
        }
        return FitResult(
            engine=self.name,
            engine_version=self.version(),
            method=method,
            formula=design.formula,
            fixed=fixed,
            vcov=vcov,
            varcorr=vc,
            sigma2=sigma * sigma,
            theta=theta,
            loglik=loglik,
            reml_criterion=float(num(ex, "remlcrit")[0]) if reml else None,
            deviance=None if reml else float(num(ex, "deviance")[0]),
            aic=float(num(ex, "aic")[0]),
            bic=float(num(ex, "bic")[0]),
            npar=int(np.asarray(get(ex, "npar"))[0]),
            nobs=int(np.asarray(get(ex, "nobs"))[0]),
            ngroups=ngroups,
            n_dropped=design.n_dropped,
            converged=bool(converged),
            singular=bool(get(ex, "singular")[0]),
            messages=tuple(dict.fromkeys(msgs)),
            optinfo=opt,
            ranef_fn=lambda: ranef,
            fitted=num(ex, "fitted"),  # lmer's fitted values include the offset it was given
            residuals=num(ex, "resid"),
            rows=design.rows,
            extra=extra,
        )

    def kenward_roger(self, fit: FitResult) -> pd.DataFrame:
        """pbkrtest's Kenward-Roger df and adjusted SEs per coefficient of an lme4 fit.

        Stores them in ``fit.extra["kr_df"]`` and ``fit.extra["kr_se"]`` (pandas
        Series) and returns a DataFrame with columns ``df`` and ``se``.

        Raises:
            NotImplementedOption: the fit is by ML (Kenward-Roger is defined
                for REML fits) or not an lme4-engine fit.
            FitError: pbkrtest failed.
        """
        if "kr_df" in fit.extra and "kr_se" in fit.extra:
            return pd.DataFrame({"df": fit.extra["kr_df"], "se": fit.extra["kr_se"]})
        if fit.engine != self.name or "r_model" not in fit.extra:
            raise NotImplementedOption("Kenward-Roger needs a fit from the lme4 engine")
        if fit.method != "REML":
            raise NotImplementedOption(
                "Kenward-Roger df and SEs are defined for REML fits", hint="refit with method REML"
            )
        ok, why = r_status(("pbkrtest",))
        if not ok:
            raise EngineUnavailable(f"pbkrtest is not available: {why}")
        try:
            res = r_call("kenward_roger", fit.extra["r_model"])
        except Exception as exc:  # noqa: BLE001 - rpy2's RRuntimeError and conversion errors
            raise FitError(f"pbkrtest failed: {exc}") from None
        idx = fit.fixed.index
        kr_df = pd.Series(num(res, "df"), index=idx, name="df")
        kr_se = pd.Series(num(res, "se"), index=idx, name="se")
        fit.extra["kr_df"] = kr_df
        fit.extra["kr_se"] = kr_se
        return pd.DataFrame({"df": kr_df, "se": kr_se})


def anova_lrt(fit: FitResult, other: FitResult, refit: bool = True) -> dict[str, float]:
    """lme4's ``anova(fit, other, refit = refit)`` for two lme4-engine fits:
    the chi-square, its df and p of the larger model's row."""
    if "r_model" not in fit.extra or "r_model" not in other.extra:
        raise NotImplementedOption("anova needs two fits from the lme4 engine")
    try:
        res = r_call("anova_lrt", fit.extra["r_model"], other.extra["r_model"], bool(refit))
    except Exception as exc:  # noqa: BLE001 - rpy2's RRuntimeError and conversion errors
        raise FitError(f"lme4's anova failed: {exc}") from None
    return {"statistic": float(num(res, "chisq")[0]), "df": float(num(res, "df")[0]), "p": float(num(res, "p")[0])}


def club_sandwich(fit: FitResult, kind: str = "CR2") -> pd.DataFrame:
    """clubSandwich's cluster-robust SEs (``vcovCR(fit, type=kind)``) and the
    Satterthwaite df of ``coef_test`` for an lme4-engine fit (clustered by the
    grouping factor clubSandwich picks: the outermost)."""
    if fit.engine != "lme4" or "r_model" not in fit.extra:
        raise NotImplementedOption("clubSandwich needs a fit from the lme4 engine")
    if kind not in ("CR0", "CR1", "CR2"):
        raise NotImplementedOption(f"clubSandwich type {kind!r} is not offered here", hint="CR0, CR1 or CR2")
    ok, why = r_status(("clubSandwich",))
    if not ok:
        raise EngineUnavailable(f"clubSandwich is not available: {why}")
    try:
        res = r_call("club_sandwich", fit.extra["r_model"], kind)
    except Exception as exc:  # noqa: BLE001 - rpy2's RRuntimeError and conversion errors
        raise FitError(f"clubSandwich failed: {exc}") from None
    idx = fit.fixed.index
    return pd.DataFrame({"df": num(res, "df"), "se": num(res, "se")}, index=idx)


def _map_group(g: str, group_of: dict[str, str]) -> str:
    """R's VarCorr group name -> the design's (``g.1`` for a second term on ``g`` stays ``g.1``, and a
    generated group's ``.fac1.1`` becomes the design's name with ``.1``)."""
    if g in group_of:
        return group_of[g]
    stem, dot, count = g.rpartition(".")
    if dot and count.isdigit() and stem in group_of:
        return f"{group_of[stem]}.{count}"
    return g

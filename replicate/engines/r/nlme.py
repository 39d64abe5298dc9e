"""nlme's ``lme`` as an engine, live in R through rpy2.

``lme`` fits nested random effects only: one random term per level of nesting,
``random = list(outer = ~ 1 + x, inner = ~ 1)`` (R: ``~ 1 | outer/inner``).
A design maps onto it when its grouping factors form a chain, each nested in
the next larger one, each with one term; crossed designs and several terms on
one factor (``(x || g)``) raise :class:`~replicate.errors.NotImplementedOption`.

Safety is as in :mod:`replicate.engines.r.frames` (only checked names reach R,
the formulas built from symbols, data passed as values), but here the names
matter most: nlme itself deparses variable names and parses the text again
(``asOneFormula``; the ``random`` list's names go into a grouping formula it
parses), so a name with R syntax in it would be code inside nlme. The names
given to nlme are therefore plain R identifiers only: a model column that is
not one (``x:fhi``, ``I(x^2)``, ``poly(x, 2)1``) gets a generated name
(``.col1``), a grouping factor that is not one ``.grp1``, and a nested factor
named ``classid:schoolid`` by lme4 is passed as ``classid`` (its levels keep the
full labels, which nesting in ``schoolid`` makes the same groups).

Numbers are nlme's own: in particular nlme's BIC for a REML fit uses
log(n - p), not lme4's log(n).
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd

from ...design import Design, ReTerm
from ...errors import EngineUnavailable, FitError, ModelError, NotImplementedOption
from ...results import FitResult, OptSummary
from .frames import (
    RModelFrame,
    check_r_name,
    fixed_effects,
    is_r_name,
    model_frame,
    ranef_frames,
    to_r_frame,
    with_offset,
)
from .session import get, message_list, num, provenance, r_call, r_error, r_matrix, r_status, r_versions, strs

SINGULAR_TOL = 1e-4  # lme4's isSingular tolerance, applied to the same theta


def _nested_in(inner: ReTerm, outer: ReTerm) -> bool:
    """Every level of ``inner`` lies within one level of ``outer``."""
    pairs = pd.DataFrame({"i": inner.index, "o": outer.index}).drop_duplicates()
    return bool(pairs["i"].is_unique)


def nesting_chain(design: Design) -> list[ReTerm]:
    """The design's terms from the outermost factor in, or NotImplementedOption."""
    terms = list(design.reterms)
    groups = [t.group for t in terms]
    dup = sorted({g for g in groups if groups.count(g) > 1})
    if dup:
        raise NotImplementedOption(
            f"nlme's lme takes one random term per grouping factor; {dup[0]!r} has several (as from (x || g))",
            hint="use the lme4 or native engine",
        )
    chain = sorted(terms, key=lambda t: t.nlevels)
    for outer, inner in pairwise(chain):
        if not _nested_in(inner, outer):
            raise NotImplementedOption(
                f"nlme's lme fits nested random effects only; {inner.group!r} is not nested in "
                f"{outer.group!r} (crossed design)",
                hint="use the lme4 or native engine",
            )
    return chain


def _nlme_group_names(chain: list[ReTerm], taken: set[str]) -> list[str]:
    """Plain identifiers for nlme's random list (nlme parses them as text)."""
    out: list[str] = []
    used = set(taken)
    for k, t in enumerate(chain):
        cand = t.group.split(":")[0]
        if cand in used or not is_r_name(cand, allow_colon=False):
            cand = f".grp{k + 1}"  # starts with '.', so never a checked model name
        check_r_name(cand.lstrip("."), "grouping factor", allow_colon=False)
        used.add(cand)
        out.append(cand)
    return out


def _nlme_labels(chain: list[ReTerm]) -> dict[str, str]:
    """nlme's row label ('o1/o2/inner') -> the innermost term's level label."""
    inner = chain[-1]
    first = np.full(inner.nlevels, -1)
    seen = np.zeros(inner.nlevels, dtype=bool)
    for row, c in enumerate(inner.index):
        if not seen[c]:
            seen[c] = True
            first[c] = row
    out: dict[str, str] = {}
    for c in range(inner.nlevels):
        if first[c] < 0:
            continue
        r = first[c]
        out["/".join(str(t.levels[t.index[r]]) for t in chain)] = str(inner.levels[c])
    return out


def _chol_lower(m: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of a positive semi-definite matrix (zero pivots allowed)."""
    k = m.shape[0]
    L = np.zeros_like(m, dtype=float)
    for j in range(k):
        d = m[j, j] - L[j, :j] @ L[j, :j]
        if d <= 1e-300:
            continue
        L[j, j] = np.sqrt(d)
        for i in range(j + 1, k):
            L[i, j] = (m[i, j] - L[i, :j] @ L[j, :j]) / L[j, j]
    return L


class NlmeEngine:
    """nlme's ``lme`` for nested designs, live through rpy2."""

    name = "nlme"
    packages = ("nlme",)

    def __init__(self) -> None:
        self._versions: dict[str, str] | None = None

    def available(self) -> tuple[bool, str]:
        return r_status(self.packages)

    def versions(self) -> dict[str, str]:
        if self._versions is None:
            self._versions = r_versions(self.packages)
        return dict(self._versions)

    def version(self) -> str:
        return "; ".join(f"{k} {v}" for k, v in self.versions().items() if v)

    def fit(self, design: Design, method: str = "REML") -> FitResult:
        if method not in ("REML", "ML"):
            raise ModelError(f"method {method!r} unknown", field="method", hint="use 'REML' or 'ML'")
        chain = nesting_chain(design)
        ok, why = self.available()
        if not ok:
            raise EngineUnavailable(f"engine 'nlme' is not available: {why}", field="--engine")
        from rpy2.robjects.vectors import ListVector, StrVector

        # Names of the model columns first (checked), then nlme's group names.
        base = model_frame(design)
        taken = set(base.frame.columns)
        chain_names = _nlme_group_names(chain, taken - {t.group for t in design.reterms})
        name_of_term = {id(t): n for t, n in zip(chain, chain_names)}
        gcols = [name_of_term[id(t)] for t in design.reterms]
        mf = model_frame(design, group_columns=gcols, inverse_weights=True, rename_joined=True)
        rdf = to_r_frame(mf)
        fixed_f = r_call("fixed_formula", mf.response, StrVector(list(mf.fixed)), mf.intercept)
        term_of = {g: (cols, icpt) for g, cols, icpt in mf.terms}
        random = ListVector(
            [(n, r_call("one_sided", StrVector(list(term_of[n][0])), term_of[n][1])) for n in chain_names]
        )
        res = r_call("fit_lme", rdf, fixed_f, random, method == "REML", mf.weighted)
        call = str(get(res, "call")[0])
        err = r_error(res)
        if err is not None:
            raise FitError(f"nlme::lme failed: {err}", hint=f"call: {call}")
        rfit = get(res, "value")
        msgs = message_list(res)
        ex = r_call("extract_lme", rfit)
        return self._result(design, mf, chain, chain_names, method, ex, rfit, call, msgs)

    def _result(
        self,
        design: Design,
        mf: RModelFrame,
        chain: list[ReTerm],
        chain_names: list[str],
        method: str,
        ex: Any,
        rfit: Any,
        call: str,
        msgs: list[str],
    ) -> FitResult:
        names = list(design.fixed_names)
        fixed, vcov, coef = fixed_effects(ex, mf, names)
        coefcols = list(coef.columns)
        sigma = float(num(ex, "sigma")[0])
        sigma2 = sigma * sigma
        # Relative covariance matrices per nlme level name -> design terms, lme4's order.
        mats = get(ex, "re_mats")
        re_names = strs(ex, "re_names")
        rel = {n: r_matrix(mats[i]) for i, n in enumerate(re_names)}
        term_name = {id(t): n for t, n in zip(chain, chain_names)}
        rows: list[dict[str, Any]] = []
        theta: list[float] = []
        singular = False
        for t in design.reterms:
            m = rel[term_name[id(t)]]
            cov = sigma2 * m
            L = _chol_lower(m)
            for j in range(t.k):
                theta.extend(L[j:, j].tolist())
                if L[j, j] < SINGULAR_TOL:
                    singular = True
            sd = np.sqrt(np.clip(np.diag(cov), 0, None))
            for i, c in enumerate(t.columns):
                rows.append({"grp": t.group, "var1": c, "var2": np.nan, "vcov": cov[i, i], "sdcor": sd[i]})
            for j in range(t.k):
                for i in range(j + 1, t.k):
                    den = sd[i] * sd[j]
                    rows.append(
                        {
                            "grp": t.group,
                            "var1": t.columns[j],
                            "var2": t.columns[i],
                            "vcov": cov[i, j],
                            "sdcor": cov[i, j] / den if den > 0 else np.nan,
                        }
                    )
        rows.append({"grp": "Residual", "var1": np.nan, "var2": np.nan, "vcov": sigma2, "sdcor": sigma})
        vc = pd.DataFrame(rows, columns=["grp", "var1", "var2", "vcov", "sdcor"])
        vc[["var1", "var2"]] = vc[["var1", "var2"]].astype(object)
        if singular:
            msgs.append("boundary (singular) fit: a variance component is (nearly) zero")
        ngr = dict(zip(strs(ex, "ngrps_names"), (int(x) for x in get(ex, "ngrps"))))
        group_of = {n: t.group for t, n in zip(chain, chain_names)}
        ngroups = {t.group: ngr.get(term_name[id(t)], t.nlevels) for t in design.reterms}
        cols_of = {t.group: list(t.columns) for t in design.reterms}
        ranef = ranef_frames(ex, group_of, cols_of)
        for k, t in enumerate(chain):
            # nlme labels an inner group 'outer/inner'; give it the design's label.
            if t.group in ranef:
                label_of = _nlme_labels(chain[: k + 1])
                fr = ranef[t.group]
                fr.index = pd.Index([label_of.get(str(i), str(i)) for i in fr.index], name=t.group)
        reml = method == "REML"
        loglik = float(num(ex, "loglik")[0])
        versions = self.versions()
        df_col = "DF" if "DF" in coefcols else None
        nlme_df = coef[df_col].astype(float).rename("df") if df_col else pd.Series(np.nan, index=names)
        iters = np.asarray(get(ex, "iterations"))
        extra: dict[str, Any] = {
            "nlme_df": nlme_df,
            "coef_table": coef,
            "provenance": provenance(call + mf.legend(), versions),
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
            sigma2=sigma2,
            theta=np.asarray(theta),
            loglik=loglik,
            reml_criterion=-2 * loglik if reml else None,
            deviance=None if reml else -2 * loglik,
            aic=float(num(ex, "aic")[0]),
            bic=float(num(ex, "bic")[0]),
            npar=int(np.asarray(get(ex, "npar"))[0]),
            nobs=int(np.asarray(get(ex, "nobs"))[0]),
            ngroups=ngroups,
            n_dropped=design.n_dropped,
            converged=not any("converge" in m.lower() for m in msgs),
            singular=singular,
            messages=tuple(dict.fromkeys(msgs)),
            optinfo=OptSummary(
                method="nlme lme (nlminb, then EM/Newton)",
                final=tuple(theta),
                fmin=-2 * loglik,
                evaluations=int(iters[0]) if iters.size and iters[0] > -1e9 else 0,
            ),
            ranef_fn=lambda: ranef,
            fitted=with_offset(num(ex, "fitted"), design),
            residuals=num(ex, "resid"),
            rows=design.rows,
            extra=extra,
        )

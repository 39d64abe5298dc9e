"""statsmodels MixedLM as an engine.

MixedLM has one grouping factor with a correlated random part (``exog_re``) and
independent variance components within it (``exog_vc``). A design maps onto it
when one term's groups contain every other term's groups (nested designs), or,
for crossed designs, by putting all rows in one group with every term a
variance component (slow, but exact for scalar terms).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..design import Design, ReTerm
from ..engine.theta import theta_from_covariance
from ..errors import FitError, NotImplementedOption
from ..results import FitResult, OptSummary


def _nested_in(inner: ReTerm, outer: ReTerm) -> bool:
    """True when every level of ``inner`` lies within one level of ``outer``."""
    pairs = pd.DataFrame({"i": inner.index, "o": outer.index}).drop_duplicates()
    return bool(pairs["i"].is_unique)


class StatsmodelsEngine:
    name = "statsmodels"

    def available(self) -> tuple[bool, str]:
        try:
            import statsmodels  # noqa: F401
        except ImportError as exc:
            return False, f"statsmodels is not installed ({exc})"
        return True, ""

    def version(self) -> str:
        import statsmodels

        return f"statsmodels {statsmodels.__version__} MixedLM"

    def fit(self, design: Design, method: str = "REML") -> FitResult:
        import statsmodels.api as sm

        if design.weights is not None:
            raise NotImplementedOption("statsmodels MixedLM has no level-1 weights; use the native engine")
        terms = list(design.reterms)
        top = None
        # Choose the term whose groups contain all others' groups.
        for cand in sorted(terms, key=lambda t: t.nlevels):
            if all(t is cand or _nested_in(t, cand) for t in terms):
                top = cand
                break
        others = [t for t in terms if t is not top]
        if any(t.k != 1 for t in others):
            raise NotImplementedOption(
                "statsmodels MixedLM cannot fit a vector-valued random term beside another grouping "
                "factor; use the native engine"
            )
        if top is None:
            groups = np.zeros(design.n, dtype=int)
            exog_re = None
            vc_terms = terms
        else:
            groups = top.index
            exog_re = top.Xre
            vc_terms = others
        exog_vc = None
        vc_names: list[str] = []
        if vc_terms:
            from statsmodels.regression.mixed_linear_model import VCSpec

            names, colnames, mats = [], [], []
            for t in vc_terms:
                grp_codes = [np.flatnonzero(groups == g) for g in np.unique(groups)]
                per_group_mats = []
                per_group_names = []
                for members in grp_codes:
                    lv = np.unique(t.index[members])
                    M = np.zeros((len(members), len(lv)))
                    for j, lev in enumerate(lv):
                        M[:, j] = (t.index[members] == lev) * t.Xre[members, 0]
                    per_group_mats.append(M)
                    per_group_names.append([t.levels[i] for i in lv])
                names.append(t.group)
                colnames.append(per_group_names)
                mats.append(per_group_mats)
            exog_vc = VCSpec(names, colnames, mats)
            vc_names = names
        model = sm.MixedLM(design.y, design.X, groups=groups, exog_re=exog_re, exog_vc=exog_vc)
        reml = method == "REML"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                res = model.fit(reml=reml)
            except Exception as exc:  # noqa: BLE001 - statsmodels raises assorted errors
                raise FitError(f"statsmodels MixedLM failed: {exc}") from None
        p = design.p
        fixed = pd.Series(np.asarray(res.fe_params), index=list(design.fixed_names))
        vcov = pd.DataFrame(np.asarray(res.cov_params())[:p, :p], index=fixed.index, columns=fixed.index)
        # VarCorr rows: group, var1, var2, variance or covariance, SD or correlation
        rows: list[tuple[str, str | None, str | None, float, float]] = []
        if top is not None:
            cov = np.asarray(res.cov_re)
            cols = list(top.columns)
            for i, c in enumerate(cols):
                rows.append((top.group, c, None, cov[i, i], np.sqrt(max(cov[i, i], 0))))
            for i in range(len(cols)):
                for j in range(i + 1, len(cols)):
                    denom = np.sqrt(cov[i, i] * cov[j, j])
                    rows.append((top.group, cols[i], cols[j], cov[i, j], cov[i, j] / denom if denom > 0 else np.nan))
        vcomp = np.asarray(res.vcomp) if vc_names else np.array([])
        for name, v in zip(vc_names, vcomp):
            t = next(t for t in vc_terms if t.group == name)
            rows.append((name, t.columns[0], None, v, np.sqrt(max(v, 0))))
        sigma2 = float(res.scale)
        rows.append(("Residual", None, None, sigma2, np.sqrt(sigma2)))
        order = [t.group for t in terms]
        vc = pd.DataFrame(rows, columns=["grp", "var1", "var2", "vcov", "sdcor"])
        vc["_o"] = [order.index(g) if g in order else len(order) for g in vc["grp"]]
        vc = vc.sort_values("_o", kind="stable").drop(columns="_o").reset_index(drop=True)
        npar = p + sum(t.k * (t.k + 1) // 2 for t in terms) + 1
        theta = _theta_from(vc, terms, sigma2)
        llf = float(res.llf)
        msgs = [str(w.message) for w in caught]
        return FitResult(
            engine=self.name,
            engine_version=self.version(),
            method=method,
            formula=design.formula,
            fixed=fixed,
            vcov=vcov,
            varcorr=vc,
            sigma2=sigma2,
            loglik=llf,
            theta=theta,
            reml_criterion=-2 * llf if reml else None,
            deviance=None if reml else -2 * llf,
            aic=-2 * llf + 2 * npar,
            bic=-2 * llf + np.log(design.n) * npar,
            npar=npar,
            nobs=design.n,
            ngroups=design.ngroups(),
            n_dropped=design.n_dropped,
            converged=bool(getattr(res, "converged", True)),
            messages=tuple(msgs),
            optinfo=OptSummary(method=str(getattr(res, "method", "statsmodels")), fmin=-llf),
            rows=design.rows,
        )


def _theta_from(vc: pd.DataFrame, terms: list[ReTerm], sigma2: float) -> np.ndarray | None:
    """lme4's theta (relative Cholesky factors, column-major lower triangles) from variances."""
    out: list[float] = []
    for t in terms:
        cov = np.zeros((t.k, t.k))
        # (x || g) gives several terms on one grouping factor: take this term's columns only
        rows = vc[(vc["grp"] == t.group) & vc["var1"].isin(t.columns)]
        for _, r in rows.iterrows():
            i = t.columns.index(r["var1"])
            j = i if r["var2"] is None or r["var2"] != r["var2"] else t.columns.index(r["var2"])
            cov[i, j] = cov[j, i] = r["vcov"]
        block_theta = theta_from_covariance(cov / sigma2)
        if block_theta is None:
            return None
        out.extend(block_theta)
    return np.asarray(out)

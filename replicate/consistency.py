"""Internal consistency of a printout, without the data.

A printed table carries redundant numbers: t is estimate / SE, p follows from t
and df, SD is the square root of the variance, AIC and BIC follow from the
log-likelihood and the parameter count, a chi-square's p from its df. Each check
here allows for the rounding of every printed input (interval arithmetic on the
printed precision), so it flags only what no rounding can explain — a wrong
statistic passed to ``pchisq``, a p-value computed with other df, a typo.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from typing import Any

from scipy import stats

from .boundary import boundary_findings
from .findings import Finding, interval
from .inference.fitstats import convention_of
from .printed import Printed


def df_interval(x: Any) -> tuple[float, float] | None:
    """Degrees of freedom printed without decimals are exact counts (HLM's 125, a
    chi-square test's 2); with decimals (Satterthwaite's 98.752) they are rounded."""
    if isinstance(x, Printed) and not x.bound and x.decimals == 0:
        return x.value, x.value
    return interval(x)


def _span(fn: Callable[..., float], *ivals: tuple[float, float]) -> tuple[float, float]:
    """Range of a function monotone in each argument over a box of intervals."""
    vals = []
    for corner in itertools.product(*ivals):
        try:
            v = fn(*corner)
        except (ZeroDivisionError, ValueError, OverflowError):
            continue
        if not math.isnan(v):
            vals.append(v)
    if not vals:
        return math.nan, math.nan
    return min(vals), max(vals)


def _overlap(a: tuple[float, float], b: tuple[float, float], rel: float = 1e-9) -> bool:
    lo, hi = b
    slack = rel * max(abs(lo) if math.isfinite(lo) else 0, abs(hi) if math.isfinite(hi) else 0)
    return a[0] <= hi + slack and lo - slack <= a[1]


def _check(out: list[Finding], where: str, what: str, printed: Any, rng: tuple[float, float]) -> None:
    iv = interval(printed)
    if iv is None or math.isnan(rng[0]):
        return
    text = printed.text if isinstance(printed, Printed) else str(printed)
    out.append(Finding(where, what, text, rng[0], rng[1], _overlap(iv, rng)))


def _p_t(t: float, df: float) -> float:
    return float(2 * stats.t.sf(abs(t), df)) if math.isfinite(df) else float(2 * stats.norm.sf(abs(t)))


def check_block(values: Mapping[str, Any], method: str | None = None, software: str | None = None) -> list[Finding]:
    """Every consistency check that a block's printed values allow (``software`` picks the
    program's definitions of AIC and BIC; see :mod:`replicate.inference.fitstats`)."""

    convention = convention_of(software)
    sas = convention == "sas"
    out: list[Finding] = []
    for term, q in (values.get("fixed") or {}).items():
        est, se, t, p = (interval(q.get(k)) for k in ("estimate", "se", "t", "p"))
        df = df_interval(q.get("df"))
        t_use: tuple[float, float] | None
        if est and se and se[0] > 0:
            t_rng = _span(lambda e, s: e / s, est, se)
            if t:
                _check(out, f"fixed {term} t", "t = estimate / SE", q["t"], t_rng)
            t_use = t if t and math.isfinite(t[0]) else t_rng
        else:
            t_use = t
        if p and t_use and df and df[0] > 0:
            lo_abs = 0.0 if t_use[0] <= 0 <= t_use[1] else min(abs(t_use[0]), abs(t_use[1]))
            hi_abs = max(abs(t_use[0]), abs(t_use[1]))
            _check(
                out,
                f"fixed {term} p",
                "p = 2 P(T > |t|) with the printed df",
                q["p"],
                _span(_p_t, (lo_abs, hi_abs), df),
            )
    for grp, comps in (values.get("random") or {}).items():
        items = {"": comps} if grp == "Residual" else comps
        for comp, q in items.items():
            name = f"{grp} {comp}".strip()
            var, sd = interval(q.get("variance")), interval(q.get("sd"))
            if var and sd and sd[0] >= 0:
                _check(
                    out,
                    f"random {name} variance",
                    "variance = SD^2",
                    q["variance"],
                    _span(lambda s: s * s, (max(sd[0], 0.0), sd[1])),
                )
            chisq, df, p = interval(q.get("chisq")), df_interval(q.get("df")), interval(q.get("p"))
            if chisq and df and p:
                _check(
                    out,
                    f"random {name} p",
                    "p = P(chi-square(df) > statistic)",
                    q["p"],
                    _span(lambda x, d: float(stats.chi2.sf(x, d)), chisq, df),
                )
    fit = values.get("fit") or {}
    ll = interval(fit.get("loglik"))
    m2 = interval(fit.get("reml_criterion") if method == "REML" else None) or interval(fit.get("deviance"))
    if not ll and m2 and fit.get("aic") is not None:  # SAS prints -2 log L, not log L
        ll = (-m2[1] / 2, -m2[0] / 2)
    if ll:
        if fit.get("deviance") is not None:
            _check(out, "fit deviance", "deviance = -2 logLik", fit["deviance"], _span(lambda v: -2 * v, ll))
        if fit.get("reml_criterion") is not None and method == "REML":
            _check(
                out,
                "fit reml_criterion",
                "REML criterion = -2 logLik",
                fit["reml_criterion"],
                _span(lambda v: -2 * v, ll),
            )
        aic = interval(fit.get("aic"))
        if aic:
            k_rng = _span(lambda a, v: (a + 2 * v) / 2, aic, ll)
            k = round((k_rng[0] + k_rng[1]) / 2)
            npar = fit.get("npar")
            if npar is not None:
                k = int(npar.value if isinstance(npar, Printed) else npar)
            _check(
                out,
                "fit aic",
                f"AIC = -2 logLik + 2k with k = {k} parameters",
                fit["aic"],
                _span(lambda v: -2 * v + 2 * k, ll),
            )
            bic, n = interval(fit.get("bic")), fit.get("nobs")
            groups = fit.get("ngroups") or {}
            what = "n"
            if sas and len(groups) == 1:  # SAS's BIC counts subjects
                n, what = next(iter(groups.values())), "subjects"
            elif sas:
                n = None
            elif convention == "nlme" and method == "REML" and n is not None and values.get("fixed"):
                # nlme's BIC of a REML fit uses n - p
                n = float(n.value if isinstance(n, Printed) else n) - len(values["fixed"])
                what = "n - p"
            if bic and n is not None:
                nval = float(n.value if isinstance(n, Printed) else n)
                _check(
                    out,
                    "fit bic",
                    f"BIC = -2 logLik + k log({what}) with k = {k}, {what} = {nval:g}",
                    fit["bic"],
                    _span(lambda v: -2 * v + k * math.log(nval), ll),
                )
    for name, q in (values.get("tests") or {}).items():
        stat, p = interval(q.get("statistic")), interval(q.get("p"))
        df, ddf = df_interval(q.get("df")), df_interval(q.get("ddf"))
        dist = q.get("dist", "chisq")
        if q.get("deviances"):
            d0, d1 = (interval(v) for v in q["deviances"])
            if d0 and d1:
                _check(
                    out,
                    f"tests {name} statistic",
                    "statistic = difference of the two deviances",
                    q["statistic"],
                    _span(lambda a, b: abs(a - b), d0, d1),
                )
        if q.get("logliks"):
            l0, l1 = (interval(v) for v in q["logliks"])
            if l0 and l1:
                _check(
                    out,
                    f"tests {name} statistic",
                    "statistic = 2 x difference of the log-likelihoods",
                    q["statistic"],
                    _span(lambda a, b: 2 * abs(a - b), l0, l1),
                )
        if stat and df and p:
            if dist == "F" and ddf:
                rng = _span(lambda x, a, b: float(stats.f.sf(x, a, b)), stat, df, ddf)
                what = "p = P(F(df, ddf) > statistic)"
            elif dist == "t":
                rng = _span(lambda x, d: _p_t(x, d), stat, df)
                what = "p = 2 P(T(df) > |statistic|)"
            elif dist == "chibarsq":
                rng = _span(
                    lambda x, d: (
                        float(0.5 * stats.chi2.sf(x, d) + 0.5 * stats.chi2.sf(x, max(d - 1, 0)))
                        if d > 1
                        else float(0.5 * stats.chi2.sf(x, 1))
                    ),
                    stat,
                    df,
                )
                what = "p from the chi-bar-square mixture"
            else:
                rng = _span(lambda x, d: float(stats.chi2.sf(x, d)), stat, df)
                what = "p = P(chi-square(df) > statistic)"
            _check(out, f"tests {name} p", what, q["p"], rng)
    for key in ("residuals", "scaled_residuals"):
        _check_quantiles(out, key, fit.get(key) or {})
    return out + boundary_findings(values)


def _check_quantiles(out: list[Finding], key: str, q: dict[str, Any]) -> None:
    """Printed Min, 1Q, Median, 3Q, Max must be in order (each may be tied with its neighbour)."""
    order = [k for k in ("min", "q1", "median", "q3", "max") if k in q]
    for a, b in itertools.pairwise(order):
        lo, hi = interval(q[a]), interval(q[b])
        if lo and hi:
            _check(out, f"fit {key} {b}", f"quantiles in order: {b} >= {a}", q[b], (lo[0], math.inf))

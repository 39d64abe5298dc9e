"""From per-replicate records to bias, RMSE, coverage, Type I error and power, each with
its Monte Carlo standard error (MCSE).

With R usable replicates (Morris, White & Crowther 2019, Stat. Med. 38:2074, table 6):

* bias ``mean(est) - true``, MCSE ``sd(est) / sqrt(R)``;
* RMSE ``sqrt(mean((est - true)^2))``, MCSE by the delta method
  ``sd((est - true)^2) / (2 RMSE sqrt(R))``;
* empirical SE ``sd(est)``, MCSE ``sd(est) / sqrt(2 (R - 1))``;
* a proportion P (coverage of the ``1 - alpha`` interval, rejection of
  ``beta = 0`` at level alpha), MCSE ``sqrt(P (1 - P) / R)``. Rejection is the
  Type I error where the true value is 0 and the power elsewhere.

Intervals and tests are ``estimate +- t_{1 - alpha/2, df} SE`` for each
combination of estimation method, df method and SE kind. A replicate enters a
row only if every number that row needs was computed (R is given per row).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from .config import Study
from .theory import between_df, residual_df, study_theory


@dataclass
class Summary:
    """All result tables of a study (lists of plain dicts, ready for JSON)."""

    replicates: int
    fixed: list[dict[str, Any]] = field(default_factory=list)
    variance: list[dict[str, Any]] = field(default_factory=list)
    tests: list[dict[str, Any]] = field(default_factory=list)
    fits: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def test(self, method: str, df: str, se: str, coefficient: str) -> dict[str, Any]:
        """The test row of one combination (KeyError if absent)."""
        for row in self.tests:
            if (row["estimation"], row["df"], row["se"], row["coefficient"]) == (method, df, se, coefficient):
                return row
        raise KeyError((method, df, se, coefficient))

    def variance_row(self, method: str, name: str) -> dict[str, Any]:
        for row in self.variance:
            if (row["estimation"], row["parameter"]) == (method, name):
                return row
        raise KeyError((method, name))

    def fixed_row(self, method: str, coefficient: str) -> dict[str, Any]:
        for row in self.fixed:
            if (row["estimation"], row["coefficient"]) == (method, coefficient):
                return row
        raise KeyError((method, coefficient))


def _arr(values: Iterable[Any]) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=float)


def _prop(hits: np.ndarray) -> tuple[float, float]:
    R = hits.size
    if R == 0:
        return math.nan, math.nan
    p = float(np.mean(hits))
    return p, math.sqrt(p * (1 - p) / R)


def _location(est: np.ndarray, true: float) -> dict[str, float]:
    R = est.size
    if R == 0:
        return {"n": 0}
    mean = float(np.mean(est))
    sd = float(np.std(est, ddof=1)) if R > 1 else math.nan
    err2 = (est - true) ** 2
    mse = float(np.mean(err2))
    rmse = math.sqrt(mse)
    sd2 = float(np.std(err2, ddof=1)) if R > 1 else math.nan
    return {
        "n": int(R),
        "mean": mean,
        "bias": mean - true,
        "bias_mcse": sd / math.sqrt(R),
        "rmse": rmse,
        "rmse_mcse": sd2 / (2 * rmse * math.sqrt(R)) if rmse > 0 else math.nan,
        "emp_se": sd,
        "emp_se_mcse": sd / math.sqrt(2 * (R - 1)) if R > 1 else math.nan,
    }


def _se_relative_error(se: np.ndarray, emp_se: float, kind: str) -> dict[str, float]:
    """Relative error of the model SE, ``ModSE / EmpSE - 1`` with ``ModSE = sqrt(mean(SE^2))``, and its MCSE.

    Morris, White and Crowther (2019), table 6 (as a fraction, not a percentage).
    """
    R = se.size
    if R < 2 or not math.isfinite(emp_se) or emp_se <= 0:
        return {f"se_relative_error_{kind}": math.nan, f"se_relative_error_{kind}_mcse": math.nan}
    mod = math.sqrt(float(np.mean(se**2)))
    ratio = mod / emp_se
    var_se2 = float(np.var(se**2, ddof=1))
    mcse = ratio * math.sqrt(var_se2 / (4 * R * mod**4) + 1 / (2 * (R - 1)))
    return {f"se_relative_error_{kind}": ratio - 1, f"se_relative_error_{kind}_mcse": mcse}


def summarize(study: Study, records: list[dict[str, Any]]) -> Summary:
    """Compute every table from the records (in replicate order, whatever order they came in)."""
    records = sorted(records, key=lambda r: r["r"])
    names = study.coefficients
    truth = study.truth.fixed_dict
    vcs = study.variance_components
    alpha = study.alpha
    theory = study_theory(study)
    out = Summary(replicates=len(records))
    z = float(stats.norm.ppf(1 - alpha / 2))

    for m in study.methods.estimation:
        recs = [r.get(m) for r in records]
        ok = [x for x in recs if x and x.get("ok")]
        failed = [x for x in recs if not (x and x.get("ok"))]
        errs: Counter[str] = Counter()
        for x in recs:
            if not x:
                continue
            for k, v in (x.get("errors") or {}).items():
                errs[f"{k}: {v.split(':')[0]}"] += 1
        missing_design = sum(1 for r in records if "error" in r)
        out.fits.append(
            {
                "estimation": m,
                "replicates": len(records),
                "fitted": len(ok),
                "failed": len(failed),
                "not_converged": sum(1 for x in ok if not x.get("converged", True)),
                "singular": sum(1 for x in ok if x.get("singular")),
                "design_errors": missing_design,
                "errors": dict(errs.most_common(10)),
            }
        )
        if not ok:
            continue
        est = np.array([_arr(x["estimate"]) for x in ok])  # (R, p)
        for j, c in enumerate(names):
            col = est[:, j]
            col = col[np.isfinite(col)]
            row: dict[str, Any] = {"estimation": m, "coefficient": c, "true": truth[c]}
            row.update(_location(col, truth[c]))
            for kind in study.methods.se:
                se = np.array([_arr(x["se"][kind])[j] for x in ok])
                se = se[np.isfinite(se)]
                row[f"mean_se_{kind}"] = float(np.mean(se)) if se.size else math.nan
                row[f"mean_se_{kind}_mcse"] = (
                    float(np.std(se, ddof=1) / math.sqrt(se.size)) if se.size > 1 else math.nan
                )
                row.update(_se_relative_error(se, row.get("emp_se", math.nan), kind))
            out.fixed.append(row)

        vc = np.array([_arr(x["vc"]) for x in ok])
        th = theory.get(m) if theory else None
        for j, (name, true) in enumerate(vcs):
            col = vc[:, j]
            col = col[np.isfinite(col)]
            row = {"estimation": m, "parameter": name, "true": true}
            row.update(_location(col, true))
            if col.size:
                row["relative"] = row["mean"] / true if true != 0 else math.nan
                row["relative_mcse"] = row["bias_mcse"] / abs(true) if true != 0 else math.nan
                row["share_zero"] = float(np.mean(col <= 1e-10 * max(1.0, abs(true)))) if j == 0 else math.nan
            if th is not None and j == 0:
                row["theory_mean"] = th.tau
                row["theory_factor"] = th.factor
                row["theory_boundary"] = th.boundary
            elif th is not None and name == "var(Residual)":
                row["theory_mean"] = th.sigma2
            out.variance.append(row)

        regular = np.array([not x.get("singular") for x in ok], dtype=bool)
        for dfm in study.methods.df:
            for kind in study.methods.se:
                for j, c in enumerate(names):
                    e = est[:, j]
                    se = np.array([_arr(x["se"][kind])[j] for x in ok])
                    df = np.array([_arr(x["df"][dfm])[j] for x in ok])
                    use = np.isfinite(e) & np.isfinite(se) & ~np.isnan(df) & (se > 0) & (df > 0)
                    nonsingular = regular[use]
                    e, se, df = e[use], se[use], df[use]
                    crit = np.where(df >= 1e299, z, stats.t.ppf(1 - alpha / 2, np.minimum(df, 1e299)))
                    covered = np.abs(e - truth[c]) <= crit * se
                    covered_be = np.abs(e - np.mean(e)) <= crit * se if e.size else covered
                    width = 2 * crit * se
                    reject = np.abs(e) > crit * se
                    cov, cov_se = _prop(covered)
                    rej, rej_se = _prop(reject)
                    row = {
                        "estimation": m,
                        "df": dfm,
                        "se": kind,
                        "coefficient": c,
                        "true": truth[c],
                        "n": int(use.sum()),
                        "coverage": cov,
                        "coverage_mcse": cov_se,
                        "rejection": rej,
                        "rejection_mcse": rej_se,
                        "kind": "type I error" if truth[c] == 0 else "power",
                        "mean_df": float(np.mean(df)) if df.size else math.nan,
                        "median_df": float(np.median(df)) if df.size else math.nan,
                    }
                    row["bias_eliminated_coverage"], row["bias_eliminated_coverage_mcse"] = _prop(covered_be)
                    # the same without the singular fits (a variance estimated at 0)
                    row["n_nonsingular"] = int(nonsingular.sum())
                    row["rejection_nonsingular"], row["rejection_nonsingular_mcse"] = _prop(reject[nonsingular])
                    row["coverage_nonsingular"], row["coverage_nonsingular_mcse"] = _prop(covered[nonsingular])
                    row["mean_width"] = float(np.mean(width)) if width.size else math.nan
                    row["mean_width_mcse"] = (
                        float(np.std(width, ddof=1) / math.sqrt(width.size)) if width.size > 1 else math.nan
                    )
                    if th is not None and kind == "model" and dfm in ("residual", "between-within"):
                        d = residual_df(study) if dfm == "residual" else between_df(study)
                        row["theory_coverage"] = 1.0 - th.rejection(d, alpha)
                        if truth[c] == 0:
                            row["theory_rejection"] = th.rejection(d, alpha)
                    out.tests.append(row)
    if theory:
        out.notes.append(
            "Balanced one-way design with level-2 fixed effects only: the 'theory' columns are exact "
            "expectations (numerical integration over the chi-square distributions of the between- and "
            "within-group sums of squares, boundary estimates included); see replicate/simulate/theory.py."
        )
    return out

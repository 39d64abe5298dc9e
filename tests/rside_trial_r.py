"""The live nlme/emmeans run behind ``cases/mmrm-trial-un-nlme.yaml`` (shared by its test and by whoever
re-writes the case): ``gls`` with UN (``corSymm`` + ``varIdent``) by REML on the shipped trial, its
coefficient table with gls's n - p df, SAS's UN(i,j) from ``getVarCov`` of a subject with every visit, the fit
statistics, and emmeans's LS-means of ARM x VISIT and the arm difference at each visit with the same df."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SHIPPED = Path(__file__).resolve().parents[1] / "replicate" / "datasets" / "mmrm_trial.csv"

#: The R function (constant text; only the data path reaches it, as an argument).
GLS_TRIAL = """
function(path) {
  d <- utils::read.csv(path, stringsAsFactors = FALSE)
  d$VISIT <- factor(d$VISIT, levels = paste0("VIS", 1:6)); d$ARM <- factor(d$ARM, levels = c("PBO", "TRT"))
  ctl <- nlme::glsControl(tolerance = 1e-12, msTol = 1e-12, maxIter = 1000, msMaxIter = 1000)
  f <- nlme::gls(CHG ~ BASE + ARM * VISIT, data = d, correlation = nlme::corSymm(form = ~ AVISITN | USUBJID),
                 weights = nlme::varIdent(form = ~ 1 | VISIT), method = "REML", control = ctl)
  df <- f$dims$N - f$dims$p
  full <- names(which(table(d$USUBJID) == 6))[1]
  v <- unclass(nlme::getVarCov(f, individual = full))
  e <- update(emmeans::emmeans(f, ~ ARM * VISIT, data = d, mode = "df.error"), df = df)
  s <- as.data.frame(summary(e, infer = c(FALSE, TRUE)))
  p <- as.data.frame(summary(pairs(update(emmeans::emmeans(f, ~ ARM | VISIT, data = d, mode = "df.error"), df = df)),
                             infer = c(FALSE, TRUE)))
  list(tt = summary(f)$tTable, names = names(stats::coef(f)), df = df, v = v,
       fit = c(loglik = as.numeric(logLik(f)), aic = AIC(f), bic = BIC(f), nobs = f$dims$N),
       lsm = s, lsm_arm = as.character(s$ARM), lsm_visit = as.character(s$VISIT),
       diffs = p, diff_visit = as.character(p$VISIT))
}
"""


def trial_values(ro: Any) -> dict[str, Any]:
    """The case block's values section as nlme and emmeans give it now."""
    out = ro.r(GLS_TRIAL)(str(SHIPPED))
    tt, names, df = out.rx2("tt"), list(out.rx2("names")), float(out.rx2("df")[0])
    fixed = {
        n: {
            "estimate": float(tt.rx(i + 1, 1)[0]),
            "se": float(tt.rx(i + 1, 2)[0]),
            "df": df,
            "t": float(tt.rx(i + 1, 3)[0]),
            "p": float(tt.rx(i + 1, 4)[0]),
        }
        for i, n in enumerate(names)
    }
    v = out.rx2("v")
    covparms = {f"UN({i},{j})": {"estimate": float(v.rx(i, j)[0])} for i in range(1, 7) for j in range(1, i + 1)}
    fit = dict(zip(out.rx2("fit").names, (float(x) for x in out.rx2("fit")), strict=True))
    cols = {"estimate": "emmean", "se": "SE", "df": "df", "t": "t.ratio", "p": "p.value"}
    lsm, arms, visits = out.rx2("lsm"), list(out.rx2("lsm_arm")), list(out.rx2("lsm_visit"))
    lsmeans = {
        f"{a}, {vis}": {q: float(lsm.rx2(c)[k]) for q, c in cols.items()}
        for k, (a, vis) in enumerate(zip(arms, visits, strict=True))
    }
    diffs_r, dv = out.rx2("diffs"), list(out.rx2("diff_visit"))
    cols["estimate"] = "estimate"
    diffs = {
        f"PBO, {vis} - TRT, {vis}": {q: float(diffs_r.rx2(c)[k]) for q, c in cols.items()} for k, vis in enumerate(dv)
    }
    return {
        "fixed": fixed,
        "covparms": covparms,
        "fit": fit,
        "lsmeans": {"ARM*VISIT": lsmeans},
        "diffs": {"ARM*VISIT": diffs},
    }

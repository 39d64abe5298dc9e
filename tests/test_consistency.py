"""Internal consistency of printouts, checked without data."""

from pathlib import Path

import pytest

from replicate.case import load_case
from replicate.consistency import check_block
from replicate.findings import interval
from replicate.printed import Printed

CASES = Path(__file__).resolve().parents[1] / "cases"


def test_seed004_pchisq_of_the_wrong_statistic_is_flagged():
    case = load_case(CASES / "seed004-nels-family-inc.yaml")
    findings = check_block(case.expected[1]["values"], "ML")
    bad = [f for f in findings if not f.ok]
    assert [f.where for f in bad] == ["tests pchisq-in-14 statistic"]
    assert bad[0].low == pytest.approx(8.11, abs=1e-6) and bad[0].high == pytest.approx(8.13, abs=1e-6)
    # the anova table itself is consistent: chi-square, its df and p, AIC/BIC from logLik
    ok = {f.where for f in findings if f.ok}
    assert {"tests anova-model.1-model.2 p", "fit aic", "fit bic", "fit deviance"} <= ok


def test_seed000_printouts_are_consistent():
    case = load_case(CASES / "seed000-nels-urban-hlm-sas.yaml")
    for blk in case.expected:
        findings = check_block(blk["values"], "REML")
        assert findings and all(f.ok for f in findings), [f for f in findings if not f.ok]


def test_a_p_value_from_other_df_is_flagged(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("""id: t
title: t
data: {unavailable: x}
model: {formula: y ~ x + (1|g)}
expected:
  - software: other
    source: s
    values:
      fixed:
        x: {estimate: 2.4341, se: 1.3093, t: 1.859, df: 211.2083, p: 0.0644}
        w: {estimate: 2.4341, se: 1.3093, t: 1.859, df: 5, p: 0.0644}
        v: {estimate: 2.4341, se: 1.3093, t: 1.95, df: 211.2083}
      random:
        g:
          (Intercept): {variance: 309, sd: 17.58}
          x: {variance: 309, sd: 18.58}
""")
    case = load_case(p)
    bad = {f.where for f in check_block(case.expected[0]["values"]) if not f.ok}
    assert bad == {"fixed w p", "fixed v t", "random g x variance"}


def test_intervals_follow_printed_precision():
    assert interval(Printed(0.546, "0.5460")) == pytest.approx((0.54595, 0.54605))
    lo, hi = interval(Printed(2e-16, "<2e-16", bound="<"))
    assert hi == 2e-16 and lo == float("-inf")


def test_nlme_reml_bic_uses_n_minus_p():
    from replicate.printed import Printed

    # imm23-null's nlme-live numbers: BIC = REML criterion + 3 log(519 - 1)
    values = {
        "fixed": {"(Intercept)": {"estimate": 50.75885438476988}},
        "fit": {
            "loglik": Printed(-1899.3393055203385, "-1899.3393055203385"),
            "aic": Printed(3804.678611040677, "3804.678611040677"),
            "bic": Printed(3817.4285367674556, "3817.4285367674556"),
            "nobs": 519,
        },
    }
    nlme = {f.where: f.ok for f in check_block(values, "REML", "nlme")}
    assert nlme["fit bic"] is True
    lme4 = {f.where: f.ok for f in check_block(values, "REML", "lme4")}
    assert lme4["fit bic"] is False  # under lme4's log(n) the same number is inconsistent

"""Real-copy variations: tabs, non-breaking spaces, blank lines, wrapped headers,
scientific notation, stars, Unicode minus, CRLF; layouts the seeds do not show.

Texts marked "constructed" below are written for these tests in each
program's printed layout; their numbers are made up and are not results of
any fit.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from replicate.case_yaml import load_yaml
from replicate.errors import ReferenceError_, ReplicateError
from replicate.printed import Printed
from replicate.references import SOFTWARE, guess_software, parse_printout, parse_printouts, split_printouts
from replicate.references.numbers import parse_number, tokens
from tests.rsupport import printed_texts as texts

PRINTOUTS = Path(__file__).resolve().parents[1] / "data" / "printouts"


def seed(name: str) -> str:
    return (PRINTOUTS / name).read_text(encoding="utf-8")


LMER = "lmertest_mathgain_ses_mathknow.txt"
BASE = parse_printout(seed(LMER), "lmerTest")


# ------------------------------------------------------------ numbers


@pytest.mark.parametrize(
    "token, value, bound",
    [
        ("0.5460", 0.546, ""),
        ("-0.449983", -0.449983, ""),
        ("4.060e+01", 40.6, ""),
        ("2.35e-11", 2.35e-11, ""),
        ("<2e-16", 2e-16, "<"),
        ("< 2e-16", 2e-16, "<"),
        ("<.0001", 1e-4, "<"),
        ("<0.001", 1e-3, "<"),
        (">.500", 0.5, ">"),
        ("<=0.05", 0.05, "<="),
        ("-2.355840E+004", -23558.4, ""),
        ("Inf", float("inf"), ""),
        (".5", 0.5, ""),
        ("+3", 3.0, ""),
    ],
)
def test_parse_number(token: str, value: float, bound: str) -> None:
    p = parse_number(token)
    assert p is not None
    assert p.value == pytest.approx(value) and p.bound == bound and p.text == token


@pytest.mark.parametrize("token", ["NA", ".", "abc", "1.2.3", "e5", "--1", "1e", "", "(Intr)", "0x10", "NaN"])
def test_not_numbers(token: str) -> None:
    assert parse_number(token) is None


def test_tokens_join_a_lone_bound_to_its_number() -> None:
    assert tokens("ses 10.7 < 2e-16 ***") == ["ses", "10.7", "< 2e-16", "***"]
    assert tokens("a < b") == ["a", "<", "b"]


# ------------------------------------------------------------ lme4 copy damage


def _same_values(text: str, software: str = "lmerTest") -> None:
    parsed = parse_printout(text, software)
    assert texts(parsed.values) == texts(BASE.values)
    assert parsed.unparsed == []


def test_tab_separated_copy() -> None:
    _same_values(re.sub(r"(?<=\S) {2,}", "\t", seed(LMER)))


def test_non_breaking_spaces() -> None:
    _same_values(seed(LMER).replace(" ", "\u00a0"))


def test_blank_lines_between_rows() -> None:
    _same_values(seed(LMER).replace("\n", "\n\n"))


def test_crlf_and_no_knitr_prefix() -> None:
    text = "\r\n".join(re.sub(r"^## ?", "", ln) for ln in seed(LMER).splitlines())
    _same_values(text)


def test_reprex_prefix() -> None:
    _same_values(seed(LMER).replace("## ", "#> "))


def test_unicode_minus_becomes_ascii() -> None:
    text = seed("lme4_nels_model4_ml_slope_only.txt").replace("-0.89", "\u22120.89")
    parsed = parse_printout(text, "lme4")
    corr = parsed.values["random"]["sch_id"]["(Intercept), family_inc"]["corr"]
    assert corr.text == "-0.89" and corr.value == -0.89


def test_stars_and_spaced_bounds() -> None:
    text = """Fixed effects:
            Estimate Std. Error       df t value Pr(>|t|)
(Intercept)  465.746      2.058   98.752 226.337  < 2e-16 ***
a              1.000      0.500  100.000   2.000   0.0480 *
b              1.000      0.550  100.000   1.818   0.0721 .
c              1.000      0.100  100.000  10.000  < 2e-16
d              0.100      1.000  100.000   0.100   0.9206
---
Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1
"""
    parsed = parse_printout(text, "lmerTest")
    f = texts(parsed.values["fixed"])
    assert f["b"]["p"] == "0.0721" and f["a"]["p"] == "0.0480" and f["c"]["p"] == "< 2e-16"
    assert list(f) == ["(Intercept)", "a", "b", "c", "d"]
    assert parsed.unparsed == []


def test_wrapped_value_and_header_are_joined() -> None:
    text = (
        "Fixed effects:\n\tEstimate\tStd. Error\tdf\tt value\tPr(> t\n)\t\t\n"
        "(Intercept)\t41.11556\t0.46980\t4165.00000\t87.517\t<2e-1\n6 ***\t\t\n"
        "urban\t-0.82167\t0.36348\t627.00000\t-2.261\t0.024\n\n1 *\n"
    )
    f = texts(parse_printout(text, "lmerTest").values["fixed"])
    assert f["(Intercept)"]["p"] == "<2e-16" and f["urban"]["p"] == "0.0241"


def test_three_correlated_terms_and_two_groups() -> None:
    # constructed (lme4 layout)
    text = """Random effects:
 Groups   Name        Variance Std.Dev. Corr       
 g        (Intercept) 4.00     2.000               
          x           1.00     1.000    0.10       
          z           0.25     0.500    -0.20 0.30 
 h        (Intercept) 9.00     3.000               
 Residual             16.00    4.000               
Number of obs: 500, groups:  g, 50; h, 10
"""
    parsed = parse_printout(text, "lme4")
    assert texts(parsed.values["random"]) == {
        "g": {
            "(Intercept)": {"variance": "4.00", "sd": "2.000"},
            "x": {"variance": "1.00", "sd": "1.000"},
            "(Intercept), x": {"corr": "0.10"},
            "z": {"variance": "0.25", "sd": "0.500"},
            "(Intercept), z": {"corr": "-0.20"},
            "x, z": {"corr": "0.30"},
        },
        "h": {"(Intercept)": {"variance": "9.00", "sd": "3.000"}},
        "Residual": {"variance": "16.00", "sd": "4.000"},
    }
    assert texts(parsed.values["fit"]) == {"nobs": "500", "ngroups": {"g": "50", "h": "10"}}


def test_varcorr_and_coef_tables_on_their_own() -> None:
    # constructed: print(VarCorr(fit)) and coef(summary(fit)) without the summary around them
    text = """> VarCorr(fit)
 Groups   Name        Std.Dev.
 schoolid (Intercept) 17.58   
 Residual             36.16   
> coef(summary(fit))
            Estimate Std. Error        df   t value     Pr(>|t|)
(Intercept) 465.7461   2.057771   98.7518 226.33700 2.000000e-140
ses          10.7217   1.589114 1187.9950   6.74702 2.350000e-11
"""
    parsed = parse_printout(text, "lmerTest")
    assert texts(parsed.values["random"]) == {"schoolid": {"(Intercept)": {"sd": "17.58"}}, "Residual": {"sd": "36.16"}}
    assert texts(parsed.values["fixed"]["ses"]) == {
        "estimate": "10.7217",
        "se": "1.589114",
        "df": "1187.9950",
        "t": "6.74702",
        "p": "2.350000e-11",
    }


def test_lmertest_type3_anova_and_newer_lme4_ml_header() -> None:
    # constructed: lmerTest anova(m) and lme4 >= 1.1-36's '-2*log(L)' column
    text = """Linear mixed model fit by maximum likelihood . t-tests use Satterthwaite's method [
lmerModLmerTest]
Formula: y ~ x + (1 | g)
     AIC      BIC   logLik -2*log(L) df.resid 
  1000.0   1010.0   -496.0    992.0       96 

Type III Analysis of Variance Table with Satterthwaite's method
  Sum Sq Mean Sq NumDF  DenDF F value    Pr(>F)    
x 59.520  59.520     1 88.123  45.512 2.35e-09 ***
"""
    parsed = parse_printout(text, "lmerTest")
    assert texts(parsed.values["fit"]) == {"aic": "1000.0", "bic": "1010.0", "loglik": "-496.0", "deviance": "992.0"}
    assert texts(parsed.tables["anova"]) == {
        "x": {
            "Sum Sq": "59.520",
            "Mean Sq": "59.520",
            "NumDF": "1",
            "DenDF": "88.123",
            "F value": "45.512",
            "Pr(>F)": "2.35e-09",
        }
    }
    assert parsed.model_info["anova_df_method"] == "Satterthwaite's method"
    assert parsed.model_info["method"] == "ML"


def test_rows_that_cannot_be_read_are_reported_not_guessed() -> None:
    text = """Fixed effects:
            Estimate Std. Error       df t value Pr(>|t|)
(Intercept)  465.746      2.058   98.752 226.337  < 2e-16 ***
ses           10.722      1.589 1187.995
mathknow       2.434      1.309  211.208   1.859   0.0644   9.99
"""
    parsed = parse_printout(text, "lmerTest")
    assert list(parsed.values["fixed"]) == ["(Intercept)"]
    assert [(u[0], u[1].split()[0]) for u in parsed.unparsed] == [(4, "ses"), (5, "mathknow")]
    assert "expected 5 numbers" in parsed.unparsed[0][2]


def test_a_second_summary_is_refused() -> None:
    text = seed(LMER) + "\n" + seed("lmertest_mathgain_null_insample.txt")
    with pytest.raises(ReferenceError_, match="more than one model summary") as exc:
        parse_printout(text, "lmerTest")
    assert exc.value.line is not None and exc.value.hint


def test_nlme_text_given_as_lme4_says_so() -> None:
    with pytest.raises(ReferenceError_, match="nlme"):
        parse_printout(NLME_INTERCEPT, "lme4")


# ------------------------------------------------------------ nlme (constructed layouts)

NLME_INTERCEPT = """> summary(fit)
Linear mixed-effects model fit by REML
  Data: dat 
       AIC      BIC    logLik
  12046.71 12067.03 -6019.356

Random effects:
 Formula: ~1 | schoolid
        (Intercept) Residual
StdDev:    17.57958 36.16411

Fixed effects:  mathkind ~ ses 
               Value Std.Error   DF   t-value p-value
(Intercept) 465.7461  2.058211 1082 226.28668       0
ses          10.7217  1.589122 1082   6.74698       0
 Correlation: 
    (Intr)
ses 0.034 

Standardized Within-Group Residuals:
        Min          Q1         Med          Q3         Max 
-4.74230780 -0.57158640  0.01875456  0.63429150  3.77629637 

Number of Observations: 1190
Number of Groups: 107 
"""

NLME_SLOPES = """Linear mixed-effects model fit by maximum likelihood
 Data: sleep 
       AIC      BIC    logLik
  1763.939 1783.097 -875.9697

Random effects:
 Formula: ~Days | Subject
 Structure: General positive-definite, Log-Cholesky parametrization
            StdDev    Corr  
(Intercept) 23.780537 (Intr)
Days         5.716790 0.081 
Residual    25.591909       

Fixed effects:  Reaction ~ Days 
                Value Std.Error  DF  t-value p-value
(Intercept) 251.40510  6.669396 161 37.69556       0
Days         10.46729  1.502308 161  6.96742       0

Number of Observations: 180
Number of Groups: 18 
> VarCorr(fit)
Subject = pdLogChol(Days) 
            Variance   StdDev    Corr  
(Intercept) 565.51605 23.780537 (Intr)
Days         32.68168  5.716790 0.081 
Residual    654.94588 25.591909       
> anova(fit)
            numDF denDF  F-value p-value
(Intercept)     1   161 1454.089  <.0001
Days            1   161   48.545  <.0001
"""

NLME_NESTED = """Linear mixed-effects model fit by REML
  Data: dat 
      AIC     BIC  logLik
  12048.4 12073.8 -6019.2

Random effects:
 Formula: ~1 | schoolid
        (Intercept)
StdDev:    17.36418

 Formula: ~1 | classid %in% schoolid
        (Intercept) Residual
StdDev:    4.521025 35.97330

Fixed effects:  mathkind ~ ses 
               Value Std.Error   DF   t-value p-value
(Intercept) 465.7487  2.057717 1082 226.34390       0
ses          10.6839  1.588582 1082   6.72545       0

Number of Observations: 1190
Number of Groups: 
             schoolid classid %in% schoolid 
                  107                   312 
"""


def test_nlme_random_intercept() -> None:
    parsed = parse_printout(NLME_INTERCEPT, "nlme")
    assert texts(parsed.values) == {
        "fixed": {
            "(Intercept)": {"estimate": "465.7461", "se": "2.058211", "df": "1082", "t": "226.28668", "p": "0"},
            "ses": {"estimate": "10.7217", "se": "1.589122", "df": "1082", "t": "6.74698", "p": "0"},
        },
        "random": {"schoolid": {"(Intercept)": {"sd": "17.57958"}}, "Residual": {"sd": "36.16411"}},
        "fit": {
            "aic": "12046.71",
            "bic": "12067.03",
            "loglik": "-6019.356",
            "nobs": "1190",
            "ngroups": {"schoolid": "107"},
        },
    }
    assert parsed.model_info["method"] == "REML"
    assert parsed.model_info["formula"] == "mathkind ~ ses"
    assert parsed.unparsed == []
    assert guess_software(NLME_INTERCEPT) == "nlme"


def test_nlme_slopes_varcorr_and_anova() -> None:
    parsed = parse_printout(NLME_SLOPES, "nlme")
    assert texts(parsed.values["random"]) == {
        "Subject": {
            "(Intercept)": {"sd": "23.780537", "variance": "565.51605"},
            "Days": {"sd": "5.716790", "variance": "32.68168"},
            "(Intercept), Days": {"corr": "0.081"},
        },
        "Residual": {"sd": "25.591909", "variance": "654.94588"},
    }
    assert texts(parsed.tables["anova"]["Days"]) == {
        "numDF": "1",
        "denDF": "161",
        "F-value": "48.545",
        "p-value": "<.0001",
    }
    assert parsed.model_info["method"] == "ML"
    assert parsed.unparsed == []


def test_nlme_nested_groups() -> None:
    parsed = parse_printout(NLME_NESTED, "nlme")
    assert texts(parsed.values["random"]) == {
        "schoolid": {"(Intercept)": {"sd": "17.36418"}},
        "classid %in% schoolid": {"(Intercept)": {"sd": "4.521025"}},
        "Residual": {"sd": "35.97330"},
    }
    assert texts(parsed.values["fit"]["ngroups"]) == {"schoolid": "107", "classid %in% schoolid": "312"}
    assert parsed.unparsed == []


# ------------------------------------------------------------ SAS (seed variations, constructed listing)

SAS = "sas_glimmix_model3.txt"


def test_sas_header_split_over_lines_and_tabs() -> None:
    base = parse_printout(seed(SAS), "sas")
    text = (
        seed(SAS)
        .replace("Effect Estimate Standard Error DF", "Effect\tEstimate\tStandard\nError\tDF")
        .replace("Cov Parm Estimate Standard Error", "Cov Parm\tEstimate\tStandard\nError")
    )
    text = re.sub(r"(?m)^(Intercept|urban|schoolID|Residual) ", r"\1\t", text)
    parsed = parse_printout(text, "sas")
    assert texts(parsed.values) == texts(base.values)
    assert parsed.unparsed == []


def test_sas_ods_output_column_names() -> None:
    # constructed: a PROC PRINT of the ODS SolutionF data set uses the variable names
    text = (
        "Solution for Fixed Effects\nEffect Estimate StdErr DF tValue Probt\n"
        "Intercept 52.6434 0.5460 95.01 96.41 <.0001\n"
    )
    assert texts(parse_printout(text, "sas").values["fixed"]) == {
        "Intercept": {"estimate": "52.6434", "se": "0.5460", "df": "95.01", "t": "96.41", "p": "<.0001"}
    }


SAS_LISTING = """                                 The SAS System        10:23 Monday, April 1, 2019   1

                                  The Mixed Procedure

                                   Model Information

                 Data Set                     WORK.CLASS
                 Dependent Variable           mathgain
                 Covariance Structure         Unstructured
                 Subject Effect               schoolid
                 Estimation Method            REML
                 Residual Variance Method     Profile
                 Fixed Effects SE Method      Prasad-Rao-Jeske-Kackar-Harville
                 Degrees of Freedom Method    Kenward-Roger

                               Class Level Information

                    Class       Levels    Values

                    schoolid        20    1 2 3 4 5 6 7 8 9 10 11 12 13
                                          14 15 16 17 18 19 20
                    sex              2    F M

                                      Dimensions

                          Covariance Parameters             4
                          Columns in X                      5
                          Columns in Z per Subject          2
                          Subjects                         20
                          Max Obs per Subject              31

                               Number of Observations

                     Number of Observations Read             500
                     Number of Observations Used             498
                     Number of Observations Not Used           2

                                   Iteration History

                Iteration    Evaluations    -2 Res Log Like       Criterion

                        0              1      5205.01234567
                        1              3      5034.12345678      0.00000012

                               Convergence criteria met.
\f
                                 The SAS System        10:23 Monday, April 1, 2019   2

                           Covariance Parameter Estimates

                                                 Standard         Z
              Cov Parm     Subject    Estimate       Error     Value        Pr > Z

              UN(1,1)      schoolid     301.50     55.1234      5.47        <.0001
              UN(2,1)      schoolid     -12.30      20.000     -0.62        0.5386
              UN(2,2)      schoolid      15.20     10.5000      1.45        0.0738
              Residual                 1290.00     55.0000     23.45        <.0001

                                    Fit Statistics

                         -2 Res Log Likelihood          5034.1
                         AIC (Smaller is Better)        5042.1
                         AICC (Smaller is Better)       5042.2
                         BIC (Smaller is Better)        5046.1

                          Solution for Fixed Effects

                                         Standard
          Effect       sex    Estimate       Error      DF    t Value    Pr > |t|

          Intercept            465.10      2.5000    22.1     186.04      <.0001
          ses                   10.50      1.6000    19.8       6.56      <.0001
          sex          F        -1.20      2.1000     480      -0.57      0.5681
          sex          M            0           .       .        .         .
          ses*sex      F         0.30      1.1000     480       0.27      0.7851
          ses*sex      M            0           .       .        .         .

                        Type 3 Tests of Fixed Effects

                              Num     Den
                Effect         DF      DF    F Value    Pr > F

                ses             1    19.8      45.20    <.0001
                sex             1     480       0.33    0.5681
                ses*sex         1     480       0.07    0.7851
"""


def test_sas_mixed_listing() -> None:
    # constructed (PROC MIXED listing layout)
    parsed = parse_printout(SAS_LISTING, "sas")
    assert texts(parsed.values) == {
        "fixed": {
            "Intercept": {"estimate": "465.10", "se": "2.5000", "df": "22.1", "t": "186.04", "p": "<.0001"},
            "ses": {"estimate": "10.50", "se": "1.6000", "df": "19.8", "t": "6.56", "p": "<.0001"},
            "sex F": {"estimate": "-1.20", "se": "2.1000", "df": "480", "t": "-0.57", "p": "0.5681"},
            "ses*sex F": {"estimate": "0.30", "se": "1.1000", "df": "480", "t": "0.27", "p": "0.7851"},
        },
        "random": {
            "schoolid": {
                "UN(1,1)": {"variance": "301.50", "se": "55.1234"},
                "UN(1,1), UN(2,2)": {"cov": "-12.30", "se": "20.000"},
                "UN(2,2)": {"variance": "15.20", "se": "10.5000"},
            },
            "Residual": {"variance": "1290.00", "se": "55.0000"},
        },
        "fit": {
            "nobs": "498",
            "reml_criterion": "5034.1",
            "aic": "5042.1",
            "aicc": "5042.2",
            "bic": "5046.1",
            "ngroups": {"schoolid": "20"},
        },
    }
    t = texts(parsed.tables)
    assert t["Type III Tests of Fixed Effects"]["ses"] == {
        "Num DF": "1",
        "Den DF": "19.8",
        "F Value": "45.20",
        "Pr > F": "<.0001",
    }
    assert t["Dimensions"]["Covariance Parameters"] == {"value": "4"}
    assert t["Covariance Parameter Estimates"]["UN(2,1) schoolid"]["Pr > Z"] == "0.5386"
    assert t["Fit Statistics"]["AICC (Smaller is Better)"] == {"value": "5042.2"}
    assert t["Aliased Fixed Effects"] == {"sex M": {"estimate": "0"}, "ses*sex M": {"estimate": "0"}}
    info = parsed.model_info
    assert info["method"] == "REML" and info["df_method"] == "Kenward-Roger" and info["procedure"] == "MIXED"
    assert info["class_levels"] == {"schoolid": [str(i) for i in range(1, 21)], "sex": ["F", "M"]}
    assert info["sas_effects"]["ses*sex F"] == {"effect": "ses*sex", "levels": {"sex": "F"}}
    assert any("AIC" in n for n in info["notes"])
    assert parsed.unparsed == []


def test_sas_covariance_parameters_without_lme4_counterpart_are_reported() -> None:
    text = """Covariance Parameter Estimates
Cov Parm Subject Estimate
Intercept id(trt) 0
AR(1) id(trt) 0.6944
Residual 17.2094
"""
    parsed = parse_printout(text, "sas")
    assert texts(parsed.values["random"]) == {
        "id(trt)": {"Intercept": {"variance": "0"}},
        "Residual": {"variance": "17.2094"},
    }
    assert [u[0] for u in parsed.unparsed] == [4]
    assert "AR(1)" in parsed.unparsed[0][2]
    assert texts(parsed.tables["Covariance Parameter Estimates"]["AR(1) id(trt)"]) == {"Estimate": "0.6944"}


# ------------------------------------------------------------ HLM (seed variations, constructed layouts)


def test_hlm_one_cell_per_line() -> None:
    # the layout of a copy of HLM 7's HTML output: every cell on its own line
    base = parse_printout(seed("hlm_model1_urban_level1.txt"), "hlm")
    text = seed("hlm_model1_urban_level1.txt")
    text = re.sub(
        r"(?m)^(\s*(?:INTRCPT\d|level-1|URBAN slope),\s*\S+)\s+(.*)$",
        lambda m: m.group(1) + "\n\n" + "\n\n".join(m.group(2).split()),
        text,
    )
    assert "\n\n52.643432\n\n0.526139" in text
    parsed = parse_printout(text, "hlm")
    assert texts(parsed.values) == texts(base.values)
    assert parsed.unparsed == []


def test_hlm_chi_square_words_and_tabs() -> None:
    text = seed("hlm_model2_urban_level2.txt").replace("\u03c72", "Chi-square").replace("\u00a0", "\t")
    parsed = parse_printout(text, "hlm")
    assert texts(parsed.tables["Variance Components"]["INTRCPT1, u0"])["chisq"] == "292.48068"
    assert parsed.unparsed == []


HLM6 = """ Method of estimation: full maximum likelihood
 The outcome variable is  MATHACH
 The maximum number of level-1 units = 7185
 The maximum number of level-2 units = 160

 Sigma_squared =     36.72118

 ----------------------------------------------------
  Random level-1 coefficient   Reliability estimate
 ----------------------------------------------------
  INTRCPT1, B0                        0.801
     SES, B1                          0.198
 ----------------------------------------------------

 The value of the likelihood function at iteration 5 = -2.325000E+004
 Final estimation of fixed effects:
 ----------------------------------------------------------------------------
                                       Standard             Approx.
    Fixed Effect         Coefficient   Error      T-ratio   d.f.     P-value
 ----------------------------------------------------------------------------
 For       INTRCPT1, B0
    INTRCPT2, G00          12.100000   0.200000    60.500        157    0.000
      SECTOR, G01           1.200000   0.300000     4.000        157    0.000
 For      SES slope, B1
    INTRCPT2, G10           2.900000   0.150000    19.333        158    0.000
      SECTOR, G11          -1.600000   0.240000    -6.667        158    0.000
 ----------------------------------------------------------------------------

 Final estimation of fixed effects
 (with robust standard errors)
 ----------------------------------------------------------------------------
                                       Standard             Approx.
    Fixed Effect         Coefficient   Error      T-ratio   d.f.     P-value
 ----------------------------------------------------------------------------
 For       INTRCPT1, B0
    INTRCPT2, G00          12.100000   0.210000    57.619        157    0.000
      SECTOR, G01           1.200000   0.310000     3.871        157    0.000
 For      SES slope, B1
    INTRCPT2, G10           2.900000   0.140000    20.714        158    0.000
      SECTOR, G11          -1.600000   0.230000    -6.957        158    0.000
 ----------------------------------------------------------------------------

 Final estimation of variance components:
 -----------------------------------------------------------------------------
 Random Effect           Standard      Variance     df    Chi-square  P-value
                         Deviation     Component
 -----------------------------------------------------------------------------
 INTRCPT1,       U0        2.00000       4.00000   157     800.00000    0.000
      SES slope, U1        0.50000       0.25000   158     180.00000    >.500
  level-1,       R         6.06000      36.72360
 -----------------------------------------------------------------------------

 Statistics for current covariance components model
 --------------------------------------------------
 Deviance                       = 46500.000000
 Number of estimated parameters = 8
"""


def test_hlm6_text_output() -> None:
    # constructed (HLM 6 text layout)
    parsed = parse_printout(HLM6, "hlm")
    v = texts(parsed.values)
    assert list(v["fixed"]) == ["INTRCPT2, G00", "SECTOR, G01", "SES slope, G10", "SECTOR, G11"]
    assert v["fixed"]["SECTOR, G11"] == {
        "estimate": "-1.600000",
        "se": "0.240000",
        "t": "-6.667",
        "df": "158",
        "p": "0.000",
    }
    assert v["random"] == {
        "level-2": {
            "INTRCPT1": {
                "sd": "2.00000",
                "variance": "4.00000",
                "df": "157",
                "chisq": "800.00000",
                "p": "0.000",
                "reliability": "0.801",
            },
            "SES slope": {
                "sd": "0.50000",
                "variance": "0.25000",
                "df": "158",
                "chisq": "180.00000",
                "p": ">.500",
                "reliability": "0.198",
            },
        },
        "Residual": {"sd": "6.06000", "variance": "36.72360"},
    }
    # ML: the deviance is -2 log-likelihood
    assert v["fit"] == {
        "deviance": "46500.000000",
        "loglik": "-2.325000E+004",
        "nobs": "7185",
        "ngroups": {"level-2": "160"},
    }
    t = texts(parsed.tables)
    assert t["Fixed Effects (robust standard errors)"]["SES slope, G10"]["se"] == "0.140000"
    assert t["Reliability"] == {"INTRCPT1, B0": {"reliability": "0.801"}, "SES, B1": {"reliability": "0.198"}}
    assert t["Statistics"]["Number of estimated parameters"] == {"value": "8"}
    assert t["Statistics"]["sigma2"] == {"value": "36.72118"}
    assert parsed.tables["Variance Components"]["SES slope, U1"]["p"].bound == ">"
    assert parsed.model_info["se"] == "model" and parsed.model_info["method"] == "ML"
    assert parsed.model_info["hlm_fixed_terms"]["SECTOR, G11"]["equation"] == "SES slope"
    assert parsed.unparsed == []


def test_hlm_reml_deviance_is_the_reml_criterion() -> None:
    text = HLM6.replace("full maximum likelihood", "restricted maximum likelihood")
    assert texts(parse_printout(text, "hlm").values["fit"])["reml_criterion"] == "46500.000000"
    no_method = "\n".join(ln for ln in HLM6.splitlines() if "Method of estimation" not in ln)
    parsed = parse_printout(no_method, "hlm")
    assert "deviance" not in parsed.values["fit"] and "reml_criterion" not in parsed.values["fit"]
    assert any("deviance" in n for n in parsed.model_info["notes"])


def test_hlm_row_with_missing_numbers_is_reported() -> None:
    text = seed("hlm_model1_urban_level1.txt").replace(" 100.056 125 <0.001", " 100.056")
    parsed = parse_printout(text, "hlm")
    assert "INTRCPT2, γ00" not in parsed.values["fixed"]
    assert len(parsed.unparsed) == 1 and "expected 5 numbers, found 3" in parsed.unparsed[0][2]


def test_hlm3_is_refused() -> None:
    with pytest.raises(ReferenceError_, match="HLM3"):
        parse_printout(" Module:      HLM3.EXE (7.00.21103.1002)\n" + HLM6, "hlm")


# ------------------------------------------------------------ API errors and YAML


@pytest.mark.parametrize("software", SOFTWARE)
def test_text_without_any_section_is_an_error(software: str) -> None:
    with pytest.raises(ReferenceError_, match="no .* output found") as exc:
        parse_printout("Thanks for any comments you may have.\n1 2 3\n", software)
    assert isinstance(exc.value, ReplicateError) and exc.value.hint


def test_unknown_software_and_non_text() -> None:
    with pytest.raises(ReferenceError_, match="unknown software"):
        parse_printout(seed(LMER), "stata")
    with pytest.raises(ReferenceError_, match="must be text"):
        parse_printout(b"bytes", "lme4")  # type: ignore[arg-type]
    assert parse_printout(seed(SAS), "SAS").software == "sas"
    assert parse_printout(seed(LMER), "lmertest").software == "lmerTest"


@pytest.mark.parametrize(
    "name, software",
    [
        ("lmertest_mathkind_ses_school.txt", "lmerTest"),
        ("lmertest_nels_model2_ml_slopes.txt", "lmerTest"),
        ("hlm_model1_urban_level1.txt", "hlm"),
        ("sas_glimmix_model3.txt", "sas"),
    ],
)
def test_to_yaml_reads_back_as_printed(name: str, software: str) -> None:
    parsed = parse_printout(seed(name), software)
    text = parsed.to_yaml()
    doc = "expected:\n" + "\n".join("  " + ("- " if i == 0 else "  ") + ln for i, ln in enumerate(text.splitlines()))
    data, _lines = load_yaml(doc, "t.yaml")
    back = data["expected"][0]["values"]

    def flat(d: Any, path=()) -> dict:
        out = {}
        for k, v in d.items():
            if isinstance(v, dict) and set(v) != {"value"}:
                out.update(flat(v, path + (k,)))
            else:
                p = v if isinstance(v, Printed) else Printed(float(v["value"]), v["value"])
                out[path + (k,)] = (p.value, p.bound, p.text.replace(" ", ""))
        return out

    assert flat(back) == flat(parsed.values)


# ------------------------------------------------------------ several printouts in one paste


def test_split_lme4_summaries_keeps_line_numbers_and_messages() -> None:
    one = seed("lmertest_nels_model2_ml_slopes.txt") + seed("lme4_anova_nels_model1_model2.txt")
    two = seed("lme4_nels_model3_null_ml.txt")
    text = one + two
    parts = split_printouts(text, "lmerTest")
    assert len(parts) == 2
    n_one = len(one.split("\n")) - 1
    # the second part starts at lmerTest's message printed just before the lme4 summary
    assert text.split("\n")[parts[1].first_line - 1] == "summary from lme4 is returned"
    assert parts[0].first_line == 1 and parts[1].last_line == len(text.split("\n"))
    assert n_one < parts[1].first_line
    assert all(len(p.text.split("\n")) == len(text.split("\n")) for p in parts)
    first, second = parse_printouts(text, "lmerTest")
    assert texts(first.values["fixed"]["(Intercept)"])["estimate"] == "4.060e+01"
    assert "anova" in first.tables  # the anova printed after model.2 stays with it
    assert texts(second.values["fixed"]["(Intercept)"])["estimate"] == "50.7035"
    assert second.model_info["messages"] == [
        "summary from lme4 is returned",
        "some computational error has occurred in lmerTest",
    ]
    assert second.model_info["lines"] == (parts[1].first_line, parts[1].last_line)


def test_split_hlm_runs_and_sas_in_the_same_paste() -> None:
    m1, m2, sas = (
        seed("hlm_model1_urban_level1.txt"),
        seed("hlm_model2_urban_level2.txt"),
        seed("sas_glimmix_model3.txt"),
    )
    text = m1 + "σ2 = 70.39334\n\nMethod of estimation: restricted maximum likelihood\n" + m2 + sas
    hlm = parse_printouts(text, "hlm")
    assert [list(p.values["fixed"]) for p in hlm] == [
        ["INTRCPT2, γ00", "URBAN slope, γ10"],
        ["INTRCPT2, γ00", "URBAN_LE, γ01"],
    ]
    # the lines printed before run 2's tables belong to run 2
    assert "sigma2" not in hlm[0].tables.get("Statistics", {})
    assert texts(hlm[1].tables["Statistics"]["sigma2"]) == {"value": "70.39334"}
    assert hlm[1].model_info["method"] == "REML" and "method" not in hlm[0].model_info
    sas_parts = parse_printouts(text, "sas")
    assert len(sas_parts) == 1 and list(sas_parts[0].values["fixed"]) == ["Intercept", "urban"]
    with pytest.raises(ReferenceError_, match="more than one"):
        parse_printout(text, "hlm")


def test_split_sas_steps() -> None:
    text = seed("sas_glimmix_model3.txt") + "\n" + SAS_LISTING
    parts = parse_printouts(text, "sas")
    assert [list(p.values["fixed"])[:2] for p in parts] == [["Intercept", "urban"], ["Intercept", "ses"]]
    assert parts[0].model_info.get("procedure") == "GLIMMIX"


def test_parse_printouts_without_output_is_an_error() -> None:
    with pytest.raises(ReferenceError_, match="output found"):
        parse_printouts("nothing here\n", "nlme")

"""Every seed printout in tests/data/printouts parses into the numbers it shows.

The fixtures are verbatim excerpts of ../shared/seeds (their first lines name
the seed file and section). Expected numbers are written as the printouts
print them, so the test checks the printed text as well as the value.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from replicate.printed import Printed
from replicate.references import SOFTWARE, guess_software, parse_printout, parse_printouts
from tests.rsupport import printed_texts as texts

PRINTOUTS = Path(__file__).resolve().parents[1] / "data" / "printouts"
ROOT = Path(__file__).resolve().parents[2]


def parse_file(name: str, software: str):
    return parse_printout((PRINTOUTS / name).read_text(encoding="utf-8"), software)


def fixed(*rows: tuple[str, ...], cols=("estimate", "se", "df", "t", "p")) -> dict:
    return {r[0]: dict(zip(cols, r[1:])) for r in rows}


# ------------------------------------------------------------ seed 002 (lmerTest)

# summaries the seed prints twice with the same numbers (another coding, the in-sample refit): written once
MATHKIND_SES_SCHOOL = {
    "fixed": fixed(
        ("(Intercept)", "465.746", "2.058", "98.752", "226.337", "< 2e-16"),
        ("ses", "10.722", "1.589", "1187.995", "6.747", "2.35e-11"),
    ),
    "random": {
        "schoolid": {"(Intercept)": {"variance": "309", "sd": "17.58"}},
        "Residual": {"variance": "1308", "sd": "36.16"},
    },
    "fit": {"reml_criterion": "12038.7", "nobs": "1190", "ngroups": {"schoolid": "107"}},
}
MATHGAIN_SES_MATHKNOW = {
    "fixed": fixed(
        ("(Intercept)", "57.8169", "1.5468", "91.6576", "37.379", "<2e-16"),
        ("ses", "0.8847", "1.4602", "1039.2449", "0.606", "0.5447"),
        ("mathknow", "2.4341", "1.3093", "211.2083", "1.859", "0.0644"),
    ),
    "random": {
        "classid:schoolid": {"(Intercept)": {"variance": "104.64", "sd": "10.229"}},
        "schoolid": {"(Intercept)": {"variance": "92.11", "sd": "9.598"}},
        "Residual": {"variance": "1018.67", "sd": "31.917"},
    },
    "fit": {"reml_criterion": "10684.6", "nobs": "1081", "ngroups": {"classid:schoolid": "285", "schoolid": "105"}},
}

LMERTEST_SUMMARIES = {
    "lmertest_mathkind_ses_school.txt": MATHKIND_SES_SCHOOL,
    "lmertest_mathkind_ses_school_coding.txt": MATHKIND_SES_SCHOOL,
    "lmertest_mathkind_ses_school_class.txt": {
        "fixed": fixed(
            ("(Intercept)", "465.749", "2.058", "99.030", "226.344", "< 2e-16"),
            ("ses", "10.684", "1.589", "1187.053", "6.725", "2.72e-11"),
        ),
        "random": {
            "classid:schoolid": {"(Intercept)": {"variance": "20.44", "sd": "4.521"}},
            "schoolid": {"(Intercept)": {"variance": "301.52", "sd": "17.364"}},
            "Residual": {"variance": "1294.08", "sd": "35.973"},
        },
        "fit": {"reml_criterion": "12038.4", "nobs": "1190", "ngroups": {"classid:schoolid": "312", "schoolid": "107"}},
    },
    "lmertest_mathgain_ses_mathknow.txt": MATHGAIN_SES_MATHKNOW,
    "lmertest_mathgain_ses_mathknow_insample.txt": MATHGAIN_SES_MATHKNOW,
    "lmertest_mathgain_null_insample.txt": {
        "fixed": fixed(("(Intercept)", "57.761", "1.499", "95.000", "38.54", "<2e-16")),
        "random": {
            "classid:schoolid": {"(Intercept)": {"variance": "116.9", "sd": "10.813"}},
            "schoolid": {"(Intercept)": {"variance": "73.4", "sd": "8.567"}},
            "Residual": {"variance": "1021.0", "sd": "31.953"},
        },
        "fit": {"reml_criterion": "10693.2", "nobs": "1081", "ngroups": {"classid:schoolid": "285", "schoolid": "105"}},
    },
}


# "Scaled residuals: Min 1Q Median 3Q Max" of each summary, as printed
SCALED_RESIDUALS = {
    "lmertest_mathkind_ses_school.txt": "-4.7423 -0.5716 0.0188 0.6343 3.7763",
    "lmertest_mathkind_ses_school_coding.txt": "-4.7423 -0.5716 0.0188 0.6343 3.7763",
    "lmertest_mathkind_ses_school_class.txt": "-4.7444 -0.5722 0.0112 0.6320 3.7507",
    "lmertest_mathgain_ses_mathknow.txt": "-4.3702 -0.6106 -0.0342 0.5357 5.5805",
    "lmertest_mathgain_ses_mathknow_insample.txt": "-4.3702 -0.6106 -0.0342 0.5357 5.5805",
    "lmertest_mathgain_null_insample.txt": "-4.3056 -0.6115 -0.0396 0.5509 5.6208",
    "lmertest_nels_model1_ml.txt": "-3.10428 -0.73893 -0.01012 0.73980 2.91628",
    "lmertest_nels_model2_ml_slopes.txt": "-3.14262 -0.74398 -0.01008 0.73675 2.90751",
    "lmertest_nels_m_ml_slopes.txt": "-3.14262 -0.74398 -0.01008 0.73675 2.90751",
    "lme4_nels_model3_null_ml.txt": "-2.70061 -0.75164 -0.00107 0.70824 2.93238",
    "lme4_nels_model4_ml_slope_only.txt": "-2.93050 -0.74194 -0.00765 0.71750 2.83936",
    "lmertest_nels_model5_wrapped.txt": "-3.10848 -0.74150 -0.01192 0.73562 2.92341",
    "lmertest_nels_model6_ml.txt": "-3.2009 -0.7568 -0.0189 0.7329 2.8611",
}


def with_scaled_residuals(name: str, want: dict) -> dict:
    """The expected values of a summary, with its scaled residuals under fit."""
    quantiles = dict(zip(("min", "q1", "median", "q3", "max"), SCALED_RESIDUALS[name].split()))
    return {**want, "fit": {**want.get("fit", {}), "scaled_residuals": quantiles}}


@pytest.mark.parametrize("name", sorted(LMERTEST_SUMMARIES))
def test_seed002_lmertest_summaries(name: str) -> None:
    parsed = parse_file(name, "lmerTest")
    assert texts(parsed.values) == with_scaled_residuals(name, LMERTEST_SUMMARIES[name])
    assert parsed.unparsed == []
    assert parsed.software == "lmerTest"
    info = parsed.model_info
    assert info["method"] == "REML"
    assert info["df_method"] == "Satterthwaite's method"
    assert info["df"] == "satterthwaite"
    assert info["class"] == "lmerModLmerTest"
    assert info["formula"].startswith(("mathkind ~", "mathgain ~"))


def test_seed002_knitr_prefix_and_bounds() -> None:
    parsed = parse_file("lmertest_mathkind_ses_school.txt", "lmerTest")
    p = parsed.values["fixed"]["(Intercept)"]["p"]
    assert (p.value, p.bound, p.text) == (2e-16, "<", "< 2e-16")
    assert parsed.values["fixed"]["ses"]["p"].bound == ""
    assert parsed.model_info["data"] == "dat"
    insample = parse_file("lmertest_mathgain_null_insample.txt", "lmerTest")
    assert insample.model_info["subset"] == "in_sample"


# ------------------------------------------------------------ anova / ranova tables (seeds 002 and 004)

# printout -> what it must parse into: its software, ``tables`` (as printed), and where given ``values``
# (compared whole) and ``model_info`` entries
TABLE_PRINTOUTS = {
    "lmertest_ranova_mathgain_school.txt": {  # seed 002
        "software": "lmerTest",
        "values": {},
        "tables": {
            "ranova": {
                "<none>": {"npar": "3", "logLik": "-5888.3", "AIC": "11783"},
                "(1 | schoolid)": {
                    "npar": "2",
                    "logLik": "-5904.8",
                    "AIC": "11814",
                    "LRT": "32.881",
                    "Df": "1",
                    "Pr(>Chisq)": "9.796e-09",
                },
            }
        },
        "model_info": {"ranova_model": "mathgain ~ (1 | schoolid)"},
    },
    "lmertest_ranova_mathgain_school_class.txt": {  # seed 002
        "software": "lmerTest",
        "tables": {
            "ranova": {
                "<none>": {"npar": "4", "logLik": "-5884.4", "AIC": "11777"},
                "(1 | classid:schoolid)": {
                    "npar": "3",
                    "logLik": "-5888.3",
                    "AIC": "11783",
                    "LRT": "7.9048",
                    "Df": "1",
                    "Pr(>Chisq)": "0.004930",
                },
                "(1 | schoolid)": {
                    "npar": "3",
                    "logLik": "-5888.3",
                    "AIC": "11783",
                    "LRT": "7.8875",
                    "Df": "1",
                    "Pr(>Chisq)": "0.004978",
                },
            }
        },
        "model_info": {"ranova_model": "mathgain ~ (1 | classid:schoolid) + (1 | schoolid)"},
    },
    "lme4_anova_fit2_fit3.txt": {  # seed 002
        "software": "lme4",
        "tables": {
            "anova": {
                "lmer.fit2": {"npar": "3", "AIC": "11783", "BIC": "11798", "logLik": "-5888.3", "deviance": "11777"},
                "lmer.fit3": {
                    "npar": "4",
                    "AIC": "11777",
                    "BIC": "11797",
                    "logLik": "-5884.4",
                    "deviance": "11769",
                    "Chisq": "7.9048",
                    "Df": "1",
                    "Pr(>Chisq)": "0.00493",
                },
            }
        },
        "model_info": {
            "anova_models": {"lmer.fit2": "mathgain ~ (1 | schoolid)", "lmer.fit3": "mathgain ~ (1 | schoolid/classid)"}
        },
    },
    # seed 002, refit; the excerpt ends with the document's next line, '1. (cont.)': not a row, and not reported
    "lme4_anova_fit7_fit8_refit.txt": {
        "software": "lme4",
        "tables": {
            "anova": {
                "fit7": {"npar": "4", "AIC": "10704", "BIC": "10724", "logLik": "-5347.9", "deviance": "10696"},
                "fit8": {
                    "npar": "6",
                    "AIC": "10704",
                    "BIC": "10734",
                    "logLik": "-5346.1",
                    "deviance": "10692",
                    "Chisq": "3.5921",
                    "Df": "2",
                    "Pr(>Chisq)": "0.166",
                },
            }
        },
        "model_info": {"messages": ["refitting model(s) with ML (instead of REML)"]},
    },
    "lme4_anova_nels_model1_model2.txt": {  # seed 004, the old layout
        "software": "lme4",
        "tables": {
            "anova": {
                "object": {
                    "Df": "4",
                    "AIC": "59944.69",
                    "BIC": "59972.78",
                    "logLik": "-29968.34",
                    "deviance": "59936.69",
                },
                "..1": {
                    "Df": "6",
                    "AIC": "59940.57",
                    "BIC": "59982.72",
                    "logLik": "-29964.28",
                    "deviance": "59928.57",
                    "Chisq": "8.117954",
                    "Chi Df": "2",
                    "Pr(>Chisq)": "0.01726668",
                },
            }
        },
    },
}


@pytest.mark.parametrize("name", list(TABLE_PRINTOUTS))
def test_seed_table_printouts(name: str) -> None:
    want = TABLE_PRINTOUTS[name]
    parsed = parse_file(name, want["software"])
    if "values" in want:
        assert texts(parsed.values) == want["values"]
    assert texts(parsed.tables) == want["tables"]
    for key, value in want.get("model_info", {}).items():
        assert parsed.model_info[key] == value, key
    assert parsed.unparsed == []


# ------------------------------------------------------------ seed 004 (notebook PDF copy)


def _ml_fit(aic, bic, loglik, dev, n="8304", g="854"):
    return {"aic": aic, "bic": bic, "loglik": loglik, "deviance": dev, "nobs": n, "ngroups": {"sch_id": g}}


# model 2 is printed again as 'm'
NELS_ML_SLOPES = {
    "fixed": fixed(
        ("(Intercept)", "4.060e+01", "4.044e-01", "1.458e+03", "100.4", "<2e-16"),
        ("family_inc", "1.061e+00", "4.048e-02", "7.210e+03", "26.2", "<2e-16"),
    ),
    "random": {
        "sch_id": {
            "(Intercept)": {"variance": "6.91135", "sd": "2.6289"},
            "family_inc": {"variance": "0.01718", "sd": "0.1311"},
            "(Intercept), family_inc": {"corr": "1.00"},
        },
        "Residual": {"variance": "72.44775", "sd": "8.5116"},
    },
    "fit": _ml_fit("59940.6", "59982.7", "-29964.3", "59928.6"),
}

SEED004 = {
    "lmertest_nels_model1_ml.txt": {
        "fixed": fixed(
            ("(Intercept)", "4.069e+01", "4.261e-01", "5.017e+03", "95.50", "<2e-16"),
            ("family_inc", "1.060e+00", "4.053e-02", "7.983e+03", "26.15", "<2e-16"),
        ),
        "random": {
            "sch_id": {"(Intercept)": {"variance": "15.35", "sd": "3.918"}},
            "Residual": {"variance": "72.44", "sd": "8.511"},
        },
        "fit": _ml_fit("59944.7", "59972.8", "-29968.3", "59936.7"),
    },
    "lmertest_nels_model2_ml_slopes.txt": NELS_ML_SLOPES,
    "lmertest_nels_m_ml_slopes.txt": NELS_ML_SLOPES,
    "lme4_nels_model3_null_ml.txt": {
        "fixed": fixed(("(Intercept)", "50.7035", "0.2259", "224.5"), cols=("estimate", "se", "t")),
        "random": {
            "sch_id": {"(Intercept)": {"variance": "27.49", "sd": "5.243"}},
            "Residual": {"variance": "75.43", "sd": "8.685"},
        },
        "fit": _ml_fit("60548.8", "60569.9", "-30271.4", "60542.8"),
    },
    "lme4_nels_model4_ml_slope_only.txt": {
        "fixed": fixed(("(Intercept)", "50.1727", "0.2055", "244.1"), cols=("estimate", "se", "t")),
        "random": {
            "sch_id": {
                "(Intercept)": {"variance": "92.867", "sd": "9.637"},
                "family_inc": {"variance": "1.012", "sd": "1.006"},
                "(Intercept), family_inc": {"corr": "-0.89"},
            },
            "Residual": {"variance": "71.726", "sd": "8.469"},
        },
        "fit": _ml_fit("60390.7", "60425.9", "-30190.4", "60380.7"),
    },
    "lmertest_nels_model5_wrapped.txt": {
        # p-values wrapped by the page: '<2e-1' / '6 ***' and '0.024' / '1 *'
        "fixed": fixed(
            ("(Intercept)", "41.11556", "0.46980", "4165.00000", "87.517", "<2e-16"),
            ("family_inc", "1.05714", "0.04057", "8010.00000", "26.057", "<2e-16"),
            ("urban", "-0.82167", "0.36348", "627.00000", "-2.261", "0.0241"),
        ),
        # 'Residual' shifted into the Name column by the copy
        "random": {
            "sch_id": {"(Intercept)": {"variance": "15.09", "sd": "3.885"}},
            "Residual": {"variance": "72.47", "sd": "8.513"},
        },
        "fit": _ml_fit("59941.6", "59976.7", "-29965.8", "59931.6"),
    },
    "lmertest_nels_model6_ml.txt": {
        "fixed": fixed(
            ("(Intercept)", "4.014e+01", "3.802e-01", "8.303e+03", "105.59", "<2e-16"),
            ("family_inc", "1.095e+00", "4.223e-02", "5.303e+03", "25.93", "<2e-16"),
        ),
        "random": {
            "sch_id": {"family_inc": {"variance": "0.1464", "sd": "0.3826"}},
            "Residual": {"variance": "73.1022", "sd": "8.5500"},
        },
        "fit": _ml_fit("59969.0", "59997.1", "-29980.5", "59961.0"),
    },
}

DF_RESID = {
    "lmertest_nels_model1_ml.txt": "8300",
    "lmertest_nels_model2_ml_slopes.txt": "8298",
    "lmertest_nels_m_ml_slopes.txt": "8298",
    "lme4_nels_model3_null_ml.txt": "8301",
    "lme4_nels_model4_ml_slope_only.txt": "8299",
    "lmertest_nels_model5_wrapped.txt": "8299",
    "lmertest_nels_model6_ml.txt": "8300",
}


@pytest.mark.parametrize("name", sorted(SEED004))
def test_seed004_summaries(name: str) -> None:
    software = "lme4" if name.startswith("lme4_") else "lmerTest"
    parsed = parse_file(name, software)
    assert texts(parsed.values) == with_scaled_residuals(name, SEED004[name])
    assert parsed.unparsed == []
    assert parsed.model_info["method"] == "ML"
    assert texts(parsed.tables["Fit Statistics"]["df.resid"]) == {"value": DF_RESID[name]}
    if software == "lmerTest":
        # 't-tests use Sat' / 'terthwaite' / 'approximations ...': the title wraps over lines
        assert parsed.model_info["df"] == "satterthwaite"
    else:
        assert "df" not in parsed.model_info
        assert "summary from lme4 is returned" in parsed.model_info["messages"]


def test_seed004_scientific_notation_values() -> None:
    parsed = parse_file("lmertest_nels_model1_ml.txt", "lmerTest")
    est = parsed.values["fixed"]["(Intercept)"]["estimate"]
    assert est.value == pytest.approx(40.69) and est.text == "4.069e+01"
    df = parsed.values["fixed"]["family_inc"]["df"]
    assert df.value == pytest.approx(7983.0)


def test_seed004_anova_three_models() -> None:
    parsed = parse_file("lme4_anova_nels_three_models.txt", "lme4")
    table = texts(parsed.tables["anova"])
    assert list(table) == ["..2", "object", "..1"]
    assert table["..2"] == {
        "Df": "3",
        "AIC": "60548.84",
        "BIC": "60569.91",
        "logLik": "-30271.42",
        "deviance": "60542.84",
    }  # NA cells are left out
    assert table["object"]["Pr(>Chisq)"] == "7.687611e-134"
    assert table["..1"]["Chisq"] == "8.117954"
    assert parsed.tables["anova"]["object"]["Pr(>Chisq)"].value == pytest.approx(7.687611e-134)


# ------------------------------------------------------------ seed 000 (HLM2 and SAS GLIMMIX)


def test_seed000_hlm_model1() -> None:
    parsed = parse_file("hlm_model1_urban_level1.txt", "hlm")
    assert texts(parsed.values) == {
        "fixed": {
            "INTRCPT2, γ00": {"estimate": "52.643432", "se": "0.526139", "t": "100.056", "df": "125", "p": "<0.001"},
            # printed 'INTRCPT2, γ10' under 'For URBAN slope, β1': named by its slope
            "URBAN slope, γ10": {"estimate": "-0.450022", "se": "1.157924", "t": "-0.389", "df": "692", "p": "0.698"},
        },
        "random": {
            "level-2": {
                "INTRCPT1": {"sd": "3.76951", "variance": "14.20923", "df": "125", "chisq": "292.48369", "p": "<0.001"}
            },
            "Residual": {"sd": "8.39004", "variance": "70.39271"},
        },
    }
    assert texts(parsed.tables["Variance Components"]) == {
        "INTRCPT1, u0": {"sd": "3.76951", "variance": "14.20923", "df": "125", "chisq": "292.48369", "p": "<0.001"},
        "level-1, r": {"sd": "8.39004", "variance": "70.39271"},
    }
    p = parsed.values["fixed"]["INTRCPT2, γ00"]["p"]
    assert (p.value, p.bound) == (0.001, "<")
    assert parsed.model_info["se"] == "robust"
    assert parsed.model_info["fixed_effects_se"] == "with robust standard errors"
    assert parsed.model_info["hlm_fixed_terms"] == {
        "INTRCPT2, γ00": {"equation": "INTRCPT1", "predictor": "INTRCPT2", "symbol": "γ00"},
        "URBAN slope, γ10": {"equation": "URBAN slope", "predictor": "INTRCPT2", "symbol": "γ10"},
    }
    assert parsed.unparsed == []


def test_seed000_hlm_model2() -> None:
    parsed = parse_file("hlm_model2_urban_level2.txt", "hlm")
    assert texts(parsed.values) == {
        "fixed": {
            "INTRCPT2, γ00": {"estimate": "52.643459", "se": "0.526140", "t": "100.056", "df": "124", "p": "<0.001"},
            "URBAN_LE, γ01": {"estimate": "-0.449983", "se": "1.157920", "t": "-0.389", "df": "124", "p": "0.698"},
        },
        "random": {
            "level-2": {
                "INTRCPT1": {"sd": "3.76919", "variance": "14.20678", "df": "124", "chisq": "292.48068", "p": "<0.001"}
            },
            "Residual": {"sd": "8.39007", "variance": "70.39334"},
        },
    }
    assert texts(parsed.tables["Variance Components"]["INTRCPT1, u0"]) == {
        "sd": "3.76919",
        "variance": "14.20678",
        "df": "124",
        "chisq": "292.48068",
        "p": "<0.001",
    }
    assert parsed.unparsed == []


def test_seed000_sas_glimmix() -> None:
    parsed = parse_file("sas_glimmix_model3.txt", "sas")
    assert texts(parsed.values) == {
        "fixed": {
            "Intercept": {"estimate": "52.6434", "se": "0.5460", "df": "95.01", "t": "96.41", "p": "<.0001"},
            "urban": {"estimate": "-0.4501", "se": "1.1095", "df": "132.4", "t": "-0.41", "p": "0.6856"},
        },
        "random": {
            "schoolID": {"Intercept": {"variance": "14.2150", "se": "3.4610"}},
            "Residual": {"variance": "70.3913", "se": "3.7455"},
        },
    }
    assert texts(parsed.tables["Covariance Parameter Estimates"]) == {
        "schoolID": {"Estimate": "14.2150", "Standard Error": "3.4610"},
        "Residual": {"Estimate": "70.3913", "Standard Error": "3.7455"},
    }
    p = parsed.values["fixed"]["Intercept"]["p"]
    assert (p.value, p.bound) == (0.0001, "<")
    assert parsed.model_info["ddfm"] == "kr"  # from the PROC GLIMMIX code pasted above the output
    assert parsed.model_info["procedure"] == "GLIMMIX"
    assert parsed.unparsed == []


# ------------------------------------------------------------ every fixture


def _software_of(name: str) -> str:
    return {"lmertest": "lmerTest", "lme4": "lme4", "hlm": "hlm", "sas": "sas", "nlme": "nlme"}[name.split("_")[0]]


ALL = sorted(p.name for p in PRINTOUTS.glob("*.txt"))


def test_every_fixture_has_a_source_comment() -> None:
    assert ALL
    for name in ALL:
        first = (PRINTOUTS / name).read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# Source: ../shared/seeds/"), name


@pytest.mark.parametrize("name", ALL)
def test_every_fixture_parses_completely(name: str) -> None:
    software = _software_of(name)
    assert software in SOFTWARE
    parsed = parse_file(name, software)
    assert parsed.unparsed == []
    assert parsed.values or parsed.tables
    guessed = guess_software((PRINTOUTS / name).read_text(encoding="utf-8"))
    if parsed.values:  # a bare anova table has no tell-tale line
        assert guessed == software


# ------------------------------------------------------------ against the shipped cases

CHECKED_SECTIONS = ("fixed", "random", "fit")
NOT_PRINTED = {"npar", "icc"}  # derived by the transcriber, not printed in a summary


def numbers(values: dict) -> list[tuple]:
    """(section, quantity, value, bound) of every number, whatever its name: names differ by convention."""
    out = []

    def walk(section: str, d: dict) -> None:
        for k, v in d.items():
            if isinstance(v, dict) and not (set(v) <= {"value", "rtol", "atol", "digits", "note"} and "value" in v):
                walk(section, v)
            elif k not in NOT_PRINTED:
                p = v["value"] if isinstance(v, dict) else v
                p = p if isinstance(p, Printed) else Printed(float(p), str(p))
                out.append((section, k, p.value, p.bound))

    for section in CHECKED_SECTIONS:
        walk(section, values.get(section) or {})
    return sorted(out, key=repr)


def _load_case(path: Path):
    import replicate
    from replicate.errors import ReplicateError

    try:
        return replicate.load_case(path)
    except ReplicateError:  # a case being edited by someone else: not this test's business
        return None


def _blocks():
    for case_file in sorted((ROOT / "cases").glob("*.yaml")):
        case = _load_case(case_file)
        for i, block in enumerate(case.expected if case is not None else []):
            src = (ROOT / str(block.get("source", "")).split()[0]) if block.get("source") else None
            if block["values"].get("tests"):  # transcribed from anova/ranova tables, not a summary
                continue
            if block.get("software") in SOFTWARE and src is not None and src.is_file():
                yield pytest.param(block, src, id=f"{case_file.stem}[{case.block_label(i)}]")


@pytest.mark.parametrize("block, src", list(_blocks()))
def test_raw_printouts_parse_into_the_case_values(block: dict, src: Path) -> None:
    """The numbers transcribed by hand into each case are those the parser reads from its raw printout.

    A raw file may hold several printouts: one of its parts must show exactly the block's numbers.
    """
    parts = parse_printouts(src.read_text(encoding="utf-8"), block["software"])
    want = numbers(block["values"])
    got = [numbers(p.values) for p in parts]
    assert want in got, f"no part of {src.name} shows the block's numbers; parts: {got}"
    part = parts[got.index(want)]
    assert part.unparsed == []

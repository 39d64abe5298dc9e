"""The engine's random-effect numbers for a block: variances, SDs and correlations, their SEs
(covariance-parameter table), and HLM's variance-component tests and reliabilities."""

from __future__ import annotations

import math
from typing import Any

from ..block_names import component_columns, mapped
from ..design import Design
from ..inference import Inference
from ..inference.covparms import covariance_parameters
from ..inference.vartests import hlm_variance_tests, reliability
from ..results import FitResult
from ..varcorr_values import varcorr_value
from .value import Collector, Lazy

CovKey = tuple[str, str | None, str | None]


def covparms_table(fit: FitResult, design: Design, information: str) -> dict[CovKey, float]:
    """(group, column, other column or None) -> the SE of that covariance parameter."""
    tab = covariance_parameters(fit, design, information=information)
    out: dict[CovKey, float] = {}
    for _, r in tab.iterrows():
        v1 = r["var1"] if isinstance(r["var1"], str) else None
        v2 = r["var2"] if isinstance(r["var2"], str) else None
        out[(str(r["group"]), v1, v2)] = float(r["se"])
        if v2 is not None:
            out[(str(r["group"]), v2, v1)] = float(r["se"])
    return out


def hlm_table(fit: FitResult, design: Design) -> dict[tuple[str, str], dict[str, float]]:
    """(group, coefficient) -> HLM's chi-square, df, p and reliability."""
    tab = hlm_variance_tests(fit, design)
    rel = reliability(fit, design)
    out: dict[tuple[str, str], dict[str, float]] = {}
    for _, r in tab.iterrows():
        out[(str(r["group"]), str(r["coefficient"]))] = {
            "chisq": float(r["chisq"]),
            "df": float(r["df"]),
            "p": float(r["p"]),
            "reliability": float(rel.get(r["coefficient"], float("nan"))),
        }
    return out


def random_values(out: Collector, inf: Inference) -> None:
    """Every printed number of the block's ``random`` section."""
    block, fit, design = out.block, inf.fit, inf.design
    information = block.options.information or "observed"
    covparms = Lazy(lambda: covparms_table(fit, design, information))
    hlm_tests = Lazy(lambda: hlm_table(fit, design))
    se_note = f"asymptotic SE, {information} information"
    for grp, comps in block.section("random").items():
        if grp == "Residual":
            _residual(out, comps, fit, covparms, se_note)
            continue
        eng_grp = mapped(block, grp)
        for comp, qs in comps.items():
            cols = component_columns(block, comp)
            for q, ref in qs.items():
                path = ("random", grp, comp, q)
                name = f"{grp} {comp}"
                if q == "se":
                    key: CovKey = (eng_grp, cols[0], cols[1] if len(cols) > 1 else None)
                    out.add("random", name, q, ref, lambda key=key: covparms.get()[key], path, note=se_note)
                elif q in ("chisq", "df", "p", "reliability"):
                    key2 = (eng_grp, cols[0])
                    note = "HLM's variance-component test" if q != "reliability" else "HLM's reliability"
                    out.add("random", name, q, ref, lambda key2=key2, q=q: hlm_tests.get()[key2][q], path, note=note)
                else:
                    out.add("random", name, q, ref, varcorr_value(fit, eng_grp, ", ".join(cols), q), path)


def _residual(out: Collector, comps: dict[str, Any], fit: FitResult, covparms: Lazy, se_note: str) -> None:
    for q, ref in comps.items():
        path = ("random", "Residual", q)
        if q == "se":
            out.add("random", "Residual", q, ref, lambda: covparms.get()[("Residual", None, None)], path, note=se_note)
        else:
            value = {"variance": fit.sigma2, "sd": math.sqrt(fit.sigma2)}.get(q)
            out.add("random", "Residual", q, ref, value, path)

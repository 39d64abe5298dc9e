"""Text rendering of one case for ``replicate show``."""

from __future__ import annotations

import numpy as np

from .case import Case
from .dfexplain import rule_sentences
from .errors import ReplicateError
from .findings import Finding
from .hlm_entry import entry_sentence
from .inference import Inference, kr_settings
from .inference.vartests import icc
from .outcome import CaseResult
from .side_by_side import side_by_side
from .value_labels import digits_text, engine_text, reference_text, value_label


def _num(x: float | None, width: int = 12) -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "—".rjust(width)
    return f"{x:>{width}.6g}"


def render_show(case: Case, res: CaseResult) -> str:
    out = [f"{case.id}: {case.title}", f"file: {case.path}"]
    if case.source:
        out.append(f"source: {case.source}")
    if case.description:
        out += ["", case.description]
    if res.error:
        out += ["", f"status: {res.status}", res.error]
        return "\n".join(out)
    if res.design is not None:
        d = res.design
        groups = ", ".join(f"{t.group} {t.nlevels}" for t in d.reterms)
        out += ["", f"model: {d.formula}", f"rows used: {d.n} (dropped {d.n_dropped}); groups: {groups}"]
    for msg in res.messages:
        out.append(f"note: {msg}")
    for method, fit in res.fits.items():
        out += [
            "",
            f"== {res.engine} fit by {method} ({fit.engine_version})",
            f"logLik {fit.loglik:.6f}  AIC {fit.aic:.4f}  BIC {fit.bic:.4f}"
            + (f"  REML criterion {fit.reml_criterion:.4f}" if fit.reml_criterion is not None else ""),
            f"converged: {fit.converged}  singular: {fit.singular}",
        ]
        icc = icc_line(fit)
        if icc is not None:
            out.append(icc)
        out.append(f"{'fixed effect':<24}{'estimate':>14}{'SE (model)':>14}")
        for name in fit.fixed.index:
            out.append(f"{name:<24}{fit.fixed[name]:>14.6g}{fit.se[name]:>14.6g}")
        out.append(f"{'group':<20}{'var1':<14}{'var2':<14}{'vcov':>12}{'sdcor':>12}")
        for _, row in fit.varcorr.iterrows():
            v1 = "" if row["var1"] is None or row["var1"] != row["var1"] else str(row["var1"])
            v2 = "" if row["var2"] is None or row["var2"] != row["var2"] else str(row["var2"])
            out.append(f"{row['grp']:<20}{v1:<14}{v2:<14}{row['vcov']:>12.6g}{row['sdcor']:>12.6g}")
        for m in fit.messages:
            out.append(f"engine note: {m}")
        if res.design is not None:
            out += ["", *inference_table(fit, res.design)]
            out += [f"  {line}" for line in df_rules(case, fit, res.design)]
    for b in res.blocks:
        out += [
            "",
            f"== reference {b.label}: {b.software} {b.version}".rstrip(),
            f"call: {b.call}" if b.call else "",
            f"source: {b.source}",
            f"options: {b.options}",
        ]
        if b.error:
            out.append(f"error: {b.error}")
            continue
        if not b.values:
            out += consistency_checks(b.consistency)
            continue
        out += printout_checks(b)
        out.append(f"{'value':<40}{'reference':>18}{res.engine:>18}{'digits':>8}  verdict")
        for v in b.values:
            told = v.note and (v.verdict != "agrees" or v.quantity == "refused")  # a refusal says why
            out.append(
                f"{value_label(v):<40}{reference_text(v.reference):>18}{engine_text(v.engine, v.reference):>18}"
                f"{digits_text(v):>8}  {v.verdict}" + (f" ({v.note})" if told else "")
            )
        out += [f"why: {d.text}" for d in b.diagnoses]
    table = side_by_side(case)
    if table:
        out += ["", *table]
    out += ["", f"status: {res.status}"]
    return "\n".join(line for line in out if line is not None)


def printout_checks(b) -> list[str]:
    """The block's printout checks in a line, then each contradiction and boundary flag."""
    checks = [f for f in b.consistency if not f.boundary]
    if not checks and not b.boundaries:
        return []
    out = [f"printout checks: {sum(f.ok for f in checks)} of {len(checks)} hold"]
    out += [
        f"  inconsistent: {f.where} = {f.printed}, but {f.check} gives {f.low:.6g} to {f.high:.6g}"
        for f in b.inconsistent
    ]
    out += [f"  {f.where} = {f.printed}: {f.check}" for f in b.boundaries]
    return out


def icc_line(fit) -> str | None:
    """The ICC of each grouping factor of a random-intercept model (``fit.icc`` in a case), else None."""

    groups = [g for g in dict.fromkeys(fit.varcorr["grp"]) if g != "Residual"]
    try:
        parts = [f"{g} {icc(fit, g):.6g}" for g in groups]
    except ReplicateError:
        return None  # not a random-intercept model: no ICC
    return ("ICC (tau / (sum of taus + sigma^2)): " + ", ".join(parts)) if parts else None


PB, SAS = kr_settings({}), kr_settings({}, "sas")  # Kenward-Roger as pbkrtest / as SAS
SE_COLUMNS = [
    ("model", "model", PB),
    ("kenward-roger", "KR", PB),
    ("kenward-roger", "KR-SAS", SAS),
    ("kenward-roger-2", "KR2-SAS", SAS),
    ("cr0", "CR0", PB),
    ("cr1", "CR1", PB),
    ("cr2", "CR2", PB),
]
DF_COLUMNS = [
    ("residual", "resid", PB),
    ("containment", "contain", PB),
    ("between-within", "bw", PB),
    ("hlm", "HLM", PB),
    ("nlme", "nlme", PB),
    ("satterthwaite", "Satt", PB),
    ("kenward-roger", "KR", PB),
    ("kenward-roger", "KR-SAS", SAS),
]


def inference_table(fit, design) -> list[str]:
    """Every program's SE and df for each fixed effect, side by side, from one fit."""

    inf = Inference(fit, design)  # Kenward-Roger computed once for its df and SE columns

    def column(fn, name, kr):
        try:
            return fn(name, kr=kr), ""
        except (ReplicateError, ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
            return None, f"{name}: {getattr(exc, 'message', str(exc))}"

    ses = [(label, *column(inf.se, kind, kr)) for kind, label, kr in SE_COLUMNS]
    dfs = [(label, *column(inf.df, kind, kr)) for kind, label, kr in DF_COLUMNS]

    def row(name: str, columns: list, width: int) -> str:
        return "".join(f"{vals[name]:>{width}.5g}" if vals is not None else f"{'—':>{width}}" for _, vals, _ in columns)

    out = [
        (
            "standard errors by definition (model: lme4/SAS; KR: pbkrtest; KR-SAS / KR2-SAS: SAS ddfm=kr / "
            "ddfm=kr2, observed information; CR0: HLM robust; CR2: clubSandwich)"
        ),
        f"{'fixed effect':<24}{'estimate':>12}" + "".join(f"{lab:>10}" for lab, _, _ in ses),
    ]
    out += [f"{name[:23]:<24}{fit.fixed[name]:>12.5g}" + row(name, ses, 10) for name in fit.fixed.index]
    out += [
        "",
        (
            "denominator df by definition (resid: n - p; contain/bw: SAS ddfm=; HLM: J - S - 1; "
            "nlme: inner/outer; Satt: lmerTest; KR: pbkrtest; KR-SAS: SAS ddfm=kr and kr2)"
        ),
        f"{'fixed effect':<24}" + "".join(f"{lab:>10}" for lab, _, _ in dfs),
    ]
    out += [f"{name[:23]:<24}" + row(name, dfs, 10) for name in fit.fixed.index]
    notes = [why for _, _, why in ses + dfs if why]
    out += [f"  ({n})" for n in notes]
    return out


def df_rules(case: Case, fit, design) -> list[str]:
    """One sentence per program naming its df rule, and HLM's df by the level of entry."""

    lines = rule_sentences(case.blocks, fit, design)
    entry = entry_sentence(fit, design)
    return (["df rules of this case's programs:"] if lines or entry else []) + lines + ([entry] if entry else [])


def consistency_checks(findings: list[Finding]) -> list[str]:
    """A consistency-only block: what its printout says about itself, with the numbers."""
    checks = [f for f in findings if not f.boundary]
    flags = [f for f in findings if f.boundary]
    if not checks and not flags:
        return ["no engine values (the data is not public) and no printout check applies to this block"]
    held = sum(f.ok for f in checks)
    out = [f"printout checks (no data, so no engine values): {held} of {len(checks)} hold"]
    for f in checks:
        rng = f"{f.low:.6g}" if f.low == f.high else f"{f.low:.6g} .. {f.high:.6g}"
        if f.ok:
            out.append(f"  holds  {f.where}: {f.check}; printed {f.printed}, expected {rng}")
        else:
            out.append(f"  inconsistent: {f.where} = {f.printed}, but {f.check} gives {rng}")
    out += [f"  {f.where} = {f.printed}: {f.check}" for f in flags]
    return out

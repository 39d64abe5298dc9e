"""HLM's df by the level at which a predictor is entered, read from a model in level notation.

HLM2 gives each fixed effect gamma_qs the df of the equation it sits in, not of
the variable it multiplies:

* gamma_qs in the level-2 equation of a level-1 coefficient beta_q that has a
  random part u_q: ``J - S_q - 1`` (J level-2 units, S_q the level-2 predictors
  in beta_q's equation). The intercept gamma_00 of a model with a random
  intercept and no level-2 predictor gets ``J - 1``.
* gamma_q0 of a level-1 coefficient without a random part (``b1 = g10``):
  the level-1 df ``N - p`` (N level-1 units, p all fixed effects).

So the same mixed model gets other df when a school-level variable is entered
at level 1: seed 000's URBAN at level 1 gets 692 (= N - 2) and the intercept
J - 1 = 125; entered at level 2 both get J - 2 = 124. HLM prints J - S_q - 1
also as the df of u_q's chi-square test, which is how the checks below learn J
from a printout that does not print it.

A block may carry its own ``model:`` (HLM level equations), the model as that
program was given it, when it enters a predictor at another level than the
case's model; it must be the same mixed model (the same lme4 formula).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .build import build_spec
from .case import Case
from .errors import CaseError, ReplicateError
from .findings import Finding
from .inference.dfrules import hlm_df
from .printed import Printed, printed_number
from .spec import ModelSpec, parse_levels

INTERCEPT = "(Intercept)"


@dataclass(frozen=True)
class Gamma:
    """Where one fixed effect sits in HLM's equations.

    Attributes:
        name: the engine's name (``(Intercept)``, ``urban``, ``ses:meanses``).
        beta: the level-1 coefficient whose equation holds it (``(Intercept)`` for beta_0).
        random: whether that beta has a random part (u_q).
        S: level-2 predictors in beta's equation.
        p: all fixed effects of the model.
    """

    name: str
    beta: str
    random: bool
    S: int
    p: int

    def rule(self) -> str:
        if self.random:
            return f"J - S - 1 with S = {self.S} (a coefficient of random beta {self.beta}'s equation)"
        return f"N - p with p = {self.p} (a fixed level-1 coefficient, entered at level 1)"

    def df(self, J: int | None, N: int | None) -> int | None:
        if self.random:
            return None if J is None else J - self.S - 1
        return None if N is None else N - self.p


def gammas(spec: ModelSpec) -> dict[str, Gamma]:
    """Every fixed effect of a two-level model given in level notation, as HLM places it."""
    if not spec.levels:
        raise ReplicateError("HLM's df by entry needs the model in level notation (model.levels)")
    random_cols = {":".join(t) for r in spec.random for t in r.terms}
    if any(r.intercept for r in spec.random):
        random_cols.add(INTERCEPT)
    terms = ([()] if spec.intercept else []) + list(spec.fixed)
    p = len(terms)
    placed = []
    for t in terms:
        l1 = [v for v in t if spec.levels.get(v, 1) == 1]
        placed.append((":".join(t) or INTERCEPT, ":".join(l1) or INTERCEPT, len(l1) < len(t)))
    out = {}
    for name, beta, has_w in placed:
        S = sum(1 for _, b2, w2 in placed if b2 == beta and w2)
        out[name] = Gamma(name, beta, beta in random_cols, S, p)
    return out


def block_spec(case: Case, i: int) -> ModelSpec | None:
    """The model of block ``i`` when it declares its own (``model:`` in level notation), else None.

    Raises:
        CaseError: the block's model is not the case's mixed model.
    """
    m = case.expected[i].get("model")
    if not m:
        return None
    field_ = f"expected[{i}].model"
    line = case.line_of("expected", i, "model")
    try:
        spec = parse_levels(m.get("levels") or {}, m.get("groups") or {}, field=f"{field_}.levels")
    except ReplicateError as exc:
        raise CaseError(str(exc), file=str(case.path), line=line, field=field_) from None

    own = build_spec(case)
    if (
        sorted(spec.fixed) != sorted(own.fixed)
        or spec.intercept != own.intercept
        or [r.text() for r in spec.random] != [r.text() for r in own.random]
    ):
        raise CaseError(
            f"the block's model ({spec.formula()}) is not the case's mixed model ({own.formula()})",
            file=str(case.path),
            line=line,
            field=field_,
            hint="a block's model may only enter the same predictors at other levels",
        )
    return spec


def block_model_error(case: Case, i: int) -> str | None:
    """Why block ``i``'s own ``model:`` is refused, or None (so that a case without data reports it too)."""
    try:
        block_spec(case, i)
    except CaseError as exc:
        return str(exc)
    return None


def implied_J(block: dict[str, Any], gs: dict[str, Gamma]) -> tuple[int, str] | None:
    """J from the printed chi-square df of u_0 (HLM prints J - S_0 - 1 there), or from ngroups."""
    inv = {v: k for k, v in (block.get("names") or {}).items()}
    fit = block["values"].get("fit") or {}
    for n in (fit.get("ngroups") or {}).values():
        if (groups := printed_number(n)) is not None:
            return int(groups), "the printed number of groups"
    intercept = gs.get(INTERCEPT)
    for grp, comps in (block["values"].get("random") or {}).items():
        if grp == "Residual":
            continue
        for comp, q in comps.items():
            if (
                (block.get("names") or {}).get(comp, comp) == INTERCEPT
                and (printed_df := printed_number(q.get("df"))) is not None
                and intercept is not None
            ):
                df = int(printed_df)
                return df + intercept.S + 1, f"the chi-square df {df} of {inv.get(INTERCEPT, comp)} + S + 1"
    return None


def _block_gammas(case: Case, i: int) -> dict[str, Gamma] | None:
    """The gammas of block ``i``'s model (its own level equations, else the case's); None if unreadable."""
    try:
        spec = block_spec(case, i)
        if spec is None:
            spec = build_spec(case)
        return gammas(spec)
    except ReplicateError:
        return None


def entry_checks(case: Case, i: int) -> list[Finding]:
    """HLM's df rule checked against an HLM block's printed df, by the level of entry of each predictor.

    Only for ``software: hlm`` blocks with ``options.df: hlm`` and a model in level
    notation (the block's own, else the case's). J comes from the printout; N is
    used when printed (``fit.nobs``). J (and N) implied by an earlier HLM block of
    the same case must be the same here: one data set, two entries.
    """
    blk = case.expected[i]
    if blk.get("software") != "hlm" or (blk.get("options") or {}).get("df") != "hlm":
        return []
    gs = _block_gammas(case, i)
    if gs is None:
        return []
    got = implied_J(blk, gs)
    fitv = blk["values"].get("fit") or {}
    N = printed_number(fitv.get("nobs"))
    names = blk.get("names") or {}
    out = []
    for printed_name, q in (blk["values"].get("fixed") or {}).items():
        g = gs.get(names.get(printed_name, printed_name))
        df = q.get("df")
        if g is None or printed_number(df) is None:
            continue
        if g.random and got is not None:
            want, basis = g.df(got[0], None), f"J = {got[0]} from {got[1]}"
        elif not g.random and N is not None:
            want, basis = g.df(None, int(N)), f"N = {int(N)}"
        else:
            continue
        if want is None:
            continue
        out.append(
            Finding(
                f"fixed {printed_name} df",
                f"HLM df {g.rule()}, {basis}",
                df.text if isinstance(df, Printed) else str(df),
                want,
                want,
                printed_number(df) == want,
            )
        )
    mine = implied_counts(case, i)
    for k in range(i):
        if case.expected[k].get("software") != "hlm":
            continue
        theirs = implied_counts(case, k)
        for what in ("J", "N"):
            if what in mine and what in theirs:
                out.append(
                    Finding(
                        f"counts {what}",
                        f"{what} implied by HLM's df rule, as in block {case.block_label(k)} ({theirs[what]})",
                        str(mine[what]),
                        theirs[what],
                        theirs[what],
                        mine[what] == theirs[what],
                    )
                )
    return out


def implied_counts(case: Case, i: int) -> dict[str, int]:
    """J and N that an HLM block's printed df imply under HLM's rule (empty where they cannot)."""
    blk = case.expected[i]
    gs = _block_gammas(case, i)
    if gs is None:
        return {}
    out: dict[str, int] = {}
    got = implied_J(blk, gs)
    if got is not None:
        out["J"] = got[0]
    names = blk.get("names") or {}
    for printed_name, q in (blk["values"].get("fixed") or {}).items():
        g = gs.get(names.get(printed_name, printed_name))
        if g is not None and not g.random and (printed_df := printed_number(q.get("df"))) is not None:
            out["N"] = int(printed_df) + g.p
    return out


def entry_sentence(fit: Any, design: Any) -> str | None:
    """For a model in level notation: HLM's df as entered beside HLM's df by the level at which each
    variable varies, when they differ (the estimates and SEs do not depend on the entry)."""

    spec = getattr(design, "spec", None)
    if spec is None or not spec.levels:
        return None
    try:
        entered, by_data = hlm_df(fit, design, spec), hlm_df(fit, design, None)
    except ReplicateError:
        return None
    diff = [n for n in entered.index if entered[n] != by_data[n]]
    if not diff:
        return None
    gs = gammas(spec)
    as_entered = "; ".join(f"{n} {entered[n]:g}" + (f" = {gs[n].rule()}" if n in gs else "") for n in diff)
    by_level = ", ".join(f"{n} {by_data[n]:g}" for n in diff)
    return (
        f"HLM's df follow the level of entry, not the variable: as entered here, {as_entered}; with each "
        f"variable entered at the level at which it varies, {by_level}. The mixed model is the same either "
        "way, so the estimates and SEs are too"
    )

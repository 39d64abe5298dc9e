"""A case's reference blocks side by side: the printed estimates, SEs and df of each program.

For a case whose programs fit one mixed model in different notations (seed 000:
URBAN entered at level 1 or at level 2 in HLM, and SAS GLIMMIX), this table
answers the question directly from the printouts: the coefficients agree, the SEs
of the same kind agree, and the df differ by each program's definition.
"""

from __future__ import annotations

from typing import Any

from .build import build_spec
from .case import Case
from .errors import ReplicateError
from .hlm_entry import block_spec, gammas, implied_counts
from .printed import Printed, printed_unit


def _p(x: Any) -> Printed | None:
    x = x.get("value") if isinstance(x, dict) else x
    return x if isinstance(x, Printed) and not x.bound else None


def _rows(case: Case) -> dict[str, list[dict[str, Printed | None]]]:
    """Engine name -> per block {estimate, se, df} as printed."""
    out: dict[str, list[dict[str, Printed | None]]] = {}
    for i, blk in enumerate(case.blocks):
        for printed, q in blk.section("fixed").items():
            row = out.setdefault(blk.names.get(printed, printed), [{} for _ in case.blocks])
            row[i] = {k: _p(q.get(k)) for k in ("estimate", "se", "df")}
    return out


def _spread(vals: list[Printed]) -> tuple[float, float]:
    """Largest difference between the printed values, and the coarsest printing unit among them."""
    xs = [v.value for v in vals]
    return max(xs) - min(xs), max(printed_unit(v) or 0.0 for v in vals)


def _df_rule(case: Case, i: int, name: str, df: Printed) -> str:
    method = case.blocks[i].options.df or ""
    if method != "hlm":
        return f"{_cell(df)} ({method or 'definition not declared'})"
    try:
        spec = block_spec(case, i)
        if spec is None:
            spec = build_spec(case)
        g = gammas(spec).get(name)
    except ReplicateError:
        g = None
    if g is None:
        return f"{_cell(df)} (HLM)"
    counts = implied_counts(case, i)
    if g.random:
        where = "the intercept's equation" if g.beta == name else "entered at level 2"
        return f"{_cell(df)} = J - S - 1 (J = {counts.get('J', '?')}, S = {g.S}: {where})"
    return (
        f"{_cell(df)} = N - p (N = {counts.get('N', '?')} implied by this df, p = {g.p}: entered at level 1, "
        "no random part)"
    )


def _cell(p: Printed) -> str:
    """A printed number as printed; a live run's full-precision double (17 digits) to 10 significant."""
    digits = sum(ch.isdigit() for ch in p.text.split("e")[0].split("E")[0])
    return f"{p.value:.10g}" if digits > 10 and not p.bound else p.text


def side_by_side(case: Case) -> list[str]:
    """The table and one sentence per quantity; empty for a case with fewer than two blocks with fixed effects."""
    rows = _rows(case)
    blocks = [b.index for b in case.blocks if b.section("fixed")]
    if len(blocks) < 2 or not rows:
        return []
    labels = [case.block_label(i) for i in blocks]
    texts = [_cell(c) for per in rows.values() for i in blocks for c in per[i].values() if c]
    width = max(14, *(len(lab) + 2 for lab in labels), *(len(t) + 2 for t in texts))
    out = [
        "the programs side by side (as printed: estimate / SE / df)",
        f"{'fixed effect':<22}" + "".join(f"{lab:>{width}}" for lab in labels),
    ]
    for name, per in rows.items():
        for q in ("estimate", "se", "df"):
            cells = [per[i].get(q) for i in blocks]
            out.append(f"{(name + ' ' + q)[:30]:<22}" + "".join(f"{(_cell(c) if c else '—'):>{width}}" for c in cells))
    out.append("")
    for name, per in rows.items():
        ests = [e for i in blocks if (e := per[i].get("estimate")) is not None]
        if len(ests) > 1:
            d, unit = _spread(ests)
            out.append(
                f"{name}: the coefficients agree to within {d:.3g} (printed to {unit:g})"
                if d <= 2 * unit + 1e-12
                else f"{name}: the coefficients differ by {d:.3g}"
            )
        by_kind: dict[str, list[tuple[str, Printed]]] = {}
        for i in blocks:
            se = per[i].get("se")
            if se:
                kind = str(case.blocks[i].options.se)
                by_kind.setdefault(kind, []).append((case.block_label(i), se))
        for kind, ses in by_kind.items():
            if len(ses) > 1:
                d, unit = _spread([s for _, s in ses])
                out.append(
                    f"{name}: the {kind} SEs of {', '.join(lab for lab, _ in ses)} agree to within {d:.3g}"
                    if d <= 2 * unit + 1e-12
                    else f"{name}: the {kind} SEs of {', '.join(lab for lab, _ in ses)} differ by {d:.3g}"
                )
        if len(by_kind) > 1:
            out.append(f"{name}: the SE kinds differ ({', '.join(by_kind)}): another definition, not another model")
        dfs = [(i, df) for i in blocks if (df := per[i].get("df")) is not None]
        if len({df.text for _, df in dfs}) > 1:
            out.append(
                f"{name}: the df differ by definition: "
                + "; ".join(f"{case.block_label(i)} {_df_rule(case, i, name, df)}" for i, df in dfs)
            )
    return out

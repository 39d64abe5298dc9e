"""Transcription errors, named before any optimum or definition is blamed.

Three checks, tried first by :func:`replicate.diagnose.diagnose_block`:

* the printout contradicts itself: the printed t is not estimate / SE, the
  variance is not SD squared, or the p-value does not follow from t and the
  printed df, beyond the rounding of every printed number
  (:mod:`replicate.consistency`); the number that disagrees with the engine is
  the one that was copied wrong;
* a swapped pair: two differing values of one kind are each other's engine values;
* a lone value: one value differs while all the others agree to many digits.
"""

from __future__ import annotations

import math
from typing import Any

from scipy import optimize, stats

from .compare import AGREES, DISCREPANCY, WITHIN, ValueComparison
from .consistency import check_block
from .findings import interval
from .printed import Printed, printed_unit
from .reference_block import ReferenceBlock

LONE_DIGITS = 6.0  # the others must agree to at least this many digits for a lone value to be called a typo


def _key(v: ValueComparison) -> str:
    return f"{v.section} {v.name} {v.quantity}"


def _close(printed: float, value: float | None, unit: float | None) -> bool:
    if value is None or not math.isfinite(value):
        return False
    return abs(printed - value) <= max(0.5 * (unit or 0.0) * (1 + 1e-9), 1e-6 * abs(value))


def _say(*parts: str) -> str:
    return "".join(parts)


def _printed(quantities: dict[str, Any]) -> dict[str, Any]:
    """The printed numbers of one row, a per-value tolerance ({value: ..., rtol: ...}) read as its value."""
    return {k: (v["value"] if isinstance(v, dict) and "value" in v else v) for k, v in quantities.items()}


def _fmt(x: float) -> str:
    return f"{x:.5g}"


def _mid(x: Any) -> float | None:
    iv = interval(x)
    return None if iv is None or not all(map(math.isfinite, iv)) else (iv[0] + iv[1]) / 2


def _needed_df(t: float, p: float) -> float | None:
    """The df at which 2 P(T > |t|) equals p, if any."""
    f = lambda d: 2 * stats.t.sf(abs(t), d) - p
    try:
        return float(optimize.brentq(f, 0.5, 1e7)) if f(0.5) * f(1e7) < 0 else None
    except ValueError:
        return None


def self_contradictions(block: ReferenceBlock, method: str | None, bad: list[ValueComparison]) -> list[tuple]:
    """(values explained, sentence) for each printed number that contradicts the block's other numbers
    and the engine, named as a likely transcription error."""
    values = block.values
    failing = [f for f in check_block(values, method, block.software) if not f.ok]
    by_key = {_key(v): v for v in bad}
    out = []
    for f in failing:
        parts = f.where.split(" ")
        section, quantity, name = parts[0], parts[-1], " ".join(parts[1:-1])
        if section == "fixed" and quantity == "t":
            q = _printed(values["fixed"][name])
            est, se, t = _mid(q.get("estimate")), _mid(q.get("se")), _mid(q.get("t"))
            if est is None or se is None or t is None or t == 0:
                continue
            if f"fixed {name} se" in by_key:
                out.append(
                    (
                        (f"fixed {name} se",),
                        _say(
                            f"the printout contradicts itself: t = {q['t'].text} needs SE "
                            f"{_fmt(est / t)}, the block says {q['se'].text}; a transcription error?"
                        ),
                    )
                )
            elif f"fixed {name} estimate" in by_key:
                out.append(
                    (
                        (f"fixed {name} estimate",),
                        _say(
                            f"the printout contradicts itself: t = {q['t'].text} "
                            f"needs estimate {_fmt(t * se)}, the block says {q['estimate'].text}; "
                            "a transcription error?"
                        ),
                    )
                )
            elif f"fixed {name} t" in by_key:
                out.append(
                    (
                        (f"fixed {name} t",),
                        _say(
                            f"the printout contradicts itself: estimate / SE = "
                            f"{_fmt(est / se)}, the block says t = {q['t'].text}; a transcription error?"
                        ),
                    )
                )
        elif section == "fixed" and quantity == "p":
            q = _printed(values["fixed"][name])
            t = _mid(q.get("t"))
            est_mid, se_mid = _mid(q.get("estimate")), _mid(q.get("se"))
            if t is None and se_mid and est_mid is not None:
                t = est_mid / se_mid
            p, df = _mid(q.get("p")), _mid(q.get("df"))
            if t is None or p is None:
                continue
            need = _needed_df(t, p)
            if f"fixed {name} df" in by_key and need is not None:
                out.append(
                    (
                        (f"fixed {name} df",),
                        _say(
                            f"the printout contradicts itself: t = {_fmt(t)} and p = "
                            f"{q['p'].text} need df {_fmt(need)}, the block says {q['df'].text}; "
                            "a transcription error?"
                        ),
                    )
                )
            elif f"fixed {name} p" in by_key and df is not None:
                out.append(
                    (
                        (f"fixed {name} p",),
                        _say(
                            f"the printout contradicts itself: t = {_fmt(t)} with df "
                            f"{q['df'].text} gives p = {_fmt(2 * stats.t.sf(abs(t), df))}, the block says "
                            f"{q['p'].text}; a transcription error?"
                        ),
                    )
                )
        elif section == "random" and quantity == "variance":
            grp, _, comp = name.partition(" ")
            q = _printed(values["random"][grp] if grp == "Residual" else values["random"][grp][comp])
            sd = _mid(q.get("sd"))
            for k, other, need in (("variance", "sd", None if sd is None else sd * sd), ("sd", "variance", None)):
                key = f"random {name} {k}"
                if key in by_key:
                    if need is None:
                        var = _mid(q.get("variance"))
                        need = None if var is None or var < 0 else math.sqrt(var)
                    if need is not None:
                        out.append(
                            (
                                (key,),
                                _say(
                                    f"the printout contradicts itself: {other} {q[other].text} needs "
                                    f"{k} {_fmt(need)}, the block says {q[k].text}; a transcription error?"
                                ),
                            )
                        )
                    break
    return out


def swapped_pairs(bad: list[ValueComparison]) -> list[tuple]:
    """(values explained, sentence) for two differing values of one kind that are each other's engine values."""
    out: list[tuple] = []
    used: set[str] = set()
    for i, a in enumerate(bad):
        for b in bad[i + 1 :]:
            if a.quantity != b.quantity or _key(a) in used or _key(b) in used:
                continue
            ua = printed_unit(Printed(a.reference_value, a.reference))
            ub = printed_unit(Printed(b.reference_value, b.reference))
            if _close(a.reference_value, b.engine, ua) and _close(b.reference_value, a.engine, ub):
                used.update((_key(a), _key(b)))
                out.append(
                    (
                        (_key(a), _key(b)),
                        _say(
                            f"swapped pair: the block's {a.name} {a.quantity} {a.reference} "
                            f"is the engine's {b.name} {b.quantity} and its {b.name} {b.quantity} {b.reference} "
                            f"the engine's {a.name} {a.quantity}: a transcription error is the likeliest cause"
                        ),
                    )
                )
    return out


def lone_value(values: list[ValueComparison], rest: list[ValueComparison]) -> tuple | None:
    """(values explained, sentence) when a single value differs and every other agrees to many digits."""
    if len(rest) != 1:
        return None
    others = [v for v in values if v is not rest[0] and v.verdict != "not comparable"]
    if len(others) < 3 or any(v.verdict not in (AGREES, WITHIN) for v in others):
        return None
    # counts are printed with few digits and tiny p-values lose digits in the tail: they agree, but do not count
    digits = [v.lre for v in others if v.lre is not None and v.kind not in ("count", "p")]
    if len(digits) < 3 or min(digits) < LONE_DIGITS:
        return None
    v = rest[0]
    aside = len(others) - len(digits)
    return (
        (_key(v),),
        _say(
            f"only {v.name} {v.quantity} differs ({v.reference}, engine "
            f"{v.engine:.6g}); all {len(others)} others agree, "
            + (f"the {len(digits)} besides counts and p-values " if aside else "")
            + f"to >= {math.floor(min(digits))} digits: a transcription error is the likeliest cause"
        ),
    )


def transcription_errors(block: ReferenceBlock, method: str | None, values: list[ValueComparison]) -> list[tuple]:
    """Every typo diagnosis for a block's differing values, each value explained once."""
    bad = [v for v in values if v.verdict == DISCREPANCY]
    out = swapped_pairs(bad)  # the more specific explanation of two values that also contradict their rows
    done = {k for keys, _ in out for k in keys}
    out += self_contradictions(block, method, [v for v in bad if _key(v) not in done])
    done = {k for keys, _ in out for k in keys}
    lone = lone_value(values, [v for v in bad if _key(v) not in done])
    return out + ([lone] if lone else [])

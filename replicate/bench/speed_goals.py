"""Issue #20's goals, judged from a run's fits: InstEval at MixedModels.jl's published ratio, crossed designs with
random slopes well ahead of lme4, and no loss of accuracy for the speed.

Each is met, not met or not measured, with the numbers it was judged on (see :mod:`.goals` for the others).
"""

from __future__ import annotations

from typing import Any

#: InstEval ``(1 | dept)``: MixedModels.jl's published ratio to lme4; ``(0 + service | dept)``: the issue's.
INSTEVAL_RATIO = 17.0
INSTEVAL_SERVICE_RATIO = 20.0
#: Crossed designs with random slopes (subjects x items, several slopes each): at least this ratio to lme4.
CROSSED_RATIO = 10.0
#: The catalogue's crossed designs with random slopes.
CROSSED_MODELS = ("kb07_like", "crossed_slopes_large")
#: Our -2 log-likelihood may exceed lme4's by at most this much (ours at least as high a likelihood).
ACCURACY = 1e-6


def _ratio(row: dict[str, Any] | None, peer: str) -> float | None:
    r = (row or {}).get("ratios", {}).get(peer)
    return None if not r else r["median"]


def _goal(gid: str, text: str, status: str, detail: str, **numbers: Any) -> dict[str, Any]:
    return {"id": gid, "goal": text, "status": status, "detail": detail, "numbers": numbers}


def _insteval(fits: dict[str, dict[str, Any]]) -> dict[str, Any]:
    text = (
        f"InstEval by ML at least {INSTEVAL_RATIO:g} times faster than lme4 with (1 | dept) and "
        f"{INSTEVAL_SERVICE_RATIO:g} times with (0 + service | dept)"
    )
    r1 = _ratio(fits.get("fit/insteval/ML"), "lme4")
    r2 = _ratio(fits.get("fit/insteval_dept_service/ML"), "lme4")
    if r1 is None or r2 is None:
        return _goal("insteval_17x", text, "not measured", "InstEval (both models) not timed against lme4 in this run")
    ok = r1 >= INSTEVAL_RATIO and r2 >= INSTEVAL_SERVICE_RATIO
    detail = f"(1 | dept): {r1:.1f}x; (0 + service | dept): {r2:.1f}x"
    return _goal("insteval_17x", text, "met" if ok else "not met", detail, insteval=r1, insteval_dept_service=r2)


def _crossed(fits: dict[str, dict[str, Any]]) -> dict[str, Any]:
    text = f"crossed designs with random slopes at least {CROSSED_RATIO:g} times faster than lme4"
    ratios = {
        i: r for i, row in fits.items() if i.split("/")[1] in CROSSED_MODELS and (r := _ratio(row, "lme4")) is not None
    }
    if not ratios:
        return _goal("crossed_10x", text, "not measured", "no crossed design with random slopes timed against lme4")
    ok = all(r >= CROSSED_RATIO for r in ratios.values())
    detail = "; ".join(f"{i}: {r:.1f}x" for i, r in sorted(ratios.items()))
    return _goal(
        "crossed_10x", text, "met" if ok else "not met", detail, ratios={k: round(v, 2) for k, v in ratios.items()}
    )


def _accuracy(fits: dict[str, dict[str, Any]]) -> dict[str, Any]:
    text = f"no loss of accuracy: our log-likelihood at least lme4's on every model (to {ACCURACY:g} in -2 log L)"
    gaps = {
        i: float(res["objective_minus_native"])
        for i, row in fits.items()
        if isinstance(res := row.get("lme4"), dict) and res.get("objective_minus_native") is not None
    }
    if not gaps:
        return _goal("accuracy", text, "not measured", "no lme4 objective recorded in this run")
    worse = {i: g for i, g in gaps.items() if g < -ACCURACY}
    detail = (
        f"{len(gaps) - len(worse)} of {len(gaps)} fits at least as high; smallest lme4 - ours "
        f"{min(gaps.values()):.2e} ({min(gaps, key=gaps.__getitem__)})"
        + (f"; lower than lme4: {', '.join(sorted(worse))}" if worse else "")
    )
    return _goal("accuracy", text, "not met" if worse else "met", detail, lme4_minus_ours=gaps)


def speed_goals(fits: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Issue #20's goals from the run's fits (by id, ``fit/<model>/<method>``)."""
    return [_insteval(fits), _crossed(fits), _accuracy(fits)]

"""The benchmark's goals, judged from a run's results: met, not met, or not measured, with the numbers."""

from __future__ import annotations

from typing import Any

from .cells import fmt_mb
from .speed_goals import speed_goals

# Goal thresholds.
KR_RATIO = 20.0
LINEAR_SLOPE = 1.15
FLAT_SLOPE = 0.3
BIG_FIT_SECONDS = 30.0
BIG_FIT_MB = 4096.0
MIN_ROWS_FOR_ORDER = 100_000  # a slope over smaller sizes mostly measures fixed costs


# ------------------------------------------------------------------ goals


def _ratio(row: dict[str, Any] | None, peer: str) -> float | None:
    r = (row or {}).get("ratios", {}).get(peer)
    return None if not r else r["median"]


def _goal(gid: str, text: str, status: str, detail: str, **numbers: Any) -> dict[str, Any]:
    return {"id": gid, "goal": text, "status": status, "detail": detail, "numbers": numbers}


def evaluate_goals(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Each goal of the issue as met / not met / not measured, with the numbers."""
    fits = {r["id"]: r for r in result.get("fits", [])}
    inf = {r["id"]: r for r in result.get("inference", [])}
    scal = {s["sweep"]: s for s in result.get("scaling", [])}
    goals = []

    ratios = {i: v for i, r in fits.items() if (v := _ratio(r, "lme4")) is not None}
    text = "faster than lme4 on every model"
    if not ratios:
        goals.append(_goal("faster_than_lme4", text, "not measured", "no lme4 fit timed in this run"))
    else:
        worst = min(ratios, key=ratios.__getitem__)
        slower = sorted(i for i, v in ratios.items() if v <= 1.0)
        detail = (
            f"{len(ratios) - len(slower)} of {len(ratios)} fits faster; smallest ratio {ratios[worst]:.2f}x "
            f"({worst})" + (f"; not faster: {', '.join(slower)}" if slower else "")
        )
        goals.append(
            _goal(
                "faster_than_lme4",
                text,
                "met" if not slower else "not met",
                detail,
                ratios={k: round(v, 2) for k, v in ratios.items()},
            )
        )

    goals.extend(speed_goals(fits))

    text = f"Kenward-Roger at least {KR_RATIO:g} times faster than pbkrtest on High School and Beyond"
    r = _ratio(inf.get("kenward_roger/hsb_ses"), "pbkrtest")
    if r is None:
        goals.append(_goal("kr_20x", text, "not measured", "kenward_roger/hsb_ses not timed against pbkrtest"))
    else:
        others = {
            k.split("/")[1]: _ratio(v, "pbkrtest")
            for k, v in inf.items()
            if k.startswith("kenward_roger/") and k != "kenward_roger/hsb_ses"
        }
        d = f"hsb_ses (MathAch ~ SES + (SES | School)): {r:.0f}x" + "".join(
            f"; {k}: {v:.0f}x" for k, v in others.items() if v is not None
        )
        goals.append(_goal("kr_20x", text, "met" if r >= KR_RATIO else "not met", d, hsb_ses=r, **others))

    text = (
        f"fit time linear in rows once the cross-products are formed (fit: slope of log time on log rows "
        f"<= {LINEAR_SLOPE}; the optimization after the cross-products, at fixed groups: slope <= {FLAT_SLOPE})"
    )
    parts, nums, ok, seen = [], {}, True, False
    for sweep_name in ("rows_ri", "rows_rs", "fixedgroups_ri", "fixedgroups_rs"):
        sw = scal.get(sweep_name)
        if _largest(sw, "fit", "native") < MIN_ROWS_FOR_ORDER:
            continue
        fit_s, cp_s, opt_s = (_slope(sw, "fit", p) for p in ("native", "native_crossprod", "native_optimize"))
        if fit_s is None:
            continue
        seen = True
        nums[f"{sweep_name}_fit"] = fit_s
        ok &= fit_s <= LINEAR_SLOPE
        text_part = f"{sweep_name}: fit {fit_s:.2f}"
        if cp_s is not None:
            nums[f"{sweep_name}_crossproducts"] = cp_s
            text_part += f", cross-products {cp_s:.2f}"
        if opt_s is not None:
            nums[f"{sweep_name}_optimization"] = opt_s
            text_part += f", optimization {opt_s:.2f}"
            if sweep_name.startswith("fixedgroups"):
                ok &= opt_s <= FLAT_SLOPE
        parts.append(text_part)
    goals.append(
        _goal(
            "linear_in_rows",
            text,
            ("met" if ok else "not met") if seen else "not measured",
            ("slopes over the larger sizes: " + "; ".join(parts))
            if parts
            else f"no sweep over rows reaching {MIN_ROWS_FOR_ORDER:,} rows in this run",
            **nums,
        )
    )

    text = f"10^6 rows in 10^5 groups, random intercept: fit under {BIG_FIT_SECONDS:g} s and {BIG_FIT_MB / 1024:g} GB"
    pt = _point(scal.get("rows_ri"), "fit", "native", 1_000_000, 100_000)
    if pt is None or "median_s" not in pt:
        goals.append(_goal("million_rows", text, "not measured", "the 10^6-row random-intercept fit was not run"))
    else:
        mem = [v for v in (pt.get("rss_peak_mb"), pt.get("py_peak_mb")) if v is not None]
        peak = max(mem) if mem else None
        ok = pt["median_s"] < BIG_FIT_SECONDS and (peak is None or peak < BIG_FIT_MB)
        d = (
            f"{pt['median_s']:.2f} s (median of {pt['n_runs']}); peak memory: "
            f"RSS +{fmt_mb(pt.get('rss_peak_mb'))}, Python allocations {fmt_mb(pt.get('py_peak_mb'))}"
        )
        goals.append(
            _goal(
                "million_rows",
                text,
                "met" if ok else "not met",
                d,
                seconds=pt["median_s"],
                rss_peak_mb=pt.get("rss_peak_mb"),
                py_peak_mb=pt.get("py_peak_mb"),
            )
        )
    return goals


def _slope(sweep: dict[str, Any] | None, phase: str, prog: str) -> float | None:
    for s in (sweep or {}).get("slopes", []):
        if s["phase"] == phase and s["program"] == prog:
            return s.get("slope_larger")
    return None


def _largest(sweep: dict[str, Any] | None, phase: str, prog: str) -> int:
    """Largest number of rows at which the program finished in a sweep (0 if none)."""
    return max(
        (
            p["rows"]
            for p in (sweep or {}).get("points", [])
            if p["phase"] == phase and p["program"] == prog and "median_s" in p
        ),
        default=0,
    )


def _point(sweep: dict[str, Any] | None, phase: str, prog: str, rows: int, groups: int) -> dict[str, Any] | None:
    for p in (sweep or {}).get("points", []):
        if p["phase"] == phase and p["program"] == prog and p["rows"] == rows and p["groups"] == groups:
            return p
    return None

"""The three parts of the benchmark: model fits, inference, scaling curves.

Each part returns plain dicts (they go to JSON unchanged); a failure of one
program is recorded in its cell (``{"error": ...}``) and the run goes on.
"""

from __future__ import annotations

import fnmatch
import gc
import math
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .models import CATALOGUE, BenchModel, Sweep, simulated_design, sweeps
from .peers import (
    RSession,
    max_rel_diff,
    native_crossproducts,
    native_fit,
    native_fit_satterthwaite,
    native_kenward_roger,
    native_optimize,
    native_satterthwaite,
    objective,
    statsmodels_fit,
    statsmodels_supports,
)
from .timing import loglog_slope, measure, ratio

#: Sections of the benchmark and the short names ``--only`` accepts for them.
SECTIONS = ("fit", "satterthwaite", "fit_satterthwaite", "kenward_roger", "scaling")
ALIASES = {
    "fits": ("fit",),
    "models": ("fit",),
    "inference": ("satterthwaite", "fit_satterthwaite", "kenward_roger"),
    "kr": ("kenward_roger",),
    "satt": ("satterthwaite", "fit_satterthwaite"),
}

#: Programs in the order tables and plots show them.
PROGRAMS = ("native", "native_crossprod", "native_optimize", "lme4", "statsmodels", "lmerTest", "pbkrtest")
PEER_OF = {
    "fit": ("lme4", "statsmodels"),
    "satterthwaite": ("lmerTest",),
    "fit_satterthwaite": ("lmerTest",),
    "kenward_roger": ("pbkrtest",),
}


@dataclass
class Options:
    quick: bool = False
    only: list[str] = field(default_factory=list)
    reps: int = 5
    threads: int | None = None
    out: Path = Path("benchmarks/results")
    no_r: bool = False
    budget: float = 60.0
    time_cap: float = 60.0
    scaling_reps: int = 3
    scaling_cap: float = 10.0


def matches(item_id: str, tokens: list[str]) -> bool:
    """Whether ``--only`` selects an item (``fit/insteval/ML``, ``scaling/rows_ri``, ...).

    A token selects an item when it equals one of the item's ``/``-separated
    parts, names a section alias (``inference``, ``kr``, ``fits``), or is a shell
    pattern matching the whole id (``fit/hsb_*``).
    """
    if not tokens:
        return True
    parts = item_id.split("/")
    for tok in tokens:
        if tok in parts or fnmatch.fnmatchcase(item_id, tok):
            return True
        if tok in ALIASES and parts[0] in ALIASES[tok]:
            return True
    return False


def _error(exc: BaseException) -> dict[str, str]:
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" ({Path(tb[-1].filename).name}:{tb[-1].lineno})" if tb else ""
    return {"error": f"{type(exc).__name__}: {exc}"[:500] + where}


def _ok(m: dict[str, Any] | None) -> bool:
    return bool(m) and "median_s" in m


class Bench:
    """Runs the selected parts; ``log`` prints progress lines."""

    def __init__(self, opts: Options, r: RSession | None, log: Callable[[str], None]) -> None:
        self.opts = opts
        self.r = r
        self.log = log

    # ------------------------------------------------------------ helpers

    def _models(self) -> list[BenchModel]:
        return [m for m in CATALOGUE.values() if m.quick or not self.opts.quick]

    def selected_ids(self) -> list[str]:
        """Every item id the options select, in run order."""
        ids = []
        for m in self._models():
            ids += [f"fit/{m.name}/{meth}" for meth in m.methods]
        for sec in ("satterthwaite", "fit_satterthwaite", "kenward_roger"):
            ids += [f"{sec}/{m.name}" for m in self._models() if m.inference]
        ids += [f"scaling/{s.name}" for s in sweeps(self.opts.quick)]
        return [i for i in ids if matches(i, self.opts.only)]

    def _measure(
        self,
        fn: Callable[[], Any],
        *,
        reps: int,
        cap: float,
        r_heap: bool = False,
        trace: bool = False,
        warmup: bool = True,
        keep: Callable[[Any], Any] | None = None,
    ) -> tuple[dict[str, Any], Any]:
        try:
            return measure(
                fn,
                reps=reps,
                warmup=warmup,
                time_cap=cap,
                tracemalloc_warmup=trace,
                extra_probe=self.r.heap_probe if (r_heap and self.r) else None,
                keep=keep,
            )
        except Exception as exc:  # noqa: BLE001 - a program failing is a result, not a crash
            return _error(exc), None

    # ---------------------------------------------------------- model fits

    def fits(self) -> list[dict[str, Any]]:
        rows = []
        for m in self._models():
            methods = [meth for meth in m.methods if matches(f"fit/{m.name}/{meth}", self.opts.only)]
            if not methods:
                continue
            try:
                frame = m.load()
                t0 = time.perf_counter()
                design = m.design(frame)
                build_s = time.perf_counter() - t0
            except Exception as exc:  # noqa: BLE001 - data not available here
                for meth in methods:
                    rows.append(
                        {
                            "id": f"fit/{m.name}/{meth}",
                            "model": m.name,
                            "method": meth,
                            "formula": m.formula,
                            "skipped": _error(exc)["error"],
                        }
                    )
                    self.log(f"fit/{m.name}/{meth}: skipped ({exc})")
                continue
            for meth in methods:
                rows.append(self._fit_row(m, meth, design, build_s))
                gc.collect()
            if self.r:
                self.r.collect()
        return rows

    def _fit_row(self, m: BenchModel, method: str, design: Any, build_s: float) -> dict[str, Any]:
        reps = min(self.opts.reps, m.reps or self.opts.reps)
        cap = self.opts.time_cap
        row: dict[str, Any] = {
            "id": f"fit/{m.name}/{method}",
            "model": m.name,
            "method": method,
            "formula": m.formula,
            "source": m.source,
            "n": design.n,
            "groups": design.ngroups(),
            "p": design.p,
            "q": int(sum(t.nlevels * t.k for t in design.reterms)),
            "design_build_s": build_s,
        }
        nat, fit = self._measure(native_fit(design, method), reps=reps, cap=cap, trace=True)
        row["native"] = nat
        if fit is not None:
            row["native_objective"] = objective(fit)
            if fit.optinfo is not None:
                row["native_evaluations"] = fit.optinfo.evaluations
                row["native_optimizer"] = fit.optinfo.method
        if self.r:
            try:
                rm = self.r.prepare(design, method)
                res, fm = self._measure(rm.fit(), reps=reps, cap=cap, r_heap=True)
                if fm is not None:
                    res["objective"] = rm.objective(fm)
                    if fit is not None:
                        res["objective_minus_native"] = res["objective"] - row["native_objective"]
                del fm, rm
            except Exception as exc:  # noqa: BLE001
                res = _error(exc)
            row["lme4"] = res
        ok, why = statsmodels_supports(design)
        if ok:
            res, smf = self._measure(statsmodels_fit(design, method), reps=reps, cap=cap)
            if smf is not None:
                res["objective"] = objective(smf)
                if fit is not None:
                    res["objective_minus_native"] = res["objective"] - row["native_objective"]
                res["converged"] = bool(smf.converged)
            row["statsmodels"] = res
        else:
            row["statsmodels"] = {"skipped": why}
        row["ratios"] = {p: ratio(row.get(p), nat) for p in ("lme4", "statsmodels") if _ok(row.get(p))}
        self.log(_line(row["id"], nat, {p: row.get(p) for p in ("lme4", "statsmodels")}))
        return row

    # ----------------------------------------------------------- inference

    def inference(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for m in self._models():
            if not m.inference:
                continue
            secs = [
                s
                for s in ("satterthwaite", "fit_satterthwaite", "kenward_roger")
                if matches(f"{s}/{m.name}", self.opts.only)
            ]
            if not secs:
                continue
            try:
                design = m.design()
                from ..engine import fit_design

                fit = fit_design(design, "REML")
            except Exception as exc:  # noqa: BLE001
                for s in secs:
                    rows.append({"id": f"{s}/{m.name}", "section": s, "model": m.name, "skipped": _error(exc)["error"]})
                continue
            rm = fm = None
            if self.r:
                try:
                    rm = self.r.prepare(design, "REML")
                    fm = rm.fit()()
                except Exception as exc:  # noqa: BLE001
                    rm, fm = None, None
                    self.log(f"{m.name}: lme4 fit for inference failed: {exc}")
            for s in secs:
                rows.append(self._inference_row(s, m, design, fit, rm, fm))
                gc.collect()
            del rm, fm
            if self.r:
                self.r.collect()
        return rows

    def _inference_row(self, sec: str, m: BenchModel, design: Any, fit: Any, rm: Any, fm: Any) -> dict[str, Any]:
        reps, cap = self.opts.reps, self.opts.time_cap
        peer = PEER_OF[sec][0]
        row: dict[str, Any] = {
            "id": f"{sec}/{m.name}",
            "section": sec,
            "model": m.name,
            "formula": m.formula,
            "n": design.n,
            "groups": design.ngroups(),
            "p": design.p,
            "peer": peer,
        }
        if sec == "satterthwaite":
            nat, ours = self._measure(native_satterthwaite(fit, design), reps=reps, cap=cap, trace=True)
            ours_df = None if ours is None else ours.to_numpy()
        elif sec == "fit_satterthwaite":
            nat, ours = self._measure(native_fit_satterthwaite(design), reps=reps, cap=cap, trace=True)
            ours_df = None if ours is None else ours[1].to_numpy()
        else:
            nat, ours = self._measure(native_kenward_roger(fit, design), reps=reps, cap=cap, trace=True)
            ours_df = None if ours is None else ours.df.to_numpy()
        row["native"] = nat
        if rm is None:
            row[peer] = {"skipped": "R not used" if not self.r else "no lme4 fit"}
        else:
            if sec == "satterthwaite":
                res, out = self._measure(rm.satterthwaite(fm), reps=reps, cap=cap, r_heap=True)
                peer_df = None if out is None else np.asarray(out, dtype=float)
            elif sec == "fit_satterthwaite":
                res, out = self._measure(rm.fit_summary(), reps=reps, cap=cap, r_heap=True)
                peer_df = None
                if out is not None:
                    cols = [str(c) for c in out.colnames]
                    tab = np.asarray(out, dtype=float).reshape((-1, len(cols)), order="F")
                    peer_df = tab[:, cols.index("df")] if "df" in cols else None
            else:
                res, out = self._measure(rm.kenward_roger(fm), reps=reps, cap=cap, r_heap=True)
                peer_df = None if out is None else np.asarray(out.rx2("df"), dtype=float)
                if out is not None and ours is not None:
                    res["max_rel_diff_se"] = max_rel_diff(ours.se.to_numpy(), np.asarray(out.rx2("se"), float))
            if peer_df is not None and ours_df is not None:
                res["max_rel_diff_df"] = max_rel_diff(ours_df, peer_df)
            row[peer] = res
        if ours_df is not None:
            row["native_df"] = [float(x) for x in ours_df]
        row["ratios"] = {peer: ratio(row[peer], nat)} if _ok(row.get(peer)) else {}
        self.log(_line(row["id"], nat, {peer: row[peer]}))
        return row

    # ------------------------------------------------------------- scaling

    def scaling(self) -> list[dict[str, Any]]:
        out = []
        for sw in sweeps(self.opts.quick):
            if matches(f"scaling/{sw.name}", self.opts.only):
                out.append(self._sweep(sw))
                gc.collect()
        return out

    def _sweep(self, sw: Sweep) -> dict[str, Any]:
        o = self.opts
        chains: list[tuple[str, str]] = []
        for ph in sw.phases:
            chains.append((ph, "native"))
            if ph == "fit":
                chains += [("fit", "native_crossprod"), ("fit", "native_optimize"), ("fit", "statsmodels")]
            if self.r:
                chains.append((ph, {"fit": "lme4", "satterthwaite": "lmerTest", "kenward_roger": "pbkrtest"}[ph]))
        history: dict[tuple[str, str], list[tuple[int, float]]] = {c: [] for c in chains}
        stopped: dict[tuple[str, str], str] = {}
        points: list[dict[str, Any]] = []
        t_sweep = time.perf_counter()

        def gate(chain: tuple[str, str], x: int) -> str | None:
            """Why this program is not run at size x (budget), or None."""
            if chain in stopped:
                return stopped[chain]
            hist = history[chain]
            if len(hist) >= 2:
                (x0, t0), (x1, t1) = hist[-2], hist[-1]
                if x0 != x1 and t0 > 0 and t1 > 0:
                    pred = t1 * (x / x1) ** (math.log(t1 / t0) / math.log(x1 / x0))
                    if pred > 2 * o.budget:
                        return (
                            f"not run: predicted {pred:.0f} s from the last two sizes, "
                            f"over twice the {o.budget:g} s budget"
                        )
            return None

        def record(chain: tuple[str, str], size: tuple[int, int], m: dict[str, Any]) -> None:
            x = sw.x(size)
            points.append({"rows": size[0], "groups": size[1], "x": x, "phase": chain[0], "program": chain[1], **m})
            if _ok(m):
                history[chain].append((x, m["median_s"]))
                if m["median_s"] > o.budget:
                    stopped[chain] = (
                        f"stopped: {m['median_s']:.1f} s at {sw.axis} = {x:,}, over the {o.budget:g} s budget"
                    )
            elif "error" in m:
                stopped[chain] = f"stopped after an error at {sw.axis} = {x:,}"

        def warm(chain: tuple[str, str]) -> bool:
            hist = history[chain]
            return not hist or hist[-1][1] < 3.0

        for size in sw.sizes:
            n, g = size
            x = sw.x(size)
            try:
                t0 = time.perf_counter()
                design = simulated_design(sw.formula, n, g)
                build_s = time.perf_counter() - t0
            except Exception as exc:  # noqa: BLE001
                for c in chains:
                    record(c, size, _error(exc))
                continue
            self.log(f"scaling/{sw.name}: {n:,} rows, {g:,} groups (data and design {build_s:.1f} s)")
            fit = fm = rm = None
            for chain in chains:
                phase, prog = chain
                why = gate(chain, x)
                if why:
                    record(chain, size, {"skipped": why})
                    self.log(_scaling_line(chain, points[-1]))
                    continue
                reps, cap, w = o.scaling_reps, o.scaling_cap, warm(chain)
                m: dict[str, Any]
                if prog == "native":
                    if phase == "fit":
                        m, fit = self._measure(native_fit(design, "REML"), reps=reps, cap=cap, trace=w, warmup=w)
                        if fit is not None and fit.optinfo is not None:
                            m["evaluations"] = fit.optinfo.evaluations
                    elif fit is None:
                        m = {"skipped": "no native fit at this size"}
                    elif phase == "satterthwaite":
                        m, _ = self._measure(native_satterthwaite(fit, design), reps=reps, cap=cap, trace=w, warmup=w)
                    else:
                        m, _ = self._measure(native_kenward_roger(fit, design), reps=reps, cap=cap, trace=w, warmup=w)
                elif prog == "native_crossprod":
                    m, _ = self._measure(native_crossproducts(design), reps=reps, cap=cap, warmup=w)
                elif prog == "native_optimize":
                    try:
                        m, _ = self._measure(native_optimize(design, "REML"), reps=reps, cap=cap, warmup=w)
                    except Exception as exc:  # noqa: BLE001 - building the cross-products failed
                        m = _error(exc)
                elif prog == "statsmodels":
                    ok, why = statsmodels_supports(design)
                    m = (
                        self._measure(statsmodels_fit(design, "REML"), reps=reps, cap=cap, warmup=w)[0]
                        if ok
                        else {"skipped": why}
                    )
                else:  # R programs
                    if prog != "lme4" and fm is None:
                        record(chain, size, {"skipped": "needs an lme4 fit, not made at this size"})
                        self.log(_scaling_line(chain, points[-1]))
                        continue
                    if rm is None:
                        try:
                            rm = self.r.prepare(design, "REML")  # type: ignore[union-attr]
                        except Exception as exc:  # noqa: BLE001
                            record(chain, size, _error(exc))
                            continue
                    if prog == "lme4":
                        m, fm = self._measure(rm.fit(), reps=reps, cap=cap, r_heap=True, warmup=w)
                    elif prog == "lmerTest":
                        m, _ = self._measure(rm.satterthwaite(fm), reps=reps, cap=cap, r_heap=True, warmup=w)
                    else:
                        m, _ = self._measure(rm.kenward_roger(fm), reps=reps, cap=cap, r_heap=True, warmup=w)
                record(chain, size, m)
                self.log(_scaling_line(chain, m))
            del design, fit, fm, rm
            gc.collect()
            if self.r:
                self.r.collect()
        return {
            "id": f"scaling/{sw.name}",
            "sweep": sw.name,
            "formula": sw.formula,
            "axis": sw.axis,
            "description": sw.description,
            "sizes": [list(s) for s in sw.sizes],
            "points": points,
            "slopes": slopes(points, sw.axis),
            "stopped": {f"{a}/{b}": v for (a, b), v in stopped.items()},
            "duration_s": time.perf_counter() - t_sweep,
        }


def slopes(points: list[dict[str, Any]], axis: str) -> list[dict[str, Any]]:
    """Empirical order of each program's curve: slope of log time on log size.

    ``larger`` uses the sizes within a factor of 30 of the largest size the
    program finished (at least two), where fixed costs no longer dominate;
    ``all`` uses every finished size. The groups sweep reads the slope against
    the number of groups (rows fixed); a negative slope there means the cost
    grows as the groups get fewer and larger.
    """
    out = []
    keys = sorted(
        {(p["phase"], p["program"]) for p in points},
        key=lambda k: (k[0], PROGRAMS.index(k[1]) if k[1] in PROGRAMS else 99),
    )
    for phase, prog in keys:
        pts = [
            (p["x"], p["median_s"], p.get("rss_peak_mb"))
            for p in points
            if p["phase"] == phase and p["program"] == prog and "median_s" in p
        ]
        if not pts:
            out.append({"phase": phase, "program": prog, "finished": 0})
            continue
        xs = [x for x, _, _ in pts]
        ts = [t for _, t, _ in pts]
        big = [(x, t) for x, t, _ in pts if x * 30 >= max(xs)]
        if len(big) < 2:
            big = sorted(zip(xs, ts))[-2:]
        out.append(
            {
                "phase": phase,
                "program": prog,
                "finished": len(pts),
                "largest": max(xs),
                "slope_larger": loglog_slope([b[0] for b in big], [b[1] for b in big]),
                "slope_all": loglog_slope(xs, ts),
                "larger_sizes": [b[0] for b in big],
            }
        )
    return out


def _fmt_s(m: dict[str, Any] | None) -> str:
    if not m:
        return "-"
    if "median_s" in m:
        return f"{m['median_s'] * 1e3:.1f} ms" if m["median_s"] < 1 else f"{m['median_s']:.2f} s"
    if "skipped" in m:
        return "skipped"
    return "error"


def _line(item: str, nat: dict[str, Any], peers: dict[str, Any]) -> str:
    parts = [f"{item:<36} ours {_fmt_s(nat):>10}"]
    for name, m in peers.items():
        r = ratio(m, nat) if _ok(m) else None
        parts.append(f"{name} {_fmt_s(m):>10}" + (f" ({r['median']:.1f}x)" if r else ""))
        if m and "error" in m:
            parts.append(f"[{name}: {m['error'][:80]}]")
    return "  ".join(parts)


def _scaling_line(chain: tuple[str, str], m: dict[str, Any]) -> str:
    extra = ""
    if "skipped" in m:
        extra = f" ({m['skipped']})"
    elif "error" in m:
        extra = f" ({m['error'][:100]})"
    elif m.get("rss_peak_mb") is not None:
        extra = f"  peak RSS +{m['rss_peak_mb']:.0f} MB"
    return f"    {chain[0]:<14} {chain[1]:<17} {_fmt_s(m):>10}{extra}"

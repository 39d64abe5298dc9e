"""The three parts of the benchmark: model fits, inference, scaling curves.

Each part returns plain dicts (they go to JSON unchanged); a failure of one
program is recorded in its cell (``{"error": ...}``) and the run goes on.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..engine import fit_design
from .models import CATALOGUE, BenchModel, sweeps
from .options import (
    ALIASES,
    PEER_OF,
    PROGRAMS,
    SECTIONS,
    Options,
    error_cell,
    finished,
    matches,
    measure_cell,
    progress_line,
)
from .peers import (
    RSession,
    max_rel_diff,
    native_fit,
    native_fit_satterthwaite,
    native_kenward_roger,
    native_satterthwaite,
    objective,
    statsmodels_fit,
    statsmodels_supports,
)
from .scaling import run_sweep, slopes
from .timing import ratio

__all__ = ["ALIASES", "PEER_OF", "PROGRAMS", "SECTIONS", "Bench", "Options", "matches", "slopes"]


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

    def _measure(self, fn: Callable[[], Any], **how: Any) -> tuple[dict[str, Any], Any]:
        return measure_cell(fn, self.r, **how)

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
                            "skipped": error_cell(exc)["error"],
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
                res = error_cell(exc)
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
        row["ratios"] = {p: ratio(row.get(p), nat) for p in ("lme4", "statsmodels") if finished(row.get(p))}
        self.log(progress_line(row["id"], nat, {p: row.get(p) for p in ("lme4", "statsmodels")}))
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
                fit = fit_design(design, "REML")
            except Exception as exc:  # noqa: BLE001
                for s in secs:
                    rows.append(
                        {"id": f"{s}/{m.name}", "section": s, "model": m.name, "skipped": error_cell(exc)["error"]}
                    )
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
        row["ratios"] = {peer: ratio(row[peer], nat)} if finished(row.get(peer)) else {}
        self.log(progress_line(row["id"], nat, {peer: row[peer]}))
        return row

    # ------------------------------------------------------------- scaling

    def scaling(self) -> list[dict[str, Any]]:
        out = []
        for sw in sweeps(self.opts.quick):
            if matches(f"scaling/{sw.name}", self.opts.only):
                out.append(run_sweep(sw, self.opts, self.r, self.log))
                gc.collect()
        return out

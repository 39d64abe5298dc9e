"""Run a grid study condition by condition and gather one tidy table of its results.

Each condition runs as an ordinary study in ``<out>/<condition id>/`` (its own chunks,
so a stopped grid resumes where it stopped, condition by condition). The grid's
results are ``<out>/grid.json`` (every test row and fit count, one row per condition
and method, with the condition's factor values as columns); ``<out>/grid.md``: for
each coefficient whose true value is 0, the Type I error of every df method and SE
kind across the conditions, with Monte Carlo SEs -- the table that shows where the
methods part ways; and ``<out>/grid.html``, the same as plots against the first factor.

As each condition finishes, its rows also go to a Parquet dataset, ``<out>/parquet/tests/`` and
``<out>/parquet/fits/``, one file per condition (``condition-0001.parquet``; written again, not appended, when a
condition is resumed, so rows are never doubled), readable while the grid runs with
``pandas.read_parquet(out / "parquet" / "tests")``. Parquet needs pyarrow (the ``dask`` and ``test`` extras);
without it the grid runs and says once that no Parquet was written.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..report import write_atomic
from .grid import Condition, Grid, short_name
from .grid_plot import render_grid_html
from .report import fmt_num, json_safe
from .study import StudyResult, run_study

GRID_FORMAT = 1


@dataclass
class GridResult:
    """What :func:`run_grid` did: each condition's study result and the tidy rows."""

    grid: Grid
    out_dir: Path
    results: list[StudyResult] = field(default_factory=list)
    tests: list[dict[str, Any]] = field(default_factory=list)
    fits: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)


def _factor_columns(cond: Condition) -> dict[str, Any]:
    """The condition's number and factor values; a list or mapping value (``random_slopes: [x]``) as its JSON
    text, so that every column of the tidy tables holds plain values that can be grouped and compared."""
    return {"condition": cond.number, **{short_name(path): _plain(value) for path, value in cond.factors}}


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, sort_keys=True)
    return value


def tidy_rows(conditions: list[Condition], results: list[StudyResult]) -> tuple[list[dict], list[dict]]:
    """Test rows and fit rows of every condition, each with the condition's number and factor values."""
    tests: list[dict[str, Any]] = []
    fits: list[dict[str, Any]] = []
    for cond, res in zip(conditions, results, strict=True):
        cols = _factor_columns(cond)
        tests += [{**cols, **row} for row in res.summary.tests]
        for row in res.summary.fits:
            fitted = row["fitted"]
            rates = {
                "not_converged_rate": row["not_converged"] / fitted if fitted else None,
                "singular_rate": row["singular"] / fitted if fitted else None,
            }
            fits.append({**cols, **{k: v for k, v in row.items() if k != "errors"}, **rates})
    return tests, fits


def parquet_available() -> bool:
    """Whether pyarrow is installed (Parquet is written only then)."""
    return importlib.util.find_spec("pyarrow") is not None


def write_condition_parquet(out: Path, cond: Condition, result: StudyResult) -> list[Path]:
    """The condition's test and fit rows as ``<out>/parquet/{tests,fits}/condition-NNNN.parquet`` (replaced)."""
    tests, fits = tidy_rows([cond], [result])
    written = []
    for name, rows in (("tests", tests), ("fits", fits)):
        folder = out / "parquet" / name
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"condition-{cond.number:04d}.parquet"
        tmp = path.with_suffix(".parquet.tmp")
        pd.DataFrame(rows).to_parquet(tmp, index=False)
        tmp.replace(path)
        written.append(path)
    return written


def render_grid_markdown(grid: Grid, tests: list[dict[str, Any]], fits: list[dict[str, Any]]) -> str:
    """Type I error per condition (rows) and method (columns) for each null coefficient; fit counts."""
    names = [short_name(p) for p, _ in grid.factors]
    out = [f"# Grid study: {grid.title}", ""]
    out.append(
        f"{len(grid.conditions)} conditions ("
        + "; ".join(f"{short_name(p)}: {', '.join(str(v) for v in vals)}" for p, vals in grid.factors)
        + "). Rejection rate of beta = 0 at each condition's alpha, Monte Carlo SE in parentheses."
    )
    out.append("")
    nulls = sorted({(t["coefficient"], t["estimation"]) for t in tests if t["true"] == 0})
    for coef, est in nulls:
        rows = [t for t in tests if t["coefficient"] == coef and t["estimation"] == est]
        methods = list(dict.fromkeys((t["df"], t["se"]) for t in rows))
        out.append(f"## Type I error: {coef} ({est})")
        out.append("")
        out.append("| " + " | ".join(names + [f"{d} / {s}" for d, s in methods]) + " |")
        out.append("|" + "---|" * len(names) + "---:|" * len(methods))
        for cond in grid.conditions:
            by = {(t["df"], t["se"]): t for t in rows if t["condition"] == cond.number}
            cells = [str(v) for _, v in cond.factors]
            for m in methods:
                t = by.get(m)
                cells.append("—" if t is None else f"{fmt_num(t['rejection'])} ({fmt_num(t['rejection_mcse'])})")
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    out.append("## Fits")
    out.append("")
    out.append("| " + " | ".join(names + ["estimation", "fitted", "failed", "not converged", "singular"]) + " |")
    out.append("|" + "---|" * (len(names) + 1) + "---:|" * 4)
    for f in fits:
        vals = [str(f[n]) for n in names] + [f["estimation"]]
        vals += [str(f[k]) for k in ("fitted", "failed", "not_converged", "singular")]
        out.append("| " + " | ".join(vals) + " |")
    return "\n".join(out) + "\n"


def run_grid(
    grid: Grid,
    out_dir: str | Path,
    *,
    log: Callable[[str], None] | None = None,
    **run_options: Any,
) -> GridResult:
    """Run (or resume) every condition of ``grid`` and write grid.json and grid.md (and, condition by condition,
    the Parquet dataset).

    ``run_options`` go to :func:`~replicate.simulate.study.run_study` (executor, scheduler,
    workers, progress, write_reports).
    """
    out = Path(out_dir)
    result = GridResult(grid, out)
    parquet = parquet_available()
    if not parquet and log:
        log("pyarrow is not installed: no Parquet results (pip install pyarrow, or the dask extra)")
    for cond in grid.conditions:
        if log:
            log(f"condition {cond.number}/{len(grid.conditions)}: {cond.label or cond.study.id}")
        done = run_study(cond.study, out / cond.study.id, **run_options)
        result.results.append(done)
        if parquet:
            write_condition_parquet(out, cond, done)
    result.tests, result.fits = tidy_rows(list(grid.conditions), result.results)
    doc = {
        "format": GRID_FORMAT,
        "id": grid.id,
        "title": grid.title,
        "factors": [{"path": p, "values": list(v)} for p, v in grid.factors],
        "conditions": [
            {"condition": c.number, "id": c.study.id, "seed": c.study.seed, "factors": dict(c.factors)}
            for c in grid.conditions
        ],
        "tests": result.tests,
        "fits": result.fits,
    }
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "json": (out / "grid.json", json.dumps(json_safe(doc), indent=1, default=str, allow_nan=False) + "\n"),
        "markdown": (out / "grid.md", render_grid_markdown(grid, result.tests, result.fits)),
        "html": (out / "grid.html", render_grid_html(grid, result.tests, grid.conditions[0].study.alpha)),
    }
    for name, (path, text) in files.items():
        write_atomic(path, text)
        result.files[name] = path
    return result

"""``replicate simulate STUDY.yaml [--out DIR] [--scheduler ADDRESS] [--workers N] [--replicates N]``.

A study file with a ``grid`` section (:mod:`replicate.simulate.grid`) runs every condition
into ``DIR/<condition id>/`` and writes ``DIR/grid.json`` and ``DIR/grid.md``.

Exit codes: 0 the study ran (or resumed) to the end and its reports are written;
1 it could not run (a Dask scheduler that cannot be reached, a worker error);
2 invalid input (the study file); 130 interrupted (finished chunks are kept:
run the same command again to resume).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ReplicateError
from .config import StudyError
from .grid import Grid, load_grid
from .grid_run import run_grid
from .report import fmt_df
from .study import run_study

DEFAULT_OUT = "simulations"


class ProgressBar:
    """One line on stderr, redrawn after every chunk; only on a terminal unless forced."""

    def __init__(self, stream=None, *, force: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.enabled = force or self.stream.isatty()
        self.t0 = time.perf_counter()
        self.first: int | None = None

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.first is None:
            self.first = done
        width = 30
        filled = int(width * done / total) if total else width
        elapsed = time.perf_counter() - self.t0
        new = done - self.first
        eta = ""
        if 0 < new and done < total:
            eta = f", about {elapsed / new * (total - done):.0f} s left"
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} replicates{eta}   ")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


def _headline(result) -> list[str]:
    """The Type I error lines and ML's variance factor, for the terminal."""
    s = result.summary
    lines = []
    for t in s.tests:
        if t["true"] == 0 and t["coefficient"] != "(Intercept)":
            lines.append(
                f"  Type I error {t['coefficient']:<12} {t['estimation']:<4} {t['df']:<15} {t['se']:<14} "
                f"{t['rejection']:.4f} (MCSE {t['rejection_mcse']:.4f}), median df {fmt_df(t['median_df'])}"
            )
    for r in s.variance:
        if r["parameter"].startswith("var((Intercept)") and r.get("relative") is not None:
            lines.append(
                f"  {r['estimation']:<4} {r['parameter']}: mean / true {r['relative']:.4f} "
                f"(MCSE {r['relative_mcse']:.4f})"
            )
    return lines


def simulate_command(
    study: str | Path,
    out: str | Path | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    *,
    executor: str | None = None,
    quiet: bool = False,
    progress: Any = None,
    replicates: int | None = None,
) -> int:
    """Run a study from the command line; return the exit code (see the module text).

    ``replicates`` replaces the study's (every condition's) number of replicates, e.g. a
    small run in CI; the saved chunks stay valid, as the number is not in the fingerprint.
    """
    try:
        grid = load_grid(study)
    except StudyError as exc:
        print(f"replicate: {exc}", file=sys.stderr)
        return 2
    if replicates is not None:
        grid = _with_replicates(grid, replicates)
    st = grid.conditions[0].study
    out_dir = Path(out) if out else Path(DEFAULT_OUT) / (grid.id if grid.factors else st.id)
    ex = executor or ("dask" if scheduler else "local")
    bar = progress if progress is not None else (None if quiet else ProgressBar())
    try:
        if grid.factors:
            log = None if quiet else print
            gres = run_grid(grid, out_dir, log=log, executor=ex, scheduler=scheduler, workers=workers, progress=bar)
            if not quiet:
                print("grid reports: " + ", ".join(str(p) for p in gres.files.values()))
            return 0
        result = run_study(st, out_dir, executor=ex, scheduler=scheduler, workers=workers, progress=bar)
    except StudyError as exc:
        print(f"replicate: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"\nreplicate: interrupted; finished chunks are saved in {out_dir / 'chunks'} "
            "(run the same command again to resume)",
            file=sys.stderr,
        )
        return 130
    except ReplicateError as exc:
        print(f"replicate: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - scheduler unreachable, a worker died, ...
        print(f"replicate: the study could not run: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if not quiet:
        stale = (
            f", {result.stale} of them again because the engine or the study's code changed since they were saved"
            if result.stale
            else ""
        )
        print(
            f"{st.id}: {result.replicates} replicates ({result.computed} computed{stale}, {result.resumed} "
            f"resumed) in {result.seconds:.1f} s on {result.executor}"
        )
        for line in _headline(result):
            print(line)
        print("reports: " + ", ".join(str(p) for p in result.files.values()))
    return 0


def _with_replicates(grid: Grid, replicates: int) -> Grid:
    conditions = tuple(dataclasses.replace(c, study=c.study.with_replicates(replicates)) for c in grid.conditions)
    return dataclasses.replace(grid, conditions=conditions)


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """The ``simulate`` arguments, on a new parser or on a subcommand's parser."""
    p = parser or argparse.ArgumentParser(
        prog="replicate simulate", description="Run a Monte Carlo study of bias, coverage and Type I error."
    )
    p.add_argument("study", help="study file (YAML), e.g. studies/small-groups-level2.yaml")
    p.add_argument(
        "--out",
        default=None,
        help=f"output folder (default: {DEFAULT_OUT}/<study id>); "
        "an interrupted study resumes from the chunks saved there",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="Dask scheduler address (tcp://host:8786); runs the chunks on that cluster",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="worker processes (default: the usable cores); with --scheduler, wait for N workers",
    )
    p.add_argument(
        "--executor",
        choices=("local", "dask", "serial"),
        default=None,
        help="local processes (default), a Dask LocalCluster, or this process",
    )
    p.add_argument(
        "--replicates",
        type=int,
        default=None,
        metavar="N",
        help="run N replicates instead of the study's (every condition's); e.g. a quick run in CI",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    return p


def main_simulate(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``replicate simulate ...`` (argv without the subcommand name)."""
    args = build_parser().parse_args(list(argv) if argv is not None else None)
    if args.workers is not None and args.workers < 1:
        print("replicate: --workers must be at least 1", file=sys.stderr)
        return 2
    if args.replicates is not None and args.replicates < 1:
        print("replicate: --replicates must be at least 1", file=sys.stderr)
        return 2
    return simulate_command(
        args.study,
        args.out,
        args.scheduler,
        args.workers,
        executor=args.executor,
        quiet=args.quiet,
        replicates=args.replicates,
    )

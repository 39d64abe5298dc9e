"""Command line: ``replicate run | validate | list | show``.

Exit codes: 0 everything agrees (or is valid), 1 a discrepancy or a failed
fit, 2 invalid input (a case, data or model that cannot be used), 130
interrupted (Ctrl-C; ``run`` writes the reports of the cases finished before it,
marked interrupted). README.md, "What replicate guarantees", lists the same.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from . import cli_new
from .bench import bench_command
from .cli_cases import (
    EXIT_DISCREPANCY,
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_OK,
    case_paths,
    cmd_examples,
    cmd_list,
    cmd_parse,
    cmd_show,
    cmd_validate,
)
from .compare import AGREES, DISCREPANCY, EXPLAINED, NOT_COMPARABLE, WITHIN
from .engines import DEFAULT_ENGINE, ENGINES, get_engine
from .errors import EngineUnavailable, ReplicateError
from .glmm_reference import glmm_reference_command, is_glmm_case_file
from .interrupts import sigint_deferred
from .reference_writer import reference_command
from .report import ReportSetError, RunInfo, new_run_id, write_reports
from .runner import CaseResult, exit_code, run_cases
from .simulate import main_simulate
from .terminal import SafeStream
from .version import __version__
from .vocab import Verdict

#: The command line's door: ``main`` and the exit codes every command returns.
__all__ = ["EXIT_DISCREPANCY", "EXIT_INTERRUPTED", "EXIT_INVALID", "EXIT_OK", "build_parser", "main"]


class Progress:
    """A one-line progress bar on stderr, shown only on a terminal and for several cases."""

    def __init__(self, stream=sys.stderr) -> None:
        self.stream = stream
        self.enabled = stream.isatty()

    def __call__(self, k: int, n: int, r: CaseResult) -> None:
        if not self.enabled or n < 2:
            return
        width = 30
        done = int(width * k / n)
        self.stream.write(f"\r[{'#' * done}{'.' * (width - done)}] {k}/{n} {r.case_id[:40]:<40}")
        if k == n:
            self.stream.write("\n")
        self.stream.flush()


def _status_line(r: CaseResult) -> str:
    vals = [v for b in r.blocks for v in b.values]
    counts = {AGREES: 0, WITHIN: 0, DISCREPANCY: 0, EXPLAINED: 0, NOT_COMPARABLE: 0}
    for v in vals:
        counts[Verdict(v.verdict)] += 1
    digits = [v.lre for v in vals if v.lre is not None and v.kind != "count"]
    detail = (
        f"{counts[AGREES]} agree, {counts[WITHIN]} within tol, {counts[DISCREPANCY]} discrepant, "
        f"{counts[EXPLAINED]} explained, {counts[NOT_COMPARABLE]} n/c"
        + (f", min digits {min(digits):.1f}" if digits else "")
    )
    checks = [f for b in r.blocks for f in b.consistency]
    if not vals and checks:
        bad = sum(not f.ok for f in checks)
        detail = f"printout consistency: {len(checks) - bad} of {len(checks)} checks hold"
        return f"{r.status:<12} {r.case_id:<40} {detail}"
    return f"{r.status:<12} {r.case_id:<40} {detail if vals else ''}"


class _Finished:
    """Progress callback that also keeps each finished case, so Ctrl-C loses none of them."""

    def __init__(self, show: Progress) -> None:
        self.show = show
        self.results: list[CaseResult] = []
        self.planned: int | None = None

    def __call__(self, k: int, n: int, r: CaseResult) -> None:
        self.results.append(r)
        self.planned = n
        self.show(k, n, r)


def cmd_run(args: argparse.Namespace) -> int:

    try:
        engine = get_engine(args.engine)
    except EngineUnavailable as exc:
        print(f"replicate: {exc}", file=sys.stderr)
        return 2
    run = RunInfo(new_run_id())
    finished = _Finished(Progress())
    try:
        results = run_cases(case_paths(args), engine, keyword=args.k, progress=finished)
    except ReplicateError as exc:
        print(f"replicate: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        results = list(finished.results)
        run = RunInfo(run.run_id, interrupted=True, planned=finished.planned)
        print(file=sys.stderr)
    with sigint_deferred():  # the output and the report set are written whole; Ctrl-C meanwhile stops after
        code = _finish_run(args, results, run)
    return code


def _finish_run(args: argparse.Namespace, results: list[CaseResult], run: RunInfo) -> int:
    """Print each case's line and write the run's reports (marked interrupted after a Ctrl-C)."""

    if not results and not run.interrupted:
        what = f"no case matches -k {args.k!r}" if args.k else "no case files found"
        print(f"replicate: {what} under " + ", ".join(case_paths(args)), file=sys.stderr)
        return 2
    for r in results:
        print(_status_line(r))
        if r.error:
            print(f"    {r.error}")
        for b in r.blocks:
            if b.error:
                print(f"    [{b.label}] {b.error.splitlines()[0]}")
            for v in b.values:
                if v.verdict == DISCREPANCY:
                    eng = f"{v.engine:.6g}" if v.engine is not None else "—"
                    print(
                        f"    [{b.label}] {v.section} {v.name} {v.quantity}: reference {v.reference}, "
                        f"engine {eng} ({v.lre} digits)"
                    )
            for d in b.diagnoses:
                print(f"    [{b.label}] why: {d.text}")
            for f in b.inconsistent:
                print(
                    f"    [{b.label}] inconsistent printout: {f.where} = {f.printed}, but {f.check} "
                    f"gives {f.low:.6g} to {f.high:.6g}"
                )
    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    try:
        written = write_reports(results, Path(args.out), formats, run)
    except (ValueError, OSError, ReportSetError) as exc:
        print(f"replicate: cannot write reports: {exc}", file=sys.stderr)
        return 2
    print("reports: " + ", ".join(str(p) for p in written))
    if run.interrupted:
        of = f" of {run.planned}" if run.planned is not None else ""
        print(
            f"replicate: interrupted after {len(results)}{of} cases; the reports hold the finished ones, "
            "marked interrupted",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    return exit_code(results)


def cmd_bench(args: argparse.Namespace) -> int:

    return bench_command(list(args.bench_args))


def cmd_reference(args: argparse.Namespace) -> int:
    if args.engine == "glmmpql" or args.nagq is not None or is_glmm_case_file(args.case):  # a GLMM case
        code, text = glmm_reference_command(args.case, args.engine, args.force, args.out, nagq=args.nagq)
        print(text, file=sys.stderr if code == 2 else sys.stdout)
        return code
    code, text = reference_command(
        args.case,
        args.engine,
        args.force,
        args.out,
        tight=args.tight,
        compare_with=args.compare_with or (),
        refit=not args.no_refit,
    )
    print(text, file=sys.stderr if code == 2 else sys.stdout)
    return code


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="replicate", description="Check mixed-model results across programs.")
    p.add_argument("--version", action="version", version=f"replicate {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="fit cases and compare with their reference outputs")
    r.add_argument("paths", nargs="*", help="case files or folders (default: ./cases, else the shipped examples)")
    r.add_argument("--engine", default=DEFAULT_ENGINE, help=f"one of {', '.join(ENGINES)} (default {DEFAULT_ENGINE})")
    r.add_argument("--out", default="reports", help="report folder (default: reports)")
    r.add_argument(
        "--format",
        default="markdown,json,html",
        help="comma list of markdown, json, html, junit, github (a CI job summary) (default markdown,json,html)",
    )
    r.add_argument("-k", default=None, help="select cases by id/title/tag words, with and/or/not")
    r.set_defaults(func=cmd_run)

    v = sub.add_parser("validate", help="check case files against the schema")
    v.add_argument("paths", nargs="*")
    v.add_argument("--data", action="store_true", help="also load the data and build the model")
    v.set_defaults(func=cmd_validate)

    ls = sub.add_parser("list", help="list cases with their data and programs")
    ls.add_argument("paths", nargs="*")
    ls.set_defaults(func=cmd_list)

    s = sub.add_parser("show", help="a case, its fit, and each reference number beside the engine's")
    s.add_argument("case", help="case file or case id")
    s.add_argument("--engine", default=DEFAULT_ENGINE)
    s.add_argument(
        "--cases-dir", default=None, help="where to look up a case id (default: ./cases, else the shipped examples)"
    )
    s.set_defaults(func=cmd_show)
    ex = sub.add_parser("examples", help="copy the shipped example cases and raw printouts into a folder")
    ex.add_argument("dest", nargs="?", default=".", help="folder to copy into (default: the current folder)")
    ex.set_defaults(func=cmd_examples)

    pa = sub.add_parser("parse", help="read a pasted printout (lme4, lmerTest, nlme, SAS, HLM) into case values")
    pa.add_argument("file")
    pa.add_argument(
        "--software",
        choices=["lme4", "lmerTest", "nlme", "sas", "hlm"],
        default=None,
        help="the program that printed it (default: guessed from the text)",
    )
    pa.set_defaults(func=cmd_parse)
    cli_new.add_parser(sub)

    be = sub.add_parser(
        "bench", help="side-by-side timings against lme4, lmerTest, pbkrtest and statsmodels", add_help=False
    )
    be.add_argument(
        "bench_args",
        nargs=argparse.REMAINDER,
        help="options of the benchmark (replicate bench --help): --quick, --only, --reps, --threads, "
        "--out, --no-r, --budget, --list",
    )
    be.set_defaults(func=cmd_bench)

    si = sub.add_parser("simulate", help="Monte Carlo study: bias, coverage, Type I error per method", add_help=False)
    si.add_argument(
        "study_args",
        nargs=argparse.REMAINDER,
        help="STUDY.yaml [--out DIR] [--scheduler ADDRESS] [--workers N] (replicate simulate --help)",
    )

    ref = sub.add_parser("reference", help="compute a reference block with a live program (lme4 or nlme in R)")
    ref.add_argument("case", help="case file")
    ref.add_argument(
        "--engine",
        default="lme4",
        choices=["lme4", "nlme", "pbkrtest", "clubsandwich", "glmmpql"],
        help="lme4 (lmerTest; glmer for a case with model.family), nlme, pbkrtest (Kenward-Roger), clubsandwich "
        "(CR2) or glmmpql (MASS::glmmPQL, a case with model.family)",
    )
    ref.add_argument("--nagq", type=int, help="a GLMM case: glmer's nAGQ for this block (1 Laplace, > 1 quadrature)")
    ref.add_argument("--force", action="store_true", help="replace an existing block with the same label")
    ref.add_argument(
        "--compare-with",
        action="append",
        metavar="FORMULA",
        help="also record lme4's anova of the case's model against this model (repeatable)",
    )
    ref.add_argument("--no-refit", action="store_true", help="anova(..., refit = FALSE): compare REML criteria")
    ref.add_argument(
        "--tight",
        action="store_true",
        help="run lme4's optimizer to much smaller tolerances (recorded in the block's call); for "
        "models whose likelihood is flat, where lme4's defaults stop early",
    )
    ref.add_argument(
        "--out", default=None, help="write the block to OUT/<software>/<case id>.yaml instead of into the case file"
    )
    ref.set_defaults(func=cmd_reference)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = SafeStream(sys.stdout), SafeStream(sys.stderr)  # case text is shown, never obeyed
    try:
        return _dispatch(argv)
    except KeyboardInterrupt:  # Ctrl-C anywhere else: no traceback
        print("\nreplicate: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        sys.stdout, sys.stderr = saved


def _dispatch(argv: list[str]) -> int:
    if argv[:1] == ["bench"]:  # the benchmark has its own options (replicate bench --help)
        return int(bench_command(argv[1:]))
    if argv[:1] == ["simulate"]:  # so do Monte Carlo studies (replicate simulate --help)
        return int(main_simulate(argv[1:]))
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except BrokenPipeError:  # output piped into head and the like
        sys.stderr.close()
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""The commands that read cases without running them: ``validate``, ``list``, ``show``, ``parse`` and
``examples``, with the exit codes and the default case folder every command shares."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .build import build_spec, prepare
from .case import Case, find_case_files, load_case
from .case_ids import duplicate_ids
from .case_lookup import resolve_cases
from .engines import get_engine
from .errors import CaseError, ReferenceError_, ReplicateError
from .examples import copy_examples, default_cases
from .glmm_stage import check_model as check_glmm_model
from .references import guess_software, iter_printouts, split_printouts
from .references.lme4_glmm import glmm_comments
from .rside_stage import check_model as check_rside_model
from .rside_stage import is_repeated_measures
from .runner import INVALID, exit_code, run_case
from .show import render_show

DEFAULT_CASES = "cases"

#: Exit codes of every command (README.md, "What replicate guarantees").
EXIT_OK = 0
EXIT_DISCREPANCY = 1
EXIT_INVALID = 2
EXIT_INTERRUPTED = 130


def case_paths(args: argparse.Namespace) -> list[str]:
    """The paths (or case ids) named, else ``./cases``, else the example cases shipped with replicate."""
    if args.paths:
        return [str(p) for p in resolve_cases(args.paths, default_cases()[0])]
    folder, shipped = default_cases()
    if shipped and not getattr(args, "_told", False):
        print(
            f"replicate: no ./cases folder here; using the example cases shipped with replicate ({folder})",
            file=sys.stderr,
        )
        args._told = True
    return [str(folder)]


def cmd_validate(args: argparse.Namespace) -> int:
    """Refuse whatever 'run' would refuse as invalid input; one line per file, then the counts."""

    files = find_case_files(case_paths(args))
    if not files:
        print("replicate: no case files found", file=sys.stderr)
        return 2
    loaded: dict[Path, Case | Exception] = {}
    problems: dict[Path, str] = {}
    for f in files:
        try:
            loaded[f] = case = load_case(f)
            if "family" in case.model:  # a GLMM: the GLMM engine reads its cbind() response
                check_glmm_model(case, with_data=bool(args.data) and "unavailable" not in case.data)
            elif is_repeated_measures(case):  # fixed effects plus SAS's REPEATED mapping or mmrm's term
                check_rside_model(case, with_data=bool(args.data) and "unavailable" not in case.data)
            else:
                build_spec(case)  # the model is read as 'run' reads it, with or without --data
                if args.data and "unavailable" not in case.data:
                    prepare(case)
        except ReplicateError as exc:
            problems[f] = str(exc)
        except Exception as exc:  # noqa: BLE001 - whatever 'run' would refuse, validate refuses
            problems[f] = f"{f}: this case could not be used: {type(exc).__name__}: {exc}"
    for f, why in duplicate_ids(loaded).items():  # each file loaded, but its id is not its own
        problems.setdefault(f, why)
    for f in files:
        print(f"invalid  {problems[f]}" if f in problems else f"ok       {f}")
    print(f"{len(files) - len(problems)} valid, {len(problems)} invalid")
    return 2 if problems else 0


def cmd_list(args: argparse.Namespace) -> int:
    try:
        paths = case_paths(args)
    except ReplicateError as exc:
        print(f"replicate: {exc}", file=sys.stderr)
        return EXIT_INVALID
    files = find_case_files([p for p in paths if Path(p).exists()])
    if not files:
        print(f"no cases under {', '.join(paths)} (a case is a *.yaml file; `replicate examples DIR` copies some)")
        return EXIT_OK
    rows: list[tuple[str, ...]] = []
    for f in files:
        try:
            c = load_case(f)
        except CaseError as exc:
            rows.append((f.stem, "INVALID", "", exc.message))
            continue
        if "file" in c.data:
            data = c.data["file"]
        elif "dataset" in c.data:
            data = f"{c.data['dataset']['package']}::{c.data['dataset']['name']}"
        else:
            data = "unavailable"
        progs = ",".join(dict.fromkeys(b.software for b in c.blocks)) or "-"
        rows.append((c.id, data, progs, c.title))
    header = ("case", "data", "programs", "title")
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(3)]
    for r in [header, *rows]:
        print("  ".join(r[k].ljust(widths[k]) for k in range(3)) + "  " + r[3])
    return EXIT_INVALID if any(r[1] == "INVALID" for r in rows) else EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    if args.cases_dir is None:
        args.cases_dir = str(default_cases()[0])
    try:
        target = resolve_cases([args.case], Path(args.cases_dir))[0]
    except ReplicateError as exc:
        print(f"replicate: {exc}", file=sys.stderr)
        return 2
    try:
        case = load_case(target)
        engine = get_engine(args.engine)
    except ReplicateError as exc:
        print(f"replicate: {exc}", file=sys.stderr)
        return 2

    res = run_case(case, engine)
    print(render_show(case, res))
    return 2 if res.status == INVALID else exit_code([res])


def cmd_parse(args: argparse.Namespace) -> int:

    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except OSError as exc:
        print(f"replicate: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    except UnicodeDecodeError as exc:
        print(
            f"replicate: {args.file} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start})",
            file=sys.stderr,
        )
        print("    save the printout as UTF-8 text and parse it again", file=sys.stderr)
        return 2
    software = args.software or guess_software(text)
    if software is None:
        print(f"replicate: cannot tell which program printed {args.file}; give --software", file=sys.stderr)
        return 2
    unparsed = 0
    try:  # printed part by part, so that a long paste is never held parsed in memory as a whole
        parts = split_printouts(text, software)
        n = len(parts)
        for k, part in enumerate(iter_printouts(text, software, parts), 1):
            first, last = part.model_info.get("lines", (None, None))
            print(f"# printout {k} of {n} ({software}, lines {first}-{last})")
            print(part.to_yaml().rstrip())
            for comment in glmm_comments(part.model_info):
                print(comment)
            for name, table in part.tables.items():
                print(f"# table {name}: {len(table)} row(s)")
            for line, raw, why in part.unparsed:
                unparsed += 1
                print(f"# line {line} not read ({why}): {raw.strip()}")
    except ReferenceError_ as exc:
        print(f"replicate: {args.file}: {exc}", file=sys.stderr)
        return 2
    return 1 if unparsed else 0


def cmd_examples(args: argparse.Namespace) -> int:
    try:
        made = copy_examples(Path(args.dest))
    except (FileNotFoundError, FileExistsError, OSError) as exc:
        print(f"replicate: {exc}", file=sys.stderr)
        return 2
    for p in made:
        print(f"copied {p}")
    print(f"run them with: cd {args.dest} && replicate run")
    return 0

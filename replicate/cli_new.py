"""`replicate new`: write a case from a printout and a data file (see :mod:`replicate.scaffold`).

Exit codes as every command's: 0 the case was written (and its run agrees), 1 written but its run does not
agree (a discrepancy, a name that did not map), 2 nothing written (bad input, or the printout lacks what a
case needs: the to-do list says what to pass). The to-do list is printed in every case.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .errors import ReplicateError
from .scaffold import NewCase, new_case
from .vocab import Status, Verdict


def add_parser(sub: Any) -> None:
    """Register ``new`` on the main parser's subcommands."""
    p = sub.add_parser("new", help="write a case from a printout (lme4, lmerTest, nlme, SAS, HLM) and its data")
    p.add_argument("--printout", required=True, help="text file with the program's printed output")
    p.add_argument("--data", required=True, help="the data file the program read (or a shipped dataset's name)")
    p.add_argument("--software", help="the program that printed it (guessed from the text if not given)")
    p.add_argument("--formula", help="the model in lme4's notation, where the printout does not show it")
    p.add_argument("--group", help="HLM's level-2 grouping variable (HLM does not print its name)")
    p.add_argument("--repeated", help="a SAS REPEATED model's repeated effect (the visit column), not printed")
    p.add_argument("--id", dest="case_id", help="the case's id (default: from the printout's file name)")
    p.add_argument("--part", type=int, help="which printout of the file (1 = the first)")
    p.add_argument("--out", help="case file to write (default: cases/<id>.yaml, or ./<id>.yaml without ./cases)")
    p.add_argument("--force", action="store_true", help="replace an existing case file")
    p.add_argument("--no-run", action="store_true", help="write the case without running it")
    p.set_defaults(func=cmd_new)


def _run_summary(made: NewCase) -> list[str]:
    res = made.result
    if res is None:
        return []
    values = [v for b in res.blocks for v in b.values]
    bad = [v for v in values if v.verdict in (Verdict.DISCREPANCY, Verdict.NOT_COMPARABLE)]
    lines = [f"run: {res.status} ({len(values)} values compared, {len(bad)} not agreeing)"]
    lines += [f"  {v.section} {v.name} {v.quantity}: printed {v.reference}, engine {v.engine}" for v in bad[:20]]
    if len(bad) > 20:
        lines.append(f"  ... and {len(bad) - 20} more (replicate show {made.path})")
    lines += [f"  block error: {b.error}" for b in res.blocks if b.error]
    lines += [f"  {m}" for m in res.messages if res.status != Status.OK]
    return lines


def cmd_new(args: argparse.Namespace) -> int:
    try:
        made = new_case(
            args.printout,
            args.data,
            software=args.software,
            formula=args.formula,
            group=args.group,
            repeated=args.repeated,
            case_id=args.case_id,
            part=args.part,
            out=args.out,
            force=args.force,
            run=not args.no_run,
        )
    except ReplicateError as exc:
        print(f"replicate new: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"replicate new: {exc}", file=sys.stderr)
        return 2
    written = made.written
    for note in made.notes:
        print(note)
    if written:
        print(f"wrote {made.path}")
    for line in _run_summary(made):
        print(line)
    if made.todo:
        print("to do:" if written else "nothing written; to do:", file=sys.stdout if written else sys.stderr)
        for item in made.todo:
            print(f"  - {item}", file=sys.stdout if written else sys.stderr)
    if not written:
        return 2
    return 0 if made.result is None or made.result.status == Status.OK else 1

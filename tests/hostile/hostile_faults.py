"""Fault injection: run a function in a forked child that signals itself at its k-th write.

The child counts calls of the file-system operations that make up a write
(open, chmod, fsync, link, rename, rmdir, mkdtemp, rmtree and the folder
exchange) and, at the k-th, sends itself the signal (SIGINT: Python's
KeyboardInterrupt arrives at that point; SIGKILL: the process ends there, as on
a killed job). Forking keeps each trial fast (no new interpreter, no imports).
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

NEVER = 10**9


@dataclass
class Trial:
    exit_code: int | None  # None when killed by a signal
    signal: int | None
    stdout: str
    stderr: str
    steps: int | None  # write steps counted (when the child ran to its end)


WRITES = ("open", "chmod", "fsync", "link", "symlink", "rename", "replace", "rmdir", "unlink")


def _arm(k: int, sig: int, counter: list[int], names: tuple[str, ...]) -> None:
    from replicate.report import unit

    def wrap(owner, name):
        real = getattr(owner, name)

        def hooked(*args, **kwargs):
            counter[0] += 1
            if counter[0] == k:
                os.kill(os.getpid(), sig)
            return real(*args, **kwargs)

        setattr(owner, name, hooked)

    for name in names:
        wrap(os, name)
    if names == WRITES:
        wrap(tempfile, "mkdtemp")
        wrap(shutil, "rmtree")
        wrap(unit, "_exchange")


def forked(
    fn: Callable[[], int], *, at: int = NEVER, sig: int = signal.SIGKILL, workdir: Path, names: tuple[str, ...] = WRITES
) -> Trial:
    """Run ``fn`` in a child that sends itself ``sig`` at write step ``at``; its exit code, output, steps."""
    out, err, steps = workdir / "stdout", workdir / "stderr", workdir / "steps"
    for p in (out, err, steps):
        p.unlink(missing_ok=True)
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 99
        try:
            fo = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            fe = os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(fo, 1)
            os.dup2(fe, 2)
            sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
            sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
            signal.signal(signal.SIGINT, signal.default_int_handler)
            counter = [0]
            _arm(at, sig, counter, names)
            code = int(fn())
            sys.stdout.flush()
            sys.stderr.flush()
            with open(steps, "w") as fh:
                fh.write(str(counter[0]))
        except BaseException:  # noqa: BLE001 - a traceback here is what the tests look for
            traceback.print_exc()
            sys.stderr.flush()
            code = 98
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return Trial(
        exit_code=os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        signal=os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        stdout=out.read_text() if out.exists() else "",
        stderr=err.read_text() if err.exists() else "",
        steps=int(steps.read_text()) if steps.exists() else None,
    )

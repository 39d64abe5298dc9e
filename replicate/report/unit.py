"""A run's reports as one unit: all formats written into a fresh folder, then swapped in.

A reader of the report folder sees either the previous run's complete set or
this run's complete set, never files of two runs side by side, whatever stops
the run (Ctrl-C, SIGKILL, a full disk). How:

1. every format is written into a fresh folder beside the target,
   ``.<name>.replicate-tmp-<pid>.<random>`` (a name no case or report glob
   matches), with the modes of the files it replaces (new files get the
   ordinary ``0666 & ~umask``);
2. files in the old folder that are not replicate's reports (a README) are
   hard-linked into the new one, so they stay;
3. the new folder takes the target's place in one step (Linux ``renameat2``
   with ``RENAME_EXCHANGE``; elsewhere two renames, between which the folder is
   briefly absent but never mixed);
4. the old set, now under the temporary name, is removed. Temporary folders
   left by a killed run (its process is gone) are removed by the next run.

Every report also carries the run's id (:mod:`replicate.report.stamp`), and
:func:`check_report_set` refuses a folder whose reports name different runs.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import stat
import tempfile
from pathlib import Path

from ..errors import ReplicateError
from .stamp import read_run_id

TMP_TAG = ".replicate-tmp-"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


class ReportSetError(ReplicateError):
    """The report folder cannot be written as one unit, or holds reports of different runs."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2); False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def temp_prefix(name: str) -> str:
    """Start of the name of a temporary file or folder for ``name``, written by this process."""
    return f".{name}{TMP_TAG}{os.getpid()}."


def remove_stale(folder: Path, name: str | None = None) -> list[Path]:
    """Remove temporary files and folders in ``folder`` left by processes that are gone.

    Only names made by :func:`temp_prefix` (of ``name``, when given) are touched.
    """
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for e in entries:
        head, tag, rest = e.name.partition(TMP_TAG)
        if not tag or not head.startswith(".") or (name is not None and head != f".{name}"):
            continue
        pid_text = rest.split(".", 1)[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid() or _pid_alive(int(pid_text)):
            continue
        if e.is_dir() and not e.is_symlink():
            shutil.rmtree(e, ignore_errors=True)
        else:
            try:
                e.unlink()
            except OSError:
                continue
        removed.append(e)
    return removed


def _check_target(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ReportSetError(f"{out} is not a folder", hint="give --out a folder for the reports")
    cwd = Path.cwd().resolve()
    if out == cwd or out in cwd.parents:
        raise ReportSetError(
            f"{out} is the current folder or holds it; the reports are swapped in as one folder",
            hint="give --out a folder of their own, such as reports/",
        )
    if out.is_dir():
        folders = sorted(e.name for e in out.iterdir() if e.is_dir() and not e.is_symlink())
        if folders:
            raise ReportSetError(
                f"{out} holds folders that are not replicate's reports ({', '.join(folders[:5])}); "
                "the reports are swapped in as one folder",
                hint="give --out a folder of their own, such as reports/",
            )


def _write_file(path: Path, text: str, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(path, mode)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_report_set(out: Path, files: dict[str, str], ours: set[str]) -> list[Path]:
    """Replace the report folder ``out`` by one holding ``files`` (name -> text), as one unit.

    Args:
        out: the report folder (created when absent).
        files: this run's reports, file name -> text.
        ours: every file name replicate writes there; those of the old set that
            this run does not write are dropped (they belong to another run),
            any other file is kept.

    Raises:
        ReportSetError: ``out`` is a file, the current folder, or holds folders.
        OSError: the folder cannot be written.
    """
    out = Path(out)
    if out.is_symlink():
        out = out.resolve()
    out = out.absolute()
    _check_target(out)
    parent = out.parent
    parent.mkdir(parents=True, exist_ok=True)
    remove_stale(parent, out.name)
    umask = _umask()
    tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(out.name), dir=parent))
    try:
        old_exists = out.is_dir()
        os.chmod(tmp, stat.S_IMODE(out.stat().st_mode) if old_exists else 0o777 & ~umask)
        for name, text in files.items():
            old = out / name
            mode = stat.S_IMODE(old.stat().st_mode) if old.is_file() else 0o666 & ~umask
            _write_file(tmp / name, text, mode)
        if old_exists:
            for e in out.iterdir():
                if e.name in ours or e.name in files:
                    continue
                if e.is_symlink():
                    os.symlink(os.readlink(e), tmp / e.name)
                elif e.is_file():
                    try:
                        os.link(e, tmp / e.name)
                    except OSError:
                        shutil.copy2(e, tmp / e.name)
        _fsync_dir(tmp)
        if not old_exists:
            os.rename(tmp, out)
        elif not _exchange(tmp, out):
            aside = Path(tempfile.mkdtemp(prefix=temp_prefix(out.name), dir=parent))
            os.rmdir(aside)
            os.rename(out, aside)
            os.rename(tmp, out)
            tmp = aside
        _fsync_dir(parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return [out / name for name in files]


def check_report_set(folder: Path, names: set[str]) -> str | None:
    """The run id shared by every report in ``folder`` (None when there is none).

    Raises:
        ReportSetError: a report carries no run id, or two reports name different runs.
    """
    ids: dict[str, str | None] = {}
    for name in sorted(names):
        p = Path(folder) / name
        if p.exists():
            ids[name] = read_run_id(p)
    missing = [n for n, rid in ids.items() if rid is None]
    if missing:
        raise ReportSetError(
            f"{folder}: {', '.join(missing)} carries no replicate run id (damaged, or written by an older version)",
            hint="run replicate run again to write a fresh set",
        )
    distinct = sorted({rid for rid in ids.values() if rid is not None})  # none is missing: raised above
    if len(distinct) > 1:
        raise ReportSetError(
            f"{folder} mixes reports of different runs: " + "; ".join(f"{n}: {rid}" for n, rid in ids.items()),
            hint="run replicate run again to write a fresh set",
        )
    return distinct[0] if distinct else None

"""Writing a file so that a reader sees the old or the new text, never half (one implementation).

Reports (``replicate/report``) and edited case files (``replicate/reference_writer.py``) are written
through :func:`write_atomic`: the text goes to a temporary file beside the target, named so that it
never matches the case glob, which is then renamed over the target in one step. The target's file
mode is kept (a new file gets ``0666 & ~umask``, not ``mkstemp``'s ``0600``).
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def write_atomic(
    path: Path, text: str, *, prefix: str | None = None, suffix: str = ".tmp", newline: str | None = None
) -> None:
    """Replace ``path`` by ``text`` in one step (UTF-8, flushed to disk before the rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(
        prefix=prefix if prefix is not None else f".{path.name}.", suffix=suffix, dir=str(path.parent)
    )
    try:
        os.chmod(tmp, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise

"""Worker processes die with their parent.

A study's local workers are started with :func:`die_with_parent` as their
initializer. On Linux the kernel sends the worker SIGKILL when the process that
started it dies (``prctl(PR_SET_PDEATHSIG)``), however it dies, SIGKILL
included; elsewhere a daemon thread checks once a second that the parent is
still there. Either way a killed ``replicate simulate`` leaves no workers
behind, and the multiprocessing resource tracker, which lives until the last
process holding its pipe is gone, ends with them.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

_PR_SET_PDEATHSIG = 1


def _pdeathsig() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent: int, interval: float) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(1)
        time.sleep(interval)


def die_with_parent(parent: int, interval: float = 1.0) -> None:
    """Make this process end when process ``parent`` (the one that started it) ends."""
    armed = _pdeathsig()
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)
    if not armed:
        threading.Thread(target=_watch, args=(parent, interval), daemon=True, name="replicate-lifeline").start()

"""Ctrl-C without losing work: hold an interrupt back while a unit of output is written.

``replicate run`` writes its reports as one unit; a Ctrl-C that arrives in the
middle is held until the unit is written, then raised as usual
(:class:`KeyboardInterrupt`), so the command still stops with exit code 130.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def sigint_deferred() -> Iterator[None]:
    """Run the block to its end despite SIGINT; raise KeyboardInterrupt after it if one came."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    caught: list[int] = []
    old = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
    if caught:
        raise KeyboardInterrupt

"""How many BLAS/OpenMP threads a native fit may use.

The native engine's linear algebra is many small dense blocks (the blocked Cholesky of lme4's
method). Measured on this project's machines (``benchmarks/bench_threads.py``, results in
``benchmarks/THREADS.md``), one thread is faster than the libraries' default for every model of the
benchmark catalogue, from sleepstudy to InstEval: waking a second thread costs more than it saves on
blocks this size, and with R loaded in the same process (rpy2) OpenBLAS and OpenMP threads
oversubscribe the cores (a fit slowed 5x). So a native fit runs with one thread by default, and the
previous setting is restored afterwards, so the rest of the program is untouched.

``REPLICATE_BLAS_THREADS=N`` allows N threads; ``auto`` leaves the libraries' own setting.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

from ..errors import ModelError

ENV = "REPLICATE_BLAS_THREADS"

_controller: Any = None
_rpy2_loaded = False


def fit_threads() -> int | None:
    """The thread count for a fit: from ``REPLICATE_BLAS_THREADS``, default 1; None for ``auto``."""
    raw = os.environ.get(ENV, "1").strip().lower()
    if raw == "auto":
        return None
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise ModelError(
            f"{ENV}={raw!r} is not a number of threads",
            field=ENV,
            hint="a positive whole number, or 'auto' for the libraries' own setting",
        )
    return n


def _thread_controller() -> Any:
    """threadpoolctl's controller, found once (again after R has loaded its own libraries)."""
    global _controller, _rpy2_loaded
    loaded = "rpy2.rinterface" in sys.modules
    if _controller is None or loaded != _rpy2_loaded:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
        _rpy2_loaded = loaded
    return _controller


@contextlib.contextmanager
def fit_thread_limit() -> Iterator[int | None]:
    """Run the body with :func:`fit_threads` BLAS and OpenMP threads; yields the count (None: untouched)."""
    n = fit_threads()
    if n is None:
        yield None
        return
    with _thread_controller().limit(limits=n):
        yield n

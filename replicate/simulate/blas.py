"""Keep OpenBLAS to one thread where many small fits run side by side.

A Monte Carlo study fits thousands of small models. Their matrices are tiny, and
a multi-threaded OpenBLAS spends more time waking its threads than computing:
on a two-core machine with other work running, one fit of 600 rows took 38 ms
with two BLAS threads and 4 ms with one. Process workers get one thread through
the environment (``OPENBLAS_NUM_THREADS=1`` and friends, read when numpy loads);
inside a process that has loaded numpy already (the serial executor, Dask
workers that are threads) :func:`set_blas_threads` changes the count at run time
by calling OpenBLAS's own ``*_set_num_threads`` in every OpenBLAS library the
process has loaded, found through ``/proc/self/maps``. Where that is not
possible (no ``/proc``, another BLAS) it does nothing and says so.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import threading
from collections.abc import Iterator

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

_SET = (
    "scipy_openblas_set_num_threads64_",
    "scipy_openblas_set_num_threads",
    "openblas_set_num_threads64_",
    "openblas_set_num_threads",
)
_GET = (
    "scipy_openblas_get_num_threads64_",
    "scipy_openblas_get_num_threads",
    "openblas_get_num_threads64_",
    "openblas_get_num_threads",
)


def _openblas_libraries() -> list[ctypes.CDLL]:
    """Every OpenBLAS shared library mapped into this process."""
    paths: list[str] = []
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) < 6:
                    continue
                path = parts[-1]
                if "openblas" in os.path.basename(path).lower() and path not in paths:
                    paths.append(path)
    except OSError:
        return []
    libs = []
    for p in paths:
        try:
            libs.append(ctypes.CDLL(p))
        except OSError:
            continue
    return libs


def _first(lib: ctypes.CDLL, names: tuple[str, ...]):
    for name in names:
        fn = getattr(lib, name, None)
        if fn is not None:
            return fn
    return None


def blas_threads() -> list[int]:
    """Thread count of each loaded OpenBLAS library (empty if none is found)."""
    out = []
    for lib in _openblas_libraries():
        fn = _first(lib, _GET)
        if fn is not None:
            fn.restype = ctypes.c_int
            out.append(int(fn()))
    return out


def set_blas_threads(n: int) -> bool:
    """Set every loaded OpenBLAS library to ``n`` threads; True if at least one was set."""
    done = False
    for lib in _openblas_libraries():
        fn = _first(lib, _SET)
        if fn is not None:
            fn(ctypes.c_int(int(n)))
            done = True
    return done


_lock = threading.Lock()
_active = 0
_saved: list[int] = []


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run the body with one BLAS thread, then restore the previous count.

    Safe to nest and to enter from several threads at once (Dask workers that
    are threads): the first entry saves and lowers the count, the last exit
    restores it.
    """
    global _active, _saved
    with _lock:
        if _active == 0:
            _saved = blas_threads()
            if _saved and max(_saved) > 1:
                set_blas_threads(1)
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0 and _saved and max(_saved) > 1:
                set_blas_threads(max(_saved))


def _without_r_library_path() -> str | None:
    """``LD_LIBRARY_PATH`` as it was before rpy2 started R in this process.

    rpy2 prepends R's library folders (``/usr/lib/R/lib:/usr/lib/x86_64-linux-gnu:...``)
    to ``LD_LIBRARY_PATH`` when it starts R. A Python started with that value can
    load another Python's shared libraries (a worker then dies with ``undefined
    symbol`` errors), so workers get the value without rpy2's prefix.
    """
    current = os.environ.get("LD_LIBRARY_PATH")
    openrlib = sys.modules.get("rpy2.rinterface_lib.openrlib")
    prefix = getattr(openrlib, "LD_LIBRARY_PATH", None)
    if current is None or not prefix or not current.startswith(prefix + ":"):
        return current
    rest = current[len(prefix) + 1 :]
    return rest or None


@contextlib.contextmanager
def child_environment(threads: int = 1) -> Iterator[None]:
    """Environment for worker processes started in the body: one BLAS/OpenMP thread.

    Spawned children copy ``os.environ`` when they start and read these variables
    when they import numpy; R's additions to ``LD_LIBRARY_PATH`` (made by rpy2 in
    this process) are left out. The parent's own environment is restored afterwards.
    """
    keys = THREAD_VARIABLES + ("LD_LIBRARY_PATH",)
    saved = {k: os.environ.get(k) for k in keys}
    library_path = _without_r_library_path()
    for k in THREAD_VARIABLES:
        os.environ[k] = str(threads)
    if library_path is None:
        os.environ.pop("LD_LIBRARY_PATH", None)
    else:
        os.environ["LD_LIBRARY_PATH"] = library_path
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

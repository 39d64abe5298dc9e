"""What the benchmark ran on: CPU, memory, load, BLAS threads and versions.

Also the two process-level controls the benchmark needs: limiting BLAS
threads (:func:`limit_threads`) and measuring memory (:class:`MemoryProbe`).
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import os
import platform
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..version import __version__

THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def set_thread_env(n: int | None) -> None:
    """Set the BLAS thread variables (effective only for libraries not loaded yet)."""
    if n is not None:
        for var in THREAD_VARS:
            os.environ[var] = str(n)


@contextlib.contextmanager
def limit_threads(n: int | None) -> Iterator[str]:
    """Limit the BLAS thread pools loaded in this process to ``n`` threads.

    Uses threadpoolctl when it is installed, which acts on libraries already
    loaded (numpy's OpenBLAS); otherwise only the environment variables are
    set, which help only if numpy has not been imported yet. Yields a note
    saying which of the two happened.
    """
    if n is None:
        yield "library default"
        return
    set_thread_env(n)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        loaded = "numpy" in sys.modules
        yield (
            f"{n} via environment variables only (threadpoolctl not installed"
            + ("; numpy was already imported, so its BLAS may ignore them)" if loaded else ")")
        )
        return
    with threadpool_limits(limits=n):
        yield f"{n} via threadpoolctl"


def threadpools() -> list[dict[str, Any]]:
    """The thread pools of the BLAS / OpenMP libraries loaded now (threadpoolctl), or []."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keep = ("user_api", "internal_api", "prefix", "version", "num_threads", "threading_layer", "architecture")
    return [{k: v for k, v in pool.items() if k in keep} for pool in threadpool_info()]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_total_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 2)
    except OSError:
        pass
    return None


def loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def usable_cores() -> int | None:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()


def _version(module: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:  # noqa: BLE001 - not installed
        return None


def git_commit(root: Path) -> str | None:
    """The checked-out commit (read only), or None outside a git work tree."""
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def machine_info(root: Path) -> dict[str, Any]:
    """Everything about this machine and software that a timing depends on."""
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpu_model": cpu_model(),
        "cores_logical": os.cpu_count(),
        "cores_usable": usable_cores(),
        "memory_gb": memory_total_gb(),
        "loadavg_start": loadavg(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "replicate": __version__,
        "git_commit": git_commit(root),
        "packages": {
            name: _version(name)
            for name in ("numpy", "scipy", "pandas", "statsmodels", "rpy2", "threadpoolctl", "psutil")
        },
        "blas_thread_env": {v: os.environ.get(v) for v in THREAD_VARS},
        "threadpools": threadpools(),
    }


# ------------------------------------------------------------------ memory


def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _release_free_memory() -> None:
    """Hand memory that is already free back to the system (glibc ``malloc_trim``), so that
    the next block's RSS rise counts its own allocations instead of reusing resident free pages."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) of this process (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


class MemoryProbe:
    """Peak resident memory of this process during a block, above its start.

    On Linux the kernel's high-water mark (VmHWM) is reset at the start and read
    at the end, so the number covers every allocation of the process -- Python,
    numpy, BLAS, SuperLU and R alike. Free memory is first returned to the system
    (``malloc_trim``); still, pages the allocator keeps (numpy's small-block
    cache, R's heap) are reused without being counted, so the number is a lower
    bound of what the block allocated. ``peak_mb`` is None where the mark cannot
    be reset.
    """

    def __init__(self) -> None:
        self.peak_mb: float | None = None
        self._start_kb: int | None = None
        self._ok = False

    def __enter__(self) -> MemoryProbe:  # noqa: PYI034 - a final class in practice
        _release_free_memory()
        self._ok = _reset_peak_rss()
        self._start_kb = _status_kb("VmRSS")
        return self

    def __exit__(self, *exc: object) -> None:
        hwm = _status_kb("VmHWM")
        if self._ok and hwm is not None and self._start_kb is not None:
            self.peak_mb = round(max(hwm - self._start_kb, 0) / 1024, 1)


def rss_mb() -> float | None:
    kb = _status_kb("VmRSS")
    return None if kb is None else round(kb / 1024, 1)

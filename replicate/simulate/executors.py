"""Where chunks of replicates run: this process, local worker processes, or Dask.

Every executor takes tasks ``(key, args)`` and yields ``(key, result)`` as each
finishes, in completion order; results are plain data. Replicates are
independent and seeded per replicate, so the executor changes the speed, never
the numbers.

* :class:`SerialExecutor`: in this process, one chunk after another.
* :class:`ProcessExecutor`: ``concurrent.futures.ProcessPoolExecutor`` with the
  ``spawn`` start method (safe with threads; a script that calls
  :func:`~replicate.simulate.run_study` needs the usual
  ``if __name__ == "__main__":`` guard) and one BLAS thread per worker. The
  workers die with this process, even when it is killed
  (:mod:`replicate.simulate.lifeline`).
* :class:`DaskExecutor`: a Dask ``distributed`` cluster: an existing scheduler
  (address, ``Client`` or cluster object) or a ``LocalCluster`` of worker
  processes started (and closed) here. Workers need ``replicate`` importable;
  the results come back to this process, which writes them, so workers need no
  shared file system.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

from ..errors import EngineUnavailable
from .blas import child_environment
from .lifeline import die_with_parent

Task = tuple[Any, tuple]


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class SerialExecutor:
    name = "serial"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = 1

    def run(self, fn: Callable, tasks: Iterable[Task]) -> Iterator[tuple[Any, Any]]:
        for key, args in tasks:
            yield key, fn(*args)

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return "serial (this process)"


class ProcessExecutor:
    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = int(workers or default_workers())
        self._pool: ProcessPoolExecutor | None = None

    def run(self, fn: Callable, tasks: Iterable[Task]) -> Iterator[tuple[Any, Any]]:

        tasks = list(tasks)
        if not tasks:
            return
        # Spawned children copy the environment when they start: one BLAS thread each.
        with child_environment(1):
            pool = ProcessPoolExecutor(
                max_workers=min(self.workers, len(tasks)),
                mp_context=multiprocessing.get_context("spawn"),
                initializer=die_with_parent,
                initargs=(os.getpid(),),
            )
            self._pool = pool
            # Keep a bounded number of tasks in flight, so an interrupt loses little work.
            pending: dict[Any, Any] = {}
            queue = iter(tasks)
            limit = 2 * self.workers
            try:
                for key, args in queue:
                    pending[pool.submit(fn, *args)] = key
                    if len(pending) >= limit:
                        break
                while pending:
                    done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                    for fut in done:
                        key = pending.pop(fut)
                        result = fut.result()
                        nxt = next(queue, None)
                        if nxt is not None:
                            pending[pool.submit(fn, *nxt[1])] = nxt[0]
                        yield key, result
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def describe(self) -> str:
        return f"local processes ({self.workers} workers)"


class DaskExecutor:
    """Run chunks on a Dask cluster.

    Args:
        scheduler: None (start a ``LocalCluster`` of ``workers`` processes with one
            thread each), a scheduler address (``tcp://host:8786``), a
            ``distributed.Client``, or a cluster object (anything with a
            ``scheduler_address``).
        workers: size of the LocalCluster; with a scheduler, the number of
            workers to wait for before submitting (default: do not wait).
    """

    name = "dask"

    def __init__(self, scheduler: Any = None, workers: int | None = None) -> None:
        try:
            import distributed  # noqa: F401
        except ImportError as exc:
            raise EngineUnavailable(
                "the Dask executor needs the 'distributed' package", hint="pip install 'dask[distributed]'"
            ) from exc
        self.scheduler = scheduler
        self.workers = workers
        self._client = None
        self._cluster = None
        self._own_client = False

    def _connect(self):
        from distributed import Client, LocalCluster

        if self._client is not None:
            return self._client
        s = self.scheduler
        if s is None:
            with child_environment(1):
                self._cluster = LocalCluster(
                    n_workers=int(self.workers or default_workers()),
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                )
            self._client = Client(self._cluster)
            self._own_client = True
        elif isinstance(s, Client):
            self._client = s
        elif isinstance(s, str) or hasattr(s, "scheduler_address"):
            self._client = Client(s)
            self._own_client = True
        else:
            raise TypeError(f"scheduler must be an address, a distributed.Client or a cluster, not {type(s).__name__}")
        if s is not None and self.workers:
            self._client.wait_for_workers(int(self.workers), timeout=120)
        return self._client

    def run(self, fn: Callable, tasks: Iterable[Task]) -> Iterator[tuple[Any, Any]]:
        from distributed import as_completed

        tasks = list(tasks)
        if not tasks:
            return
        client = self._connect()
        futures = {}
        for key, args in tasks:
            fut = client.submit(fn, *args, pure=False)
            futures[fut.key] = (fut, key)
        try:
            for fut in as_completed([f for f, _ in futures.values()]):
                _, key = futures.pop(fut.key)
                yield key, fut.result()
        finally:
            remaining = [f for f, _ in futures.values()]
            if remaining:
                client.cancel(remaining)

    def close(self) -> None:
        if self._own_client and self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        self._client = self._cluster = None

    def describe(self) -> str:
        if self.scheduler is None:
            return f"dask LocalCluster ({self.workers or default_workers()} worker processes)"
        addr = self.scheduler if isinstance(self.scheduler, str) else getattr(self.scheduler, "scheduler_address", None)
        if addr is None and self._client is not None:
            addr = getattr(self._client, "scheduler", None) and self._client.scheduler.address
        return f"dask ({addr or 'client'})"


def make_executor(executor: str, scheduler: Any = None, workers: int | None = None):
    """``local`` (processes), ``dask`` or ``serial``; a scheduler implies Dask."""
    if scheduler is not None and executor == "local":
        executor = "dask"
    if executor == "local":
        return ProcessExecutor(workers)
    if executor == "dask":
        return DaskExecutor(scheduler, workers)
    if executor == "serial":
        return SerialExecutor()
    raise ValueError(f"executor {executor!r} unknown; use 'local', 'dask' or 'serial'")

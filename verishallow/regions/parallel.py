"""Where the per-pattern geometry runs: in-process, on a process pool, or on a Dask cluster.

The geometry of a pattern (``RegionOracle.region``) is a pure function of the pattern, so the
graph search hands out batches of candidate patterns and merges the answers in candidate order.
That makes a parallel run return exactly the serial run's regions, ids and graph: no shard
borders to stitch, no region found twice. (Sharding the domain into sub-boxes instead would cut
regions at shard borders and need a merge step that re-derives their geometry.)
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from .geometry import LocalRegion, RegionOracle

_WORKER_ORACLE: RegionOracle | None = None


def _evaluate(oracle: RegionOracle, patterns: list[np.ndarray]
              ) -> tuple[list[LocalRegion | None], int, list]:
    """Regions of a batch, plus the LP count and near-tolerance rejections it caused."""
    lps, nrej = oracle.lp_count, len(oracle.rejected)
    out = [oracle.region(p) for p in patterns]
    return out, oracle.lp_count - lps, oracle.rejected[nrej:]


def _init_worker(oracle: RegionOracle) -> None:
    global _WORKER_ORACLE
    # Ctrl-C is the main process's business: it stops handing out work and shuts the pool
    # down, leaving the search's last checkpoint; workers dying mid-task would only add noise
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER_ORACLE = oracle


def _pool_task(patterns: list[np.ndarray]) -> tuple[list[LocalRegion | None], int, list]:
    assert _WORKER_ORACLE is not None
    return _evaluate(_WORKER_ORACLE, patterns)


def _dask_task(patterns: list[np.ndarray], oracle: RegionOracle
               ) -> tuple[list[LocalRegion | None], int, list]:
    return _evaluate(oracle, patterns)


class SerialMapper:
    """Geometry in this process."""

    workers = 1

    def __init__(self, oracle: RegionOracle):
        self.oracle = oracle

    def map(self, patterns: list[np.ndarray]) -> list[LocalRegion | None]:
        return [self.oracle.region(p) for p in patterns]

    def close(self) -> None:
        pass


class _BatchMapper:
    """Shared logic of the multi-worker mappers: batching and merging statistics."""

    def __init__(self, oracle: RegionOracle, workers: int):
        self.oracle = oracle
        self.workers = workers

    def _batches(self, patterns: list[np.ndarray]) -> list[list[np.ndarray]]:
        # a few batches per worker balances load without paying per-pattern messaging
        size = max(1, -(-len(patterns) // (4 * self.workers)))
        return [patterns[i:i + size] for i in range(0, len(patterns), size)]

    def _merge(self, results) -> Iterator[LocalRegion | None]:
        """Answers in candidate order, yielded as each batch arrives: the caller works on the
        first batches while the workers still compute the later ones."""
        for regions, lps, rejected in results:
            self.oracle.lp_count += lps
            self.oracle.rejected.extend(rejected)
            yield from regions


class ProcessMapper(_BatchMapper):
    """Geometry on a local process pool (one oracle copy per worker, sent once)."""

    #: Batches smaller than this stay in-process: not worth a round trip to the pool.
    MIN_PARALLEL = 8

    def __init__(self, oracle: RegionOracle, workers: int):
        super().__init__(oracle, workers)
        self.pool: ProcessPoolExecutor | None = None  # started on the first large batch

    def map(self, patterns: list[np.ndarray]) -> Iterable[LocalRegion | None]:
        if len(patterns) < self.MIN_PARALLEL:
            return [self.oracle.region(p) for p in patterns]
        if self.pool is None:
            self.pool = ProcessPoolExecutor(self.workers, initializer=_init_worker,
                                            initargs=(self.oracle,))
        return self._merge(self.pool.map(_pool_task, self._batches(patterns)))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


class DaskMapper(_BatchMapper):
    """Geometry on a Dask distributed cluster; the oracle is broadcast to every worker once."""

    def __init__(self, oracle: RegionOracle, scheduler: Any):
        self.client, self.owned = dask_client(scheduler)
        n = max(1, len(self.client.scheduler_info().get("workers", {})))
        super().__init__(oracle, n)
        self.remote_oracle = self.client.scatter(oracle, broadcast=True)

    def map(self, patterns: list[np.ndarray]) -> Iterable[LocalRegion | None]:
        if not patterns:
            return []
        futures = self.client.map(_dask_task, self._batches(patterns),
                                  oracle=self.remote_oracle, pure=False)
        return self._merge(f.result() for f in futures)  # in order, as each batch lands

    def close(self) -> None:
        if self.owned:  # a client we connected ourselves; a caller's client stays open
            self.client.close()


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else (os.cpu_count() or 1))


def dask_client(scheduler: Any) -> tuple[Any, bool]:
    """A ``distributed.Client`` for an address like ``tcp://host:8786`` (or the given Client),
    and whether we opened it (and so must close it)."""
    from ..errors import InputError

    try:
        from distributed import Client
    except ImportError:
        raise InputError("a Dask scheduler needs the 'distributed' package: "
                         "pip install 'verishallow[dask]'") from None
    if isinstance(scheduler, Client):
        return scheduler, False
    try:
        return Client(scheduler, timeout=30), True
    except OSError as exc:
        raise InputError(f"cannot reach Dask scheduler {scheduler}: {exc}") from None


def make_mapper(oracle: RegionOracle, workers: int | None = None, scheduler: Any = None):
    """Serial for one worker, a process pool for several, Dask when a scheduler is given."""
    if scheduler is not None:
        return DaskMapper(oracle, scheduler)
    workers = default_workers() if workers is None else int(workers)
    if workers < 1:
        from ..errors import InputError

        raise InputError(f"--workers must be at least 1, got {workers}")
    return SerialMapper(oracle) if workers == 1 else ProcessMapper(oracle, workers)

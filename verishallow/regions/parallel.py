"""Where the per-pattern geometry runs: in-process, on a process pool, or on a Dask cluster.

The geometry of a pattern (``RegionOracle.region``) is a pure function of the pattern, so the
graph search hands out batches of candidate patterns and merges the answers in candidate order.
That makes a parallel run return exactly the serial run's regions, ids and graph: no shard
borders to stitch, no region found twice. (Sharding the domain into sub-boxes instead would cut
regions at shard borders and need a merge step that re-derives their geometry.)

Workers send each batch's answers back as a few flat arrays (:class:`RegionBatch`) rather than
pickled ``LocalRegion`` objects: unpickling those cost the coordinating process about as much
as all of its own bookkeeping.
"""

from __future__ import annotations

import signal
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..cluster import dask_client
from ..forkpool import default_workers
from .geometry import LocalFacet, LocalRegion, RegionOracle

_WORKER_ORACLE: RegionOracle | None = None

#: Facet kinds, by their code in :class:`RegionBatch`.
FACET_KINDS = ("neuron", "domain")


@dataclass(frozen=True)
class RegionBatch:
    """The answers to a batch of patterns as a few flat arrays (what a worker sends back).

    Pickling a list of ``LocalRegion`` objects costs about 25 small arrays per region and as
    much CPU to load in the coordinating process as to dump in the worker; these arrays load
    in microseconds per batch. The patterns themselves are not sent back: the coordinator
    has them. Regions are the patterns where ``found`` is set, in order; facets (and facet
    ids) are stored region after region, delimited by index pointer arrays.
    """

    found: np.ndarray  # (n,) bool: which patterns are regions
    center: np.ndarray  # (k, d)
    radius: np.ndarray  # (k,)
    zero: np.ndarray  # (k, ceil(N / 8)) uint8: packed zero_neurons
    n_neurons: int  # N
    has_alpha: np.ndarray  # (k,) bool
    alpha: np.ndarray  # (number with alpha, out, d)
    has_beta: np.ndarray  # (k,) bool
    beta: np.ndarray  # (number with beta, out)
    facet_ptr: np.ndarray  # (k + 1,): facets of region r are rows facet_ptr[r]:facet_ptr[r+1]
    kind: np.ndarray  # (f,) uint8 code into FACET_KINDS
    ids_ptr: np.ndarray  # (f + 1,): ids of facet i are ids[ids_ptr[i]:ids_ptr[i+1]]
    ids: np.ndarray  # flat int64
    normal: np.ndarray  # (f, d)
    offset: np.ndarray  # (f,)
    point: np.ndarray  # (f, d)
    facet_radius: np.ndarray  # (f,)


def _stack(arrays: list, shape_of_empty: tuple) -> np.ndarray:
    return np.stack(arrays) if arrays else np.zeros(shape_of_empty)


def encode_regions(results: list[LocalRegion | None]) -> RegionBatch:
    """Flatten a batch of ``RegionOracle.region`` answers; :func:`decode_regions` inverts it
    (bit for bit, given the same patterns)."""
    regions = [r for r in results if r is not None]
    facets = [f for r in regions for f in r.facets]
    n_neurons = len(regions[0].zero_neurons) if regions else 0
    d = len(regions[0].center) if regions else 0
    kind_code = {k: i for i, k in enumerate(FACET_KINDS)}
    return RegionBatch(
        found=np.array([r is not None for r in results], dtype=bool),
        center=_stack([r.center for r in regions], (0, d)).astype(np.float64, copy=False),
        radius=np.array([r.radius for r in regions], dtype=np.float64),
        zero=np.packbits(_stack([np.asarray(r.zero_neurons, dtype=bool) for r in regions],
                                (0, n_neurons)).astype(bool, copy=False), axis=1),
        n_neurons=n_neurons,
        has_alpha=np.array([r.alpha is not None for r in regions], dtype=bool),
        alpha=_stack([r.alpha for r in regions if r.alpha is not None], (0, 0, d)),
        has_beta=np.array([r.beta is not None for r in regions], dtype=bool),
        beta=_stack([r.beta for r in regions if r.beta is not None], (0, 0)),
        facet_ptr=np.cumsum([0] + [len(r.facets) for r in regions], dtype=np.int64),
        kind=np.array([kind_code[f.kind] for f in facets], dtype=np.uint8),
        ids_ptr=np.cumsum([0] + [len(f.ids) for f in facets], dtype=np.int64),
        ids=np.array([i for f in facets for i in f.ids], dtype=np.int64),
        normal=_stack([f.normal for f in facets], (0, d)).astype(np.float64, copy=False),
        offset=np.array([f.offset for f in facets], dtype=np.float64),
        point=_stack([f.point for f in facets], (0, d)).astype(np.float64, copy=False),
        facet_radius=np.array([f.radius for f in facets], dtype=np.float64),
    )


def _new_facet(kind: str, ids: tuple[int, ...], normal: np.ndarray, offset: float,
               point: np.ndarray, radius: float, _new=object.__new__,
               _set=object.__setattr__) -> LocalFacet:
    """``LocalFacet(kind, ids, normal, offset, point, radius)``, without the frozen
    dataclass's six ``object.__setattr__`` calls: the coordinator decodes tens of thousands
    of facets, and this halves their cost. The object is the same (a plain, not slotted,
    dataclass keeps its fields in its ``__dict__``; the round-trip tests check it)."""
    f = _new(LocalFacet)
    _set(f, "__dict__", {"kind": kind, "ids": ids, "normal": normal, "offset": offset,
                         "point": point, "radius": radius})
    return f


def decode_regions(batch: RegionBatch, patterns: list[np.ndarray]
                   ) -> list[LocalRegion | None]:
    """The ``LocalRegion`` list that :func:`encode_regions` flattened; ``patterns`` are the
    batch's patterns, as sent. Array fields are views into the batch's arrays."""
    found = batch.found.tolist()
    if len(found) != len(patterns) or sum(found) != len(batch.radius):
        raise ValueError(f"inconsistent region batch: {len(patterns)} patterns, "
                         f"{len(found)} answers, {len(batch.radius)} regions")
    zero = np.unpackbits(batch.zero, axis=1, count=batch.n_neurons).view(bool)
    ids, ip = batch.ids.tolist(), batch.ids_ptr.tolist()
    kinds = [FACET_KINDS[c] for c in batch.kind.tolist()]
    offsets, fradii = batch.offset.tolist(), batch.facet_radius.tolist()
    # list(array) makes the row views in C, far cheaper than indexing row by row
    columns = (kinds, ip[:-1], ip[1:], list(batch.normal), offsets, list(batch.point), fradii)
    facets = [_new_facet(kind, tuple(ids[a:b]), nrm, off, pt, rad)
              for kind, a, b, nrm, off, pt, rad in zip(*columns, strict=True)]
    fp, radius = batch.facet_ptr.tolist(), batch.radius.tolist()
    center, zero = list(batch.center), list(zero)
    alpha, beta = iter(list(batch.alpha)), iter(list(batch.beta))
    has_alpha, has_beta = batch.has_alpha.tolist(), batch.has_beta.tolist()
    out: list[LocalRegion | None] = []
    r = 0
    for p, ok in zip(patterns, found, strict=True):
        if not ok:
            out.append(None)
            continue
        out.append(LocalRegion(np.asarray(p, dtype=bool), center[r], radius[r],
                               tuple(facets[fp[r]:fp[r + 1]]), zero[r],
                               next(alpha) if has_alpha[r] else None,
                               next(beta) if has_beta[r] else None))
        r += 1
    return out


def _evaluate(oracle: RegionOracle, patterns: list[np.ndarray]
              ) -> tuple[RegionBatch, int, list]:
    """Regions of a batch (flattened), plus the LP count and near-tolerance rejections it
    caused."""
    lps, nrej = oracle.lp_count, len(oracle.rejected)
    out = encode_regions([oracle.region(p) for p in patterns])
    return out, oracle.lp_count - lps, oracle.rejected[nrej:]


def _init_worker(oracle: RegionOracle) -> None:
    global _WORKER_ORACLE
    # Ctrl-C is the main process's business: it stops handing out work and shuts the pool
    # down, leaving the search's last checkpoint; workers dying mid-task would only add noise
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER_ORACLE = oracle


def _pool_task(patterns: list[np.ndarray]) -> tuple[RegionBatch, int, list]:
    assert _WORKER_ORACLE is not None
    return _evaluate(_WORKER_ORACLE, patterns)


def _dask_task(patterns: list[np.ndarray], oracle: RegionOracle
               ) -> tuple[RegionBatch, int, list]:
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

    def _merge(self, batches: list[list[np.ndarray]], results
               ) -> Iterator[LocalRegion | None]:
        """Answers in candidate order, yielded as each batch arrives: the caller works on the
        first batches while the workers still compute the later ones."""
        for patterns, (encoded, lps, rejected) in zip(batches, results, strict=True):
            self.oracle.lp_count += lps
            self.oracle.rejected.extend(rejected)
            yield from decode_regions(encoded, patterns)


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
        batches = self._batches(patterns)
        return self._merge(batches, self.pool.map(_pool_task, batches))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


class DaskMapper(_BatchMapper):
    """Geometry on a Dask distributed cluster; the oracle is scattered once (workers fetch it
    on first use: a broadcast right after a cluster starts once hung the proof search's
    worker-to-worker replication, see ``proofsearch.bab._Bounder``)."""

    def __init__(self, oracle: RegionOracle, scheduler: Any):
        self.client, self.owned = dask_client(scheduler)
        n = max(1, len(self.client.scheduler_info().get("workers", {})))
        super().__init__(oracle, n)
        self.remote_oracle = self.client.scatter(oracle, hash=False)

    def map(self, patterns: list[np.ndarray]) -> Iterable[LocalRegion | None]:
        if not patterns:
            return []
        batches = self._batches(patterns)
        futures = self.client.map(_dask_task, batches, oracle=self.remote_oracle, pure=False)
        return self._merge(batches, (f.result() for f in futures))  # in order, as each lands

    def close(self) -> None:
        if self.owned:  # a client we connected ourselves; a caller's client stays open
            self.client.close()




def make_mapper(oracle: RegionOracle, workers: int | None = None, scheduler: Any = None):
    """Serial for one worker, a process pool for several, Dask when a scheduler is given."""
    if scheduler is not None:
        return DaskMapper(oracle, scheduler)
    workers = default_workers() if workers is None else int(workers)
    if workers < 1:
        from ..errors import InputError

        raise InputError(f"--workers must be at least 1, got {workers}")
    return SerialMapper(oracle) if workers == 1 else ProcessMapper(oracle, workers)

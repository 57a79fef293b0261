"""Enumerate every activation region: adjacency-graph search, or SCIP MILP enumeration.

Graph search starts from the region of an interior point and crosses every neuron facet to the
region beyond it (breadth-first). On a convex domain the regions' adjacency graph is connected,
so closure under facet crossing is coverage; an independent SCIP query (no-good cuts excluding
every region found) double-checks it. The MILP engine instead asks SCIP for every feasible
pattern and then computes each one's geometry with the same oracle, so both engines return
identical ``Partition`` objects that tests compare.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Container
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..bounds import Bounds
from ..domain import Domain, Reduction
from ..errors import InputError
from ..network import ReLUNetwork, pattern_key
from .builder import (
    OnRegion,
    Progress,
    RegionBuilder,
    across_keys,
    lift_region,
    prepare,
)
from .geometry import LocalRegion, RegionOracle
from .region import Facet, Partition, Region

if TYPE_CHECKING:
    from .store import RegionStore

METHODS = ("auto", "graph", "milp", "subdivision", "skeleton")


@dataclass(frozen=True)
class SearchStatus:
    """Progress of a graph search, for callbacks with a ``detail`` method."""

    found: int  #: regions found in total (including those of a resumed checkpoint)
    queued: int  #: as passed to ``progress``: undecided candidates + unexpanded regions
    session_found: int  #: regions found since this process started
    decided: int  #: candidate patterns decided since this process started
    remaining: int  #: estimated candidates still to decide (the known queue only)
    seconds: float  #: since this process started
    wave: int  #: breadth-first wave (distance from the start region)

    @property
    def rate(self) -> float:
        """Regions found per second in this process."""
        return self.session_found / self.seconds if self.seconds > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds to decide the known queue at the current decision rate (a lower bound on
        the time left: the regions found meanwhile bring more candidates); None if unknown."""
        if self.decided == 0 or self.seconds <= 0:
            return None
        return self.remaining * self.seconds / self.decided


class _Tracker:
    """Calls the progress callback (and its ``detail`` method) with rate bookkeeping."""

    def __init__(self, progress: Progress | None, found: int = 0):
        self.progress = progress
        self.t0 = time.perf_counter()
        self.found0 = found
        self.decided = 0
        self.expanded = 0  # regions expanded in this process
        self.generated = 0  # candidates they produced

    def report(self, found: int, cands_left: int, frontier: int, wave: int) -> None:
        if self.progress is None:
            return
        queued = cands_left + frontier
        detail = getattr(self.progress, "detail", None)
        if callable(detail):
            per = self.generated / self.expanded if self.expanded else 1.0
            detail(SearchStatus(found, queued, found - self.found0, self.decided,
                                int(cands_left + frontier * per),
                                time.perf_counter() - self.t0, wave))
        self.progress(found, queued)


def _start_pattern(net: ReLUNetwork, oracle: RegionOracle, red: Reduction
                   ) -> LocalRegion:
    """The region of the domain's Chebyshev centre, or of nearby random points if that
    centre happens to lie on a region boundary."""
    G, h = oracle.G, oracle.h
    from ..solvers import lp

    cheb = lp.chebyshev_center(G, h) if len(G) else (np.zeros(net.input_dim), lp.RADIUS_CAP)
    if cheb is None:
        raise InputError("the domain is empty")
    c, r = cheb
    rng = np.random.default_rng(0)
    points = [c] + [c + r * 0.9 * rng.uniform(0, 1) * u / np.linalg.norm(u)
                    for u in rng.normal(size=(64, net.input_dim))]
    for y in points:
        loc = oracle.region(net.pattern(y))
        if loc is not None:
            return loc
    raise RuntimeError("could not find a full-dimensional region near the domain centre")


#: Candidates handed to the mapper at once: bounds the latency of progress reports.
BATCH = 512
#: A streamed search checkpoints (between batches) once this many seconds have passed since
#: the last checkpoint: at most about this much work is lost to Ctrl-C or a crash.
CHECKPOINT_SECONDS = 10.0


def sliver_candidates(oracle: RegionOracle, rejected: list[tuple[np.ndarray, float | None]],
                      seen: Container[bytes], mark_seen: Callable[[bytes], None]
                      ) -> list[np.ndarray]:
    """Never-seen patterns (not in ``seen``; ``mark_seen`` then marks them) across the neuron
    facets of the *slivers* among ``rejected`` (full-dimensional candidates with a positive
    inscribed radius at most ``REGION_RADIUS_TOL``). Why: a region reachable only across a
    sliver would otherwise be missed (sound, since the coverage proof then fails, but short).
    The sliver itself is not a region; its facets come from :meth:`RegionOracle.region` with
    ``radius_tol=0`` (in-plane balls relative to the sliver's radius)."""
    out: list[np.ndarray] = []
    for pattern, radius in rejected:
        if radius is None or not radius > 0:
            continue
        loc = oracle.region(pattern, radius_tol=0.0)
        if loc is None:
            continue
        key = pattern_key(loc.pattern)
        zero = bool(loc.zero_neurons.any())
        for f in loc.facets:
            if f.kind != "neuron":
                continue
            keys, pat = across_keys(oracle, loc, key, f, zero)
            for k, kk in enumerate(keys):
                if kk not in seen:
                    mark_seen(kk)
                    out.append(pat(k))
    return out


def graph_search(net: ReLUNetwork, domain: Domain, progress: Progress | None = None,
                 on_region: OnRegion | None = None, workers: int | None = 1,
                 scheduler=None) -> tuple[RegionBuilder, RegionOracle, Reduction, Bounds]:
    """Breadth-first search over the region adjacency graph, in waves.

    Each wave's unseen neighbour patterns are decided in batches (possibly in parallel) and
    numbered in candidate order: exactly the order a one-at-a-time FIFO search would give.
    """
    from .parallel import make_mapper

    red, rnet, bounds, oracle = prepare(net, domain)
    builder = RegionBuilder(net, red)
    start = _start_pattern(rnet, oracle, red)
    builder.add(start)
    if on_region is not None:
        on_region(builder.lift(0))
    seen: set[bytes] = {pattern_key(start.pattern)}
    wave = [start]
    mapper = make_mapper(oracle, workers, scheduler)
    track = _Tracker(progress)
    depth = 0
    try:
        while wave:
            # the found regions live until the end: keep the cycle collector from rescanning
            # them at every full collection (30% of the coordinator's CPU on ACAS Xu)
            gc.freeze()
            # every region before this wave has all its neighbours decided: finalise those
            # in slices while the workers compute this wave's batches
            wave_start = len(builder.local) - len(wave)
            cands = []
            for rid, loc in enumerate(wave, wave_start):
                across: list[list[bytes]] = []
                zero = bool(loc.zero_neurons.any())
                for f in loc.facets:
                    if f.kind != "neuron":
                        across.append([])
                        continue
                    keys, pattern = across_keys(oracle, loc, builder.keys[rid], f, zero)
                    across.append(keys)
                    for k, key in enumerate(keys):
                        if key not in seen:
                            seen.add(key)
                            cands.append(pattern(k))
                builder.across[rid] = across
            track.expanded += len(wave)
            track.generated += len(cands)
            depth += 1
            nxt = []
            n_batches = max(1, -(-len(cands) // BATCH))
            per_batch = -(-(wave_start - builder.finalised) // n_batches)
            b = 0
            while b < len(cands):
                batch = cands[b:b + BATCH]
                n_rejected = len(oracle.rejected)
                results = mapper.map(batch)  # a pool starts on the batch here
                builder.finalise(oracle, min(wave_start, builder.finalised + per_batch))
                for nb in results:
                    if nb is None:
                        continue
                    rid = builder.add(nb)
                    nxt.append(nb)
                    if on_region is not None:
                        on_region(builder.lift(rid))
                track.decided += len(batch)
                track.report(len(builder.local), max(0, len(cands) - b - len(batch)), len(nxt),
                             depth)
                # walk through slivers: what lies across a thin rejected candidate joins the
                # wave (decided like any candidate; the sliver itself is not a region)
                thin = oracle.rejected[n_rejected:]  # complete once the results are read
                cands.extend(sliver_candidates(oracle, thin, seen, seen.add))
                b += len(batch)
            wave = nxt
    finally:
        gc.unfreeze()
        mapper.close()
    return builder, oracle, red, bounds


def store_settings() -> dict:
    """What a resumed graph search must share with the run that made its store (besides the
    model and the domain): the engine and the geometry tolerances that decide regions."""
    from . import geometry as g
    from . import tolerances as t

    names = ("REGION_RADIUS_TOL", "FACET_RADIUS_TOL", "ZERO_ROW_TOL", "DUPLICATE_TOL",
             "SCREEN_TOL", "DUAL_SCREEN_TOL", "PARALLEL_TOL")
    settings = {k: getattr(t, k) for k in names}
    settings.update({k: getattr(g, k) for k in ("SCREEN_MIN_ROWS", "MAX_AMBIGUOUS_BITS")})
    return {"method": "graph", "tolerances": settings}


class _Pending:
    """A found region whose facet neighbours are not known yet (its wave is not expanded)."""

    __slots__ = ("region", "zero", "cand_keys")

    def __init__(self, region: Region, zero: np.ndarray):
        self.region = region
        self.zero = zero
        self.cand_keys: list[list[bytes]] = []  # per facet: candidate neighbour keys

    @property
    def local(self) -> LocalRegion:
        # what ``RegionOracle.neighbour_patterns`` reads: the pattern and the zero neurons
        return LocalRegion(self.region.pattern, self.region.center, self.region.radius, (),
                           self.zero)


class _StreamSearch:
    """The graph search of :func:`graph_search`, streaming its regions to a store.

    Regions are numbered exactly as :func:`graph_search` numbers them. A region's neighbours
    are known once its wave has been expanded (every candidate across its facets is decided
    by then), so each wave's regions go to the chunks right after the next wave is found.
    Regions found since the last checkpoint go to a ``found`` segment at each checkpoint
    (every ``checkpoint_seconds``, between two batches of candidates). In memory stay: the
    key -> id map of every decided pattern (``-1`` for non-regions), the neuron ids on each
    region's neuron facets (a flat int array, for the neighbour test), the wave being expanded,
    the next wave found so far, and the chunk being filled.
    """

    def __init__(self, net: ReLUNetwork, red: Reduction, oracle: RegionOracle,
                 store, on_region: OnRegion | None, checkpoint_seconds: float):
        from array import array

        self.net, self.red, self.oracle, self.store = net, red, oracle, store
        self.on_region = on_region
        self.every = checkpoint_seconds
        self.seen: dict[bytes, int] = {}
        self.nid = array("i")  # neuron ids on neuron facets, region after region
        self.nid_ptr = array("q", [0])
        self.n = 0
        self.wave: list[_Pending] = []  # being expanded (or next to be)
        self.cands: list[np.ndarray] | None = None  # the wave's candidates, once generated
        self.decided = 0  # how many of them are decided
        self.nxt: list[_Pending] = []  # regions found among them
        self.unstaged: list[tuple[Region, np.ndarray]] = []  # found since the last checkpoint
        self.depth = 0  # waves expanded
        self.seconds = 0.0  # of earlier sessions
        self.t0 = time.perf_counter()
        self.last_checkpoint = self.t0

    # ----- bookkeeping --------------------------------------------------------------------
    def _note(self, region: Region) -> None:
        """Register region ``region.id`` (== self.n) as found."""
        if region.id != self.n:
            raise InputError(f"region store {self.store.path} is inconsistent: region "
                             f"{region.id} where {self.n} was expected")
        self.seen[region.key] = region.id
        ids = sorted({i for f in region.facets if f.kind == "neuron" for i in f.ids})
        self.nid.extend(ids)
        self.nid_ptr.append(len(self.nid))
        self.n += 1

    def _found(self, loc: LocalRegion) -> _Pending:
        region = lift_region(self.net, self.red, self.n, loc)
        self._note(region)
        if self.on_region is not None:
            self.on_region(region)
        pend = _Pending(region, np.asarray(loc.zero_neurons, dtype=bool))
        self.unstaged.append((region, pend.zero))
        return pend

    def _mark_seen(self, key: bytes) -> None:
        self.seen[key] = -1

    def _shares(self, j: int, ids: tuple[int, ...]) -> bool:
        a, b = self.nid_ptr[j], self.nid_ptr[j + 1]
        return not set(self.nid[a:b]).isdisjoint(ids)

    def _candidates(self, pend: _Pending) -> list[np.ndarray]:
        """Record ``pend``'s candidate neighbour keys; return the patterns never seen (now
        marked as seen)."""
        new = []
        loc = pend.local
        own = pend.region.key
        zero = bool(pend.zero.any())
        pend.cand_keys = []
        for f in pend.region.facets:
            if f.kind != "neuron":
                pend.cand_keys.append([])
                continue
            keys, pattern = across_keys(self.oracle, loc, own, f, zero)
            for k, key in enumerate(keys):
                if key not in self.seen:
                    self.seen[key] = -1
                    new.append(pattern(k))
            pend.cand_keys.append(keys)
        return new

    def _resolve(self, pend: _Pending) -> Region:
        """``pend.region`` with its facet neighbours (as ``RegionBuilder.finish`` finds them)."""
        r = pend.region
        facets = []
        for f, keys in zip(r.facets, pend.cand_keys, strict=True):
            found = [j for j in (self.seen.get(k, -1) for k in keys)
                     if j >= 0 and self._shares(j, f.ids)]
            facets.append(Facet(f.kind, f.ids, f.normal, f.offset, f.point,
                                tuple(sorted(found))))
        return Region(r.id, r.pattern, tuple(facets), r.center, r.radius, r.alpha, r.beta)

    def meta(self) -> dict:
        wave_start = self.wave[0].region.id if self.wave else self.n
        return {"regions": self.n, "wave_start": wave_start,
                "wave_end": wave_start + len(self.wave), "decided": self.decided,
                "waves": self.depth, "lps": self.oracle.lp_count,
                "seconds": self.seconds + time.perf_counter() - self.t0}

    def checkpoint(self) -> None:
        self.store.stage(self.unstaged)
        self.unstaged = []
        self.store.checkpoint(self.meta(), self.oracle.rejected)
        self.last_checkpoint = time.perf_counter()

    # ----- resume -------------------------------------------------------------------------
    def restore(self) -> None:
        """Rebuild the search state from the store, chunk by chunk.

        Nothing but regions is stored: the decided non-region patterns are exactly the
        candidates of the regions before the current wave (recomputed here), the wave's
        candidate list is regenerated (same seen set, same order), and the regions between
        the chunks and the wave get their neighbours again.
        """
        store = self.store
        st = store.manifest["state"]
        start, end, decided = int(st["wave_start"]), int(st["wave_end"]), int(st["decided"])
        n_chunked = store.n_chunked
        unresolved: list[_Pending] = []
        later: list[_Pending] = []
        for region, zero in store.records(include_found=True):
            if region.id >= end:
                later.append(_Pending(region, zero))
                continue
            self._note(region)
            pend = _Pending(region, zero)
            if region.id < start:
                self._candidates(pend)  # marks its candidates seen; keeps keys for _resolve
                if region.id >= n_chunked:
                    unresolved.append(pend)
            else:
                self.wave.append(pend)
        if self.n + len(later) != int(st["regions"]) or len(self.wave) != end - start:
            raise InputError(f"region store {store.path} is inconsistent: the checkpoint "
                             f"lists {st['regions']} regions, the files hold "
                             f"{self.n + len(later)}")
        self.cands = []
        for pend in self.wave:
            self.cands.extend(self._candidates(pend))
        self.decided = decided
        done = {pattern_key(p): i for i, p in enumerate(self.cands[:decided])}
        pos = [done.get(p.region.key, -1) for p in later]
        if any(a < 0 for a in pos) or pos != sorted(pos):
            raise InputError(f"region store {store.path} is inconsistent: its last wave does "
                             "not follow from the earlier ones")
        for pend in later:
            self._note(pend.region)
        self.nxt = later
        for pend in unresolved:
            store.append(self._resolve(pend), pend.zero)
        self.oracle.lp_count = int(st["lps"])
        self.oracle.rejected[:] = store.rejected()
        self.depth = int(st["waves"])
        self.seconds = float(st["seconds"])

    # ----- the search ---------------------------------------------------------------------
    def start(self, loc: LocalRegion) -> None:
        self.wave = [self._found(loc)]
        self.checkpoint()

    def run(self, mapper, progress: Progress | None) -> None:
        track = _Tracker(progress, self.n)
        while self.wave:
            if self.cands is None:
                self.cands = []
                for pend in self.wave:
                    self.cands.extend(self._candidates(pend))
                self.decided, self.nxt = 0, []
                track.expanded += len(self.wave)
                track.generated += len(self.cands)
            cands = self.cands
            n_wave = len(cands)  # the wave's own candidates (what a resume regenerates)
            b = self.decided
            while b < len(cands):
                batch = cands[b:b + BATCH]
                n_rejected = len(self.oracle.rejected)
                results = mapper.map(batch)
                self.nxt.extend(self._found(nb) for nb in results if nb is not None)
                cands.extend(sliver_candidates(self.oracle, self.oracle.rejected[n_rejected:],
                                               self.seen, self._mark_seen))
                self.decided = b + len(batch)
                b = self.decided
                track.decided += len(batch)
                track.report(self.n, len(cands) - self.decided, len(self.nxt), self.depth + 1)
                # no checkpoint inside a wave that walked through a sliver: a resume
                # regenerates only the wave's own candidates
                if self.decided < len(cands) and len(cands) == n_wave and \
                        time.perf_counter() - self.last_checkpoint >= self.every:
                    self.checkpoint()
            for pend in self.wave:  # every candidate across their facets is decided now
                self.store.append(self._resolve(pend), pend.zero)
            self.wave, self.nxt, self.cands, self.decided = self.nxt, [], None, 0
            self.depth += 1
            if time.perf_counter() - self.last_checkpoint >= self.every:
                self.checkpoint()


def stream_regions(net: ReLUNetwork, domain: Domain | None, store: str | Path,
                   resume: bool = False, prove_coverage: bool = True,
                   progress: Progress | None = None, time_limit: float | None = None,
                   on_region: OnRegion | None = None, workers: int | None = 1,
                   scheduler=None, chunk_size: int | None = None,
                   checkpoint_seconds: float = CHECKPOINT_SECONDS) -> RegionStore:
    """Graph search that streams regions to the region store directory ``store`` and
    returns the finished :class:`~.store.RegionStore` (read it chunk by chunk).

    Memory holds one chunk and about two breadth-first waves of regions, plus a key and the
    facet neuron ids per decided pattern (no Region objects of finished waves). Checkpoints
    are taken between batches of candidates, every ``checkpoint_seconds`` (0: after every
    batch); after Ctrl-C, a crash or ``kill -9``, ``resume=True`` continues from the last one,
    and the store ends up identical to an uninterrupted run's (same region ids, facets and
    neighbours; any ``workers``/``scheduler``). ``resume`` refuses a store made for another
    model, domain or engine settings; resuming a finished store only runs the coverage proof
    if it is still missing. ``on_region`` sees the regions found in this process only.
    """
    from ..domain import Whole
    from .parallel import make_mapper
    from .store import CHUNK_SIZE, RegionStore, writer_lock

    domain = Whole(net.input_dim) if domain is None else domain
    settings = store_settings()
    red, rnet, bounds, oracle = prepare(net, domain)
    if resume:
        rs = RegionStore.open(store)
    else:
        rs = RegionStore.create(store, net, domain, settings,
                                CHUNK_SIZE if chunk_size is None else chunk_size)
    with writer_lock(rs.path):
        if resume:  # read again under the lock: another writer may just have finished
            rs = RegionStore.open(store)
            rs.check_matches(net, domain, settings)
        if not rs.complete:
            search = _StreamSearch(net, red, oracle, rs, on_region, checkpoint_seconds)
            if rs.manifest.get("state"):
                rs.resume_writing()
                search.restore()
            else:
                search.start(_start_pattern(rnet, oracle, red))
            mapper = make_mapper(oracle, workers, scheduler)
            try:
                search.run(mapper, progress)
            finally:
                mapper.close()
            meta = search.meta()
            rs.finish(meta, oracle.rejected, {
                "stable_neurons": int((~bounds.unstable).sum()),
                "unstable_neurons": int(bounds.unstable.sum()),
                "method": "graph", "seconds": meta["seconds"], "complete": False,
                "lps": oracle.lp_count,
            })
        cov_done = rs.manifest.get("coverage") or {}
        if prove_coverage and cov_done.get("status") != "covered":
            from ..proofs.coverage import prove_coverage as coverage_proof

            part = rs.partition(net, domain)
            proof = coverage_proof(part, time_limit=time_limit, workers=workers)
            rs.set_coverage(proof.entry, proof.complete)
    return rs


def milp_search(net: ReLUNetwork, domain: Domain, progress: Progress | None = None,
                time_limit: float | None = None, on_region: OnRegion | None = None
                ) -> tuple[RegionBuilder, RegionOracle, Reduction, Bounds, bool]:
    from ..solvers import milp

    red, rnet, bounds, oracle = prepare(net, domain)
    enum = milp.enumerate_patterns(net, domain, time_limit=time_limit)
    builder = RegionBuilder(net, red)
    for p in sorted(enum.patterns, key=pattern_key):
        loc = oracle.region(p)
        if loc is not None:
            rid = builder.add(loc)
            if on_region is not None:
                on_region(builder.lift(rid))
        if progress is not None:
            progress(len(builder.local), 0)
    return builder, oracle, red, bounds, bool(enum.complete)


def _auto_method(domain: Domain, scheduler) -> str:
    """The fastest engine per input dimension in docs/benchmarks.md (section 9, same-run
    ratios): the interval subdivision for one free coordinate, the skeleton engine from 2 on
    (1.1-1.7x the polygon subdivision in 2-D), whatever the worker count (so that workers
    change the speed, never the partition's order); with a Dask scheduler, the graph search,
    the one engine that distributes."""
    if scheduler is not None:
        return "graph"
    return "subdivision" if _free_dims(domain) <= 1 else "skeleton"


def _free_dims(domain: Domain) -> int:
    return int(np.count_nonzero(~domain.fixed))


def enumerate_regions(net: ReLUNetwork, domain: Domain | None = None, method: str = "auto",
                      prove_coverage: bool = True, progress: Progress | None = None,
                      time_limit: float | None = None,
                      on_region: OnRegion | None = None, workers: int | None = 1,
                      scheduler=None, store: str | Path | None = None,
                      resume: bool = False) -> Partition:
    """Every full-dimensional activation region of ``net`` on ``domain``.

    ``method="auto"`` (default) takes the subdivision engine for inputs with one free
    coordinate, the skeleton engine (:mod:`.skeleton`, edge subdivision) from two on, and
    the graph search with a ``scheduler``. ``method="graph"`` walks the
    region adjacency graph; with ``prove_coverage`` the one coverage proof
    (:func:`verishallow.proofs.coverage.prove_coverage`: exact certificate first, SCIP as the
    fallback, one budget rule; ``time_limit`` bounds it) decides ``Partition.complete``.
    ``method="milp"`` has SCIP enumerate the patterns directly (complete by itself).
    ``workers`` processes (None: all cores) or a Dask ``scheduler`` (address or
    ``distributed.Client``) share the graph search's geometry work and the coverage proof's
    evidence; the result is identical to a serial run.

    With ``store`` (a directory), regions also stream to a region store (see
    :func:`stream_regions` and docs/region-store.md), and ``resume=True`` continues an
    interrupted run from its last checkpoint; the returned Partition is read back from the
    store and equals an uninterrupted in-memory run's. A store makes ``"auto"`` the graph
    search (the resumable engine); the other methods write their finished result to it.
    """
    from ..domain import Whole

    domain = Whole(net.input_dim) if domain is None else domain
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if workers is not None and int(workers) < 1:  # every engine, before any work
        raise InputError(f"--workers must be at least 1, got {workers}")
    if store is not None:
        return _enumerate_with_store(net, domain, method, prove_coverage, progress,
                                     time_limit, on_region, workers, scheduler, store, resume)
    if resume:
        raise InputError("resume needs a region store (store=DIR, --store DIR)")
    if method == "auto":
        method = _auto_method(domain, scheduler)
    t0 = time.perf_counter()
    stats: dict = {}
    if method in ("graph", "subdivision", "skeleton"):
        builder = None
        engine = method
        if method == "skeleton":  # edge subdivision, any dimension (see .skeleton)
            from .skeleton import Degenerate, skeleton_search

            stats["skeleton"] = {}
            try:
                builder, oracle, red, bounds = skeleton_search(net, domain, progress, None,
                                                               stats["skeleton"], workers)
            except Degenerate as e:
                # not in general position: the subdivision (1-D, 2-D) or the graph search gives
                # the identical partition
                stats["skeleton"] = {"fallback": str(e)}
                engine = "subdivision" if _free_dims(domain) <= 2 else "graph"
            else:
                if on_region is not None:
                    for rid in range(len(builder.local)):
                        on_region(builder.lift(rid))
        if engine == "graph":
            builder, oracle, red, bounds = graph_search(net, domain, progress, on_region,
                                                           workers, scheduler)
        elif engine == "subdivision":  # layer-wise subdivision, 1-D and 2-D inputs
            from .subdivision import subdivision_search

            stats["subdivision"] = {}
            builder, oracle, red, bounds = subdivision_search(net, domain, progress, on_region,
                                                              stats["subdivision"])
        complete = False
    else:
        builder, oracle, red, bounds, complete = milp_search(net, domain, progress, time_limit,
                                                              on_region)
    regions, graph = builder.finish(oracle)
    stats["lps"] = oracle.lp_count
    stats["rejected"] = oracle.rejected
    part = Partition(net, domain, regions, graph, method, complete, bounds, red,
                     time.perf_counter() - t0, stats)
    if prove_coverage and method != "milp":  # SCIP's enumeration is complete by itself
        from ..proofs.coverage import prove_coverage as coverage_proof

        coverage_proof(part, time_limit=time_limit, workers=workers)
    return part


def _enumerate_with_store(net: ReLUNetwork, domain: Domain, method: str, prove_coverage: bool,
                          progress: Progress | None, time_limit: float | None,
                          on_region: OnRegion | None, workers: int | None, scheduler,
                          store: str | Path, resume: bool) -> Partition:
    from .store import RegionStore, write_partition

    if method in ("auto", "graph"):
        rs = stream_regions(net, domain, store, resume, prove_coverage, progress, time_limit,
                            on_region, workers, scheduler)
        return rs.partition(net, domain)
    if resume:
        rs = RegionStore.open(store)
        rs.check_matches(net, domain)
        if not rs.complete or rs.manifest["settings"].get("method") != method:
            raise InputError(f"only the graph search can resume; region store {store} holds "
                             f"an unfinished or other-method run")
        return rs.partition(net, domain)
    if (Path(store) / "manifest.json").exists():  # refuse before the work, not after
        raise InputError(f"{store} already holds a region store; pass resume (--resume) to "
                         "reload it, or remove it")
    part = enumerate_regions(net, domain, method, prove_coverage, progress, time_limit,
                             on_region, workers, scheduler)
    write_partition(store, part)
    return part

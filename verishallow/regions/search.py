"""Enumerate every activation region: adjacency-graph search, or SCIP MILP enumeration.

Graph search starts from the region of an interior point and crosses every neuron facet to the
region beyond it (breadth-first). On a convex domain the regions' adjacency graph is connected,
so closure under facet crossing is coverage; an independent SCIP query (no-good cuts excluding
every region found) double-checks it. The MILP engine instead asks SCIP for every feasible
pattern and then computes each one's geometry with the same oracle, so both engines return
identical ``Partition`` objects that tests compare.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import networkx as nx
import numpy as np

from ..bounds import Bounds
from ..domain import Domain, Reduction
from ..errors import InputError
from ..network import ReLUNetwork, pattern_key
from .geometry import LocalRegion, RegionOracle
from .region import Facet, Partition, Region

Progress = Callable[[int, int], None]
#: Called with each region as soon as its geometry is known (facet neighbours not yet filled).
OnRegion = Callable[[Region], None]

METHODS = ("auto", "graph", "milp", "subdivision")


def _bounds(net: ReLUNetwork, domain: Domain) -> Bounds:
    from .. import bounds as B

    if hasattr(B, "preactivation_bounds"):
        return B.preactivation_bounds(net, domain)
    return B.interval_bounds(net, domain)


def _reduced_domain_rows(red: Reduction) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """The original domain's constraint rows restricted to the free coordinates."""
    G, h, _ = red.original.constraints()
    if len(G) == 0:
        return np.zeros((0, red.free.size)), np.zeros(0), []
    Gr = G[:, red.free]
    hr = h - G @ red.x0
    keep = np.any(Gr != 0, axis=1)
    return Gr[keep], hr[keep], [int(i) for i in np.flatnonzero(keep)]


class _Builder:
    """Turns local (reduced-coordinate) regions into lifted ``Region`` objects and edges."""

    def __init__(self, net: ReLUNetwork, red: Reduction):
        self.net = net
        self.red = red
        self.local: list[LocalRegion] = []
        self.index: dict[bytes, int] = {}

    def add(self, loc: LocalRegion) -> int:
        rid = len(self.local)
        self.local.append(loc)
        self.index[pattern_key(loc.pattern)] = rid
        return rid

    def lift(self, rid: int, neighbours: list[tuple[int, ...]] | None = None) -> Region:
        """Region ``rid`` in full input coordinates (``neighbours``: one tuple per facet)."""
        loc, red = self.local[rid], self.red
        facets = tuple(
            # lifted normals are zero on fixed inputs, so the offset carries over as is
            Facet(f.kind, f.ids, red.lift_rows(f.normal), f.offset, red.lift(f.point),
                  neighbours[k] if neighbours else ())
            for k, f in enumerate(loc.facets)
        )
        _, _, alpha, beta = self.net.local_affine(loc.pattern)
        return Region(rid, loc.pattern, facets, red.lift(loc.center), loc.radius, alpha, beta)

    def finish(self, oracle: RegionOracle) -> tuple[list[Region], nx.Graph]:
        regions: list[Region] = []
        graph = nx.Graph()
        for rid, loc in enumerate(self.local):
            graph.add_node(rid)
            per_facet: list[tuple[int, ...]] = []
            for f in loc.facets:
                found = []
                if f.kind == "neuron":
                    for p in oracle.neighbour_patterns(loc, f):
                        j = self.index.get(pattern_key(p))
                        if j is not None and self._shares(j, f):
                            found.append(j)
                            graph.add_edge(rid, j, neurons=f.ids)
                per_facet.append(tuple(sorted(found)))
            regions.append(self.lift(rid, per_facet))
        return regions, graph

    def _shares(self, j: int, facet) -> bool:
        other = self.local[j]
        return any(g.kind == "neuron" and set(g.ids) & set(facet.ids) for g in other.facets)


def _start_pattern(net: ReLUNetwork, oracle: RegionOracle, red: Reduction
                   ) -> LocalRegion:
    """The region of the domain's Chebyshev centre, or of nearby random points if that
    centre happens to lie on a region boundary."""
    G, h = oracle.G, oracle.h
    from .. import lp

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


def _prepare(net: ReLUNetwork, domain: Domain):
    if domain.dim != net.input_dim:
        raise InputError(f"domain has {domain.dim} coordinates but the model has "
                         f"{net.input_dim} inputs")
    domain.validate_for(net.input_dim)
    red = domain.reduce()
    rnet = net if red.trivial else net.compose_input(red.E, red.x0)
    bounds = _bounds(net, domain)
    G, h, ids = _reduced_domain_rows(red)
    return red, rnet, bounds, RegionOracle(rnet, bounds, G, h, ids)


#: Candidates handed to the mapper at once: bounds the latency of progress reports.
BATCH = 512


def graph_search(net: ReLUNetwork, domain: Domain, progress: Progress | None = None,
                 on_region: OnRegion | None = None, workers: int | None = 1,
                 scheduler=None) -> tuple[_Builder, RegionOracle, Reduction, Bounds]:
    """Breadth-first search over the region adjacency graph, in waves.

    Each wave's unseen neighbour patterns are decided in batches (possibly in parallel) and
    numbered in candidate order: exactly the order a one-at-a-time FIFO search would give.
    """
    from .parallel import make_mapper

    red, rnet, bounds, oracle = _prepare(net, domain)
    builder = _Builder(net, red)
    start = _start_pattern(rnet, oracle, red)
    builder.add(start)
    if on_region is not None:
        on_region(builder.lift(0))
    seen: set[bytes] = {pattern_key(start.pattern)}
    wave = [start]
    mapper = make_mapper(oracle, workers, scheduler)
    try:
        while wave:
            cands = []
            for loc in wave:
                for f in loc.facets:
                    if f.kind != "neuron":
                        continue
                    for p in oracle.neighbour_patterns(loc, f):
                        key = pattern_key(p)
                        if key not in seen:
                            seen.add(key)
                            cands.append(p)
            nxt = []
            for b in range(0, len(cands), BATCH):
                for nb in mapper.map(cands[b:b + BATCH]):
                    if nb is None:
                        continue
                    rid = builder.add(nb)
                    nxt.append(nb)
                    if on_region is not None:
                        on_region(builder.lift(rid))
                if progress is not None:
                    progress(len(builder.local), max(0, len(cands) - b - BATCH) + len(nxt))
            wave = nxt
    finally:
        mapper.close()
    return builder, oracle, red, bounds


def milp_search(net: ReLUNetwork, domain: Domain, progress: Progress | None = None,
                time_limit: float | None = None, on_region: OnRegion | None = None
                ) -> tuple[_Builder, RegionOracle, Reduction, Bounds, bool]:
    from .. import milp

    red, rnet, bounds, oracle = _prepare(net, domain)
    enum = milp.enumerate_patterns(net, domain, time_limit=time_limit)
    builder = _Builder(net, red)
    for p in sorted(enum.patterns, key=pattern_key):
        loc = oracle.region(p)
        if loc is not None:
            rid = builder.add(loc)
            if on_region is not None:
                on_region(builder.lift(rid))
        if progress is not None:
            progress(len(builder.local), 0)
    return builder, oracle, red, bounds, bool(enum.complete)


def _auto_method(domain: Domain, workers: int | None, scheduler) -> str:
    """Subdivision where it applies (1 or 2 free coordinates, serial), else the graph search."""
    if workers not in (None, 1) or scheduler is not None:
        return "graph"
    free = int(np.count_nonzero(domain.lower != domain.upper))
    return "subdivision" if free <= 2 else "graph"


def enumerate_regions(net: ReLUNetwork, domain: Domain | None = None, method: str = "auto",
                      prove_coverage: bool = True, progress: Progress | None = None,
                      time_limit: float | None = None,
                      on_region: OnRegion | None = None, workers: int | None = 1,
                      scheduler=None) -> Partition:
    """Every full-dimensional activation region of ``net`` on ``domain``.

    ``method="auto"`` (default) takes the subdivision engine for inputs with one or two free
    coordinates (serial runs) and the graph search otherwise. ``method="graph"`` walks the region adjacency graph and (if ``prove_coverage``) confirms
    with one SCIP query that no other pattern has an interior point; ``method="milp"`` has SCIP
    enumerate the patterns directly. ``Partition.complete`` is True once SCIP proved coverage.
    ``workers`` processes (None: all cores) or a Dask ``scheduler`` (address or
    ``distributed.Client``) share the graph search's geometry work; the result is identical to
    a serial run.
    """
    from ..domain import Whole

    domain = Whole(net.input_dim) if domain is None else domain
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if method == "auto":
        method = _auto_method(domain, workers, scheduler)
    t0 = time.perf_counter()
    stats: dict = {}
    if method in ("graph", "subdivision"):
        if method == "graph":
            builder, oracle, red, bounds = graph_search(net, domain, progress, on_region,
                                                           workers, scheduler)
        else:  # layer-wise subdivision, 1-D and 2-D inputs (see .subdivision)
            from .subdivision import subdivision_search

            stats["subdivision"] = {}
            builder, oracle, red, bounds = subdivision_search(net, domain, progress, on_region,
                                                              stats["subdivision"])
        complete = False
        if prove_coverage:
            from .. import milp

            cov = milp.find_uncovered(net, domain, [loc.pattern for loc in builder.local],
                                      time_limit=time_limit)
            stats["coverage"] = {"status": cov.status, "seconds": cov.seconds,
                                 "scip_status": cov.scip_status}
            if cov.status == "uncovered":
                raise RuntimeError(
                    f"{method} search missed a region that SCIP found (pattern with witness "
                    f"{np.array2string(cov.witness, precision=17)}); please report this"
                )
            complete = cov.status == "covered"
    else:
        builder, oracle, red, bounds, complete = milp_search(net, domain, progress, time_limit,
                                                              on_region)
    regions, graph = builder.finish(oracle)
    stats["lps"] = oracle.lp_count
    stats["rejected"] = oracle.rejected
    return Partition(net, domain, regions, graph, method, complete, bounds, red,
                     time.perf_counter() - t0, stats)

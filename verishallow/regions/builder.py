"""What every region engine shares: the oracle set-up, the builder that lifts local regions to
``Region`` objects with their neighbours, and the facet-crossing rule (which patterns lie across
a neuron facet). The graph search, the subdivision engine, the region store and the certifier
(its thin regions) build on it.
"""

from __future__ import annotations

from collections.abc import Callable

import networkx as nx
import numpy as np

from ..bounds import Bounds
from ..domain import Domain, Reduction
from ..errors import InputError
from ..network import ReLUNetwork, pattern_key
from .geometry import LocalRegion, RegionOracle
from .region import Facet, Region, facet_block
from .tolerances import REGION_RADIUS_TOL

#: Called as ``progress(found, queued)``: regions found so far, and candidate patterns plus
#: found-but-unexpanded regions waiting. A callback object with a ``detail`` method also gets a
#: :class:`SearchStatus` (rate, estimated remaining work) just before each call.
Progress = Callable[[int, int], None]
#: Called with each region as soon as its geometry is known (facet neighbours not yet filled).
OnRegion = Callable[[Region], None]

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


def lift_region(net: ReLUNetwork, red: Reduction, rid: int, loc: LocalRegion,
          neighbours: list[tuple[int, ...]] | None = None) -> Region:
    fs = loc.facets
    offsets = np.array([f.offset for f in fs])
    if not fs:
        block = np.zeros((0, 2 * red.original.dim + 1))
    else:  # lifted once per region, all facets in one product
        block = facet_block(red.lift_rows(np.array([f.normal for f in fs])),
                            red.lift(np.array([f.point for f in fs])), offsets)
    facets = tuple(
        # lifted normals are zero on fixed inputs, so the offset carries over as is; one
        # [normal, point, offset] block per region, shared by its facets
        Facet.from_block(f.kind, f.ids, block, k, neighbours[k] if neighbours else ())
        for k, f in enumerate(fs)
    )
    if red.trivial and loc.alpha is not None:  # the oracle's network is ``net`` itself
        alpha, beta = loc.alpha, loc.beta
    else:
        _, _, alpha, beta = net.local_affine(loc.pattern)
    return Region(rid, loc.pattern, facets, red.lift(loc.center), loc.radius, alpha, beta)


def thin_regions(net: ReLUNetwork, domain: Domain, patterns: list[np.ndarray],
                 first_id: int) -> list[Region]:
    """Regions of ``patterns`` whose inscribed ball is positive but not above
    ``REGION_RADIUS_TOL`` (ids from ``first_id``); patterns with no interior are left out.

    The engines do not report such slivers (a region must contain a ball wider than the
    tolerance), yet they are full-dimensional: a proof that the regions *cover* the domain
    needs them. The certifier asks for the ones it finds beyond a facet.
    """
    red, _, _, oracle = prepare(net, domain)
    out: list[Region] = []
    for p in patterns:
        loc = oracle.region(np.asarray(p, dtype=bool), radius_tol=0.0)
        # wider ones are regions the engine should have found: not this function's business
        if loc is not None and loc.radius <= REGION_RADIUS_TOL:
            out.append(lift_region(net, red, first_id + len(out), loc))
    return out


def flipped_key(key: bytes, ids: tuple[int, ...]) -> bytes:
    """``pattern_key`` of the pattern whose key is ``key`` with the bits ``ids`` flipped
    (``np.packbits`` order: bit i is the ``0x80 >> i % 8`` bit of byte ``i // 8``)."""
    b = bytearray(key)
    for i in ids:
        b[i >> 3] ^= 0x80 >> (i & 7)
    return bytes(b)


def across_keys(oracle: RegionOracle, loc: LocalRegion, key: bytes, facet, zero: bool
            ) -> tuple[list[bytes], Callable[[int], np.ndarray]]:
    """Keys of the candidate patterns across neuron facet ``facet`` of ``loc`` (whose pattern
    key is ``key``; ``zero``: ``loc.zero_neurons.any()``), in ``oracle.neighbour_patterns``
    order, and a function giving the k-th pattern. Without zero neurons there is one
    candidate, and its key is a byte flip away: the pattern array is only built if the
    caller asks (for a pattern never seen before)."""
    if not zero:
        return [flipped_key(key, facet.ids)], lambda k: oracle.neighbour_patterns(loc, facet)[k]
    patterns = oracle.neighbour_patterns(loc, facet)
    return [pattern_key(p) for p in patterns], patterns.__getitem__


def add_edge_label(graph: nx.Graph, a: int, b: int, ids: tuple[int, ...]) -> None:
    """Add edge ``a - b`` crossed at neurons ``ids``; the label ``neurons`` is the sorted
    union of the ids each side reports (they differ when a later neuron duplicates the
    hyperplane on one side only), whatever the order the sides are added in."""
    data = graph.get_edge_data(a, b)
    if data is None:
        graph.add_edge(a, b, neurons=tuple(sorted(ids)))
    elif data["neurons"] != ids:
        data["neurons"] = tuple(sorted(set(data["neurons"]).union(ids)))


class RegionBuilder:
    """Turns local (reduced-coordinate) regions into lifted ``Region`` objects and edges."""

    def __init__(self, net: ReLUNetwork, red: Reduction):
        self.net = net
        self.red = red
        self.local: list[LocalRegion] = []
        self.index: dict[bytes, int] = {}
        self.keys: list[bytes] = []  # per region id: its pattern key
        #: per region id: the neuron ids on its neuron facets (for the neighbour test)
        self.on_facets: list[frozenset[int]] = []
        #: per region id, per facet: keys of the candidate patterns across it, when the search
        #: computed them already (saves recomputing them in ``finish``)
        self.across: dict[int, list[list[bytes]]] = {}
        self._regions: list[Region] = []  # finalised so far (ids 0..len-1)
        self._graph = nx.Graph()

    def add(self, loc: LocalRegion) -> int:
        rid = len(self.local)
        key = pattern_key(loc.pattern)
        self.local.append(loc)
        self.keys.append(key)
        self.index[key] = rid
        self.on_facets.append(frozenset(i for f in loc.facets if f.kind == "neuron"
                                        for i in f.ids))
        return rid

    def lift(self, rid: int, neighbours: list[tuple[int, ...]] | None = None) -> Region:
        """Region ``rid`` in full input coordinates (``neighbours``: one tuple per facet)."""
        return lift_region(self.net, self.red, rid, self.local[rid], neighbours)

    def finalise(self, oracle: RegionOracle, upto: int) -> None:
        """Lift regions ``< upto`` with their neighbours and add their graph edges, in id
        order. Only for regions whose neighbours are all decided: the graph search calls it
        for a finished wave while the workers compute the next one."""
        for rid in range(len(self._regions), upto):
            self._regions.append(self._finalise_one(oracle, rid, self._graph))

    @property
    def finalised(self) -> int:
        return len(self._regions)

    def finish(self, oracle: RegionOracle) -> tuple[list[Region], nx.Graph]:
        self.finalise(oracle, len(self.local))
        return self._regions, self._graph

    def _finalise_one(self, oracle: RegionOracle, rid: int, graph: nx.Graph) -> Region:
        loc = self.local[rid]
        graph.add_node(rid)
        per_facet: list[tuple[int, ...]] = []
        across = self.across.pop(rid, None)  # not needed any more once finalised
        index, on_facets = self.index, self.on_facets
        for k, f in enumerate(loc.facets):
            if f.kind != "neuron":
                per_facet.append(())
                continue
            keys = across[k] if across is not None else \
                across_keys(oracle, loc, self.keys[rid], f, bool(loc.zero_neurons.any()))[0]
            found = []
            for key in keys:
                j = index.get(key)
                # j's own neuron facets must share a neuron with this one
                if j is not None and not on_facets[j].isdisjoint(f.ids):
                    found.append(j)
                    add_edge_label(graph, rid, j, f.ids)
            per_facet.append(tuple(sorted(found)))
        return self.lift(rid, per_facet)


def prepare(net: ReLUNetwork, domain: Domain
            ) -> tuple[Reduction, ReLUNetwork, Bounds, RegionOracle]:
    """The domain reduced to its free coordinates, the network on them, the pre-activation
    bounds and the region oracle: what every engine starts from."""
    if domain.dim != net.input_dim:
        raise InputError(f"domain has {domain.dim} coordinates but the model has "
                         f"{net.input_dim} inputs")
    domain.validate_for(net.input_dim)
    red = domain.reduce()
    rnet = net if red.trivial else net.compose_input(red.E, red.x0)
    bounds = _bounds(net, domain)
    G, h, ids = _reduced_domain_rows(red)
    return red, rnet, bounds, RegionOracle(rnet, bounds, G, h, ids)

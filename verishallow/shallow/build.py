"""Building the shallow network incrementally, one region at a time.

``ShallowBuilder.add_region`` has the signature of ``enumerate_regions``' ``on_region`` hook, so
the shallow network grows while the region graph is explored; :meth:`ShallowBuilder.network`
returns, at any moment, a network that is exact on every region added so far (points of
regions not yet added are reported as uncovered, never given a wrong value).
"""

from __future__ import annotations

import numpy as np

from ..domain import Domain, Whole
from ..errors import InputError
from ..network import ReLUNetwork, pattern_key
from ..regions import Partition, Region, enumerate_regions
from .model import ShallowNetwork


def canonical_row(normal: np.ndarray, offset: float) -> tuple[np.ndarray, float]:
    """The facet ``normal . x <= offset`` as a layer-1 row ``(H_k, c_k)`` and its sigma.

    ``h_k(x) = s (normal . x - offset)`` with ``s = +-1`` making the first non-zero entry of
    ``H_k`` positive (negation is exact in floats, so the two sides of one hyperplane give
    bit-identical rows); the facet then reads ``s h_k(x) <= 0``, i.e. ``sigma = s``.
    """
    normal = np.asarray(normal, dtype=np.float64).reshape(-1)
    nz = np.flatnonzero(normal)
    if nz.size == 0:
        raise InputError("a neuron facet has a zero normal")
    s = 1.0 if normal[nz[0]] > 0 else -1.0
    row = s * np.append(normal, -float(offset)) + 0.0  # + 0.0 maps -0.0 to 0.0
    return row, s


class ShallowBuilder:
    """Accumulates regions into the layers of a :class:`ShallowNetwork`.

    Layer-1 rows are shared exactly: two facets give the same hyperplane iff their rows are
    bit-identical after sign normalisation (see :func:`canonical_row`).
    """

    def __init__(self, net: ReLUNetwork, domain: Domain | None = None):
        self.net = net
        self.domain = Whole(net.input_dim) if domain is None else domain
        if self.domain.dim != net.input_dim:
            raise InputError(f"domain has {self.domain.dim} coordinates but the network has "
                             f"{net.input_dim} inputs")
        self._row_index: dict[bytes, int] = {}
        self._rows: list[np.ndarray] = []
        self._neurons: list[set[int]] = []
        self._sel_k: list[int] = []
        self._sel_sigma: list[float] = []
        self._ptr: list[int] = [0]
        self._alpha: list[np.ndarray] = []
        self._beta: list[np.ndarray] = []
        self._patterns: list[np.ndarray] = []
        self._keys: set[bytes] = set()

    def __len__(self) -> int:
        return len(self._alpha)

    def add_region(self, region: Region) -> None:
        """Add one region (its neuron facets, pattern and affine model); ids are given in
        order of addition, which is the region engine's id order."""
        key = pattern_key(region.pattern)
        if key in self._keys:
            raise InputError(f"region {region.id} was added twice")
        if region.id != len(self):
            raise InputError(f"regions must be added in id order: got region {region.id}, "
                             f"expected {len(self)}")
        entries: dict[int, float] = {}
        for f in region.facets:
            if f.kind != "neuron":
                continue
            row, s = canonical_row(f.normal, f.offset)
            rkey = row.tobytes()
            k = self._row_index.get(rkey)
            if k is None:
                k = len(self._rows)
                self._row_index[rkey] = k
                self._rows.append(row)
                self._neurons.append(set())
            self._neurons[k].update(int(i) for i in f.ids)
            if entries.get(k, s) != s:
                raise InputError(f"region {region.id} has both sides of hyperplane {k} as "
                                 "facets")
            entries[k] = s
        for k in sorted(entries):
            self._sel_k.append(k)
            self._sel_sigma.append(entries[k])
        self._ptr.append(len(self._sel_k))
        self._alpha.append(np.asarray(region.alpha, dtype=np.float64))
        self._beta.append(np.asarray(region.beta, dtype=np.float64).reshape(-1))
        self._patterns.append(np.asarray(region.pattern, dtype=bool))
        self._keys.add(key)

    __call__ = add_region

    def network(self, complete: bool = False, edges=None, meta: dict | None = None
                ) -> ShallowNetwork:
        """Snapshot of the network so far (exact on every region added)."""
        d, m = self.net.input_dim, self.net.output_dim
        rows = np.array(self._rows).reshape(len(self._rows), d + 1)
        R = len(self)
        return ShallowNetwork(
            domain=self.domain,
            H=rows[:, :d], c=rows[:, d],
            hyperplane_neurons=[sorted(s) for s in self._neurons],
            selector_ptr=np.array(self._ptr, dtype=np.int64),
            selector_index=np.array(self._sel_k, dtype=np.int64),
            selector_sigma=np.array(self._sel_sigma, dtype=np.float64),
            selector_weight=np.full(len(self._sel_k), np.inf),
            alpha=np.array(self._alpha).reshape(R, m, d),
            beta=np.array(self._beta).reshape(R, m),
            patterns=np.array(self._patterns).reshape(R, self.net.n_hidden),
            source=self.net, complete=complete, edges=edges, meta=meta,
        )

    def build(self, partition: Partition | None = None) -> ShallowNetwork:
        """The final network; with the partition, also its completeness and adjacency."""
        if partition is None:
            return self.network()
        if len(partition) != len(self):
            raise RuntimeError(f"the builder saw {len(self)} regions but the partition has "
                               f"{len(partition)}")
        edges = np.array(sorted((min(a, b), max(a, b)) for a, b in partition.graph.edges()),
                         dtype=np.int64).reshape(-1, 2)
        meta = {"method": partition.method, "seconds": partition.seconds,
                "fingerprint": self.net.fingerprint}
        return self.network(complete=partition.complete, edges=edges, meta=meta)


def to_shallow(net: ReLUNetwork, domain: Domain | None = None, **kw) -> ShallowNetwork:
    """Enumerate the regions of ``net`` on ``domain`` and build its shallow network.

    Keyword arguments go to :func:`~verishallow.regions.enumerate_regions` (``method``,
    ``prove_coverage``, ``progress``, ``time_limit``).
    """
    builder = ShallowBuilder(net, domain)
    user_hook = kw.pop("on_region", None)

    def hook(region: Region) -> None:
        builder.add_region(region)
        if user_hook is not None:
            user_hook(region)

    partition = enumerate_regions(net, builder.domain, on_region=hook, **kw)
    return builder.build(partition)


def shallow_from_partition(partition: Partition) -> ShallowNetwork:
    """The shallow network of a finished :class:`~verishallow.regions.Partition`."""
    b = ShallowBuilder(partition.net, partition.domain)
    for region in partition.regions:
        b.add_region(region)
    return b.build(partition)

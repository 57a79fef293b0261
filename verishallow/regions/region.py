"""Region, Facet and Partition: the result of enumerating activation regions.

All geometry is in the model's full input coordinates; fixed inputs (``lower == upper``) show up
as zero columns of every facet normal and are pinned in every witness point.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import networkx as nx
import numpy as np

from ..bounds import Bounds
from ..domain import Domain, Reduction
from ..network import ReLUNetwork, pattern_key


class Facet:
    """One (d-1)-dimensional face of a region: ``normal . x <= offset`` holds with equality on it.

    ``kind`` is ``"neuron"`` (``ids`` are flat neuron indices whose hyperplane this is; more than
    one when neurons coincide) or ``"domain"`` (``ids`` index rows of ``domain.constraints()``).
    ``point`` lies in the facet's relative interior; ``neighbours`` are the regions across it.

    A slotted class rather than a dataclass, and ``normal``, ``point`` and ``offset`` are read
    from one row ``[normal, point, offset]`` of a block that engines share between all facets
    of a region or partition (:meth:`from_block`): a partition holds about ten facets per
    region, and this keeps each one near 80 bytes and its construction near a microsecond (the
    region budget is 5 KiB). Treat facets as immutable.
    """

    __slots__ = ("kind", "ids", "neighbours", "_block", "_row")

    def __init__(self, kind: str, ids: tuple[int, ...], normal: np.ndarray, offset: float,
                 point: np.ndarray, neighbours: tuple[int, ...] = ()):
        self.kind = kind
        self.ids = ids
        self.neighbours = neighbours
        self._block = np.concatenate([np.asarray(normal, dtype=np.float64).ravel(),
                                      np.asarray(point, dtype=np.float64).ravel(),
                                      [float(offset)]])[None]
        self._row = 0

    @classmethod
    def from_block(cls, kind: str, ids: tuple[int, ...], block: np.ndarray, row: int,
                   neighbours: tuple[int, ...] = ()) -> Facet:
        """A facet whose normal, point and offset are ``block[row, :d]``, ``block[row, d:2d]``
        and ``block[row, 2d]`` (see :func:`facet_block`)."""
        f = cls.__new__(cls)
        f.kind, f.ids, f.neighbours, f._block, f._row = kind, ids, neighbours, block, row
        return f

    @property
    def normal(self) -> np.ndarray:
        return self._block[self._row, :self._block.shape[1] // 2]

    @property
    def point(self) -> np.ndarray:
        d = self._block.shape[1] // 2
        return self._block[self._row, d:2 * d]

    @property
    def offset(self) -> float:
        return float(self._block[self._row, -1])

    def __repr__(self) -> str:
        return (f"Facet(kind={self.kind!r}, ids={self.ids!r}, normal={self.normal!r}, "
                f"offset={self.offset!r}, point={self.point!r}, neighbours={self.neighbours!r})")

    def __reduce__(self):
        return (Facet, (self.kind, self.ids, self.normal.copy(), self.offset,
                        self.point.copy(), self.neighbours))


def facet_block(normals: np.ndarray, points: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The ``[normal, point, offset]`` rows that :meth:`Facet.from_block` reads."""
    n = len(offsets)
    return np.hstack([np.asarray(normals, dtype=np.float64).reshape(n, -1),
                      np.asarray(points, dtype=np.float64).reshape(n, -1),
                      np.asarray(offsets, dtype=np.float64).reshape(n, 1)])


@dataclass(frozen=True, slots=True)
class Region:
    """A full-dimensional activation region and the network's affine model on it."""

    id: int
    pattern: np.ndarray
    facets: tuple[Facet, ...]
    center: np.ndarray
    radius: float
    alpha: np.ndarray
    beta: np.ndarray

    @property
    def key(self) -> bytes:
        return pattern_key(self.pattern)

    @property
    def n_facets(self) -> int:
        return len(self.facets)

    @property
    def H(self) -> np.ndarray:
        """Facet normals (unit rows): the region is ``{x : H x <= c}`` within the domain."""
        return np.array([f.normal for f in self.facets]).reshape(len(self.facets), -1)

    @property
    def c(self) -> np.ndarray:
        return np.array([f.offset for f in self.facets], dtype=np.float64)

    def neighbour_ids(self) -> set[int]:
        return {n for f in self.facets for n in f.neighbours}

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        """The region's affine model ``alpha x + beta`` (valid on the region's closure)."""
        return np.atleast_2d(X) @ self.alpha.T + self.beta


@dataclass
class Partition:
    """Every activation region of ``net`` on ``domain``, with the region adjacency graph."""

    net: ReLUNetwork
    domain: Domain
    regions: list[Region]
    graph: nx.Graph
    method: str
    complete: bool
    bounds: Bounds
    reduction: Reduction
    seconds: float = 0.0
    stats: dict = field(default_factory=dict)
    _index: dict[bytes, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._index = {r.key: r.id for r in self.regions}

    def __len__(self) -> int:
        return len(self.regions)

    def __iter__(self) -> Iterator[Region]:
        return iter(self.regions)

    def __getitem__(self, i: int) -> Region:
        return self.regions[i]

    def find(self, pattern: np.ndarray) -> int | None:
        """Region id of an activation pattern, or ``None`` if it is not a region."""
        return self._index.get(pattern_key(pattern))

    def patterns(self) -> set[bytes]:
        return set(self._index)

    def locate(self, X: np.ndarray) -> np.ndarray:
        """Region id of each point by pattern lookup; -1 where the point's pattern is not a
        region (it lies on a boundary, where ReLU(0) = 0 can produce a measure-zero pattern)."""
        P = self.net.pattern(np.atleast_2d(X))
        return np.array([self._index.get(pattern_key(p), -1) for p in P], dtype=np.int64)

    @property
    def stable_neurons(self) -> int:
        return int((~self.bounds.unstable).sum())

    @property
    def unstable_neurons(self) -> int:
        return int(self.bounds.unstable.sum())

    @property
    def mean_facets(self) -> float:
        return float(np.mean([r.n_facets for r in self.regions])) if self.regions else 0.0

    def facet_histogram(self) -> dict[int, int]:
        """Facet count -> number of regions with that many facets."""
        return dict(sorted(Counter(r.n_facets for r in self.regions).items()))

    def summary(self) -> dict:
        """The ``regions --json`` report."""
        return {
            "regions": len(self),
            "mean_facets": self.mean_facets,
            "facet_histogram": {str(k): v for k, v in self.facet_histogram().items()},
            "stable_neurons": self.stable_neurons,
            "unstable_neurons": self.unstable_neurons,
            "method": self.method,
            # the whole run: the enumeration (``Partition.seconds``) and its coverage proof
            "seconds": self.seconds + float((self.stats.get("coverage") or {}).get("seconds", 0)),
            "complete": self.complete,
            # the coverage proof's record (proofs.coverage: certificate, SCIP, budget, reason);
            # None if not run
            "coverage": self.stats.get("coverage"),
        }

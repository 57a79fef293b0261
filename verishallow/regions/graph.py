"""The region adjacency graph, built when it is first looked at.

An engine knows every edge of the graph (neighbouring regions and the neurons of their shared
facet) when it finishes, but many runs never look at the graph (a coverage proof, a shallow
network's evaluation, a region count): building a networkx graph of tens of thousands of edges
costs about a fifth of the skeleton engine's time in 3-D and more memory per region than the
facets. :class:`RegionGraph` is an ordinary ``networkx.Graph`` whose nodes and edges are added
on the first access to any of its data; until then it holds two compact arrays.
"""

from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np


class RegionGraph(nx.Graph):
    """A ``networkx.Graph`` of regions ``0..n-1`` with edge attribute ``neurons`` (the shared
    facet's neurons), materialised on first use (:meth:`deferred`). Constructed the usual way
    (``RegionGraph()``, as networkx does for copies) it is a plain graph."""

    @classmethod
    def deferred(cls, n: int, edges: dict[tuple[int, int], tuple[int, ...]]) -> RegionGraph:
        """The graph on nodes ``0..n-1`` with ``edges[(a, b)]`` as each edge's ``neurons``,
        built when first looked at."""
        g = cls.__new__(cls)
        pairs = np.array(list(edges), dtype=np.int64).reshape(len(edges), 2)
        g.__dict__["_pending"] = (int(n), pairs, list(edges.values()))
        return g

    def _load(self) -> None:
        pending = self.__dict__.pop("_pending", None)
        if pending is None:
            return
        n, pairs, labels = pending
        nx.Graph.__init__(self)
        self.add_nodes_from(range(n))
        self.add_edges_from((a, b, {"neurons": ids})
                            for (a, b), ids in zip(pairs.tolist(), labels, strict=True))

    # networkx keeps its data in ``_node`` and ``_adj`` (data descriptors that reset cached
    # views when set); reading either, or any other missing attribute, builds the graph first
    @property
    def _adj(self) -> dict:
        if "_pending" in self.__dict__:
            self._load()
        return self.__dict__["_adj"]

    @_adj.setter
    def _adj(self, value: dict) -> None:
        od = self.__dict__
        od["_adj"] = value
        for prop in ("adj", "edges", "degree"):
            od.pop(prop, None)

    @property
    def _node(self) -> dict:
        if "_pending" in self.__dict__:
            self._load()
        return self.__dict__["_node"]

    @_node.setter
    def _node(self, value: dict) -> None:
        od = self.__dict__
        od["_node"] = value
        od.pop("nodes", None)

    def __getattr__(self, name: str) -> Any:
        # only for attributes not found the normal way (``graph``, networkx's cache, ...)
        if "_pending" in self.__dict__:
            self._load()
            return getattr(self, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

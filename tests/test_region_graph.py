"""RegionGraph: a networkx graph built on first use is the same graph as the eager one."""

from __future__ import annotations

import copy
import pickle

import networkx as nx

from verishallow.domain import Whole
from verishallow.regions import enumerate_regions
from verishallow.regions.graph import RegionGraph
from verishallow.studies.common import he_network

EDGES = {(0, 1): (3,), (1, 2): (4, 5), (0, 3): (7,)}


def _eager() -> nx.Graph:
    g = nx.Graph()
    g.add_nodes_from(range(5))
    g.add_edges_from((a, b, {"neurons": ids}) for (a, b), ids in EDGES.items())
    return g


def _same(g: nx.Graph, h: nx.Graph) -> None:
    assert list(g.nodes) == list(h.nodes)
    assert list(g.edges(data=True)) == list(h.edges(data=True))
    assert {n: dict(g.adj[n]) for n in g} == {n: dict(h.adj[n]) for n in h}


def test_deferred_graph_equals_the_eager_one_through_every_entry_point():
    for probe in (len, lambda g: g.number_of_edges(), lambda g: list(g.edges),
                  lambda g: g[1], lambda g: 4 in g, lambda g: g.graph,
                  lambda g: list(nx.connected_components(g)), lambda g: g.degree[0]):
        g = RegionGraph.deferred(5, EDGES)
        assert "_pending" in g.__dict__
        assert probe(g) == probe(_eager())
        assert "_pending" not in g.__dict__
        _same(g, _eager())


def test_pickle_and_copy_keep_the_graph():
    g = RegionGraph.deferred(5, EDGES)
    h = pickle.loads(pickle.dumps(g))
    _same(h, _eager())
    _same(copy.deepcopy(RegionGraph.deferred(5, EDGES)), _eager())
    _same(RegionGraph.deferred(5, EDGES).copy(), _eager())
    plain = RegionGraph()  # what networkx makes for copies and views: an ordinary graph
    plain.add_edge(0, 1)
    assert list(plain.edges) == [(0, 1)]


def test_engines_graphs_agree_with_facet_neighbours():
    """The skeleton and subdivision engines' deferred graphs have exactly the edges their
    facets' neighbour lists name, as the graph engine's eager graph does."""
    net = he_network(2, [6, 6], 1, seed=3)
    parts = {m: enumerate_regions(net, Whole(2), method=m, prove_coverage=False)
             for m in ("graph", "subdivision", "skeleton")}
    ref = parts["graph"].graph
    for m, p in parts.items():
        assert isinstance(p.graph, nx.Graph)
        got = {frozenset(e) for e in p.graph.edges}
        want = {frozenset((r.id, j)) for r in p.regions for f in r.facets for j in f.neighbours}
        assert got == want, m
        assert p.graph.number_of_nodes() == len(p)
        key = [r.key for r in p.regions]
        rkey = [r.key for r in parts["graph"].regions]
        assert {(frozenset((key[a], key[b])), d["neurons"])
                for a, b, d in p.graph.edges(data=True)} == \
            {(frozenset((rkey[a], rkey[b])), d["neurons"])
             for a, b, d in ref.edges(data=True)}, m

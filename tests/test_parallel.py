"""Parallel and distributed region search returns exactly the serial result."""

from __future__ import annotations

import numpy as np
import pytest

from verishallow.domain import Box
from verishallow.network import ReLUNetwork
from verishallow.regions import enumerate_regions


def _net(seed=0):
    rng = np.random.default_rng(seed)
    return ReLUNetwork([rng.normal(size=(8, 3)), rng.normal(size=(8, 8)), rng.normal(size=(1, 8))],
                       [rng.normal(size=8), rng.normal(size=8), rng.normal(size=1)])


def assert_identical(a, b):
    assert len(a) == len(b)
    for ra, rb in zip(a, b, strict=True):
        assert ra.key == rb.key
        np.testing.assert_array_equal(ra.center, rb.center)
        assert [f.ids for f in ra.facets] == [f.ids for f in rb.facets]
        assert [f.neighbours for f in ra.facets] == [f.neighbours for f in rb.facets]
    assert set(a.graph.edges) == set(b.graph.edges)
    for e in a.graph.edges:
        assert a.graph.edges[e] == b.graph.edges[e]
    assert a.stats["lps"] == b.stats["lps"]


def test_process_pool_matches_serial():
    net, dom = _net(), Box([-2, -2, -2], [2, 2, 2])
    serial = enumerate_regions(net, dom, "graph", prove_coverage=False, workers=1)
    parallel = enumerate_regions(net, dom, "graph", prove_coverage=False, workers=2)
    assert len(serial) > 50
    assert_identical(serial, parallel)


def test_dask_local_cluster_matches_serial():
    distributed = pytest.importorskip("distributed")
    net, dom = _net(1), Box([-2, -2, -2], [2, 2, 2])
    serial = enumerate_regions(net, dom, "graph", prove_coverage=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        remote = enumerate_regions(net, dom, "graph", prove_coverage=False, scheduler=client)
        by_address = enumerate_regions(net, dom, "graph", prove_coverage=False,
                                       scheduler=cluster.scheduler_address)
    assert_identical(serial, remote)
    assert_identical(serial, by_address)


def test_auto_engine_does_not_depend_on_the_worker_count():
    """``auto`` picks the engine from the dimension alone (workers speed up, never change it):
    the same partition, in the same order, with one worker or two."""
    net, dom = _net(), Box([-2, -2, -2], [2, 2, 2])
    one = enumerate_regions(net, dom, prove_coverage=False, workers=1)
    two = enumerate_regions(net, dom, prove_coverage=False, workers=2)
    assert one.method == two.method
    assert_identical(one, two)


def test_bad_worker_count():
    from verishallow.errors import InputError

    with pytest.raises(InputError, match="workers"):
        enumerate_regions(_net(), Box([-1] * 3, [1] * 3), prove_coverage=False, workers=0)


# ----- the flat batch encoding workers send back -------------------------------------------

def _assert_same_local(a, b):
    """Bit-identical LocalRegion objects (or both None)."""
    from verishallow.regions.geometry import LocalFacet, LocalRegion

    if a is None or b is None:
        assert a is None and b is None
        return
    assert type(b) is LocalRegion
    for name in ("pattern", "center", "zero_neurons"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.shape == y.shape
        assert x.tobytes() == y.tobytes()  # bit for bit: -0.0 stays -0.0
    assert a.radius == b.radius and type(a.radius) is type(b.radius)
    for name in ("alpha", "beta"):
        x, y = getattr(a, name), getattr(b, name)
        if x is None:
            assert y is None
        else:
            assert x.shape == y.shape and x.tobytes() == y.tobytes()
    assert len(a.facets) == len(b.facets)
    for f, g in zip(a.facets, b.facets, strict=True):
        assert type(g) is LocalFacet
        assert (f.kind, f.ids, f.offset, f.radius) == (g.kind, g.ids, g.offset, g.radius)
        assert all(type(i) is int for i in g.ids)
        assert type(g.offset) is float and type(g.radius) is float
        assert f.normal.tobytes() == g.normal.tobytes()
        assert f.point.tobytes() == g.point.tobytes()


def _round_trip(results, patterns):
    import pickle

    from verishallow.regions.parallel import decode_regions, encode_regions

    batch = pickle.loads(pickle.dumps(encode_regions(results)))  # as a worker sends it
    out = decode_regions(batch, patterns)
    assert len(out) == len(results)
    for a, b in zip(results, out, strict=True):
        _assert_same_local(a, b)
    return out


def test_region_batch_round_trip_of_oracle_answers():
    from verishallow.regions.builder import prepare as _prepare

    net, dom = _net(), Box([-2, -2, -2], [2, 2, 2])
    part = enumerate_regions(net, dom, prove_coverage=False)
    _, _, _, oracle = _prepare(net, dom)
    rng = np.random.default_rng(3)
    patterns = [r.pattern for r in part][:20]
    # non-regions among them: random patterns (mostly infeasible) and a stable-bit violation
    patterns[3:3] = [rng.random(net.n_hidden) < 0.5 for _ in range(5)]
    results = [oracle.region(p) for p in patterns]
    assert any(r is None for r in results) and sum(r is not None for r in results) >= 15
    assert any(not any(f.kind == "domain" for f in r.facets) for r in results if r)
    _round_trip(results, patterns)
    _round_trip([None, None], patterns[:2])  # a batch without regions
    _round_trip([], [])


def test_region_batch_round_trip_of_unusual_regions():
    from verishallow.regions.geometry import LocalFacet, LocalRegion

    n, d = 11, 3  # not a multiple of 8: packed bits have padding
    rng = np.random.default_rng(0)

    def facet(kind, ids):
        normal = rng.normal(size=d)
        normal[0] = -0.0
        return LocalFacet(kind, ids, normal, float(rng.normal()), rng.normal(size=d),
                          float(rng.random()))

    zero = np.zeros(n, dtype=bool)
    zero[[2, 10]] = True
    pats = [rng.random(n) < 0.5 for _ in range(6)]
    results = [
        LocalRegion(pats[0], rng.normal(size=d), 0.5, (), np.zeros(n, bool)),  # no facets,
        None,  # no alpha/beta
        LocalRegion(pats[2], np.array([-0.0, 1.0, 2.0]), 1.0,
                    (facet("neuron", (1, 4, 7)), facet("neuron", (10,))), zero,
                    rng.normal(size=(2, d)), rng.normal(size=2)),  # neuron facets only
        LocalRegion(pats[3], rng.normal(size=d), 0.25,
                    (facet("domain", (0,)), facet("domain", (5,))), np.zeros(n, bool),
                    None, None),  # domain facets only
        LocalRegion(pats[4], rng.normal(size=d), 2.0,
                    (facet("domain", (3,)), facet("neuron", (0, 2)), facet("domain", (1,))),
                    zero[::-1].copy(), rng.normal(size=(2, d)), rng.normal(size=2)),
        None,
    ]
    out = _round_trip(results, pats)
    assert out[0].alpha is None and out[2].alpha is not None
    assert out[2].zero_neurons.tolist() == zero.tolist()


def test_region_batch_rejects_mismatched_patterns():
    from verishallow.regions.parallel import decode_regions, encode_regions

    with pytest.raises(ValueError, match="inconsistent"):
        decode_regions(encode_regions([None, None]), [np.zeros(3, bool)])


def test_flipped_key_matches_pattern_key():
    from verishallow.network import pattern_key
    from verishallow.regions.builder import flipped_key as _flipped_key

    rng = np.random.default_rng(1)
    for n in (1, 7, 8, 9, 300):
        p = rng.random(n) < 0.5
        ids = tuple(sorted(rng.choice(n, size=min(n, 3), replace=False).tolist()))
        q = p.copy()
        q[list(ids)] = ~q[list(ids)]
        assert _flipped_key(pattern_key(p), ids) == pattern_key(q)


# ----- edge labels where a later neuron duplicates a hyperplane on one side only ------------

def _duplicate_hyperplane_net():
    # layer 1: x0, x1 and a copy of x1 (neurons 1 and 2 share a hyperplane everywhere);
    # layer 2: neuron 3 = relu(x0) has x0's hyperplane where x0 > 0 and is identically zero
    # where x0 < 0, so the facet x0 = 0 is labelled (0, 3) on one side and (0,) on the other
    W1 = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    W2 = np.array([[1.0, 0.0, 0.0]])
    return ReLUNetwork([W1, W2, np.ones((1, 1))], [np.zeros(3), np.zeros(1), np.zeros(1)])


def assert_same_graph(a, b):
    assert list(a.graph.nodes) == list(b.graph.nodes)
    assert sorted(a.graph.edges(data=True)) == sorted(b.graph.edges(data=True))


def test_edge_labels_are_the_union_of_both_sides(monkeypatch, tmp_path):
    from verishallow.regions.parallel import ProcessMapper

    # the search starts at the domain's centre (1, 1), on the (0, 3) side: that side is
    # finalised first, so a label taken from the side seen last would be (0,)
    net, dom = _duplicate_hyperplane_net(), Box([-1, -1], [3, 3])
    serial = enumerate_regions(net, dom, method="graph", prove_coverage=False)
    assert len(serial) == 4
    assert serial[0].pattern.all()
    labels = set()
    for a, b, data in serial.graph.edges(data=True):
        flipped = tuple(int(i) for i in np.flatnonzero(serial[a].pattern != serial[b].pattern))
        assert data["neurons"] == flipped  # sorted, and both sides' ids
        labels.add(flipped)
    assert labels == {(0, 3), (1, 2)}
    # one side of the x0 = 0 facet does list fewer ids: the label does not depend on it
    assert {f.ids for r in serial for f in r.facets if f.kind == "neuron"} == \
        {(0,), (0, 3), (1, 2)}
    monkeypatch.setattr(ProcessMapper, "MIN_PARALLEL", 1)  # use the pool on tiny waves
    parallel = enumerate_regions(net, dom, method="graph", prove_coverage=False, workers=2)
    assert_identical(serial, parallel)
    assert_same_graph(serial, parallel)
    # a region store rebuilds the graph from both sides' facet neighbours: the same labels
    stored = enumerate_regions(net, dom, method="graph", prove_coverage=False,
                               store=tmp_path / "store")
    assert_same_graph(serial, stored)


def test_edge_label_does_not_depend_on_the_order_sides_are_added():
    import networkx as nx

    from verishallow.regions.builder import add_edge_label

    graphs = []
    for sides in (((0, 1, (0, 3)), (1, 0, (0,))), ((1, 0, (0,)), (0, 1, (0, 3))),
                  ((1, 0, (3, 0)),)):
        g = nx.Graph()
        for a, b, ids in sides:
            add_edge_label(g, a, b, ids)
        graphs.append(g.edges[0, 1]["neurons"])
    assert graphs == [(0, 3), (0, 3), (0, 3)]

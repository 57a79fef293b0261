"""The skeleton (edge subdivision) engine against the graph engine, brute force and closed forms,
in 1 to 5 input dimensions, on boxes, polytopes and unbounded domains."""

from __future__ import annotations

from math import comb

import numpy as np
import pytest
from test_regions import brute_force_regions
from test_subdivision import assert_regions_sound, random_net

from verishallow.domain import Box, Polytope, Whole
from verishallow.network import ReLUNetwork, pattern_key
from verishallow.regions import enumerate_regions
from verishallow.regions.tolerances import REGION_RADIUS_TOL


def skeleton(net, dom, fallback_ok=False):
    part = enumerate_regions(net, dom, method="skeleton", prove_coverage=False)
    if not fallback_ok:  # the engine itself ran (no graph-search fallback)
        assert "fallback" not in part.stats["skeleton"], part.stats["skeleton"]
    return part


def assert_same(part, ref):
    """Same patterns, same facets (kind, ids, hyperplane) per region, same adjacency."""
    assert part.patterns() == ref.patterns()
    assert len({r.key for r in part}) == len(part)
    for r in part:
        q = ref[ref.find(r.pattern)]
        assert sorted((f.kind, f.ids) for f in r.facets) == sorted((f.kind, f.ids)
                                                                   for f in q.facets)
        for f in r.facets:
            g = next(g for g in q.facets if (g.kind, g.ids) == (f.kind, f.ids))
            np.testing.assert_allclose(f.normal, g.normal, atol=1e-9)
            assert f.offset == pytest.approx(g.offset, abs=1e-9)
            assert f.neighbours == tuple(sorted(part.find(ref[j].pattern)
                                                for j in g.neighbours))
    edges = {frozenset((part[a].key, part[b].key)): d["neurons"]
             for a, b, d in part.graph.edges(data=True)}
    ref_edges = {frozenset((ref[a].key, ref[b].key)): d["neurons"]
                 for a, b, d in ref.graph.edges(data=True)}
    assert edges == ref_edges


def assert_same_as_graph(net, dom, fallback_ok=False):
    part = skeleton(net, dom, fallback_ok)
    ref = enumerate_regions(net, dom, method="graph", prove_coverage=False)
    assert_same(part, ref)
    return part


CASES = [
    (3, [6], Box([-1.0] * 3, [1.0] * 3)),
    (3, [8, 6], Box([-2.0, -1.0, 0.0], [1.0, 3.0, 2.0])),
    (3, [5, 5, 4], Box([-1.5] * 3, [1.5] * 3)),
    (3, [7, 6], Whole(3)),
    (3, [9], Whole(3)),
    (3, [6, 6], Polytope([[-1.0, 0, 0], [0, -1.0, 0], [0, 0, -1.0], [1.0, 1.0, 1.0]],
                         [1.0, 1.0, 1.0, 1.0])),  # a simplex
    (3, [6, 5], Polytope([[1.0, 2.0, 0.5], [-1.0, 0.5, 0.2]], [1.0, 2.0])),  # a wedge
    (3, [6, 5], Box([-1.0, -np.inf, 0.0], [np.inf, 1.0, 1.0])),  # a half-open box
    (4, [6, 5], Box([-1.0] * 4, [1.0] * 4)),
    (4, [6, 6], Whole(4)),
    (4, [5, 4, 3], Polytope(np.vstack([-np.eye(4), np.ones((1, 4))]),
                            [1.0, 1.0, 1.0, 1.0, 1.0])),
    (5, [5, 5], Box([-1.0] * 5, [1.0] * 5)),
    (2, [7, 7], Whole(2)),
    (1, [8, 8], Whole(1)),
]


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("case", range(len(CASES)))
def test_matches_graph_engine(case, seed):
    d, widths, dom = CASES[case]
    net = random_net(np.random.default_rng(7000 + 100 * case + seed), widths, d)
    part = assert_same_as_graph(net, dom)
    assert_regions_sound(net, part)


@pytest.mark.parametrize("seed", range(3))
def test_matches_brute_force_on_a_3d_box(seed):
    net = random_net(np.random.default_rng(seed), [5, 4], 3)
    dom = Box([-1.0] * 3, [1.0] * 3)
    truth, borderline = brute_force_regions(net, dom)
    found = skeleton(net, dom).patterns()
    assert len(found ^ truth) <= borderline


@pytest.mark.parametrize(("d", "n"), [(3, 7), (4, 6), (5, 7)])
def test_one_layer_general_position_closed_form(d, n):
    # n hyperplanes in general position on R^d: sum_{i <= d} C(n, i) regions, and
    # 2 n sum_{i < d} C(n - 1, i) facets in total
    net = random_net(np.random.default_rng(d * 10 + n), [n], d)
    part = skeleton(net, Whole(d))
    assert len(part) == sum(comb(n, i) for i in range(d + 1))
    assert sum(r.n_facets for r in part) == 2 * n * sum(comb(n - 1, i) for i in range(d))


def test_agrees_with_subdivision_in_2d():
    net = random_net(np.random.default_rng(5), [10, 8], 2)
    ref = enumerate_regions(net, Whole(2), method="subdivision", prove_coverage=False)
    assert_same(skeleton(net, Whole(2)), ref)


def test_fixed_coordinate_is_removed():
    net = random_net(np.random.default_rng(3), [6, 5], 4)
    dom = Box([-1.0, -1.0, 0.3, -1.0], [1.0, 1.0, 0.3, 1.0])
    part = assert_same_as_graph(net, dom)
    assert all(r.center[2] == 0.3 for r in part)


def test_box_grows_to_far_features():
    # layer 2 bends x0 = 0 into x0 = 3000 (where x0 > 0): the first box is far too small
    W1 = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    W2 = np.array([[1.0, 0.0, 0.0]])
    net = ReLUNetwork([W1, W2, np.ones((1, 1))],
                      [np.zeros(3), np.array([-3000.0]), np.zeros(1)])
    part = assert_same_as_graph(net, Whole(3))
    assert len(part) == 12
    assert part.stats["skeleton"]["box_half_width"] > 3000


@pytest.mark.parametrize("offset", [1e-11, 3e-9, 1e-8])
def test_plane_near_a_vertex(offset):
    # x0 + x1 + x2 = offset cuts a tiny tetrahedron off the corner of the positive octant:
    # its inradius is offset / (3 + sqrt 3) ~ 0.21 offset, below, near and above the tolerance
    W = np.vstack([np.eye(3), np.ones((1, 3))])
    net = ReLUNetwork([W, np.ones((1, 4))], [np.array([0.0, 0.0, 0.0, -offset]), np.zeros(1)])
    part = assert_same_as_graph(net, Box([-1.0] * 3, [1.0] * 3))
    tiny = offset / (3 + np.sqrt(3)) < REGION_RADIUS_TOL
    assert len(part) == (14 if tiny else 15)
    if tiny:
        rejected = {pattern_key(p) for p, _ in part.stats["rejected"]}
        assert pattern_key(np.array([True, True, True, False])) in rejected


def test_degenerate_networks_fall_back_to_identical_results():
    # duplicated neurons and hyperplanes through a common point: not in general position
    W = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0],
                  [1.0, 1.0, 1.0]])
    net = ReLUNetwork([W, np.ones((1, 5))], [np.zeros(5), np.zeros(1)])
    part = assert_same_as_graph(net, Box([-1.0] * 3, [1.0] * 3), fallback_ok=True)
    assert "fallback" in part.stats["skeleton"]


def test_auto_picks_skeleton_from_two_dimensions():
    net = random_net(np.random.default_rng(1), [5, 5], 3)
    part = enumerate_regions(net, Box([-1.0] * 3, [1.0] * 3), prove_coverage=False)
    assert part.method == "skeleton"
    part2 = enumerate_regions(net, Box([-1.0] * 2 + [0.5], [1.0] * 2 + [0.5]),
                              prove_coverage=False)
    assert part2.method == "skeleton"
    part1 = enumerate_regions(net, Box([-1.0, 0.5, 0.5], [1.0, 0.5, 0.5]),
                              prove_coverage=False)
    assert part1.method == "subdivision"


def test_coverage_proof_accepts_the_skeleton_partition():
    net = random_net(np.random.default_rng(2), [5, 4], 3)
    part = enumerate_regions(net, Box([-1.0] * 3, [1.0] * 3), method="skeleton",
                             time_limit=120)
    assert part.complete


def test_points_land_in_regions_with_exact_models():
    rng = np.random.default_rng(4)
    sizes = [3, 16, 16, 1]
    Ws = [rng.normal(scale=np.sqrt(2.0 / sizes[k]), size=(sizes[k + 1], sizes[k]))
          for k in range(3)]
    bs = [rng.uniform(-1 / np.sqrt(sizes[k]), 1 / np.sqrt(sizes[k]), size=sizes[k + 1])
          for k in range(3)]
    net = ReLUNetwork(Ws, bs)
    part = skeleton(net, Whole(3))
    X = rng.normal(scale=5.0, size=(20000, 3))
    ids = part.locate(X)
    assert np.all(ids >= 0)
    for rid in np.unique(ids)[:300]:
        sel = X[ids == rid]
        np.testing.assert_allclose(part[rid].evaluate(sel), net.forward(sel), rtol=1e-9,
                                   atol=1e-9)


@pytest.mark.parametrize("case", [1, 3, 9])
def test_workers_share_the_geometry_and_change_nothing(case, monkeypatch):
    """With small geometry chunks (so that there are several) two forked workers return the
    same partition as one: patterns, facets, neighbours, graph, oracle LPs."""
    import verishallow.regions.skeleton as sk

    monkeypatch.setattr(sk, "CHUNK_PAIRS", 50)
    d, widths, dom = CASES[case]
    net = random_net(np.random.default_rng(11 + case), widths, d)
    one = skeleton(net, dom)
    two = enumerate_regions(net, dom, method="skeleton", prove_coverage=False, workers=2)
    assert "fallback" not in two.stats["skeleton"]
    assert_same(two, one)
    assert [r.id for r in two] == [r.id for r in one]
    assert two.stats["lps"] == one.stats["lps"]
    assert len(two.stats["rejected"]) == len(one.stats["rejected"])

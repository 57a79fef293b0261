"""The subdivision engine against the graph engine, closed forms and degenerate cases."""

from __future__ import annotations

from math import comb

import numpy as np
import pytest

from verishallow.domain import Box, Polytope, Whole
from verishallow.errors import InputError
from verishallow.network import ReLUNetwork, pattern_key
from verishallow.regions import enumerate_regions
from verishallow.regions.tolerances import REGION_RADIUS_TOL


def random_net(rng, widths, d, out=1, bias_scale=1.0):
    sizes = [d, *widths, out]
    Ws = [rng.normal(size=(sizes[k + 1], sizes[k])) for k in range(len(sizes) - 1)]
    bs = [bias_scale * rng.normal(size=sizes[k + 1]) for k in range(len(sizes) - 1)]
    return ReLUNetwork(Ws, bs)


def subdivide(net, dom):
    return enumerate_regions(net, dom, method="subdivision", prove_coverage=False)


def assert_same_as_graph(net, dom):
    """Same patterns, same facets (kind and ids) per region, same adjacency as the graph
    engine; returns the subdivision partition."""
    sub = subdivide(net, dom)
    ref = enumerate_regions(net, dom, method="graph", prove_coverage=False)
    assert sub.patterns() == ref.patterns()
    assert len({r.key for r in sub}) == len(sub)
    for r in sub:
        q = ref[ref.find(r.pattern)]
        assert r.n_facets == q.n_facets, (r.pattern, r.n_facets, q.n_facets)
        assert sorted((f.kind, f.ids) for f in r.facets) == sorted((f.kind, f.ids)
                                                                   for f in q.facets)
        for f in r.facets:  # same hyperplane as the graph engine's facet
            g = next(g for g in q.facets if (g.kind, g.ids) == (f.kind, f.ids))
            np.testing.assert_allclose(f.normal, g.normal, atol=1e-9)
            assert f.offset == pytest.approx(g.offset, abs=1e-9)
    edges = {frozenset((sub[a].key, sub[b].key)): d["neurons"]
             for a, b, d in sub.graph.edges(data=True)}
    ref_edges = {frozenset((ref[a].key, ref[b].key)): d["neurons"]
                 for a, b, d in ref.graph.edges(data=True)}
    assert edges.keys() == ref_edges.keys()
    # both engines label an edge with the union of both sides' facet ids
    assert edges == ref_edges
    return sub


def assert_regions_sound(net, part):
    """Centres strictly inside (pattern and inscribed ball), models exact there, facets on
    their hyperplanes and neighbours across neuron facets differing in exactly those bits."""
    for r in part:
        assert r.radius > 0
        assert np.array_equal(net.pattern(r.center), r.pattern)
        assert part.domain.contains(r.center[None])[0]
        if r.n_facets:
            # the inscribed ball lies inside every facet half-space
            assert np.all(r.H @ r.center + r.radius <= r.c + 1e-9)
        np.testing.assert_allclose(r.evaluate(r.center[None])[0], net.forward(r.center),
                                   rtol=1e-11, atol=1e-11)
        for f in r.facets:
            assert abs(f.normal @ f.point - f.offset) < 1e-9
            assert np.all(r.H @ f.point <= r.c + 1e-9)
    for a, b, data in part.graph.edges(data=True):
        flipped = np.flatnonzero(part[a].pattern != part[b].pattern)
        assert set(flipped) == set(data["neurons"])


# ----- agreement with the graph engine on random networks ------------------------------------

CASES = [
    ([6], Box([-1.0, -1.0], [1.0, 1.0])),
    ([8, 6], Box([-2.0, -1.0], [1.0, 3.0])),
    ([5, 5, 4], Box([-1.5, -1.5], [1.5, 1.5])),
    ([7, 7], Whole(2)),
    ([10], Whole(2)),
    ([6, 5, 4], Whole(2)),
    ([6, 6], Polytope([[-1.0, 0.0], [0.0, -1.0], [1.0, 1.0]], [1.0, 1.0, 1.0])),
    ([6, 6], Polytope([[1.0, 2.0], [-1.0, 0.5]], [1.0, 2.0])),  # an unbounded wedge
    ([6, 6], Box([-1.0, -np.inf], [np.inf, 1.0])),  # a half-open box
]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("case", range(len(CASES)))
def test_matches_graph_engine_2d(case, seed):
    widths, dom = CASES[case]
    net = random_net(np.random.default_rng(1000 * case + seed), widths, 2)
    part = assert_same_as_graph(net, dom)
    assert_regions_sound(net, part)


def test_fixed_coordinate_reduces_to_2d():
    rng = np.random.default_rng(9)
    net = random_net(rng, [6, 5], 3)
    dom = Box([-1, 0.25, -1], [1, 0.25, 1])
    part = assert_same_as_graph(net, dom)
    assert_regions_sound(net, part)
    for r in part:
        assert r.center[1] == 0.25
        assert np.all(r.H[:, 1] == 0)


@pytest.mark.parametrize("seed", range(4))
def test_matches_graph_engine_1d(seed):
    rng = np.random.default_rng(50 + seed)
    net = random_net(rng, [[8, 8, 8], [6, 5], [12], [4, 4, 4]][seed], 1)
    dom = [Box([-3.0], [3.0]), Whole(1), Box([-1.0], [np.inf]), Box([0.5], [2.0])][seed]
    part = assert_same_as_graph(net, dom)
    assert_regions_sound(net, part)


def test_one_dimensional_regions_are_intervals():
    rng = np.random.default_rng(11)
    net = random_net(rng, [8, 8, 8], 1)
    part = subdivide(net, Box([-3.0], [3.0]))
    xs = np.linspace(-3, 3, 200001)
    P = net.pattern(xs[:, None])
    change = np.flatnonzero(np.any(P[1:] != P[:-1], axis=1))
    keys = [pattern_key(p) for p in [P[0]] + [P[i + 1] for i in change]]
    assert set(keys) == part.patterns() and len(keys) == len(part)
    assert all(r.n_facets == 2 for r in part)


# ----- closed forms --------------------------------------------------------------------------

def test_one_layer_general_position_closed_form():
    n, d = 16, 2
    net = random_net(np.random.default_rng(7), [n], d)
    part = subdivide(net, Whole(d))
    regions = sum(comb(n, i) for i in range(d + 1))
    facets = 2 * n * sum(comb(n - 1, i) for i in range(d)) / regions
    assert len(part) == regions == 137
    assert part.mean_facets == pytest.approx(facets, abs=1e-12)
    assert facets == pytest.approx(3.737, abs=1e-3)
    # n lines in general position: 2n unbounded regions and C(n-1, 2) bounded ones; a region
    # is bounded iff its facet normals leave no angular gap of pi or more
    bounded = 0
    for r in part:
        ang = np.sort(np.arctan2(r.H[:, 1], r.H[:, 0]))
        gaps = np.diff(np.r_[ang, ang[0] + 2 * np.pi])
        bounded += bool(gaps.max() < np.pi - 1e-12)
    assert bounded == comb(n - 1, 2) == 105
    assert len(part) - bounded == 2 * n
    assert_regions_sound(net, part)


def test_one_layer_closed_form_on_a_line():
    net = random_net(np.random.default_rng(8), [9], 1)
    part = subdivide(net, Whole(1))
    assert len(part) == 10
    assert sorted(r.n_facets for r in part) == [1, 1] + [2] * 8


# ----- degenerate cases (same expected counts as tests/test_regions.py) ----------------------

def test_lines_through_a_common_vertex_and_parallel_lines():
    W = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    b = np.array([0.0, 0.0, 0.0, -0.5, 0.5])
    net = ReLUNetwork([W[:3], np.ones((1, 3))], [b[:3], np.zeros(1)])
    part = subdivide(net, Box([-1, -1], [1, 1]))
    assert len(part) == 6
    assert_same_as_graph(net, Box([-1, -1], [1, 1]))
    net = ReLUNetwork([W, np.ones((1, 5))], [b, np.zeros(1)])
    part = assert_same_as_graph(net, Box([-1, -1], [1, 1]))
    assert len(part) == 12
    assert_same_as_graph(net, Whole(2))


def test_duplicated_neurons_share_one_hyperplane():
    w = np.array([[1.0, -1.0], [1.0, -1.0], [0.0, 1.0]])
    b = np.array([0.2, 0.2, -0.1])
    net = ReLUNetwork([w, np.ones((1, 3))], [b, np.zeros(1)])
    part = assert_same_as_graph(net, Box([-1, -1], [1, 1]))
    assert len(part) == 4
    assert (0, 1) in {f.ids for r in part for f in r.facets if f.kind == "neuron"}
    # a duplicate in a later layer: layer-2 neuron equal to layer-1 neuron 0 where it is on
    W2 = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    net2 = ReLUNetwork([w, W2, np.ones((1, 2))], [b, np.zeros(2), np.zeros(1)])
    assert_same_as_graph(net2, Box([-1, -1], [1, 1]))


def test_identically_zero_neuron_counts_inactive():
    W1 = np.array([[1.0, 0.0], [0.0, 1.0]])
    W2 = np.array([[1.0, 0.0]])
    net = ReLUNetwork([W1, W2, np.ones((1, 1))], [np.zeros(2), np.zeros(1), np.zeros(1)])
    for dom in (Box([-1, -1], [1, 1]), Whole(2)):
        part = assert_same_as_graph(net, dom)
        assert {tuple(r.pattern) for r in part} == {
            (False, False, False), (False, True, False), (True, False, True),
            (True, True, True)}


def test_dead_always_on_and_zero_rows():
    W1 = np.array([[1.0, 1.0], [-1.0, 0.0], [1.0, 0.0]])
    b1 = np.array([1.0, -5.0, -0.5])
    net = ReLUNetwork([W1, np.ones((1, 3))], [b1, np.zeros(1)])
    part = assert_same_as_graph(net, Box([0, 0], [1, 1]))
    assert len(part) == 2 and part.stable_neurons == 2
    W1 = np.array([[1.0, 0.0], [0.0, -1.0]])
    W2 = np.eye(2)
    net = ReLUNetwork([W1, W2, np.ones((1, 2))],
                      [np.array([0.0, -3.0]), np.array([-0.5, 0.25]), np.zeros(1)])
    assert len(assert_same_as_graph(net, Box([-1, -1], [1, 1]))) == 3


def test_unbounded_quadrants_and_domain_inside_one_region():
    net = ReLUNetwork([np.eye(2), np.ones((1, 2))], [np.zeros(2), np.zeros(1)])
    part = assert_same_as_graph(net, Whole(2))
    assert len(part) == 4 and all(r.n_facets == 2 for r in part)
    rng = np.random.default_rng(2)
    net = random_net(rng, [10, 10], 2)
    whole = subdivide(net, Box([-2, -2], [2, 2]))
    r = whole[whole.locate(np.array([[0.3, -0.2]]))[0]]
    eps = r.radius / 4
    part = subdivide(net, Box(r.center - eps, r.center + eps))
    assert len(part) == 1
    assert all(f.kind == "domain" for f in part[0].facets) and part[0].n_facets == 4


def test_no_unstable_neuron_on_whole_space():
    # z = -1 - relu(x0)^2-free: a layer-2 neuron fed by nothing but a negative bias is dead
    net = ReLUNetwork([np.array([[1.0, 0.0]]), np.zeros((1, 1)), np.ones((1, 1))],
                      [np.zeros(1), -np.ones(1), np.zeros(1)])
    part = assert_same_as_graph(net, Whole(2))
    assert len(part) == 2


# ----- the artificial box of unbounded domains -------------------------------------------------

def test_box_grows_to_features_of_deeper_layers():
    # layer 1: x0 = 0 (extent 0, so the box starts small); layer 2: x0 = 3000 where x0 > 0
    W1 = np.array([[1.0, 0.0]])
    W2 = np.array([[1.0]])
    net = ReLUNetwork([W1, W2, np.ones((1, 1))], [np.zeros(1), np.array([-3000.0]), np.zeros(1)])
    part = subdivide(net, Whole(2))
    assert len(part) == 3
    assert sorted(r.n_facets for r in part) == [1, 1, 2]
    assert part.stats["subdivision"]["box_half_width"] > 3000
    assert_same_as_graph(net, Whole(2))


def test_box_grows_until_far_vertex_is_inside():
    # layer 2 bends x1 = 0.001 x0 into a line meeting x1 = 0 only at x0 = 5000
    W1 = np.array([[0.0, 1.0], [1.0, 0.0], [-1.0, 0.0]])
    W2 = np.array([[1000.0, 1.0, -1.0]])
    b2 = np.array([-5000.0])
    net = ReLUNetwork([W1, W2, np.ones((1, 1))], [np.zeros(3), b2, np.zeros(1)])
    part = assert_same_as_graph(net, Whole(2))
    assert part.stats["subdivision"]["box_half_width"] > 5000
    assert_regions_sound(net, part)


def test_strip_far_from_the_origin():
    # two parallel lines 1e4 away: no vertex anywhere, yet the strip between them is a region
    W1 = np.array([[1.0, 1.0], [1.0, 1.0]])
    net = ReLUNetwork([W1, np.ones((1, 2))], [np.array([-1e4, -1e4 - 5.0]), np.zeros(1)])
    part = assert_same_as_graph(net, Whole(2))
    assert len(part) == 3


# ----- slivers and tolerances ------------------------------------------------------------------

@pytest.mark.parametrize("offset", [1e-11, 3e-9, 1e-8])
def test_line_near_a_vertex(offset):
    # x0 + x1 = offset passes near the vertex of x0 = 0 and x1 = 0: the triangle it cuts off has
    # inradius ~ 0.29 offset, below, near and above the region tolerance
    W = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    net = ReLUNetwork([W, np.ones((1, 3))], [np.array([0.0, 0.0, -offset]), np.zeros(1)])
    part = assert_same_as_graph(net, Box([-1, -1], [1, 1]))
    tiny = 0.29 * offset < REGION_RADIUS_TOL
    assert len(part) == (6 if tiny else 7)


def test_records_thin_cells_as_rejections():
    W = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    net = ReLUNetwork([W, np.ones((1, 3))], [np.array([0.0, 0.0, -1e-11]), np.zeros(1)])
    part = subdivide(net, Box([-1, -1], [1, 1]))
    rejected = {pattern_key(p) for p, _ in part.stats["rejected"]}
    assert pattern_key(np.array([True, True, False])) in rejected


# ----- interface -------------------------------------------------------------------------------

def test_unsupported_dimension_is_a_clear_input_error():
    net = random_net(np.random.default_rng(0), [4], 3)
    with pytest.raises(InputError, match="1-D and 2-D"):
        subdivide(net, Box([0, 0, 0], [1, 1, 1]))
    # a 3-input model with one fixed input is 2-D after reduction: supported
    part = subdivide(net, Box([0, 0, 0.5], [1, 1, 0.5]))
    assert len(part) >= 1


def test_benchmark_sized_network_is_fast_and_consistent():
    # He initialisation, 2-32-32-1 on R^2 (the speed target); a sanity check only:
    # the time budget is generous because test machines are shared
    rng = np.random.default_rng(0)
    sizes = [2, 32, 32, 1]
    Ws = [rng.normal(scale=np.sqrt(2.0 / sizes[k]), size=(sizes[k + 1], sizes[k]))
          for k in range(3)]
    bs = [rng.normal(scale=0.1, size=sizes[k + 1]) for k in range(3)]
    net = ReLUNetwork(Ws, bs)
    part = subdivide(net, Whole(2))
    assert len(part) > 1500
    assert part.seconds < 20
    X = np.random.default_rng(1).normal(scale=3.0, size=(20000, 2))
    ids = part.locate(X)
    assert np.all(ids >= 0)
    for rid in np.unique(ids)[:300]:
        sel = X[ids == rid]
        np.testing.assert_allclose(part[rid].evaluate(sel), net.forward(sel), rtol=1e-9,
                                   atol=1e-9)
    assert np.mean([r.n_facets for r in part]) <= 4 + 1e-9  # <= 2 d (general position)

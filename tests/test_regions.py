"""Region engine against independent computations: closed forms, brute force, 1-D intervals."""

from __future__ import annotations

import itertools
from math import comb

import numpy as np
import pytest
from scipy.optimize import linprog

from verishallow.domain import Box, Polytope, Whole
from verishallow.network import ReLUNetwork, pattern_key
from verishallow.regions import enumerate_regions

#: Brute force counts a pattern as a region when its inscribed ball is clearly non-empty, and
#: skips networks that have a pattern with a radius between these two (too close to call).
BRUTE_CLEAR = 1e-6
BRUTE_EMPTY = 1e-10


def random_net(rng, widths, d, out=1, bias_scale=1.0):
    sizes = [d, *widths, out]
    Ws = [rng.normal(size=(sizes[k + 1], sizes[k])) for k in range(len(sizes) - 1)]
    bs = [bias_scale * rng.normal(size=sizes[k + 1]) for k in range(len(sizes) - 1)]
    return ReLUNetwork(Ws, bs)


def brute_force_regions(net, domain):
    """The original paper's algorithm: every one of the 2^N patterns, one LP each (scipy).

    Returns (set of region pattern keys, number of borderline patterns)."""
    G, h, _ = domain.constraints()
    d = net.input_dim
    found, borderline = set(), 0
    for bits in itertools.product([False, True], repeat=net.n_hidden):
        s = np.array(bits)
        A, dd, _, _ = net.local_affine(s)
        sigma = np.where(s, -1.0, 1.0)
        H = np.vstack([sigma[:, None] * A, G])
        c = np.concatenate([-sigma * dd, h])
        n = np.linalg.norm(H, axis=1)
        zero = n == 0
        if np.any(zero[net.n_hidden:] & (c[net.n_hidden:] < 0)):
            continue
        # zero rows: active needs d > 0, inactive needs d <= 0
        zr = zero[: net.n_hidden]
        if np.any(s[zr] & (dd[zr] <= 0)) or np.any(~s[zr] & (dd[zr] > 0)):
            continue
        H, c, n = H[~zero], c[~zero], n[~zero]
        res = linprog(np.r_[np.zeros(d), -1.0], A_ub=np.hstack([H, n[:, None]]), b_ub=c,
                      bounds=[(None, None)] * d + [(None, 10.0)], method="highs")
        if res.status != 0:
            continue
        r = -res.fun
        if r > BRUTE_CLEAR:
            found.add(pattern_key(s))
        elif r > BRUTE_EMPTY:
            borderline += 1
    return found, borderline


@pytest.mark.parametrize("d,n,expected,mean", [(2, 16, 137, 3.74), (3, 16, 697, 5.55)])
def test_one_layer_general_position_closed_form(d, n, expected, mean):
    rng = np.random.default_rng(7)
    net = random_net(rng, [n], d)
    part = enumerate_regions(net, Whole(d), prove_coverage=False)
    regions = sum(comb(n, i) for i in range(d + 1))
    facets = 2 * n * sum(comb(n - 1, i) for i in range(d)) / regions
    assert len(part) == regions == expected
    assert part.mean_facets == pytest.approx(facets, abs=1e-12)
    assert facets == pytest.approx(mean, abs=0.01)  # the figures quoted in the issue
    assert part.mean_facets <= 2 * d
    # every region is unbounded or bounded; all facets of a one-layer net are its n lines
    assert {i for r in part for f in r.facets for i in f.ids} == set(range(n))


@pytest.mark.parametrize("seed", range(6))
def test_graph_search_matches_brute_force(seed):
    rng = np.random.default_rng(100 + seed)
    d = 2 + seed % 2
    widths = [[5, 4], [4, 3, 3], [9], [4, 5], [6, 4], [3, 3, 2, 2]][seed]
    net = random_net(rng, widths, d)
    dom = Box(-np.ones(d) * 1.5, np.ones(d) * 1.5)
    truth, borderline = brute_force_regions(net, dom)
    assert borderline == 0, "test network too close to the tolerance: pick another seed"
    part = enumerate_regions(net, dom, prove_coverage=False)
    assert part.patterns() == truth
    assert len({r.key for r in part}) == len(part)


def test_points_land_in_found_regions_and_models_are_exact():
    rng = np.random.default_rng(3)
    net = random_net(rng, [12, 12], 2, out=2)
    dom = Box([-2, -1], [2, 3])
    part = enumerate_regions(net, dom, prove_coverage=False)
    X = rng.uniform([-2, -1], [2, 3], size=(20000, 2))
    ids = part.locate(X)
    assert np.all(ids >= 0)
    for rid in np.unique(ids):
        sel = X[ids == rid]
        r = part[rid]
        np.testing.assert_allclose(r.evaluate(sel), net.forward(sel), rtol=1e-12, atol=1e-12)
        # the facet inequalities hold at the region's own points
        assert np.all(sel @ r.H.T <= r.c + 1e-9)
    for r in part:
        assert dom.contains(r.center[None])[0]
        assert part.locate(r.center[None])[0] == r.id


def test_adjacency_graph_is_consistent():
    rng = np.random.default_rng(5)
    net = random_net(rng, [8, 8], 2)
    part = enumerate_regions(net, Box([-1, -1], [1, 1]), prove_coverage=False)
    g = part.graph
    assert g.number_of_nodes() == len(part)
    import networkx as nx

    assert nx.is_connected(g)
    for a, b, data in g.edges(data=True):
        pa, pb = part[a].pattern, part[b].pattern
        flipped = np.flatnonzero(pa != pb)
        assert set(flipped) == set(data["neurons"])
    for r in part:
        for f in r.facets:
            if f.kind == "neuron":
                assert len(f.neighbours) == 1
                # the facet's point is on the boundary of both regions
                assert abs(f.normal @ f.point - f.offset) < 1e-9
            else:
                assert f.neighbours == ()


def breakpoints_1d(net, lo, hi, n=400001):
    """Independent 1-D check: the pattern changes along a fine grid, refined by bisection."""
    xs = np.linspace(lo, hi, n)
    P = net.pattern(xs[:, None])
    change = np.flatnonzero(np.any(P[1:] != P[:-1], axis=1))
    return xs, P, change


def test_one_dimensional_regions_are_intervals_between_breakpoints():
    rng = np.random.default_rng(11)
    net = random_net(rng, [8, 8, 8], 1)
    part = enumerate_regions(net, Box([-3.0], [3.0]), prove_coverage=False)
    xs, P, change = breakpoints_1d(net, -3.0, 3.0)
    # consecutive distinct patterns along the line are the regions (a 1-D region is an interval)
    segments = [P[0]] + [P[i + 1] for i in change]
    keys = [pattern_key(p) for p in segments]
    assert len(keys) == len(set(keys))
    assert set(keys) == part.patterns()
    for r in part:
        assert r.n_facets == 2
        ends = sorted(float(f.point[0]) for f in r.facets)
        inside = xs[(xs > ends[0] + 1e-6) & (xs < ends[1] - 1e-6)]
        assert np.all(net.pattern(inside[:, None]) == r.pattern)


# ----- degenerate cases, each with an exact expected count ---------------------------------

def test_dead_and_always_on_neurons():
    # x in [0,1]^2: neuron 0 = x0 + x1 + 1 > 0 always; neuron 1 = -x0 - 5 < 0 always;
    # neuron 2 = x0 - 0.5 splits the box: 2 regions
    W1 = np.array([[1.0, 1.0], [-1.0, 0.0], [1.0, 0.0]])
    b1 = np.array([1.0, -5.0, -0.5])
    net = ReLUNetwork([W1, np.ones((1, 3))], [b1, np.zeros(1)])
    part = enumerate_regions(net, Box([0, 0], [1, 1]), prove_coverage=False)
    assert len(part) == 2
    assert part.stable_neurons == 2 and part.unstable_neurons == 1


def test_duplicated_neurons_share_one_hyperplane():
    w = np.array([[1.0, -1.0], [1.0, -1.0], [0.0, 1.0]])
    b = np.array([0.2, 0.2, -0.1])
    net = ReLUNetwork([w, np.ones((1, 3))], [b, np.zeros(1)])
    part = enumerate_regions(net, Box([-1, -1], [1, 1]), prove_coverage=False)
    # two distinct lines crossing inside the box: 4 regions; neurons 0 and 1 flip together
    assert len(part) == 4
    ids = {f.ids for r in part for f in r.facets if f.kind == "neuron"}
    assert (0, 1) in ids


def test_lines_through_a_common_vertex_and_parallel_lines():
    # three lines through the origin: 6 regions; plus two parallel lines x0 = +-0.5: 6 + 2*2
    W = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    b = np.array([0.0, 0.0, 0.0, -0.5, 0.5])
    net = ReLUNetwork([W[:3], np.ones((1, 3))], [b[:3], np.zeros(1)])
    assert len(enumerate_regions(net, Box([-1, -1], [1, 1]), prove_coverage=False)) == 6
    net = ReLUNetwork([W, np.ones((1, 5))], [b, np.zeros(1)])
    # vertical lines x0 = -0.5, 0, 0.5 make 4 strips, x1 = 0 halves each (8), and x0 + x1 = 0
    # cuts one half of every strip once more (12)
    part = enumerate_regions(net, Box([-1, -1], [1, 1]), prove_coverage=False)
    xs = np.random.default_rng(0).uniform(-1, 1, size=(200000, 2))
    assert len(part) == len({pattern_key(p) for p in net.pattern(xs)}) == 12


def test_identically_zero_neuron_counts_inactive():
    # layer 2 neuron is fed only by neuron 0 of layer 1 with zero bias: on the half-plane where
    # neuron 0 is off it is identically zero (inactive by ReLU(0) = 0); across the facet it
    # becomes x0 > 0, i.e. active, so the half-plane x0 > 0 is one region with both on.
    W1 = np.array([[1.0, 0.0], [0.0, 1.0]])
    W2 = np.array([[1.0, 0.0]])
    net = ReLUNetwork([W1, W2, np.ones((1, 1))], [np.zeros(2), np.zeros(1), np.zeros(1)])
    part = enumerate_regions(net, Box([-1, -1], [1, 1]), prove_coverage=False)
    assert len(part) == 4
    pats = {tuple(r.pattern) for r in part}
    assert pats == {(False, False, False), (False, True, False), (True, False, True),
                    (True, True, True)}


def test_zero_rows_from_dead_neurons_in_deeper_layers():
    # second-layer neuron 1 sees only neuron 1 of layer 1 (dead on the domain) -> zero row
    W1 = np.array([[1.0, 0.0], [0.0, -1.0]])
    b1 = np.array([0.0, -3.0])
    W2 = np.array([[1.0, 0.0], [0.0, 1.0]])
    b2 = np.array([-0.5, 0.25])
    net = ReLUNetwork([W1, W2, np.ones((1, 2))], [b1, b2, np.zeros(1)])
    part = enumerate_regions(net, Box([-1, -1], [1, 1]), prove_coverage=False)
    # neuron (1,0): x0 > 0; neuron (2,0): x0 - 0.5 > 0 when (1,0) active; (2,1) always 0.25 > 0
    assert len(part) == 3


def test_unbounded_regions_on_whole_space():
    W = np.array([[1.0, 0.0], [0.0, 1.0]])
    net = ReLUNetwork([W, np.ones((1, 2))], [np.zeros(2), np.zeros(1)])
    part = enumerate_regions(net, Whole(2), prove_coverage=False)
    assert len(part) == 4
    assert all(r.n_facets == 2 for r in part)


def test_domain_inside_one_region():
    rng = np.random.default_rng(2)
    net = random_net(rng, [10, 10], 2)
    x = np.array([0.3, -0.2])
    part_all = enumerate_regions(net, Box([-2, -2], [2, 2]), prove_coverage=False)
    r = part_all[part_all.locate(x[None])[0]]
    eps = r.radius / 4
    part = enumerate_regions(net, Box(r.center - eps, r.center + eps), prove_coverage=False)
    assert len(part) == 1
    assert all(f.kind == "domain" for f in part[0].facets) and part[0].n_facets == 4


def test_fixed_coordinate_regions_are_full_dimensional_in_the_rest():
    rng = np.random.default_rng(9)
    net = random_net(rng, [5, 4], 3)
    dom = Box([-1, 0.25, -1], [1, 0.25, 1])
    part = enumerate_regions(net, dom, prove_coverage=False)
    # independent: the 2-D slice network on the free coordinates
    E = np.eye(3)[:, [0, 2]]
    slice_net = net.compose_input(E, np.array([0.0, 0.25, 0.0]))
    truth, borderline = brute_force_regions(slice_net, Box([-1, -1], [1, 1]))
    assert borderline == 0
    assert part.patterns() == truth
    for r in part:
        assert r.center[1] == 0.25
        assert np.all(r.H[:, 1] == 0)
        np.testing.assert_allclose(r.evaluate(r.center[None])[0], net.forward(r.center),
                                   rtol=1e-12)


def test_polytope_domain():
    rng = np.random.default_rng(4)
    net = random_net(rng, [5, 4], 2)
    # a triangle
    dom = Polytope([[-1.0, 0.0], [0.0, -1.0], [1.0, 1.0]], [1.0, 1.0, 1.0])
    truth, borderline = brute_force_regions(net, dom)
    assert borderline == 0
    part = enumerate_regions(net, dom, prove_coverage=False)
    assert part.patterns() == truth


def test_bad_method_and_dimension():
    from verishallow.errors import InputError

    net = random_net(np.random.default_rng(0), [3], 2)
    with pytest.raises(InputError, match="unknown method"):
        enumerate_regions(net, Box([0, 0], [1, 1]), method="magic")
    with pytest.raises(InputError, match="3 coordinates"):
        enumerate_regions(net, Box([0, 0, 0], [1, 1, 1]))

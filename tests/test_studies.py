"""Study helpers against independent computations: the LP region engine, dense sampling,
closed forms for one hidden layer, and the box's own volume."""

from __future__ import annotations

import numpy as np
import pytest

from verishallow.domain import Box, Whole
from verishallow.errors import InputError
from verishallow.network import ReLUNetwork, pattern_key
from verishallow.regions import enumerate_regions
from verishallow.studies.breakpoints import breakpoints
from verishallow.studies.common import he_network
from verishallow.studies.depth import depth_statistics, fixed_pairs, plane_regions
from verishallow.studies.facets import (
    facet_statistics,
    one_layer_mean_facets,
    one_layer_regions,
    partition_volumes,
    region_polygon,
    region_vertices,
)


# ----- 1-D breakpoints ------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(4))
def test_breakpoints_match_region_engine_on_interval(seed):
    net = he_network(1, [6, 5, 4], 2, seed=seed, bias="normal", bias_scale=0.7)
    bp = breakpoints(net, (-3.0, 3.0))
    part = enumerate_regions(net, Box([-3.0], [3.0]), prove_coverage=False)
    assert bp.n_regions == len(part)
    assert {pattern_key(p) for p in bp.patterns} == part.patterns()
    ends = sorted({float(f.point[0]) for r in part for f in r.facets if f.kind == "neuron"})
    assert np.allclose(ends, bp.points, rtol=0, atol=1e-8)
    # each piece's affine model is that region's alpha, beta
    for k, p in enumerate(bp.patterns):
        r = part[part.find(p)]
        assert np.allclose(bp.slopes[k], r.alpha[:, 0], atol=1e-10)
        assert np.allclose(bp.intercepts[k], r.beta, atol=1e-10)


def test_breakpoints_against_dense_sampling_on_R():
    net = he_network(1, [16, 16, 16], 1, seed=3)
    bp = breakpoints(net)  # all of R
    assert bp.edges[0] == -np.inf and bp.edges[-1] == np.inf
    lo, hi = bp.points[0] - 5.0, bp.points[-1] + 5.0
    X = np.linspace(lo, hi, 400_001)
    # the piecewise model reproduces the network everywhere
    assert np.allclose(bp.evaluate(X), net.forward(X[:, None]), rtol=1e-12, atol=1e-9)
    # every sampled pattern change brackets a breakpoint, and each sample's pattern is its piece's
    P = net.pattern(X[:, None])
    change = np.flatnonzero(np.any(P[1:] != P[:-1], axis=1))
    k_left, k_right = bp.locate(X[change]), bp.locate(X[change + 1])
    assert np.all(k_right > k_left)
    inside = ~np.isin(X, bp.points)
    assert np.array_equal(P[inside], bp.patterns[bp.locate(X[inside])])
    # beyond the outermost breakpoints nothing changes any more
    far = np.array([[-1e6], [1e6]])
    assert np.array_equal(net.pattern(far), bp.patterns[[0, -1]])


def test_breakpoints_one_layer_and_degenerate_cases():
    W1 = np.array([[1.0], [2.0], [0.0], [-1.0]])
    b1 = np.array([-1.0, 1.0, 3.0, 0.5])
    net = ReLUNetwork([W1, np.ones((1, 4))], [b1, np.zeros(1)])
    bp = breakpoints(net)
    assert np.allclose(bp.points, sorted([1.0, -0.5, 0.5]))  # the w = 0 neuron has none
    # a neuron feeding nothing changes the pattern but not f
    net2 = ReLUNetwork([W1, np.array([[1.0, 1.0, 1.0, 0.0]])], [b1, np.zeros(1)])
    bp2 = breakpoints(net2)
    assert bp2.n_regions == 4 and bp2.n_linear_regions == 3
    with pytest.raises(InputError):
        breakpoints(he_network(2, [3], 1), (0, 1))
    with pytest.raises(InputError):
        breakpoints(net, (1.0, 1.0))


def test_breakpoints_bias_scale_invariance_on_R():
    # scaling every bias by c > 0 is x -> x/c on the input and y -> c y on the output,
    # so the count on all of R does not depend on the bias scale
    base = he_network(1, [12, 12, 12], 1, seed=5, bias="normal", bias_scale=1.0)
    scaled = ReLUNetwork(base.weights, [3.7 * b for b in base.biases])
    a, b = breakpoints(base), breakpoints(scaled)
    assert a.n_regions == b.n_regions
    assert np.allclose(3.7 * a.points, b.points)


# ----- facets and volumes -----------------------------------------------------------------------
def test_one_layer_closed_forms_on_whole_plane():
    net = he_network(2, [7], 1, seed=1)
    part = enumerate_regions(net, Whole(2), prove_coverage=False)
    st = facet_statistics(part)
    assert st["regions"] == one_layer_regions(7, 2) == 29
    assert np.isclose(st["mean_facets"], one_layer_mean_facets(7, 2))
    assert st["mean_facets"] <= 4


def test_volumes_tile_the_box_2d_and_3d():
    for d, widths in ((2, [6, 6]), (3, [5, 4])):
        net = he_network(d, widths, 1, seed=d)
        box = Box([-1.0] * d, [1.5] * d)
        part = enumerate_regions(net, box, prove_coverage=False)
        vols = partition_volumes(part)
        assert np.all(vols > 0)
        assert np.isclose(vols.sum(), 2.5 ** d, rtol=1e-10)
        # against Monte-Carlo: each region's volume fraction vs its share of random points
        rng = np.random.default_rng(0)
        X = rng.uniform(-1.0, 1.5, size=(200_000, d))
        ids = part.locate(X)
        share = np.bincount(ids[ids >= 0], minlength=len(part)) / len(X)
        assert np.allclose(share, vols / 2.5 ** d, atol=5e-3)


def test_region_vertices_of_a_square_cell():
    # one neuron per axis through the origin: four quadrant squares of side 1 in [-1, 1]^2
    net = ReLUNetwork([np.eye(2), np.ones((1, 2))], [np.zeros(2), np.zeros(1)])
    part = enumerate_regions(net, Box([-1, -1], [1, 1]), prove_coverage=False)
    assert len(part) == 4
    for r in part:
        V = region_vertices(r)
        assert len(V) == 4
        P = region_polygon(r)
        e1, e2 = P[1] - P[0], P[2] - P[1]
        assert np.isclose(abs(e1[0] * e2[1] - e1[1] * e2[0]), 1.0)  # unit square, in order
    assert facet_statistics(part)["mean_facets"] == 4.0


# ----- plane engine and depth statistics --------------------------------------------------------
@pytest.mark.parametrize("widths", [[5, 5, 5], [3] * 8, [8, 4]])
def test_plane_regions_match_lp_engine(widths):
    net = he_network(2, widths, 2, seed=len(widths))
    box = Box([-1, -1], [1, 1])
    pr = plane_regions(net, box)
    part = enumerate_regions(net, box, prove_coverage=False)
    assert len(pr) == len(part)
    area = dict(zip((pattern_key(p) for p in pr.patterns), pr.areas, strict=True))
    vols = partition_volumes(part)
    for r, v in zip(part, vols, strict=True):
        assert np.isclose(area[r.key], v, rtol=1e-9, atol=1e-12)
    for p, a, b in zip(pr.patterns, pr.alphas, pr.betas, strict=True):
        r = part[part.find(p)]
        assert np.allclose(a, r.alpha) and np.allclose(b, r.beta)


def test_depth_statistics_engines_agree_and_constant_fraction():
    box = Box([-1, -1], [1, 1])
    pairs = fixed_pairs(box, 64)
    # a network whose second layer dies on x0 < 0: f is constant on half the box
    W1 = np.array([[1.0, 0.0], [0.0, 1.0]])
    W2 = np.array([[1.0, 0.0]])
    net = ReLUNetwork([W1, W2, np.array([[2.0]])], [np.zeros(2), np.zeros(1), np.zeros(1)])
    for engine in ("plane", "lp"):
        st = depth_statistics(net, box, pairs, engine=engine)
        assert np.isclose(st["constant_fraction"], 0.5)
        assert st["volume_error"] < 1e-12
    rnd = he_network(2, [6] * 6, 6, seed=2)
    a = depth_statistics(rnd, box, pairs, engine="plane")
    b = depth_statistics(rnd, box, pairs, engine="lp")
    assert a["regions"] == b["regions"]
    assert np.isclose(a["constant_fraction"], b["constant_fraction"], atol=1e-12)
    X, Y = pairs
    ratio = np.mean(np.linalg.norm(rnd(X) - rnd(Y), axis=1) / np.linalg.norm(X - Y, axis=1))
    assert np.isclose(a["distance_ratio"], ratio)


def test_he_network_statistics():
    net = he_network(4, [400], 1, seed=0)
    w = net.weights[0]
    assert abs(w.var() - 2 / 4) < 0.05
    assert np.all(np.abs(net.biases[0]) <= 0.5)
    with pytest.raises(InputError):
        he_network(2, [3], 1, bias="bogus")

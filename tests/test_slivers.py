"""The graph search walks *through* slivers (issue 14).

Exact construction: two neurons ``relu(x - 1)`` and ``relu(x - (1 + g))`` with ``g = 1e-10`` cut
the box ``[lo, 3] x [0, 1]`` into ``x < 1`` (both off), the strip ``1 < x < 1 + g`` (a
full-dimensional sliver of inscribed radius ``g / 2``, below ``REGION_RADIUS_TOL``, so not a
region) and ``x > 1 + g`` (both on). The two regions share no facet: each is reachable from the
other only across the sliver. Before the walk-through the graph search stopped at the sliver and
returned one region (its coverage proof then failed: sound, but short).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from verishallow.domain import Box
from verishallow.network import ReLUNetwork
from verishallow.regions import enumerate_regions, stream_regions
from verishallow.regions.tolerances import REGION_RADIUS_TOL

GAP = 1e-10


def sliver_net(gap: float = GAP) -> ReLUNetwork:
    return ReLUNetwork([np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([[1.0, -1.0]])],
                       [np.array([-1.0, -(1.0 + gap)]), np.array([0.0])])


def patterns(part) -> list[tuple[bool, ...]]:
    return sorted(tuple(bool(b) for b in r.pattern) for r in part)


def test_the_construction_is_a_sliver_exactly():
    # the strip's exact width is the difference of the two exact offsets: positive, and its
    # inscribed radius (half the width) is below the region tolerance
    width = Fraction(1.0 + GAP) - Fraction(1.0)
    assert 0 < width / 2 < Fraction(REGION_RADIUS_TOL)


@pytest.mark.parametrize("lo", [0.0, 0.9, 1.5])  # start left of the sliver, near it, right
def test_graph_search_finds_the_region_beyond_a_sliver(lo):
    net = sliver_net()
    dom = Box([lo, 0.0], [3.0, 1.0])
    part = enumerate_regions(net, dom, "graph")  # with the coverage proof
    expected = [(False, False), (True, True)] if lo < 1 else [(True, True)]
    assert patterns(part) == expected
    assert part.complete
    # no facet joins the two regions: they are neighbours of nothing but the sliver
    assert part.graph.number_of_edges() == 0
    if lo < 1:
        assert any(r > 0 for _, r in part.stats["rejected"])


@pytest.mark.parametrize("method", ["subdivision", "skeleton"])
def test_engines_agree_across_the_sliver(method):
    net, dom = sliver_net(), Box([0.0, 0.0], [3.0, 1.0])
    graph = enumerate_regions(net, dom, "graph", prove_coverage=False)
    other = enumerate_regions(net, dom, method, prove_coverage=False)
    assert patterns(graph) == patterns(other) == [(False, False), (True, True)]


def test_streamed_graph_search_walks_through_too(tmp_path):
    net, dom = sliver_net(), Box([0.0, 0.0], [3.0, 1.0])
    rs = stream_regions(net, dom, tmp_path / "store", prove_coverage=True)
    part = rs.partition(net, dom)
    assert patterns(part) == [(False, False), (True, True)]
    assert part.complete


def test_a_chain_of_slivers():
    """Three regions separated by two slivers: the walk continues through each."""
    g = GAP
    net = ReLUNetwork([np.array([[1.0, 0.0]] * 4), np.ones((1, 4))],
                      [np.array([-1.0, -(1.0 + g), -2.0, -(2.0 + g)]), np.zeros(1)])
    part = enumerate_regions(net, Box([0.0, 0.0], [3.0, 1.0]), "graph")
    assert patterns(part) == [(False,) * 4, (True, True, False, False), (True,) * 4]
    assert part.complete

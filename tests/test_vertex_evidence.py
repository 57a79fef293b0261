"""The exact kernel's small pieces and the vertex-based evidence of the partition certifier,
each against an independent computation (Fractions, brute force, HiGHS)."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from verishallow.exact.linalg import (
    FarkasError,
    basis_multipliers,
    implied_bound,
    implied_numerator,
)
from verishallow.exact.numbers import MalformedNumber, dyadic_str, parse_ratio, parse_rational
from verishallow.proofs.farkas import FarkasFinder
from verishallow.proofs.partition_checker import box_failures
from verishallow.regions.geometry import polygon_vertices, vertex_bases


def test_dyadic_str_is_the_reduced_fraction():
    rng = np.random.default_rng(0)
    for _ in range(3000):
        n = int(rng.integers(-10**6, 10**6)) * int(rng.choice([1, 2, 8, 1024]))
        e = int(rng.integers(-40, 12))
        assert dyadic_str(n, e) == str(Fraction(n) * Fraction(2) ** e)


@pytest.mark.parametrize("bad", ["1.5", "inf", "1/0", "", "/3", "1/-2", " 1", 3])
def test_parse_ratio_is_strict(bad):
    with pytest.raises(MalformedNumber):
        parse_ratio(bad)


def test_parse_ratio_keeps_the_integers():
    assert parse_ratio("-6/4") == (-6, 4)
    assert parse_ratio("7") == (7, 1)
    assert parse_rational("-6/4") == Fraction(-3, 2)


def test_implied_numerator_is_the_farkas_test():
    keys = [(1, 0, 3), (0, 1, 5), (1, 1, 7)]
    # x + 2y <= 1*3 + 2*5 with multipliers (1, 2, 0) -- over a denominator of 2
    assert implied_numerator(keys, [2, 4, 0], 2, [1, 2]) == 26
    assert implied_bound(keys, [Fraction(1), Fraction(2), Fraction(0)], [1, 2]) == 13
    with pytest.raises(FarkasError, match="negative"):
        implied_numerator(keys, [2, -4, 0], 2, [1, 2])
    with pytest.raises(FarkasError, match="reproduce"):
        implied_numerator(keys, [2, 2, 0], 2, [1, 2])
    with pytest.raises(FarkasError, match="denominator"):
        implied_numerator(keys, [1, 2, 0], 0, [1, 2])


@pytest.mark.parametrize("n", [2, 3, 4])
def test_basis_multipliers_solve_the_square_system(n):
    """Against Fractions: sum (nums_k / den) keys_k[:n] == target, for random integer bases
    (Cramer's rule in the plane, elimination above); dependent normals are refused."""
    rng = np.random.default_rng(n)
    for _ in range(300):
        keys = [tuple(int(v) for v in rng.integers(-9, 10, size=n + 1)) for _ in range(n)]
        target = [int(v) for v in rng.integers(-9, 10, size=n)]
        M = [[Fraction(keys[k][j]) for k in range(n)] for j in range(n)]
        det = _det(M)
        if det == 0:
            if not any(target):
                continue
            try:
                nums, den = basis_multipliers(keys, target)
            except FarkasError:
                continue
            # a dependent basis may still reach the target: then the solution is exact
            assert all(sum(Fraction(nums[k], den) * keys[k][j] for k in range(n)) == target[j]
                       for j in range(n))
            continue
        nums, den = basis_multipliers(keys, target)
        assert den > 0
        for j in range(n):
            assert sum(Fraction(nums[k], den) * keys[k][j] for k in range(n)) == target[j]
    with pytest.raises(FarkasError, match="parallel"):
        basis_multipliers([(1, 2, 0), (2, 4, 1)], [1, 0])
    with pytest.raises(FarkasError, match="needs 2"):
        basis_multipliers([(1, 2, 0)], [1, 0])


def _det(M: list[list[Fraction]]) -> Fraction:
    """Laplace expansion (independent of the elimination under test)."""
    if len(M) == 1:
        return M[0][0]
    return sum((-1) ** c * M[0][c] * _det([row[:c] + row[c + 1:] for row in M[1:]])
               for c in range(len(M)))


@pytest.mark.parametrize("n", [2, 3])  # the plane has its own unrolled loop
def test_box_failures_matches_brute_force_over_the_corners(n):
    rng = np.random.default_rng(1)
    for _ in range(300):
        upper = [None if rng.random() < 0.15 else Fraction(int(rng.integers(0, 9)), 4)
                 for _ in range(n)]
        lower = [None if rng.random() < 0.15 else Fraction(-int(rng.integers(0, 9)), 3)
                 for _ in range(n)]
        keys = [(*(int(v) for v in rng.integers(-3, 4, size=n)), int(rng.integers(-2, 9)))
                for _ in range(8)]
        want = []
        for r, k in enumerate(keys):
            # the max of h.x over the box: at a corner, or unbounded along an open side
            open_side = any((k[j] > 0 and upper[j] is None) or (k[j] < 0 and lower[j] is None)
                            for j in range(n))
            if open_side:
                want.append(r)
                continue
            corners = itertools.product(*[[lower[j] or 0, upper[j] or 0] for j in range(n)])
            if max(sum(Fraction(k[j]) * x[j] for j in range(n)) for x in corners) > k[n]:
                want.append(r)
        assert box_failures(keys, upper, lower).tolist() == want


def _random_polygon(rng, unbounded: bool):
    """Unit rows tangent to a circle around the origin at sorted random angles: every row is
    a facet (irredundant). ``unbounded``: the angles span less than pi."""
    m = int(rng.integers(3, 9))
    span = rng.uniform(0.3, np.pi - 0.3) if unbounded else 2 * np.pi
    ang = np.sort(rng.uniform(0, span, m)) + rng.uniform(0, 2 * np.pi)
    if not unbounded:  # no gap of pi or more
        ang = np.sort(rng.uniform(0, 2 * np.pi, m))
        while np.max(np.diff(np.r_[ang, ang[0] + 2 * np.pi])) >= np.pi - 0.1:
            ang = np.sort(rng.uniform(0, 2 * np.pi, m))
    H = np.stack([np.cos(ang), np.sin(ang)], axis=1)
    c = np.full(m, rng.uniform(0.5, 2.0))  # tangent to one circle: every row is a facet
    return H, c


@pytest.mark.parametrize("unbounded", [False, True])
def test_polygon_vertices_are_the_tight_pairs(unbounded):
    """Every proposed vertex is feasible with its two rows tight, and every feasible
    intersection of two rows (brute force) is proposed; the bounded flag is right."""
    rng = np.random.default_rng(2 + unbounded)
    for _ in range(100):
        H, c = _random_polygon(rng, unbounded)
        got = polygon_vertices(H[:, 0].tolist(), H[:, 1].tolist(), c.tolist())
        brute = set()
        for i, j in itertools.combinations(range(len(c)), 2):
            M = H[[i, j]]
            if abs(np.linalg.det(M)) < 1e-9:
                continue
            v = np.linalg.solve(M, c[[i, j]])
            if np.all(H @ v <= c + 1e-9):
                brute.add((i, j))
        assert got is not None
        verts, bounded = got
        assert bounded == (not unbounded)
        assert {(min(i, j), max(i, j)) for _, _, i, j in verts} == brute
        for x, y, i, j in verts:
            assert np.all(H @ [x, y] <= c + 1e-9)
            assert abs(H[i] @ [x, y] - c[i]) < 1e-9 and abs(H[j] @ [x, y] - c[j]) < 1e-9


def test_vertex_bases_of_an_unbounded_3d_region_skip_the_artificial_cube():
    """A cone-like unbounded region in 3-D: the vertices come from its intersection with an
    artificial cube, and only bases made of the region's own rows are kept."""
    # x <= 1, y <= 1, x + y + z <= 3, -z <= 5 ... unbounded towards -x, -y (z bounded below)
    H = np.array([[1.0, 0, 0], [0, 1, 0], [1, 1, 1], [0, 0, -1]])
    H = H / np.linalg.norm(H, axis=1)[:, None]
    c = np.array([1.0, 1.0, 3 / np.sqrt(3), 5.0])
    V, bases, bounded = vertex_bases(H, c, np.zeros(3))
    assert not bounded
    assert (bases < len(c)).all()
    for v, b in zip(V, bases, strict=True):
        assert np.all(H @ v <= c + 1e-9)
        assert np.allclose(H[b] @ v, c[b])
    # the one real vertex with x, y, z all tight: (1, 1, 1)
    assert any(np.allclose(v, [1, 1, 1]) for v in V)


def test_unbounded_polygon_evidence_needs_no_lp():
    """Every implied row of an unbounded 2-D region gets exact multipliers from its vertices
    alone (no LP), and they pass the checker's Farkas test; a row that is not implied gets
    none."""
    # facets: y <= 0, x - y <= 0 ... the wedge below y = 0 and left of x = y
    keys = [(0, 1, 0), (1, -1, 0)]
    fk = FarkasFinder(keys, 2)
    fk.use_vertices(np.array([-2.0, -1.0]))
    implied = [(1, 0, 0), (1, 1, 0), (2, -1, 1), (0, 1, 4)]
    for *h, c in implied:
        lam = fk.prove_at_vertex(h, Fraction(c))
        assert lam is not None, (h, c)
        ks = sorted(lam)
        assert implied_bound([keys[k] for k in ks], [lam[k] for k in ks], h) <= c
    assert fk.prove_at_vertex([-1, 0], Fraction(10)) is None  # unbounded towards -x
    assert fk.bounded is False
    assert fk.lps == 0


def test_box_bounds_of_a_bounded_polygon_are_tight_and_lp_free():
    """A triangle's coordinate bounds from its vertices equal the exact extremes."""
    keys = [(-1, 0, 0), (0, -1, 0), (1, 1, 4)]  # x >= 0, y >= 0, x + y <= 4
    fk = FarkasFinder(keys, 2)
    fk.use_vertices(np.array([1.0, 1.0]))
    for t, sgn, want in [(0, 1, 4), (0, -1, 0), (1, 1, 4), (1, -1, 0)]:
        target = [sgn * int(u == t) for u in range(2)]
        lam = fk.prove_at_vertex(target, 10 ** 300)
        assert lam is not None
        assert sum(v * keys[k][2] for k, v in lam.items()) == want
    assert fk.bounded is True and fk.lps == 0
    assert math.isclose(float(fk.c[2]), 4 / math.sqrt(2))


def test_unit_lists_normalise_integers_of_any_size():
    """Float unit normals of exact rows, for small integers and for integers beyond a float's
    range (scaled first), against the exact direction."""
    from verishallow.proofs.farkas import unit_lists

    rng = np.random.default_rng(3)
    for scale in (1, 1 << 200, 1 << 1100):
        keys = [tuple(int(v) * scale for v in rng.integers(-50, 51, size=3)) for _ in range(20)]
        keys = [k for k in keys if any(k[:2])]
        H, c = unit_lists(keys, 2)
        for k, h, off in zip(keys, H, c, strict=True):
            nrm = float(Fraction(k[0] ** 2 + k[1] ** 2) ** 0.5) if scale == 1 else None
            assert abs(h[0] ** 2 + h[1] ** 2 - 1) < 1e-12
            # the same direction and offset as the exact row divided by its norm
            ratio = Fraction(k[0]) / k[1] if k[1] else None
            if ratio is not None and h[1]:
                assert abs(h[0] / h[1] - float(ratio)) <= 1e-12 * max(1.0, abs(float(ratio)))
            assert np.sign(h[0]) == np.sign(k[0]) and np.sign(h[1]) == np.sign(k[1])
            big = max(abs(k[0]), abs(k[1]))
            want = float(Fraction(k[2], big)) / np.hypot(float(Fraction(k[0], big)),
                                                          float(Fraction(k[1], big)))
            assert abs(off - want) <= 1e-12 * max(1.0, abs(want))
            if nrm is not None:
                assert abs(h[0] - k[0] / nrm) < 1e-12


def test_round_ratio_is_the_nearest_weaker_float():
    """The certifier's box bounds: a float at least as weak as p / q, and the nearest one."""
    import math

    from verishallow.proofs.partition import _round_ratio

    rng = np.random.default_rng(4)
    cases = [(1, 3), (-1, 3), (2, 4), (0, 5), (7, -2), ((1 << 130) + 1, 3 << 70)]
    cases += [(int(rng.integers(-10**12, 10**12)) * (1 << int(rng.integers(0, 90))),
               int(rng.integers(1, 10**9))) for _ in range(300)]
    for p, q in cases:
        v = Fraction(p, q)
        up, down = _round_ratio(p, q, True), _round_ratio(p, q, False)
        assert down <= v <= up
        assert Fraction(math.nextafter(float(up), -math.inf)) < v or up == v
        assert Fraction(math.nextafter(float(down), math.inf)) > v or down == v


def test_axis_pairs_are_vertex_pairs_of_the_axes():
    """The one-pass box bases equal vertex_pair for each of the four directions, on random
    polygons (bounded and not) around the origin."""
    rng = np.random.default_rng(8)
    for _ in range(200):
        m = int(rng.integers(3, 9))
        keys = []
        for _k in range(m):
            h = [int(v) for v in rng.integers(-9, 10, size=2)]
            if not any(h):
                h = [1, 0]
            keys.append((h[0], h[1], int(rng.integers(1, 20))))
        fk = FarkasFinder(keys, 2)
        fk.use_vertices(np.zeros(2))
        got = fk.axis_pairs(10 ** 300)
        for t in (0, 1):
            for sgn in (1, -1):
                target = [sgn * int(u == t) for u in range(2)]
                assert got[(t, sgn)] == fk.vertex_pair(target, 10 ** 300)

"""Finding Farkas evidence: floats propose, exact arithmetic decides.

A region's facet inequalities imply another inequality iff non-negative multipliers combine
them into it (Farkas). :class:`FarkasFinder` proposes the multipliers' support with HiGHS (or
with the basis of the region's extreme vertex, from one qhull call) and solves for them exactly
on that support (:mod:`verishallow.exact.linalg`), falling back to the exact simplex; what it
returns passes the checkers' own test (:func:`~verishallow.exact.linalg.implied_bound`). Used by
the partition and the equivalence certifiers.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from fractions import Fraction

import numpy as np

from ..exact.linalg import (
    FarkasError,
    basis_multipliers,
    implied_bound,
    plane_basis,
    plane_multipliers,
    simplex,
    solve_support,
)
from ..regions.geometry import polygon_vertices, vertex_bases
from ..solvers import lp
from .tolerances import SUPPORT_TOL

#: Vertices tried (the extreme one, then near-ties) before an implication falls back to an LP.
VERTEX_TRIES = 4


def unit_lists(keys: list[tuple[int, ...]], n: int) -> tuple[list[list[float]], list[float]]:
    """Unit-normal float copies ``(rows, offsets)`` of exact integer inequalities, as lists
    (floats only propose: LPs, vertices). Integers of any size: divided by the largest first."""
    H: list[list[float]] = []
    c: list[float] = []
    for k in keys:
        try:
            row, off = [float(v) for v in k[:n]], float(k[n])
            nrm = math.hypot(*row)  # no overflow in the squares
        except OverflowError:  # beyond a float's range: scale by the largest first
            big = max(abs(v) for v in k[:n])
            row, off = [v / big for v in k[:n]], k[n] / big
            nrm = math.hypot(*row)
        H.append([x / nrm for x in row])
        c.append(off / nrm)
    return H, c


def unit_rows(keys: list[tuple[int, ...]], n: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`unit_lists` as arrays ``(H, c)``."""
    H, c = unit_lists(keys, n)
    return np.array(H, dtype=np.float64).reshape(len(keys), n), np.array(c, dtype=np.float64)


def _ranked(verts: list, scores: list[float]) -> Iterator:
    """The first ``VERTEX_TRIES`` vertices by decreasing score (ties in list order), sorting
    only when the first (the extreme vertex, which almost always serves) is not enough."""
    if not verts:
        return
    best = 0
    for k in range(1, len(scores)):
        if scores[k] > scores[best]:
            best = k
    yield verts[best]
    ranked = sorted(range(len(verts)), key=lambda k: -scores[k])  # stable: ties in order
    for k in ranked[1:VERTEX_TRIES]:
        yield verts[k]


class FarkasFinder:
    """Finds exact multipliers over a fixed list of facet inequalities."""

    def __init__(self, fkeys: list[tuple[int, ...]], n: int):
        self.K = fkeys
        self.n = n
        self.lps = 0
        self._inner: np.ndarray | None = None
        self._vertices: tuple | None = None  # () when there are none
        #: False once the vertices show the region unbounded (None: not known)
        self.bounded: bool | None = None
        self._unit: tuple[np.ndarray, np.ndarray] | None = None
        self._lp: lp.RowBoundsFamily | None = None

    @property
    def H(self) -> np.ndarray:
        """Unit normals of the facets (floats; they only propose)."""
        return self._unit_rows()[0]

    @property
    def c(self) -> np.ndarray:
        """Offsets of the unit-normal facets."""
        return self._unit_rows()[1]

    def _unit_rows(self) -> tuple[np.ndarray, np.ndarray]:
        if self._unit is None:
            self._unit = unit_rows(self.K, self.n) if self.K else \
                (np.zeros((0, self.n)), np.zeros(0))
        return self._unit

    def prove(self, target: list[int], tc: Fraction, exact_fallback: bool = True
              ) -> dict[int, Fraction] | None:
        """Exact multipliers implying ``target . x <= tc``, or None.

        HiGHS proposes the support; the system is then solved exactly on it. If that fails
        (degenerate or inexact support) the exact simplex decides, unless ``exact_fallback`` is
        off and the LP itself found no multipliers (an unbounded direction, for box bounds).
        """
        n = self.n
        if not self.K:
            return None
        big = max(abs(v) for v in target)
        t = np.array([v / big for v in target])
        scale = float(np.linalg.norm(t))
        t = t / scale
        self.lps += 1
        if self._lp is None:
            self._lp = lp.RowBoundsFamily(self.c, self.H.T, np.zeros(len(self.K)),
                                          np.full(len(self.K), lp.INF))
        sol = self._lp.solve(t, t)
        if sol.ok:
            lam = sol.x
            top = float(lam.max()) if lam.size else 0.0
            S = [k for k in range(len(self.K)) if lam[k] > SUPPORT_TOL * max(top, 1e-300)]
            if S:
                ex = solve_support(self.K, S, target)
                if ex is not None and self._ok(ex, target, tc):
                    return ex
        elif not exact_fallback:
            return None
        # exact fallback: minimise the offset over all multipliers
        M = [[Fraction(k[j]) for k in self.K] for j in range(n)]
        cost = [Fraction(k[n]) for k in self.K]
        lam_ex = simplex(M, [Fraction(v) for v in target], cost)
        if lam_ex is not None:
            ex = {k: v for k, v in enumerate(lam_ex) if v != 0}
            if ex and self._ok(ex, target, tc):
                return ex
        return None

    def use_vertices(self, inner: np.ndarray) -> None:
        """Let :meth:`prove_at_vertex` use the region's vertices (found on first use around
        the interior point ``inner``)."""
        self._inner = inner

    def _find_vertices(self) -> tuple | None:
        """The region's vertices, bounded or not, each with a basis of ``d`` facets tight there
        (:func:`~verishallow.regions.geometry.vertex_bases`; in 2-D a list of ``(x, y, i, j)``
        from :func:`~verishallow.regions.geometry.polygon_vertices`)."""
        if self._inner is None or self.n < 2 or len(self.K) < self.n:
            return None
        if self.n == 2:
            H, cs = unit_lists(self.K, 2)
            found2 = polygon_vertices([h[0] for h in H], [h[1] for h in H], cs)
            if found2 is None:
                return None
            verts, self.bounded = found2
            return (verts,)
        found = vertex_bases(self.H, self.c, self._inner)
        if found is None:
            return None
        V, bases, self.bounded = found
        return V, bases

    def has_vertices(self) -> bool:
        """Whether :meth:`prove_at_vertex` has vertices to work with (finds them once)."""
        if self._vertices is None:
            if self._inner is None:
                return False
            self._vertices = self._find_vertices() or ()
        return bool(self._vertices)

    def prove_at_vertex(self, target: list[int], tc: Fraction) -> dict[int, Fraction] | None:
        """Exact multipliers implying ``target . x <= tc`` from the basis of the region's
        extreme vertex in direction ``target`` (then near-ties), or None: no LP. Its
        multipliers are non-negative unless the vertex is degenerate; the caller falls back
        to :meth:`prove` then. Needs :meth:`use_vertices` first."""
        if not self.has_vertices():
            return None
        if self.n == 2:
            found = self.vertex_pair(target, tc)
            if found is None:
                return None
            i, j, (ni, nj), det = found
            return {k: Fraction(v, det) for k, v in ((i, ni), (j, nj)) if v}
        V, simplices = self._vertices
        score = V @ np.array([float(v) for v in target])
        for k in np.argsort(-score)[:VERTEX_TRIES]:
            S = sorted(int(i) for i in simplices[k])
            ex = solve_support(self.K, S, target)
            if ex and self._ok(ex, target, tc):
                return ex
        return None

    def axis_pairs(self, tc: int
                   ) -> dict[tuple[int, int], tuple[int, int, list[int], int] | None]:
        """:meth:`vertex_pair` ``(sgn * e_t, tc)`` of the four plane directions, keyed
        ``(t, sgn)``, from one pass over the vertices: the extreme vertex in each direction
        first (as :meth:`vertex_pair` ranks them), its near-ties only where that one does not
        serve."""
        out: dict[tuple[int, int], tuple[int, int, list[int], int] | None] = {}
        if not self.has_vertices():
            return {(t, sgn): None for t in (0, 1) for sgn in (1, -1)}
        (verts,) = self._vertices
        for t in (0, 1):
            coords = [v[t] for v in verts]
            for sgn in (1, -1):
                # the first extreme vertex, as vertex_pair ranks them
                best = 0
                for k in range(1, len(coords)):
                    if sgn * coords[k] > sgn * coords[best]:
                        best = k
                _x, _y, i, j = verts[best]
                target = [sgn * int(u == t) for u in range(2)]
                out[(t, sgn)] = self._plane_pair(i, j, target, tc, 1) or \
                    self.vertex_pair(target, tc)
        return out

    def _plane_pair(self, i: int, j: int, target: list[int] | list[Fraction],
                    tn: int, td: int) -> tuple[int, int, list[int], int] | None:
        """The basis of facets ``i`` and ``j`` (in order) as :meth:`vertex_pair` returns it,
        if its multipliers are non-negative and imply ``target . x <= tn / td``; else None."""
        i, j = min(i, j), max(i, j)
        try:
            if isinstance(target[0], int) and isinstance(target[1], int):
                # basis_multipliers' plane case, without its generic checks
                ni, nj, det = plane_multipliers(plane_basis(self.K[i], self.K[j]),
                                                target[0], target[1])
                nums = [ni, nj]
            else:
                nums, det = basis_multipliers([self.K[i], self.K[j]], target)
        except FarkasError:
            return None
        ni, nj = nums
        if ni < 0 or nj < 0 or (ni == 0 and nj == 0):
            return None
        if (ni * self.K[i][2] + nj * self.K[j][2]) * td > tn * det:
            return None
        return i, j, nums, det

    def vertex_pair(self, target: list[int], tc: Fraction | int
                    ) -> tuple[int, int, list[int], int] | None:
        """2-D fast path of :meth:`prove_at_vertex`: the two facets ``i < j`` tight at the
        extreme vertex in direction ``target`` (then near-ties) whose multipliers
        ``nums / det`` (:func:`~verishallow.exact.linalg.basis_multipliers`, the checkers'
        own solve) are non-negative and imply ``target . x <= tc``; ``(i, j, nums, det)`` or
        None. A certificate may name just the pair."""
        if not self.has_vertices():
            return None
        (verts,) = self._vertices
        big = max(abs(target[0]), abs(target[1]))
        t0, t1 = target[0] / big, target[1] / big
        scores = [t0 * v[0] + t1 * v[1] for v in verts]
        tcf = tc if isinstance(tc, int) else Fraction(tc)
        tn, td = (tcf, 1) if isinstance(tcf, int) else (tcf.numerator, tcf.denominator)
        for _x, _y, i, j in _ranked(verts, scores):
            found = self._plane_pair(i, j, target, tn, td)
            if found is not None:
                return found
        return None

    def _ok(self, lam: dict[int, Fraction], target: list[int], tc: Fraction) -> bool:
        """The checker's test (:func:`~verishallow.exact.linalg.implied_bound`): ``lam >= 0``
        reproduces ``target`` and its bound is at most ``tc``."""
        if not lam:
            return False
        ks = list(lam)
        try:
            return implied_bound([self.K[k] for k in ks], [lam[k] for k in ks], target) <= tc
        except FarkasError:
            return False

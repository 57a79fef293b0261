"""Finding Farkas evidence: floats propose, exact arithmetic decides.

A region's facet inequalities imply another inequality iff non-negative multipliers combine
them into it (Farkas). :class:`FarkasFinder` proposes the multipliers' support with HiGHS (or
with the basis of the region's extreme vertex, from one qhull call) and solves for them exactly
on that support (:mod:`verishallow.exact.linalg`), falling back to the exact simplex; what it
returns passes the checkers' own test (:func:`~verishallow.exact.linalg.implied_bound`). Used by
the partition and the equivalence certifiers.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from ..exact.linalg import FarkasError, implied_bound, simplex, solve_support
from ..regions.geometry import polar_dual_vertices
from ..solvers import lp
from .tolerances import SUPPORT_TOL

#: Vertices tried (the extreme one, then near-ties) before an implication falls back to an LP.
VERTEX_TRIES = 4


def unit_rows(keys: list[tuple[int, ...]], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit-normal float copies of exact integer inequalities (for the LP only)."""
    H = np.zeros((len(keys), n))
    c = np.zeros(len(keys))
    for r, k in enumerate(keys):
        big = max(abs(v) for v in k[:n])
        row = np.array([v / big for v in k[:n]])
        nrm = float(np.linalg.norm(row))
        H[r] = row / nrm
        c[r] = (k[n] / big) / nrm
    return H, c


class FarkasFinder:
    """Finds exact multipliers over a fixed list of facet inequalities."""

    def __init__(self, fkeys: list[tuple[int, ...]], n: int):
        self.K = fkeys
        self.n = n
        self.H, self.c = unit_rows(fkeys, n) if fkeys else (np.zeros((0, n)), np.zeros(0))
        self.lps = 0
        self._inner: np.ndarray | None = None
        self._vertices: tuple | None = None  # () when there are none
        self._lp = lp.RowBoundsFamily(self.c, self.H.T, np.zeros(len(fkeys)),
                                      np.full(len(fkeys), lp.INF))

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

    def _find_vertices(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The region's vertices, each with a basis of ``d`` facets tight there (one qhull call
        on the polar dual, :func:`~verishallow.regions.geometry.polar_dual_vertices`)."""
        if self._inner is None or self.n < 2 or len(self.H) <= self.n:
            return None
        return polar_dual_vertices(self.H, self.c, self._inner)

    def prove_at_vertex(self, target: list[int], tc: Fraction) -> dict[int, Fraction] | None:
        """Exact multipliers implying ``target . x <= tc`` from the basis of the region's
        extreme vertex in direction ``target`` (then near-ties), or None: no LP. Its
        multipliers are non-negative unless the vertex is degenerate; the caller falls back
        to :meth:`prove` then. Needs :meth:`use_vertices` first."""
        if self._vertices is None:
            if self._inner is None:
                return None
            self._vertices = self._find_vertices() or ()
        if not self._vertices:
            return None
        V, simplices = self._vertices
        score = V @ np.array([float(v) for v in target])
        for k in np.argsort(-score)[:VERTEX_TRIES]:
            ex = solve_support(self.K, sorted(int(i) for i in simplices[k]), target)
            if ex and self._ok(ex, target, tc):
                return ex
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

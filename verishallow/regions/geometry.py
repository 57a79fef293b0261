"""Geometry of one activation pattern: is it a region, what are its facets, who is across.

Works in the domain's reduced (free) coordinates; :mod:`.search` lifts results back. Each
pattern costs one Chebyshev LP, ``2 d`` bounding-box LPs (only when there are enough candidate
rows to make screening pay) and one facet LP per surviving candidate row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..bounds import Bounds
from ..network import ReLUNetwork
from ..solvers import lp
from .tolerances import (
    ANGLE_GAP_TOL,
    DUAL_SCREEN_TOL,
    DUPLICATE_TOL,
    FACET_RADIUS_TOL,
    NEAR_TOL_BAND,
    PARALLEL_TOL,
    REGION_RADIUS_TOL,
    SCREEN_TOL,
    THIN_FACET_FRACTION,
    ZERO_ROW_TOL,
)

#: The bounding-box screen runs only when a region has more candidate rows than this.
SCREEN_MIN_ROWS = 12
#: Later-layer neurons that are identically zero on a region make a facet shared by several
#: neighbours; at most 2**this candidate neighbour patterns are tried per facet.
MAX_AMBIGUOUS_BITS = 12


@dataclass(frozen=True)
class LocalFacet:
    kind: str  # "neuron" | "domain"
    ids: tuple[int, ...]
    normal: np.ndarray  # unit normal, reduced coordinates
    offset: float
    point: np.ndarray  # relative interior point (reduced coordinates)
    radius: float


@dataclass(frozen=True)
class LocalRegion:
    pattern: np.ndarray
    center: np.ndarray
    radius: float
    facets: tuple[LocalFacet, ...]
    zero_neurons: np.ndarray  # neurons identically 0 on the region (zero row, zero offset)
    #: the oracle network's output map on the region (computed where the geometry is, so
    #: parallel workers do it rather than the coordinating process); None if not computed
    alpha: np.ndarray | None = None
    beta: np.ndarray | None = None


def polar_dual(H: np.ndarray, c: np.ndarray, center: np.ndarray) -> tuple | None:
    """The polar dual of ``{x : H x <= c}`` around the strictly interior ``center``: one qhull
    call whose facets are the region's vertices. Returns ``(hull, P, scale, V)`` (``P`` the
    dual points ``h_i / slack_i``, ``V[k]`` the primal vertex of dual facet ``k``, spanned by
    the rows ``hull.simplices[k]``), or None for an unbounded region or a qhull failure."""
    from scipy.spatial import ConvexHull, QhullError

    slack = c - H @ center
    if np.any(slack <= 0):
        return None
    P = H / slack[:, None]
    try:
        hull = ConvexHull(P)
    except (QhullError, ValueError):
        return None
    eq = hull.equations  # unit normal . p + offset <= 0 inside the hull
    scale = float(np.abs(P).max())
    if np.any(eq[:, -1] >= -DUAL_SCREEN_TOL * scale):
        return None  # the origin is not strictly inside: the region is unbounded
    V = center + eq[:, :-1] / (-eq[:, -1])[:, None]  # dual facet k <-> primal vertex
    return hull, P, scale, V


#: An unbounded region's vertices come from its intersection with a cube of this many times
#: its inner point's largest facet distance (plus one) around that point; vertices beyond it
#: are simply not proposed.
ARTIFICIAL_BOX_FACTOR = 1e4


def polygon_vertices(hx: list[float], hy: list[float], c: list[float]
                     ) -> tuple[list[tuple[float, float, int, int]], bool] | None:
    """The vertices ``(x, y, i, j)`` of the 2-D region ``{hx_i x + hy_i y <= c_i}`` (unit,
    irredundant rows) and whether it is bounded: facets sorted by normal angle meet
    consecutively, except across a gap of ``pi`` or more (an unbounded side). Plain Python:
    regions have a handful of facets, where numpy's per-call cost dominates."""
    m = len(c)
    angle = [math.atan2(y, x) for x, y in zip(hx, hy, strict=True)]
    order = sorted(range(m), key=angle.__getitem__)
    ang = [angle[r] for r in order]
    verts: list[tuple[float, float, int, int]] = []
    bounded = True
    for t in range(m):
        i, j = order[t], order[(t + 1) % m]
        gap = (ang[(t + 1) % m] - ang[t]) % (2 * math.pi)
        if gap >= math.pi - ANGLE_GAP_TOL:
            bounded = False
            continue
        det = hx[i] * hy[j] - hy[i] * hx[j]
        if abs(det) <= PARALLEL_TOL:
            continue
        verts.append(((c[i] * hy[j] - hy[i] * c[j]) / det,
                      (hx[i] * c[j] - c[i] * hx[j]) / det, i, j))
    return (verts, bounded) if verts else None


def vertex_bases(H: np.ndarray, c: np.ndarray, center: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, bool] | None:
    """Vertices of ``{x : H x <= c}`` (rows irredundant, ``center`` strictly inside), bounded
    or not, each with ``d`` row indices tight there: ``(V, bases, bounded)``, or None.

    Floats only propose (the certifiers verify the Farkas multipliers a basis gives exactly).
    One :func:`polar_dual`, and for an unbounded region the polar dual of its intersection
    with an artificial cube (bases touching the cube are dropped). In 2-D
    :func:`polygon_vertices` does the same without qhull."""
    m, n = H.shape
    if m < n or n < 2:
        return None
    dual = polar_dual(H, c, center)
    if dual is not None:
        return dual[3], dual[0].simplices, True
    slack = c - H @ center
    if np.any(slack <= 0):
        return None
    R = ARTIFICIAL_BOX_FACTOR * (1.0 + float(slack.max()))
    eye = np.eye(n)
    Hb = np.vstack([H, eye, -eye])
    cb = np.concatenate([c, center + R, R - center])
    dual = polar_dual(Hb, cb, center)
    if dual is None:
        return None
    V, simp = dual[3], dual[0].simplices
    real = (simp < m).all(axis=1)
    if not real.any():
        return None
    return V[real], simp[real], False


class RegionOracle:
    """Decides patterns of a network (already restricted to the free coordinates) on a domain.

    ``domain_rows`` are ``(G, h, ids)``: the domain as ``G y <= h`` with each row's index in the
    original domain's ``constraints()`` list.
    """

    def __init__(self, net: ReLUNetwork, bounds: Bounds, G: np.ndarray, h: np.ndarray,
                 domain_ids: list[int]):
        self.net = net
        self.bounds = bounds
        self.unstable = np.flatnonzero(bounds.unstable)
        self.stable_bits = bounds.stable_active  # forced value of every stable bit
        gn = np.linalg.norm(G, axis=1) if len(G) else np.zeros(0)
        self.G = G / gn[:, None] if len(G) else G
        self.h = h / gn if len(G) else h
        self.domain_ids = list(domain_ids)
        self.layer_of = np.repeat(np.arange(len(net.hidden_widths)), net.hidden_widths)
        self.lp_count = 0
        #: (pattern, radius or None when the LP failed) of patterns rejected near the tolerance
        self.rejected: list[tuple[np.ndarray, float | None]] = []

    # ------------------------------------------------------------------------------------
    def neuron_rows(self, pattern: np.ndarray, affine: tuple | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]:
        """Constraint rows of the unstable neurons: ``sigma A x <= -sigma d``.

        Returns (rows, offsets, neuron ids, zero-neurons mask, consistent); rows are unit-norm.
        A zero row is decided by its offset alone; inconsistent zero rows make the pattern empty.
        ``affine``: the pattern's ``local_affine`` if the caller has it already.
        """
        A, d, _, _ = self.net.local_affine(pattern) if affine is None else affine
        idx = self.unstable
        A, d = A[idx], d[idx]
        s = pattern[idx]
        sigma = np.where(s, -1.0, 1.0)
        H = sigma[:, None] * A
        c = -sigma * d
        norms = np.linalg.norm(H, axis=1)
        scale = max(1.0, float(np.abs(A).max()) if A.size else 1.0)
        zero = norms <= ZERO_ROW_TOL * scale
        zero_neurons = np.zeros(self.net.n_hidden, dtype=bool)
        if zero.any():
            # active needs d > 0; inactive needs d <= 0 (ReLU(0) = 0 counts as inactive)
            zd = d[zero]
            zs = s[zero]
            if np.any(zs & (zd <= 0)) or np.any(~zs & (zd > 0)):
                return H, c, idx, zero_neurons, False
            zero_neurons[idx[zero & (d == 0)]] = True
        keep = ~zero
        H, c, ids = H[keep] / norms[keep, None], c[keep] / norms[keep], idx[keep]
        return H, c, ids, zero_neurons, True

    def region(self, pattern: np.ndarray, want_facets: bool = True,
               radius_tol: float = REGION_RADIUS_TOL) -> LocalRegion | None:
        """Geometry of ``pattern``, or ``None`` if it is not a full-dimensional region (its
        inscribed ball has a radius of at most ``radius_tol``).

        A region whose radius is not above ``REGION_RADIUS_TOL`` (a sliver, asked for with a
        lower ``radius_tol``) gets every row's facet LP with a tolerance scaled to its radius
        (``THIN_FACET_FRACTION``): its facets are narrower than ``FACET_RADIUS_TOL`` and the
        polar-dual screen is not reliable at that scale."""
        pattern = np.asarray(pattern, dtype=bool)
        stable = ~self.bounds.unstable
        if np.any(pattern[stable] != self.stable_bits[stable]):
            return None
        affine = self.net.local_affine(pattern)
        H, c, ids, zero_neurons, ok = self.neuron_rows(pattern, affine)
        if not ok:
            return None
        # merge duplicated hyperplanes (identical unit normal and offset)
        rows = np.zeros((0, self.net.input_dim))
        offs = np.zeros(0)
        sorted_ids = np.zeros(0, dtype=np.int64)
        bounds_ = np.zeros(1, dtype=np.int64)
        if len(H):
            key = np.column_stack([H, c])
            order = np.lexsort(key.T[::-1])
            key = key[order]
            same = np.zeros(len(order), dtype=bool)
            same[1:] = np.abs(np.diff(key, axis=0)).max(axis=1) <= DUPLICATE_TOL
            starts = np.flatnonzero(~same)
            bounds_ = np.append(starts, len(order))
            sorted_ids = ids[order]
            rows = key[starts, :-1]
            offs = key[starts, -1]
        allH = np.vstack([rows, self.G])
        allc = np.concatenate([offs, self.h])
        self.lp_count += 1
        cheb = lp.chebyshev_center(allH, allc)
        if cheb is None or cheb[1] <= radius_tol:
            if cheb is not None and cheb[1] > -NEAR_TOL_BAND:
                self.rejected.append((pattern.copy(), float(cheb[1])))
            return None
        center, radius = cheb
        if not want_facets:
            return LocalRegion(pattern, center, radius, (), zero_neurons, affine[2], affine[3])
        n_groups = len(rows)
        facets = []
        if radius > REGION_RADIUS_TOL:
            found = self._facets(allH, allc, center)
        else:
            tol = radius * THIN_FACET_FRACTION
            found = [(i, *f) for i in range(len(allH))
                     if (f := self._facet(allH, allc, i, tol)) is not None]
        for i, point, fr in found:
            # labels only for the facets: the merged neuron group of row i, or a domain face
            if i < n_groups:
                kind = "neuron"
                fid = tuple(int(v) for v in sorted_ids[bounds_[i]:bounds_[i + 1]])
            else:
                kind, fid = "domain", (self.domain_ids[i - n_groups],)
            facets.append(LocalFacet(kind, fid, allH[i], float(allc[i]), point, fr))
        return LocalRegion(pattern, center, radius, tuple(facets), zero_neurons, affine[2],
                           affine[3])

    def _facets(self, H: np.ndarray, c: np.ndarray, center: np.ndarray
                ) -> list[tuple[int, np.ndarray, float]]:
        """``(row, relative-interior point, in-plane radius)`` of every facet of the region.

        Bounded regions use the polar dual around the interior point ``center``: row i maps to
        ``h_i / (c_i - h_i . center)`` and is irredundant iff that point is a vertex of the
        points' convex hull (one qhull call). Each hull vertex's facet point is the centroid of
        the primal vertices on it, and the facet is accepted without an LP when the in-plane
        ball around that point is already wider than ``FACET_RADIUS_TOL``; rows near the hull
        boundary and narrow facets get the exact facet LP. Unbounded regions, 1-D inputs and
        qhull failures fall back to bounding-box screening (2 d LPs) plus facet LPs.
        """
        m, d = H.shape
        if d >= 2 and m > d:
            found = self._facets_dual(H, c, center)
            if found is not None:
                return found
        cand = self._screen_box(H, c) if m > SCREEN_MIN_ROWS else np.arange(m)
        out = []
        for i in cand:
            f = self._facet(H, c, int(i))
            if f is not None:
                out.append((int(i), f[0], f[1]))
        return out

    def _facets_dual(self, H: np.ndarray, c: np.ndarray, center: np.ndarray
                     ) -> list[tuple[int, np.ndarray, float]] | None:
        dual = polar_dual(H, c, center)
        if dual is None:
            return None
        hull, P, scale, V = dual
        eq = hull.equations
        near = (P @ eq[:, :-1].T + eq[:, -1]).max(axis=1) > -DUAL_SCREEN_TOL * scale
        flat = hull.simplices.ravel()
        owner = np.repeat(np.arange(len(hull.simplices)), hull.simplices.shape[1])
        order = np.argsort(flat, kind="stable")
        starts = np.searchsorted(flat[order], np.arange(len(H) + 1))
        is_vertex = np.zeros(len(H), dtype=bool)
        is_vertex[hull.vertices] = True
        near_idx = np.flatnonzero(near)
        fast = near_idx[is_vertex[near_idx]]
        # centroid of the primal vertices on each facet (the dual simplices around vertex i)
        cnt = starts[fast + 1] - starts[fast]  # >= 1: every hull vertex lies on a simplex
        first = np.cumsum(cnt) - cnt
        sel = np.repeat(starts[fast] - first, cnt) + np.arange(int(cnt.sum()))
        if len(fast):
            points = np.add.reduceat(V[owner[order[sel]]], first, axis=0) / cnt[:, None]
        else:
            points = np.zeros((0, H.shape[1]))
        points -= ((points * H[fast]).sum(axis=1) - c[fast])[:, None] * H[fast]
        radii = _inplane_radii(H, c, fast, points)
        out = [(int(i), points[k], float(radii[k])) for k, i in enumerate(fast)
               if radii[k] > FACET_RADIUS_TOL]
        accepted = {i for i, _, _ in out}
        for i in near_idx:
            if int(i) in accepted:
                continue
            f = self._facet(H, c, int(i))
            if f is not None:
                out.append((int(i), f[0], f[1]))
        out.sort(key=lambda t: t[0])
        return out

    def _screen_box(self, H: np.ndarray, c: np.ndarray) -> np.ndarray:
        """Rows whose hyperplane meets the region's bounding box (found by 2 d LPs)."""
        m, d = H.shape
        lo, hi = np.full(d, -np.inf), np.full(d, np.inf)
        for j in range(d):
            e = np.zeros(d)
            e[j] = 1.0
            for sign in (1.0, -1.0):
                self.lp_count += 1
                sol = lp.maximize_linear(sign * e, H, c)
                if sol.ok:
                    if sign > 0:
                        hi[j] = sol.objective
                    else:
                        lo[j] = -sol.objective
        # max over the box of H x, with 0 * inf = 0
        with np.errstate(invalid="ignore"):
            top = np.where(H > 0, H * hi, np.where(H < 0, H * lo, 0.0)).sum(axis=1)
        return np.flatnonzero(~(top < c - SCREEN_TOL))

    def _facet(self, H: np.ndarray, c: np.ndarray, i: int, tol: float = FACET_RADIUS_TOL
               ) -> tuple[np.ndarray, float] | None:
        """Largest (d-1)-ball of the region inside hyperplane i, or None if it is no facet."""
        hi = H[i]
        others = np.delete(np.arange(len(H)), i)
        Ho, co = H[others], c[others]
        # a ball in the plane only sees the in-plane part of each other normal
        proj = Ho - np.outer(Ho @ hi, hi)
        pn = np.linalg.norm(proj, axis=1)
        parallel = pn <= PARALLEL_TOL
        if np.any(parallel):
            # a parallel row bounds the plane as a whole: h_j x <= c_j at h_i x = c_i
            t = Ho[parallel] @ hi  # +-1
            if np.any(t * c[i] > co[parallel] + PARALLEL_TOL):
                return None
            Ho, co, pn = Ho[~parallel], co[~parallel], pn[~parallel]
        self.lp_count += 1
        m, d = Ho.shape
        A = np.empty((m + 1, d + 1))
        A[:m, :d] = Ho
        A[:m, d] = pn
        A[m, :d] = hi
        A[m, d] = 0.0
        lo = np.full(m + 1, -lp.INF)
        lo[m] = c[i]
        up = np.empty(m + 1)
        up[:m] = co
        up[m] = c[i]
        cost = np.zeros(d + 1)
        cost[-1] = 1.0
        col_hi = np.full(d + 1, lp.INF)
        col_hi[d] = lp.RADIUS_CAP
        sol = lp.solve_lp(cost, A, lo, up, np.full(d + 1, -lp.INF), col_hi, maximize=True)
        if not sol.ok or sol.x[d] <= tol:
            return None
        return sol.x[:d], float(sol.x[d])

    # ------------------------------------------------------------------------------------
    def neighbour_patterns(self, region: LocalRegion, facet: LocalFacet) -> list[np.ndarray]:
        """Patterns of the regions across a neuron facet.

        On the facet, ``z = 0`` for the facet's neurons and every later neuron keeps its value
        (the flipped neurons output 0 on both sides), so later signs do not change, except for
        neurons identically 0 on this region: they may go either way across, so each of their
        assignments is a candidate (usually there are none).
        """
        flip = np.array(facet.ids)
        base = region.pattern.copy()
        base[flip] = ~base[flip]
        if not region.zero_neurons.any():  # the usual case, and cheap to check
            return [base]
        layer = self.layer_of[flip].min()
        amb = np.flatnonzero(region.zero_neurons & (self.layer_of > layer))
        if amb.size == 0:
            return [base]
        if amb.size > MAX_AMBIGUOUS_BITS:
            raise RuntimeError(
                f"{amb.size} neurons are identically zero beyond a facet; too degenerate to "
                f"enumerate (limit {MAX_AMBIGUOUS_BITS})"
            )
        out = []
        for code in range(1 << amb.size):
            p = base.copy()
            p[amb] = [(code >> k) & 1 == 1 for k in range(amb.size)]
            out.append(p)
        return out


def _inplane_radii(H: np.ndarray, c: np.ndarray, rows: np.ndarray, points: np.ndarray
                   ) -> np.ndarray:
    """For each facet row i (with a point p_i on its plane): the radius of the largest ball
    around p_i within plane i and every other half-space, a lower bound on the facet's in-plane
    Chebyshev radius. Rows of H are unit vectors, so the in-plane part of h_j has norm
    sqrt(1 - (h_j . h_i)^2)."""
    slack = c[:, None] - H @ points.T  # (m, k)
    cos = H @ H[rows].T
    proj = np.sqrt(np.maximum(0.0, 1.0 - cos * cos))
    own = np.zeros_like(slack, dtype=bool)
    own[rows, np.arange(len(rows))] = True
    parallel = (proj <= PARALLEL_TOL) & ~own
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(parallel | own, np.inf, slack / np.where(proj > 0, proj, 1.0))
    radii = np.minimum(ratio.min(axis=0), lp.RADIUS_CAP)
    # a parallel row cuts the whole plane away (or not at all)
    radii[np.any(parallel & (slack < 0), axis=0)] = 0.0
    return radii

"""Layer-wise subdivision (Berzins, ICML 2023): the third region engine, for 1-D and 2-D inputs.

Why a third engine: the graph engine spends an LP per candidate facet (milliseconds each), so it
cannot reach thousands of regions per second. Here the domain starts as one cell and every
neuron's hyperplane splits every cell it crosses; the sign decisions happen at cell vertices,
in numpy over all cells at once, so the cost is a few array passes per neuron. LPs are spent
only on the rare cells whose cheap geometry lies within a factor ``GEOMETRY_SAFETY`` of the named
tolerances of :mod:`.geometry`; there :meth:`RegionOracle.region` decides, with exactly the LP
the graph engine uses, so both engines report the same patterns and the same facets.

Representation. A global vertex store holds each vertex's coordinates (reduced input space),
every neuron's pre-activation at it, and a rounding scale for each value. A 2-D cell is a
counter-clockwise cycle of vertex ids with a label per edge (the neuron or domain row that made
it, or ``ART`` for the artificial bounding box); a 1-D cell is a pair of end vertices.
Pre-activations are propagated, never recomputed from coordinates: a vertex created on an edge
gets interpolated values (exact in exact arithmetic, since every pre-activation of the current
layer is affine on a cell), and layer ``l + 1`` reads ReLU of the stored layer-``l`` values. A
vertex made on a hyperplane therefore stores exactly 0 there, a neuron fed only by inactive
neurons stays exactly 0 (inactive, ReLU(0) = 0), and every sign decision reads one stored number
per (vertex, neuron), so two cells sharing an edge always split it at the same new vertex.

A value counts as zero when ``|z| <= SIGN_RTOL * scale`` (``scale = |W| |a| + |b|`` bounds the
rounding of ``z``), so a duplicated neuron or a line through an existing vertex never creates
a needle-thin cell. Thinner-than-tolerance cells that do arise are dropped at the end exactly
where the graph engine's Chebyshev LP rejects them.

Unbounded domains (``Whole``, half-open boxes, unbounded polytopes) are cut to an artificial box
of half-width ``B`` around the domain's centre. Facets on that box are not reported. The box is
large enough once every cell touching it passes a recession test: its true region
``{H x <= c}`` must equal ``P``, the polyhedron of the cell's real facets. ``P`` is the cell plus
the cone of the directions in which its boundary leaves the box (checked: the boundary rays must
not meet outside), so ``P`` lies in the region iff every row ``h`` of the region has
``h . g <= 0`` on the cone's generators ``g``. Then every region meeting the box shows all its
facets inside it, and a region entirely outside the box would be the neighbour (the pattern
with the facet's bits flipped, the same along the whole facet) of one inside across a facet
that reaches into the box: so there is none. Otherwise the run repeats with ``B`` times
``BOX_GROWTH``, from ``B`` = twice the farthest first-layer vertex (at least ``BOX_MIN``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
import numpy as np

from ..bounds import Bounds
from ..domain import Domain, Reduction
from ..errors import InputError
from ..network import ReLUNetwork, pattern_key
from ..solvers import lp
from .builder import OnRegion, Progress, RegionBuilder, prepare
from .geometry import LocalFacet, LocalRegion, RegionOracle
from .graph import RegionGraph
from .region import Facet, Region, facet_block
from .tolerances import (
    FACET_RADIUS_TOL,
    GEOMETRY_SAFETY,
    RAY_PARALLEL_TOL,
    RAY_TOL,
    REGION_RADIUS_TOL,
    SIGN_RTOL,
    ZERO_ROW_TOL,
)

#: Input dimensions (after removing fixed coordinates) this engine handles.
SUPPORTED_DIMS = (1, 2)
#: Smallest half-width of the artificial box for unbounded domains (input units).
BOX_MIN = 1.0
#: Factor by which the artificial box grows when the recession test fails.
BOX_GROWTH = 4.0
#: Largest half-width tried; beyond it the engine gives up (coordinates lose precision).
BOX_MAX = 1e8
#: Label of an edge (2-D) or end point (1-D) on the artificial box.
ART = -1


# ----- vertex store --------------------------------------------------------------------------
class _Vertices:
    """Growable arrays: coordinates ``X``, pre-activations ``Z`` and their rounding scales ``S``
    (one column per hidden neuron; columns of layers not reached yet are stale)."""

    def __init__(self, X: np.ndarray, n_neurons: int):
        n, d = X.shape
        cap = max(256, 4 * n)
        self.X = np.empty((cap, d))
        self.X[:n] = X
        self.Z = np.zeros((cap, n_neurons))
        self.S = np.zeros((cap, n_neurons))
        self.n = n

    def add(self, X: np.ndarray, Z: np.ndarray, S: np.ndarray) -> np.ndarray:
        k = len(X)
        need = self.n + k
        if need > len(self.X):
            cap = max(need, 2 * len(self.X))
            for name in ("X", "Z", "S"):
                old = getattr(self, name)
                new = np.zeros((cap, old.shape[1]))
                new[:self.n] = old[:self.n]
                setattr(self, name, new)
        w = Z.shape[1]
        self.X[self.n:need] = X
        self.Z[self.n:need, :w] = Z
        self.S[self.n:need, :w] = S
        ids = np.arange(self.n, need)
        self.n = need
        return ids

    def interpolate(self, a: np.ndarray, b: np.ndarray, t: np.ndarray, col: int, live: int
                    ) -> np.ndarray:
        """New vertices ``(1 - t) a + t b`` on edges ``(a, b)``, exactly on neuron ``col``."""
        tt = t[:, None]
        X = self.X[a] + tt * (self.X[b] - self.X[a])
        Za, Zb = self.Z[a, :live], self.Z[b, :live]
        Z = Za + tt * (Zb - Za)
        Z[:, col] = 0.0
        Sa, Sb = self.S[a, :live], self.S[b, :live]
        S = Sa + tt * (Sb - Sa)
        return self.add(X, Z, S)

    def layer_values(self, net: ReLUNetwork, layer: int) -> None:
        """Pre-activations of ``layer`` at every vertex, from the stored previous layer."""
        offs = net.layer_offsets
        n = self.n
        W, b = net.weights[layer], net.biases[layer]
        if layer == 0:
            a = self.X[:n]
        else:
            prev = slice(offs[layer - 1], offs[layer])
            z = self.Z[:n, prev]
            a = np.where(z > SIGN_RTOL * self.S[:n, prev], z, 0.0)
        cols = slice(offs[layer], offs[layer + 1])
        self.Z[:n, cols] = a @ W.T + b
        self.S[:n, cols] = np.abs(a) @ np.abs(W).T + np.abs(b)

    def signs(self, col: int) -> np.ndarray:
        z = self.Z[:self.n, col]
        band = SIGN_RTOL * self.S[:self.n, col]
        return (z > band).astype(np.int8) - (z < -band).astype(np.int8)


# ----- the result of one run, in a dimension-independent form -------------------------------
@dataclass
class _Cells:
    """Final cells of one run. A *piece* is a cell's boundary part on one hyperplane: an edge
    (2-D, two vertices) or an end point (1-D, one vertex)."""

    vs: _Vertices
    bits: np.ndarray  # (m, N) activation bits
    centroid: np.ndarray  # (m, d) strictly inside every non-degenerate cell
    r_upper: np.ndarray  # (m,) upper bound of a bounded cell's inradius (inf if unbounded)
    unbounded: np.ndarray  # (m,) touches the artificial box
    suspect: np.ndarray  # (m,) cheap geometry not trusted: the oracle decides
    piece_cell: np.ndarray
    piece_verts: np.ndarray  # (p, k) vertex ids
    piece_art: np.ndarray
    piece_radius: np.ndarray  # largest (d-1)-ball of the piece (half length; cap in 1-D)
    piece_next: np.ndarray | None  # next piece around the cell (2-D), for collinearity checks
    #: (cell, unit directions generating the recession cone of its real-facet polyhedron),
    #: or None when some cell's boundary rays meet outside the box (the box is too small)
    generators: list[tuple[int, np.ndarray]] | None = None
    degenerate_splits: int = 0
    extra: dict = field(default_factory=dict)


# ----- 2-D: polygons ---------------------------------------------------------------------------
class _Polygons:
    """Cells as counter-clockwise vertex cycles in flat arrays (``cyc``, ``lab``) with cell
    boundaries ``starts``; ``lab[p]`` labels the edge from ``cyc[p]`` to the next vertex."""

    def __init__(self, cyc: np.ndarray, lab: np.ndarray, lengths: np.ndarray, bits: np.ndarray,
                 suspect: np.ndarray):
        self.cyc, self.lab, self.bits, self.suspect = cyc, lab, bits, suspect
        self._index(lengths)
        self.degenerate = 0

    def _index(self, lengths: np.ndarray) -> None:
        m = len(lengths)
        self.starts = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(lengths, out=self.starts[1:])
        self.cell_of = np.repeat(np.arange(m), lengths)
        self.nxt = np.arange(1, len(self.cyc) + 1)
        self.nxt[self.starts[1:] - 1] = self.starts[:-1]

    @property
    def m(self) -> int:
        return len(self.starts) - 1

    def split(self, vs: _Vertices, col: int, live: int) -> None:
        """Split every cell that neuron ``col``'s line crosses (Sutherland-Hodgman on all
        crossed cells at once); set the neuron's bit of every cell."""
        sg = vs.signs(col)
        sv = sg[self.cyc]
        first = self.starts[:-1]
        active = np.maximum.reduceat(sv, first) > 0
        mixed = active & (np.minimum.reduceat(sv, first) < 0)
        self.bits[:, col] = active
        if not mixed.any():
            return
        def crossed(mixed: np.ndarray):
            """Edge slots of the mixed cells: (slots, next slots, their signs, their cells)."""
            P = np.flatnonzero(mixed[self.cell_of])
            nx = self.nxt[P]
            return P, nx, sv[P], sv[nx], self.cell_of[P]

        P, nx, si, sn, cell = crossed(mixed)
        # a convex cell crossed by a line leaves its positive side once and enters it once,
        # and has no edge on the line; rounding can break that only on needle-thin cells
        m = self.m
        exits = np.bincount(cell[(si >= 0) & (sn < 0)], minlength=m)
        enters = np.bincount(cell[(si <= 0) & (sn > 0)], minlength=m)
        flat = np.bincount(cell[(si == 0) & (sn == 0)], minlength=m)
        bad = mixed & ((exits != 1) | (enters != 1) | (flat > 0))
        if bad.any():
            self._keep_whole(bad, vs, col)
            mixed &= ~bad
            if not mixed.any():
                return
            P, nx, si, sn, cell = crossed(mixed)
        vi, vn, li = self.cyc[P], self.cyc[nx], self.lab[P]
        cross = (si * sn) < 0
        ce = np.flatnonzero(cross)
        a, b = vi[ce], vn[ce]
        n = vs.n
        key = np.minimum(a, b) * n + np.maximum(a, b)
        uk, inv = np.unique(key, return_inverse=True)
        ua, ub = uk // n, uk % n
        z = vs.Z[:n, col]
        new = vs.interpolate(ua, ub, z[ua] / (z[ua] - z[ub]), col, live)
        xv = np.zeros(len(P), dtype=np.int64)
        xv[ce] = new[inv]
        # positive piece: v_i if s_i >= 0, then the crossing point; an emitted point's edge
        # runs along the cut (label col) when the cycle continues into the negative side
        p_emit = np.column_stack([si >= 0, cross]).ravel()
        p_lab = np.column_stack([np.where((si == 0) & (sn < 0), col, li),
                                 np.where(sn < 0, col, li)]).ravel()
        n_emit = np.column_stack([si <= 0, cross]).ravel()
        n_lab = np.column_stack([np.where((si == 0) & (sn > 0), col, li),
                                 np.where(sn > 0, col, li)]).ravel()
        verts = np.column_stack([vi, xv]).ravel()
        cells2 = np.repeat(cell, 2)
        keep = ~mixed
        kp = ~mixed[self.cell_of]
        rk = np.cumsum(keep) - 1
        rm = np.cumsum(mixed) - 1
        nk, nm = int(keep.sum()), int(mixed.sum())
        new_cell = np.concatenate([rk[self.cell_of[kp]], nk + rm[cells2[p_emit]],
                                   nk + nm + rm[cells2[n_emit]]])
        self.cyc = np.concatenate([self.cyc[kp], verts[p_emit], verts[n_emit]])
        self.lab = np.concatenate([self.lab[kp], p_lab[p_emit], n_lab[n_emit]])
        bp = self.bits[mixed]
        bn = bp.copy()
        bp[:, col] = True
        bn[:, col] = False
        self.bits = np.concatenate([self.bits[keep], bp, bn])
        sm = self.suspect[mixed]
        self.suspect = np.concatenate([self.suspect[keep], sm, sm])
        self._index(np.bincount(new_cell, minlength=nk + 2 * nm))

    def _keep_whole(self, bad: np.ndarray, vs: _Vertices, col: int) -> None:
        """A crossed cell whose vertex signs are not those of a convex polygon (rounding on a
        needle): keep it whole with the sign of its larger side and let the oracle decide it."""
        z = vs.Z[:vs.n, col][self.cyc]
        hi = np.maximum.reduceat(z, self.starts[:-1])
        lo = np.minimum.reduceat(z, self.starts[:-1])
        self.bits[bad, col] = hi[bad] > -lo[bad]
        self.suspect |= bad
        self.degenerate += int(bad.sum())

    def cells(self, vs: _Vertices) -> _Cells:
        X = vs.X
        u, w = self.cyc, self.cyc[self.nxt]
        ref = X[self.cyc[self.starts[:-1]]][self.cell_of]  # shift: large boxes lose no digits
        xu, xw = X[u] - ref, X[w] - ref
        cr = xu[:, 0] * xw[:, 1] - xu[:, 1] * xw[:, 0]
        first = self.starts[:-1]
        a2 = np.add.reduceat(cr, first)  # twice the area
        length = np.linalg.norm(X[w] - X[u], axis=1)
        perim = np.add.reduceat(length, first)
        with np.errstate(divide="ignore", invalid="ignore"):
            cx = np.add.reduceat((xu + xw) * cr[:, None], first) / (3.0 * a2[:, None])
        vmean = np.add.reduceat(xu, first) / np.diff(self.starts)[:, None]
        ok = a2 > 0
        centroid = np.where(ok[:, None], cx, vmean) + X[self.cyc[first]]
        art = self.lab == ART
        unbounded = np.maximum.reduceat(art.astype(np.int8), first) > 0
        r_upper = np.where(unbounded, np.inf, np.where(ok, a2 / np.maximum(perim, 1e-300), 0.0))
        cells = _Cells(vs, self.bits, centroid, r_upper, unbounded, self.suspect | ~ok,
                       self.cell_of, np.column_stack([u, w]), art, length / 2.0, self.nxt,
                       degenerate_splits=self.degenerate)
        return cells

    def generators(self, vs: _Vertices, normals: np.ndarray, has_normal: np.ndarray
                   ) -> list[tuple[int, np.ndarray]] | None:
        """Recession-cone generators of each box-touching cell's real-facet polyhedron, or None
        if some cell's boundary rays meet outside the box. ``normals[p]`` is piece p's outward
        unit normal (from the exact rows) where ``has_normal[p]``."""
        X = vs.X
        art = self.lab == ART
        touching = np.flatnonzero(np.maximum.reduceat(art.astype(np.int8), self.starts[:-1]))
        out = []
        for c in touching:
            s, e = int(self.starts[c]), int(self.starts[c + 1])
            a = art[s:e]
            k = e - s
            if a.all():
                out.append((int(c), np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0],
                                              [0.0, -1.0]])))
                continue
            # direction of each real edge (exact where its row is known)
            dirs = np.empty((k, 2))
            for i in range(k):
                p = s + i
                if has_normal[p]:
                    nrm = normals[p]
                    dirs[i] = (-nrm[1], nrm[0])  # CCW: interior on the left
                else:
                    v = X[self.cyc[self.nxt[p]]] - X[self.cyc[p]]
                    dirs[i] = v / max(np.linalg.norm(v), 1e-300)
            gens = []
            # chains of artificial edges: from the end of real edge ea to the start of eb
            for i in range(k):
                if not (a[i] and not a[i - 1]):
                    continue
                ea = (i - 1) % k
                j = i
                while a[j % k]:
                    j += 1
                eb = j % k
                ua = dirs[ea]
                ub = -dirs[eb]
                p0 = X[self.cyc[s + i]]
                q0 = X[self.cyc[s + eb]]
                crs = ua[0] * ub[1] - ua[1] * ub[0]
                if crs < -RAY_PARALLEL_TOL:
                    return None
                if crs <= RAY_PARALLEL_TOL:
                    if ua @ ub > 0:
                        gens.append(ua)
                    else:
                        gens += [ua, ub, np.array([-ua[1], ua[0]])]
                    continue
                st = np.linalg.solve(np.column_stack([ua, -ub]), q0 - p0)
                if st[0] > 0 and st[1] > 0:
                    return None
                gens += [ua, ub]
            out.append((int(c), np.array(gens)))
        return out


def _start_polygon(G: np.ndarray, h: np.ndarray, box_lo: np.ndarray, box_hi: np.ndarray,
                   side_rows: list[list[int | None]], n_neurons: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The domain cut to the box, as a CCW cycle with edge labels; box sides come from exact
    domain rows where ``side_rows`` names one (label ``n_neurons + row``), else ``ART``."""
    def lab(r):
        return ART if r is None else n_neurons + r

    (l0, u0), (l1, u1) = side_rows
    P = np.array([[box_lo[0], box_lo[1]], [box_hi[0], box_lo[1]], [box_hi[0], box_hi[1]],
                  [box_lo[0], box_hi[1]]])
    L = [lab(l1), lab(u0), lab(u1), lab(l0)]
    used = {r for pair in side_rows for r in pair if r is not None}
    for r in range(len(G)):
        if r in used:
            continue
        v = P @ G[r] - h[r]
        band = SIGN_RTOL * (np.abs(P) @ np.abs(G[r]) + abs(h[r]))
        s = np.where(v > band, 1, np.where(v < -band, -1, 0))
        if not (s > 0).any():
            continue
        if not (s < 0).any():
            return np.zeros((0, 2)), np.zeros(0, dtype=np.int64)
        Q, QL = [], []
        k = len(P)
        for i in range(k):
            j = (i + 1) % k
            if s[i] <= 0:
                Q.append(P[i])
                QL.append(n_neurons + r if (s[i] == 0 and s[j] > 0) else L[i])
            if s[i] * s[j] < 0:
                t = v[i] / (v[i] - v[j])
                Q.append(P[i] + t * (P[j] - P[i]))
                QL.append(n_neurons + r if s[j] > 0 else L[i])
        P, L = np.array(Q), QL
    return P, np.array(L, dtype=np.int64)


def _run_2d(net: ReLUNetwork, bounds: Bounds, start: tuple[np.ndarray, np.ndarray],
            progress: Progress | None) -> tuple[_Polygons, _Vertices]:
    N = net.n_hidden
    P, L = start
    vs = _Vertices(P, N)
    bits = np.tile(bounds.stable_active, (1, 1))
    poly = _Polygons(np.arange(len(P)), L, np.array([len(P)]), bits, np.zeros(1, dtype=bool))
    unstable = bounds.unstable
    offs = net.layer_offsets
    n_layers = len(net.hidden_widths)
    for layer in range(n_layers):
        report_phase(progress, f"splitting by layer {layer + 1}/{n_layers} ({poly.m} cells)")
        vs.layer_values(net, layer)
        for col in range(offs[layer], offs[layer + 1]):
            if unstable[col]:
                poly.split(vs, col, offs[layer + 1])
    return poly, vs


# ----- 1-D: intervals --------------------------------------------------------------------------
def _run_1d(net: ReLUNetwork, bounds: Bounds, ends: tuple[float, float],
            labels: tuple[int, int], progress: Progress | None) -> _Cells:
    N = net.n_hidden
    vs = _Vertices(np.array([[ends[0]], [ends[1]]]), N)
    vlab = [labels[0], labels[1]]
    left, right = np.array([0]), np.array([1])
    bits = np.tile(bounds.stable_active, (1, 1))
    offs = net.layer_offsets
    n_layers = len(net.hidden_widths)
    for layer in range(n_layers):
        report_phase(progress, f"splitting by layer {layer + 1}/{n_layers} ({len(left)} cells)")
        vs.layer_values(net, layer)
        for col in range(offs[layer], offs[layer + 1]):
            if not bounds.unstable[col]:
                continue
            sg = vs.signs(col)
            sl, sr = sg[left], sg[right]
            bits[:, col] = (sl > 0) | (sr > 0)
            mixed = (sl * sr) < 0
            if not mixed.any():
                continue
            a, b = left[mixed], right[mixed]
            z = vs.Z[:vs.n, col]
            new = vs.interpolate(a, b, z[a] / (z[a] - z[b]), col, offs[layer + 1])
            vlab += [col] * len(new)
            pos_left = sl[mixed] > 0  # the positive piece is [a, new] when a is positive
            keep = ~mixed
            bp = bits[mixed]
            bn = bp.copy()
            bp[:, col] = True
            bn[:, col] = False
            left = np.concatenate([left[keep], np.where(pos_left, a, new),
                                   np.where(pos_left, new, a)])
            right = np.concatenate([right[keep], np.where(pos_left, new, b),
                                    np.where(pos_left, b, new)])
            bits = np.concatenate([bits[keep], bp, bn])
    X = vs.X[:, 0]
    m = len(left)
    vl = np.array(vlab)
    art_l, art_r = vl[left] == ART, vl[right] == ART
    length = X[right] - X[left]
    unbounded = art_l | art_r
    cells = _Cells(vs, bits, ((X[left] + X[right]) / 2)[:, None],
                   np.where(unbounded, np.inf, length / 2), unbounded, ~(length > 0),
                   np.repeat(np.arange(m), 2), np.column_stack([left, right]).reshape(-1, 1),
                   np.column_stack([art_l, art_r]).ravel(), np.full(2 * m, lp.RADIUS_CAP), None)
    gens = []
    for c in np.flatnonzero(unbounded):
        g = ([[-1.0]] if art_l[c] else []) + ([[1.0]] if art_r[c] else [])
        gens.append((int(c), np.array(g)))
    cells.generators = gens
    return cells


# ----- from cells to regions -----------------------------------------------------------------
def local_maps(net: ReLUNetwork, bits: np.ndarray, outputs: bool = False
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """``z = A x + d`` of every hidden neuron for many patterns at once, as in
    ``ReLUNetwork.local_affine``: ``A`` (m, d, N) (input coordinate before neuron, so each layer
    is one matrix product), ``d`` (m, N); with ``outputs`` also ``alpha`` (m, out, d) and
    ``beta`` (m, out)."""
    m = len(bits)
    d = net.input_dim
    offs = net.layer_offsets
    As, ds = [], []
    M = mv = None
    for k, (W, b) in enumerate(zip(net.weights[:-1], net.biases[:-1], strict=True)):
        if k == 0:
            A = np.broadcast_to(W.T, (m, d, W.shape[0]))
            dd = np.broadcast_to(b, (m, b.size))
        else:
            A = (M.reshape(m * d, -1) @ W.T).reshape(m, d, W.shape[0])
            dd = mv @ W.T + b
        on = bits[:, offs[k]:offs[k + 1]]
        M = A * on[:, None, :]
        mv = dd * on
        As.append(A)
        ds.append(dd)
    A_all = np.concatenate(As, axis=2) if As else np.zeros((m, d, 0))
    d_all = np.concatenate(ds, axis=1) if ds else np.zeros((m, 0))
    if not outputs:
        return A_all, d_all, None, None
    W, b = net.weights[-1], net.biases[-1]
    if M is None:
        alpha = np.broadcast_to(W, (m, *W.shape)).copy()
        beta = np.broadcast_to(b, (m, b.size)).copy()
    else:
        alpha = (M.reshape(m * d, -1) @ W.T).reshape(m, d, -1).transpose(0, 2, 1)
        beta = mv @ W.T + b
    return A_all, d_all, alpha, beta


@dataclass
class _Assembly:
    regions: list[LocalRegion]
    box_ok: bool
    rejected: list[tuple[np.ndarray, float | None]]
    oracle_cells: int


def _assemble(cells: _Cells, net: ReLUNetwork, oracle: RegionOracle,
              polys: _Polygons | None) -> _Assembly:
    """Regions (with facets) from the final cells; the box test for unbounded domains."""
    bits = cells.bits
    m = len(bits)
    N = net.n_hidden
    U = oracle.unstable
    G, h = oracle.G, oracle.h
    vs = cells.vs
    A_all, d_all, _, _ = local_maps(net, bits)
    Au, du, s = A_all[:, :, U], d_all[:, U], bits[:, U]
    sigma = np.where(s, -1.0, 1.0)
    H = sigma[:, None, :] * Au  # (m, d, nU): the region is {x : H^T x <= c}
    c = -sigma * du
    norms = np.sqrt(np.einsum("mdk,mdk->mk", H, H))
    scale = np.maximum(1.0, np.abs(Au).max(axis=(1, 2))) if U.size else np.ones(m)
    zero = norms <= ZERO_ROW_TOL * scale[:, None]
    bad_zero = (zero & ((s & (du <= 0)) | (~s & (du > 0)))).any(axis=1)
    zero_neurons = np.zeros((m, N), dtype=bool)
    zero_neurons[:, U] = zero & (du == 0)
    safe = np.where(zero, 1.0, norms)
    Hn = H / safe[:, None, :]
    cn = c / safe
    ctr = cells.centroid
    r_c = np.full(m, lp.RADIUS_CAP)
    if U.size:
        slack = np.where(zero, np.inf, cn - np.einsum("mdk,md->mk", Hn, ctr))
        r_c = np.minimum(r_c, slack.min(axis=1))
    if len(G):
        r_c = np.minimum(r_c, (h - ctr @ G.T).min(axis=1))

    # which hyperplanes each piece lies on (read from the stored values the splits used)
    X = vs.X[:vs.n]
    tv = np.abs(vs.Z[:vs.n][:, U]) <= SIGN_RTOL * vs.S[:vs.n][:, U]
    gv = (np.abs(X @ G.T - h) <= SIGN_RTOL * (np.abs(X) @ np.abs(G).T + np.abs(h))
          if len(G) else np.zeros((vs.n, 0), dtype=bool))
    pv, pc, real = cells.piece_verts, cells.piece_cell, ~cells.piece_art
    T = tv[pv[:, 0]]
    TD = gv[pv[:, 0]]
    for k in range(1, pv.shape[1]):
        T = T & tv[pv[:, k]]
        TD = TD & gv[pv[:, k]]
    T &= ~zero[pc]
    T &= real[:, None]
    TD &= real[:, None]
    has_n, has_d = T.any(axis=1), TD.any(axis=1)
    on_plane = has_n | has_d
    rad = cells.piece_radius
    suspect = cells.suspect | bad_zero
    # a real piece on no hyperplane, or one of borderline size: numerical trouble or a
    # near-tolerance facet; the oracle decides the whole cell
    odd = real & (~on_plane | ((rad <= GEOMETRY_SAFETY * FACET_RADIUS_TOL)
                               & (rad >= FACET_RADIUS_TOL / GEOMETRY_SAFETY)))
    if cells.piece_next is not None:  # two consecutive edges on one line: one facet, not two
        nx = cells.piece_next
        odd |= on_plane & ((T & T[nx]).any(axis=1) | (TD & TD[nx]).any(axis=1))
    suspect |= np.bincount(pc[odd], minlength=m) > 0
    region = r_c > GEOMETRY_SAFETY * REGION_RADIUS_TOL
    empty = ~cells.unbounded & (cells.r_upper < REGION_RADIUS_TOL / GEOMETRY_SAFETY)
    suspect |= ~(region | empty)

    # the box test, on exact rows: unit normal of each piece's first tight row
    first_n = np.argmax(T, axis=1) if U.size else np.zeros(len(pc), dtype=np.int64)
    if cells.unbounded.any():
        normals = (Hn[pc, :, first_n] if U.size
                   else np.zeros((len(pc), cells.centroid.shape[1])))
        if len(G):
            normals = np.where(has_n[:, None], normals, G[np.argmax(TD, axis=1)])
        gens = (polys.generators(vs, normals, on_plane) if polys is not None
                else cells.generators)
        if gens is None:
            return _Assembly([], False, [], 0)
        for cell, g in gens:
            rows = Hn[cell][:, ~zero[cell]].T
            if len(G):
                rows = np.vstack([rows, G])
            if len(rows) and (rows @ g.T).max() > RAY_TOL:
                return _Assembly([], False, [], 0)

    # facets of the trusted cells, in boundary order
    fp = np.flatnonzero(on_plane & (rad > GEOMETRY_SAFETY * FACET_RADIUS_TOL) & ~suspect[pc])
    fcell = pc[fp].tolist()
    fj = first_n[fp]
    nrm = Hn[pc[fp], :, fj] if U.size else np.zeros((len(fp), ctr.shape[1]))
    off = cn[pc[fp], fj].tolist() if U.size else [0.0] * len(fp)
    pts = X[pv[fp]].mean(axis=1)
    rads = rad[fp].tolist()
    Tf = T[fp]
    cnt = Tf.sum(axis=1)
    ids: list[tuple[int, ...] | None] = [(j,) for j in U[fj].tolist()] if U.size \
        else [None] * len(fp)
    for k in np.flatnonzero(cnt != 1).tolist():
        ids[k] = tuple(U[Tf[k]].tolist()) if cnt[k] else None
    dom: dict[int, list[int]] = {}
    for k, r in zip(*(a.tolist() for a in np.nonzero(TD[fp])), strict=True):
        dom.setdefault(k, []).append(r)
    dom_ids = oracle.domain_ids
    per_cell: list[list[LocalFacet]] = [[] for _ in range(m)]
    for k in range(len(fp)):
        cell = per_cell[fcell[k]]
        if ids[k] is not None:
            cell.append(LocalFacet("neuron", ids[k], nrm[k], off[k], pts[k], rads[k]))
        for r in dom.get(k, ()):
            cell.append(LocalFacet("domain", (dom_ids[r],), G[r], float(h[r]), pts[k],
                                   rads[k]))
    out: list[LocalRegion] = []
    rejected: list[tuple[np.ndarray, float | None]] = []
    n_oracle = 0
    for i in range(m):
        if suspect[i]:
            n_oracle += 1
            loc = oracle.region(bits[i].copy())
            if loc is not None:
                out.append(loc)
        elif region[i]:
            out.append(LocalRegion(bits[i], ctr[i], float(r_c[i]), tuple(per_cell[i]),
                                   zero_neurons[i]))
        else:  # a cell thinner than the tolerance: recorded like the oracle's rejections
            rejected.append((bits[i].copy(), float(cells.r_upper[i])))
    return _Assembly(out, True, rejected, n_oracle)


class _SubdivisionBuilder(RegionBuilder):
    """``RegionBuilder`` with a vectorised ``finish``: the same neighbour rule (flip the facet's
    bits, plus every assignment of later identically-zero neurons; keep a candidate that has a
    neuron facet on a shared neuron), but with integer XOR on packed pattern keys, batched
    affine models and batched lifting, because per-region Python work dominated the run.

    An edge's ``neurons`` is the union of both sides' facet ids: a later-layer neuron can
    duplicate a hyperplane on one side only (it is identically zero on the other), and the
    union is then exactly the set of flipped bits whatever order the regions come in."""

    def models(self) -> None:
        """alpha, beta of every region at once (full input coordinates)."""
        P = np.array([loc.pattern for loc in self.local]).reshape(len(self.local), -1)
        _, _, self._alpha, self._beta = local_maps(self.net, P, outputs=True)

    def lift(self, rid: int, neighbours: list[tuple[int, ...]] | None = None) -> Region:
        if getattr(self, "_alpha", None) is None or rid >= len(self._alpha):
            return super().lift(rid, neighbours)
        loc, red = self.local[rid], self.red
        facets = tuple(
            Facet(f.kind, f.ids, red.lift_rows(f.normal), f.offset, red.lift(f.point),
                  neighbours[k] if neighbours else ())
            for k, f in enumerate(loc.facets)
        )
        return Region(rid, loc.pattern, facets, red.lift(loc.center), loc.radius,
                      self._alpha[rid], self._beta[rid])

    def finish(self, oracle: RegionOracle) -> tuple[list[Region], nx.Graph]:
        m = len(self.local)
        if getattr(self, "_alpha", None) is None or len(self._alpha) != m:
            self.models()
        red = self.red
        N = self.net.n_hidden
        P = np.array([loc.pattern for loc in self.local]).reshape(m, N)
        keys = [int.from_bytes(row.tobytes(), "big") for row in np.packbits(P, axis=1)]
        index = {k: i for i, k in enumerate(keys)}
        masks = [int.from_bytes(row.tobytes(), "big")
                 for row in np.packbits(np.eye(N, dtype=bool), axis=1)]
        layer_of = oracle.layer_of.tolist()
        zl = [int(layer_of_arr.max()) if len(layer_of_arr := oracle.layer_of[loc.zero_neurons])
              else -1 for loc in self.local]
        on_facets = [{i for f in loc.facets if f.kind == "neuron" for i in f.ids}
                     for loc in self.local]
        # every facet normal and point lifted in two matrix products
        flat = [f for loc in self.local for f in loc.facets]
        d = red.original.dim
        if flat:
            normals = red.lift_rows(np.array([f.normal for f in flat]))
            points = red.lift(np.array([f.point for f in flat]))
        else:
            normals = points = np.zeros((0, d))
        # one [normal, point, offset] block shared by every facet (no copy each)
        block = facet_block(normals, points, np.array([f.offset for f in flat]))
        centers = red.lift(np.array([loc.center for loc in self.local]).reshape(m, -1))
        regions: list[Region] = []
        edges: dict[tuple[int, int], tuple[int, ...]] = {}
        k = 0
        for rid, loc in enumerate(self.local):
            facets = []
            for f in loc.facets:
                found: tuple[int, ...] = ()
                if f.kind == "neuron":
                    if zl[rid] > layer_of[f.ids[0]]:  # ambiguous: the general rule
                        cand = [self.index.get(pattern_key(p))
                                for p in oracle.neighbour_patterns(loc, f)]
                    else:
                        key = keys[rid]
                        for i in f.ids:
                            key ^= masks[i]
                        cand = [index.get(key)]
                    hits = sorted(j for j in cand if j is not None
                                  and not on_facets[j].isdisjoint(f.ids))
                    for j in hits:
                        e = (rid, j) if rid < j else (j, rid)
                        edges[e] = tuple(sorted(set(edges.get(e, ())) | set(f.ids)))
                    found = tuple(hits)
                facets.append(Facet.from_block(f.kind, f.ids, block, k, found))
                k += 1
            regions.append(Region(rid, loc.pattern, tuple(facets), centers[rid], loc.radius,
                                  self._alpha[rid], self._beta[rid]))
        graph = RegionGraph.deferred(m, edges)  # built when first looked at
        return regions, graph


# ----- the domain, cut to a box ----------------------------------------------------------------
def _axis_sides(G: np.ndarray, h: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray,
                                                               list[list[int | None]]]:
    """Tightest domain rows of the form ``+-x_k <= h``: exact box sides."""
    lo, hi = np.full(d, -np.inf), np.full(d, np.inf)
    rows: list[list[int | None]] = [[None, None] for _ in range(d)]
    for r in range(len(G)):
        nz = np.flatnonzero(G[r])
        if nz.size != 1 or abs(G[r, nz[0]]) != 1.0:
            continue
        k = int(nz[0])
        if G[r, k] > 0 and h[r] < hi[k]:
            hi[k], rows[k][1] = h[r], r
        elif G[r, k] < 0 and -h[r] > lo[k]:
            lo[k], rows[k][0] = -h[r], r
    return lo, hi, rows


def _first_layer_extent(net: ReLUNetwork, bounds: Bounds, centre: np.ndarray) -> float:
    """Distance from ``centre`` of the farthest vertex of the first layer's arrangement (and of
    each hyperplane's nearest point): the artificial box must contain at least these."""
    n1 = net.hidden_widths[0]
    keep = bounds.unstable[:n1]
    W, b = net.weights[0][keep], net.biases[0][keep]
    wn = np.linalg.norm(W, axis=1)
    ok = wn > 0
    W, b, wn = W[ok], b[ok], wn[ok]
    if not len(W):
        return 0.0
    z = W @ centre + b
    far = float(np.max(np.abs(z) / wn))
    if net.input_dim == 2 and len(W) > 1:
        i, j = np.triu_indices(len(W), 1)
        det = W[i, 0] * W[j, 1] - W[i, 1] * W[j, 0]
        good = np.abs(det) > 1e-12 * wn[i] * wn[j]
        i, j, det = i[good], j[good], det[good]
        # solve W[[i, j]] (x - centre) = -z[[i, j]]
        x0 = (-z[i] * W[j, 1] + z[j] * W[i, 1]) / det
        x1 = (-W[i, 0] * z[j] + W[j, 0] * z[i]) / det
        if len(x0):
            far = max(far, float(np.max(np.hypot(x0, x1))))
    return far


def artificial_box(oracle: RegionOracle, d: int, half: float, centre: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, list[list[int | None]]]:
    """Box of half-width ``half`` around ``centre`` on unbounded sides; exact domain bounds
    and (padded, later clipped) LP extents of the domain elsewhere."""
    G, h = oracle.G, oracle.h
    lo, hi, rows = _axis_sides(G, h, d)
    for k in range(d):
        if rows[k][0] is None:
            lo[k] = centre[k] - half
        if rows[k][1] is None:
            hi[k] = centre[k] + half
    return lo, hi, rows


def domain_extent(oracle: RegionOracle, d: int) -> tuple[np.ndarray, np.ndarray]:
    """The reduced domain's bounding box by LP (infinite where unbounded)."""
    G, h = oracle.G, oracle.h
    lo, hi = np.full(d, -np.inf), np.full(d, np.inf)
    if not len(G):
        return lo, hi
    for k in range(d):
        e = np.zeros(d)
        e[k] = 1.0
        up = lp.maximize_linear(e, G, h)
        if up.ok:
            hi[k] = up.objective
        dn = lp.maximize_linear(-e, G, h)
        if dn.ok:
            lo[k] = -dn.objective
    return lo, hi


# ----- the engine ----------------------------------------------------------------------------
def subdivision_search(net: ReLUNetwork, domain: Domain, progress: Progress | None = None,
                       on_region: OnRegion | None = None, stats: dict | None = None
                       ) -> tuple[RegionBuilder, RegionOracle, Reduction, Bounds]:
    """Every region of ``net`` on ``domain`` by layer-wise subdivision (1-D and 2-D inputs,
    after fixed coordinates are removed); same return values as ``graph_search``. ``stats``
    (if given) receives the run's figures: box half-width, cells, oracle fallbacks."""
    red, rnet, bounds, oracle = prepare(net, domain)
    d = rnet.input_dim
    if d not in SUPPORTED_DIMS:
        raise InputError(
            f"method 'subdivision' supports {' and '.join(f'{k}-D' for k in SUPPORTED_DIMS)} "
            f"inputs (after removing fixed coordinates); this domain has {d} free "
            f"coordinates: use method='graph'"
        )
    N = rnet.n_hidden
    G, h = oracle.G, oracle.h
    dom_lo, dom_hi = domain_extent(oracle, d)
    bounded = bool(np.all(np.isfinite(dom_lo)) and np.all(np.isfinite(dom_hi)))
    if bounded:
        centre = (dom_lo + dom_hi) / 2
        half = float(np.max(dom_hi - dom_lo))  # the padded box lies outside; rows clip it
    else:
        cheb = lp.chebyshev_center(G, h) if len(G) else None
        centre = cheb[0] if cheb is not None else np.zeros(d)
        half = max(BOX_MIN, 2.0 * _first_layer_extent(rnet, bounds, centre))
    while True:
        lo, hi, side_rows = artificial_box(oracle, d, half, centre)
        if d == 1:
            labels = tuple(ART if r is None else N + r for r in side_rows[0])
            cells = _run_1d(rnet, bounds, (float(lo[0]), float(hi[0])), labels, progress)
            polys = None
        else:
            start = _start_polygon(G, h, lo, hi, side_rows, N)
            if len(start[0]) < 3:
                raise RuntimeError("the domain does not meet the subdivision box; please report")
            polys, vs = _run_2d(rnet, bounds, start, progress)
            cells = polys.cells(vs)
        report_phase(progress, f"geometry of {len(cells.bits)} cells")
        res = _assemble(cells, rnet, oracle, polys)
        if res.box_ok:
            break
        half *= BOX_GROWTH
        if half > BOX_MAX:
            raise RuntimeError(
                f"the arrangement reaches beyond {BOX_MAX:g} from the domain centre; the "
                "subdivision engine cannot bound it precisely: use method='graph'"
            )
    if stats is not None:
        stats.update({"box_half_width": None if bounded else half, "cells": len(cells.bits),
                      "vertices": cells.vs.n, "oracle_cells": res.oracle_cells,
                      "degenerate_splits": cells.degenerate_splits})
    oracle.rejected.extend(res.rejected)
    builder = _SubdivisionBuilder(net, red)
    for loc in res.regions:
        if pattern_key(loc.pattern) not in builder.index:  # one cell per pattern (convexity)
            builder.add(loc)
    builder.models()
    if on_region is not None:
        for rid in range(len(builder.local)):
            on_region(builder.lift(rid))
    if progress is not None:
        progress(len(builder.local), 0)
    report_phase(progress, "search done")
    return builder, oracle, red, bounds


def report_phase(progress: Progress | None, text: str) -> None:
    """Tell a progress callback with a ``phase`` method (the CLI's bar) which stage runs."""
    phase = getattr(progress, "phase", None)
    if callable(phase):
        phase(text)

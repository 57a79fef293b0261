"""Edge subdivision on the 1-skeleton (Berzins, ICML 2023): the region engine for any dimension.

Why a fourth engine: the graph engine pays one LP and one qhull call per region from Python
(about 1,000 regions/s), and the polygon engine of :mod:`.subdivision` only exists in 2-D.
Here the state is the 1-skeleton of the current polyhedral complex: vertices (coordinates,
the current layer's pre-activations, and a *sign vector* over every label processed so far)
and edges. A neuron's hyperplane is processed for all cells at once, in numpy:

1. every vertex gets the neuron's sign (read from its stored pre-activation);
2. every edge whose ends have opposite signs is split at a new vertex (interpolated values,
   exactly 0 on the neuron; its sign vector is the edge's: zeros where both ends are zero,
   signs where either end has one);
3. new edges join new vertices on a common 2-face of the old complex. In general position an
   old edge lies on d - 1 labels, and a 2-face is the set of points with one sign vector with
   d - 2 zeros; so each new vertex names its 2 (d - 1) 2-faces by keys (its sign vector with
   one zero label replaced by + or -), and a crossed 2-face's key is named by exactly the two
   new vertices where the hyperplane crosses its boundary.

Labels are neurons (``0 .. N - 1``), the reduced domain's rows (``N + r``) and the faces of an
artificial box for unbounded domains. At the end every vertex lies on exactly d labels, and the
regions around it are the 2^k sign choices of its k neuron labels (domain and box labels only
have the inside): grouping (vertex, pattern) pairs by pattern gives each region's vertices, the
labels tight at its vertices are its facets. Geometry (inscribed-ball bounds, facet points,
in-plane radii) is then computed in numpy per chunk of regions from the exact rows of the
pattern, with the same named tolerances and the same ``GEOMETRY_SAFETY`` margin as
:mod:`.subdivision`:
cells whose cheap bounds fall within that margin of ``REGION_RADIUS_TOL`` or
``FACET_RADIUS_TOL`` are decided by :meth:`RegionOracle.region`, with the LP the graph engine
uses, so thin regions are treated exactly as the other engines treat them (rejected below the
tolerance and recorded in ``rejected``, accepted above it).

General position is checked, not assumed: a vertex on a hyperplane (a value within
``SIGN_RTOL`` of 0: duplicated neurons, concurrent hyperplanes, identically zero neurons), a
vertex on other than d labels, or a 2-face key not named exactly twice raises
:class:`Degenerate`, and ``enumerate_regions`` then runs the graph search instead (identical
results, recorded in ``stats["skeleton"]["fallback"]``).

Unbounded domains are cut to an artificial box of half-width ``B`` as in :mod:`.subdivision`.
The box is large enough once every box-touching cell passes a recession test: the cell has a
vertex strictly inside the box, and at each of its vertices on one box face, the line of its
d - 1 real labels, continued outward, stays in the region (``h . e <= RAY_TOL`` for every row
``h`` of the region). Then the polyhedron ``P`` of the cell's real facets has no vertex outside
the box (a bounded edge of ``P`` leaving the box would fail the test at its exit point, and
``P``'s vertices and bounded edges form a connected graph), so ``P`` is the cell plus the cone
of those outward directions, which lies in the region: ``P`` is the region. A region entirely
outside the box would lie across a facet of one inside (see :mod:`.subdivision`), so there is
none. Otherwise the run repeats with ``B`` times ``BOX_GROWTH``.
"""

from __future__ import annotations

import sys
import time
from itertools import combinations

import networkx as nx
import numpy as np

from .. import forkpool
from ..bounds import Bounds
from ..domain import Domain, Reduction
from ..network import ReLUNetwork, pattern_key
from ..solvers import lp
from .builder import OnRegion, Progress, RegionBuilder, prepare
from .geometry import LocalRegion, RegionOracle
from .graph import RegionGraph
from .region import Facet, Region, facet_block
from .subdivision import (
    BOX_GROWTH,
    BOX_MAX,
    BOX_MIN,
    artificial_box,
    domain_extent,
    local_maps,
    report_phase,
)
from .tolerances import (
    FACET_RADIUS_TOL,
    GEOMETRY_SAFETY,
    PARALLEL_TOL,
    RAY_PARALLEL_TOL,
    RAY_TOL,
    REGION_RADIUS_TOL,
    SIGN_RTOL,
    ZERO_ROW_TOL,
)

#: Geometry is computed for at most this many (vertex, region) pairs at once (memory bound).
CHUNK_PAIRS = 20000
#: The first layer's vertices are all computed for the artificial box's first size only when
#: there are at most this many d-subsets of first-layer neurons (else a random sample).
EXTENT_SUBSETS = 20000
#: Affine models are computed for this many (region x neuron x input) entries at once.
MODEL_CHUNK = 4_000_000
#: The artificial box starts at this multiple of the first layer's extent (larger boxes cost
#: nothing but digits; a too small one costs a rerun).
BOX_START_FACTOR = 4.0

if sys.byteorder != "little":  # pragma: no cover - the bit layout below assumes it
    raise ImportError("verishallow.regions.skeleton needs a little-endian machine")


class Degenerate(Exception):
    """The arrangement is not in general position where the skeleton engine needs it."""


# ----- bit sets over labels (label l: bit l % 64 of word l // 64) ---------------------------
def _unpack(B: np.ndarray, n_labels: int) -> np.ndarray:
    """(k, W) uint64 bit sets -> (k, n_labels) bool."""
    return np.unpackbits(B.view(np.uint8), axis=1, bitorder="little")[:, :n_labels].astype(bool)


def _masks(labels: np.ndarray, n_words: int) -> np.ndarray:
    """One-label bit sets, (len(labels), W)."""
    M = np.zeros((len(labels), n_words), dtype=np.uint64)
    M[np.arange(len(labels)), labels >> 6] = np.left_shift(np.uint64(1),
                                                           (labels & 63).astype(np.uint64))
    return M


class _Skeleton:
    """Vertices (growable arrays) and edges of the current complex."""

    def __init__(self, X: np.ndarray, Zb: np.ndarray, E: np.ndarray, n_labels: int,
                 n_neurons: int):
        n, d = X.shape
        self.d, self.L, self.N = d, n_labels, n_neurons
        self.W = Zb.shape[1]
        cap = max(1024, 4 * n)
        self.X = np.zeros((cap, d))
        self.X[:n] = X
        self.Zb = np.zeros((cap, self.W), dtype=np.uint64)
        self.Zb[:n] = Zb
        self.Pb = np.zeros((cap, self.W), dtype=np.uint64)
        self.Z = np.zeros((cap, 0))  # the current layer's pre-activations
        self.S = np.zeros((cap, 0))  # and their rounding scales
        self.n = n
        self.centre = np.zeros(d)  # of the artificial box
        self.E = np.zeros((max(1024, 4 * len(E)), 2), dtype=np.int64)
        self.E[:len(E)] = E
        self.ne = len(E)

    def _grow_vertices(self, need: int) -> None:
        if need <= len(self.X):
            return
        cap = max(need, 2 * len(self.X))
        for name in ("X", "Zb", "Pb", "Z", "S"):
            old = getattr(self, name)
            new = np.zeros((cap, old.shape[1]), dtype=old.dtype)
            new[:self.n] = old[:self.n]
            setattr(self, name, new)

    def _add_edges(self, E: np.ndarray) -> None:
        need = self.ne + len(E)
        if need > len(self.E):
            new = np.zeros((max(need, 2 * len(self.E)), 2), dtype=np.int64)
            new[:self.ne] = self.E[:self.ne]
            self.E = new
        self.E[self.ne:need] = E
        self.ne = need

    def layer_values(self, net: ReLUNetwork, layer: int) -> None:
        """Pre-activations of ``layer`` at every vertex, from the stored previous layer."""
        n = self.n
        W, b = net.weights[layer], net.biases[layer]
        if layer == 0:
            a = self.X[:n]
        else:
            z = self.Z[:n]
            a = np.where(z > SIGN_RTOL * self.S[:n], z, 0.0)
        Z = np.zeros((len(self.X), W.shape[0]))
        S = np.zeros_like(Z)
        Z[:n] = a @ W.T + b
        S[:n] = np.abs(a) @ np.abs(W).T + np.abs(b)
        self.Z, self.S = Z, S

    def cut(self, label: int, z: np.ndarray, band: np.ndarray, column: int | None,
            domain: bool) -> None:
        """Split the complex by the hyperplane ``z = 0`` (values ``z`` at the vertices).

        ``column``: the neuron's column in ``Z`` (set to 0 on the new vertices); ``domain``:
        the label is a domain row (``z <= 0`` inside), and the outside is dropped."""
        n = self.n
        s = (z > band).astype(np.int8) - (z < -band).astype(np.int8)
        if np.any(s == 0):
            raise Degenerate(f"a vertex lies on the hyperplane of label {label}")
        word = label >> 6
        bit = np.uint64(1) << np.uint64(label & 63)
        if not domain:
            self.Pb[np.flatnonzero(s > 0), word] |= bit
        E = self.E[:self.ne]
        su, sw = s[E[:, 0]], s[E[:, 1]]
        cross = np.flatnonzero(su != sw)
        if cross.size:
            # orient crossing edges from the negative end u to the positive end w
            u = np.where(su[cross] < 0, E[cross, 0], E[cross, 1])
            w = np.where(su[cross] < 0, E[cross, 1], E[cross, 0])
            k = len(cross)
            self._grow_vertices(n + k)
            new = np.arange(n, n + k)
            t = z[u] / (z[u] - z[w])
            tt = t[:, None]
            self.X[new] = self.X[u] + tt * (self.X[w] - self.X[u])
            if self.Z.shape[1]:
                self.Z[new] = self.Z[u] + tt * (self.Z[w] - self.Z[u])
                self.S[new] = self.S[u] + tt * (self.S[w] - self.S[u])
                if column is not None:
                    self.Z[new, column] = 0.0
            T = self.Zb[u] & self.Zb[w]  # the old edge's labels
            self.Zb[new] = T
            self.Zb[new, word] |= bit
            self.Pb[new] = self.Pb[u] | self.Pb[w]
            self.Pb[new, word] &= ~bit  # w's sign on this label: the new vertex is on it
            self.n = n + k
            # the old edge keeps its negative half; its positive half is a new edge
            self.E[cross, 0], self.E[cross, 1] = u, new
            if not domain:
                self._add_edges(np.column_stack([new, w]))
            self._add_edges(self._face_edges(new, T))
        if domain:
            self._drop(np.flatnonzero(s[:n] > 0))

    def _face_edges(self, new: np.ndarray, T: np.ndarray) -> np.ndarray:
        """Edges between new vertices on a common 2-face (see the module docstring)."""
        d = self.d
        if d < 2 or len(new) == 0:
            return np.zeros((0, 2), dtype=np.int64)
        rows, labs = np.nonzero(_unpack(T, self.L))
        if np.any(np.bincount(rows, minlength=len(new)) != d - 1):
            raise Degenerate("an edge does not lie on exactly d - 1 labels")
        M = _masks(labs, self.W)
        zk = self.Zb[new[rows]] & ~M
        pk = self.Pb[new[rows]]
        neuron = labs < self.N
        keys = np.concatenate([np.hstack([zk, pk]),
                               np.hstack([zk[neuron], pk[neuron] | M[neuron]])])
        owner = np.concatenate([rows, rows[neuron]])
        kv = np.ascontiguousarray(keys).view(np.dtype((np.void, keys.shape[1] * 8))).ravel()
        # (faces on the outside of a domain or box label do not exist and get no key)
        _, inv, cnt = np.unique(kv, return_inverse=True, return_counts=True)
        if np.any(cnt != 2):
            raise Degenerate("a 2-face is not crossed at exactly two points")
        order = np.argsort(inv, kind="stable")
        return new[owner[order].reshape(-1, 2)]

    def _drop(self, dead: np.ndarray) -> None:
        """Remove vertices (and their edges), renumbering the rest."""
        if dead.size == 0:
            return
        n = self.n
        keep = np.ones(n, dtype=bool)
        keep[dead] = False
        ren = np.cumsum(keep) - 1
        E = self.E[:self.ne]
        ok = keep[E[:, 0]] & keep[E[:, 1]]
        E = ren[E[ok]]
        for name in ("X", "Zb", "Pb", "Z", "S"):
            arr = getattr(self, name)
            arr[:int(keep.sum())] = arr[:n][keep]
        self.n = int(keep.sum())
        self.ne = len(E)
        self.E[:self.ne] = E


# ----- the start complex: the domain, cut to a box ---------------------------------------------
def _start(oracle: RegionOracle, lo: np.ndarray, hi: np.ndarray,
           side_rows: list[list[int | None]], N: int, n_labels: int, n_words: int
           ) -> _Skeleton:
    """The box's corners and edges, with box sides labelled by the exact domain rows where
    ``side_rows`` names one; the other domain rows then cut it (keeping the inside)."""
    d = len(lo)
    nG = len(oracle.G)
    corner = ((np.arange(1 << d)[:, None] >> np.arange(d)) & 1).astype(bool)  # bit k: upper
    X = np.where(corner, hi, lo)
    side_label = np.empty((d, 2), dtype=np.int64)
    for k in range(d):
        for side in (0, 1):
            r = side_rows[k][side]
            side_label[k, side] = N + r if r is not None else N + nG + 2 * k + side
    labs = side_label[np.arange(d)[None, :], corner.astype(np.int64)]  # (2^d, d)
    Zb = np.zeros((1 << d, n_words), dtype=np.uint64)
    for k in range(d):
        Zb |= _masks(labs[:, k], n_words)
    idx = np.arange(1 << d)
    E = np.array([(i, i | (1 << k)) for k in range(d) for i in idx if not i & (1 << k)],
                 dtype=np.int64).reshape(-1, 2)
    sk = _Skeleton(X, Zb, E, n_labels, N)
    used = {r for pair in side_rows for r in pair if r is not None}
    G, h = oracle.G, oracle.h
    for r in range(nG):
        if r in used:
            continue
        Xv = sk.X[:sk.n]
        v = Xv @ G[r] - h[r]
        band = SIGN_RTOL * (np.abs(Xv) @ np.abs(G[r]) + abs(h[r]))
        if not np.any(v > band):
            if np.any(np.abs(v) <= band):
                raise Degenerate(f"domain row {r} touches the box")
            continue
        if not np.any(v < -band):
            raise Degenerate("the domain does not meet the box")
        sk.cut(N + r, v, band, None, domain=True)
    return sk


def _first_layer_extent(net: ReLUNetwork, bounds: Bounds, centre: np.ndarray) -> float:
    """Distance from ``centre`` of the farthest vertex of the first layer's arrangement (and
    of each hyperplane's nearest point); a sample of the vertices when there are many."""
    d = net.input_dim
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
    if len(W) < d:
        return far
    from math import comb

    if comb(len(W), d) <= EXTENT_SUBSETS:
        S = np.array(list(combinations(range(len(W)), d)), dtype=np.int64)
    else:
        rng = np.random.default_rng(0)
        S = np.array([rng.choice(len(W), d, replace=False) for _ in range(EXTENT_SUBSETS)])
    M = W[S]
    det = np.abs(np.linalg.det(M))
    good = det > 1e-12 * np.prod(wn[S], axis=1)
    if good.any():
        y = np.linalg.solve(M[good], -z[S[good]][..., None])[..., 0]
        far = max(far, float(np.max(np.linalg.norm(y, axis=1))))
    return far


# ----- from the final skeleton to regions ------------------------------------------------------
class _Result:
    """Regions of one run: flat arrays for the ones decided in numpy (``parts``, one tuple per
    chunk: patterns, centres, radii, zero neurons, then per facet its region's cell index,
    label, normal, offset and point), the oracle's for the rest (``(cell index, region)``)."""

    def __init__(self):
        self.cells: list[np.ndarray] = []
        self.parts: list[tuple] = []
        self.oracle: list[tuple[int, LocalRegion]] = []
        self.rejected: list[tuple[np.ndarray, float | None]] = []
        self.box_ok = True
        self.need = 0.0  # box half-width the failed box test asks for (inf: unknown)
        self.oracle_cells = 0


def _regions_of(sk: _Skeleton, net: ReLUNetwork, bounds: Bounds, oracle: RegionOracle,
                art_base: int, workers: int = 1) -> _Result:
    """Group (vertex, pattern) pairs into regions and decide each one's geometry (on
    ``workers`` forked processes: :func:`_geometry_part`)."""
    d, N, W, L = sk.d, sk.N, sk.W, sk.L
    n = sk.n
    Tb = _unpack(sk.Zb[:n], L)
    if np.any(Tb.sum(axis=1) != d):
        raise Degenerate("a vertex does not lie on exactly d labels")
    labs = np.nonzero(Tb)[1].reshape(n, d)
    del Tb
    isn = labs < N
    k = isn.sum(axis=1)
    pv_parts, key_parts = [], []
    for kk in range(d + 1):
        sel = np.flatnonzero(k == kk)
        if not sel.size:
            continue
        base = sk.Pb[sel]
        if kk:
            nl = labs[sel][isn[sel]].reshape(-1, kk)
            M = _masks(nl.ravel(), W).reshape(len(sel), kk, W)
            combos = ((np.arange(1 << kk)[:, None] >> np.arange(kk)) & 1).astype(np.uint64)
            keys = base[:, None, :] | np.einsum("ck,vkw->vcw", combos, M)
        else:
            keys = base[:, None, :]
        pv_parts.append(np.repeat(sel, keys.shape[1]))
        key_parts.append(keys.reshape(-1, W))
    pv = np.concatenate(pv_parts)
    keys = np.ascontiguousarray(np.concatenate(key_parts))
    kv = keys.view(np.dtype((np.void, W * 8))).ravel()
    ukeys, first, pr = np.unique(kv, return_index=True, return_inverse=True)
    m = len(ukeys)
    order = np.argsort(pr, kind="stable")
    pv, pr = pv[order], pr[order]
    starts = np.searchsorted(pr, np.arange(m + 1))
    bits = _unpack(keys[first], L)[:, :N]
    stable = ~bounds.unstable
    bits[:, stable] = bounds.stable_active[stable]
    res = _Result()
    has_art = labs >= art_base
    if has_art.any():  # the box test first: a failure wastes no geometry
        unb = np.flatnonzero(np.bincount(pr, weights=has_art[pv].any(axis=1), minlength=m))
        sel = np.isin(pr, unb)
        upv, upr = pv[sel], np.searchsorted(unb, pr[sel])
        ust = np.searchsorted(upr, np.arange(len(unb) + 1))
        for r0, r1 in _chunks(ust):
            p0, p1 = ust[r0], ust[r1]
            Hn, cn, zero, _, _ = _rows(net, oracle, bits[unb[r0:r1]])
            need = _box_test(sk, oracle, Hn, cn, zero, upv[p0:p1], upr[p0:p1] - r0, labs, has_art,
                             art_base, r1 - r0)
            res.need = max(res.need, need)
        if res.need > 0:
            res.box_ok = False
            return res
    ranges = list(_chunks(starts))
    state = (sk, net, oracle, bits, pv, pr, starts, labs, has_art, art_base)
    nw = max(1, min(int(workers), len(ranges)))
    groups = forkpool.chunks(ranges, nw) if nw > 1 else [ranges]
    for part in forkpool.fork_map(_geometry_part, state, groups, nw):
        cells, parts, found, rejected, n_oracle, lps, oracle_rejected = part
        res.cells += cells
        res.parts += parts
        res.oracle += found
        res.rejected += rejected
        res.oracle_cells += n_oracle
        oracle.lp_count += lps
        oracle.rejected += oracle_rejected
    return res


def _geometry_part(state: tuple, ranges: list[tuple[int, int]]) -> tuple:
    """:func:`_chunk` for consecutive region ranges, in a forked worker or here: the chunks
    are independent (read-only skeleton), and the builder orders regions by cell index, so the
    partition is the same for any number of workers. Returns the chunk results and what the
    oracle added (LPs, near-tolerance rejections), which the caller merges."""
    sk, net, oracle, bits, pv, pr, starts, labs, has_art, art_base = state
    res = _Result()
    lps0, rej0 = oracle.lp_count, len(oracle.rejected)
    for r0, r1 in ranges:
        _chunk(sk, net, oracle, bits, pv, pr, starts, labs, has_art, art_base, r0, r1, res)
    lps, rejected = oracle.lp_count - lps0, oracle.rejected[rej0:]
    # leave the oracle as it was (the caller adds these, in a worker or in this process)
    oracle.lp_count = lps0
    del oracle.rejected[rej0:]
    return (res.cells, res.parts, res.oracle, res.rejected, res.oracle_cells, lps, rejected)


def _chunks(starts: np.ndarray):
    """Ranges of regions with about ``CHUNK_PAIRS`` (vertex, region) pairs each."""
    m = len(starts) - 1
    r0 = 0
    while r0 < m:
        r1 = int(np.searchsorted(starts, starts[r0] + CHUNK_PAIRS, side="right")) - 1
        r1 = min(max(r1, r0 + 1), m)
        yield r0, r1
        r0 = r1


def _rows(net: ReLUNetwork, oracle: RegionOracle, B: np.ndarray) -> tuple:
    """Unit rows ``Hn[i, :, k] . x <= cn[i, k]`` of the unstable neurons for patterns ``B``,
    the zero-row mask, patterns contradicted by a zero row, and identically zero neurons."""
    U = oracle.unstable
    mc, N = B.shape
    A_all, d_all, _, _ = local_maps(net, B)
    Au, du, s = A_all[:, :, U], d_all[:, U], B[:, U]
    sigma = np.where(s, -1.0, 1.0)
    H = sigma[:, None, :] * Au
    c = -sigma * du
    norms = np.sqrt(np.einsum("mdk,mdk->mk", H, H))
    scale = np.maximum(1.0, np.abs(Au).max(axis=(1, 2))) if U.size else np.ones(mc)
    zero = norms <= ZERO_ROW_TOL * scale[:, None]
    bad_zero = (zero & ((s & (du <= 0)) | (~s & (du > 0)))).any(axis=1)
    zero_neurons = np.zeros((mc, N), dtype=bool)
    zero_neurons[:, U] = zero & (du == 0)
    safe = np.where(zero, 1.0, norms)
    return H / safe[:, None, :], c / safe, zero, bad_zero, zero_neurons


def _chunk(sk: _Skeleton, net: ReLUNetwork, oracle: RegionOracle, bits: np.ndarray,
           pv_all: np.ndarray, pr_all: np.ndarray, starts: np.ndarray, labs: np.ndarray,
           has_art: np.ndarray, art_base: int, r0: int, r1: int, res: _Result) -> None:
    """Geometry of regions ``r0 .. r1 - 1`` (their pairs are contiguous)."""
    d, N = sk.d, sk.N
    U = oracle.unstable
    G, h = oracle.G, oracle.h
    nG = len(G)
    mc = r1 - r0
    p0, p1 = int(starts[r0]), int(starts[r1])
    pv, pr = pv_all[p0:p1], pr_all[p0:p1] - r0
    cnt = np.diff(starts[r0:r1 + 1])
    B = bits[r0:r1]
    Hn, cn, zero, bad_zero, zero_neurons = _rows(net, oracle, B)
    X = sk.X
    Xv = X[pv]
    ctr = np.add.reduceat(Xv, starts[r0:r1] - p0, axis=0) / cnt[:, None]
    # padded per-region vertex blocks: one batched product gives every vertex's slacks
    V = int(cnt.max())
    pos = np.arange(p1 - p0) - np.repeat(starts[r0:r1] - p0, cnt)
    Xp = np.repeat(ctr[:, None, :], V, axis=1)
    Xp[pr, pos] = Xv
    slackV = cn[:, None, :] - Xp @ Hn  # (mc, V, nU)
    slackV[np.broadcast_to(zero[:, None, :], slackV.shape)] = np.inf
    slackC = cn - np.einsum("mdk,md->mk", Hn, ctr)
    slackC[zero] = np.inf
    r_c = np.full(mc, lp.RADIUS_CAP)
    if U.size:
        r_c = np.minimum(r_c, slackC.min(axis=1))
    if nG:
        gC = h - ctr @ G.T
        r_c = np.minimum(r_c, gC.min(axis=1))
        gV = h - Xp @ G.T  # (mc, V, nG)
    unbounded = np.bincount(pr, weights=has_art[pv].any(axis=1), minlength=mc) > 0
    # width bound: every row's extent over the vertices is at least the inscribed diameter
    wid = np.full(mc, np.inf)
    if U.size:
        w_rows = np.where(zero, np.inf, slackV.max(axis=1))
        wid = np.minimum(wid, w_rows.min(axis=1))
    if nG:
        wid = np.minimum(wid, gV.max(axis=1).min(axis=1))
    r_upper = np.where(unbounded, np.inf, wid / 2)

    # facets: (region, label) pairs from each vertex's d labels
    fr = np.repeat(pr, d)
    fl = labs[pv].ravel()
    fvert = np.repeat(pv, d)
    real = fl < art_base
    fr, fl, fvert = fr[real], fl[real], fvert[real]
    key = fr.astype(np.int64) * art_base + fl
    o = np.argsort(key, kind="stable")
    key, fr, fl, fvert = key[o], fr[o], fl[o], fvert[o]
    ukey, fstart, fcount = np.unique(key, return_index=True, return_counts=True)
    f_r = fr[fstart]
    f_l = fl[fstart]
    points = np.add.reduceat(X[fvert], fstart, axis=0) / fcount[:, None]
    nf = len(ukey)
    is_dom = f_l >= N
    col = np.searchsorted(U, np.where(is_dom, 0, f_l))
    if U.size:
        col = np.minimum(col, U.size - 1)
        okcol = ~is_dom & (U[col] == f_l)
    else:
        okcol = np.zeros(nf, dtype=bool)
    bad_label = ~is_dom & ~okcol  # a stable neuron's label on a vertex: cannot happen
    if U.size:
        zero_f = zero[f_r, col] & ~is_dom
        bad_label |= zero_f
    fnorm = np.zeros((nf, d))
    foff = np.zeros(nf)
    if U.size:
        fnorm[~is_dom] = Hn[f_r[~is_dom], :, col[~is_dom]]
        foff[~is_dom] = cn[f_r[~is_dom], col[~is_dom]]
    if nG:
        fnorm[is_dom] = G[f_l[is_dom] - N]
        foff[is_dom] = h[f_l[is_dom] - N]
    # in-plane radius at each facet point against every other row of its region
    rad = np.full(nf, lp.RADIUS_CAP)
    if U.size:
        # padded per-region facet blocks, as for the vertices (no (facet, d, nU) gather)
        fst = np.searchsorted(f_r, np.arange(mc + 1))
        fpos = np.arange(nf) - fst[f_r]
        Fp = np.zeros((mc, int(np.diff(fst).max(initial=1)), d))
        Fp[f_r, fpos] = points
        sl = (cn[:, None, :] - Fp @ Hn)[f_r, fpos]
        Fp[f_r, fpos] = fnorm
        cos = (Fp @ Hn)[f_r, fpos]
        own = np.zeros_like(sl, dtype=bool)
        own[np.flatnonzero(~is_dom), col[~is_dom]] = True
        skip = own | zero[f_r]
        rad = np.minimum(rad, _ratio_min(sl, cos, skip))
    if nG:
        sl = h - points @ G.T
        cos = fnorm @ G.T
        own = np.zeros_like(sl, dtype=bool)
        own[np.flatnonzero(is_dom), f_l[is_dom] - N] = True
        rad = np.minimum(rad, _ratio_min(sl, cos, own))
    small_f = (rad <= GEOMETRY_SAFETY * FACET_RADIUS_TOL) | (fcount < d) | bad_label
    suspect = np.bincount(f_r[small_f], minlength=mc) > 0
    suspect |= bad_zero
    region = r_c > GEOMETRY_SAFETY * REGION_RADIUS_TOL
    empty = r_upper < REGION_RADIUS_TOL / GEOMETRY_SAFETY
    suspect |= ~(region | empty)

    # fast regions go to flat arrays; the oracle decides the suspect ones
    fast = region & ~suspect
    for i in np.flatnonzero(suspect):
        res.oracle_cells += 1
        loc = oracle.region(B[i].copy())
        if loc is not None:
            res.oracle.append((r0 + int(i), loc))
    for i in np.flatnonzero(~region & ~suspect):
        res.rejected.append((B[i].copy(), float(r_upper[i])))
    keep_f = fast[f_r]
    res.cells.append(r0 + np.flatnonzero(fast))
    res.parts.append((B[fast], ctr[fast], r_c[fast], zero_neurons[fast],
                      r0 + f_r[keep_f], f_l[keep_f], fnorm[keep_f], foff[keep_f],
                      points[keep_f]))


def _ratio_min(slack: np.ndarray, cos: np.ndarray, skip: np.ndarray) -> np.ndarray:
    """Per row of ``slack`` (a facet point's slack in each other row): the in-plane ball's
    radius ``min slack / sqrt(1 - cos^2)``; a parallel row cuts the plane away if violated."""
    proj = np.sqrt(np.maximum(0.0, 1.0 - cos * cos))
    parallel = (proj <= PARALLEL_TOL) & ~skip
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(parallel | skip, np.inf, slack / np.where(proj > 0, proj, 1.0))
    out = ratio.min(axis=1) if ratio.shape[1] else np.full(len(slack), np.inf)
    out[np.any(parallel & (slack < 0), axis=1)] = 0.0
    return out


def _box_test(sk: _Skeleton, oracle: RegionOracle, Hn: np.ndarray, cn: np.ndarray,
              zero: np.ndarray, pv: np.ndarray, pr: np.ndarray, labs: np.ndarray,
              has_art: np.ndarray, art_base: int, mc: int) -> float:
    """The recession test of the module docstring for box-touching regions ``0 .. mc - 1``
    (their rows ``Hn``; ``pv``, ``pr`` their (vertex, region) pairs). Returns 0 if it passes,
    else the distance from the centre (sup norm) of the farthest point where a tested ray
    leaves its region, ``inf`` when there is none to name."""
    d, N = sk.d, sk.N
    G, h = oracle.G, oracle.h
    U = oracle.unstable
    n_art = has_art[pv].sum(axis=1)
    inner = np.bincount(pr, weights=n_art == 0, minlength=mc)
    if np.any(inner == 0):
        return np.inf
    q = np.flatnonzero(n_art == 1)
    if not q.size:
        return 0.0
    ql = labs[pv[q]]  # (nq, d) sorted: the art label is last
    qr = pr[q]
    art = ql[:, -1] - art_base
    axis, upper = art // 2, art % 2 == 1
    if d == 1:
        e = np.where(upper, 1.0, -1.0)[:, None]
    else:
        rl = ql[:, :-1]
        M = np.zeros((len(q), d - 1, d))
        isd = rl >= N
        if U.size:
            cols = np.minimum(np.searchsorted(U, np.where(isd, 0, rl)), U.size - 1)
            nr = Hn[qr[:, None], :, cols]  # (nq, d - 1, d)
            M = np.where(isd[..., None], 0.0, nr)
        if isd.any():
            M[isd] = G[rl[isd] - N]
        _, sv, vh = np.linalg.svd(M)
        if np.any(sv[:, -1] <= RAY_PARALLEL_TOL * np.maximum(sv[:, 0], 1e-300)):
            return np.inf
        e = vh[:, -1, :]
        ek = e[np.arange(len(q)), axis]
        if np.any(np.abs(ek) <= RAY_PARALLEL_TOL):
            return np.inf
        e = e * (np.sign(ek) * np.where(upper, 1.0, -1.0))[:, None]
    X = sk.X[pv[q]]
    t = np.full(len(q), np.inf)  # how far each ray stays in its region
    with np.errstate(divide="ignore", invalid="ignore"):
        if U.size:
            Hq = Hn[qr]
            he = np.einsum("qd,qdk->qk", e, Hq)
            he[zero[qr]] = -np.inf
            bad = he > RAY_TOL
            if bad.any():
                sl = cn[qr] - np.einsum("qd,qdk->qk", X, Hq)
                t = np.minimum(t, np.where(bad, np.maximum(sl, 0.0) / he, np.inf).min(axis=1))
        if len(G):
            ge = e @ G.T
            bad = ge > RAY_TOL
            if bad.any():
                sl = h - X @ G.T
                t = np.minimum(t, np.where(bad, np.maximum(sl, 0.0) / ge, np.inf).min(axis=1))
    fail = np.isfinite(t)
    if not fail.any():
        return 0.0
    far = X[fail] + t[fail, None] * e[fail]
    return float(np.max(np.abs(far - sk.centre)))


# ----- regions, neighbours and the adjacency graph from flat arrays ----------------------------
class _Light:
    """What the callers of an engine read of a found region before ``finish``."""

    __slots__ = ("pattern", "center", "radius", "zero_neurons", "facets")

    def __init__(self, pattern: np.ndarray, center: np.ndarray, radius: float,
                 zero_neurons: np.ndarray):
        self.pattern, self.center, self.radius = pattern, center, radius
        self.zero_neurons = zero_neurons
        self.facets = ()


class _SkeletonBuilder(RegionBuilder):
    """Builds ``Region`` objects straight from the engine's flat arrays.

    Why not ``LocalRegion``/``LocalFacet`` first: at thousands of regions per second, creating
    two Python objects per facet was half the run. The neighbour rule is the one of
    :class:`RegionBuilder` (flip the facet's bits; every assignment of later identically zero
    neurons; keep a candidate with a neuron facet on a shared neuron), on integer pattern keys.
    Each region's facets share one block ``[normal, point]`` (see :class:`Facet`)."""

    def __init__(self, net: ReLUNetwork, red: Reduction, res: _Result, N: int,
                 domain_ids: list[int]):
        super().__init__(net, red)
        d = red.free.size
        parts = res.parts
        cells = [np.concatenate(res.cells)] if res.cells else []
        P = [p[0] for p in parts]
        C = [p[1] for p in parts]
        R = [p[2] for p in parts]
        Zn = [p[3] for p in parts]
        f_cell = [p[4] for p in parts]
        f_norm = [p[6] for p in parts]
        f_off = [p[7] for p in parts]
        f_pt = [p[8] for p in parts]
        single = [(j,) for j in range(N)]
        f_ids: list[tuple[int, ...]] = []
        f_kind: list[str] = []
        for p in parts:
            for lab in p[5].tolist():
                if lab < N:
                    f_ids.append(single[lab])
                    f_kind.append("neuron")
                else:
                    f_ids.append((domain_ids[lab - N],))
                    f_kind.append("domain")
        if res.oracle:
            oc = np.array([c for c, _ in res.oracle], dtype=np.int64)
            cells.append(oc)
            locs = [loc for _, loc in res.oracle]
            P.append(np.array([loc.pattern for loc in locs]).reshape(len(locs), N))
            C.append(np.array([loc.center for loc in locs]).reshape(len(locs), d))
            R.append(np.array([loc.radius for loc in locs]))
            Zn.append(np.array([loc.zero_neurons for loc in locs]).reshape(len(locs), N))
            for c, loc in res.oracle:
                for f in loc.facets:
                    f_cell.append(np.array([c]))
                    f_norm.append(f.normal[None])
                    f_off.append(np.array([f.offset]))
                    f_pt.append(f.point[None])
                    f_ids.append(f.ids)
                    f_kind.append(f.kind)
        cell = np.concatenate(cells) if cells else np.zeros(0, dtype=np.int64)
        order = np.argsort(cell, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        m = len(cell)
        self.P = (np.concatenate(P) if P else np.zeros((0, N), dtype=bool))[order]
        self.centers = (np.concatenate(C) if C else np.zeros((0, d)))[order]
        self.radii = (np.concatenate(R) if R else np.zeros(0))[order]
        self.zero = (np.concatenate(Zn) if Zn else np.zeros((0, N), dtype=bool))[order]
        fc = np.concatenate(f_cell) if f_cell else np.zeros(0, dtype=np.int64)
        # facet rows in region order: the cell index ranks give region ids
        pos = np.searchsorted(np.sort(cell), fc)
        f_reg = pos  # region id of each facet (ids are ranks of the cell indices)
        fo = np.argsort(f_reg, kind="stable")
        self.f_reg = f_reg[fo]
        self.f_norm = (np.concatenate(f_norm) if f_norm else np.zeros((0, d)))[fo]
        self.f_off = (np.concatenate(f_off) if f_off else np.zeros(0))[fo]
        self.f_pt = (np.concatenate(f_pt) if f_pt else np.zeros((0, d)))[fo]
        fol = fo.tolist()
        self.f_ids = [f_ids[i] for i in fol]
        self.f_kind = [f_kind[i] for i in fol]
        self.f_start = np.searchsorted(self.f_reg, np.arange(m + 1))
        self.local = [_Light(self.P[i], self.centers[i], float(self.radii[i]), self.zero[i])
                      for i in range(m)]
        self.index = {pattern_key(p): i for i, p in enumerate(self.P)}
        self._built: tuple[list[Region], nx.Graph] | None = None

    def _models(self) -> tuple[np.ndarray, np.ndarray]:
        m = len(self.P)
        out = self.net.output_dim
        alpha = np.zeros((m, out, self.net.input_dim))
        beta = np.zeros((m, out))
        step = max(1, MODEL_CHUNK // max(1, self.net.n_hidden * self.net.input_dim))
        for a in range(0, m, step):
            _, _, al, be = local_maps(self.net, self.P[a:a + step], outputs=True)
            alpha[a:a + step], beta[a:a + step] = al, be
        return alpha, beta

    def lift(self, rid: int, neighbours: list[tuple[int, ...]] | None = None) -> Region:
        return self.finish(None)[0][rid]

    def _neighbours(self, oracle: RegionOracle | None
                    ) -> tuple[list[tuple[int, ...]], dict[tuple[int, int], tuple[int, ...]]]:
        """Per facet the regions across it, and the edge labels; in numpy for single-neuron
        facets of regions without identically zero neurons, by the general rule otherwise."""
        m, N = self.P.shape
        nf = len(self.f_reg)
        neuron = np.array([k == "neuron" for k in self.f_kind], dtype=bool)
        single = neuron & np.array([len(i) == 1 for i in self.f_ids], dtype=bool)
        j = np.array([i[0] for i in self.f_ids], dtype=np.int64) if nf else \
            np.zeros(0, dtype=np.int64)
        layer_of = np.repeat(np.arange(len(self.net.hidden_widths)), self.net.hidden_widths)
        zl = np.where(self.zero.any(axis=1),
                      np.max(np.where(self.zero, layer_of[None, :], -1), axis=1), -1)
        simple = single & (zl[self.f_reg] <= layer_of[np.where(neuron, j, 0)])
        # (region, neuron) codes of every neuron facet: the "shares a neuron" test
        codes = np.sort(np.array([r * N + i for r, ids, nn in
                                  zip(self.f_reg.tolist(), self.f_ids, neuron.tolist(),
                                      strict=True) if nn for i in ids], dtype=np.int64))

        def shares(regs: np.ndarray, neurons: np.ndarray) -> np.ndarray:
            c = regs * N + neurons
            pos = np.minimum(np.searchsorted(codes, c), max(len(codes) - 1, 0))
            return (codes[pos] == c) if len(codes) else np.zeros(len(c), dtype=bool)

        Pk = np.packbits(self.P, axis=1)
        nb = Pk.shape[1]
        kv = np.ascontiguousarray(Pk).view(np.dtype((np.void, nb))).ravel()
        order = np.argsort(kv)
        skv = kv[order]
        q = np.flatnonzero(simple)
        K = Pk[self.f_reg[q]].copy()
        jq = j[q]
        K[np.arange(len(q)), jq >> 3] ^= (0x80 >> (jq & 7)).astype(np.uint8)
        kq = np.ascontiguousarray(K).view(np.dtype((np.void, nb))).ravel()
        pos = np.minimum(np.searchsorted(skv, kq), m - 1)
        hit = skv[pos] == kq
        other = np.where(hit, order[pos], -1)
        hit &= shares(np.maximum(other, 0), jq)
        nbrs: list[tuple[int, ...]] = [()] * nf
        for k, o in zip(q[hit].tolist(), other[hit].tolist(), strict=True):
            nbrs[k] = (o,)
        ra, rb = self.f_reg[q[hit]], other[hit]
        trip = np.unique(np.column_stack([np.minimum(ra, rb), np.maximum(ra, rb), jq[hit]]),
                         axis=0)
        edges: dict[tuple[int, int], tuple[int, ...]] = {}
        for a, b, i in trip.tolist():
            old = edges.get((a, b))
            edges[(a, b)] = (i,) if old is None else tuple(sorted(set(old) | {i}))
        index = {pattern_key(p): i for i, p in enumerate(self.P)}
        for k in np.flatnonzero(neuron & ~simple).tolist():  # the general rule
            rid, ids = int(self.f_reg[k]), self.f_ids[k]
            if oracle is not None:
                cand = [index.get(pattern_key(p)) for p in
                        oracle.neighbour_patterns(self.local[rid], _Light_facet(ids))]
            else:
                p = self.P[rid].copy()
                p[list(ids)] = ~p[list(ids)]
                cand = [index.get(pattern_key(p))]
            hits = sorted(o for o in cand if o is not None
                          and shares(np.full(len(ids), o), np.array(ids)).any())
            for o in hits:
                e = (rid, o) if rid < o else (o, rid)
                old = edges.get(e)
                edges[e] = ids if old is None else tuple(sorted(set(old) | set(ids)))
            nbrs[k] = tuple(hits)
        return nbrs, edges

    def finish(self, oracle: RegionOracle | None) -> tuple[list[Region], nx.Graph]:
        if self._built is not None:
            return self._built
        red = self.red
        m = len(self.P)
        alpha, beta = self._models()
        block = facet_block(red.lift_rows(self.f_norm), red.lift(self.f_pt), self.f_off)
        centers = red.lift(self.centers)
        nbrs, edges = self._neighbours(oracle)
        starts = self.f_start.tolist()
        ids_l, kind_l = self.f_ids, self.f_kind
        regions: list[Region] = []
        for rid in range(m):
            f0, f1 = starts[rid], starts[rid + 1]
            blk = block[f0:f1]
            facets = tuple(Facet.from_block(kind_l[q], ids_l[q], blk, q - f0, nbrs[q])
                           for q in range(f0, f1))
            regions.append(Region(rid, self.P[rid], facets, centers[rid],
                                  float(self.radii[rid]), alpha[rid], beta[rid]))
        graph = RegionGraph.deferred(m, edges)  # built when first looked at
        self._built = (regions, graph)
        return self._built


class _Light_facet:
    """The part of a facet ``RegionOracle.neighbour_patterns`` reads."""

    __slots__ = ("ids",)

    def __init__(self, ids: tuple[int, ...]):
        self.ids = ids


# ----- the engine ----------------------------------------------------------------------------
def skeleton_search(net: ReLUNetwork, domain: Domain, progress: Progress | None = None,
                    on_region: OnRegion | None = None, stats: dict | None = None,
                    workers: int | None = 1
                    ) -> tuple[RegionBuilder, RegionOracle, Reduction, Bounds]:
    """Every region of ``net`` on ``domain`` by edge subdivision (any input dimension); same
    return values as ``graph_search``. Raises :class:`Degenerate` where the arrangement is
    not in general position (the caller falls back to the subdivision engine in 1-D and 2-D,
    to the graph search beyond). Runs with one BLAS
    thread: its products are many small batched ones, and BLAS threads cost up to 1.5x on a
    loaded 2-core machine (measured on the 3-16-16-1 benchmark net). ``workers`` processes
    (None: every core) share the regions' geometry, the longest phase; the partition is the
    same for any number."""
    from threadpoolctl import threadpool_limits

    nw = forkpool.default_workers() if workers is None else max(1, int(workers))
    with threadpool_limits(limits=1, user_api="blas"):
        return _skeleton_search(net, domain, progress, on_region, stats, nw)


def _skeleton_search(net: ReLUNetwork, domain: Domain, progress: Progress | None,
                     on_region: OnRegion | None, stats: dict | None, workers: int = 1
                     ) -> tuple[RegionBuilder, RegionOracle, Reduction, Bounds]:
    red, rnet, bounds, oracle = prepare(net, domain)
    d = rnet.input_dim
    N = rnet.n_hidden
    G, h = oracle.G, oracle.h
    nG = len(G)
    art_base = N + nG
    L = art_base + 2 * d
    W = (L + 63) // 64
    dom_lo, dom_hi = domain_extent(oracle, d)
    bounded = bool(np.all(np.isfinite(dom_lo)) and np.all(np.isfinite(dom_hi)))
    if bounded:
        centre = (dom_lo + dom_hi) / 2
        half = float(np.max(dom_hi - dom_lo))
    else:
        cheb = lp.chebyshev_center(G, h) if nG else None
        centre = cheb[0] if cheb is not None else np.zeros(d)
        half = max(BOX_MIN, BOX_START_FACTOR * _first_layer_extent(rnet, bounds, centre))
    offs = rnet.layer_offsets
    unstable = bounds.unstable
    runs = 0
    t_cut = t_geo = 0.0
    while True:
        runs += 1
        t0 = time.perf_counter()
        lo, hi, side_rows = artificial_box(oracle, d, half, centre)
        sk = _start(oracle, lo, hi, side_rows, N, L, W)
        sk.centre = centre
        for layer in range(len(rnet.hidden_widths)):
            report_phase(progress, f"splitting by layer {layer + 1}/{len(rnet.hidden_widths)} "
                             f"({sk.n} vertices)")
            sk.layer_values(rnet, layer)
            for jj, col in enumerate(range(offs[layer], offs[layer + 1])):
                if unstable[col]:
                    n = sk.n
                    sk.cut(col, sk.Z[:n, jj], SIGN_RTOL * sk.S[:n, jj], jj, domain=False)
        report_phase(progress, f"geometry of the regions at {sk.n} vertices")
        t1 = time.perf_counter()
        res = _regions_of(sk, rnet, bounds, oracle, art_base, workers)
        t_cut += t1 - t0
        t_geo += time.perf_counter() - t1
        if res.box_ok:
            break
        # grow at least by BOX_GROWTH, and past the farthest point a failed ray reached
        half = max(half * BOX_GROWTH, 2.0 * res.need) if np.isfinite(res.need) else \
            half * BOX_GROWTH
        if half > BOX_MAX:
            raise Degenerate(f"the arrangement reaches beyond {BOX_MAX:g} from the centre")
    if stats is not None:
        stats.update({"box_half_width": None if bounded else half, "runs": runs,
                      "vertices": sk.n, "edges": sk.ne, "oracle_cells": res.oracle_cells,
                      # where the time goes (all runs): splitting the skeleton, then the
                      # regions' grouping, box test and geometry (the builder comes after)
                      "seconds_subdivide": t_cut, "seconds_geometry": t_geo})
    oracle.rejected.extend(res.rejected)
    builder = _SkeletonBuilder(net, red, res, N, oracle.domain_ids)
    if on_region is not None:
        for rid in range(len(builder.local)):
            on_region(builder.lift(rid))
    if progress is not None:
        progress(len(builder.local), 0)
    report_phase(progress, "search done")
    return builder, oracle, red, bounds

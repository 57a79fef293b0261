"""The backward bound (CROWN's back-substitution, ``docs/proof-search.md``), exactly, in limbs.

The bound of rows ``Lam a_{top-1} + c`` runs back through the relaxations of hidden layers
``top-1 .. 0``: ``c += N t``, ``Lz = P lam + N s``, ``c += Lz b``, ``Lam = Lz W`` (``P``, ``N``
the positive and negative parts of ``Lam``). Held as Python integers, ``Lam`` grows by the bits
of ``s`` and ``W`` at every layer (~500 bits over ACAS Xu's six) and every element costs the
interpreter ~50-100 ns, which made this loop ~85% of a proof check. Here:

- each row of ``Lam`` is ``M * 2**g``: ``M`` float64 integers below ``2**ROW_BITS`` in
  magnitude, ``g`` one exponent per row; after every layer each row is **rounded down** to
  ``ROW_BITS`` significant bits (:func:`~.integer_products.floor_rows`). That is sound: the
  coefficients multiply ``a_{k-1} = ReLU(z_{k-1}) >= 0``, so ``Lam a >= floor(Lam) a``. The
  coefficients on the input ``x`` (of any sign) are rounded down too, and ``2**g`` times
  ``sum_i min(0, lo_i)`` is added to the row's constant (the dropped part is in ``[0, 2**g)``
  per coordinate);
- the upper slopes ``s`` are multiples of ``2**-SLOPE_BITS`` (``leaf_bounds`` rounds them up
  to that grid), so ``diag(s) [W | b]`` of a layer is an integer matrix of bounded size;
- ``Lam W``, ``Lam b`` and ``N t`` are one or two float64 BLAS products of 16-bit limbs
  (exact), carried in int64; only the per-row constants become Python integers.

The loss against the unrounded bound is below ``2**-(ROW_BITS-1)`` of each row's largest
coefficient times the layer's activations, per layer: ~1e-13 relative on ACAS Xu, far inside
the search's closing margin (``proofsearch.tolerances.CLOSE_TOL``, 1e-9).

On ACAS Xu's 50-wide layers a node's rows are a few dozen, so numpy's per-call cost dominated;
:func:`lower_bounds_many` runs the rows of many nodes (the proof-tree checker's leaves, in
lock-step, :func:`~.leaf_bounds.drive_many`) through one set of array operations per layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .integer_products import LIMB, carry, floor_rows, limb_ints, limbs, split_small

#: Significant bits kept per row of the back-substituted coefficients (three 16-bit limbs).
ROW_BITS = 47
#: Upper slopes are multiples of ``2**-SLOPE_BITS`` (a whole number of limbs).
SLOPE_BITS = 48
_SLOPE_LIMBS = SLOPE_BITS // LIMB


@dataclass(frozen=True)
class _Step:
    """One hidden layer's relaxation, ready for the products: side by side the limbs of
    ``diag(s 2**SLOPE_BITS) [W | b]`` and of the upper intercepts' integers ``t`` (``AN``:
    ``TN`` limb blocks of ``m + 1`` columns at exponent ``eWb - SLOPE_BITS``, then ``Tt`` limbs
    of ``t`` at exponent ``et``)."""

    AN: np.ndarray  # (n, TN * (m + 1) + Tt)
    TN: int
    Tt: int
    et: int


class BackSubstitution:
    """The backward bound of one node: its relaxations (``LayerBounds.relax``), its box and
    the network's ``[W | b]`` limbs, with each layer's products prepared on first use."""

    def __init__(self, Wb: list[tuple[np.ndarray, int]], relax: list, box: tuple):
        self.Wb = Wb  # per layer: (limbs (n, TW * (m+1)) float64 of [W | b], TW, exponent)
        self.relax = relax
        xmid, xrad, ex = box
        self.box = box
        # sum_i min(0, lo_i) at exponent ex (lo = mid - rad)
        self.neg_lo = sum(min(0, int(a) - int(r)) for a, r in zip(xmid.tolist(),
                                                                   xrad.tolist(), strict=True))
        self._steps: dict[int, _Step] = {}

    def step(self, k: int) -> _Step:
        """Layer ``k``'s relaxation in limbs (prepared once per node)."""
        st = self._steps.get(k)
        if st is None:
            prepare_steps([self], k)
            st = self._steps[k]
        return st

    def lower_bounds(self, top: int, Lam: np.ndarray, eL: int, c: np.ndarray, ec: int
                     ) -> tuple[np.ndarray, int]:
        """Lower bounds of ``Lam a_{top-1} + c`` (object integer arrays at exponents ``eL``,
        ``ec``; ``a_{-1} = x``) over the node, as one integer array and exponent."""
        return lower_bounds_many([(self, top, float_rows(Lam, eL), c, ec)])[0]


@dataclass(frozen=True)
class Rows:
    """Rows ``Lam 2**eL`` as the back-substitution holds them: float64 integers ``M`` below
    ``2**ROW_BITS`` (each row rounded down, :func:`float_rows`), per-row exponents ``g``, and
    which rows lost bits (``dropped``: their input coefficients need the box correction)."""

    M: np.ndarray
    g: np.ndarray
    dropped: np.ndarray

    def take(self, idx: list[int]) -> Rows:
        return Rows(self.M[idx], self.g[idx], self.dropped[idx])


def float_rows(Lam: np.ndarray, eL: int) -> Rows:
    """Object integer rows ``Lam 2**eL`` as :class:`Rows` (rounded down to ``ROW_BITS``)."""
    M, g = _rows(Lam, eL)
    return Rows(M, g, g > eL)


def prepare_steps(nodes: Sequence[BackSubstitution], k: int) -> None:
    """Layer ``k``'s :class:`_Step` of every node that lacks it, the products of all of them
    at once (``s`` limbs times the shared ``[W | b]`` limbs, one carry sweep)."""
    todo = [bs for bs in nodes if k not in bs._steps]
    if not todo:
        return
    LWb, TW, _ = todo[0].Wb[k]
    n = LWb.shape[0]
    m1 = LWb.shape[1] // TW
    W = LWb.reshape(n, TW, m1).transpose(1, 0, 2).astype(np.int64)  # (TW, n, m1)
    rel = [bs.relax[k] for bs in todo]
    if any(r[2] != -SLOPE_BITS for r in rel):
        raise ValueError("upper slopes are not on the 2**-SLOPE_BITS grid")
    S = limbs(np.stack([r[1] for r in rel])).astype(np.int64)  # (Ts, G, n), s <= 2**SLOPE_BITS
    T = limbs(np.stack([r[3] for r in rel])).transpose(1, 2, 0).astype(np.float64)  # (G, n, Tt)
    Tsl = S.shape[0]
    TN = Tsl + TW
    G = len(todo)
    X = np.zeros((TN, G, n, m1), dtype=np.int64)
    for a in range(Tsl):
        X[a:a + TW] += S[a][None, :, :, None] * W[:, None]
    carry(X)
    XW = X.astype(np.float64).transpose(1, 2, 0, 3).reshape(G, n, TN * m1)
    AN = np.concatenate([XW, T], axis=2)
    for i, bs in enumerate(todo):
        bs._steps[k] = _Step(AN[i], TN, T.shape[2], rel[i][4])


#: A node with at least this many rows in a batch takes ``N diag(s) [W | b]`` as one product
#: with its prepared limbs (:func:`prepare_steps`, ~18k integers per node and layer on ACAS
#: Xu); one with fewer applies ``s`` to its rows in limbs first, with no preparation. Same
#: numbers either way. Measured (2026-12-04, two workers): ACAS 3_3 prop_9 (1,178 leaves,
#: many rows each) 7.4 s with every node prepared, 7.7 s at 16, 8.6 s with none; 1_1 prop_5
#: (20,682 small leaves) 63.6 s, 54.6 s, 52.4 s.
PREPARED_ROWS = 16


#: One back-substitution: the node, ``top``, the rows and their constants ``c`` (object
#: integers at exponent ``ec``), as in :meth:`BackSubstitution.lower_bounds`.
Job = tuple[BackSubstitution, int, Rows, np.ndarray, int]


def _n_part_prepared(nodes: list[BackSubstitution], sizes: list[int], k: int, NL: np.ndarray,
                     m1: int) -> tuple[np.ndarray, np.ndarray]:
    """``N diag(s) [W | b]`` and ``N t`` of layer ``k`` for the rows ``NL`` (limbs (3, R, n),
    grouped by node), one product per node with its prepared limbs: uncarried int64 limbs
    (P, R, m1) and (P, R)."""
    prepare_steps(nodes, k)
    steps = [bs.step(k) for bs in nodes]
    TN = max(st.TN for st in steps)
    Tt = max(st.Tt for st in steps)
    R_, n = NL.shape[1], NL.shape[2]
    XW = np.zeros((3 + TN, R_, m1), dtype=np.int64)
    Xt = np.zeros((3 + Tt, R_), dtype=np.int64)
    a0 = 0
    for st, R in zip(steps, sizes, strict=True):
        xn = (NL[:, a0:a0 + R].reshape(3 * R, n) @ st.AN).astype(np.int64)
        xw = xn[:, :st.TN * m1].reshape(3, R, st.TN, m1)
        xt = xn[:, st.TN * m1:].reshape(3, R, st.Tt)
        for a in range(3):
            XW[a:a + st.TN, a0:a0 + R] += xw[a].transpose(1, 0, 2)
            Xt[a:a + st.Tt, a0:a0 + R] += xt[a].T
        a0 += R
    return XW, Xt


def _n_part_rowwise(nodes: list[BackSubstitution], sizes: list[int], k: int, NL: np.ndarray,
                    LWb: np.ndarray, TW: int) -> tuple[np.ndarray, np.ndarray]:
    """The same as :func:`_n_part_prepared` with ``s`` applied to the rows in limbs first and
    one product with the shared ``[W | b]`` limbs for all of them."""
    rel = [bs.relax[k] for bs in nodes]
    S = np.repeat(limbs(np.stack([r[1] for r in rel])).astype(np.int64), sizes,
                  axis=1)  # (Ts, R, n)
    T = np.repeat(limbs(np.stack([r[3] for r in rel])).astype(np.int64), sizes,
                  axis=1)  # (Tt, R, n)
    NLi = NL.astype(np.int64)  # (3, R, n)
    _, R, n = NLi.shape
    m1 = LWb.shape[1] // TW
    NS = np.zeros((3 + S.shape[0] + 1, R, n), dtype=np.int64)
    Xt = np.zeros((3 + T.shape[0], R), dtype=np.int64)
    for a in range(3):
        NS[a:a + S.shape[0]] += NLi[a][None] * S
        Xt[a:a + T.shape[0]] += (NLi[a][None] * T).sum(axis=2)
    carry(NS)
    TS = NS.shape[0]
    XN = (NS.astype(np.float64).reshape(TS * R, n) @ LWb).astype(np.int64)
    XN = XN.reshape(TS, R, TW, m1)
    XW = np.zeros((TS + TW, R, m1), dtype=np.int64)
    for b in range(TW):
        XW[b:b + TS] += XN[:, :, b]
    return XW, Xt


def lower_bounds_many(jobs: Sequence[Job]) -> list[tuple[np.ndarray, int]]:
    """:meth:`BackSubstitution.lower_bounds` of many nodes' rows with one ``top``, together.

    The lower slopes are applied to the rows (``P lam``), so that part is one float64 BLAS
    product with the network's shared ``[W | b]`` limbs for all rows; ``N diag(s) [W | b]`` and
    ``N t`` are one product per node with its prepared limbs for nodes with many rows, and for
    the others ``s`` goes onto the rows in limbs before one shared product
    (:data:`PREPARED_ROWS`); the carries, the rows' floors and the constants run once over all
    rows. The numbers are the same as one node at a time; only numpy's per-call cost, which
    dominates on ACAS Xu's 50-wide layers, is shared."""
    if not jobs:
        return []
    top = jobs[0][1]
    if any(j[1] != top for j in jobs):
        raise ValueError("lower_bounds_many needs one top layer for every job")
    nodes = [j[0] for j in jobs]
    sizes = [j[2].M.shape[0] for j in jobs]
    off = [0, *np.cumsum(sizes).tolist()]
    Rtot = off[-1]
    M = np.concatenate([j[2].M for j in jobs])
    g = np.concatenate([j[2].g for j in jobs]).astype(np.int64)
    dropped = np.concatenate([j[2].dropped for j in jobs])
    cv = np.empty(Rtot, dtype=object)
    cv[:] = [v for j in jobs for v in j[3].tolist()]
    ce = np.repeat(np.array([j[4] for j in jobs], dtype=np.int64), sizes)
    # nodes with many rows take N diag(s) [W | b] as one product with their prepared limbs;
    # the others apply s to their rows in limbs first (no per-node preparation)
    big = [r >= PREPARED_ROWS for r in sizes]
    row_big = np.repeat(np.array(big, dtype=bool), sizes)  # rows stay grouped by node
    rows_big, rows_small = np.flatnonzero(row_big), np.flatnonzero(~row_big)
    nodes_big = [bs for bs, b in zip(nodes, big, strict=True) if b]
    sizes_big = [r for r, b in zip(sizes, big, strict=True) if b]
    nodes_small = [bs for bs, b in zip(nodes, big, strict=True) if not b]
    sizes_small = [r for r, b in zip(sizes, big, strict=True) if not b]
    for k in range(top - 1, -1, -1):
        LWb, TW, eWb = nodes[0].Wb[k]
        n = M.shape[1]
        m1 = LWb.shape[1] // TW
        m = m1 - 1
        rel = [bs.relax[k] for bs in nodes]
        if any(r[2] != -SLOPE_BITS for r in rel):
            raise ValueError("upper slopes are not on the 2**-SLOPE_BITS grid")
        lam = np.repeat(np.stack([r[0] for r in rel]).astype(bool).astype(np.float64), sizes,
                        axis=0)  # (Rtot, n)
        ML = split_small(M)  # (3, Rtot, n)
        # P lam [W | b]: the node's lower slopes on its rows, then one product for all rows
        PL = (ML * ((M > 0) * lam)[None]).reshape(3 * Rtot, n)
        XP = (PL @ LWb).astype(np.int64).reshape(3, Rtot, TW, m1)
        NL = ML * (M < 0)[None]
        # N diag(s) [W | b] and N t, limbs at exponent g - SLOPE_BITS + eWb (and g + et)
        parts_w: list[tuple[np.ndarray, np.ndarray]] = []  # (rows, limbs (P, rows, m1))
        parts_t: list[tuple[np.ndarray, np.ndarray]] = []  # (rows, limbs (P, rows))
        if nodes_big:
            XW, Xt = _n_part_prepared(nodes_big, sizes_big, k, NL[:, rows_big], m1)
            parts_w.append((rows_big, XW))
            parts_t.append((rows_big, Xt))
        if nodes_small:
            XW, Xt = _n_part_rowwise(nodes_small, sizes_small, k, NL[:, rows_small], LWb, TW)
            parts_w.append((rows_small, XW))
            parts_t.append((rows_small, Xt))
        P_ = max(max(x.shape[0] for _, x in parts_w), _SLOPE_LIMBS + 3 + TW) + 1
        D = np.zeros((P_, Rtot, m1), dtype=np.int64)
        for rs, X in parts_w:
            D[:X.shape[0], rs] += X
        for a in range(3):
            o = a + _SLOPE_LIMBS
            D[o:o + TW] += XP[a].transpose(1, 0, 2)
        carry(D)
        Dt = np.zeros((max(x.shape[0] for _, x in parts_t) + 1, Rtot), dtype=np.int64)
        for rs, X in parts_t:
            Dt[:X.shape[0], rs] += X
        e_w = g - SLOPE_BITS + eWb
        e_t = g + np.repeat(np.array([r[4] for r in rel], dtype=np.int64), sizes)
        cv, ce = _add(cv, ce, limb_ints(D[:, :, m]), e_w)
        cv, ce = _add(cv, ce, limb_ints(Dt), e_t)
        M, drop = floor_rows(np.ascontiguousarray(D[:, :, :m]), ROW_BITS)
        g = e_w + drop
        dropped = drop > 0
    # the input: min over each node's box, and the dropped parts' bound
    d = M.shape[1]
    Mo = M.astype(np.int64).astype(object)
    xmid = np.repeat(np.stack([bs.box[0] for bs in nodes]), sizes, axis=0).reshape(Rtot, d)
    xrad = np.repeat(np.stack([bs.box[1] for bs in nodes]), sizes, axis=0).reshape(Rtot, d)
    ex = np.repeat(np.array([bs.box[2] for bs in nodes], dtype=np.int64), sizes)
    box_min = (Mo * xmid).sum(axis=1) - (np.abs(Mo) * xrad).sum(axis=1)
    cv, ce = _add(cv, ce, box_min, g + ex)
    if dropped.any():
        neg = np.repeat(np.array([bs.neg_lo for bs in nodes], dtype=object), sizes)
        low = np.where(dropped, neg, 0).astype(object)
        cv, ce = _add(cv, ce, low, g + ex)
    out = []
    for j, a0, a1 in zip(jobs, off[:-1], off[1:], strict=True):
        if a1 == a0:
            out.append((np.empty(0, dtype=object), j[4]))
            continue
        e = int(ce[a0:a1].min())
        out.append((cv[a0:a1] * _pow2(ce[a0:a1] - e), e))
    return out


def _add(a: np.ndarray, ea: np.ndarray, b: np.ndarray, eb: np.ndarray
         ) -> tuple[np.ndarray, np.ndarray]:
    """``a 2**ea + b 2**eb`` per row: object integers with int64 exponents."""
    e = np.minimum(ea, eb)
    return (a * _pow2(ea - e) + b * _pow2(eb - e)), e


def _pow2(k: np.ndarray) -> np.ndarray:
    out = np.empty(k.shape, dtype=object)
    out[:] = [1 << v for v in k.tolist()]
    return out


def _rows(Lam: np.ndarray, eL: int) -> tuple[np.ndarray, np.ndarray]:
    """``Lam 2**eL`` (object integers) as float64 rows ``M`` and exponents ``g``, each row
    rounded down to ``ROW_BITS`` significant bits."""
    R = Lam.shape[0]
    lim = 1 << ROW_BITS
    try:
        F = Lam.astype(np.float64)  # exact where |v| < 2**53; |float(v)| < lim iff |v| < lim
    except OverflowError:  # beyond the float range: the slow path below
        F = None
    if F is not None and (not F.size or np.abs(F).max() < lim):
        return F, np.full(R, eL, dtype=np.int64)
    rows = Lam.tolist()
    drops = []
    for row in rows:
        big = max((abs(v) for v in row), default=0)
        # one bit to spare: floor(v / 2**d) of a negative v may reach -2**(bits-1)
        drops.append(max(0, big.bit_length() + 1 - ROW_BITS) if big >= lim else 0)
    rows = [[v >> d for v in row] if d else row for row, d in zip(rows, drops, strict=True)]
    M = np.array(rows, dtype=np.float64).reshape(R, Lam.shape[1])
    return M, np.array(drops, dtype=np.int64) + eL

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
"""

from __future__ import annotations

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
    """One hidden layer's relaxation, ready for the products: limbs of ``diag(lam) [W | b]``
    (``AP``, exponent ``eWb``), and side by side those of ``diag(s 2**SLOPE_BITS) [W | b]``
    and of the upper intercepts' integers ``t`` (``AN``: ``TN`` limb blocks of ``m + 1``
    columns at exponent ``eWb - SLOPE_BITS``, then ``Tt`` limbs of ``t`` at exponent ``et``)."""

    AP: np.ndarray  # (n, TW * (m + 1))
    AN: np.ndarray  # (n, TN * (m + 1) + Tt)
    TW: int
    TN: int
    Tt: int
    m: int
    eWb: int
    et: int


def _ints_to_limbs(v: np.ndarray) -> np.ndarray:
    """int64 limbs (T, n) of an object array of integers (wide ones included)."""
    return limbs(v).astype(np.int64)


class BackSubstitution:
    """The backward bound of one node: its relaxations (``LayerBounds.relax``) and the
    network's ``[W | b]`` limbs, with each layer's products prepared on first use."""

    def __init__(self, Wb: list[tuple[np.ndarray, int]], relax: list, box: tuple):
        self.Wb = Wb  # per layer: (limbs (TW, n, m+1) float64 of [W | b], exponent)
        self.relax = relax
        xmid, xrad, ex = box
        self.box = box
        # sum_i min(0, lo_i) at exponent ex (lo = mid - rad)
        self.neg_lo = sum(min(0, int(a) - int(r)) for a, r in zip(xmid.tolist(),
                                                                   xrad.tolist(), strict=True))
        self._steps: dict[int, _Step] = {}

    def _step(self, k: int) -> _Step:
        st = self._steps.get(k)
        if st is not None:
            return st
        lower_slope, s_int, es, t, et = self.relax[k]
        if es != -SLOPE_BITS:
            raise ValueError("upper slopes are not on the 2**-SLOPE_BITS grid")
        LWb, eWb = self.Wb[k]
        TW, n, m1 = LWb.shape
        lam = np.array([bool(v) for v in lower_slope.tolist()], dtype=np.float64)
        AP = (LWb * lam[None, :, None]).transpose(1, 0, 2).reshape(n, TW * m1)
        S = _ints_to_limbs(s_int)  # (Ts, n), s_int <= 2**SLOPE_BITS
        W = LWb.astype(np.int64)
        TN = S.shape[0] + TW
        X = np.zeros((TN, n, m1), dtype=np.int64)
        for a in range(S.shape[0]):
            X[a:a + TW] += S[a][None, :, None] * W
        carry(X)
        T_ = _ints_to_limbs(t)  # (Tt, n)
        AN = np.concatenate([X.astype(np.float64).transpose(1, 0, 2).reshape(n, TN * m1),
                             T_.T.astype(np.float64)], axis=1)
        st = _Step(np.ascontiguousarray(AP), np.ascontiguousarray(AN), TW, TN, T_.shape[0],
                   m1 - 1, eWb, et)
        self._steps[k] = st
        return st

    def lower_bounds(self, top: int, Lam: np.ndarray, eL: int, c: np.ndarray, ec: int
                     ) -> tuple[np.ndarray, int]:
        """Lower bounds of ``Lam a_{top-1} + c`` (object integer arrays at exponents ``eL``,
        ``ec``; ``a_{-1} = x``) over the node, as one integer array and exponent."""
        R = Lam.shape[0]
        cv, ce = c.copy(), np.full(R, ec, dtype=np.int64)  # per-row constant: cv 2**ce
        M, g = _rows(Lam, eL)
        dropped = g > eL
        for k in range(top - 1, -1, -1):
            st = self._step(k)
            ML = split_small(M)  # (3, R, n)
            n = M.shape[1]
            PL = (ML * (M > 0)[None]).reshape(3 * R, n)
            NL = (ML * (M < 0)[None]).reshape(3 * R, n)
            m1 = st.m + 1
            XP = (PL @ st.AP).reshape(3, R, st.TW, m1).astype(np.int64)
            XN = (NL @ st.AN).astype(np.int64)
            XW = XN[:, :st.TN * m1].reshape(3, R, st.TN, m1)
            Xt = XN[:, st.TN * m1:].reshape(3, R, st.Tt)
            # limbs at exponent g - SLOPE_BITS + eWb: the P part sits SLOPE_BITS higher
            P_ = max(3 + st.TN, _SLOPE_LIMBS + 3 + st.TW) + 1
            D = np.zeros((P_, R, m1), dtype=np.int64)
            for a in range(3):
                D[a:a + st.TN] += XW[a].transpose(1, 0, 2)
                o = a + _SLOPE_LIMBS
                D[o:o + st.TW] += XP[a].transpose(1, 0, 2)
            carry(D)
            Dt = np.zeros((3 + st.Tt + 1, R), dtype=np.int64)
            for a in range(3):
                Dt[a:a + st.Tt] += Xt[a].T
            e_w = g - SLOPE_BITS + st.eWb
            e_t = g + st.et
            cv, ce = _add(cv, ce, limb_ints(D[:, :, st.m]), e_w)
            cv, ce = _add(cv, ce, limb_ints(Dt), e_t)
            M, drop = floor_rows(np.ascontiguousarray(D[:, :, :st.m]), ROW_BITS)
            g = e_w + drop
            dropped = drop > 0
        xmid, xrad, ex = self.box
        Mo = M.astype(np.int64).astype(object)
        box_min = Mo @ xmid - np.abs(Mo) @ xrad
        cv, ce = _add(cv, ce, box_min, g + ex)
        if dropped.any():
            low = np.empty(R, dtype=object)
            low[:] = [self.neg_lo if d else 0 for d in dropped.tolist()]
            cv, ce = _add(cv, ce, low, g + ex)
        e = int(ce.min()) if R else ec
        return cv * _pow2(ce - e), e


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

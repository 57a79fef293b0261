"""The forward symbolic forms of a leaf bound (``docs/proof-search.md``, step 2), in int64 limbs.

A *form matrix* ``F = [C | c]`` holds one affine form ``C_j x + c_j`` of the input per row. Here
every form matrix is float64 integers below ``2**(FORM_BITS + 1)`` in magnitude times one
shared power of two ``2**e``, and each layer's forms are **rounded** onto that grid soundly:

- every entry is rounded down (``floor``) to ``FORM_BITS`` significant bits of the matrix's
  largest entry (:func:`~.integer_products.floor_rows` on the whole matrix as one row);
- a coefficient's dropped part ``f_i`` is in ``[0, 2**e)``, so over the node's box
  ``f_i x_i <= 2**e max(0, hi_i)`` and ``>= 2**e min(0, lo_i)``: an *upper* form's constant
  gets ``1 + ceil(sum_i max(0, hi_i))`` grid units back (the 1 for its own floor), a *lower*
  form's constant ``floor(sum_i min(0, lo_i))`` (:func:`box_slack`). Rounded forms are still
  upper / lower bounds of the same quantity at every point of the box, which is all the leaf
  bound and the differential level use them for.

Without the rounding the forms' integers grow by the bits of ``W`` and of the slopes at every
layer (~350 bits over ACAS Xu's six) and every element costs the interpreter a conversion to
and from 16-bit digits, which made the forward pass half of a proof check. With it, a layer is
one float64 BLAS product of limbs (exact: every dot product stays below ``2**53``), int64
carries and one floor; only the biases and the upper intercepts (one integer per neuron) pass
through Python integers; :func:`pre_activation_many` and :func:`post_activation_many` do one
layer of many nodes at once (the proof-tree checker's leaves, in lock-step). The loss is below
``2**-(FORM_BITS-1)`` of each layer's largest form entry times the box's extent, per layer:
~1e-13 relative on ACAS Xu, far inside the search's closing margin
(``proofsearch.tolerances.CLOSE_TOL``, 1e-9).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .back_substitution import SLOPE_BITS
from .integer_products import LIMB, carry, floor_rows, limbs, split_small

#: Significant bits kept per form matrix (its largest entry below ``2**FORM_BITS``); the box
#: slack added to the constants stays far below the one bit to spare that ``split_small``
#: (``< 2**47``) leaves.
FORM_BITS = 46


@dataclass(frozen=True)
class FormLayer:
    """One layer's ``W+`` and ``W-`` as stacked limbs (``(2 TW n, n_prev)`` float64), and its
    bias (object integers at exponent ``eb``)."""

    LW: np.ndarray
    TW: int
    n: int
    eW: int
    b: np.ndarray
    eb: int


def form_layer(W: np.ndarray, eW: int, b: np.ndarray, eb: int) -> FormLayer:
    """The products' operands of ``W 2**eW`` (object integers) and ``b 2**eb``."""
    n, n_prev = W.shape
    pos = W * (W > 0)
    neg = W - pos
    L = limbs(np.stack([pos, neg]))  # (TW, 2, n, n_prev)
    TW = L.shape[0]
    LW = np.ascontiguousarray(L.transpose(1, 0, 2, 3).reshape(2 * TW * n, n_prev))
    return FormLayer(LW, TW, n, eW, b, eb)


def box_slack(xmid: np.ndarray, xrad: np.ndarray, ex: int) -> tuple[int, int]:
    """``(ceil(sum_i max(0, hi_i)), floor(sum_i min(0, lo_i)))`` of the box
    ``(xmid -+ xrad) 2**ex`` (object integers): in grid units, what flooring a form's
    coefficients can lose (upper forms) or gain (lower forms) over the box."""
    mid = xmid.tolist()
    rad = xrad.tolist()
    up = sum(max(0, int(a) + int(r)) for a, r in zip(mid, rad, strict=True))
    lo = sum(min(0, int(a) - int(r)) for a, r in zip(mid, rad, strict=True))
    return _shift(up, ex, up=True), _shift(lo, ex, up=False)


def _shift(v: int, k: int, up: bool) -> int:
    """``v 2**k`` rounded to an integer (up or down)."""
    if k >= 0:
        return v << k
    return -((-v) >> -k) if up else v >> -k


def _at(v: np.ndarray, e: int, target: int, up: bool) -> np.ndarray:
    """Object integers ``v 2**e`` as integers at exponent ``target``, rounded up or down
    when ``target > e``."""
    k = e - target
    if k >= 0:
        return v * (1 << k) if k else v
    out = np.empty(v.shape, dtype=object)
    out[:] = [_shift(int(x), k, up) for x in v.tolist()]
    return out


def _floor_each(Du: np.ndarray, Dl: np.ndarray, slacks: list[tuple[int, int]]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Carried int64 limbs ``(P, G, n, m)`` of G nodes' upper and lower forms, each node's
    pair floored to ``FORM_BITS`` bits of its largest entry (one exponent per node, the
    ``drop``), with the box slack of the floor added to the constants (:func:`box_slack`)."""
    P = max(Du.shape[0], Dl.shape[0])
    Du, Dl = (np.concatenate([X, np.zeros((P - X.shape[0], *X.shape[1:]), dtype=np.int64)])
              for X in (Du, Dl))
    _, G, n, m = Du.shape
    D = np.concatenate([Du, Dl], axis=2).reshape(P, G, 2 * n * m)
    M, drop = floor_rows(D, FORM_BITS)
    M = M.reshape(G, 2, n, m)
    up = np.array([1 + sl[0] for sl in slacks], dtype=np.float64)
    lo = np.array([sl[1] for sl in slacks], dtype=np.float64)
    cut = drop > 0
    M[:, 0, :, -1] += np.where(cut, up, 0.0)[:, None]
    M[:, 1, :, -1] += np.where(cut, lo, 0.0)[:, None]
    return M[:, 0], M[:, 1], drop


def _add_ints(D: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``D[:, :, :, -1] += v`` for int64 limbs ``D`` (P, G, n, m) and object integers ``v``
    (G, n); more limbs when ``v`` needs them. Returns the carried limbs."""
    Lv = limbs(v).astype(np.int64)  # (T, G, n)
    P = max(D.shape[0], Lv.shape[0] + 1)
    if P > D.shape[0]:
        D = np.concatenate([D, np.zeros((P - D.shape[0], *D.shape[1:]), dtype=np.int64)])
    D[:Lv.shape[0], :, :, -1] += Lv
    return carry(D)


def pre_activation(fl: FormLayer, U: np.ndarray, L: np.ndarray, eF: int,
                   slack: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, int]:
    """``Zu = W+ U + W- L + b``, ``Zl = W+ L + W- U + b`` (upper and lower forms of the layer's
    pre-activations) from the forms ``U >= a >= L`` of its input (float64 integers at exponent
    ``eF``), rounded soundly; returns ``(Zu, Zl, eZ)``."""
    return pre_activation_many(fl, [(U, L, eF, slack)])[0]


def pre_activation_many(fl: FormLayer, items: list[tuple[np.ndarray, np.ndarray, int,
                                                          tuple[int, int]]]
                        ) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """:func:`pre_activation` of many nodes ``(U, L, eF, slack)`` of one layer: one BLAS
    product for all of them, each node its own exponent and floor (the same numbers)."""
    G = len(items)
    n_prev, m = items[0][0].shape
    n, TW = fl.n, fl.TW
    U = np.stack([it[0] for it in items], axis=1)  # (n_prev, G, m)
    L = np.stack([it[1] for it in items], axis=1)
    B = np.stack([split_small(U), split_small(L)], axis=1)  # (3, 2, n_prev, G, m)
    B = np.ascontiguousarray(B.transpose(2, 1, 0, 3, 4)).reshape(n_prev, 6 * G * m)
    R = (fl.LW @ B).astype(np.int64).reshape(2, TW, n, 2, 3, G, m)
    P = TW + 3 + 1
    Du = np.zeros((P, G, n, m), dtype=np.int64)
    Dl = np.zeros((P, G, n, m), dtype=np.int64)
    for t in range(TW):
        Du[t:t + 3] += (R[0, t, :, 0] + R[1, t, :, 1]).transpose(1, 2, 0, 3)
        Dl[t:t + 3] += (R[0, t, :, 1] + R[1, t, :, 0]).transpose(1, 2, 0, 3)
    eZ = [fl.eW + it[2] for it in items]
    bu = np.stack([_at(fl.b, fl.eb, e, up=True) for e in eZ])  # (G, n)
    bl = np.stack([_at(fl.b, fl.eb, e, up=False) for e in eZ])
    Zu, Zl, drop = _floor_each(_add_ints(Du, bu), _add_ints(Dl, bl), [it[3] for it in items])
    return [(Zu[g], Zl[g], eZ[g] + int(drop[g])) for g in range(G)]


def post_activation(Zu: np.ndarray, Zl: np.ndarray, eZ: int, s_int: np.ndarray,
                    t: np.ndarray, et: int, lower_slope: np.ndarray, slack: tuple[int, int]
                    ) -> tuple[np.ndarray, np.ndarray, int]:
    """The forms of ``a = ReLU(z)`` from those of ``z`` and the layer's relaxation (upper
    slopes ``s_int 2**-SLOPE_BITS``, intercepts ``t 2**et``, lower slopes 0/1):
    ``U = s Zu + t``, ``L = lam Zl``, rounded soundly; returns ``(U, L, eF)``."""
    return post_activation_many([(Zu, Zl, eZ, s_int, t, et, lower_slope, slack)])[0]


def post_activation_many(items: list[tuple]) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """:func:`post_activation` of many nodes of one layer, ``(Zu, Zl, eZ, s_int, t, et,
    lower_slope, slack)`` each: the same numbers, the array operations shared."""
    G = len(items)
    n, m = items[0][0].shape
    S = limbs(np.stack([it[3] for it in items])).astype(np.int64)  # (Ts, G, n)
    lam = np.stack([it[6] for it in items]).astype(np.int64)  # (G, n)
    ZuL = split_small(np.stack([it[0] for it in items])).astype(np.int64)  # (3, G, n, m)
    ZlL = split_small(np.stack([it[1] for it in items])).astype(np.int64)
    shift = SLOPE_BITS // LIMB  # upper slopes are integers over 2**SLOPE_BITS: whole limbs
    P = max(3 + S.shape[0], shift + 3) + 1
    DU = np.zeros((P, G, n, m), dtype=np.int64)
    for a in range(S.shape[0]):
        DU[a:a + 3] += ZuL * S[a][None, :, :, None]
    DL = np.zeros((P, G, n, m), dtype=np.int64)
    DL[shift:shift + 3] = ZlL * lam[None, :, :, None]
    e0 = [it[2] - SLOPE_BITS for it in items]
    tt = np.stack([_at(it[4], it[5], e, up=True) for it, e in zip(items, e0, strict=True)])
    U, L, drop = _floor_each(_add_ints(carry(DU), tt), carry(DL), [it[7] for it in items])
    return [(U[g], L[g], e0[g] + int(drop[g])) for g in range(G)]


def as_objects(F: np.ndarray) -> np.ndarray:
    """Float64 integers as Python integers (an object array), exactly."""
    return F.astype(np.int64).astype(object)

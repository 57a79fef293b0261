"""The exact maximum of one direction over the closed cell where two activation patterns hold.

Why this is the step that makes answers exact: on the closed polyhedron ``P`` where both
patterns hold (``z >= 0`` for active, ``z <= 0`` for inactive neurons, plus the domain) both
networks *are* their pattern-fixed affine maps (ReLU is continuous), so the direction is one
affine function there (top-1: a ``min`` of affine functions, one LP variable more). The maps
are built in exact dyadic arithmetic from the float64 weights
(:func:`~verishallow.exact.maps.exact_piece`) and the LP is solved exactly
(:func:`~verishallow.solvers.exact_lp.exact_lp_max`: a HiGHS vertex verified in rationals,
z3 where that fails). The value is attained at an exact point of the domain, so it is a
rigorous lower bound on the maximum, whichever method proposed the patterns.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from ..domain import Domain
from ..exact.linalg import ExactLP
from ..exact.maps import ExactPiece, exact_piece
from ..network import ReLUNetwork
from ..solvers.exact_lp import exact_lp_max
from .quantity import Direction


def _domain_rows(lp_: ExactLP, domain: Domain) -> None:
    d = domain.dim
    for i in range(d):
        lo, hi = float(domain.lower[i]), float(domain.upper[i])
        if lo == hi:
            lp_.fixed[i] = Fraction(lo)
            continue
        e = [0] * lp_.n
        e[i] = 1
        lp_.add(e, Fraction(hi))
        e = [0] * lp_.n
        e[i] = -1
        lp_.add(e, -Fraction(lo))
    for r in range(domain.A.shape[0]):
        row = [Fraction(float(v)) for v in domain.A[r]] + [0] * (lp_.n - d)
        lp_.add(row, Fraction(float(domain.b[r])))
    lp_.col_lower = np.concatenate([domain.lower, np.full(lp_.n - d, -np.inf)])
    lp_.col_upper = np.concatenate([domain.upper, np.full(lp_.n - d, np.inf)])


def _pattern_rows(lp_: ExactLP, piece: ExactPiece, pattern: np.ndarray) -> None:
    """``z_k >= 0`` for active, ``z_k <= 0`` for inactive neurons (closed polyhedron)."""
    pad = [0] * (lp_.n - piece.A.shape[1])
    for k in range(piece.A.shape[0]):
        row = [int(v) for v in piece.A[k]]
        if pattern[k]:
            lp_.add([-v for v in row] + pad, int(piece.d[k]))
        else:
            lp_.add(row + pad, -int(piece.d[k]))


def exact_cell_max(net_a: ReLUNetwork, net_b: ReLUNetwork, domain: Domain,
                   pat_a: np.ndarray, pat_b: np.ndarray, dr: Direction, k: int | None
                   ) -> tuple[Fraction, list[Fraction], str] | None:
    """Exact maximum of the direction over the closed cell where both patterns hold:
    ``(value, vertex, how)`` (``how`` names the exact LP path), or None if the cell is empty.
    ``k`` (top-1 only): the output the other network ranks above ``dr.j``."""
    d = domain.dim
    pa, pb = exact_piece(net_a, pat_a), exact_piece(net_b, pat_b)
    n = d if dr.kind == "diff" else d + 1
    lp_ = ExactLP(n)
    _domain_rows(lp_, domain)
    _pattern_rows(lp_, pa, pat_a)
    _pattern_rows(lp_, pb, pat_b)
    if lp_.empty:
        return None
    if dr.kind == "diff":
        aa, ba = pa.output(dr.j)
        ab, bb = pb.output(dr.j)
        c = [dr.sign * (u - w) for u, w in zip(aa, ab, strict=True)]
        c0 = dr.sign * (ba - bb)
        got = exact_lp_max(lp_, c)
        return None if got is None else (got[0] + c0, got[1], got[2])
    P, Q = (pa, pb) if dr.sign > 0 else (pb, pa)
    i = dr.j

    def out_row(piece: ExactPiece, hi_: int, lo_: int) -> list[int]:
        # t - (y_hi - y_lo) <= 0, scaled by 2^T: t*2^T - (alpha_hi - alpha_lo) x <= beta_hi - ..
        r = [-(int(piece.alpha[hi_][col]) - int(piece.alpha[lo_][col])) for col in range(d)]
        return r + [1 << piece.T]

    for j in range(P.alpha.shape[0]):
        if j != i:
            lp_.add(out_row(P, i, j), int(P.beta[i]) - int(P.beta[j]))
    lp_.add(out_row(Q, k, i), int(Q.beta[k]) - int(Q.beta[i]))
    c = [Fraction(0)] * d + [Fraction(1)]
    return exact_lp_max(lp_, c)

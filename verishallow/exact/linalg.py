"""Exact linear algebra: fraction-free elimination, a tiny exact simplex, exact LP vertices,
and the Farkas test every certificate's implications rest on.

Floats may *propose* (a support, a vertex); only the integer / ``Fraction`` arithmetic here
decides. Used by the checkers (``implied_bound``) and by the certifiers and the exact
equivalence decisions (the solves). Imports the standard library and numpy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from .tolerances import TIGHT_ROW_TOL


class FarkasError(ValueError):
    """Multipliers that do not prove the inequality they are claimed to prove."""


def implied_bound(keys: list[tuple[int, ...]], multipliers: list[Fraction],
                  target: list[int] | list[Fraction]) -> Fraction:
    """The constant ``sum m_k c_k`` that the rows ``h_k x <= c_k`` (``keys[k] = h_k + (c_k,)``)
    imply for ``target . x`` with multipliers ``m >= 0`` and ``sum m_k h_k = target``, exactly;
    :class:`FarkasError` (saying which condition fails) otherwise. Integer arithmetic over the
    multipliers' common denominator (:func:`implied_numerator`)."""
    den = math.lcm(*(m.denominator for m in multipliers)) if multipliers else 1
    nums = [m.numerator * (den // m.denominator) for m in multipliers]
    return Fraction(implied_numerator(keys, nums, den, target), den)


def implied_numerator(keys: list[tuple[int, ...]], nums: list[int], den: int,
                      target: list[int] | list[Fraction]) -> int:
    """:func:`implied_bound` for multipliers ``nums[k] / den`` (``den > 0``): the numerator
    over ``den`` of the implied constant, or :class:`FarkasError`. The one Farkas test."""
    if den <= 0:
        raise FarkasError("the multipliers' denominator is not positive")
    if any(c < 0 for c in nums):
        raise FarkasError("a multiplier is negative")
    n = len(target)
    for j in range(n):
        if sum(c * k[j] for c, k in zip(nums, keys, strict=True)) != den * target[j]:
            raise FarkasError(f"the multipliers do not reproduce the inequality (coordinate {j})")
    return sum(c * k[n] for c, k in zip(nums, keys, strict=True))


def plane_basis(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[tuple[int, ...],
                                                               tuple[int, ...], int]:
    """Two rows ``h x <= c`` of the plane and the determinant of their normals (not 0:
    :class:`FarkasError` for parallel facets), for :func:`plane_multipliers`."""
    det = a[0] * b[1] - a[1] * b[0]
    if det == 0:
        raise FarkasError("the basis facets are parallel")
    return a, b, det


def plane_multipliers(basis: tuple[tuple[int, ...], tuple[int, ...], int], t0: int, t1: int
                      ) -> tuple[int, int, int]:
    """Cramer's rule in integers: ``(ni, nj, D)`` with ``D > 0`` and ``ni a + nj b = D t`` for
    the normals of :func:`plane_basis` ``(a, b, det)`` and ``t = (t0, t1)`` (unique: the
    normals are independent)."""
    a, b, det = basis
    ni = t0 * b[1] - t1 * b[0]
    nj = a[0] * t1 - a[1] * t0
    return (ni, nj, det) if det > 0 else (-ni, -nj, -det)


def basis_multipliers(keys: list[tuple[int, ...]], target: list[int] | list[Fraction]
                      ) -> tuple[list[int], int]:
    """The multipliers ``nums / den`` (``den > 0``) with ``sum nums_k keys_k[:n] = den *
    target`` for ``n`` rows (a vertex's basis), exactly and deterministically, so that a
    certificate may name the basis and leave the multipliers to the checker: Cramer's rule in
    integers when ``n == 2`` (the plane's fast path), fraction-free elimination otherwise
    (free variables 0). :class:`FarkasError` when there is no solution. Signs are not tested
    here: :func:`implied_numerator` does that."""
    n = len(target)
    if len(keys) != n:
        raise FarkasError(f"a basis needs {n} facets, not {len(keys)}")
    if n == 2 and all(isinstance(v, int) for v in target):
        ni, nj, det = plane_multipliers(plane_basis(keys[0], keys[1]), target[0], target[1])
        return [ni, nj], det
    t = [Fraction(v) for v in target]
    den_t = math.lcm(*(v.denominator for v in t)) if t else 1
    ti = [int(v * den_t) for v in t]
    lam = solve_support(keys, list(range(n)), ti)
    if lam is None:
        raise FarkasError("the inequality is not a combination of the basis facets")
    vals = [lam.get(k, Fraction(0)) / den_t for k in range(n)]
    den = math.lcm(*(v.denominator for v in vals))
    return [int(v * den) for v in vals], den


def solve_support(K: list[tuple[int, ...]], S: list[int], target: list[int]
                   ) -> dict[int, Fraction] | None:
    """Exact ``sum_{k in S} lam_k K_k[:n] = target`` (free variables 0), or None if the system
    is inconsistent. Fraction-free Gauss-Jordan elimination on integers (each row kept
    primitive), one division per pivot at the end: much faster than Fraction arithmetic on
    the large integers of deep layers."""
    n = len(target)
    m = len(S)
    rows = [[K[k][j] for k in S] + [target[j]] for j in range(n)]
    piv_cols: list[int] = []
    r = 0
    for c in range(m):
        p = next((i for i in range(r, n) if rows[i][c] != 0), None)
        if p is None:
            continue
        rows[r], rows[p] = rows[p], rows[r]
        pr = rows[r]
        pv = pr[c]
        for i in range(n):
            if i != r and rows[i][c] != 0:
                f = rows[i][c]
                new = [a * pv - f * b for a, b in zip(rows[i], pr, strict=True)]
                g = math.gcd(*new)
                rows[i] = [v // g for v in new] if g > 1 else new
        piv_cols.append(c)
        r += 1
        if r == n:
            break
    if any(rows[i][m] != 0 for i in range(r, n)):
        return None  # inconsistent
    lam = {S[c]: Fraction(rows[i][m], rows[i][c]) for i, c in enumerate(piv_cols)}
    return {k: v for k, v in lam.items() if v != 0}


def simplex(M: list[list[Fraction]], t: list[Fraction], cost: list[Fraction]
             ) -> list[Fraction] | None:
    """Exact two-phase simplex (Bland's rule): argmin ``cost.lam`` s.t. ``M lam = t, lam >= 0``;
    ``None`` if infeasible or unbounded. Tiny dense problems only (a fallback)."""
    n, K = len(M), len(cost)
    T = []
    for j in range(n):
        sgn = -1 if t[j] < 0 else 1
        T.append([sgn * M[j][k] for k in range(K)] + [Fraction(int(a == j)) for a in range(n)]
                 + [sgn * t[j]])
    basis = [K + j for j in range(n)]
    width = K + n

    def run(c: list[Fraction], allowed: int) -> bool:
        while True:
            enter = None
            for j in range(allowed):
                if j in basis:
                    continue
                rc = c[j] - sum(c[basis[i]] * T[i][j] for i in range(len(T)))
                if rc < 0:
                    enter = j
                    break
            if enter is None:
                return True
            best = None
            for i in range(len(T)):
                if T[i][enter] > 0:
                    ratio = T[i][width] / T[i][enter]
                    if best is None or ratio < best[0] or (ratio == best[0]
                                                           and basis[i] < basis[best[1]]):
                        best = (ratio, i)
            if best is None:
                return False  # unbounded
            _pivot(best[1], enter)

    def _pivot(i: int, j: int) -> None:
        pv = T[i][j]
        T[i] = [v / pv for v in T[i]]
        for r in range(len(T)):
            if r != i and T[r][j] != 0:
                f = T[r][j]
                T[r] = [a - f * b for a, b in zip(T[r], T[i], strict=True)]
        basis[i] = j

    phase1 = [Fraction(0)] * K + [Fraction(1)] * n
    run(phase1, width)
    if sum(T[i][width] for i in range(len(T)) if basis[i] >= K) != 0:
        return None
    # drive artificial variables out of the basis (or drop redundant rows)
    i = 0
    while i < len(T):
        if basis[i] >= K:
            j = next((j for j in range(K) if T[i][j] != 0), None)
            if j is None:
                del T[i]
                del basis[i]
                continue
            _pivot(i, j)
        i += 1
    if not run(list(cost) + [Fraction(0)] * n, K):
        return None
    lam = [Fraction(0)] * K
    for i, b in enumerate(basis):
        lam[b] = T[i][width]
    return lam


@dataclass
class ExactLP:
    n: int
    rows: list[list[Any]] = field(default_factory=list)  # exact (int or Fraction) coefficients
    rhs: list[Any] = field(default_factory=list)
    fixed: dict[int, Fraction] = field(default_factory=dict)  # x_i = value (equalities)
    col_lower: np.ndarray | None = None
    col_upper: np.ndarray | None = None
    empty: bool = False  # a constant row is violated: the polyhedron is empty

    def add(self, row: list[Any], rhs: Any) -> None:
        if all(v == 0 for v in row):
            if rhs < 0:
                self.empty = True
            return
        self.rows.append(list(row))
        self.rhs.append(rhs)


def solve_square(M: list[list[Fraction]], b: list[Fraction]) -> list[Fraction] | None:
    n = len(M)
    A = [list(map(Fraction, r)) + [Fraction(bi)] for r, bi in zip(M, b, strict=True)]
    for c in range(n):
        p = next((r for r in range(c, n) if A[r][c] != 0), None)
        if p is None:
            return None
        A[c], A[p] = A[p], A[c]
        piv = A[c][c]
        for r in range(n):
            if r != c and A[r][c] != 0:
                f = A[r][c] / piv
                A[r] = [a - f * bb for a, bb in zip(A[r], A[c], strict=True)]
    return [A[i][n] / A[i][i] for i in range(n)]


class Echelon:
    """Incremental exact rank test for choosing independent tight rows."""

    def __init__(self) -> None:
        self.basis: list[tuple[int, list[Fraction]]] = []

    def try_add(self, row: list[Any]) -> bool:
        v = [Fraction(t) for t in row]
        for piv, b in self.basis:
            if v[piv] != 0:
                f = v[piv] / b[piv]
                v = [a - f * bb for a, bb in zip(v, b, strict=True)]
        nz = next((i for i, t in enumerate(v) if t != 0), None)
        if nz is None:
            return False
        self.basis.append((nz, v))
        return True


def verify_vertex(lp_: ExactLP, c: list[Fraction], G: np.ndarray, h: np.ndarray,
                   xf: np.ndarray) -> tuple[Fraction, list[Fraction]] | None:
    n = lp_.n
    ech = Echelon()
    basis_rows: list[list[Any]] = []
    basis_rhs: list[Any] = []
    is_eq: list[bool] = []
    for i, v in sorted(lp_.fixed.items()):
        e = [0] * n
        e[i] = 1
        if ech.try_add(e):
            basis_rows.append(e)
            basis_rhs.append(v)
            is_eq.append(True)
    if G.shape[0]:
        slack = h - G @ xf
        cand = np.flatnonzero(slack <= TIGHT_ROW_TOL * (1.0 + np.abs(h)))
        for r in cand[np.argsort(slack[cand], kind="stable")]:
            if len(basis_rows) == n:
                break
            if ech.try_add(lp_.rows[r]):
                basis_rows.append(lp_.rows[r])
                basis_rhs.append(lp_.rhs[r])
                is_eq.append(False)
    if len(basis_rows) < n:
        return None
    v = solve_square(basis_rows, basis_rhs)
    if v is None:
        return None
    # primal feasibility, exactly (common denominator, integer arithmetic)
    D = 1
    for t in v:
        D = D * t.denominator // math.gcd(D, t.denominator)
    vn = [int(t * D) for t in v]
    for row, rhs in zip(lp_.rows, lp_.rhs, strict=True):
        lhs = sum(Fraction(a) * b for a, b in zip(row, vn, strict=True) if a != 0)
        if lhs > Fraction(rhs) * D:
            return None
    for i, val in lp_.fixed.items():
        if v[i] != val:
            return None
    # dual feasibility: c = B^T lam with lam >= 0 on inequality rows
    BT = [[Fraction(basis_rows[r][col]) for r in range(n)] for col in range(n)]
    lam = solve_square(BT, c)
    if lam is None:
        return None
    if any(lv < 0 for lv, eq in zip(lam, is_eq, strict=True) if not eq):
        return None
    return sum((ci * vi for ci, vi in zip(c, v, strict=True)), Fraction(0)), v

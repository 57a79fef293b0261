"""What a proof search proves, in exact rationals: cases (input boxes) and unsafe disjuncts.

A *goal* says: for every case, no input ``x`` of the case's box (and its extra input rows)
makes the network ``F`` land in any of the case's *disjuncts*; a disjunct is a conjunction of
linear output rows, ``C F(x) <= d`` (closed, VNN-LIB) or ``C F(x) < d`` (open: equivalence,
where a violation is a difference strictly above epsilon). Refuting a disjunct on a set needs
one row ``i`` with ``C_i F(x) - d_i > 0`` (closed) or ``>= 0`` (open) on the whole set, or the
same of a sum of its rows (each row holds on the disjunct, so their sum does).

Both the proof search and the proof-tree checker build goals here, from a VNN-LIB property or
from an equivalence question on the product network ``[f_A; f_B]``
(:func:`verishallow.product.product_network`), so the checker re-derives the goal from the
user's files instead of trusting the certificate's copy. Solver-free: part of the trusted base.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..errors import InputError


@dataclass(frozen=True)
class Disjunct:
    """``C y <= d`` (``closed``) or ``C y < d`` (open) over the network's outputs ``y``."""

    C: tuple[tuple[Fraction, ...], ...]
    d: tuple[Fraction, ...]
    closed: bool

    def float_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """``(C, d)`` as float64 arrays (the search's view; the checker stays exact)."""
        m = len(self.C[0]) if self.C else 0
        C = np.array([[float(v) for v in row] for row in self.C], dtype=np.float64)
        return C.reshape(len(self.C), m), np.array([float(v) for v in self.d], dtype=np.float64)

    def row_sum(self, S: tuple[int, ...] | list[int]) -> tuple[tuple[Fraction, ...], Fraction]:
        """The sum of rows ``S`` and of their offsets: every row holds on the disjunct, so the
        sum does too, and a bound that refutes the sum refutes the disjunct."""
        m = len(self.C[S[0]])
        row = tuple(sum((self.C[i][j] for i in S), Fraction(0)) for j in range(m))
        return row, sum((self.d[i] for i in S), Fraction(0))


@dataclass(frozen=True)
class Case:
    """One input case: exact box ``lower <= x <= upper`` and rows ``A x <= b``."""

    lower: tuple[Fraction, ...]
    upper: tuple[Fraction, ...]
    A: tuple[tuple[Fraction, ...], ...]
    b: tuple[Fraction, ...]
    disjuncts: tuple[Disjunct, ...]


@dataclass(frozen=True)
class Goal:
    """Every case's disjuncts are impossible on the case's inputs."""

    kind: str  # "property" or "equivalence"
    cases: tuple[Case, ...]
    n_inputs: int
    n_outputs: int

    def digest(self) -> str:
        """SHA-256 of the canonical goal: a certificate for another goal is caught by it."""
        data = {"kind": self.kind, "n_inputs": self.n_inputs, "n_outputs": self.n_outputs,
                "cases": [{"lower": [str(v) for v in c.lower],
                           "upper": [str(v) for v in c.upper],
                           "A": [[str(v) for v in r] for r in c.A],
                           "b": [str(v) for v in c.b],
                           "disjuncts": [{"C": [[str(v) for v in r] for r in q.C],
                                          "d": [str(v) for v in q.d], "closed": q.closed}
                                         for q in c.disjuncts]}
                          for c in self.cases]}
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def outward_double(v: Fraction, up: bool) -> float:
    """The nearest float64 at or beyond ``v`` (above when ``up``): boxes and bounds are
    rounded outward to doubles, so every later computation stays dyadic and still sound."""
    f = float(v)
    if up and Fraction(f) < v:
        f = math.nextafter(f, math.inf)
    elif not up and Fraction(f) > v:
        f = math.nextafter(f, -math.inf)
    return f


def float_box(case: Case) -> tuple[np.ndarray, np.ndarray]:
    """The case's box rounded outward to doubles: the root box of every proof tree."""
    lo = np.array([outward_double(v, up=False) for v in case.lower], dtype=np.float64)
    hi = np.array([outward_double(v, up=True) for v in case.upper], dtype=np.float64)
    return lo, hi


def property_goal(prop, n_inputs: int, n_outputs: int) -> Goal:
    """The goal of a VNN-LIB property (:class:`verishallow.vnnlib.VnnlibProperty`): every
    input case with every output disjunct, closed rows. Unbounded inputs are refused (a proof
    tree splits a bounded box)."""
    if prop.n_inputs != n_inputs:
        raise InputError(f"{prop.path}: the property has {prop.n_inputs} inputs but the model "
                         f"has {n_inputs}")
    if prop.n_outputs != n_outputs:
        raise InputError(f"{prop.path}: the property has {prop.n_outputs} outputs but the model "
                         f"has {n_outputs}")
    cases = []
    for region, outs in prop.cases:
        if any(v is None for v in (*region.lower_exact, *region.upper_exact)):
            raise InputError(f"{prop.path}: every input needs a finite lower and upper bound "
                             "for the proof search")
        disj = tuple(Disjunct(tuple(tuple(r) for r in c.C_exact), tuple(c.d_exact), True)
                     for c in outs)
        cases.append(Case(tuple(region.lower_exact), tuple(region.upper_exact),
                          tuple(tuple(r) for r in region.A_exact), tuple(region.b_exact), disj))
    return Goal("property", tuple(cases), n_inputs, n_outputs)


def _unit(m2: int, plus: int, minus: int) -> tuple[Fraction, ...]:
    row = [Fraction(0)] * m2
    row[plus] += 1
    row[minus] -= 1
    return tuple(row)


def equivalence_goal(lower: list[Fraction], upper: list[Fraction], m: int, epsilon: Fraction,
                     top1: bool) -> Goal:
    """The goal "A and B agree" on a box, over the product network's outputs ``[A; B]``
    (``m`` outputs each).

    ``top1=False``: for every output ``j`` and sign, the open disjunct
    ``s (A_j - B_j) > epsilon``, written ``s (B_j - A_j) < -epsilon``.
    ``top1=True`` (the tie rule of :mod:`verishallow.equiv`): for both roles ``(P, Q)``, every
    ``i`` and every ``k != i``, the open disjunct ``P_j - P_i < -epsilon`` for all ``j != i``
    and ``Q_i - Q_k < -epsilon`` (P's unique top output is ``i``, Q ranks ``k`` above it).
    """
    if len(lower) != len(upper):
        raise InputError("the box's lower and upper bounds differ in length")
    if epsilon < 0:
        raise InputError(f"epsilon must be >= 0, got {float(epsilon)!r}")
    m2 = 2 * m
    disj: list[Disjunct] = []
    if not top1:
        for j in range(m):
            for s in (1, -1):
                row = _unit(m2, m + j, j) if s == 1 else _unit(m2, j, m + j)
                disj.append(Disjunct((row,), (-epsilon,), False))
    elif m >= 2:
        for p_off, q_off in ((0, m), (m, 0)):
            for i in range(m):
                for k in range(m):
                    if k == i:
                        continue
                    rows = [_unit(m2, p_off + j, p_off + i) for j in range(m) if j != i]
                    rows.append(_unit(m2, q_off + i, q_off + k))
                    disj.append(Disjunct(tuple(rows), (-epsilon,) * len(rows), False))
    case = Case(tuple(Fraction(v) for v in lower), tuple(Fraction(v) for v in upper), (), (),
                tuple(disj))
    return Goal("equivalence", (case,), len(lower), m2)

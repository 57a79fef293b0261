"""The exact maximum of a linear program: HiGHS finds a vertex, exact arithmetic confirms it,
z3 (exact reals) decides what the float vertex could not.

The exact LP itself (:class:`~verishallow.exact.linalg.ExactLP`) and the vertex test
(:func:`~verishallow.exact.linalg.verify_vertex`) are in the exact kernel; this module is the
glue to the two solvers. Used by the exact equivalence decisions and the equivalence certifier.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from ..exact.linalg import ExactLP, verify_vertex
from . import lp

#: z3 time limit (seconds) for the exact LP fallback.
Z3_TIMEOUT = 60.0


def _float_row(row: list[Any], rhs: Any) -> tuple[np.ndarray, float]:
    scale = max(abs(v) for v in row)
    return np.array([float(Fraction(v) / scale) for v in row]), float(Fraction(rhs) / scale)


def exact_lp_max(lp_: ExactLP, c: list[Fraction]) -> tuple[Fraction, list[Fraction], str] | None:
    """Exact maximum of ``c.v`` over the LP: ``(value, vertex, how)`` or None if empty (or z3
    gave up). ``how`` is ``"vertex"`` (float LP vertex verified in rationals) or ``"z3"``."""
    if lp_.empty:
        return None
    n = lp_.n
    pairs = [_float_row(r, h) for r, h in zip(lp_.rows, lp_.rhs, strict=True)]
    G = np.array([g for g, _ in pairs]) if pairs else np.zeros((0, n))
    h = np.array([v for _, v in pairs])
    lo, hi = lp_.col_lower.copy(), lp_.col_upper.copy()
    for i, v in lp_.fixed.items():
        lo[i] = hi[i] = float(v)
    cf = np.array([float(t) for t in c])
    sol = lp.solve_lp(cf, G, np.full(G.shape[0], -np.inf), h, lo, hi, maximize=True)
    if sol.status == "optimal":
        got = verify_vertex(lp_, c, G, h, sol.x)
        if got is not None:
            return got[0], got[1], "vertex"
    return z3_lp_max(lp_, c)


def z3_lp_max(lp_: ExactLP, c: list[Fraction]) -> tuple[Fraction, list[Fraction], str] | None:
    """The exact maximum by z3's ``Optimize`` over the reals (slow; the fallback)."""
    import z3

    def rv(t: Any) -> z3.ArithRef:
        f = Fraction(t)
        return z3.RealVal(f"{f.numerator}/{f.denominator}")

    opt = z3.Optimize()
    opt.set("timeout", int(Z3_TIMEOUT * 1000))
    xs = [z3.Real(f"v{i}") for i in range(lp_.n)]
    for row, rhs in zip(lp_.rows, lp_.rhs, strict=True):
        opt.add(z3.Sum([rv(a) * x for a, x in zip(row, xs, strict=True) if a != 0]) <= rv(rhs))
    for i, val in lp_.fixed.items():
        opt.add(xs[i] == rv(val))
    opt.maximize(z3.Sum([rv(a) * x for a, x in zip(c, xs, strict=True) if a != 0] or [rv(0)]))
    if opt.check() != z3.sat:
        return None
    mdl = opt.model()
    v = []
    for x in xs:
        val = mdl.eval(x, model_completion=True)
        v.append(Fraction(val.numerator_as_long(), val.denominator_as_long()))
    return sum((ci * vi for ci, vi in zip(c, v, strict=True)), Fraction(0)), v, "z3"

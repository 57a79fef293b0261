"""Counterexamples to a goal, replayed in float64 and in exact rational arithmetic.

A point ends a search only if it violates the goal both ways: the float64 forward pass puts
it in a disjunct, and so does the exact rational forward pass (every float is a rational, so
``x`` is an exact point), with ``x`` inside the case's exact input set. Nothing else is ever
reported as a counterexample.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from ..network import ReLUNetwork
from ..proofs.goals import Case, Disjunct


def in_case_exact(case: Case, x: np.ndarray) -> bool:
    """Is the double vector ``x`` inside the case's exact box and rows?"""
    xq = [Fraction(float(v)) for v in x]
    if any(v < lo or v > hi for v, lo, hi in zip(xq, case.lower, case.upper, strict=True)):
        return False
    return all(sum((a * v for a, v in zip(row, xq, strict=True)), Fraction(0)) <= b
               for row, b in zip(case.A, case.b, strict=True))


def snap_into(case: Case, x: np.ndarray) -> np.ndarray:
    """``x`` with every coordinate moved to the nearest double inside the exact bounds (an
    outward-rounded box or an LP point can be one ulp outside a decimal bound)."""
    x = np.array(x, dtype=np.float64)
    for i, (lo, hi) in enumerate(zip(case.lower, case.upper, strict=True)):
        if Fraction(float(x[i])) > hi:
            x[i] = float(hi)
            if Fraction(x[i]) > hi:
                x[i] = np.nextafter(x[i], -np.inf)
        if Fraction(float(x[i])) < lo:
            x[i] = float(lo)
            if Fraction(x[i]) < lo:
                x[i] = np.nextafter(x[i], np.inf)
    return x


def holds_float(dis: Disjunct, C: np.ndarray, d: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Which rows of outputs ``y`` (k, m) lie in the disjunct, in float64 (no tolerance)."""
    v = np.atleast_2d(y) @ C.T - d
    return np.all(v <= 0, axis=1) if dis.closed else np.all(v < 0, axis=1)


def holds_exact(dis: Disjunct, yq: list[Fraction]) -> bool:
    for row, d in zip(dis.C, dis.d, strict=True):
        v = sum((c * t for c, t in zip(row, yq, strict=True) if c), Fraction(0))
        if (v > d) if dis.closed else (v >= d):
            return False
    return True


def replay_goal(net: ReLUNetwork, case: Case, x: np.ndarray) -> tuple[int, np.ndarray] | None:
    """``(disjunct index, float64 output)`` if ``x`` violates the case in float64 *and*
    exactly, else None."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(x)) or not in_case_exact(case, x):
        return None
    y = net.forward(x)
    yq = None
    for k, dis in enumerate(case.disjuncts):
        C, d = dis.float_rows()
        if not holds_float(dis, C, d, y)[0]:
            continue
        if yq is None:
            yq = net.exact_forward(x)
        if holds_exact(dis, yq):
            return k, y
    return None

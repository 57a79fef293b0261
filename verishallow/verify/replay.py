"""Exact replay: a counterexample is reported only if float64 *and* exact rational arithmetic
agree that it violates the property (no tolerance anywhere)."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

import numpy as np

from ..network import ReLUNetwork
from ..vnnlib import InputRegion, LinearConstraints, VnnlibProperty


def in_region_exact(region: InputRegion, xq: list[Fraction]) -> bool:
    for v, lo, hi in zip(xq, region.lower_exact, region.upper_exact, strict=True):
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            return False
    for row, b in zip(region.A_exact, region.b_exact, strict=True):
        if sum((a * v for a, v in zip(row, xq, strict=True)), Fraction(0)) > b:
            return False
    return True


def holds_exact(cons: LinearConstraints, yq: list[Fraction]) -> bool:
    for row, d in zip(cons.C_exact, cons.d_exact, strict=True):
        if sum((c * v for c, v in zip(row, yq, strict=True)), Fraction(0)) > d:
            return False
    return True


def exact_counterexample(prop: VnnlibProperty, x: Iterable[float | Fraction],
                         y: Iterable[Fraction]) -> bool:
    """Is ``(x, y)`` in the unsafe set, in exact rational arithmetic (no tolerance)?"""
    xq = [Fraction(v) for v in x]
    yq = [Fraction(v) for v in y]
    return any(in_region_exact(region, xq) and any(holds_exact(c, yq) for c in outs)
               for region, outs in prop.cases)


def replay(net: ReLUNetwork, prop: VnnlibProperty, x: np.ndarray) -> np.ndarray | None:
    """The float64 output at ``x`` if ``x`` is a counterexample in float64 *and* exactly.

    Three checks, all without tolerance: ``is_counterexample`` on the float64 forward pass, on
    the exact forward pass rounded to float64, and the exact rational property on the exact
    forward pass.
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(x)):
        return None
    y = net.forward(x)
    if not prop.is_counterexample(x, y):
        return None
    yq = net.exact_forward(x)
    if not prop.is_counterexample(x, np.array([float(v) for v in yq])):
        return None
    if not exact_counterexample(prop, x, yq):
        return None
    return y


def snap_into_box(x: np.ndarray, region: InputRegion) -> np.ndarray:
    """Move coordinates that lie outside the exact decimal bounds to the nearest double inside.

    ``float(Fraction("0.1"))`` may exceed 0.1, so an LP point sitting on a bound can be one ulp
    outside the exact box.
    """
    x = x.copy()
    for i, (lo, hi) in enumerate(zip(region.lower_exact, region.upper_exact, strict=True)):
        if hi is not None and Fraction(float(x[i])) > hi:
            x[i] = float(hi)
            if Fraction(x[i]) > hi:
                x[i] = np.nextafter(x[i], -np.inf)
        if lo is not None and Fraction(float(x[i])) < lo:
            x[i] = float(lo)
            if Fraction(x[i]) < lo:
                x[i] = np.nextafter(x[i], np.inf)
    return x


def point_case(net: ReLUNetwork, prop: VnnlibProperty, region: InputRegion
                ) -> tuple[str, tuple[np.ndarray, np.ndarray] | None]:
    """A case whose inputs are all fixed: evaluate it exactly."""
    xq = list(region.lower_exact)
    if region.A_exact and not in_region_exact(region, xq):
        return "unsat", None
    yq = net.exact_forward(xq)
    outs = dict(prop.cases)[region]
    if not any(holds_exact(c, yq) for c in outs):
        return "unsat", None
    x = np.array([float(v) for v in xq])
    y = replay(net, prop, x)
    return ("sat", (x, y)) if y is not None else ("unknown", None)

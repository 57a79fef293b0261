"""The MILP method: one SCIP MILP per direction, then the exact LP on SCIP's cell.

Why this order: SCIP finds the maximising activation patterns of both networks at once (a
search over 2^N patterns the exact kernel cannot do), but in floating point; the exact LP
(:mod:`verishallow.equiv.cell_lp`) then turns SCIP's binaries into an exact value attained at
an exact point. Directions are solved in order of their largest value on the random samples;
from the second direction on, SCIP's objective limit is the best exact value found so far, so
a direction that cannot beat it ends as "infeasible" quickly.

Upper bound per direction: SCIP's dual bound (or the objective limit when SCIP proved that
nothing beats it), trusted up to :data:`~verishallow.equiv.tolerances.UPPER_TOL`, capped by an
interval bound on the output layer; a direction the time limit cut off gets the interval bound
alone. The model building is :mod:`verishallow.solvers.difference_milp`.
"""

from __future__ import annotations

import math
import time
from fractions import Fraction
from typing import Any

import numpy as np

from ..bounds import Bounds, preactivation_bounds
from ..domain import Domain
from ..exact.maps import exact_pattern
from ..network import ReLUNetwork
from ..solvers.difference_milp import maximise_direction
from .cell_lp import exact_cell_max
from .quantity import Direction, sampled_direction_value
from .result import DirectionRuns
from .tolerances import INTERVAL_PAD

Box = tuple[np.ndarray, np.ndarray]


def output_box(net: ReLUNetwork, bounds: Bounds, domain: Domain) -> Box:
    """Interval bounds on the outputs from the last hidden layer's pre-activation bounds."""
    if bounds.lower:
        lo, hi = np.maximum(bounds.lower[-1], 0.0), np.maximum(bounds.upper[-1], 0.0)
    else:  # no hidden layer: the outputs are affine in the input
        lo, hi = domain.bounding_box()
    W, b = net.weights[-1], net.biases[-1]
    Wp, Wn = np.maximum(W, 0.0), np.minimum(W, 0.0)
    return Wp @ lo + Wn @ hi + b, Wp @ hi + Wn @ lo + b


def interval_upper(dr: Direction, box_a: Box, box_b: Box) -> float:
    """A sound (interval) upper bound on a direction, for directions SCIP did not finish."""
    (la, ua), (lb, ub) = box_a, box_b
    with np.errstate(invalid="ignore"):
        if dr.kind == "diff":
            v = ua[dr.j] - lb[dr.j] if dr.sign > 0 else ub[dr.j] - la[dr.j]
        else:
            (lp_, up), (lq, uq) = ((la, ua), (lb, ub)) if dr.sign > 0 else ((lb, ub), (la, ua))
            i = dr.j
            margin = min(up[i] - lp_[j] for j in range(len(up)) if j != i)
            beat = max(uq[k] for k in range(len(uq)) if k != i) - lq[i]
            v = min(margin, beat)
    v = float(v)
    return v + INTERVAL_PAD * (1 + abs(v)) if math.isfinite(v) else math.inf


def solve_direction(net_a: ReLUNetwork, net_b: ReLUNetwork, domain: Domain,
                    bounds: tuple[Bounds, Bounds], dr: Direction, objlimit: float | None,
                    time_left: float | None) -> dict:
    """One MILP and its exact LP: ``{direction, scip_status, lower (Fraction | None), vertex,
    lp, upper, solved, scip_primal, seconds}``."""
    t0 = time.perf_counter()
    got_milp = maximise_direction(net_a, net_b, domain, bounds, dr.kind, dr.j, dr.sign,
                                  objlimit, time_left)
    rec: dict[str, Any] = {"direction": dr.label(), "scip_status": got_milp.status,
                           "lower": None, "vertex": None, "lp": None,
                           "upper": got_milp.upper, "solved": got_milp.solved}
    if got_milp.x is not None:
        pat_a, pat_b, k = got_milp.pattern_a, got_milp.pattern_b, got_milp.beater
        got = exact_cell_max(net_a, net_b, domain, pat_a, pat_b, dr, k)
        if got is None:  # SCIP's binaries admit no exact point: read the patterns exactly
            xe = [Fraction(float(v)) for v in got_milp.x]
            pat_a, pat_b = exact_pattern(net_a, xe), exact_pattern(net_b, xe)
            got = exact_cell_max(net_a, net_b, domain, pat_a, pat_b, dr, k)
            rec["repattern"] = True
        if got is not None:
            rec["lower"], rec["vertex"], rec["lp"] = got
        rec["scip_primal"] = got_milp.primal
    rec["seconds"] = time.perf_counter() - t0
    return rec


def milp_method(net_a: ReLUNetwork, net_b: ReLUNetwork, domain: Domain, dirs: list[Direction],
                ya: np.ndarray, yb: np.ndarray, deadline: float | None) -> DirectionRuns:
    """Every direction by MILP, in order of its largest value on the sampled outputs ``ya``,
    ``yb``; ``deadline``: a :func:`time.perf_counter` time after which no MILP starts (and a
    running one stops)."""
    bounds = (preactivation_bounds(net_a, domain), preactivation_bounds(net_b, domain))
    boxes = (output_box(net_a, bounds[0], domain), output_box(net_b, bounds[1], domain))
    score = [sampled_direction_value(dr, ya, yb) for dr in dirs]
    order = sorted(range(len(dirs)), key=lambda q: -score[q])
    runs = DirectionRuns([], [])
    best: Fraction | None = None
    for q in order:
        dr = dirs[q]
        left = None if deadline is None else deadline - time.perf_counter()
        if left is not None and left <= 0:
            runs.all_solved = False
            ub = interval_upper(dr, *boxes)
            runs.log.append({"direction": dr.label(), "scip_status": "not run (time limit)",
                             "upper": ub, "upper_from": "interval bounds", "lower": None,
                             "solved": False})
            continue
        objlimit = None if best is None else float(best)
        rec = solve_direction(net_a, net_b, domain, bounds, dr, objlimit, left)
        rec["upper"] = min(rec["upper"], interval_upper(dr, *boxes))
        if rec["lower"] is not None:
            runs.found.append((rec["lower"], rec["vertex"]))
            if best is None or rec["lower"] > best:
                best = rec["lower"]
        runs.all_solved &= rec["solved"]
        runs.log.append({k: (str(v) if isinstance(v, Fraction) else v) for k, v in rec.items()
                         if k != "vertex"})
    return runs

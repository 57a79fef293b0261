"""``check_equivalence``: the exact maximum of the difference of two networks, and the verdict.

Why the orchestration is its own module: the methods (:mod:`~verishallow.equiv.milp`,
:mod:`~verishallow.equiv.overlay`) only find exact values and float upper bounds per direction;
this module alone turns them into an answer, by one rule for both methods:

* *Same fingerprint* (identical float64 weights, whatever file format they came from): the same
  function; answered at once, ``M = 0`` exactly (top-1: a single output never disagrees).
* If the exact maximum exceeds ``epsilon``: the maximising vertex, rounded to float64 (and
  nudged into the domain when rounding left it), is the counterexample, and it must replay
  above ``epsilon`` in float64 and in exact arithmetic
  (:func:`~verishallow.equiv.replay.replay`); otherwise the answer is unknown
  (``equivalent=None``), never a counterexample that does not replay.
* If every direction was solved and every upper bound is ``<= max(lower, epsilon) + tol``
  (:data:`~verishallow.equiv.tolerances.UPPER_TOL`), the networks are equivalent. A time limit
  leaves ``equivalent=None`` with the best ``(lower, upper)`` bounds, unless a replayed
  counterexample was already found.
* ``max_difference`` is the exact maximum (a rational, reported as a string and a float) when
  every upper bound is within :data:`~verishallow.equiv.tolerances.PROVED_GAP_TOL` of it
  ("proved maximal"), else the ``(lower, upper)`` bounds. Domains must be bounded.
"""

from __future__ import annotations

import math
import time
from fractions import Fraction
from typing import Any

import numpy as np

from ..domain import Domain
from ..errors import InputError
from ..network import ReLUNetwork
from ..product import check_pair
from .milp import milp_method
from .overlay import joint_network, overlay_method
from .quantity import directions, quantity_kind, value
from .replay import replay, sample_domain, to_float_point
from .result import DirectionRuns, EquivalenceResult
from .tolerances import PROVED_GAP_TOL, UPPER_TOL

METHODS = ("auto", "milp", "regions")
#: ``method="auto"`` uses the overlay of partitions for at most this many free inputs (the
#: subdivision engine), the MILP otherwise.
OVERLAY_MAX_FREE = 2
#: Random domain points used to order the directions (largest sampled value first).
N_SAMPLES = 256


def check_equivalence(net_a: ReLUNetwork, net_b: ReLUNetwork, domain: Domain,
                      epsilon: float = 0.0, top1: bool = False,
                      time_limit: float | None = None, method: str = "auto"
                      ) -> EquivalenceResult:
    """Decide ``max_{x in domain} |f_A(x) - f_B(x)|_inf <= epsilon`` (or, with ``top1``,
    whether both networks always rank the same output first; see
    :mod:`verishallow.equiv.quantity` for the tie rule; ``epsilon`` is then the margin a
    disagreement must exceed).

    ``method``: ``"milp"`` (SCIP over both networks), ``"regions"`` (overlay of the two
    partitions; equal depths), ``"auto"`` (regions for at most :data:`OVERLAY_MAX_FREE` free
    inputs and equal depths, else MILP). Returns an :class:`EquivalenceResult`;
    ``equivalent`` is None when ``time_limit`` (seconds, whole run; MILP method) ran out first
    or a found difference failed to replay.
    """
    t0 = time.perf_counter()
    check_pair(net_a, net_b, domain, epsilon)
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    kind = quantity_kind(top1)
    details: dict[str, Any] = {"mode": "top1" if top1 else "difference", "epsilon": epsilon,
                               "quantity": "top-1 disagreement margin" if top1
                               else "max_x |f_A(x) - f_B(x)|_inf",
                               "fingerprints": [net_a.fingerprint, net_b.fingerprint]}
    if net_a.fingerprint == net_b.fingerprint or (top1 and net_a.output_dim == 1):
        details["method"] = "fingerprint" if net_a.fingerprint == net_b.fingerprint \
            else "single output"
        if top1:  # identical rankings: the disagreement is never positive
            return EquivalenceResult(True, (-math.inf, 0.0), None, time.perf_counter() - t0,
                                     details, lower=-math.inf, upper=0.0)
        return EquivalenceResult(True, 0.0, None, time.perf_counter() - t0, details, exact="0",
                                 lower=0.0, upper=0.0)
    dirs = directions(net_a.output_dim, top1)
    X = sample_domain(domain, N_SAMPLES)
    ya, yb = net_a.forward(X), net_b.forward(X)
    details["sampled_max"] = float(np.max(value(kind, ya, yb)))
    if method == "auto":
        small = int((~domain.fixed).sum()) <= OVERLAY_MAX_FREE
        method = "regions" if small and len(net_a.weights) == len(net_b.weights) else "milp"
    if method == "regions" and joint_network(net_a, net_b) is None:
        raise InputError("the overlay method needs networks of equal depth (use method='milp')")
    details["method"] = "overlay of partitions + exact lp" if method == "regions" \
        else "scip milp + exact lp"
    if method == "regions":
        runs = overlay_method(net_a, net_b, domain, dirs, details)
    else:
        deadline = None if time_limit is None else t0 + time_limit
        runs = milp_method(net_a, net_b, domain, dirs, ya, yb, deadline)
    return _verdict(net_a, net_b, domain, epsilon, top1, runs, details, t0)


def _verdict(net_a: ReLUNetwork, net_b: ReLUNetwork, domain: Domain, epsilon: float,
             top1: bool, runs: DirectionRuns, details: dict[str, Any], t0: float
             ) -> EquivalenceResult:
    """The rule of the module doc, from one method's per-direction runs."""
    best: Fraction | None = None
    best_vertex: list[Fraction] | None = None
    for val, vert in runs.found:
        if best is None or val > best:
            best, best_vertex = val, vert
    log = runs.log
    uppers = [r["upper"] for r in log]
    all_solved = runs.all_solved
    details["directions"] = log
    upper = max(uppers) if uppers else -math.inf
    lower = -math.inf if best is None else float(best)
    if best is not None:
        upper = max(upper, lower)
    details["lp_method"] = sorted({r["lp"] for r in log if r.get("lp")})
    counterexample = None
    equivalent: bool | None = None
    if best is not None and best > epsilon:
        x = to_float_point(domain, best_vertex)
        rep = replay(net_a, net_b, x, top1)
        details["replay"] = rep
        if rep["float64_value"] > epsilon and Fraction(rep["exact_value"]) > epsilon:
            equivalent, counterexample = False, x
        else:
            details["reason"] = ("the maximising vertex exceeds epsilon exactly, but its float64 "
                                 "rounding does not replay above epsilon")
    elif all_solved:
        ref = max(lower, epsilon)
        if all(u <= ref + UPPER_TOL * (1 + abs(ref)) for u in uppers):
            equivalent = True
        else:
            details["reason"] = "the upper bounds do not close the gap"
    else:
        details["reason"] = "time limit"
    proved = all_solved and best is not None and all(
        u <= lower + PROVED_GAP_TOL * (1 + abs(lower)) for u in uppers)
    details["proved_maximal"] = proved
    if proved:
        max_diff: float | tuple[float, float] = lower
        exact = str(best)
    else:
        max_diff, exact = (lower, upper), None
    return EquivalenceResult(equivalent, max_diff, counterexample, time.perf_counter() - t0,
                             details, exact=exact, lower=lower, upper=upper)

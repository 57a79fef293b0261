"""The proof search's decision as an :class:`~verishallow.equiv.result.EquivalenceResult`.

Why an adapter: :func:`verishallow.proofsearch.decide.prove_equivalence` decides without
computing the maximum; this puts its answer in the shape every ``equiv`` report has, and
replays its counterexample the same way the exact methods do.
"""

from __future__ import annotations

import math
from typing import Any

from ..network import ReLUNetwork
from .replay import replay
from .result import EquivalenceResult


def search_result(dec: Any, net_a: ReLUNetwork, net_b: ReLUNetwork, epsilon: float,
                  top1: bool) -> EquivalenceResult:
    """The :class:`EquivalenceResult` (the shape of every ``equiv`` report) of a proof-search
    decision (:func:`verishallow.proofsearch.decide.prove_equivalence`). ``holds``:
    equivalent, the difference proved ``<= epsilon`` (no maximum is computed); ``violated``:
    the counterexample replayed both ways, its value a lower bound on the maximum."""
    details: dict = {"mode": "top1" if top1 else "difference", "epsilon": epsilon,
                     "method": "proof search", "search": dict(dec.stats),
                     "fingerprints": [net_a.fingerprint, net_b.fingerprint]}
    if dec.status == "holds":
        details["reason"] = "every leaf of the proof tree bounds the difference"
        return EquivalenceResult(True, (-math.inf, float(epsilon)), None, dec.seconds, details,
                                 upper=float(epsilon))
    if dec.status == "violated":
        x = dec.counterexample[0]
        rep = replay(net_a, net_b, x, top1)
        details["replay"] = rep
        value = float(rep["exact_value_float"])
        return EquivalenceResult(False, (value, math.inf), x, dec.seconds, details, lower=value)
    details["reason"] = dec.reason
    if dec.best_bound is not None:
        details["open_bound"] = dec.best_bound
    return EquivalenceResult(None, (-math.inf, math.inf), None, dec.seconds, details)

"""Equivalence of two deployed ReLU networks on a domain.

Question (default mode): is ``M = max_{x in domain} |f_A(x) - f_B(x)|_inf <= epsilon``?
(``epsilon = 0``: are they the same function on the domain?) With ``top1=True``: do both
networks always rank the same output first? The package is split by stage; data flows down:

==================  ===========================================================================
``tolerances``      every tolerance of an answer (the only non-exact links), named once
``result``          :class:`EquivalenceResult`, the shape of every answer; per-method runs
``quantity``        the compared quantity (difference or top-1 disagreement) and its directions
``replay``          random samples, exact vertex -> float64 point, float64/exact/onnxruntime
                    replays that a counterexample must pass
``cell_lp``         exact maximum of a direction on the closed cell of two patterns (exact LP)
``milp``            MILP method: SCIP per direction (:mod:`verishallow.solvers.difference_milp`)
                    proposes the patterns, ``cell_lp`` makes the value exact
``overlay``         overlay method: cells of both partitions, float screening, exact LP
``check``           :func:`check_equivalence`: method choice and the verdict rule
``shallow``         :func:`check_shallow_equivalence`: deep vs shallow, per-region exact pieces
``proof_search``    :func:`search_result`: the proof search's decision as an answer
``decide``          :func:`decide_equivalence`: the ``equiv`` command's whole decision (proof
                    search or exact methods, onnxruntime replay, certificates)
==================  ===========================================================================

Exactness claims: every reported ``max_difference`` value and every lower bound is an exact
rational that the quantity attains at an exact point of the domain (the optimal vertex of an
exact LP); "proved maximal" means additionally that every direction's upper bound (SCIP's dual
bound, or the float cell maxima of the overlay) is within
:data:`~verishallow.equiv.tolerances.PROVED_GAP_TOL` of it; "equivalent" needs every upper
bound within :data:`~verishallow.equiv.tolerances.UPPER_TOL` of ``max(lower, epsilon)``. SCIP
works in floating point (``numerics/feastol =``
:data:`~verishallow.solvers.milp.SCIP_FEASTOL`): its bounds and the overlay's float cell maxima
are the only non-exact links; an exact certificate (``decide_equivalence(...,
certificate=...)``) removes them.
"""

from __future__ import annotations

from .check import METHODS, OVERLAY_MAX_FREE, check_equivalence
from .decide import (
    DECISION_METHODS,
    EquivalenceDecision,
    check_request,
    decide_equivalence,
    is_shallow_file,
)
from .overlay import joint_network
from .proof_search import search_result
from .replay import onnxruntime_check, replay, replay_onnxruntime
from .result import EquivalenceResult
from .shallow import check_shallow_equivalence

__all__ = [
    "DECISION_METHODS",
    "METHODS",
    "OVERLAY_MAX_FREE",
    "EquivalenceDecision",
    "EquivalenceResult",
    "check_equivalence",
    "check_request",
    "check_shallow_equivalence",
    "decide_equivalence",
    "is_shallow_file",
    "joint_network",
    "onnxruntime_check",
    "replay",
    "replay_onnxruntime",
    "search_result",
]

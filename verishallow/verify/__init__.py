"""Decide a VNN-LIB property on a ReLU network: samples, proof search, bounds, then regions.

A VNN-LIB file describes an *unsafe set* (see :mod:`verishallow.vnnlib`): the property is
violated ("sat") iff some input ``x`` of an input case ``R_k`` gives an output ``y = f(x)`` with
``C y <= d`` for one of that case's output disjuncts. On an activation region the network is one
affine map ``y = alpha x + beta``, so "this region meets the unsafe set" is one LP per disjunct:

    minimise t  s.t.  H x <= c (region),  x in R_k (input case),  C (alpha x + beta) - d <= t 1

with ``t >= -MARGIN_CAP``. The optimum ``t*`` is the smallest worst-row *margin* of the
disjunct over the region's closure (``f`` is continuous, so the closure carries the same affine
model). ``t* <= 0`` means the region holds a counterexample; ``t* > 0`` means it does not.

Method, cheapest first:

1. **Sampling** (``SAMPLES`` random points, the box corners when there are at most
   ``MAX_CORNER_DIM`` free inputs, and the input case's Chebyshev centre). The samples with the
   smallest margin seed a short *region walk*: the LP above over the sample's own activation
   pattern (all ``N`` closed pattern inequalities), then over the pattern just beyond the LP
   optimum, for at most ``WALK_STEPS`` steps while the margin drops. A replayed counterexample
   ends the run with ``sat``.
2. **Proof search** (``method`` ``"auto"`` or ``"search"``, bounded input boxes): branch and
   bound over the input box (:mod:`verishallow.proofsearch`), which ends with a replayed
   counterexample (``sat``), a proof tree whose every leaf an exact bound refutes (``unsat``;
   ``certificate=True`` keeps it as the certificate of ``docs/proof-search.md``), or
   ``unknown`` (time limit). With ``"auto"`` an undecided search that left time falls through
   to the stages below.
3. **Bounds**: each disjunct's rows are folded into the last layer (``C W``, ``C b - d``) and
   CROWN-style symbolic bounds (:func:`verishallow.bounds.symbolic_bounds`) bound ``C y - d``
   from below over the input case; a row whose lower bound exceeds its rounding margin makes
   the disjunct impossible. All disjuncts of all cases impossible: ``unsat``.
4. **Regions**: :func:`verishallow.regions.enumerate_regions` per input case; each region is
   checked as soon as it is found (``on_region``) and the search stops at the first replayed
   counterexample. ``unsat`` needs every case's partition to be proved complete by the one
   coverage proof (:func:`verishallow.proofs.coverage.prove_coverage`: the exact certificate
   of the partition, adjacency closure with complete facet lists re-checked in rational
   arithmetic by the independent checker, then SCIP's query if that fails), within what is
   left of ``time_limit`` (else its budget rule); otherwise the answer is ``unknown`` with the
   reason.

**Exactness.** A counterexample is reported only after *replay*: the float64 forward pass and
the exact rational forward pass (:meth:`ReLUNetwork.exact_forward`) must both satisfy the
property (:meth:`VnnlibProperty.is_counterexample` with no tolerance), and the exact output
must satisfy the exact rational constraints of the file (input bounds and rows too, with the
point read as the rational its double denotes). An LP point that fails replay (typically an
optimum on the boundary of the unsafe set, or a coordinate one ulp outside a decimal bound) is
snapped into the exact input box and nudged towards the region's Chebyshev centre
(``NUDGES``); if nothing replays, the region is recorded as *touching* and the final answer can
be at best ``unknown``, never an un-replayable ``sat``.

**Tolerances.** ``TOUCH_TOL`` (relative to the output scale): an LP margin ``t*`` in
``(0, TOUCH_TOL * scale]`` is too close to call in floating point, so such a region makes a
would-be ``unsat`` ``unknown`` (``scale = 1 + max|C| |y| + max|d|`` at the LP point); so does
an LP that fails (it is feasible by construction). A ``sat`` answer is exact (replayed); an
``unsat`` from the region stage is exact up to these float LP margins and the region engine's
tolerances; an ``unsat`` from bounds is sound by construction of the bounds.
``BOUND_MARGIN_ULPS`` sizes the extra rounding margin of the bound shortcut. Coverage inherits
the region engine's tolerances (``REGION_RADIUS_TOL``, the SCIP coverage margin
``MILP_MARGIN``): regions thinner than those are treated as absent, which the closure of their
neighbours covers because ``f`` is continuous.

The package is split by stage; data flows down:

==================  ===========================================================================
``tolerances``      the float stages' tolerances (``TOUCH_TOL``, ``BOUND_MARGIN_ULPS``)
``result``          :class:`VerifyResult` and VNN-COMP's counterexample form
``replay``          float64 + exact rational replay of a candidate counterexample
``region_lp``       the per-region LP of a disjunct, its optimum replayed (snap, nudges)
``sampling``        stage 1: samples, corners and region walks
``bound_shortcut``  stage 3: symbolic bounds refuting a disjunct on a whole case
``region_stage``    stage 4: every region, each checked as found, then the coverage proof
``decide``          :func:`verify_property`: the stages in order (stage 2 is
                    :mod:`verishallow.proofsearch`)
==================  ===========================================================================
"""

from __future__ import annotations

from .bound_shortcut import disjunct_refuted
from .decide import METHODS, verify_property
from .replay import exact_counterexample, replay
from .result import STATUSES, VerifyResult, format_counterexample

__all__ = [
    "METHODS",
    "STATUSES",
    "VerifyResult",
    "disjunct_refuted",
    "exact_counterexample",
    "format_counterexample",
    "replay",
    "verify_property",
]

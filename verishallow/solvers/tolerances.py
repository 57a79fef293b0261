"""Tolerances of the solver glue (HiGHS, SCIP), in one place with what each guards.
"""

from __future__ import annotations

#: HiGHS primal/dual feasibility tolerance; region and facet radii are decided against
#: tolerances (1e-9) that this must stay below.
LP_FEASIBILITY_TOL = 1e-10

#: Interior margin (pre-activation units): active neurons need ``z >= MILP_MARGIN``, inactive
#: ones ``z <= -MILP_MARGIN``. Must stay well above ``SCIP_FEASTOL * max|bound|`` so that a
#: solution's float pre-activations have the sign of its binaries.
MILP_MARGIN = 1e-6

#: SCIP's primal feasibility tolerance (``numerics/feastol``; SCIP's default is 1e-6, far too
#: coarse next to the margin). SCIP applies it relative to ``max(1, |activity|)``.
SCIP_FEASTOL = 1e-9

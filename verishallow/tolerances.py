"""Tolerances of the top-level modules (explanations), in one place with what each guards.

Names are unique across the package tree (tests/test_layout.py); docs/tolerances.md lists them all.
"""

from __future__ import annotations

#: Float mode: a Shapley value and its local-linear estimate "agree" when they differ by at
#: most this times the scale of the game (max of |f(x)|, |E f(ref)| and 1).
SHAPLEY_AGREE_RTOL = 1e-9

#: Float mode: the efficiency gap ``sum(phi) - (f(x) - E f(ref))`` is below this times the
#: scale of the game (a few thousand roundings of size eps; tests use this constant).
SHAPLEY_EFFICIENCY_RTOL = 1e-9

#: A pre-activation this close to 0 (relative to its layer's scale) puts ``x`` on a boundary.
SHAPLEY_BOUNDARY_TOL = 1e-12

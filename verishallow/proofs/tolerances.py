"""Tolerances of the proof finders, in one place: floats propose evidence, the checkers decide
exactly.
"""

from __future__ import annotations

#: Multipliers below this (relative to the largest) are outside the float LP's support.
SUPPORT_TOL = 1e-9

#: The certifier takes a witness without its exact test when every float pre-activation there
#: has its pattern's sign by more than this fraction of its magnitude bound ``|W||a| + |b|``
#: (float64 evaluation errs by about 1e-16 of it); otherwise it decides exactly. Untrusted
#: either way: the checker tests every witness exactly.
WITNESS_SCREEN_MARGIN = 1e-9
